import jsonschema
import pytest

from keyform.config import schema_document
from keyform.config.document import Document
from keyform.config.schema import validate_document
from keyform.errors import Location


def check(data, *, is_root=True):
    """Schema problems of `data` (positions all 1:1: only messages matter here)."""
    document = Document(path=None, display="f.yaml", data=data, is_root=is_root)
    return sorted(problem.message for problem in validate_document(document))


def root(**sections):
    return {"version": 1, "provider": {"type": "keyform", "url": "u", "token": "${env:T}"}, **sections}


def test_the_schema_is_a_valid_2020_12_schema_and_a_fresh_copy_each_time():
    schema = schema_document()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    schema["properties"].clear()
    assert schema_document()["properties"]


def test_every_property_has_a_description():
    missing = []

    def walk(node, path):
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                target = sub
                if "$ref" in sub and "description" not in sub:
                    target = schema["$defs"][sub["$ref"].rsplit("/", 1)[1]]
                if "description" not in target:
                    missing.append(f"{path}.{name}")
            for key, sub in node.items():
                if key != "if":  # conditions, not properties
                    walk(sub, f"{path}.{key}")
        elif isinstance(node, list):
            for index, sub in enumerate(node):
                walk(sub, f"{path}[{index}]")

    schema = schema_document()
    walk(schema, "")
    assert missing == []


def test_a_minimal_file_is_valid():
    assert check(root()) == sorted([])


def test_version_and_provider_are_required_and_version_must_be_1():
    assert check({}) == sorted(["missing required key 'version'", "missing required key 'provider'"])
    assert check(root(version=2)) == sorted(["version: must be 1"])
    assert check(root(version="1")) == sorted(["version: must be 1, not '1'"])


def test_unknown_keys_are_named_with_a_suggestion_when_one_is_close():
    data = root(rolse={}, roles={"r": {"permisions": {}, "zzz": 1}})
    assert check(data) == sorted(
        [
            "unknown key 'rolse' (did you mean 'roles'?)",
            "unknown key 'permisions' in roles.r (did you mean 'permissions'?)",
            "unknown key 'zzz' in roles.r",
        ]
    )


def test_wrong_types_say_what_was_expected_and_what_was_found():
    data = root(
        users={"a@acme.example": {"first_name": 12, "last_name": "B", "roles": "r", "archived": "no"}},
        organization={"api_access": None},
    )
    assert check(data) == sorted(
        [
            "organization.api_access: expected true or false, got nothing (null)",
            "users.a@acme.example.first_name: expected a string, got a number",
            "users.a@acme.example.roles: expected a list, got a string",
            "users.a@acme.example.archived: expected true or false, got a string",
        ]
    )


def test_users_need_names_and_a_known_org_role():
    data = root(users={"a@acme.example": {"role": "admin"}})
    assert check(data) == sorted(
        [
            "users.a@acme.example: missing required key 'first_name'",
            "users.a@acme.example: missing required key 'last_name'",
            "users.a@acme.example.role: must be account_owner, account_admin or standard, not 'admin'",
        ]
    )


def test_resource_names_user_emails_and_access_levels_are_checked():
    data = root(
        roles={"HR Reader": {"permissions": {"employees": ["reed", "read", "read"]}}},
        users={"not-an-email": {"first_name": "A", "last_name": "B"}},
        credentials={"-sync": {}},
    )
    assert check(data) == sorted(
        [
            "roles: 'HR Reader' is not a valid name: use up to 63 lowercase letters, digits, '.', '_' or '-',"
            " starting with a letter or digit",
            "roles.HR Reader.permissions.employees: lists the same item more than once",
            "roles.HR Reader.permissions.employees[0]: must be read or write, not 'reed' (did you mean 'read'?)",
            "users: 'not-an-email' is not an email address",
            "credentials: '-sync' is not a valid name: use up to 63 lowercase letters, digits, '.', '_' or '-',"
            " starting with a letter or digit",
        ]
    )


def test_durations_must_be_a_number_and_a_unit():
    data = root(credentials={"c": {"rotate_after": "90 days", "rotation_overlap": 24}})
    assert check(data) == sorted(
        [
            "credentials.c.rotate_after: '90 days' is not a duration: use a whole number and a unit (s, m, h, d or w),"
            " e.g. 90d",
            "credentials.c.rotation_overlap: expected a string, got a number",
        ]
    )


def test_keyform_provider_options_are_checked():
    data = root()
    data["provider"] = {"type": "keyform", "url": "", "timeout": 0, "concurrency": 65, "page_size": 0.5}
    assert check(data) == sorted(
        [
            "provider: missing required key 'token'",
            "provider.url: must not be empty",
            "provider.timeout: must be more than 0",
            "provider.concurrency: must be at most 64",
            "provider.page_size: expected a whole number, got a number",
            "provider.page_size: must be at least 1",
        ]
    )


def test_other_provider_types_take_free_form_options():
    data = root()
    data["provider"] = {"type": "personio", "client_id": "x", "anything": {"goes": [1]}}
    assert check(data) == sorted([])
    assert check(root(provider={"url": "u"})) == sorted(["provider: missing required key 'type'"])


@pytest.mark.parametrize(
    "sink",
    [
        {"type": "file", "path": "s.json"},
        {"type": "age", "path": "s.age", "recipients": ["age1abc"]},
        {"type": "vault", "url": "https://v", "token": "${env:VAULT_TOKEN}", "mount": "kv", "prefix": "keyform/"},
        {"type": "command", "command": ["pass", "insert", "-m", "keyform"]},
        {"type": "github-actions"},
    ],
)
def test_every_secrets_sink_is_described(sink):
    assert check(root(secrets=sink)) == sorted([])


def test_secrets_sinks_are_checked():
    assert check(root(secrets={"type": "fiel", "path": "x"})) == sorted(
        ["secrets.type: must be file, age, vault, command or github-actions, not 'fiel' (did you mean 'file'?)"]
    )
    assert check(root(secrets={"type": "age", "path": "x", "recipient": "age1"})) == sorted(
        [
            "secrets: missing required key 'recipients'",
            "unknown key 'recipient' in secrets (did you mean 'recipients'?)",
        ]
    )
    assert check(root(secrets={"type": "command", "command": "pass insert"})) == sorted(
        ["secrets.command: expected a list, got a string"]
    )
    assert check(root(secrets={"type": "vault", "url": "u", "token": "hvs.x"})) == sorted(
        ["secrets.token must be an ${env:NAME} reference"]
    )


def test_safety_settings_are_checked():
    data = root(safety={"max_delete_fraction": 1.5, "unmanaged": "delet", "protect": ["bob"]})
    assert check(data) == sorted(
        [
            "safety.max_delete_fraction: must be at most 1",
            "safety.unmanaged: must be ignore, report or delete, not 'delet' (did you mean 'delete'?)",
            "safety.protect[0]: 'bob' is not an address: use users/EMAIL, roles/NAME, credentials/NAME or organization",
        ]
    )


def test_included_files_use_the_included_file_schema():
    assert check({"roles": {"r": {}}, "include": ["x.yaml"]}, is_root=False) == sorted([])
    assert check({"roles": {"r": {}}}) == sorted(
        [
            "missing required key 'version'",
            "missing required key 'provider'",
        ]
    )


def test_problems_are_placed_at_the_key_or_value_they_are_about(project):
    project.write_root(
        """\
        roles:
          r:
            permisions: {}
            description: 5
        """
    )
    assert project.errors() == [
        "keyform.yaml:8:5: unknown key 'permisions' in roles.r (did you mean 'permissions'?)",
        "keyform.yaml:9:18: roles.r.description: expected a string, got a number",
    ]


def test_a_missing_required_key_is_reported_at_its_mapping(project):
    project.write("keyform.yaml", "version: 1\nprovider:\n  type: keyform\n  url: https://x.example\n")
    assert project.errors() == ["keyform.yaml:2:1: provider: missing required key 'token'"]
    project.write("keyform.yaml", "# comment\nroles: {}\n")
    assert project.errors() == [
        "keyform.yaml:2:1: missing required key 'version'",
        "keyform.yaml:2:1: missing required key 'provider'",
    ]
    assert Location("keyform.yaml", 2, 1)


def test_fast_and_full_validators_agree_on_valid_and_invalid_documents():
    """The fast path may only skip the full validator when the full validator would find nothing."""
    from keyform.config.schema import _fast_validators, _validators, schema_document

    good = {"version": 1, "provider": {"type": "keyform", "url": "${env:U}", "token": "${env:T}"}}
    bad = [
        {**good, "credentials": {"c": {"permisions": {}}}},
        {**good, "version": 2},
        {**good, "users": {"not-an-email": {"first_name": "a", "last_name": "b"}}},
        {**good, "roles": {"r": {"permissions": {"employees": ["delete"]}}}},
    ]
    (fast, _), (full, _) = _fast_validators(), _validators()
    assert fast.is_valid(good) and not list(full.iter_errors(good))
    for document in bad:
        assert not fast.is_valid(document)
        assert list(full.iter_errors(document))
    assert schema_document()["$schema"].endswith("2020-12/schema")
