"""`keyform verify` for aws-iam: each delivered access key signs sts:GetCallerIdentity and is the
declared user (path included); a key declared Inactive must be Inactive.

The secret is in the run's redactor before it is used (keyform.verify adds every sink value) and
in the client's list of values its error messages hide.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from keyform.contract import Finding
from keyform.errors import ProviderError
from keyform.model import DesiredState
from keyform.providers.aws_iam import keys
from keyform.providers.aws_iam.client import IamClient, Settings
from keyform.secrets.redaction import Redactor


class AccessKeyVerifier:
    """Checks delivered access keys against the account keyform manages."""

    def __init__(self, settings: Settings):
        self.client = IamClient(settings)

    def check(self, address: str, entry: Any, state: DesiredState, redactor: Redactor) -> Finding:
        kind, _, name = address.partition("/")
        declared = state.of("users").get(name) if kind == "users" else None
        if declared is None:
            return Finding(address, False, "not a declared user: access keys belong to users/NAME")
        fields = entry if isinstance(entry, Mapping) else {}
        key_id, secret = fields.get("aws_access_key_id"), fields.get("aws_secret_access_key")
        if not isinstance(key_id, str) or not isinstance(secret, str):
            return Finding(address, False, "the sink entry has no aws_access_key_id and aws_secret_access_key")
        redactor.add(secret)
        self.client.hide(secret)
        try:
            return self._check(address, name, key_id, secret, declared)
        except ProviderError as error:
            return Finding(address, False, str(error))

    def _check(self, address: str, name: str, key_id: str, secret: str, declared: Mapping[str, Any]) -> Finding:
        live = self.client.access_keys(name)
        status = next((s for k, _, s in live if k == key_id), None)
        if status is None:
            return Finding(address, False, f"access key {key_id} is not one of the user's keys (deleted?): rotate it")
        if declared.get("access_key_enabled") is False:
            ok = status == "Inactive"
            return Finding(address, ok, f"access key {key_id} is {status}; declared Inactive")
        path = self.client.call(f"{address}: reading the user", "get_user", UserName=name)["User"].get("Path") or "/"
        arn = keys.verify_access_key(self.client, name, key_id, secret, path=path, keys=live)
        return Finding(address, True, f"access key {key_id} signs as {arn}")

    def close(self) -> None:
        return None
