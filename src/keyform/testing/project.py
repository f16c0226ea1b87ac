"""A keyform project in a folder, driven through the real `keyform` command, whose outputs are kept
so that the kit can check no secret reached any of them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result

from keyform.cli import main
from keyform.contract import Finding, Kind, LiveResource, Provider, kind_of
from keyform.providers.registry import load_provider, provider_class
from keyform.secrets.file_sink import FileSink
from keyform.secrets.redaction import Redactor
from keyform.testing.harness import Harness, Sample
from keyform.verify import secret_values
from keyform.workspace import open_workspace

SINK = Path(".keyform") / "secrets.json"


class Project:
    """keyform.yaml in `directory` for the harness's provider, and every output keyform produced."""

    def __init__(self, harness: Harness, directory: Path):
        self.harness = harness
        self.directory = directory
        self.sample: Sample = harness.sample()
        self.provider: type[Provider] = provider_class(harness.provider_type)
        kind = kind_of(self.provider, self.sample.kind)
        assert kind is not None, f"Sample.kind {self.sample.kind!r} is not a kind of {self.provider.__name__}"
        self.kind: Kind = kind
        self.outputs: list[str] = []
        self.secrets_seen: set[str] = set()  # every secret the sink ever held, rotated ones included
        directory.mkdir(parents=True, exist_ok=True)

    # -- the desired state ----------------------------------------------------------------------

    def name(self, number: int) -> str:
        return self.sample.name_format.format(number)

    def address(self, number: int) -> str:
        return self.kind.address(self.name(number))

    def declare(
        self,
        specs: Mapping[str, Mapping[str, Any]],
        *,
        safety: Mapping[str, Any] | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        """Write keyform.yaml: the sample's base sections and `specs` (name -> spec) of the sample kind."""
        options = self.harness.settings() if settings is None else settings
        document: dict[str, Any] = {
            "version": 1,
            "provider": {"type": self.harness.provider_type, **options},
            "safety": {"max_delete_fraction": 1.0, **(safety or {})},
            **_copy(self.sample.base),
        }
        for kind, named in self.harness.preexisting().items():
            document[kind] = {**document.get(kind, {}), **_copy(named)}
        if specs:
            document[self.kind.name] = {**document.get(self.kind.name, {}), **_copy(specs)}
        (self.directory / "keyform.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    def with_policy(self, spec: Mapping[str, Any], **policy: str) -> dict[str, Any]:
        """`spec` with secret policy keys (rotate_after, rotation_overlap) where the kind keeps them."""
        assert self.kind.secret is not None
        result = _copy(spec)
        target = result
        for key in self.kind.secret.policy_path:
            target = target.setdefault(key, {})
        target.update(policy)
        return result

    # -- the command ----------------------------------------------------------------------------

    def keyform(self, *args: str, code: int | None = 0, directory: Path | None = None, verbose: bool = True) -> Result:
        """Run `keyform [-v] -C DIR ARGS` (-v: its logs are outputs too); with `code`, assert its exit code."""
        where = str(directory or self.directory)
        flags = ["-v"] if verbose else []
        result = CliRunner().invoke(main, [*flags, "-C", where, *args], catch_exceptions=False)
        self.outputs.append(result.stdout + result.stderr)
        if code is not None:
            assert result.exit_code == code, f"keyform {' '.join(args)} exited {result.exit_code}:\n{result.output}"
        return result

    def apply(self, *args: str) -> Result:
        return self.keyform("apply", "--auto-approve", *args)

    def assert_no_changes(self) -> None:
        result = self.keyform("plan", "--detailed-exitcode", code=None)
        assert result.exit_code == 0, f"expected a plan with no changes, got:\n{result.output}"

    # -- the live system, through the library ---------------------------------------------------

    def read(self) -> tuple[dict[str, LiveResource], int | None]:
        """The live state as a fresh provider reads it, and how many requests the read sent."""
        provider = load_provider(open_workspace(None, self.directory).state.provider)
        try:
            before = provider.requests_sent()
            live = provider.read()
            after = provider.requests_sent()
        finally:
            provider.close()
        return live, None if before is None or after is None else after - before

    def live(self) -> dict[str, LiveResource]:
        return self.read()[0]

    def assert_attributes(self, resource: LiveResource, spec: Mapping[str, Any]) -> None:
        """The live resource holds `spec`'s canonical attributes (those it leaves out are unmanaged:
        the engine compares only what a spec declares, so a live resource may carry more)."""
        wanted = self.kind.canonical(spec)
        declared = {key: resource.attributes.get(key) for key in wanted}
        assert declared == wanted, f"{resource.address}: live {declared}, declared {wanted}"

    def check_secret(self, address: str, entry: Mapping[str, Any]) -> Finding | None:
        """What the provider's verifier says of one sink entry (None: the provider can't verify)."""
        state = open_workspace(None, self.directory).state
        verifier = self.provider.verifier(state.provider.options)
        if verifier is None:
            return None
        try:
            return verifier.check(address, entry, state, Redactor())
        finally:
            verifier.close()

    # -- the sink and leaks ---------------------------------------------------------------------

    def sink(self) -> dict[str, Any]:
        document = FileSink(self.directory / SINK).read()
        self.secrets_seen.update(secret_values(document))
        return document

    def assert_no_secret_leaked(self) -> None:
        """No secret the sink ever held is in anything keyform printed, logged or wrote but the sink."""
        self.sink()
        assert self.secrets_seen, "expected secrets in the sink to look for"
        sink_files = {self.directory / SINK, (self.directory / SINK).with_name(SINK.name + ".pending")}
        texts = {f"output of command {n}": text for n, text in enumerate(self.outputs, 1)}
        for path in self.directory.rglob("*"):
            if path.is_file() and path not in sink_files:
                texts[str(path)] = path.read_text(encoding="utf-8", errors="replace")
        for where, text in texts.items():
            leaked = [value for value in self.secrets_seen if value in text]
            assert not leaked, f"a generated secret is in {where}"


def _copy(value: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of plain data (YAML dumps a value used twice as an alias, which keyform refuses)."""
    copied: dict[str, Any] = json.loads(json.dumps(value))
    return copied
