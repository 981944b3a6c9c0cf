#!/usr/bin/python3
"""hkmail-fetch-secrets: at boot, read the mail server's secrets from the cloud's secret store in
Hong Kong with the instance's own role, and write them where Postfix, Dovecot and OpenDKIM read
them. Standard library only: it runs on a fresh Debian instance before anything else is installed.

What it calls (nothing else):
- Tencent Cloud: the CVM metadata service
  ``http://metadata.tencentyun.com/latest/meta-data/cam/security-credentials/<role>`` for the CAM
  role's temporary key (TmpSecretId, TmpSecretKey, Token), then SSM ``GetSecretValue``
  (version 2019-09-23) at ``https://ssm.ap-hongkong.tencentcloudapi.com/``, signed with
  TC3-HMAC-SHA256 and the token in ``X-TC-Token``.
- Alibaba Cloud: the ECS metadata service in hardened mode (a token from
  ``PUT http://100.100.100.200/latest/api/token``, then
  ``/latest/meta-data/ram/security-credentials/<role>`` for AccessKeyId, AccessKeySecret,
  SecurityToken), then KMS ``GetSecretValue`` (version 2016-01-20) at
  ``https://kms.cn-hongkong.aliyuncs.com/``, an RPC call signed with HMAC-SHA1 and the STS token in
  ``SecurityToken``.

Secret values are never printed. ``HKMAIL_METADATA_URL`` and ``HKMAIL_API_URL`` replace the two
base URLs (the tests point them at a local fake; on an instance they are unset).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from typing import Any

TENCENT_METADATA = "http://metadata.tencentyun.com"
ALICLOUD_METADATA = "http://100.100.100.200"
SSM_VERSION = "2019-09-23"
KMS_VERSION = "2016-01-20"
# Tencent SSM needs a version id; the component writes every secret as this version.
SSM_VERSION_ID = "v1"

# A Dovecot password hash as printed by `doveadm pw`: {SCHEME}hash. No ':' or whitespace, so one
# hash can never add a field or a line to the passwd-file.
_HASH = re.compile(r"^\{[A-Z0-9.-]+\}[^\s:]+$")
# Only slow, salted schemes (Dovecot's passdb would accept {PLAIN} or unsalted MD5 as readily),
# each with the crypt(3)/PHC prefix its hash must carry.
STRONG_SCHEMES: dict[str, tuple[str, ...]] = {
    "ARGON2ID": ("$argon2id$",),
    "ARGON2I": ("$argon2i$",),
    "BLF-CRYPT": ("$2y$", "$2b$", "$2a$"),
    "SHA512-CRYPT": ("$6$",),
}


def strong_hash(value: str) -> bool:
    m = re.match(r"^\{([A-Z0-9.-]+)\}", value)
    if not m or not _HASH.match(value):
        return False
    return value[m.end() :].startswith(STRONG_SCHEMES.get(m.group(1), ("\0",)))


_PEM_KEY = re.compile(
    r"^-----BEGIN (RSA |)PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END (RSA |)PRIVATE KEY-----\n?$"
)


class FetchError(Exception):
    pass


Getter = Callable[[str], str]


# ------------------------------------------------------------------------------------------------
# HTTP
# ------------------------------------------------------------------------------------------------


def _http(
    url: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = 5.0,
    retry_4xx: bool = False,
) -> bytes:
    """The response body of a 2xx. A 4xx from an API is final (FetchError, with the service's
    error code); network errors, 5xx and (for metadata, which lags the first boot) 4xx are
    _Transient and retried by the caller."""
    req = urllib.request.Request(url, data=body, method=method, headers=dict(headers or {}))
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            data: bytes = resp.read()
            return data
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode(errors="replace")
        if exc.code >= 500 or retry_4xx:
            raise _Transient(f"HTTP {exc.code} from {urllib.parse.urlsplit(url).netloc}") from exc
        where = urllib.parse.urlsplit(url).netloc
        raise FetchError(f"HTTP {exc.code} from {where}: {detail}") from None
    except OSError as exc:  # URLError, timeouts, refused connections
        raise _Transient(str(exc)) from exc


class _Transient(Exception):
    pass


def _retry(what: str, fn: Callable[[], Any], attempts: int, delay: float) -> Any:
    """Metadata and the network may lag the first boot by a few seconds: retry, then fail."""
    last: Exception | None = None
    for i in range(attempts):
        try:
            return fn()
        except _Transient as exc:
            last = exc
            if i + 1 < attempts:
                time.sleep(delay * (i + 1))
    raise FetchError(f"{what} failed after {attempts} attempts: {last}")


# ------------------------------------------------------------------------------------------------
# Tencent Cloud: CAM role credentials + SSM GetSecretValue (TC3-HMAC-SHA256)
# ------------------------------------------------------------------------------------------------


def tc3_signature(
    secret_key: str, service: str, host: str, payload: str, timestamp: int
) -> tuple[str, str]:
    """(credential scope, hex signature) of a POST application/json request (API 3.0)."""
    date = dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d")
    canonical = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:application/json; charset=utf-8\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(payload.encode()).hexdigest(),
        ]
    )
    scope = f"{date}/{service}/tc3_request"
    to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(timestamp), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )

    def mac(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()

    signing = mac(mac(mac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    return scope, hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()


# ------------------------------------------------------------------------------------------------
# The instance role's temporary keys (also read by hkmail-journal-upload and the backup)
# ------------------------------------------------------------------------------------------------


def _tencent_credentials(meta: str, role: str) -> dict[str, Any]:
    url = f"{meta}/latest/meta-data/cam/security-credentials/{urllib.parse.quote(role)}"
    creds: dict[str, Any] = json.loads(_http(url, retry_4xx=True))
    if creds.get("Code", "Success") != "Success" or "TmpSecretId" not in creds:
        raise _Transient(f"metadata returned no CAM credentials for role {role!r}")
    return creds


def _alicloud_credentials(meta: str, role: str) -> dict[str, Any]:
    token = _http(
        f"{meta}/latest/api/token",
        method="PUT",
        headers={"X-aliyun-ecs-metadata-token-ttl-seconds": "300"},
        retry_4xx=True,
    ).decode()
    url = f"{meta}/latest/meta-data/ram/security-credentials/{urllib.parse.quote(role)}"
    creds: dict[str, Any] = json.loads(
        _http(url, headers={"X-aliyun-ecs-metadata-token": token}, retry_4xx=True)
    )
    if creds.get("Code", "Success") != "Success" or "AccessKeyId" not in creds:
        raise _Transient(f"metadata returned no RAM credentials for role {role!r}")
    return creds


def role_credentials(
    cloud: str, role: str, attempts: int = 3, delay: float = 1.0
) -> tuple[str, str, str]:
    """(key id, key secret, session token) of the instance role, from the metadata service."""
    if cloud == "tencentcloud":
        meta = os.environ.get("HKMAIL_METADATA_URL", TENCENT_METADATA)
        c = _retry(
            "CAM role credentials", lambda: _tencent_credentials(meta, role), attempts, delay
        )
        return str(c["TmpSecretId"]), str(c["TmpSecretKey"]), str(c["Token"])
    meta = os.environ.get("HKMAIL_METADATA_URL", ALICLOUD_METADATA)
    c = _retry("RAM role credentials", lambda: _alicloud_credentials(meta, role), attempts, delay)
    return str(c["AccessKeyId"]), str(c["AccessKeySecret"]), str(c["SecurityToken"])


def tencent_getter(settings: Mapping[str, Any], attempts: int = 10, delay: float = 2.0) -> Getter:
    role = settings["role_name"]
    region = settings["region"]
    meta = os.environ.get("HKMAIL_METADATA_URL", TENCENT_METADATA)
    api = os.environ.get("HKMAIL_API_URL", f"https://ssm.{region}.tencentcloudapi.com")
    host = urllib.parse.urlsplit(api).netloc
    creds: dict[str, Any] = _retry(
        "CAM role credentials", lambda: _tencent_credentials(meta, role), attempts, delay
    )

    def get(name: str) -> str:
        payload = json.dumps({"SecretName": name, "VersionId": SSM_VERSION_ID})
        ts = int(time.time())
        scope, sig = tc3_signature(creds["TmpSecretKey"], "ssm", host, payload, ts)
        headers = {
            "Authorization": (
                f"TC3-HMAC-SHA256 Credential={creds['TmpSecretId']}/{scope}, "
                f"SignedHeaders=content-type;host, Signature={sig}"
            ),
            "Content-Type": "application/json; charset=utf-8",
            "Host": host,
            "X-TC-Action": "GetSecretValue",
            "X-TC-Version": SSM_VERSION,
            "X-TC-Timestamp": str(ts),
            "X-TC-Region": region,
            "X-TC-Token": creds["Token"],
        }
        raw = _retry(
            f"SSM GetSecretValue {name}",
            lambda: _http(api + "/", method="POST", headers=headers, body=payload.encode()),
            attempts,
            delay,
        )
        resp = json.loads(raw).get("Response", {})
        if "Error" in resp:
            err = resp["Error"]
            raise FetchError(f"SSM GetSecretValue {name}: {err.get('Code')}: {err.get('Message')}")
        if resp.get("SecretString"):
            return str(resp["SecretString"])
        if resp.get("SecretBinary"):
            return base64.b64decode(resp["SecretBinary"]).decode()
        raise FetchError(f"SSM GetSecretValue {name}: empty secret")

    return get


# ------------------------------------------------------------------------------------------------
# Alibaba Cloud: RAM role credentials + KMS GetSecretValue (RPC, HMAC-SHA1)
# ------------------------------------------------------------------------------------------------


def percent_encode(s: str) -> str:
    # RFC 3986 unreserved characters stay; everything else is %XX (Alibaba RPC signature rules).
    return urllib.parse.quote(s, safe="-_.~")


def rpc_signature(method: str, params: Mapping[str, str], secret: str) -> str:
    query = "&".join(f"{percent_encode(k)}={percent_encode(params[k])}" for k in sorted(params))
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(query)}"
    digest = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def alicloud_getter(settings: Mapping[str, Any], attempts: int = 10, delay: float = 2.0) -> Getter:
    role = settings["role_name"]
    region = settings["region"]
    meta = os.environ.get("HKMAIL_METADATA_URL", ALICLOUD_METADATA)
    api = os.environ.get("HKMAIL_API_URL", f"https://kms.{region}.aliyuncs.com")
    creds: dict[str, Any] = _retry(
        "RAM role credentials", lambda: _alicloud_credentials(meta, role), attempts, delay
    )

    def get(name: str) -> str:
        params = {
            "Action": "GetSecretValue",
            "SecretName": name,
            "Format": "JSON",
            "Version": KMS_VERSION,
            "AccessKeyId": creds["AccessKeyId"],
            "SecurityToken": creds["SecurityToken"],
            "SignatureMethod": "HMAC-SHA1",
            "SignatureVersion": "1.0",
            "SignatureNonce": str(uuid.uuid4()),
            "Timestamp": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        params["Signature"] = rpc_signature("GET", params, creds["AccessKeySecret"])
        url = (
            api
            + "/?"
            + "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in params.items())
        )
        try:
            raw = _retry(f"KMS GetSecretValue {name}", lambda: _http(url), attempts, delay)
        except FetchError as exc:  # a 4xx names no secret: say which one it was
            if name in str(exc):
                raise
            raise FetchError(f"KMS GetSecretValue {name}: {exc}") from None
        resp = json.loads(raw)
        if "SecretData" not in resp:
            raise FetchError(
                f"KMS GetSecretValue {name}: {resp.get('Code')}: {resp.get('Message')}"
            )
        data = str(resp["SecretData"])
        if resp.get("SecretDataType") == "binary":
            return base64.b64decode(data).decode()
        return data

    return get


# ------------------------------------------------------------------------------------------------
# Writing the files
# ------------------------------------------------------------------------------------------------


def _write(path: str, content: str, mode: int, owner: str, group: str) -> None:
    """Atomically, with the final mode from the start (never briefly world-readable)."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".hkmail-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w") as fh:
            fh.write(content)
        shutil.chown(tmp, owner, group)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def build_outputs(settings: Mapping[str, Any], get: Getter) -> dict[str, str]:
    """Fetch and validate everything mail needs first; nothing is written unless all of it is
    good. The backup password is not among it (backup_output): mail runs without a backup."""
    names = settings["secrets"]
    key = get(names["dkim_private_key"]).replace("\r\n", "\n")
    if not _PEM_KEY.match(key.strip() + "\n"):
        raise FetchError("the DKIM secret is not a PEM private key")
    hashes = json.loads(get(names["mailbox_hashes"]))
    if not isinstance(hashes, dict):
        raise FetchError("the mailbox secret is not a JSON object {user: hash}")
    users: list[str] = list(settings["users"])
    missing = [u for u in users if u not in hashes]
    if missing:
        raise FetchError(f"no password hash for mailbox(es) {missing}")
    bad = [u for u in users if not isinstance(hashes[u], str) or not _HASH.match(hashes[u])]
    if bad:
        raise FetchError(f"password hash of {bad} is not a '{{SCHEME}}hash' from doveadm pw")
    weak = [u for u in users if not strong_hash(hashes[u])]
    if weak:
        raise FetchError(
            f"password hash of {weak} does not use a strong scheme; "
            f"allowed: {', '.join(STRONG_SCHEMES)} (doveadm pw -s ARGON2ID)"
        )
    relay = json.loads(get(names["relay_credentials"]))
    if not isinstance(relay, dict) or not relay.get("username") or not relay.get("password"):
        raise FetchError("the relay secret is not a JSON object {username, password}")
    if any(ch in str(relay["username"]) + str(relay["password"]) for ch in "\n\r"):
        raise FetchError("the relay credentials contain a line break")
    domain = settings["domain"]
    optional: dict[str, str] = {}
    if "notify_targets" in names:
        optional["notify_targets"] = _notify_targets(get(names["notify_targets"]))
    return {
        **optional,
        "dkim_private_key": key.strip() + "\n",
        # passwd-file: user:password:uid:gid:gecos:home:shell:extra (uid/home from the userdb)
        "dovecot_users": "".join(f"{u}@{domain}:{hashes[u]}::::::\n" for u in users),
        "relay_password": f"{settings['relay']} {relay['username']}:{relay['password']}\n",
    }


# The repository key is derived from it: a short password would make the backup easy to open.
# The stack check (hkmail.spec.checks) imports this same constant for the plan-time refusal.
MIN_BACKUP_PASSWORD = 20


def backup_output(settings: Mapping[str, Any], get: Getter) -> tuple[dict[str, str], str | None]:
    """The backup's password file, or an ALARM line naming its secret (never its value): a bad
    backup password costs the backup only, never the mail server's other secrets."""
    name = settings["secrets"].get("backup_password")
    if name is None:
        return {}, None
    try:
        return {"backup_password": _backup_password(get(name))}, None
    except FetchError as exc:
        return {}, (
            f"ALARM backup password secret {name} (hkmail:backupPassword) refused: {exc}; "
            "nothing backed up until it is fixed and hkmail-fetch-secrets runs again"
        )


def _backup_password(raw: str) -> str:
    """The restic repository password, one line. Its length is checked, never its value shown."""
    value = raw.strip()
    if "\n" in value or "\r" in value:
        raise FetchError("the backup password contains a line break")
    if len(value) < MIN_BACKUP_PASSWORD:
        raise FetchError(
            f"the backup password is shorter than {MIN_BACKUP_PASSWORD} characters "
            "(openssl rand -base64 32)"
        )
    return value + "\n"


#: The key of the DingTalk to-do app's {appKey, appSecret} in the notify secret: the one source
#: (the library's notify_config imports it; the notifier on the instance keeps a tested copy).
TODO_APP = "dingtalkTodo"


def _notify_targets(raw: str) -> str:
    """The notify webhooks: {target: {"url": "https://...", "secret": "..."}}, and where rules
    create to-dos {"dingtalkTodo": {"appKey", "appSecret"}}. The notifier checks each URL's host
    against the platform's before every request; here only the shape."""
    try:
        targets = json.loads(raw)
    except ValueError:
        raise FetchError("the notify secret is not JSON {target: {url, secret}}") from None
    app = targets.pop(TODO_APP, None) if isinstance(targets, dict) else None
    if app is not None and not (
        isinstance(app, dict)
        and all(isinstance(app.get(k), str) and app[k] for k in ("appKey", "appSecret"))
    ):
        raise FetchError("the notify secret's dingtalkTodo is not JSON {appKey, appSecret}")
    if not isinstance(targets, dict) or not all(
        isinstance(t, dict)
        and isinstance(t.get("url"), str)
        and t["url"].startswith("https://")
        and isinstance(t.get("secret", ""), str)
        for t in targets.values()
    ):
        raise FetchError("the notify secret is not JSON {target: {url: https://..., secret}}")
    return json.dumps({**targets, **({TODO_APP: app} if app is not None else {})})


def write_outputs(settings: Mapping[str, Any], contents: Mapping[str, str]) -> None:
    out = settings["outputs"]
    owners: dict[str, tuple[int, str, str]] = {
        # OpenDKIM's RequireSafeKeys: the key must be readable by opendkim only.
        "dkim_private_key": (0o600, "opendkim", "opendkim"),
        "dovecot_users": (0o640, "root", "dovecot"),
        # Postfix opens SASL password maps as root, before dropping privileges.
        "relay_password": (0o600, "root", "root"),
        # hkmail-notify runs as vmail.
        "notify_targets": (0o640, "root", "vmail"),
        # hkmail-backup runs as root.
        "backup_password": (0o600, "root", "root"),
    }
    for item, (mode, owner, group) in owners.items():
        if item in contents:
            _write(out[item], contents[item], mode, owner, group)


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    path = args[0] if args else "/etc/hkmail/secrets.json"
    with open(path) as fh:
        settings = json.load(fh)
    getters = {"tencentcloud": tencent_getter, "alicloud": alicloud_getter}
    try:
        get = getters[settings["cloud"]](settings)
        contents = build_outputs(settings, get)
        backup, alarm = backup_output(settings, get)
        write_outputs(settings, {**contents, **backup})
    except (FetchError, KeyError, ValueError, OSError) as exc:
        print(f"hkmail-fetch-secrets: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    written = sorted(k for k in settings["outputs"] if k in contents or k in backup)
    print(f"hkmail-fetch-secrets: wrote {written} from {settings['cloud']}")
    if alarm is not None:
        print(f"hkmail-fetch-secrets: {alarm}", file=sys.stderr, flush=True)
        return 1  # loud in the boot log; the mail server's own secrets are written
    return 0


if __name__ == "__main__":
    sys.exit(main())
