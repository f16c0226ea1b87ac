"""Every boto3/botocore failure becomes one `ProviderError` line: what failed, where, and the fix.

Messages never carry a secret: AWS's own message is cut to its first line and every secret the
client knows (its own secret key, keys it created) is replaced by `<hidden>` before it is shown.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from keyform.errors import ProviderError

CREDENTIALS_FIX = "set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
HINTS = {
    "InvalidClientTokenId": "AWS does not accept this access key (inactive, deleted, or of another account); "
    + CREDENTIALS_FIX,
    "UnrecognizedClientException": "AWS does not know this access key; " + CREDENTIALS_FIX,
    "SignatureDoesNotMatch": "the secret access key does not belong to the access key id; check AWS_SECRET_ACCESS_KEY",
    "ExpiredToken": "the session token expired; renew the credentials (aws sso login, or a new session token)",
    "AccessDenied": "grant keyform's identity this action, or run keyform with an identity that has it",
    "AccessDeniedException": "grant keyform's identity this action, or run keyform with an identity that has it",
    "NoSuchEntity": "it is gone (changed outside keyform?); run `keyform plan` again",
    "EntityAlreadyExists": "it exists but keyform did not see it; run `keyform plan` again",
    "LimitExceeded": "AWS allows at most two access keys per user and five versions per policy; remove one first",
    "DeleteConflict": "it is still attached or has members; detach it first",
    "MalformedPolicyDocument": "fix the policy document",
    "InvalidInput": "fix the value in the desired state",
    "Throttling": "AWS kept throttling after every retry; try again later",
}


def redact(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<hidden>")
    return text


def describe(
    error: BaseException, what: str, *, endpoint: str | None = None, hints: Mapping[str, str] | None = None
) -> str:
    """The one-line message for a botocore/boto3 error while doing `what`."""
    if isinstance(error, NoCredentialsError):
        return f"{what}: no AWS credentials found; {CREDENTIALS_FIX}"
    if isinstance(error, PartialCredentialsError):
        missing = error.kwargs.get("cred_var", "a variable")
        return f"{what}: incomplete AWS credentials ({missing} missing); {CREDENTIALS_FIX}"
    if isinstance(error, ProfileNotFound):
        return f"{what}: AWS profile {error.kwargs.get('profile')!r} not found in ~/.aws/config; fix AWS_PROFILE"
    if isinstance(error, BotoConnectionError):
        place = endpoint or "the AWS endpoint"
        return f"{what}: cannot reach {place}; check AWS_ENDPOINT_URL and the network"
    if isinstance(error, ParamValidationError):
        detail = str(error).splitlines()[-1].strip()
        return f"{what}: invalid request ({detail}); fix the value in the desired state"
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        code = str(info.get("Code") or "Unknown")
        message = (str(info.get("Message") or "").splitlines() or [""])[0].strip().rstrip(".")
        operation = error.operation_name
        hint = (hints or {}).get(code) or HINTS.get(code, "see the AWS message")
        detail = f"{code}: {message}" if message else code
        return f"{what}: AWS refused {operation} ({detail}); {hint}"
    if isinstance(error, BotoCoreError):
        return f"{what}: {(str(error).splitlines() or [type(error).__name__])[0]}"
    return f"{what}: {type(error).__name__}"


@contextmanager
def translated(
    what: str,
    *,
    secrets: Iterable[str] = (),
    endpoint: str | None = None,
    hints: Mapping[str, str] | None = None,
) -> Iterator[None]:
    """Run AWS calls; turn any boto3/botocore error into a one-line ProviderError (secrets hidden).

    `hints` replace the default fix for some error codes where the context knows a better one."""
    try:
        yield
    except (BotoCoreError, ClientError) as error:
        raise ProviderError(redact(describe(error, what, endpoint=endpoint, hints=hints), secrets)) from None
