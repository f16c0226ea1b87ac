from keyform.errors import Location
from tests.config.helpers import ENV, Project

ROLE = "roles:\n  {name}:\n    description: {name}\n"


def test_included_files_add_resources_located_in_their_own_file(project):
    project.write_root("include: [access/*.yaml]\n")
    project.write("access/b.yaml", ROLE.format(name="beta"))
    project.write("access/a.yaml", ROLE.format(name="alpha") + "include: [deeper/*.yaml]\n")
    project.write("access/deeper/c.yaml", "users:\n  c@acme.example: {first_name: C, last_name: D}\n")
    state = project.load()
    assert sorted(state.of("roles")) == ["alpha", "beta"]
    assert list(state.of("users")) == ["c@acme.example"]
    assert state.locations["roles/beta"] == Location("access/b.yaml", 2, 3)
    assert state.locations["users/c@acme.example"] == Location("access/deeper/c.yaml", 2, 3)


def test_a_glob_that_matches_nothing_is_an_error_at_the_entry(project):
    project.write_root("include:\n  - access/*.yaml\n  - teams/**/*.yaml\n")
    project.write("access/a.yaml", ROLE.format(name="alpha"))
    assert project.errors() == [
        "keyform.yaml:8:5: include 'teams/**/*.yaml' matches no files (patterns are relative to the folder of"
        " keyform.yaml)"
    ]


def test_an_include_cycle_is_an_error_naming_the_chain(project):
    project.write_root("include: [a.yaml]\n")
    project.write("a.yaml", "include: [b.yaml]\n")
    project.write("b.yaml", "include: [a.yaml]\n")
    assert project.errors() == ["b.yaml:1:11: include cycle: a.yaml -> b.yaml -> a.yaml"]


def test_a_glob_matching_the_root_itself_is_a_cycle(project):
    project.write_root("include: ['*.yaml']\n")
    project.write("roles.yaml", ROLE.format(name="alpha"))
    assert project.errors() == ["keyform.yaml:6:11: include cycle: keyform.yaml -> keyform.yaml"]


def test_a_file_matched_by_two_patterns_is_loaded_once(project):
    project.write_root("include: [access/*.yaml, access/a.yaml]\n")
    project.write("access/a.yaml", ROLE.format(name="alpha"))
    assert list(project.load().of("roles")) == ["alpha"]


def test_included_files_may_hold_only_resource_sections(project):
    project.write_root("include: [a.yaml]\n")
    project.write("a.yaml", "version: 1\nrolse: {}\n")
    assert project.errors() == [
        "a.yaml:1:1: unknown key 'version' (an included file may hold only roles, users, credentials,"
        " organization, moved or include)",
        "a.yaml:2:1: unknown key 'rolse' (did you mean 'roles'?) (an included file may hold only roles, users,"
        " credentials, organization, moved or include)",
    ]


def test_the_same_resource_in_two_files_is_an_error_naming_both_places(project):
    project.write_root("include: [a.yaml]\n" + ROLE.format(name="alpha"))
    project.write("a.yaml", "\n" + ROLE.format(name="alpha"))
    assert project.errors() == ["a.yaml:3:3: roles/alpha is already defined at keyform.yaml:8:3"]


def test_organization_in_two_files_is_an_error(project):
    project.write_root("include: [a.yaml]\norganization: {api_access: true}\n")
    project.write("a.yaml", "organization: {api_access: false}\n")
    assert project.errors() == ["a.yaml:1:1: organization is already defined at keyform.yaml:7:1"]


def test_emails_differing_only_in_case_are_the_same_user(project):
    project.write_root(
        """\
        include: [a.yaml]
        users:
          Ann.Lee@Acme.example: {first_name: Ann, last_name: Lee}
          ann.lee@acme.example: {first_name: Ann, last_name: Lee}
        """
    )
    project.write("a.yaml", "users:\n  ANN.LEE@ACME.EXAMPLE: {first_name: Ann, last_name: Lee}\n")
    assert project.errors() == [
        "keyform.yaml:9:3: users/ann.lee@acme.example is already defined at keyform.yaml:8:3 (emails are compared"
        " case-insensitively)",
        "a.yaml:2:3: users/ann.lee@acme.example is already defined at keyform.yaml:8:3 (emails are compared"
        " case-insensitively)",
    ]


def test_a_broken_included_file_is_reported_without_false_unknown_role_errors(project):
    project.write_root(
        """\
        include: [roles.yaml]
        users:
          a@acme.example: {first_name: A, last_name: B, roles: [hr-reader]}
        """
    )
    project.write("roles.yaml", "roles:\n  hr-reader: [\n")
    errors = project.errors()
    assert len(errors) == 1
    assert errors[0].startswith("roles.yaml:3:1: malformed YAML:")


def test_included_paths_are_shown_absolute_outside_the_current_directory(project, tmp_path_factory, monkeypatch):
    project.write_root("include: [a.yaml]\n")
    project.write("a.yaml", "roles:\n  Bad: {}\n")
    monkeypatch.chdir(tmp_path_factory.mktemp("elsewhere"))
    assert project.errors() == [
        f"{project.root / 'a.yaml'}:2:3: roles: 'Bad' is not a valid name: use up to 63 lowercase letters, digits,"
        " '.', '_' or '-', starting with a letter or digit"
    ]


def test_an_include_reaching_outside_the_configuration_folder_is_refused_without_reading_it(tmp_path, monkeypatch):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "foreign.yaml").write_text("secret_key_of_another_project: 1\n")
    monkeypatch.chdir(tmp_path)
    project = Project(tmp_path / "repo")
    project.write_root("include: ['../outside/*.yaml']\n")
    errors = project.errors()
    base = (tmp_path / "repo").resolve()
    assert errors == [
        f"repo/keyform.yaml:6:11: include '../outside/*.yaml' reaches outside the configuration's folder {base}:"
        " keep included files under it (or, if you trust where it points, run with KEYFORM_ALLOW_INCLUDE_OUTSIDE=1)"
    ]
    assert "secret_key_of_another_project" not in "\n".join(errors)


def test_a_symlink_inside_the_folder_that_points_outside_is_refused(tmp_path, monkeypatch):
    (tmp_path / "elsewhere.yaml").write_text(ROLE.format(name="alpha"))
    monkeypatch.chdir(tmp_path)
    project = Project(tmp_path / "repo")
    project.write_root("include: [access/*.yaml]\n")
    (tmp_path / "repo" / "access").mkdir()
    (tmp_path / "repo" / "access" / "link.yaml").symlink_to(tmp_path / "elsewhere.yaml")
    [error] = project.errors()
    assert error.startswith(
        "repo/keyform.yaml:6:11: include 'access/*.yaml' reaches outside the configuration's folder"
    )


def test_includes_outside_the_folder_load_when_the_runner_allows_it(tmp_path, monkeypatch):
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "roles.yaml").write_text(ROLE.format(name="alpha"))
    monkeypatch.chdir(tmp_path)
    project = Project(tmp_path / "repo")
    project.write_root("include: ['../shared/*.yaml']\n")
    state = project.load(environ={**ENV, "KEYFORM_ALLOW_INCLUDE_OUTSIDE": "1"})
    assert list(state.of("roles")) == ["alpha"]


def test_validate_of_an_include_of_system_files_prints_nothing_of_them(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from keyform.cli import main

    monkeypatch.chdir(tmp_path)
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    Project(tmp_path).write_root("include: ['../../../../../../../../etc/*']\n")
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 1
    assert result.stderr.startswith("keyform.yaml:6:11: include '../../../../../../../../etc/*' reaches outside")
    assert len(result.stderr.splitlines()) == 1
