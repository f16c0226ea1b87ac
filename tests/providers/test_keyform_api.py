import json
from datetime import UTC, datetime

import pytest
import responses

from keyform.contract import Action, Change, StaleChangeError
from keyform.errors import ProviderError
from keyform.providers.keyform import KeyformProvider

URL = "http://api.test"
TOKEN = "kfk_" + "t" * 40
T0 = "2026-01-01T00:00:00Z"


def provider():
    return KeyformProvider({"url": URL, "token": TOKEN, "page_size": 2})


def user_item(n, **extra):
    return {
        "id": f"usr_{n}",
        "email": f"User{n}@X.example",
        "first_name": "U",
        "last_name": str(n),
        "job_title": "",
        "default_folder": "",
        "role": "standard",
        "roles": ["b", "a"],
        "cognitive_access": False,
        "archived": False,
        "managed_by": "keyform",
        "api_key": {"id": f"key_{n}", "enabled": True, "created_at": T0, "prefix": "kfk_abcd"},
        "created_at": T0,
        "updated_at": T0,
        "etag": f'"{n}"',
        **extra,
    }


def register_reads(rsps, users_pages):
    rsps.get(
        f"{URL}/v1/organization",
        json={"id": "org", "name": "Acme", "api_access": True, "etag": '"1"', "created_at": T0, "updated_at": T0},
    )
    rsps.get(f"{URL}/v1/whoami", json={"principal": {"type": "api_key", "id": "key_0", "name": "Owner@X.example"}})
    rsps.get(f"{URL}/v1/roles", json={"items": [], "next_cursor": None})
    rsps.get(f"{URL}/v1/credentials", json={"items": [], "next_cursor": None})
    for i, page in enumerate(users_pages):
        cursor = str(i + 1) if i + 1 < len(users_pages) else None
        params = {"limit": "2"} if i == 0 else {"limit": "2", "cursor": str(i)}
        rsps.get(
            f"{URL}/v1/users",
            json={"items": page, "next_cursor": cursor},
            match=[responses.matchers.query_param_matcher(params)],
        )


@responses.activate
def test_read_lists_each_kind_once_per_page_and_maps_to_canonical_attributes():
    register_reads(responses, [[user_item(1), user_item(2)], [user_item(3, api_key=None, managed_by=None)]])
    p = provider()
    live = p.read()
    assert sorted(a for a in live if a.startswith("users/")) == [
        "users/user1@x.example",
        "users/user2@x.example",
        "users/user3@x.example",
    ]
    one = live["users/user1@x.example"]
    assert one.attributes["roles"] == ["a", "b"] and one.attributes["api_key_enabled"] is True
    assert one.managed and one.etag == '"1"' and one.secrets[0].id == "key_1"
    three = live["users/user3@x.example"]
    assert three.attributes["api_key_enabled"] is None and not three.managed and three.secrets == ()
    assert p.identity() == "users/owner@x.example"
    user_calls = [c for c in responses.calls if "/v1/users" in c.request.url]
    assert len(user_calls) == 2  # pages needed, no per-resource reads
    assert all(c.request.headers["Authorization"] == f"Bearer {TOKEN}" for c in responses.calls)


@responses.activate
def test_read_lists_a_credentials_live_secrets_oldest_first_with_utc_times():
    register_reads(responses, [[]])
    newest = {"id": "sec_new", "created_at": "2026-03-01T12:00:00.250Z"}
    oldest = {"id": "sec_old", "created_at": "2026-01-01T00:00:00Z"}
    item = {
        "id": "cred_1",
        "name": "sync",
        "integration": "",
        "enabled": True,
        "permissions": {},
        "attributes": [],
        "roles": [],
        "managed_by": "keyform",
        "secrets": [newest, oldest],  # an overlap, listed newest first
        "etag": '"4"',
    }
    responses.replace(responses.GET, f"{URL}/v1/credentials", json={"items": [item], "next_cursor": None})
    secrets = provider().read()["credentials/sync"].secrets
    assert [s.id for s in secrets] == ["sec_old", "sec_new"]
    assert secrets[1].created_at == datetime(2026, 3, 1, 12, 0, 0, 250000, tzinfo=UTC)


@responses.activate
def test_create_user_with_key_posts_with_idempotency_key_and_returns_the_secret():
    created = user_item(7, api_key=None)
    responses.post(f"{URL}/v1/users", json=created, status=201)
    responses.post(
        f"{URL}/v1/users/usr_7/api-key",
        json={"id": "key_9", "enabled": True, "created_at": T0, "prefix": "kfk_zzzz", "api_key": "kfk_" + "n" * 40},
        status=201,
    )
    responses.get(f"{URL}/v1/users/usr_7", json={**created, "etag": '"8"'})
    after = {
        "first_name": "U",
        "last_name": "7",
        "role": "standard",
        "roles": [],
        "job_title": "",
        "default_folder": "",
        "cognitive_access": False,
        "archived": False,
        "api_key_enabled": True,
    }
    outcome = provider().apply(Change(Action.CREATE, "users/user7@x.example", after=after))
    assert outcome.secret.fields == {"api_key": "kfk_" + "n" * 40} and outcome.secret.secret_id == "key_9"
    assert outcome.etag == '"8"'
    post = responses.calls[0].request
    assert post.headers["Idempotency-Key"] and json.loads(post.body)["managed_by"] == "keyform"
    assert "api_key_enabled" not in json.loads(post.body)
    assert responses.calls[1].request.headers["If-Match"] == created["etag"]
    assert "kfk_" + "n" * 40 not in repr(outcome.secret)


@responses.activate
def test_update_sends_only_changed_fields_with_if_match():
    responses.patch(f"{URL}/v1/credentials/cred_1", json={"etag": '"5"'})
    change = Change(
        Action.UPDATE,
        "credentials/c",
        {"enabled": True, "integration": "x"},
        {"enabled": False, "integration": "x"},
        "cred_1",
        '"4"',
    )
    assert provider().apply(change).etag == '"5"'
    request = responses.calls[0].request
    assert json.loads(request.body) == {"enabled": False} and request.headers["If-Match"] == '"4"'


@responses.activate
def test_precondition_failure_becomes_stale_naming_the_moved_fields():
    responses.patch(
        f"{URL}/v1/roles/rol_1", status=412, json={"code": "precondition_failed", "message": 'etag is now "6"'}
    )
    responses.get(
        f"{URL}/v1/roles/rol_1",
        json={"id": "rol_1", "name": "r", "description": "edited", "permissions": {}, "attributes": [], "etag": '"6"'},
    )
    change = Change(
        Action.UPDATE,
        "roles/r",
        {"description": "", "permissions": {}, "attributes": []},
        {"description": "", "permissions": {"employees": ["read"]}, "attributes": []},
        "rol_1",
        '"5"',
    )
    with pytest.raises(StaleChangeError, match="roles/r: description changed"):
        provider().apply(change)


@responses.activate
def test_api_errors_name_the_resource_status_and_code_but_never_the_token():
    responses.delete(
        f"{URL}/v1/credentials/cred_1",
        status=403,
        json={"code": "forbidden", "message": "an Account Admin key is needed"},
    )
    with pytest.raises(ProviderError) as raised:
        provider().apply(Change(Action.DELETE, "credentials/c", {}, None, "cred_1", '"1"'))
    assert (
        str(raised.value)
        == "credentials/c: DELETE /v1/credentials/cred_1 failed with HTTP 403 forbidden: an Account Admin key is needed"
    )
    assert TOKEN not in str(raised.value)


def test_missing_url_or_token_is_a_clear_error():
    with pytest.raises(ProviderError, match="provider: keyform needs token"):
        KeyformProvider({"url": URL})


@responses.activate
def test_replayed_create_without_secret_is_healed_with_a_fresh_secret():
    """A create whose response was lost is retried; the replay has no secret, so a new one replaces it."""
    cred = {
        "id": "cred_1",
        "name": "c",
        "client_id": "kfc_1",
        "client_secret": None,
        "etag": '"1"',
        "created_at": T0,
        "secrets": [{"id": "sec_lost", "created_at": T0}],
    }
    responses.post(f"{URL}/v1/credentials", json=cred, status=201, headers={"Idempotent-Replayed": "true"})
    responses.post(
        f"{URL}/v1/credentials/cred_1/secrets",
        json={"id": "sec_new", "created_at": T0, "client_secret": "kfs_" + "f" * 40},
        status=201,
    )
    responses.get(f"{URL}/v1/credentials/cred_1", json={**cred, "etag": '"2"'})
    responses.delete(f"{URL}/v1/credentials/cred_1/secrets/sec_lost", status=204)
    after = {"integration": "", "enabled": True, "roles": [], "permissions": {}, "attributes": []}
    outcome = provider().apply(Change(Action.CREATE, "credentials/c", after=after))
    assert outcome.secret.fields == {"client_id": "kfc_1", "client_secret": "kfs_" + "f" * 40}
    assert outcome.secret.secret_id == "sec_new"
    assert [c.request.method + " " + c.request.path_url for c in responses.calls][-2:] == [
        "DELETE /v1/credentials/cred_1/secrets/sec_lost",
        "GET /v1/credentials/cred_1",
    ]


AFTER_CRED = {"integration": "", "enabled": True, "roles": [], "permissions": {}, "attributes": []}


@responses.activate
def test_create_meeting_its_own_late_request_takes_over_with_a_fresh_secret():
    """A create from an interrupted apply landed late: the resource is keyform's, its secret nobody's."""
    responses.post(f"{URL}/v1/credentials", status=409, json={"code": "conflict", "message": "exists"})
    late = {"id": "cred_9", "name": "c", "client_id": "kfc_9", "managed_by": "keyform", "etag": '"1"', **AFTER_CRED}
    late["secrets"] = [{"id": "sec_unseen", "created_at": T0}]
    responses.get(
        f"{URL}/v1/credentials",
        json={"items": [late], "next_cursor": None},
        match=[responses.matchers.query_param_matcher({"name": "c"})],
    )
    responses.post(
        f"{URL}/v1/credentials/cred_9/secrets",
        status=201,
        json={"id": "sec_new", "created_at": T0, "client_secret": "kfs_" + "z" * 40},
    )
    responses.delete(f"{URL}/v1/credentials/cred_9/secrets/sec_unseen", status=204)
    responses.get(f"{URL}/v1/credentials/cred_9", json={**late, "etag": '"3"'})
    outcome = provider().apply(Change(Action.CREATE, "credentials/c", after=AFTER_CRED))
    assert outcome.secret.fields == {"client_id": "kfc_9", "client_secret": "kfs_" + "z" * 40}
    assert "DELETE" in [c.request.method for c in responses.calls]


@responses.activate
def test_create_meeting_someone_elses_resource_is_stale():
    responses.post(f"{URL}/v1/credentials", status=409, json={"code": "conflict", "message": "exists"})
    theirs = {
        "id": "cred_9",
        "name": "c",
        "client_id": "kfc_9",
        "managed_by": None,
        "etag": '"1"',
        "secrets": [],
        **AFTER_CRED,
    }
    responses.get(f"{URL}/v1/credentials", json={"items": [theirs], "next_cursor": None})
    with pytest.raises(StaleChangeError, match="credentials/c: it was created outside this plan"):
        provider().apply(Change(Action.CREATE, "credentials/c", after=AFTER_CRED))
