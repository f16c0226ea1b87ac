"""Cross-cutting behaviour: ETags, idempotency, pagination, audit, locks, rate limit, stats."""

from __future__ import annotations

import time
from pathlib import Path

from keyform.server import running_server

from .conftest import OWNER_EMAIL, Api, ApiSession, error_of


def test_etags_and_if_match(api: Api) -> None:
    fetched = api.owner.get("/v1/organization")
    etag = fetched.headers["ETag"]
    assert etag == fetched.json()["etag"]
    updated = api.owner.patch("/v1/organization", json={"name": "Beta"}, headers={"If-Match": etag})
    assert updated.status_code == 200 and updated.headers["ETag"] != etag
    stale = api.owner.patch("/v1/organization", json={"name": "Gamma"}, headers={"If-Match": etag})
    assert error_of(stale)[:2] == (412, "precondition_failed")
    assert api.owner.get("/v1/organization").json()["name"] == "Beta"
    user, _ = api.user()
    before = api.owner.get(f"/v1/users/{user['id']}").headers["ETag"]
    regenerated = api.owner.post(f"/v1/users/{user['id']}/api-key", headers={"If-Match": before})
    assert regenerated.status_code == 201
    after = api.owner.get(f"/v1/users/{user['id']}").headers["ETag"]
    assert after != before and regenerated.headers["ETag"] == after
    unchanged = api.owner.patch(f"/v1/users/{user['id']}", json={"first_name": user["first_name"]})
    assert unchanged.headers["ETag"] == after  # a no-op PATCH changes nothing


def test_idempotent_retries_create_one_resource(api: Api) -> None:
    headers = {"Idempotency-Key": "create-payroll-1"}
    first = api.owner.post("/v1/credentials", json={"name": "payroll"}, headers=headers)
    replay = api.owner.post("/v1/credentials", json={"name": "payroll"}, headers=headers)
    assert first.status_code == replay.status_code == 201
    assert first.json()["client_secret"] and replay.json()["client_secret"] is None
    assert replay.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert {**first.json(), "client_secret": None} == replay.json()
    assert replay.headers["ETag"] == first.headers["ETag"]
    assert [c["name"] for c in api.owner.get("/v1/credentials").json()["items"]] == ["payroll"]
    reused = api.owner.post("/v1/credentials", json={"name": "other"}, headers=headers)
    status, code, message = error_of(reused)
    assert (status, code) == (422, "idempotency_key_reused") and "different request" in message
    _, admin_key = api.user(role="account_admin")  # keys are per principal
    other = api.session(admin_key).post("/v1/credentials", json={"name": "other"}, headers=headers)
    assert other.status_code == 201


def test_idempotent_sub_resource_posts(api: Api) -> None:
    user, key = api.user()
    headers = {"Idempotency-Key": "rotate-1"}
    path = f"/v1/users/{user['id']}/api-key"
    first = api.owner.post(path, headers=headers)
    replay = api.owner.post(path, headers=headers)
    assert replay.json()["api_key"] is None and replay.json()["id"] == first.json()["id"]
    assert api.session(first.json()["api_key"]).get("/v1/whoami").status_code == 200
    assert api.session(key).get("/v1/whoami").status_code == 401
    other, _ = api.user(key=False)
    status, code, _ = error_of(api.owner.post(f"/v1/users/{other['id']}/api-key", headers=headers))
    assert (status, code) == (422, "idempotency_key_reused")
    credential = api.credential()
    secrets = f"/v1/credentials/{credential['id']}/secrets"
    added = api.owner.post(secrets, headers={"Idempotency-Key": "s-1"})
    again = api.owner.post(secrets, headers={"Idempotency-Key": "s-1"})
    assert added.json()["client_secret"] and again.json()["client_secret"] is None
    assert len(api.owner.get(f"/v1/credentials/{credential['id']}").json()["secrets"]) == 2
    status, code, message = error_of(api.owner.post(secrets, headers={"Idempotency-Key": "x" * 300}))
    assert (status, code) == (422, "validation_error") and "Idempotency-Key" in message
    other_credential = api.credential()
    reused = api.owner.post(f"/v1/credentials/{other_credential['id']}/secrets", headers={"Idempotency-Key": "s-1"})
    assert error_of(reused)[:2] == (422, "idempotency_key_reused")


def test_pagination_is_stable(api: Api) -> None:
    names = [api.role()["name"] for _ in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api.owner.get("/v1/roles", params=params).json()
        if pages == 0:  # rows deleted and created between pages don't shift the cursor
            api.owner.delete(f"/v1/roles/{page['items'][0]['id']}")
            names.append(api.role()["name"])
        seen += [r["name"] for r in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == names and pages == 3
    big = api.owner.get("/v1/roles", params={"limit": 500}).json()
    assert len(big["items"]) == 7 and big["next_cursor"] is None
    assert len(api.owner.get("/v1/users", params={"limit": 1000}).json()["items"]) == 1
    assert api.owner.get("/v1/credentials", params={"limit": 1}).json()["next_cursor"] is None


def test_audit_records_changes_and_never_secrets(api: Api) -> None:
    user, key = api.user(role="account_admin")
    credential = api.credential(permissions={"employees": ["read"]})
    added = api.owner.post(f"/v1/credentials/{credential['id']}/secrets").json()
    api.token(credential)
    api.session(key).patch(f"/v1/users/{user['id']}", json={"job_title": "Ops"})
    entries, cursor = [], None
    while True:
        page = api.owner.get("/v1/audit", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        entries += page["items"]
        if not (cursor := page["next_cursor"]):
            break
    actions = [e["action"] for e in entries]
    assert actions == [
        "user.create",
        "user.api_key.create",
        "credential.create",
        "credential.secret.create",
        "user.update",
    ]
    update = entries[-1]
    assert update["actor"] == {"type": "api_key", "id": user["id"], "name": user["email"]}
    assert update["target"] == {"kind": "user", "id": user["id"], "name": user["email"]}
    assert update["changes"] == {"job_title": ["", "Ops"]}
    text = api.owner.get("/v1/audit", params={"limit": 1000}).text
    for secret in (key, credential["client_secret"], added["client_secret"], api.server.owner_token):
        assert secret not in text and secret[4:20] not in text
    from keyform.server.tokens import hash_secret

    assert hash_secret(key) not in text and hash_secret(credential["client_secret"]) not in text


def test_locks(api: Api) -> None:
    acquired = api.owner.post("/v1/locks", json={"owner": "ci-run-1", "reason": "apply", "ttl_seconds": 60})
    assert acquired.status_code == 201
    lock = acquired.json()
    assert (lock["owner"], lock["reason"]) == ("ci-run-1", "apply")
    held = api.owner.post("/v1/locks", json={"owner": "ci-run-2"})
    status, code, message = error_of(held)
    assert (status, code) == (409, "locked")
    assert "ci-run-1" in message and lock["id"] in message and lock["expires_at"] in message
    assert held.json()["lock"] == lock
    extended = api.owner.patch(f"/v1/locks/{lock['id']}", json={"ttl_seconds": 3600})
    assert extended.status_code == 200 and extended.json()["expires_at"] > lock["expires_at"]
    assert [x["id"] for x in api.owner.get("/v1/locks").json()["items"]] == [lock["id"]]
    assert api.owner.delete(f"/v1/locks/{lock['id']}").status_code == 204
    assert api.owner.get("/v1/locks").json()["items"] == []
    short = api.owner.post("/v1/locks", json={"owner": "short", "ttl_seconds": 1}).json()
    deadline = time.monotonic() + 10
    while api.owner.get("/v1/locks").json()["items"]:  # bounded polling for the expiry
        assert time.monotonic() < deadline, "the lock never expired"
        time.sleep(0.05)
    assert api.owner.delete(f"/v1/locks/{short['id']}").status_code == 404
    assert api.owner.post("/v1/locks", json={"owner": "next"}).status_code == 201


def test_health_and_stats(api: Api) -> None:
    assert api.session().get("/v1/health").json() == {"status": "ok"}
    first = api.owner.get("/v1/server/stats").json()["requests"]
    for _ in range(3):
        api.session().get("/v1/health")
    assert api.owner.get("/v1/server/stats").json()["requests"] == first + 4


def test_rate_limit(tmp_path: Path) -> None:
    db = tmp_path / "rl.db"
    with running_server(db, init_owner=OWNER_EMAIL, rate_limit=2) as server, ApiSession(server.url) as session:
        responses = [session.get("/v1/health") for _ in range(20)]
    limited = [r for r in responses if r.status_code == 429]
    assert limited, "20 immediate requests must exceed 2 requests per second"
    status, code, message = error_of(limited[0])
    assert (status, code) == (429, "rate_limited") and "retry after" in message
    assert int(limited[0].headers["Retry-After"]) >= 1


def test_rate_limit_is_per_caller_so_a_flood_starves_no_one_else(tmp_path: Path) -> None:
    db = tmp_path / "rl.db"
    with running_server(db, init_owner=OWNER_EMAIL) as server:  # no limit while setting up
        api = Api(server)
        _, key = api.user()
        owner_token = server.owner_token
        api.close()
    with running_server(db, rate_limit=1) as server, ApiSession(server.url) as anonymous:
        bogus = ApiSession(server.url, "kfk_" + "A" * 40)
        owner, user = ApiSession(server.url, owner_token), ApiSession(server.url, key)
        flood = [anonymous.get("/v1/health") for _ in range(20)] + [bogus.get("/v1/whoami") for _ in range(20)]
        limited = [r for r in flood if r.status_code == 429]
        assert limited, "40 immediate unauthenticated requests must exceed 1 request per second"
        assert owner.get("/v1/whoami").status_code == 200  # the flood did not touch the owner's bucket
        assert "for unauthenticated requests" in error_of(limited[0])[2]
        mine = [owner.get("/v1/whoami") for _ in range(20)]
        assert any(r.status_code == 429 for r in mine), "the owner has a limit of their own"
        assert "for this API key or token" in error_of(next(r for r in mine if r.status_code == 429))[2]
        assert user.get("/v1/whoami").status_code == 200  # and using it up leaves other keys alone
        for session in (bogus, owner, user):
            session.close()
