"""Access keys: create (the secret is returned once, to the caller only), activate/deactivate, delete,
rotation through AWS's two-key overlap, and verification of a delivered key.

AWS allows two access keys per user. Rotation uses exactly that overlap: create the second key, keep
the old one active for `rotation_overlap`, then deactivate and delete it. A third key is never
attempted; `third_key_refusal` gives the reason the plan shows instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from keyform.errors import ProviderError
from keyform.providers.aws_iam.client import IamClient
from keyform.providers.aws_iam.errors import translated
from keyform.providers.aws_iam.rules import MAX_KEYS, KeyFacts, third_key_refusal

DELIVERED_KEY_HINTS = {  # the fix when a delivered key (not keyform's own) is refused
    "InvalidClientTokenId": "AWS no longer accepts it (inactive or deleted); rotate the user's key",
    "SignatureDoesNotMatch": "the sink's secret is not this key's; rotate the user's key",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class NewAccessKey:
    """A key AWS just created; its secret exists only here and in the sink it is handed to."""

    user: str
    access_key_id: str
    created_at: datetime
    secret_access_key: str = field(repr=False)

    def fields(self) -> dict[str, str]:
        """The sink's fields, named as in AWS credentials files."""
        return {"aws_access_key_id": self.access_key_id, "aws_secret_access_key": self.secret_access_key}


def create_access_key(client: IamClient, user: str, keys: Sequence[KeyFacts]) -> NewAccessKey:
    """Create a key for `user` whose live keys are `keys`; refused (ProviderError) when it has two."""
    reason = third_key_refusal(user, keys)
    if reason:
        raise ProviderError(reason)
    key = client.call(f"users/{user}: creating an access key", "create_access_key", UserName=user)["AccessKey"]
    client.hide(key["SecretAccessKey"])
    return NewAccessKey(
        user=user,
        access_key_id=key["AccessKeyId"],
        created_at=key["CreateDate"],
        secret_access_key=key["SecretAccessKey"],
    )


def set_access_key_status(client: IamClient, user: str, access_key_id: str, *, active: bool) -> None:
    status = "Active" if active else "Inactive"
    client.call(
        f"users/{user}: setting access key {access_key_id} {status}",
        "update_access_key",
        UserName=user,
        AccessKeyId=access_key_id,
        Status=status,
    )


def delete_access_key(client: IamClient, user: str, access_key_id: str) -> None:
    client.call(
        f"users/{user}: deleting access key {access_key_id}",
        "delete_access_key",
        UserName=user,
        AccessKeyId=access_key_id,
    )


def retire_access_key(client: IamClient, user: str, access_key_id: str) -> None:
    """End of a rotation overlap: deactivate the old key, then delete it."""
    set_access_key_status(client, user, access_key_id, active=False)
    delete_access_key(client, user, access_key_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class RotationStep:
    """What a user's keys need now: nothing, a new key, wait for the overlap, or retire the old key."""

    action: Literal["none", "create", "wait", "retire", "refuse"]
    access_key_id: str | None = None  # the key to retire
    reason: str = ""


def rotation_step(
    user: str,
    keys: Sequence[KeyFacts],
    *,
    now: datetime,
    rotate_after: timedelta | None,
    overlap: timedelta,
) -> RotationStep:
    """The next step of rotation through the two-key overlap, from the live keys (oldest first).

    With two keys the newer one is the current key: once it is `overlap` old the older one is retired.
    With one key older than `rotate_after` a second one is created. Never a third.
    """
    if len(keys) > MAX_KEYS:  # AWS doesn't allow it; don't pretend to know which to keep
        return RotationStep(action="refuse", reason=third_key_refusal(user, keys) or "")
    if len(keys) == MAX_KEYS:
        (old_id, _, _), (_, new_created, _) = keys
        if now >= new_created + overlap:
            return RotationStep(action="retire", access_key_id=old_id, reason="rotation overlap is over")
        return RotationStep(action="wait", reason=f"old key stays active until {new_created + overlap:%Y-%m-%d %H:%M}")
    if len(keys) == 1 and rotate_after is not None and now >= keys[0][1] + rotate_after:
        return RotationStep(action="create", reason="key is older than rotate_after")
    return RotationStep(action="none")


def verify_access_key(
    client: IamClient,
    user: str,
    access_key_id: str,
    secret_access_key: str,
    *,
    path: str = "/",
    keys: Iterable[KeyFacts] = (),
) -> str:
    """Check that a delivered key works and is `user`'s: it signs sts:GetCallerIdentity and the caller's ARN
    is the declared user's. `keys` are the user's live keys, if read: an Inactive key fails here already
    (AWS refuses it; moto accepts it). Returns the caller ARN; raises ProviderError with one line."""
    client.hide(secret_access_key)
    where = f"users/{user}: access key {access_key_id}"
    status = next((s for key_id, _, s in keys if key_id == access_key_id), None)
    if status == "Inactive":
        raise ProviderError(f"{where} is Inactive; set access_key.enabled: true or deliver the current key")
    sts = client.client("sts", aws_access_key_id=access_key_id, aws_secret_access_key=secret_access_key)
    with translated(
        f"{where} does not authenticate",
        secrets=[secret_access_key],
        endpoint=client.endpoint,
        hints=DELIVERED_KEY_HINTS,
    ):
        arn = str(sts.get_caller_identity()["Arn"])
    expected = client.user_arn(user, path)
    if arn != expected:
        raise ProviderError(f"{where} signs as {arn}, not {expected}; the sink holds another identity's key")
    return arn


def simulate(
    client: IamClient, user_arn: str, actions: Sequence[str], resources: Sequence[str] = ("*",)
) -> dict[str, str]:
    """iam:SimulatePrincipalPolicy: each action's decision (`allowed`, `implicitDeny`, `explicitDeny`)."""
    decisions: dict[str, str] = {}
    for page in client.pages(
        f"simulating {user_arn}",
        "simulate_principal_policy",
        PolicySourceArn=user_arn,
        ActionNames=list(actions),
        ResourceArns=list(resources),
    ):
        for result in page.get("EvaluationResults") or ():
            decisions[result["EvalActionName"]] = result["EvalDecision"]
    return decisions
