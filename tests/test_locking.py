import pytest

from keyform.contract import LockedError
from keyform.locking import apply_lock
from tests.fakes import FakeProvider


class LockingProvider(FakeProvider):
    def __init__(self, busy_for: int = 0):
        super().__init__()
        self.busy_for = busy_for
        self.events: list[str] = []

    def lock(self, owner, ttl_seconds):
        if self.busy_for:
            self.busy_for -= 1
            raise LockedError("another apply holds the organisation's lock: ci@runner pid 7", "lck_1")
        self.events.append(f"lock {ttl_seconds}")
        return "lck_2"

    def unlock(self, lock_id):
        self.events.append(f"unlock {lock_id}")


def test_lock_is_released_after_the_block_even_on_error():
    provider = LockingProvider()
    with pytest.raises(RuntimeError), apply_lock(provider, ttl=60) as lock_id:
        assert lock_id == "lck_2"
        raise RuntimeError("boom")
    assert provider.events == ["lock 60", "unlock lck_2"]


def test_busy_lock_fails_at_once_naming_the_holder_without_timeout():
    with pytest.raises(LockedError, match="ci@runner pid 7"), apply_lock(LockingProvider(busy_for=1)):
        pass


def test_busy_lock_is_waited_for_within_the_timeout():
    provider, waits = LockingProvider(busy_for=2), []
    with apply_lock(provider, timeout=5, poll=0.01, on_wait=waits.append) as lock_id:
        assert lock_id == "lck_2"
    assert waits == ["another apply holds the organisation's lock: ci@runner pid 7"]  # told once
