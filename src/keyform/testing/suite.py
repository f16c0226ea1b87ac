"""The conformance tests every provider passes against its own live server (see `keyform.testing`)."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from keyform.contract import Rotation, kind_of
from keyform.testing.harness import Harness
from keyform.testing.project import Project

OVERLAP = "1s"  # the rotation overlap the kit declares, so that its end comes within the test
OVERLAP_WAIT = 30.0  # seconds to wait, at most, for the plan to revoke the retiring secret


class ConformanceSuite:
    """Subclass it as `TestSomething(ConformanceSuite)` and give it a `harness` fixture."""

    @pytest.fixture
    def harness(self) -> Iterator[Harness]:
        raise NotImplementedError("give the ConformanceSuite subclass a `harness` fixture that yields a Harness")

    @pytest.fixture
    def project(self, harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
        for name, value in harness.environment().items():
            monkeypatch.setenv(name, value)
        return Project(harness, tmp_path / "project")

    # -- reads ------------------------------------------------------------------------------------

    def test_a_read_is_one_listing_per_kind(self, project: Project) -> None:
        page = project.harness.page_size
        count = 2 * page + 1 if page else 3
        project.declare({project.name(n): project.sample.spec for n in range(count)})
        project.apply()
        live, sent = project.read()
        assert sent is not None, (
            f"{project.provider.__name__}.requests_sent() returns None: count the requests the provider sends"
        )
        per_kind = Counter(address.partition("/")[0] for address in live)
        assert {project.address(n) for n in range(count)} <= live.keys()
        pages = {kind.name: per_kind[kind.name] // page + 1 if page else 1 for kind in project.provider.kinds}
        each = project.harness.listing_per_resource_of
        per_resource = per_kind[each] if each else 0
        allowed = sum(pages.values()) + project.harness.read_overhead + per_resource
        assert sent <= allowed, (
            f"a read of {dict(per_kind)} sent {sent} requests: expected at most one listing per kind, one request "
            f"per page of {page or 'all'} ({pages}) plus read_overhead {project.harness.read_overhead}"
            + (f" plus one listing per resource of {each} ({per_resource})" if each else "")
        )

    # -- the lifecycle of one resource ------------------------------------------------------------

    def test_create_then_a_plan_shows_no_changes(self, project: Project) -> None:
        project.declare({project.name(1): project.sample.spec, project.name(2): project.sample.spec})
        planned = project.keyform("plan", "--detailed-exitcode", code=2)
        for number in (1, 2):
            assert f"+ {project.address(number)}" in planned.stdout
        applied = project.apply()
        assert "Apply complete" in applied.stdout
        project.assert_no_changes()
        live = project.live()
        for number in (1, 2):
            resource = live.get(project.address(number))
            assert resource is not None and resource.managed, f"{project.address(number)} not live and managed"
            project.assert_attributes(resource, project.sample.spec)

    def test_update_changes_the_live_resource_in_place(self, project: Project) -> None:
        spec, updated = project.sample.spec, project.sample.updated
        changed = {key for key in {*spec, *updated} if spec.get(key) != updated.get(key)}
        if changed <= project.kind.immutable:
            pytest.skip(f"{project.kind.name} can't change {', '.join(sorted(changed))} in place (Kind.immutable)")
        address = project.address(1)
        project.declare({project.name(1): project.sample.spec})
        project.apply()
        before = project.live()[address]
        project.declare({project.name(1): project.sample.updated})
        planned = project.keyform("plan", "--detailed-exitcode", code=2)
        assert f"~ {address}" in planned.stdout
        project.apply()
        project.assert_no_changes()
        after = project.live()[address]
        assert after.id == before.id, "an update must not replace the resource"
        project.assert_attributes(after, project.sample.updated)

    def test_an_immutable_change_replaces_the_resource(self, project: Project) -> None:
        if project.sample.replaced is None:
            pytest.skip(f"{project.kind.name} has no immutable attribute (Sample.replaced is None)")
        address = project.address(1)
        project.declare({project.name(1): project.sample.spec})
        project.apply()
        old = project.sink().get(address)
        project.declare({project.name(1): project.sample.replaced})
        planned = project.keyform("plan", "--detailed-exitcode", code=2)
        assert f"± {address}" in planned.stdout and "replace" in planned.stdout
        project.apply()
        project.assert_no_changes()
        project.assert_attributes(project.live()[address], project.sample.replaced)
        if project.kind.secret is not None:
            new = project.sink()[address]
            assert old is not None and new["secret_id"] != old["secret_id"], "a replaced resource needs a new secret"
            project.keyform("verify")

    def test_delete_removes_the_resource_and_retires_its_secret(self, project: Project) -> None:
        gone = project.address(2)
        project.declare({project.name(1): project.sample.spec, project.name(2): project.sample.spec})
        project.apply()
        project.declare({project.name(1): project.sample.spec})
        planned = project.keyform("plan", "--detailed-exitcode", code=2)
        assert f"- {gone}" in planned.stdout
        project.apply()
        project.assert_no_changes()
        live = project.live()
        assert gone not in live and project.address(1) in live
        if project.kind.secret is not None:
            entry = project.sink()[gone]
            assert "retired_at" in entry, "the sink entry of a deleted resource must be retired"
            kept = set(project.secrets_seen)
            project.secrets_seen.clear()
            project.sink()
            values = {value for value in entry.values() if isinstance(value, str)}
            assert not (project.secrets_seen & values), "a retired entry must drop its secret"
            project.secrets_seen |= kept

    def test_a_plan_deleting_every_kind_states_its_risks(self, project: Project) -> None:
        """A resource of the sample's kind and of every kind its base declares, deleted in one plan:
        the provider's `risks` hook sees each delete (`after` is None) and the plan lists them, or an
        invariant refuses it in one line; never a crash."""
        project.declare({project.name(1): project.sample.spec})
        project.apply()
        kept = {f"{section}/{name}" for section, named in project.harness.preexisting().items() for name in named}
        gone = [address for address in [project.address(1), *_deletable(project)] if address not in kept]
        path = project.directory / "keyform.yaml"
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
        for address in gone:
            section, _, name = address.partition("/")
            document[section].pop(name)
        path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        planned = project.keyform("plan", "--detailed-exitcode", code=None, verbose=False)
        assert planned.exit_code in (1, 2), f"the plan exited {planned.exit_code}:\n{planned.output}"
        if planned.exit_code == 2:
            for address in gone:
                assert f"deletes {address}" in planned.stdout, planned.stdout
        else:
            assert planned.stderr.startswith("Error: unsafe plan: "), planned.output

    def test_adopt_takes_over_an_unmarked_live_resource(self, project: Project) -> None:
        address = project.address(1)
        project.declare({})
        project.apply()
        project.harness.create_unmanaged(project.kind.name, project.name(1), project.sample.spec)
        assert not project.live()[address].managed, "create_unmanaged must leave the ownership marker off"
        project.declare({project.name(1): project.sample.spec})
        planned = project.keyform("plan", "--detailed-exitcode", code=2)
        assert f"& {address}" in planned.stdout and "adopt" in planned.stdout
        project.apply()
        project.assert_no_changes()
        assert project.live()[address].managed

    @pytest.mark.parametrize("policy", ["ignore", "report", "delete"])
    def test_unmanaged_live_resources_follow_safety_unmanaged(self, project: Project, policy: str) -> None:
        stranger = project.address(9)
        project.declare({project.name(1): project.sample.spec}, safety={"unmanaged": policy})
        project.apply()
        project.harness.create_unmanaged(project.kind.name, project.name(9), project.sample.spec)
        planned = project.keyform("plan", "--detailed-exitcode", code=None)
        if policy == "ignore":
            assert planned.exit_code == 0, planned.output
            assert stranger not in planned.stdout
        elif policy == "report":
            assert planned.exit_code == 0, planned.output
            assert f"? {stranger}" in planned.stdout
        else:
            assert planned.exit_code == 2, planned.output
            assert f"- {stranger}" in planned.stdout
            project.apply()
            project.assert_no_changes()
        assert (stranger in project.live()) is (policy != "delete")

    # -- secrets ----------------------------------------------------------------------------------

    def test_new_secrets_reach_the_sink_and_nothing_else(self, project: Project) -> None:
        if project.kind.secret is None:
            pytest.skip(f"{project.kind.name} carries no secret")
        project.declare({project.name(n): project.sample.spec for n in (1, 2)})
        planfile = project.directory / "plan.json"
        project.keyform("plan", "--out", str(planfile))
        project.keyform("apply", str(planfile))
        sink = project.sink()
        for number in (1, 2):
            entry = sink.get(project.address(number))
            assert entry and entry.get("secret_id") and not entry.get("pending"), f"no confirmed secret in {entry}"
        project.keyform("rotate", project.address(1), "--auto-approve")
        project.keyform("plan", "--format", "json")
        project.keyform("verify")
        project.keyform("export")
        project.keyform("export", "--out", str(project.directory / "exported"))
        project.assert_no_secret_leaked()

    def test_rotation_follows_the_kinds_style(self, project: Project) -> None:
        secret = project.kind.secret
        if secret is None:
            pytest.skip(f"{project.kind.name} carries no secret")
        address = project.address(1)
        overlap = secret.rotation == Rotation.OVERLAP
        spec = project.with_policy(project.sample.spec, rotation_overlap=OVERLAP) if overlap else project.sample.spec
        project.declare({project.name(1): spec})
        project.apply()
        old = project.sink()[address]
        project.keyform("rotate", address, "--auto-approve")
        new = project.sink()[address]
        assert new["secret_id"] != old["secret_id"], "rotate must deliver a new secret"
        project.keyform("verify")
        if overlap:
            assert new.get("retiring", {}).get("secret_id") == old["secret_id"], "the sink must keep the retiring one"
            assert len(project.live()[address].secrets) == 2, "during the overlap both secrets are live"
            self._assert_works(project, address, old, True)
            self._wait_for_revoke(project)
            project.apply()
            project.assert_no_changes()
        assert [s.id for s in project.live()[address].secrets] == [new["secret_id"]]
        self._assert_works(project, address, old, False)
        project.keyform("verify")

    @staticmethod
    def _assert_works(project: Project, address: str, entry: dict[str, object], works: bool) -> None:
        finding = project.check_secret(address, entry)
        if finding is not None:
            assert finding.ok is works, f"the old secret {'stopped' if works else 'still'} working: {finding}"

    @staticmethod
    def _wait_for_revoke(project: Project) -> None:
        deadline = time.monotonic() + OVERLAP_WAIT
        while project.keyform("plan", "--detailed-exitcode", code=None).exit_code != 2:
            assert time.monotonic() < deadline, f"no revoke planned {OVERLAP_WAIT:g}s after a {OVERLAP} overlap"
            time.sleep(0.2)

    # -- saved plans, export, options -------------------------------------------------------------

    def test_a_stale_saved_plan_is_refused(self, project: Project) -> None:
        address = project.address(1)
        project.declare({project.name(1): project.sample.spec})
        project.apply()
        project.declare({project.name(1): project.sample.updated})
        planfile = project.directory / "plan.json"
        project.keyform("plan", "--out", str(planfile))
        project.harness.touch(address)
        refused = project.keyform("apply", str(planfile), code=1)
        assert f"stale: {address}" in refused.stdout
        again = project.directory / "again.json"
        project.keyform("plan", "--out", str(again))
        project.keyform("apply", str(again))
        twice = project.keyform("apply", str(again), code=1)
        assert "already applied" in twice.stderr

    def test_export_plans_to_no_changes(self, project: Project) -> None:
        project.declare({project.name(n): project.sample.spec for n in (1, 2)})
        project.apply()
        exported = project.keyform("export").stdout
        elsewhere = project.directory.parent / "exported"
        elsewhere.mkdir()
        (elsewhere / "keyform.yaml").write_text(exported, encoding="utf-8")
        project.keyform("validate", directory=elsewhere)
        planned = project.keyform("plan", "--detailed-exitcode", code=None, directory=elsewhere)
        assert planned.exit_code == 0, f"the export does not plan to zero changes:\n{exported}\n{planned.output}"

    def test_bad_options_are_one_line_errors(self, project: Project) -> None:
        """Exit 1 with "Error: ..." and one line per problem (each naming keyform.yaml's position, or
        the option), never a traceback."""
        good = project.harness.settings()
        schema = project.provider.options_schema()
        required = set(schema.get("required") or ()) - {"type"} if schema is not None else {"unknown"}
        missing: list[tuple[dict[str, Any], str]] = [({}, "")] if required else []  # no option needed: {} is fine
        cases = [*missing, ({**good, "no_such_option": 1}, "no_such_option"), *project.harness.bad_settings()]
        root = str(project.directory / "keyform.yaml")
        for settings, fragment in cases:
            project.declare({project.name(1): project.sample.spec}, settings=settings)
            result = project.keyform("plan", code=1, verbose=False)
            lines = result.stderr.strip().splitlines()
            assert lines and lines[0].startswith("Error: "), f"{settings}: no error line:\n{result.stderr}"
            more = [line for line in lines[1:] if not line.startswith(root)]
            assert not more, f"{settings}: lines that are not one problem each:\n{result.stderr}"
            assert fragment in result.stderr, f"{settings}: the error does not name {fragment!r}: {result.stderr}"


def _deletable(project: Project) -> list[str]:
    """The addresses of the resources the sample's base sections declare (singletons are never deleted)."""
    kinds = [(kind_of(project.provider, section), named) for section, named in project.sample.base.items()]
    return [kind.address(name) for kind, named in kinds if kind is not None and not kind.singleton for name in named]
