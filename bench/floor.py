"""The floor: fetch every page of every kind with one keep-alive requests.Session, and nothing else."""

import os
import sys

import requests

url, token = os.environ["KEYFORM_URL"], os.environ["KEYFORM_TOKEN"]
with requests.Session() as session:
    session.headers["Authorization"] = f"Bearer {token}"
    session.get(f"{url}/v1/organization", timeout=60).raise_for_status()
    for kind in ("roles", "users", "credentials"):
        cursor = None
        while True:
            params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
            page = session.get(f"{url}/v1/{kind}", params=params, timeout=60)
            page.raise_for_status()
            cursor = page.json()["next_cursor"]
            if not cursor:
                break
sys.exit(0)
