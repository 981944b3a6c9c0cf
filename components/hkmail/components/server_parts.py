"""What the parts of both private-server components share: the build context every part (keys,
network, secrets, compute, storage, audit) takes, and the secret payloads the instance reads."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final

import pulumi

from hkmail.mailserver.deploy import PrivateMailServerArgs, secret_json
from hkmail.mailserver.model import MailServerConfig

#: The backup bucket's name: the archive bucket's and this (OSS under WORM only).
BACKUP_BUCKET_SUFFIX: Final = "-backup"

#: The server-log store (SLS logstore, CLS topic) hkmail-logship writes to.
SERVER_LOGSTORE = "server"


def cls_logset(prefix: str) -> str:
    """The stack's CLS logset in Hong Kong (audit trail and server logs)."""
    return f"{prefix}-mail-audit"


def cls_server_topic(prefix: str) -> str:
    """The CLS topic of the server's logs (hkmail-logship finds its id by this name)."""
    return f"{prefix}-mail-{SERVER_LOGSTORE}"


def sls_project(prefix: str, account_id: str) -> str:
    """The stack's SLS project in Hong Kong (audit trail and server logs)."""
    return f"{prefix}-mail-audit-{account_id}"


@dataclass(frozen=True)
class Build:
    """One private server under construction: its component, names and validated args."""

    component: pulumi.ComponentResource
    #: the component's name: the prefix of every child's Pulumi name
    name: str
    args: PrivateMailServerArgs
    #: the server config with the cloud's data device and the archive bucket filled in
    server: MailServerConfig

    @classmethod
    def of(
        cls,
        component: pulumi.ComponentResource,
        name: str,
        args: PrivateMailServerArgs,
        default_data_device: str,
    ) -> Build:
        server = args.server
        if server.data_device is None:
            server = dataclasses.replace(server, data_device=default_data_device)
        # The journal goes to the archive bucket, named as the cloud names it (COS: -APPID).
        bucket = args.archive_bucket
        if server.secrets.cloud == "tencentcloud":
            bucket = f"{bucket}-{args.app_id}"
        # OSS's retention policy (WORM) is bucket-wide and refuses every delete, restic's lock
        # files and prunes too: under WORM the backup gets a bucket of its own.
        backup = (
            f"{bucket}{BACKUP_BUCKET_SUFFIX}"
            if server.secrets.cloud == "alicloud" and args.retention_days is not None
            else None
        )
        server = dataclasses.replace(server, archive_bucket=bucket, backup_bucket=backup)

        server = dataclasses.replace(server, archive_bucket=bucket)
        # hkmail-logship writes to the "server" logstore of the stack's SLS project, or the
        # server topic of its CLS logset: names known before apply (a CLS topic's id is not; the
        # shipper looks it up by these names).
        if server.secrets.cloud == "alicloud":
            log = f"{sls_project(args.name, args.account_id)}/{SERVER_LOGSTORE}"
        else:
            log = f"{cls_logset(args.name)}/{cls_server_topic(args.name)}"
        server = dataclasses.replace(server, server_log=log)
        return cls(component, name, args, server)

    @property
    def prefix(self) -> str:
        """The prefix of the cloud-side names (instance, bucket, log project...)."""
        return self.args.name

    @property
    def child(self) -> pulumi.ResourceOptions:
        return pulumi.ResourceOptions(parent=self.component)

    @property
    def keep(self) -> pulumi.ResourceOptions:
        """Data-bearing: never deleted by Pulumi, and a `pulumi destroy` leaves it in place."""
        return pulumi.ResourceOptions(parent=self.component, protect=True, retain_on_delete=True)

    def keep_secret(self, output: str) -> pulumi.ResourceOptions:
        """Data-bearing, and ``output`` is kept encrypted in the state."""
        return pulumi.ResourceOptions(
            parent=self.component,
            protect=True,
            retain_on_delete=True,
            additional_secret_outputs=[output],
        )

    def secret_payloads(self) -> dict[str, pulumi.Output[str]]:
        """Secret name -> value, as the boot script reads them; values only as Pulumi secrets."""
        refs, args = self.server.secrets, self.args
        notify = (
            {refs.notify_targets: pulumi.Output.secret(args.notify_webhooks)}
            if refs.notify_targets and args.notify_webhooks is not None
            else {}
        )
        backup = (
            {refs.backup_password: pulumi.Output.secret(args.backup_password)}
            if refs.backup_password
            else {}
        )
        return {
            **notify,
            refs.dkim_private_key: pulumi.Output.secret(args.dkim_private_key),
            refs.mailbox_hashes: secret_json(args.mailbox_password_hashes),
            refs.relay_credentials: secret_json(
                {"username": args.relay_username, "password": args.relay_password}
            ),
            **backup,
        }
