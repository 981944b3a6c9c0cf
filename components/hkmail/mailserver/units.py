"""systemd units of hk-mail's own small daemons: one shape, hardened alike."""

from __future__ import annotations


def daemon_unit(
    purpose: str,
    description: str,
    *,
    before: str,
    user: str,
    umask: str,
    exec_start: str,
    read_write: str | None = None,
) -> str:
    """A service run as its own ``user`` with the filesystem read-only but for ``read_write``
    (space-separated paths: its socket's directory); started before the daemon it serves."""
    writable = f"ReadWritePaths={read_write}\n" if read_write else ""
    return f"""\
# Rendered by hk-mail: {purpose}
[Unit]
Description=hk-mail: {description}
Before={before}

[Service]
User={user}
Group={user}
UMask={umask}
ExecStart={exec_start}
Restart=on-failure
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
{writable}
[Install]
WantedBy=multi-user.target
"""
