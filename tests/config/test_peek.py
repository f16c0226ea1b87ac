from keyform.config.peek import peek_provider

ROOT = """version: 1
roles:
  r: {description: first}
provider:
  type: keyform
  url: ${env:URL}
  token: ${env:TOKEN}
  timeout: 5
users: {}
"""


def test_reads_the_provider_section_alone_with_references_resolved(tmp_path):
    root = tmp_path / "keyform.yaml"
    root.write_text(ROOT)
    assert peek_provider(root, {"URL": "http://h", "TOKEN": "t"}) == {
        "type": "keyform",
        "url": "http://h",
        "token": "t",
        "timeout": 5,
    }


def test_anything_off_gives_none_so_the_full_load_can_report_it(tmp_path):
    root = tmp_path / "keyform.yaml"
    root.write_text(ROOT)
    assert peek_provider(root, {"URL": "http://h"}) is None  # TOKEN unset
    root.write_text(ROOT.replace("  token: ${env:TOKEN}", "  token: literal-secret"))
    assert peek_provider(root, {"URL": "http://h", "TOKEN": "t"}) is None
    root.write_text("provider: [unclosed\n")
    assert peek_provider(root, {}) is None
    assert peek_provider(tmp_path / "missing.yaml", {}) is None
