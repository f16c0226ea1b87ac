"""One file may hold 5 MiB unless raised: max_file_size for included files, KEYFORM_MAX_FILE_SIZE for all."""

from tests.config.helpers import ENV

BIG = 5 * 1024 * 1024 + 1


def roles_file(project, name, size):
    """An included file of at least `size` bytes holding one role (the rest is a comment)."""
    body = "roles:\n  alpha: {description: A}\n"
    project.write(name, body + "#" * (size - len(body)) + "\n")


def test_an_included_file_over_the_limit_names_the_limit_and_how_to_raise_it(project):
    project.write_root("include: [big.yaml]\n")
    roles_file(project, "big.yaml", BIG)
    assert project.errors() == [
        "big.yaml: file is 5,242,882 bytes, over the 5MiB limit for one desired-state file: split it into files it"
        " includes, or raise the limit with max_file_size: 20MiB in the root file (or KEYFORM_MAX_FILE_SIZE=20MiB)"
    ]


def test_max_file_size_in_the_root_file_raises_the_limit_for_included_files(project):
    project.write_root("max_file_size: 6MiB\ninclude: [big.yaml]\n")
    roles_file(project, "big.yaml", BIG)
    assert list(project.load().of("roles")) == ["alpha"]


def test_the_root_file_over_the_limit_says_only_the_environment_can_raise_it(project):
    project.write_root("max_file_size: 20MiB\nroles:\n  alpha: {description: A}\n" + "#" * BIG + "\n")
    assert project.errors() == [
        "keyform.yaml: file is 5,243,029 bytes, over the 5MiB limit for one desired-state file: split it into files"
        " it includes, or raise the limit (for every file) with the environment variable KEYFORM_MAX_FILE_SIZE,"
        " e.g. KEYFORM_MAX_FILE_SIZE=20MiB"
    ]
    state = project.load(environ={**ENV, "KEYFORM_MAX_FILE_SIZE": "6MiB"})
    assert list(state.of("roles")) == ["alpha"]


def test_a_bad_size_is_refused_where_it_is_written(project):
    project.write_root("max_file_size: 20MB\n")
    assert project.errors() == [
        "keyform.yaml:6:16: max_file_size: '20MB' is not a size: use a whole number and KiB, MiB or GiB, e.g. 20MiB"
    ]
    project.write_root("max_file_size: 2000GiB\n")
    assert project.errors() == ["keyform.yaml:6:16: max_file_size: '2000GiB' must be more than 0 and at most 1GiB"]
    project.write_root("")
    assert project.errors(environ={**ENV, "KEYFORM_MAX_FILE_SIZE": "lots"}) == [
        "KEYFORM_MAX_FILE_SIZE: 'lots' is not a size: use a whole number and KiB, MiB or GiB, e.g. 20MiB"
    ]
