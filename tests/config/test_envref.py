import pytest

from keyform.config.envref import is_secret_key, reference_errors
from tests.config.helpers import ENV

LITERAL = "must be an ${env:NAME} reference, not a literal secret (put the value in an environment variable)"


def provider(project, url="${env:KEYFORM_URL}", token="${env:KEYFORM_TOKEN}", extra=""):
    return project.write(
        "keyform.yaml",
        f"version: 1\nprovider:\n  type: keyform\n  url: {url}\n  token: {token}\n{extra}",
    )


def test_references_resolve_from_the_given_environment(project):
    provider(project, url="https://${env:HOST}:${env:PORT}/api")
    state = project.load(environ={**ENV, "HOST": "keys.acme.example", "PORT": "8443"})
    assert state.provider.options == {"url": "https://keys.acme.example:8443/api", "token": "test-token"}


def test_the_process_environment_is_the_default(project, monkeypatch):
    provider(project)
    monkeypatch.setenv("KEYFORM_URL", "http://from-env")
    monkeypatch.setenv("KEYFORM_TOKEN", "tok")
    state = project.load(environ=None)
    assert state.provider.options["url"] == "http://from-env"


def test_an_unset_variable_is_an_error_naming_it_and_its_place_never_an_empty_string(project):
    provider(project)
    assert project.errors(environ={"KEYFORM_URL": ""}) == [
        "keyform.yaml:4:8: environment variable KEYFORM_URL is empty (used by provider.url)",
        "keyform.yaml:5:10: environment variable KEYFORM_TOKEN is not set (used by provider.token)",
    ]


def test_without_resolving_references_are_checked_and_kept_as_written(project):
    provider(project)
    state = project.load(environ={}, resolve_env=False)
    assert state.provider.options == {"url": "${env:KEYFORM_URL}", "token": "${env:KEYFORM_TOKEN}"}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("${env:}", "provider.url: '${env:}' names no variable: use ${env:NAME}"),
        ("${HOME}", "provider.url: '${HOME}' is not a reference keyform understands: use ${env:NAME}"),
        (
            "${env:1X}",
            "provider.url: '${env:1X}' is not a valid variable name"
            " (letters, digits and '_', not starting with a digit)",
        ),
        ("http://${env:HOST", "provider.url: unclosed '${': write references as ${env:NAME}"),
    ],
)
def test_malformed_references_are_errors_even_when_not_resolving(project, url, message):
    provider(project, url=url)
    assert project.errors(resolve_env=False) == [f"keyform.yaml:4:8: {message}"]


@pytest.mark.parametrize("token", ["s3cr3t-literal", "'12345'", "12345", "'${env:A} ${env:B}'", "prefix-${env:A}"])
def test_a_literal_secret_under_provider_is_refused_without_echoing_it(project, token):
    provider(project, token=token)
    errors = project.errors(environ={**ENV, "A": "a", "B": "b"})
    assert errors == [f"keyform.yaml:5:10: provider.token {LITERAL}"]
    assert token.strip("'") not in errors[0]


def test_secret_named_keys_under_secrets_must_be_references_too(project):
    provider(project, extra="secrets:\n  type: vault\n  url: https://vault.acme.example\n  token: hvs.literal\n")
    assert project.errors() == [f"keyform.yaml:9:10: secrets.token {LITERAL}"]


def test_nested_options_with_secret_suffixes_must_be_references(project):
    project.write(
        "keyform.yaml",
        "version: 1\nprovider:\n  type: keyform\n  url: x\n  token: ${env:T}\n"
        "  nested:\n    client_password: hunter2\n",
    )
    errors = project.errors(environ={"T": "t"})
    assert f"keyform.yaml:7:22: provider.nested.client_password {LITERAL}" in errors
    assert not any("hunter2" in error for error in errors)


def test_references_outside_provider_and_secrets_are_refused(project):
    project.write_root(
        """\
        users:
          a@acme.example: {first_name: A, last_name: '${env:LAST}'}
        """
    )
    assert project.errors() == [
        "keyform.yaml:7:46: ${env:...} references are allowed only under provider: and secrets:"
    ]


@pytest.mark.parametrize("prefix", ["kfk", "kfs", "kft"])
def test_strings_that_look_like_keyform_secrets_are_refused_anywhere_without_echoing(project, prefix):
    secret = f"{prefix}_AbCdEfGhIjKlMnOpQrStUvWxYz012345"
    project.write_root("include: [more.yaml]\n")
    project.write("more.yaml", f"roles:\n  r:\n    description: 'key is {secret}'\n")
    errors = project.errors()
    assert errors == [
        f"more.yaml:3:18: this looks like a keyform secret ({prefix}_...): never write secrets in"
        " desired-state files (remove it, and rotate it if the file was shared)"
    ]
    assert secret not in errors[0]


def test_secret_looking_keys_are_refused_and_short_lookalikes_are_fine(project):
    project.write_root(
        """\
        roles:
          r:
            description: kfk_short is a key prefix
            permissions:
              kfs_AbCdEfGhIjKlMnOpQrStUvWxYz: [read]
        """
    )
    errors = project.errors()
    assert errors[0].startswith("keyform.yaml:10:7: this looks like a keyform secret (kfs_...)")
    assert len(errors) == 1  # the unknown module at the same place is not reported twice


def test_is_secret_key():
    assert all(map(is_secret_key, ["token", "password", "secret", "client_secret", "api_key", "vault_token"]))
    assert not any(map(is_secret_key, ["url", "tokens", "token_file", "path", 3]))


def test_reference_errors_accepts_several_good_references():
    assert reference_errors("${env:A}-${env:B_2}") == []
    assert reference_errors("no references") == []


def test_a_secret_spelled_with_yaml_escapes_is_still_refused(project):
    # "\x6b" is "k": the file's text never shows the prefix, the loaded string does.
    project.write_root('roles:\n  r:\n    description: "\\x6bfk_AbCdEfGhIjKlMnOpQrStUvWxYz012345"\n')
    errors = project.errors()
    assert len(errors) == 1
    assert errors[0].startswith("keyform.yaml:8:18: this looks like a keyform secret (kfk_...)")


def test_prefixes_and_references_in_comments_are_not_findings(project):
    project.write_root(
        """\
        # rotate kfk_AbCdEfGhIjKlMnOpQrStUvWxYz012345 first; the token comes from ${env:KEYFORM_TOKEN}
        roles:
          r: {description: plain}
        """
    )
    assert project.load().of("roles")["r"]["description"] == "plain"


def test_a_reference_outside_provider_is_found_beside_allowed_ones_in_a_flow_mapping(project):
    project.write_root("roles: {r: {description: '${env:LAST}'}}\n")
    assert project.errors() == [
        "keyform.yaml:6:26: ${env:...} references are allowed only under provider: and secrets:"
    ]
