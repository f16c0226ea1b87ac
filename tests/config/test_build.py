from datetime import timedelta
from pathlib import Path

from keyform.errors import Location
from keyform.model import PluginConfig, Safety, SecretPolicy
from keyform.providers.keyform.model import ApiKey, Credential, Organization, Role, User


def test_the_typed_desired_state_is_built_from_the_files(project):
    project.write_root(
        """\
          timeout: 2.5
        secrets:
          type: vault
          url: https://vault.acme.example
        safety:
          max_delete_fraction: 0
          unmanaged: delete
          protect: [users/Data.Manager@Acme.example, organization]
        organization:
          api_access: false
        roles:
          hr-reader:
            description: Read employee master data
            permissions:
              employees: [write, read]
              absences: []
            attributes: [first_name, email]
        users:
          Data.Manager@Acme.example:
            first_name: Data
            last_name: Manager
            role: account_admin
            roles: [hr-reader]
            job_title: Integration
            default_folder: '\\Acme'
            api_key: {enabled: false, rotate_after: 90d}
          plain@acme.example: {first_name: P, last_name: Q, api_key: {}}
          untouched@acme.example: {first_name: U, last_name: V}
        credentials:
          payroll-sync:
            integration: DATEV
            enabled: false
            roles: [hr-reader]
            permissions: {attendances: [read]}
            attributes: [salary]
            rotate_after: 180d
            rotation_overlap: 24h
          bare: {}
        """
    )
    state = project.load()
    assert state.provider == PluginConfig(
        "keyform",
        {"url": "http://127.0.0.1:9", "token": "test-token", "timeout": 2.5},
        Location("keyform.yaml", 2, 1),
    )
    assert state.secrets == PluginConfig(
        "vault", {"mount": "secret", "url": "https://vault.acme.example"}, Location("keyform.yaml", 7, 1)
    )
    assert state.safety == Safety(0.0, "delete", ("users/data.manager@acme.example", "organization"))
    assert state.of("organization") == {"organization": Organization(api_access=False).attributes_dict()}
    assert state.of("roles") == {
        "hr-reader": Role(
            "hr-reader",
            "Read employee master data",
            {"employees": ("read", "write"), "absences": ()},
            ("first_name", "email"),
        ).attributes_dict()
    }
    users = state.of("users")
    assert (
        users["data.manager@acme.example"]
        == User(
            email="Data.Manager@Acme.example",
            first_name="Data",
            last_name="Manager",
            role="account_admin",
            roles=("hr-reader",),
            job_title="Integration",
            default_folder="\\Acme",
            api_key=ApiKey(enabled=False, rotate_after=timedelta(days=90)),
        ).attributes_dict()
    )
    assert users["plain@acme.example"]["api_key_enabled"] is True
    assert users["untouched@acme.example"] == User("untouched@acme.example", "U", "V").attributes_dict()
    assert state.of("credentials") == {
        "payroll-sync": Credential(
            name="payroll-sync",
            integration="DATEV",
            enabled=False,
            roles=("hr-reader",),
            permissions={"attendances": ("read",)},
            attributes=("salary",),
            rotate_after=timedelta(days=180),
            rotation_overlap=timedelta(hours=24),
        ).attributes_dict(),
        "bare": Credential("bare").attributes_dict(),
    }
    # the secrets keyform manages: a disabled API key is left alone; every credential's secret is managed
    assert state.secret_policies == {
        "users/plain@acme.example": SecretPolicy(),
        "credentials/payroll-sync": SecretPolicy(
            rotate_after=timedelta(days=180), rotation_overlap=timedelta(hours=24)
        ),
        "credentials/bare": SecretPolicy(),
    }
    assert state.locations == {
        "organization": Location("keyform.yaml", 14, 1),
        "roles/hr-reader": Location("keyform.yaml", 17, 3),
        "users/data.manager@acme.example": Location("keyform.yaml", 24, 3),
        "users/plain@acme.example": Location("keyform.yaml", 32, 3),
        "users/untouched@acme.example": Location("keyform.yaml", 33, 3),
        "credentials/payroll-sync": Location("keyform.yaml", 35, 3),
        "credentials/bare": Location("keyform.yaml", 43, 3),
    }
    assert state.root == str(project.root.resolve() / "keyform.yaml")
    assert Path(state.root).is_absolute()


def test_defaults_when_sections_are_absent(project):
    project.write_root()
    state = project.load()
    assert state.secrets == PluginConfig("file", {"path": ".keyform/secrets.json"}, None)
    assert state.safety == Safety()
    assert state.of("organization") == {}
    assert (state.of("roles"), state.of("users"), state.of("credentials"), state.locations) == ({}, {}, {}, {})
    assert list(state.resources()) == []
