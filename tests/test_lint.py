"""ruff lint and format checks are part of the suite, so CI fails on either."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def ruff(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if exe is None:
        pytest.fail("ruff is not installed: pip install -e '.[test]'")
    return subprocess.run([exe, *args], cwd=ROOT, capture_output=True, text=True, check=False)


PATHS = [name for name in ("src", "tests", "bench") if (ROOT / name).is_dir()]


def test_ruff_lint_is_clean():
    result = ruff("check", *PATHS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean():
    result = ruff("format", "--check", *PATHS)
    assert result.returncode == 0, result.stdout + result.stderr
