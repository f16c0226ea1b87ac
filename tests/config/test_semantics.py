import pytest

from keyform.providers.registry import available_providers


def test_unknown_role_references_are_errors_with_a_suggestion(project):
    project.write_root(
        """\
        roles:
          hr-reader: {}
        users:
          a@acme.example: {first_name: A, last_name: B, roles: [hr-reader, hr-reder]}
        credentials:
          sync: {roles: [payroll]}
        """
    )
    assert project.errors() == [
        "keyform.yaml:9:68: users.a@acme.example: unknown role 'hr-reder' (did you mean 'hr-reader'?)",
        "keyform.yaml:11:18: credentials.sync: unknown role 'payroll'",
    ]


def test_unknown_role_when_no_roles_are_declared_says_so(project):
    project.write_root("credentials:\n  sync: {roles: [payroll]}\n")
    assert project.errors() == [
        "keyform.yaml:7:18: credentials.sync: unknown role 'payroll' (no roles are declared under roles:)"
    ]


def test_modules_and_attributes_are_checked_against_the_provider_catalog(project):
    project.write_root(
        """\
        roles:
          r:
            permissions:
              employes: [read]
              payroll: [read]
            attributes: [first_name, salery, shoe_size]
        credentials:
          c:
            permissions: {custom_reports: [read, write]}
        """
    )
    assert project.errors() == [
        "keyform.yaml:9:7: roles.r: unknown module 'employes' (did you mean 'employees'?)",
        "keyform.yaml:10:7: roles.r: unknown module 'payroll' (modules: employees, attendances, absences, documents,"
        " custom_reports)",
        "keyform.yaml:11:30: roles.r: unknown attribute 'salery' (did you mean 'salary'?)",
        "keyform.yaml:11:38: roles.r: unknown attribute 'shoe_size' (attributes: first_name, last_name, email,"
        " department, position, office, supervisor, hire_date, employment_type, weekly_hours, birthday, salary,"
        " iban, social_security_number)",
        "keyform.yaml:14:42: credentials.c.permissions.custom_reports: module 'custom_reports' is read only:"
        " remove 'write'",
    ]


def test_rotation_overlap_must_be_shorter_than_rotate_after(project):
    project.write_root(
        """\
        credentials:
          a: {rotate_after: 1d, rotation_overlap: 24h}
          b: {rotate_after: 1d, rotation_overlap: 23h}
          c: {rotation_overlap: 1h}
        """
    )
    assert project.errors() == [
        "keyform.yaml:7:43: credentials.a.rotation_overlap must be shorter than rotate_after (24h is not shorter than"
        " 1d)"
    ]


def test_durations_must_be_positive_and_sane(project):
    project.write_root(
        """\
        users:
          a@acme.example: {first_name: A, last_name: B, api_key: {rotate_after: 0d}}
        credentials:
          c: {rotate_after: 99999w}
        """
    )
    assert project.errors() == [
        "keyform.yaml:7:73: users.a@acme.example.api_key.rotate_after: '0d' must be longer than zero",
        "keyform.yaml:9:21: credentials.c.rotate_after: '99999w' is too long (at most 100 years)",
    ]


def test_protect_entries_must_name_declared_resources(project):
    project.write_root(
        """\
        safety:
          protect: [users/Owner@Acme.example, users/ghost@acme.example, roles/admin, organization]
        users:
          owner@acme.example: {first_name: O, last_name: W}
        """
    )
    assert project.errors() == [
        "keyform.yaml:7:39: safety.protect names users/ghost@acme.example which is not declared",
        "keyform.yaml:7:65: safety.protect names roles/admin which is not declared",
        "keyform.yaml:7:78: safety.protect names organization which is not declared",
    ]


def test_the_provider_type_must_be_a_registered_entry_point(project):
    project.write("keyform.yaml", "version: 1\nprovider:\n  type: keyfrom\n  url: https://keys.example.com\n")
    assert available_providers() == ["keyform", "keystone"]
    assert project.errors() == [
        "keyform.yaml:3:9: unknown provider type 'keyfrom' (did you mean 'keyform'?) (known: keyform, keystone;"
        " providers register under the keyform.providers entry point group)"
    ]


def test_unknown_provider_types_skip_catalog_checks(project):
    project.write(
        "keyform.yaml", "version: 1\nprovider: {type: other}\nroles:\n  r: {permissions: {payroll: [read]}}\n"
    )
    errors = project.errors()
    assert len(errors) == 1
    assert errors[0].startswith("keyform.yaml:2:18: unknown provider type 'other'")


def test_cognitive_access_is_left_to_the_server(project):
    project.write_root("users:\n  a@acme.example: {first_name: A, last_name: B, cognitive_access: true}\n")
    assert project.load().of("users")["a@acme.example"]["cognitive_access"] is True


@pytest.mark.parametrize("resolve_env", [True, False])
def test_schema_and_semantic_problems_are_reported_together(project, resolve_env):
    project.write_root(
        """\
        roles:
          r: {permisions: {}}
        users:
          a@acme.example: {first_name: A, last_name: B, roles: [x]}
        """
    )
    assert project.errors(resolve_env=resolve_env) == [
        "keyform.yaml:7:7: unknown key 'permisions' in roles.r (did you mean 'permissions'?)",
        "keyform.yaml:9:57: users.a@acme.example: unknown role 'x'",
    ]
