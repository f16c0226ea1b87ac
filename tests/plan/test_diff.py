from datetime import timedelta

from keyform.contract import Action, SecretInfo
from keyform.model import Safety
from keyform.plan.diff import diff
from keyform.providers.keyform.model import ApiKey, Credential, Organization, Role, User
from tests.fakes import NOW, FakeProvider, live, state

KINDS = FakeProvider.kinds
READER = Role("reader", "Reads", {"employees": ("read",)}, ("first_name",))


def run(desired, live_state, **kwargs):
    return diff(desired, live_state, KINDS, now=NOW, **kwargs)


def test_declared_but_not_live_is_created_with_its_canonical_attributes():
    result = run(state(roles={"reader": READER}), {})
    [change] = result.changes
    assert (change.action, change.address) == (Action.CREATE, "roles/reader")
    assert change.after == {
        "description": "Reads",
        "permissions": {"employees": ["read"]},
        "attributes": ["first_name"],
    }


def test_matching_live_resource_yields_no_change():
    result = run(state(roles={"reader": READER}), {"roles/reader": live("roles/reader", READER.attributes_dict())})
    assert result.changes == []


def test_changed_attribute_is_an_update_carrying_id_and_etag_seen():
    current = live("roles/reader", {**READER.attributes_dict(), "attributes": ["email"]}, etag='"9"')
    [change] = run(state(roles={"reader": READER}), {"roles/reader": current}).changes
    assert change.action == Action.UPDATE
    assert change.changed_fields() == ["attributes"]
    assert (change.id, change.etag) == ("id-roles/reader", '"9"')


def test_unmarked_live_resource_that_is_declared_is_adopted():
    current = live("roles/reader", READER.attributes_dict(), managed=False)
    [change] = run(state(roles={"reader": READER}), {"roles/reader": current}).changes
    assert change.action == Action.ADOPT


def test_managed_resource_removed_from_yaml_is_deleted_but_unmanaged_one_follows_policy():
    live_state = {
        "roles/old": live("roles/old", READER.attributes_dict()),
        "roles/manual": live("roles/manual", READER.attributes_dict(), managed=False),
    }
    ignore = run(state(), live_state)
    assert [(c.action, c.address) for c in ignore.changes] == [(Action.DELETE, "roles/old")]
    assert ignore.unmanaged == []
    report = run(state(safety=Safety(unmanaged="report")), live_state)
    assert report.unmanaged == ["roles/manual"]
    delete = run(state(safety=Safety(unmanaged="delete")), live_state)
    assert sorted(c.address for c in delete.changes) == ["roles/manual", "roles/old"]


def test_singleton_compares_only_declared_settings_and_is_never_deleted():
    org = live("organization", {"api_access": False})
    [change] = run(state(organization=Organization(api_access=True)), {"organization": org}).changes
    assert (change.action, change.before, change.after) == (Action.UPDATE, {"api_access": False}, {"api_access": True})
    assert run(state(), {"organization": org}).changes == []


def test_user_without_api_key_section_leaves_the_live_key_alone():
    user = User("a@x.example", "A", "B")
    attrs = {**user.attributes_dict(), "api_key_enabled": True}
    assert (
        run(state(users={"a@x.example": user}), {"users/a@x.example": live("users/a@x.example", attrs)}).changes == []
    )


def test_old_api_key_is_rotated_after_rotate_after():
    user = User("a@x.example", "A", "B", api_key=ApiKey(rotate_after=timedelta(days=90)))
    old = SecretInfo("key1", NOW - timedelta(days=91))
    current = live("users/a@x.example", user.attributes_dict(), secrets_=[old])
    [change] = run(state(users={"a@x.example": user}), {"users/a@x.example": current}).changes
    assert change.action == Action.ROTATE
    assert "91d old (rotate_after 90d)" in change.reason
    assert change.details["phase"] == "immediate"
    fresh = live("users/a@x.example", user.attributes_dict(), secrets_=[SecretInfo("k", NOW - timedelta(days=89))])
    assert run(state(users={"a@x.example": user}), {"users/a@x.example": fresh}).changes == []


def test_replace_forces_rotation_and_credential_overlap_adds_then_revokes():
    cred = Credential("sync", rotation_overlap=timedelta(hours=24))
    one = live("credentials/sync", cred.attributes_dict(), secrets_=[SecretInfo("s1", NOW - timedelta(days=1))])
    [add] = run(state(credentials={"sync": cred}), {"credentials/sync": one}, replace={"credentials/sync"}).changes
    assert (add.action, add.details["phase"], add.details["old_secret"]) == (Action.ROTATE, "add", "s1")
    both = [SecretInfo("s1", NOW - timedelta(days=3)), SecretInfo("s2", NOW - timedelta(hours=2))]
    during = live("credentials/sync", cred.attributes_dict(), secrets_=both)
    assert run(state(credentials={"sync": cred}), {"credentials/sync": during}).changes == []
    both[1] = SecretInfo("s2", NOW - timedelta(hours=25))
    after = live("credentials/sync", cred.attributes_dict(), secrets_=both)
    [revoke] = run(state(credentials={"sync": cred}), {"credentials/sync": after}).changes
    assert (revoke.details["phase"], revoke.details["old_secret"]) == ("revoke", "s1")


def test_reissue_after_an_interrupted_apply_revokes_every_live_secret():
    cred = Credential("sync", rotation_overlap=timedelta(hours=24))
    both = [SecretInfo("s1", NOW - timedelta(days=3)), SecretInfo("s2", NOW - timedelta(minutes=1))]
    current = live("credentials/sync", cred.attributes_dict(), secrets_=both)
    [change] = run(
        state(credentials={"sync": cred}), {"credentials/sync": current}, reissue={"credentials/sync"}
    ).changes
    assert change.action == Action.ROTATE
    assert (change.details["phase"], change.details["old_secrets"]) == ("reissue", ["s1", "s2"])
    assert change.reason == "its secret may not have been delivered (interrupted apply)"


def test_reissue_of_a_single_secret_without_a_schedule_still_rotates_users_and_credentials():
    cred, user = Credential("sync"), User("a@x.example", "A", "X", api_key=ApiKey())
    desired = state(credentials={"sync": cred}, users={"a@x.example": user})
    current = {
        "credentials/sync": live("credentials/sync", cred.attributes_dict(), secrets_=[SecretInfo("s1", NOW)]),
        "users/a@x.example": live("users/a@x.example", user.attributes_dict(), secrets_=[SecretInfo("k1", NOW)]),
    }
    changes = run(desired, current, reissue={"credentials/sync", "users/a@x.example"}).changes
    assert sorted((c.address, c.action, c.details["phase"], c.details["old_secrets"]) for c in changes) == [
        ("credentials/sync", Action.ROTATE, "reissue", ["s1"]),
        ("users/a@x.example", Action.ROTATE, "reissue", ["k1"]),
    ]


def test_an_unchanged_credential_whose_only_secret_is_past_rotate_after_is_rotated():
    cred = Credential("sync", rotate_after=timedelta(days=90))
    old = live("credentials/sync", cred.attributes_dict(), secrets_=[SecretInfo("s1", NOW - timedelta(days=91))])
    [change] = run(state(credentials={"sync": cred}), {"credentials/sync": old}).changes
    assert (change.action, change.details["phase"], change.details["old_secret"]) == (Action.ROTATE, "immediate", "s1")
    assert change.reason == "secret is 91d old (rotate_after 90d)"
