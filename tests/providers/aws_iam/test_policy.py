"""Policy documents compare equal however they were serialised."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from keyform.errors import ProviderError
from keyform.providers.aws_iam.policy import normalize_document, to_json

WRITTEN = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "Read",
            "Effect": "Allow",
            "Action": ["s3:ListBucket", "s3:GetObject", "s3:GetObject"],
            "Resource": "arn:aws:s3:::artifacts/*",
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": "platform"}},
        },
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"},
    ],
}
RESERIALISED = {  # other key order, single values where lists were written and vice versa
    "Statement": [
        {
            "Resource": ["arn:aws:s3:::artifacts/*"],
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": ["platform"]}},
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Effect": "Allow",
            "Sid": "Read",
        },
        {"Action": ["sts:AssumeRole"], "Effect": "Allow", "Principal": {"AWS": ["arn:aws:iam::123456789012:root"]}},
    ],
    "Version": "2012-10-17",
}


def test_equal_documents_compare_equal_however_serialised():
    canonical = normalize_document(WRITTEN)
    assert normalize_document(RESERIALISED) == canonical
    assert normalize_document(json.dumps(RESERIALISED, indent=2)) == canonical
    assert normalize_document(quote(json.dumps(RESERIALISED))) == canonical  # as AWS returns documents
    assert normalize_document(to_json(canonical)) == canonical


def test_a_single_statement_becomes_a_list_and_order_of_statements_is_kept():
    single = {"Version": "2012-10-17", "Statement": {"Effect": "Deny", "Action": "*", "Resource": "*"}}
    assert normalize_document(single)["Statement"] == [{"Action": ["*"], "Effect": "Deny", "Resource": ["*"]}]
    swapped = {**WRITTEN, "Statement": list(reversed(WRITTEN["Statement"]))}
    assert normalize_document(swapped) != normalize_document(WRITTEN)


def test_a_changed_action_is_a_difference():
    changed = json.loads(json.dumps(WRITTEN))
    changed["Statement"][0]["Action"].append("s3:PutObject")
    assert normalize_document(changed) != normalize_document(WRITTEN)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"Statement": [',
            "policies/p: the policy document is not valid JSON (Expecting value at line 1); fix the document",
        ),
        ("[1, 2]", "policies/p: a policy document must be a JSON object; fix the document"),
    ],
)
def test_a_broken_document_is_a_one_line_error(text, message):
    with pytest.raises(ProviderError) as caught:
        normalize_document(text, "policies/p")
    assert str(caught.value) == message
