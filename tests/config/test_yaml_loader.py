import re

import pytest

from keyform.config.yaml_loader import MAX_BYTES, load_file
from keyform.errors import Location


def load(project, text, name="f.yaml"):
    path = project.write(name, text)
    return load_file(path, name, what="version: 1")


def messages(problems):
    return [str(problem) for problem in problems]


def test_positions_of_keys_and_values_are_recorded_one_based(project):
    document, problems = load(project, "version: 1\nroles:\n  hr-reader:\n    attributes: [a, b]\n")
    assert problems == []
    assert document.data == {"version": 1, "roles": {"hr-reader": {"attributes": ["a", "b"]}}}
    assert document.keys[("roles", "hr-reader")] == Location("f.yaml", 3, 3)
    assert document.values[("roles", "hr-reader", "attributes", 1)] == Location("f.yaml", 4, 21)
    assert document.key_location(("roles", "hr-reader", "attributes", 1)) == Location("f.yaml", 4, 21)


def test_duplicate_keys_are_refused_naming_both_lines_and_the_first_value_is_kept(project):
    document, problems = load(project, "a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    assert messages(problems) == [
        "f.yaml:4:3: duplicate key 'c' (first defined at line 3): remove one",
        "f.yaml:5:1: duplicate key 'a' (first defined at line 1): remove one",
    ]
    assert document.data == {"a": 1, "b": {"c": 1}}


def test_aliases_are_refused_so_an_alias_bomb_cannot_expand(project):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    document, problems = load(project, bomb)
    assert document is None
    assert messages(problems) == ["f.yaml:2:8: YAML aliases (*name) are not supported: write the value out in full"]


def test_nesting_deeper_than_64_levels_is_refused(project):
    document, problems = load(project, "a: " + "[" * 70 + "]" * 70 + "\n")
    assert document is None
    assert messages(problems) == ["f.yaml:1:67: nested deeper than 64 levels"]
    document, problems = load(project, "a: " + "[" * 60 + "]" * 60 + "\n")
    assert problems == []


def test_very_deep_flow_nesting_does_not_blow_the_stack(project):
    # Which layer refuses first depends on the libyaml inside the installed PyYAML: its scanner
    # reads a run of '[' ahead of the events (and since PyYAML 6.0.4 stops at its own depth limit),
    # so the guarantee is tested, not one library version's wording: refused cleanly, one problem
    # on the right line with a column, saying it is nesting, and no RecursionError.
    document, problems = load(project, "a: " + "[" * 50000 + "\n")
    assert document is None
    assert len(problems) == 1
    (problem,) = messages(problems)
    assert re.fullmatch(r"f\.yaml:1:\d+: .*nest.*", problem), problem


def test_a_second_document_is_refused(project):
    document, problems = load(project, "a: 1\n---\nb: 2\n")
    assert document is None
    assert messages(problems) == [
        "f.yaml:2:1: a second YAML document ('---'): put everything in one document, or use include"
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "a: [1\nb: 2\n",
            "f.yaml:2:2: malformed YAML: did not find expected ',' or ']' (while parsing a flow sequence)",
        ),
        ("a: b: c\n", "f.yaml:1:5: malformed YAML: mapping values are not allowed in this context"),
        ("a: 'open\n", "f.yaml:2:1: malformed YAML: found unexpected end of stream (while scanning a quoted scalar)"),
        ("a: b\x01\n", "f.yaml:1:5: malformed YAML: character U+0001 is not allowed in a YAML file (remove it)"),
    ],
)
def test_malformed_yaml_reports_the_problem_position(project, text, expected):
    document, problems = load(project, text)
    assert document is None
    assert messages(problems) == [expected]


def test_bytes_that_are_not_utf8_are_reported_at_the_bad_byte(project):
    path = project.root / "f.yaml"
    path.write_bytes(b"a: 1\nb: caf\xe9\n")
    document, problems = load_file(path, "f.yaml", what="version: 1")
    assert document is None
    assert messages(problems) == ["f.yaml:2:7: not valid UTF-8 (byte 0xe9): save the file as UTF-8"]


def test_a_utf8_byte_order_mark_is_accepted(project):
    path = project.root / "f.yaml"
    path.write_bytes(b"\xef\xbb\xbfa: 1\n")
    document, problems = load_file(path, "f.yaml", what="version: 1")
    assert (document.data, problems) == ({"a": 1}, [])


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n", "~\n"])
def test_empty_files_are_refused(project, text):
    document, problems = load(project, text)
    assert document is None
    assert messages(problems) == ["f.yaml:1:1: empty file: expected a mapping with version: 1"]


@pytest.mark.parametrize(("text", "kind"), [("- a\n- b\n", "a list"), ("just text\n", "a single value")])
def test_a_root_that_is_not_a_mapping_is_refused(project, text, kind):
    document, problems = load(project, text)
    assert document is None
    assert messages(problems) == [f"f.yaml:1:1: expected a mapping with version: 1 at the top of the file, got {kind}"]


def test_keys_that_are_not_strings_are_refused(project):
    document, problems = load(project, "1: a\non: b\nnull: c\n? [x]\n: d\nok: e\n")
    assert messages(problems) == [
        "f.yaml:1:1: keys must be strings, but '1' is read as a number: quote it",
        "f.yaml:2:1: keys must be strings, but 'on' is read as a boolean: quote it",
        "f.yaml:3:1: keys must be strings, but 'null' is read as null: quote it",
        "f.yaml:4:3: keys must be strings: use a plain text key",
    ]
    assert document.data == {"ok": "e"}


def test_tags_other_than_plain_scalars_are_refused(project):
    text = "a: !!binary aGk=\nb: !custom x\nc: !!python/object:os.system {}\nd: !!str 12\n"
    document, problems = load(project, text)
    assert messages(problems) == [
        "f.yaml:1:4: unsupported YAML tag '!!binary': remove it",
        "f.yaml:2:4: unsupported YAML tag '!custom': remove it",
        "f.yaml:3:4: unsupported YAML tag '!!python/object:os.system': remove it",
    ]
    assert document.data["d"] == "12"


def test_merge_keys_are_refused(project):
    document, problems = load(project, "a:\n  <<: {b: 1}\n  c: 2\n")
    assert messages(problems) == ["f.yaml:2:3: merge keys (<<) are not supported: write the keys out"]
    assert document.data == {"a": {"c": 2}}


def test_dates_stay_text_and_odd_numbers_are_refused(project):
    document, problems = load(project, "a: 2024-01-31\nb: .nan\nc: -.inf\nd: 99999999999999999999999\n")
    assert document.data["a"] == "2024-01-31"
    assert messages(problems) == [
        "f.yaml:2:4: infinite or NaN numbers are not allowed",
        "f.yaml:3:4: infinite or NaN numbers are not allowed",
        "f.yaml:4:4: number is too large",
    ]


def test_files_larger_than_5_mib_are_refused_before_parsing(project):
    path = project.root / "f.yaml"
    path.write_bytes(b"#" * (MAX_BYTES + 1))
    document, problems = load_file(path, "f.yaml", what="version: 1")
    assert document is None
    assert messages(problems) == [
        "f.yaml: file is 5,242,881 bytes, over the 5MiB limit for one desired-state file: split it into files it"
        " includes"
    ]


def test_missing_files_and_directories_are_reported_not_raised(project):
    assert messages(load_file(project.root / "nope.yaml", "nope.yaml", what="x")[1]) == [
        "nope.yaml: cannot read: no such file"
    ]
    (project.root / "dir.yaml").mkdir()
    assert messages(load_file(project.root / "dir.yaml", "dir.yaml", what="x")[1]) == [
        "dir.yaml: cannot read: it is a directory"
    ]


def test_messages_stay_on_one_line_whatever_the_keys_hold(project):
    _, problems = load(project, '"a\\nb": 1\n"a\\nb": 2\n')
    assert messages(problems) == ["f.yaml:2:1: duplicate key 'a\\nb' (first defined at line 1): remove one"]


def test_a_tagged_root_mapping_is_refused(project):
    document, problems = load(project, "!a\nx: 1\n")
    assert document is None
    assert messages(problems) == ["f.yaml:1:1: unsupported YAML tag '!a': remove it"]


def test_repeated_scalars_keep_their_values_and_every_refused_one_is_reported(project):
    huge = "99999999999999999999999"
    text = f"a: [yes, 1, 0x1f, 1.5, ~, yes, 1, 0x1f, 1.5, ~]\nb: .nan\nc: .nan\nd: {huge}\ne: {huge}\n"
    document, problems = load(project, text)
    assert document.data["a"] == [True, 1, 31, 1.5, None] * 2
    assert messages(problems) == [
        "f.yaml:2:4: infinite or NaN numbers are not allowed",
        "f.yaml:3:4: infinite or NaN numbers are not allowed",
        "f.yaml:4:4: number is too large",
        "f.yaml:5:4: number is too large",
    ]
