import logging

from keyform.secrets.redaction import MASK, RedactingFilter, Redactor


def test_known_values_and_keyform_secret_shapes_are_masked():
    redactor = Redactor()
    redactor.add("hunter2-very-secret")
    text = redactor.redact("token hunter2-very-secret and kfs_" + "a" * 30 + " and kfc_client")
    assert text == f"token {MASK} and {MASK} and kfc_client"


def test_a_secret_shape_glued_to_a_word_is_masked_too():
    secret = "kft_" + "b" * 30
    assert Redactor().redact(f"Bearer{secret} x_{secret}") == f"Bearer{MASK} x_{MASK}"


def test_logging_filter_redacts_formatted_messages(caplog):
    redactor = Redactor()
    redactor.add("s3cr3t-value")
    logger = logging.getLogger("keyform.test")
    logger.addFilter(RedactingFilter(redactor))
    with caplog.at_level(logging.INFO, logger="keyform.test"):
        logger.info("got %s", "s3cr3t-value")
    assert caplog.messages == [f"got {MASK}"]
