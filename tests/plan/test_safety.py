import pytest

from keyform.cli.errors import user_message
from keyform.contract import Action, Change
from keyform.errors import UnsafePlanError
from keyform.model import Safety
from keyform.plan.plan import Plan
from keyform.plan.safety import check_safety
from tests.fakes import FakeProvider, live

PROVIDER = FakeProvider()

OWNER = {"role": "account_owner", "archived": False, "api_key_enabled": True}


def creds(n):
    return {f"credentials/c{i}": live(f"credentials/c{i}", {"enabled": True}) for i in range(n)}


def deletes(n):
    return Plan.from_changes(Change(Action.DELETE, f"credentials/c{i}", {"enabled": True}) for i in range(n))


def test_deleting_more_than_the_fraction_of_a_kind_is_refused_with_the_numbers():
    with pytest.raises(
        UnsafePlanError, match=r"would delete 3 of 10 managed credentials \(30%\), over safety.max_delete_fraction 25%"
    ):
        check_safety(deletes(3), creds(10), Safety(), provider=PROVIDER, identity=None, allow_unsafe=False)
    check_safety(deletes(2), creds(10), Safety(), provider=PROVIDER, identity=None, allow_unsafe=False)  # 20% is fine
    check_safety(
        deletes(3), creds(9), Safety(), provider=PROVIDER, identity=None, allow_unsafe=False
    )  # small kinds are exempt


def test_allow_unsafe_overrides_thresholds():
    check_safety(deletes(5), creds(10), Safety(), provider=PROVIDER, identity=None, allow_unsafe=True)


def test_protected_address_cannot_be_deleted_or_disabled():
    plan = Plan.from_changes([Change(Action.UPDATE, "credentials/c1", {"enabled": True}, {"enabled": False})])
    with pytest.raises(UnsafePlanError, match=r"protected credentials/c1 would be disabled") as caught:
        check_safety(
            plan, creds(2), Safety(protect=("credentials/c1",)), provider=PROVIDER, identity=None, allow_unsafe=False
        )
    assert user_message(caught.value).endswith("(re-run with --allow-unsafe if this is intended)")


def test_own_identity_is_never_weakened_even_with_allow_unsafe():
    me = "users/me@x.example"
    live_state = {me: live(me, OWNER), "users/o2@x.example": live("users/o2@x.example", OWNER)}
    plan = Plan.from_changes([Change(Action.UPDATE, me, {"role": "account_owner"}, {"role": "standard"})])
    with pytest.raises(UnsafePlanError, match=f"{me} is the identity keyform is running as and would be demoted"):
        check_safety(plan, live_state, Safety(), provider=PROVIDER, identity=me, allow_unsafe=True)
    rotate = Plan.from_changes([Change(Action.ROTATE, me, details={"phase": "immediate"})])
    with pytest.raises(UnsafePlanError, match="would be given a new API key"):
        check_safety(rotate, live_state, Safety(), provider=PROVIDER, identity=me, allow_unsafe=True)


def test_organisation_is_never_left_without_an_owner():
    only = "users/o@x.example"
    plan = Plan.from_changes([Change(Action.UPDATE, only, OWNER, {**OWNER, "archived": True})])
    with pytest.raises(UnsafePlanError, match="left without an active Account Owner"):
        check_safety(plan, {only: live(only, OWNER)}, Safety(), provider=PROVIDER, identity=None, allow_unsafe=True)


def test_an_owner_without_a_working_key_does_not_count():
    # The server refuses to leave no owner with a working key (an owner without one can't switch
    # api_access back on), so the plan predicts it rather than failing half-way through apply.
    keyed, keyless = "users/o1@x.example", "users/o2@x.example"
    live_state = {keyed: live(keyed, OWNER), keyless: live(keyless, {**OWNER, "api_key_enabled": None})}
    disable_key = Change(Action.UPDATE, keyed, OWNER, {**OWNER, "api_key_enabled": False})
    with pytest.raises(UnsafePlanError, match="left without an active Account Owner with a working API key"):
        check_safety(
            Plan.from_changes([disable_key]), live_state, Safety(), provider=PROVIDER, identity=None, allow_unsafe=True
        )
    give_key = Change(Action.UPDATE, keyless, {"api_key_enabled": None}, {"api_key_enabled": True})
    check_safety(
        Plan.from_changes([disable_key, give_key]),
        live_state,
        Safety(),
        provider=PROVIDER,
        identity=None,
        allow_unsafe=True,
    )


def test_owner_count_follows_every_change_to_owners():
    first, second, other = "users/o1@x.example", "users/o2@x.example", "users/s@x.example"
    standard = {"role": "standard", "api_key_enabled": True}
    live_state = {a: live(a, OWNER) for a in (first, second)} | {other: live(other, standard)}
    archive_first = Change(Action.UPDATE, first, OWNER, {**OWNER, "archived": True})
    delete_second = Change(Action.DELETE, second, OWNER, None)
    promote_other = Change(Action.UPDATE, other, {"role": "standard"}, {"role": "account_owner"})  # keeps its key
    check_safety(
        Plan.from_changes([archive_first]), live_state, Safety(), provider=PROVIDER, identity=None, allow_unsafe=True
    )
    with pytest.raises(UnsafePlanError, match="left without an active Account Owner"):
        check_safety(
            Plan.from_changes([archive_first, delete_second]),
            live_state,
            Safety(),
            provider=PROVIDER,
            identity=None,
            allow_unsafe=True,
        )
    both_and_promotion = Plan.from_changes([archive_first, delete_second, promote_other])
    check_safety(both_and_promotion, live_state, Safety(), provider=PROVIDER, identity=None, allow_unsafe=True)
    new_owner = Change(Action.CREATE, "users/n@x.example", None, OWNER)
    check_safety(
        Plan.from_changes([archive_first, delete_second, new_owner]),
        live_state,
        Safety(),
        provider=PROVIDER,
        identity=None,
        allow_unsafe=True,
    )


def test_an_invariant_alone_does_not_suggest_allow_unsafe():
    only = "users/o@x.example"
    plan = Plan.from_changes([Change(Action.UPDATE, only, OWNER, {**OWNER, "archived": True})])
    with pytest.raises(UnsafePlanError) as caught:
        check_safety(plan, {only: live(only, OWNER)}, Safety(), provider=PROVIDER, identity=None, allow_unsafe=False)
    assert user_message(caught.value) == (
        "unsafe plan: the organisation would be left without an active Account Owner with a working API key"
        " (--allow-unsafe does not override this)"
    )


def test_a_threshold_and_an_invariant_together_say_allow_unsafe_overrides_only_the_threshold():
    owner = "users/o@x.example"
    plan = Plan.from_changes([*deletes(3).changes, Change(Action.UPDATE, owner, OWNER, {**OWNER, "archived": True})])
    with pytest.raises(UnsafePlanError) as caught:
        check_safety(
            plan,
            {**creds(10), owner: live(owner, OWNER)},
            Safety(),
            provider=PROVIDER,
            identity=None,
            allow_unsafe=False,
        )
    assert user_message(caught.value) == (
        "unsafe plan: would delete 3 of 10 managed credentials (30%), over safety.max_delete_fraction 25%;"
        " the organisation would be left without an active Account Owner with a working API key"
        " (--allow-unsafe overrides only the safety thresholds, not the rest)"
    )


def test_deleting_a_role_is_fine_when_the_plan_takes_it_from_every_holder():
    role = "roles/r"
    live_state = {
        role: live(role, {"description": ""}),
        "users/u@x.example": live("users/u@x.example", {"roles": ["r"]}),
        "credentials/c": live("credentials/c", {"roles": ["r"]}),
    }
    plan = Plan.from_changes(
        [
            Change(Action.DELETE, role, {"description": ""}),
            Change(Action.UPDATE, "users/u@x.example", {"roles": ["r"]}, {"roles": []}),
            Change(Action.DELETE, "credentials/c", {"roles": ["r"]}),
        ]
    )
    check_safety(plan, live_state, Safety(), provider=PROVIDER, identity=None, allow_unsafe=False)
    with pytest.raises(
        UnsafePlanError,
        match=r"roles/r would be deleted but is still held by credentials/c and users/u@x.example, .* from them first",
    ):
        only_role = Plan.from_changes([Change(Action.DELETE, role, {"description": ""})])
        check_safety(only_role, live_state, Safety(), provider=PROVIDER, identity=None, allow_unsafe=True)
