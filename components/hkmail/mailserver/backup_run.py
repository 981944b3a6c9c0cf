"""hkmail-backup: the mail store's nightly restic backup into the Hong Kong archive bucket.

    hkmail-backup /etc/hkmail/backup.json                 back up, then apply the retention
    hkmail-backup /etc/hkmail/backup.json --restore DIR   restore the newest snapshot into DIR

restic's s3 backend writes a repository under ``backup/`` of the journal's bucket: encrypted
(the repository password, a Pulumi secret fetched at boot into ``password_file``), deduplicated
and incremental (each night uploads only new chunks), with its own retention (``restic forget
--prune`` by the ``keep`` table), separate from the journal's. Credentials: the instance role's
temporary key from the metadata service, handed to restic as AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN; nothing is written to disk or printed.
A test store on loopback is named by HKMAIL_S3_URL (addressed by path; OSS refuses path style).
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any


def _load(name: str, path: str) -> ModuleType:
    spec = importlib.util.spec_from_loader(name, importlib.machinery.SourceFileLoader(name, path))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def environment(settings: Mapping[str, Any]) -> dict[str, str]:
    fetch = _load("hkmail_fetch_secrets", settings["fetch_script"])
    key, secret, token = fetch.role_credentials(settings["cloud"], settings["role_name"])
    endpoint = (os.environ.get("HKMAIL_S3_URL") or settings["endpoint"]).rstrip("/")
    return {
        **os.environ,
        "AWS_ACCESS_KEY_ID": key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_SESSION_TOKEN": token,
        "RESTIC_REPOSITORY": f"s3:{endpoint}/{settings['bucket']}/{settings['prefix'].strip('/')}",
        "RESTIC_PASSWORD_FILE": settings["password_file"],
        "RESTIC_CACHE_DIR": settings["cache_dir"],
    }


def options(settings: Mapping[str, Any]) -> list[str]:
    lookup = "path" if os.environ.get("HKMAIL_S3_URL") else "dns"
    return ["-o", f"s3.bucket-lookup={lookup}", "-o", f"s3.region={settings['sign_region']}"]


def restic(settings: Mapping[str, Any], env: Mapping[str, str], *args: str) -> int:
    cmd = [settings.get("restic", "/usr/bin/restic"), *options(settings), *args]
    return subprocess.run(cmd, env=dict(env), check=False).returncode


def backup(settings: Mapping[str, Any]) -> int:
    env = environment(settings)
    if restic(settings, env, "--quiet", "cat", "config") != 0:
        code = restic(settings, env, "init")
        if code != 0:
            print("hkmail-backup: ALARM the repository could not be opened or created", flush=True)
            return code
    excludes = [a for path in settings["exclude"] for a in ("--exclude", path)]
    code = restic(settings, env, "backup", "--tag", "hkmail", *excludes, *settings["paths"])
    if code != 0:
        print(f"hkmail-backup: ALARM restic backup exit {code}", flush=True)
        return code
    keep = [a for name, n in sorted(settings["keep"].items()) for a in (f"--keep-{name}", str(n))]
    return restic(settings, env, "forget", "--tag", "hkmail", "--prune", *keep)


def restore(settings: Mapping[str, Any], target: str) -> int:
    env = environment(settings)
    return restic(settings, env, "restore", "latest", "--tag", "hkmail", "--target", target)


def main(argv: Sequence[str]) -> int:
    args = list(argv[1:])
    if len(args) == 1:
        target = None
    elif len(args) == 3 and args[1] == "--restore":
        target = args[2]
    else:
        print(__doc__, file=sys.stderr)
        return 2
    with open(args[0]) as fh:
        settings = json.load(fh)
    password = settings["password_file"]
    if not os.path.isfile(password) or os.path.getsize(password) == 0:
        # restic would ask on a terminal there is none of; say which file is missing instead.
        print(
            f"hkmail-backup: ALARM no repository password in {password} (password_file); "
            "nothing backed up",
            file=sys.stderr,
            flush=True,
        )
        return 2
    return backup(settings) if target is None else restore(settings, target)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
