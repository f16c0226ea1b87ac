"""Load generator (its own process): N keep-alive clients hammer one operation for a fixed time.

    python bench/load.py --urls URL[,URL...] --op token|read --clients N --seconds S \\
        --client-id ID --client-secret SECRET [--token TOKEN]

Client i talks to URL i mod len(URLs) (two replicas: half the clients each, as a load balancer
would spread them). Prints one JSON line: requests, errors (anything but 200), requests per second,
p50 and p99 latency in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time

import requests


def client(url: str, op: str, args: argparse.Namespace, deadline: float, out: list[float], errors: list[int]) -> None:
    with requests.Session() as session:
        if op == "token":
            body = {
                "grant_type": "client_credentials",
                "client_id": args.client_id,
                "client_secret": args.client_secret,
            }

            def call() -> requests.Response:
                return session.post(f"{url}/v1/oauth/token", json=body, timeout=60)
        else:
            session.headers["Authorization"] = f"Bearer {args.token}"

            def call() -> requests.Response:
                return session.get(f"{url}/v1/data/employees", timeout=60)

        while time.monotonic() < deadline:
            start = time.perf_counter()
            response = call()
            out.append(time.perf_counter() - start)
            if response.status_code != 200:
                errors.append(response.status_code)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--urls", required=True)
    parser.add_argument("--op", choices=("token", "read"), required=True)
    parser.add_argument("--clients", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--client-id", default="")
    parser.add_argument("--client-secret", default="")
    parser.add_argument("--token", default="")
    args = parser.parse_args()
    urls = args.urls.split(",")
    latencies: list[list[float]] = [[] for _ in range(args.clients)]
    errors: list[int] = []
    start = time.monotonic()
    deadline = start + args.seconds
    threads = [
        threading.Thread(target=client, args=(urls[i % len(urls)], args.op, args, deadline, latencies[i], errors))
        for i in range(args.clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    every = sorted(x for per_client in latencies for x in per_client)
    p99 = every[min(len(every) - 1, int(len(every) * 0.99))] if every else 0.0
    result = {
        "requests": len(every),
        "errors": len(errors),
        "per_second": len(every) / elapsed,
        "p50_ms": statistics.median(every) * 1000 if every else 0.0,
        "p99_ms": p99 * 1000,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
