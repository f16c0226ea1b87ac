import json
import logging

from keyform.logs import configure_logging
from keyform.secrets.redaction import MASK, Redactor


def test_urllib3_retry_warnings_show_only_with_verbose(capsys):
    configure_logging(Redactor())
    logging.getLogger("urllib3.connectionpool").warning("Retrying (Retry(total=3)) after connection broken")
    assert capsys.readouterr().err == ""


def test_urllib3_warnings_are_redacted_and_can_be_json(capsys):
    redactor = Redactor()
    redactor.add("kfs_hidden-value-123")
    configure_logging(redactor, log_format="json", verbose=True)
    logging.getLogger("urllib3.connectionpool").warning("Retrying after reset: %s", "/v1/x?s=kfs_hidden-value-123")
    record = json.loads(capsys.readouterr().err.strip())
    assert record["level"] == "warning" and record["logger"] == "urllib3.connectionpool"
    assert record["message"] == f"Retrying after reset: /v1/x?s={MASK}"


def test_text_format_and_verbosity(capsys):
    configure_logging(Redactor(), log_format="text")
    logging.getLogger("keyform.apply").info("hidden at warning level")
    logging.getLogger("keyform.apply").warning("shown")
    assert capsys.readouterr().err == "keyform: WARNING: shown\n"
    configure_logging(Redactor(), verbose=True)
    logging.getLogger("keyform.apply").info("now shown")
    assert capsys.readouterr().err == "keyform: INFO: now shown\n"
