from keyform.plan.build import make_plan
from keyform.providers.keyform.model import Role
from tests.fakes import NOW, FakeProvider, live, state

READER = Role("reader", "Reads", {"employees": ("read",)}, ("first_name",))
WRITER = Role("writer", "Writes", {"employees": ("read", "write")}, ())


def test_checked_lists_declared_and_managed_live_addresses_within_the_targets():
    desired = state(roles={"reader": READER, "writer": WRITER})
    provider = FakeProvider(
        {
            "roles/reader": live("roles/reader", READER.attributes_dict()),
            "roles/retired": live("roles/retired", READER.attributes_dict()),  # managed, no longer declared
            "roles/theirs": live("roles/theirs", READER.attributes_dict(), managed=False),
        }
    )
    everything = make_plan(desired, provider, now=NOW)
    assert everything.checked == {"roles/reader", "roles/writer", "roles/retired"}
    targeted = make_plan(desired, provider, now=NOW, targets=["roles/writer", "roles/theirs"])
    assert targeted.checked == {"roles/writer"}
