from datetime import timedelta

import pytest

from keyform.config.durations import parse_duration
from keyform.model import format_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("45s", timedelta(seconds=45)),
        ("30m", timedelta(minutes=30)),
        ("24h", timedelta(hours=24)),
        ("90d", timedelta(days=90)),
        ("2w", timedelta(weeks=2)),
        ("007d", timedelta(days=7)),
    ],
)
def test_durations_parse_and_round_trip(text, expected):
    assert parse_duration(text) == expected
    assert parse_duration(format_duration(expected)) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("90", "'90' is not a duration: use a whole number and a unit (s, m, h, d or w), e.g. 90d"),
        ("1.5d", "'1.5d' is not a duration"),
        ("d", "'d' is not a duration"),
        ("90D", "'90D' is not a duration"),
        ("0s", "'0s' must be longer than zero"),
        ("5300w", "'5300w' is too long (at most 100 years)"),
        ("9" * 30 + "w", "is too long (at most 100 years)"),
        ("0" * 5000 + "1d", None),
    ],
)
def test_bad_durations_raise_value_error_with_a_message(text, message):
    if message is None:
        assert parse_duration(text) == timedelta(days=1)
        return
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert message in str(caught.value)
