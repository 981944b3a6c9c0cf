"""Where a stack's own state and secrets live: the gate's check of the backend URL and the stack's
secrets provider (issue 12).

Pulumi state holds every input of every resource (user-data, record values, encrypted secrets), so
a mail stack whose data stays in Hong Kong must keep its state there too. This module reads what
the Pulumi CLI would use, in the CLI's order of precedence:

- the backend: ``PULUMI_BACKEND_URL`` in the environment, else ``backend.url`` in ``Pulumi.yaml``,
  else whatever ``pulumi login`` stored on the machine (which the gate cannot see);
- the secrets provider: ``secretsprovider`` in the stack's ``Pulumi.<stack>.yaml`` (with
  ``encryptionsalt`` for a passphrase, ``encryptedkey`` for a cloud KMS), else the backend's
  default (passphrase for a DIY backend, the Pulumi Cloud service for Pulumi Cloud).

Findings come back in the gate's :class:`~toolchain.gate.core.Violation` shape, reported against
the stack, under policy names that start with ``residency-`` so reports group them with the
pack's residency rules:

- ``residency-state-backend`` (mandatory): the backend is outside Hong Kong (Pulumi Cloud's
  hosted service included), or its location cannot be told from the URL (advisory then);
- ``residency-secrets-provider`` (mandatory): an ``awskms``/``azurekeyvault``/``gcpkms``/
  ``hashivault`` provider (or the Pulumi Cloud service) outside Hong Kong; advisory when the
  address does not say where the key lives;
- ``residency-state-declared`` (advisory): neither a backend nor a secrets provider is declared.

There is no Alibaba Cloud or Tencent Cloud KMS secrets provider in Pulumi. What keeps secrets in
Hong Kong: ``passphrase`` (the key is derived from a passphrase the operator keeps), or
``hashivault`` with a Vault server run in Hong Kong (the gate cannot see where Vault runs), or a
KMS key in a foreign cloud's Hong Kong region (AWS ``ap-east-1``, Google ``asia-east2``).

A ``--policy-config`` entry for one of these names (or ``all``) sets its enforcement level, as for
the pack's own policies.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from toolchain.gate.core import Violation

PACK_NAME = "hk-mail-gate-placement"
PACK_VERSION = "1.0.0"
BACKEND_RULE = "residency-state-backend"
SECRETS_RULE = "residency-secrets-provider"
DECLARED_RULE = "residency-state-declared"
RULES = (BACKEND_RULE, SECRETS_RULE, DECLARED_RULE)

#: Region ids that are Hong Kong, per cloud (the blueprint's two clouds, and the foreign clouds a
#: backend or KMS key might sit in).
HONG_KONG_REGIONS = {
    "alicloud": "cn-hongkong",
    "tencentcloud": "ap-hongkong",
    "aws": "ap-east-1",
    "gcp": "asia-east2",
    "azure": "eastasia",
}
_HK = frozenset(HONG_KONG_REGIONS.values())
#: the "region" of Pulumi Cloud's hosted service (api.pulumi.com): not Hong Kong
PULUMI_CLOUD = "pulumi-cloud"

DESCRIPTIONS = {
    BACKEND_RULE: "The stack's state (every input of every resource) is kept in Hong Kong.",
    SECRETS_RULE: "The key that encrypts the stack's secrets is kept in Hong Kong.",
    DECLARED_RULE: "The project declares where its state and secrets live.",
}
REMEDIATION = {
    BACKEND_RULE: "Keep the state in Hong Kong: in Pulumi.yaml, backend: url: "
    "s3://<bucket>?endpoint=s3.oss-cn-hongkong.aliyuncs.com&region=cn-hongkong (Alibaba OSS) or "
    "s3://<bucket>-<appid>?endpoint=cos.ap-hongkong.myqcloud.com&region=ap-hongkong (Tencent COS); "
    "README, 'State and secrets in Hong Kong'.",
    SECRETS_RULE: "Keep the key in Hong Kong: a passphrase (pulumi stack init --secrets-provider "
    "passphrase), or hashivault://<key> with Vault run in Hong Kong; Pulumi has no Alibaba or "
    "Tencent KMS secrets provider.",
}
REMEDIATION[DECLARED_RULE] = REMEDIATION[BACKEND_RULE] + " " + REMEDIATION[SECRETS_RULE]


@dataclass(frozen=True)
class Where:
    """Where a URL puts data: ``region`` when the URL says so, else ``None`` with the reason."""

    kind: str  # "diy-s3", "diy-azblob", "diy-gs", "diy-file", "diy-postgres", "cloud", ...
    region: str | None
    service: str
    note: str = ""

    @property
    def in_hong_kong(self) -> bool | None:
        """True/False when the URL tells, None when it cannot be told from the URL."""
        if self.kind == "passphrase":
            return True  # no remote key: the passphrase stays with the operator
        if self.kind == "diy-file":
            return None
        if self.region is None:
            return None
        return self.region in _HK


@dataclass(frozen=True)
class Placement:
    """What the CLI would use for one stack, and where that is."""

    backend_url: str | None
    backend_source: str  # "PULUMI_BACKEND_URL", "Pulumi.yaml backend.url", "not declared"
    backend: Where | None
    secrets_provider: str  # as written in the stack file, or what the backend defaults to
    secrets_source: str
    secrets: Where | None


# --- backend URLs ------------------------------------------------------------------------------

_OSS = re.compile(r"(?:^|\.)(?:s3\.)?oss-(?P<r>[a-z0-9-]+?)(?:-internal)?\.aliyuncs\.com$")
_COS = re.compile(
    r"(?:^|\.)cos(?:-internal)?\.(?P<r>[a-z]{2}-[a-z0-9-]+)\.(?:myqcloud\.com|tencentcos\.cn)$"
)
_AWS_S3 = re.compile(
    r"(?:^|\.)s3(?:[.-](?:dualstack|fips))*[.-](?P<r>[a-z]{2}(?:-gov)?-[a-z]+-\d)\.amazonaws\.com$"
)
_PULUMI_CLOUD = re.compile(r"(?:^|\.)pulumi\.com$")


def _query(url: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(url).query).items()}


def _host(endpoint: str) -> str:
    if "://" not in endpoint:
        endpoint = "https://" + endpoint
    return (urlsplit(endpoint).hostname or "").lower().rstrip(".")


def backend_where(url: str) -> Where:
    """Where a Pulumi backend URL keeps the state."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    q = _query(url)
    if scheme == "s3":
        endpoint = q.get("endpoint", "")
        if endpoint:
            host = _host(endpoint)
            for pattern, service in (
                (_OSS, "Alibaba Cloud OSS"),
                (_COS, "Tencent Cloud COS"),
                (_AWS_S3, "Amazon S3"),
            ):
                m = pattern.search(host)
                if m:
                    return Where("diy-s3", m.group("r"), f"{service} ({host})")
            return Where(
                "diy-s3",
                None,
                f"S3-compatible store at {host}",
                "the endpoint is not a known cloud's regional endpoint, so the gate cannot tell "
                "where it is",
            )
        region = q.get("region")
        if region:
            return Where("diy-s3", region, f"Amazon S3 ({region})")
        return Where(
            "diy-s3",
            None,
            "Amazon S3",
            "no region in the URL: the AWS SDK takes it from AWS_REGION or the profile",
        )
    if scheme == "azblob":
        return Where(
            "diy-azblob",
            None,
            "Azure Blob Storage",
            "an azblob:// URL does not name the storage account's region",
        )
    if scheme == "gs":
        return Where("diy-gs", None, "Google Cloud Storage", "a gs:// URL names no bucket location")
    if scheme == "file":
        return Where(
            "diy-file",
            None,
            "local files",
            "state on the disk of whichever machine runs pulumi (a CI runner or a laptop)",
        )
    if scheme in ("postgres", "postgresql"):
        return Where(
            "diy-postgres",
            None,
            f"PostgreSQL at {parts.hostname}",
            "a database host name does not say where it runs",
        )
    if scheme in ("https", "http"):
        host = (parts.hostname or "").lower()
        if _PULUMI_CLOUD.search(host):
            return Where(
                "cloud",
                PULUMI_CLOUD,
                f"Pulumi Cloud's hosted service ({host})",
                "the hosted service does not run in Hong Kong",
            )
        return Where(
            "cloud",
            None,
            f"self-hosted Pulumi Cloud at {host}",
            "a self-hosted service's host name does not say where it runs",
        )
    return Where("unknown", None, url, f"unrecognised backend scheme {scheme!r}")


# --- secrets providers -------------------------------------------------------------------------

_KMS_ARN = re.compile(r"arn:aws[a-z-]*:kms:(?P<r>[a-z0-9-]+):")
_GCP_LOCATION = re.compile(r"/locations/(?P<r>[a-z0-9-]+)/")


def secrets_where(provider: str, env: Mapping[str, str] | None = None) -> Where:
    """Where the key behind a stack's ``secretsprovider`` lives."""
    env = os.environ if env is None else env
    scheme = provider.split("://", 1)[0].lower() if "://" in provider else provider.lower()
    if scheme == "passphrase":
        return Where(
            "passphrase",
            "passphrase",
            "passphrase",
            "the key is derived from a passphrase the operator holds (PULUMI_CONFIG_PASSPHRASE)",
        )
    if scheme in ("default", "service", ""):
        return Where(
            "service",
            PULUMI_CLOUD,
            "the Pulumi Cloud secrets service",
            "the hosted service, which does not run in Hong Kong, holds the key",
        )
    if scheme == "awskms":
        rest = unquote(provider.split("://", 1)[1])
        m = _KMS_ARN.search(rest)
        region = m.group("r") if m else _query(provider).get("region")
        if region:
            return Where("awskms", region, f"AWS KMS ({region})")
        return Where(
            "awskms",
            None,
            "AWS KMS",
            "no region in the key ARN or the URL: the SDK takes it from AWS_REGION",
        )
    if scheme == "gcpkms":
        m = _GCP_LOCATION.search(provider)
        if m:
            return Where("gcpkms", m.group("r"), f"Google Cloud KMS ({m.group('r')})")
        return Where("gcpkms", None, "Google Cloud KMS", "the key path names no location")
    if scheme == "azurekeyvault":
        host = urlsplit(provider).hostname or ""
        return Where(
            "azurekeyvault",
            None,
            f"Azure Key Vault {host}",
            "a Key Vault name does not say which region the vault is in",
        )
    if scheme == "hashivault":
        addr = env.get("VAULT_SERVER_URL") or env.get("VAULT_ADDR") or ""
        where = f" at {addr}" if addr else ""
        return Where(
            "hashivault",
            None,
            f"HashiCorp Vault{where}",
            "the Vault server's address (VAULT_SERVER_URL/VAULT_ADDR) does not say where it "
            "runs; run it in Hong Kong",
        )
    return Where("unknown", None, provider, f"unrecognised secrets provider {scheme!r}")


# --- reading the project -----------------------------------------------------------------------


# libyaml's loader where PyYAML has it: the same safe documents, parsed ~3x faster (a stack of
# 1,000 domains is a megabyte of YAML)
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _yaml(path: Path) -> Mapping[str, Any]:
    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)
    except (OSError, yaml.YAMLError):
        return {}  # the engine reports unreadable project/stack files itself
    return doc if isinstance(doc, Mapping) else {}


def project_backend(project_root: Path, env: Mapping[str, str]) -> tuple[str | None, str]:
    """(backend URL, where it came from), in the CLI's order of precedence."""
    if env.get("PULUMI_BACKEND_URL"):
        return env["PULUMI_BACKEND_URL"], "PULUMI_BACKEND_URL"
    doc = _yaml(project_root / "Pulumi.yaml")
    backend = doc.get("backend")
    if isinstance(backend, Mapping) and isinstance(backend.get("url"), str) and backend["url"]:
        return str(backend["url"]), "Pulumi.yaml backend.url"
    return None, "not declared"


def placement(
    project_root: Path, stack_file: Path, env: Mapping[str, str] | None = None
) -> Placement:
    """Where one stack's state and secrets would live under the CLI."""
    env = os.environ if env is None else env
    url, source = project_backend(project_root, env)
    backend = backend_where(url) if url else None
    stack = _yaml(stack_file)
    provider = stack.get("secretsprovider")
    if isinstance(provider, str) and provider:
        secrets_source = f"{stack_file.name} secretsprovider"
    elif stack.get("encryptionsalt"):
        provider, secrets_source = "passphrase", f"{stack_file.name} encryptionsalt"
    elif backend is not None:
        # what `pulumi stack init` picks when no --secrets-provider is given
        provider = "default" if backend.kind == "cloud" else "passphrase"
        secrets_source = "the backend's default"
    else:
        provider, secrets_source = "", "not declared"
    secrets = secrets_where(provider, env) if provider else None
    return Placement(url, source, backend, provider, secrets_source, secrets)


# --- findings ----------------------------------------------------------------------------------


def _levels(policy_config: Mapping[str, Mapping[str, Any]] | None) -> dict[str, str]:
    levels = {BACKEND_RULE: "mandatory", SECRETS_RULE: "mandatory", DECLARED_RULE: "advisory"}
    given = policy_config or {}
    everything = (given.get("all") or {}).get("enforcementLevel")
    for name in levels:
        level = (given.get(name) or {}).get("enforcementLevel") or everything
        if isinstance(level, str) and level:
            levels[name] = level
    return levels


def _finding(rule: str, level: str, severity: str, stack_urn: str, detail: str) -> Violation:
    parts = stack_urn.split("::")
    name = parts[-1] if len(parts) >= 4 else stack_urn
    return Violation(
        policy_name=rule,
        policy_pack_name=PACK_NAME,
        policy_pack_version=PACK_VERSION,
        enforcement_level=level,
        severity=severity,
        resource_urn=stack_urn,
        resource_type="pulumi:pulumi:Stack",
        resource_name=name,
        message=f"{DESCRIPTIONS[rule]}\n{detail}",
        description=DESCRIPTIONS[rule],
    )


def _judge(
    rule: str, what: str, value: str, where: Where, level: str, stack_urn: str
) -> list[Violation]:
    inside = where.in_hong_kong
    if where.kind == "passphrase" or inside is True:
        return []
    note = f" ({where.note})" if where.note else ""
    if inside is False:
        return [
            _finding(
                rule,
                level,
                "critical" if rule == BACKEND_RULE else "high",
                stack_urn,
                f"{what} {value} is {where.service}"
                + ("" if where.region == PULUMI_CLOUD else f", region {where.region}")
                + f", outside Hong Kong{note}. {REMEDIATION[rule]}",
            )
        ]
    # cannot be told from the URL: say so, without blocking
    return [
        _finding(
            rule,
            "advisory" if level == "mandatory" else level,
            "medium",
            stack_urn,
            f"{what} {value} is {where.service}; the gate cannot verify it is in Hong Kong"
            f"{note}. {REMEDIATION[rule]}",
        )
    ]


def check_placement(
    p: Placement,
    stack_urn: str,
    policy_config: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Violation]:
    """The findings for one stack's placement (none when state and secrets are in Hong Kong)."""
    levels = _levels(policy_config)
    out: list[Violation] = []
    if p.backend is None and p.secrets is None:
        if levels[DECLARED_RULE] != "disabled":
            out.append(
                _finding(
                    DECLARED_RULE,
                    levels[DECLARED_RULE],
                    "medium",
                    stack_urn,
                    "Neither a backend (Pulumi.yaml backend.url or PULUMI_BACKEND_URL) nor a "
                    "secrets provider (secretsprovider in the stack file) is declared, so the "
                    "state goes wherever `pulumi login` last pointed (Pulumi Cloud by default) "
                    f"and the gate cannot check it. {REMEDIATION[DECLARED_RULE]}",
                )
            )
        return out
    if p.backend is not None and p.backend_url and levels[BACKEND_RULE] != "disabled":
        out += _judge(
            BACKEND_RULE,
            f"The backend ({p.backend_source})",
            p.backend_url,
            p.backend,
            levels[BACKEND_RULE],
            stack_urn,
        )
    elif p.backend is None and levels[DECLARED_RULE] != "disabled":
        out.append(
            _finding(
                DECLARED_RULE,
                levels[DECLARED_RULE],
                "medium",
                stack_urn,
                "No backend is declared (Pulumi.yaml backend.url or PULUMI_BACKEND_URL): the "
                f"state goes wherever `pulumi login` last pointed. {REMEDIATION[BACKEND_RULE]}",
            )
        )
    if p.secrets is not None and levels[SECRETS_RULE] != "disabled":
        out += _judge(
            SECRETS_RULE,
            f"The secrets provider ({p.secrets_source})",
            p.secrets_provider or "default",
            p.secrets,
            levels[SECRETS_RULE],
            stack_urn,
        )
    return out


def check_project(
    project_root: Path,
    stack_file: Path,
    stack_urn: str,
    policy_config: Mapping[str, Mapping[str, Any]] | None = None,
    env: Mapping[str, str] | None = None,
) -> list[Violation]:
    """The gate's hook for a preview: judge the project's backend and the stack's secrets."""
    return check_placement(placement(project_root, stack_file, env), stack_urn, policy_config)


def state_secrets(state_file: Path) -> str | None:
    """The secrets provider a ``pulumi stack export`` document records, as a provider string."""
    try:
        doc = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    sp = (doc.get("deployment") or {}).get("secrets_providers") if isinstance(doc, dict) else None
    if not isinstance(sp, Mapping):
        return None
    kind = str(sp.get("type") or "")
    state = sp.get("state") if isinstance(sp.get("state"), Mapping) else {}
    assert isinstance(state, Mapping)
    if kind == "cloud":
        return str(state.get("url") or "") or None
    if kind == "service":
        return "default"
    return kind or None


def check_state(
    state_file: Path,
    stack_urn: str,
    policy_config: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Violation]:
    """The gate's hook for ``--state``: the export records the secrets provider (not the
    backend, which the gate cannot see from an export)."""
    provider = state_secrets(state_file)
    if provider is None:
        return []
    where = secrets_where(provider, {})
    p = Placement(None, "not in a stack export", None, provider, "the stack export", where)
    levels = _levels(policy_config)
    if levels[SECRETS_RULE] == "disabled":
        return []
    return _judge(
        SECRETS_RULE,
        "The secrets provider (the stack export)",
        p.secrets_provider,
        where,
        levels[SECRETS_RULE],
        stack_urn,
    )


def _config(path: str | os.PathLike[str] | None) -> Mapping[str, Mapping[str, Any]]:
    from toolchain.gate.pack import load_policy_config

    return load_policy_config(path) if path else {}


def for_preview(
    project_root: Path,
    stack_file: Path,
    stack_urn: str,
    policy_config: str | os.PathLike[str] | None = None,
) -> list[Violation]:
    """Hook for :func:`toolchain.gate.core.run_gate`."""
    return preview_judge(project_root, stack_file, policy_config)(stack_urn)


def preview_judge(
    project_root: Path,
    stack_file: Path,
    policy_config: str | os.PathLike[str] | None = None,
) -> Callable[[str], list[Violation]]:
    """:func:`for_preview` in two steps: the files are read now, the verdict given once the
    stack's URN is known. The gate reads them while the program starts, not in its tail (a
    1,000-domain stack file is a megabyte of YAML: 0.7 s)."""
    where = placement(project_root, stack_file, None)
    config = _config(policy_config)
    return lambda stack_urn: check_placement(where, stack_urn, config)


def for_state(
    state_file: str | os.PathLike[str],
    stack_urn: str,
    policy_config: str | os.PathLike[str] | None = None,
) -> list[Violation]:
    """Hook for :func:`toolchain.gate.core.run_gate_on_state`."""
    return check_state(Path(state_file), stack_urn, _config(policy_config))
