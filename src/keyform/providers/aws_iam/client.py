"""The IAM client: boto3 with the standard credential chain, adaptive retries, and counted requests.

Reads are the floor AWS allows: `GetAccountAuthorizationDetails` (paginated by `Marker`) for every
user, group and customer-managed policy with their documents, plus one `ListAccessKeys` per user
(authorization details carry no keys). `requests` counts every HTTP request sent, retries included.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, TypedDict, Unpack

import boto3
from botocore.config import Config

from keyform.providers.aws_iam import canonical
from keyform.providers.aws_iam.errors import translated
from keyform.providers.aws_iam.policy import to_json

READ_FILTER = ["User", "Group", "LocalManagedPolicy"]  # no roles, no AWS managed policy documents
PAGE_SIZE = 1000  # the largest MaxItems AWS accepts for authorization details: fewest pages
POLICY_VERSION_LIMIT = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The `provider:` options; anything left None comes from the standard AWS chain (AWS_* variables, profiles)."""

    profile: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    session_token: str | None = None
    endpoint_url: str | None = None
    region: str = "us-east-1"  # IAM is global; STS and signing still need a region
    max_attempts: int = 10  # adaptive retry mode: client-side rate limiting on throttling
    workers: int = 8  # concurrent ListAccessKeys calls

    def __repr__(self) -> str:  # never show the secret
        return f"Settings(profile={self.profile!r}, endpoint_url={self.endpoint_url!r}, region={self.region!r})"


class RequestCounter:
    """A botocore `before-send` hook: counts HTTP requests by operation (thread-safe)."""

    def __init__(self) -> None:
        self.by_operation: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, event_name: str, **_: Any) -> None:
        with self._lock:
            self.by_operation[event_name.rsplit(".", 1)[-1]] += 1

    @property
    def total(self) -> int:
        return sum(self.by_operation.values())


class Credentials(TypedDict, total=False):
    """Other credentials for one client (a new access key's own, to prove it works)."""

    aws_access_key_id: str
    aws_secret_access_key: str
    aws_session_token: str


class IamClient:
    """One IAM account through boto3. Methods raise ProviderError with one line on any AWS failure."""

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings()
        self.requests = RequestCounter()
        self._hidden: list[str] = [self.settings.secret_access_key or ""]
        with translated("AWS credentials"):
            self.session = boto3.Session(
                profile_name=self.settings.profile,
                aws_access_key_id=self.settings.access_key_id,
                aws_secret_access_key=self.settings.secret_access_key,
                aws_session_token=self.settings.session_token,
            )
        self.iam = self.client("iam")
        self._policy_arns: dict[str, str] = {}
        self._account: tuple[str, str] | None = None  # (partition, account id)
        self._caller: str | None = None

    def client(self, service: Literal["iam", "sts"], **credentials: Unpack[Credentials]) -> Any:
        """A counted boto3 client for `service` on the configured endpoint (other credentials if given)."""
        config = Config(
            retries={"mode": "adaptive", "max_attempts": self.settings.max_attempts},
            max_pool_connections=self.settings.workers + 2,
        )
        session = boto3.Session(**credentials) if credentials else self.session
        with translated(f"AWS {service} client"):
            client = session.client(
                service, region_name=self.settings.region, endpoint_url=self.settings.endpoint_url, config=config
            )
        client.meta.events.register(f"before-send.{service}", self.requests)
        return client

    @property
    def endpoint(self) -> str:
        return str(self.iam.meta.endpoint_url)

    def hide(self, secret: str) -> None:
        """Never show `secret` in an error message."""
        self._hidden.append(secret)

    def call(self, what: str, operation: str, **params: Any) -> dict[str, Any]:
        """One IAM API call; any failure becomes a one-line ProviderError naming `what`."""
        with translated(what, secrets=self._hidden, endpoint=self.endpoint):
            response: dict[str, Any] = getattr(self.iam, operation)(**params)
            return response

    def call_if_present(self, what: str, operation: str, **params: Any) -> dict[str, Any] | None:
        """A call that may find nothing to act on: None on NoSuchEntity, any other failure as `call`."""
        with translated(what, secrets=self._hidden, endpoint=self.endpoint):
            try:
                response: dict[str, Any] = getattr(self.iam, operation)(**params)
                return response
            except self.iam.exceptions.NoSuchEntityException:
                return None

    def pages(self, what: str, operation: str, **params: Any) -> Iterator[dict[str, Any]]:
        """The pages of a paginated IAM call (boto3's paginator follows `Marker`)."""
        with translated(what, secrets=self._hidden, endpoint=self.endpoint):
            yield from self.iam.get_paginator(operation).paginate(**params)

    # ---- reads ----------------------------------------------------------------------------

    def authorization_details(self) -> dict[str, list[dict[str, Any]]]:
        """Every user, group and customer-managed policy of the account, one page per request."""
        out: dict[str, list[dict[str, Any]]] = {"users": [], "groups": [], "policies": []}
        for page in self.pages(
            "reading IAM users, groups and policies",
            "get_account_authorization_details",
            Filter=READ_FILTER,
            PaginationConfig={"PageSize": PAGE_SIZE},
        ):
            out["users"].extend(page.get("UserDetailList") or ())
            out["groups"].extend(page.get("GroupDetailList") or ())
            out["policies"].extend(page.get("Policies") or ())
        return out

    def access_keys(self, user: str) -> list[tuple[str, Any, str]]:
        """(access key id, created at, status) of a user's keys, oldest first."""
        keys = [
            key
            for page in self.pages(f"users/{user}: listing access keys", "list_access_keys", UserName=user)
            for key in page.get("AccessKeyMetadata") or ()
        ]
        return canonical.key_facts(keys)

    def read_all(self) -> dict[str, dict[str, Any]]:
        """Address -> {id, arn, attributes, managed, secrets} for every user, group and customer-managed policy."""
        details = self.authorization_details()
        local = {p["Arn"]: canonical.policy_name(p) for p in details["policies"]}
        self._policy_arns.update({name: arn for arn, name in local.items()})
        names = [u["UserName"] for u in details["users"]]
        with ThreadPoolExecutor(max_workers=self.settings.workers) as pool:
            keys = dict(zip(names, pool.map(self.access_keys, names), strict=True))
        live: dict[str, dict[str, Any]] = {}
        for detail in details["policies"]:
            live[f"policies/{canonical.policy_name(detail)}"] = canonical.policy_entry(detail)
        for detail in details["groups"]:
            live[f"groups/{detail['GroupName']}"] = canonical.group_entry(detail, local)
        for detail in details["users"]:
            live[f"users/{detail['UserName']}"] = canonical.user_entry(detail, local, keys[detail["UserName"]])
        return live

    # ---- names and ARNs ---------------------------------------------------------------------

    def account(self) -> tuple[str, str]:
        """(partition, account id) of the credentials in use (one STS request, cached)."""
        if self._account is None:
            parts = self.caller_arn().split(":")
            self._account = (parts[1], parts[4])
        return self._account

    def caller_arn(self) -> str:
        """The ARN of the identity keyform runs as (one STS request, cached)."""
        if self._caller is None:
            with translated("AWS account", secrets=self._hidden, endpoint=self.endpoint):
                self._caller = str(self.client("sts").get_caller_identity()["Arn"])
        return self._caller

    def remember_policy(self, name: str, arn: str) -> None:
        self._policy_arns[name] = arn

    def policy_arn(self, name: str) -> str:
        """A policy's ARN: as given when it is one, else the account's own policy of that name."""
        if name.startswith("arn:"):
            return name
        if name not in self._policy_arns:
            partition, account = self.account()
            self._policy_arns[name] = f"arn:{partition}:iam::{account}:policy{canonical.KEYFORM_PATH}{name}"
        return self._policy_arns[name]

    def user_arn(self, name: str, path: str = "/") -> str:
        partition, account = self.account()
        return f"arn:{partition}:iam::{account}:user{path}{name}"


def tag_list(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in sorted(tags.items())]


def document_text(document: Mapping[str, Any]) -> str:
    return to_json(document)
