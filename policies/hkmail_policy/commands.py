"""What a line of a boot script or cloud-config does with the host it names: only read from it
(download, pull, install from a mirror, sync time), or possibly send data to it.

A line that only reads takes data INTO Hong Kong: not a flow out, whatever region the host is in
(issue 18: a download of public data from another region's bucket at boot is not a leak). Every
other line is judged as before (fail closed: a command we do not recognise may send).
"""

from __future__ import annotations

import re
import shlex

# curl / wget options that send a body or upload a file
_CURL_SENDS = re.compile(
    r"(?:^|\s)(-T|--upload-file|-d|--data(-\w+)?|-F|--form(-string)?|--json|-X\s*(PUT|POST|PATCH)"
    r"|--request\s+(PUT|POST|PATCH))(?=\s|=|$)"
)
_WGET_SENDS = re.compile(r"--(post-data|post-file|body-data|body-file|method=(PUT|POST|PATCH))")
# commands that only fetch
_FETCH = re.compile(
    r"(?x)^(?:sudo\s+)?(?:"
    r"(?:apt|apt-get|yum|dnf|zypper|apk)\s+(?:-\S+\s+)*(?:install|update|upgrade)"
    r"|pip3?\s+(?:-\S+\s+)*install|npm\s+(?:-\S+\s+)*(?:install|ci)"
    r"|git\s+(?:clone|fetch|pull)|docker\s+pull|ctr\s+(?:-\S+\s+)*(?:images\s+)?pull"
    r"|podman\s+pull|add-apt-repository"
    r")\b"
)
# configuration lines that name a host to read from: apt sources, NTP / chrony servers, pip and
# registry mirrors, cloud-init #include
_READ_CONFIG = re.compile(
    r"(?x)^(?:-\s*)?(?:"
    r"deb(?:-src)?\s|(?:server|pool)\s+\S+(?:\s+iburst)?\s*$|\#include\b|index-url\s*=|"
    r"(?:baseurl|mirrorlist|registry-mirrors?|index_url|extra-index-url)\s*[=:]"
    r")"
)
# object-storage CLIs: a copy whose destination is local reads; any other copy may send
_STORAGE_CP = re.compile(
    r"^(?:sudo\s+)?(ossutil(?:64)?|coscli|coscmd|aws\s+s3)\s+(cp|sync|download)\b"
)
_REMOTE = re.compile(r"^(oss|cos|s3)://")


def _words(line: str) -> list[str]:
    try:
        return shlex.split(line, comments=False)
    except ValueError:
        return line.split()


def reads_only(line: str) -> bool:
    """True if the line only reads from the hosts it names."""
    text = line.strip().lstrip("-").strip().strip("'\"")
    if not text:
        return False
    if _READ_CONFIG.match(text) or _FETCH.match(text):
        return "|" not in text and ">" not in text.split("#", 1)[0].replace("->", "")
    # one command per line; a pipeline or chain may send what it fetched elsewhere
    if re.search(r"[|;&`]|\$\(", text):
        return False
    words = _words(text)
    if not words:
        return False
    cmd = words[0].rsplit("/", 1)[-1]
    if cmd == "sudo" and len(words) > 1:
        words = words[1:]
        cmd = words[0].rsplit("/", 1)[-1]
    if cmd == "curl":
        return not _CURL_SENDS.search(text)
    if cmd == "wget":
        return not _WGET_SENDS.search(text)
    m = _STORAGE_CP.match(" ".join(words))
    if m:
        if m.group(2) == "download":
            return True
        args = [w for w in words[2 if m.group(1) != "aws s3" else 3 :] if not w.startswith("-")]
        # ossutil cp oss://bucket/key /local/path: the source is remote, the destination local
        return len(args) >= 2 and bool(_REMOTE.match(args[0])) and not _REMOTE.match(args[1])
    return False


# commands that can carry data to the host a URL names (when the line does not only read)
_SENDERS = frozenset(
    {"curl", "wget", "ossutil", "ossutil64", "coscli", "coscmd", "aws", "rclone", "restic",
     "rsync", "scp", "sftp", "swaks", "sendmail", "nc", "ncat", "http", "https", "xh"}
)  # fmt: skip


def sends(line: str) -> bool:
    """True if the line is a command that can carry data to a host (a copy, an upload, a POST)
    and does not only read. Configuration lines and unknown commands are not counted: they are
    judged by the host table and region ids like any other value."""
    text = line.strip().lstrip("-").strip().strip("'\"")
    words = _words(text)
    if words and words[0].rsplit("/", 1)[-1] == "sudo":
        words = words[1:]
    if not words or words[0].rsplit("/", 1)[-1] not in _SENDERS:
        return False
    return not reads_only(line)
