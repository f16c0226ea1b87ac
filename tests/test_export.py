"""Export writes a desired state keyform reads back to zero changes, however large the organisation."""

from __future__ import annotations

import pytest

from keyform.cli.errors import user_message
from keyform.config import load_desired_state
from keyform.config.sizes import DEFAULT_MAX_BYTES
from keyform.errors import ConfigError, KeyformError
from keyform.export import export_files, export_yaml, write_files
from keyform.plan.build import make_plan
from keyform.providers.keyform.model import Credential, Role, User
from tests.fakes import NOW, FakeProvider, live

ENV = {"KEYFORM_URL": "http://127.0.0.1:9", "KEYFORM_TOKEN": "test-token"}
USERS, CREDENTIALS = 22_000, 600


def large_org() -> dict:
    """About 22,000 users and 600 credentials: one file of them is well over 5 MiB."""
    role = Role("reader", "Reads employee data", {"employees": ("read",)}, ("first_name",))
    resources = {"roles/reader": live("roles/reader", role.attributes_dict())}
    for number in range(USERS):
        user = User(
            f"person.{number:05d}@acme.example",
            "Firstname",
            f"Lastname{number}",
            roles=("reader",) if number % 3 == 0 else (),
            job_title="Senior Payroll and Workforce Planning Specialist (EMEA region)",
            default_folder="/company/people/payroll/department/berlin-headquarters",
        )
        resources[f"users/{user.email}"] = live(f"users/{user.email}", user.attributes_dict())
    for number in range(CREDENTIALS):
        credential = Credential(f"sync-{number:04d}", "DATEV", roles=("reader",), attributes=("salary",))
        resources[f"credentials/{credential.name}"] = live(
            f"credentials/{credential.name}", credential.attributes_dict()
        )
    return resources


@pytest.fixture(scope="module")
def org():
    return large_org()


@pytest.fixture(scope="module")
def one_file(org):
    """The org exported as one document (as `keyform export` prints it)."""
    return export_yaml(org, "keyform")


def test_a_large_org_exported_to_a_folder_reads_back_to_zero_changes(org, one_file, tmp_path):
    assert len(one_file.encode()) > DEFAULT_MAX_BYTES  # as one file it would be refused
    files = export_files(org, "keyform")
    assert list(files) == [
        "keyform.yaml",
        "roles.yaml",
        "users-1.yaml",
        "users-2.yaml",
        "users-3.yaml",
        "users-4.yaml",
        "users-5.yaml",
        "credentials.yaml",
    ]
    assert all(len(text.encode()) <= DEFAULT_MAX_BYTES for text in files.values())
    write_files(tmp_path, files)
    state = load_desired_state(tmp_path / "keyform.yaml", environ=ENV)
    assert (len(state.of("users")), len(state.of("credentials"))) == (USERS, CREDENTIALS)
    plan = make_plan(state, FakeProvider(org), now=NOW).plan
    assert plan.empty


def test_one_exported_file_over_the_limit_is_refused_saying_how_to_raise_it(one_file, tmp_path):
    (tmp_path / "keyform.yaml").write_text(one_file)
    with pytest.raises(ConfigError, match=r"over the 5MiB limit .* KEYFORM_MAX_FILE_SIZE=20MiB"):
        load_desired_state(tmp_path / "keyform.yaml", environ=ENV)


def test_writing_refuses_to_overwrite_any_existing_file_before_writing_any(tmp_path):
    (tmp_path / "users.yaml").write_text("# mine\n")
    files = {"keyform.yaml": "version: 1\n", "users.yaml": "users: {}\n"}
    with pytest.raises(KeyformError) as caught:
        write_files(tmp_path, files)
    assert user_message(caught.value) == (
        f"export would overwrite {tmp_path / 'users.yaml'}: pass --force to replace it, or choose another --out folder"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["users.yaml"]
    assert (tmp_path / "users.yaml").read_text() == "# mine\n"
    write_files(tmp_path, files, force=True)
    assert (tmp_path / "users.yaml").read_text() == "users: {}\n"
