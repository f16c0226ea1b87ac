"""A fleet: the targets of one repository (folders with their own keyform.yaml, any provider).

`discover()` finds them, either every keyform.yaml below a root or the folders a fleet file
(`keyform-fleet.yaml`) names. `run_all()` runs one keyform command per target side by side,
with a bound, each as its own `python -m keyform -C TARGET ...` process.

Why processes and not threads over `keyform.engine.session`: a target's secrets (its provider
token, the secrets its apply generates) are known to its redactor, its log handler and its sink
only, and a process keeps each of those per target without sharing one logging configuration or
one set of signal handlers between them; a target that crashes or hangs takes nobody else down;
and each target's exit code, lock and output are exactly what `keyform -C TARGET plan` gives
alone. The cost, a Python start per target, is small beside a live read.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import yaml

from keyform.config.root import ROOT_NAME
from keyform.config.yaml_loader import top_level_value
from keyform.errors import KeyformError

FLEET_FILE = "keyform-fleet.yaml"
SKIPPED = frozenset({".git", ".venv", ".keyform", "node_modules"})  # never searched for targets
DEFAULT_PARALLELISM = 4


class FleetError(KeyformError):
    """The fleet file is wrong, or no target was found."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    """One folder with its own keyform.yaml."""

    name: str  # the folder relative to the root, POSIX style ("." for the root itself)
    directory: Path  # the folder as the caller names it (the root joined with `name`)
    provider: str | None  # the root file's provider.type, None if it can't be read alone

    @property
    def slug(self) -> str:
        """The name as one file-name part: "teams/payments" -> "teams--payments", "." -> "root"."""
        return "root" if self.name == "." else self.name.replace("/", "--")

    @property
    def plan_file(self) -> str:
        return f"plan-{self.slug}.json"

    def as_matrix_entry(self) -> dict[str, str | None]:
        return {
            "target": self.name,
            "slug": self.slug,
            "directory": self.directory.as_posix(),
            "provider": self.provider,
            "plan_file": self.plan_file,
        }


def discover(root: Path) -> list[Target]:
    """The targets under `root`: the folders its fleet file names, else every folder below it with a
    keyform.yaml (not searching .git, .venv, .keyform, node_modules). Sorted by name."""
    fleet_file = root / FLEET_FILE
    names = _listed(fleet_file, root) if fleet_file.is_file() else sorted(_found(root))
    if not names:
        raise FleetError(f"no {ROOT_NAME} below {root}: a target is a folder with its own {ROOT_NAME}")
    targets = [_target(root, name) for name in names]
    slugs: dict[str, str] = {}
    for target in targets:
        other = slugs.setdefault(target.slug, target.name)
        if other != target.name:
            raise FleetError(f"targets {other} and {target.name} would share the plan file {target.plan_file}")
    return targets


def _found(root: Path) -> Iterator[str]:
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [name for name in subfolders if name not in SKIPPED]
        if ROOT_NAME in files:
            yield PurePosixPath(Path(folder).relative_to(root)).as_posix()


def _listed(fleet_file: Path, root: Path) -> list[str]:
    """The folders `fleet_file` names under `targets:`, each checked to hold a keyform.yaml."""
    try:
        data = yaml.safe_load(fleet_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        reason = getattr(error, "problem", None) or getattr(error, "strerror", None) or str(error)
        raise FleetError(f"{fleet_file}: can't be read ({reason}): write `targets: [folder, ...]`") from None
    folders = data.get("targets") if isinstance(data, dict) else None
    if not isinstance(folders, list) or not folders or not all(isinstance(item, str) for item in folders):
        raise FleetError(f"{fleet_file}: `targets:` must be a list of folders, e.g. `targets: [teams/payments]`")
    names: list[str] = []
    for index, folder in enumerate(folders):
        place = f"{fleet_file}: targets[{index}] {folder!r}"
        relative = PurePosixPath(folder)
        if relative.is_absolute() or ".." in relative.parts:
            raise FleetError(f"{place} must be a folder inside {root}, relative to it")
        if not (root / relative / ROOT_NAME).is_file():
            raise FleetError(f"{place} has no {ROOT_NAME}: create it, or remove the entry")
        name = relative.as_posix()
        if name in names:
            raise FleetError(f"{place} is listed twice: remove one")
        names.append(name)
    return names


def _target(root: Path, name: str) -> Target:
    directory = root if name == "." else root / name
    return Target(name=name, directory=directory, provider=_provider_type(directory / ROOT_NAME))


def _provider_type(path: Path) -> str | None:
    try:
        section = top_level_value(path.read_text(encoding="utf-8"), str(path), "provider")
    except (OSError, UnicodeDecodeError):
        return None
    kind = section.get("type") if isinstance(section, dict) else None
    return kind if isinstance(kind, str) else None


# -- running one command per target ---------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """What one target's command did: its exit code and its whole output."""

    target: Target
    code: int
    stdout: str
    stderr: str

    @property
    def problem(self) -> str:
        """The last line the command wrote to stderr (its "Error: ..." line), or ""."""
        lines = [line for line in self.stderr.splitlines() if line.strip()]
        return lines[-1] if lines else ""


def run_all(
    targets: Sequence[Target],
    args: Callable[[Target], Sequence[str]],
    *,
    parallelism: int = DEFAULT_PARALLELISM,
    environ: Mapping[str, str] | None = None,
    on_done: Callable[[Outcome], None] = lambda outcome: None,
) -> list[Outcome]:
    """Run `keyform -C TARGET ARGS` for every target, at most `parallelism` at a time, with no
    input (no one can answer two targets at once). `on_done` hears of each as it ends, in the
    caller's thread, so whole outputs can be shown one after another. Outcomes in target order."""
    env = {**(os.environ if environ is None else environ), "NO_COLOR": "1"}
    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="keyform-fleet") as pool:
        running = {pool.submit(_run_one, target, args(target), env): target for target in targets}
        done: dict[str, Outcome] = {}
        for future in as_completed(running):
            outcome = future.result()
            done[outcome.target.name] = outcome
            on_done(outcome)
    return [done[target.name] for target in targets]


def _run_one(target: Target, args: Sequence[str], env: Mapping[str, str]) -> Outcome:
    command = [sys.executable, "-m", "keyform", "-C", str(target.directory), *args]
    try:
        finished = subprocess.run(
            command, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, check=False
        )
    except OSError as error:
        return Outcome(target=target, code=1, stdout="", stderr=f"Error: can't start keyform ({error.strerror})")
    return Outcome(target=target, code=finished.returncode, stdout=finished.stdout, stderr=finished.stderr)
