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
# (short flags may be grouped or take their value attached: -sSd@f, -XPOST)
_CURL_SENDS = re.compile(
    r"(?:^|\s)(?:-[fsSLkvgiIqN]*[dTF]|-X\s*(PUT|POST|PATCH)|(--upload-file|--data(-\w+)?"
    r"|--form(-string)?|--json|--request[\s=]+(PUT|POST|PATCH))(?=\s|=|$))"
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
    r"^(?:sudo\s+)?(ossutil(?:64)?|coscli|coscmd|s3cmd|aws\s+s3)\s+(cp|sync|download|get)\b"
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
        if m.group(2) in ("download", "get"):
            return True
        args = [w for w in words[2 if m.group(1) != "aws s3" else 3 :] if not w.startswith("-")]
        # ossutil cp oss://bucket/key /local/path: the source is remote, the destination local
        return len(args) >= 2 and bool(_REMOTE.match(args[0])) and not _REMOTE.match(args[1])
    return False


# commands that can carry data to the host a URL names (when the segment does not only read)
_SENDERS = frozenset(
    {"curl", "wget", "ossutil", "ossutil64", "coscli", "coscmd", "aws", "s3cmd", "rclone",
     "restic", "rsync", "scp", "sftp", "ssh", "socat", "nc", "ncat", "netcat", "ftp", "lftp",
     "swaks", "sendmail", "mail", "mailx", "http", "https", "xh"}
)  # fmt: skip
# commands that run the command after them: their options that take an argument (the argument is
# skipped with the option), and how many operands come before the command (timeout's duration)
_WRAPPERS: dict[str, tuple[frozenset[str], int]] = {
    "env": (frozenset({"-u", "--unset", "-C", "--chdir"}), 0),
    "timeout": (frozenset({"-s", "--signal", "-k", "--kill-after"}), 1),
    "nohup": (frozenset(), 0),
    "nice": (frozenset({"-n", "--adjustment"}), 0),
    "ionice": (frozenset({"-c", "--class", "-n", "--classdata", "-p", "--pid"}), 0),
    "exec": (frozenset({"-a"}), 0),
    "command": (frozenset(), 0),
    "time": (frozenset({"-f", "--format", "-o", "--output"}), 0),
    "setsid": (frozenset(), 0),
    "stdbuf": (frozenset({"-i", "-o", "-e"}), 0),
    "sudo": (frozenset({"-u", "-g", "-h", "-p", "-C", "-D", "-r", "-t", "-U", "-T"}), 0),
    "doas": (frozenset({"-u", "-C"}), 0),
    "xargs": (frozenset({"-I", "-n", "-P", "-L", "-d", "-a", "-s", "-E"}), 0),
}
_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ash", "ksh"})
_OPERATORS = set(";&|()")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SENDER_WORD = re.compile(r"(?:^|[\s/;&|(`])(" + "|".join(sorted(_SENDERS)) + r")(?=\s|$)")


def _segments(line: str) -> list[list[str]] | None:
    """The simple commands of a line (split on |, ||, &&, ;, &, parentheses and backquotes),
    each as its words; None when the line cannot be parsed (an open quote)."""
    lex = shlex.shlex(line.replace("`", " ; "), posix=True, punctuation_chars=";&|()")
    lex.whitespace_split = True
    lex.commenters = ""
    try:
        tokens = list(lex)
    except ValueError:
        return None
    segments: list[list[str]] = [[]]
    for token in tokens:
        if token and set(token) <= _OPERATORS:
            segments.append([])
        else:
            segments[-1].append(token)
    return [seg for seg in segments if seg]


def _unquoted(raw: str) -> str:
    """A line without its YAML list dash and the quotes around the whole line (`- 'curl ...'`)."""
    text = raw.strip().lstrip("-").strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text


def _command(words: list[str]) -> list[str]:
    """The words from the command that runs: leading assignments and wrapper commands (env,
    timeout, nice, sudo, xargs, ...) with their options and operands are skipped."""
    i = 0
    while i < len(words):
        if _ASSIGNMENT.match(words[i]):
            i += 1
            continue
        wrapper = _WRAPPERS.get(words[i].rsplit("/", 1)[-1])
        if wrapper is None:
            break
        with_arg, operands = wrapper
        i += 1
        while i < len(words) and words[i].startswith("-") and words[i] != "-":
            i += 2 if words[i] in with_arg else 1
        i += operands
    return words[i:]


def _segment_sends(words: list[str]) -> bool:
    if words and words[0].startswith("#"):
        return False  # a comment
    words = _command(words)
    if not words:
        return False
    cmd = words[0].rsplit("/", 1)[-1]
    if cmd in _SHELLS and "-c" in words[1:-1]:
        return sends(words[words.index("-c", 1) + 1])
    if cmd not in _SENDERS:
        return False
    return not reads_only(shlex.join([cmd, *words[1:]]))


def sends(line: str) -> bool:
    """True if a command of the line (each part of a pipeline or chain, after wrappers such as
    env, timeout, sudo or xargs) can carry data to a host (a copy, an upload, a POST, a remote
    shell, mail) and does not only read. A line that cannot be parsed counts as sending when it
    names such a command (fail closed). Configuration lines and unknown commands are not counted:
    they are judged by the host table and region ids like any other value."""
    for raw in line.splitlines():
        text = _unquoted(raw)
        if not text:
            continue
        segments = _segments(text)
        if segments is None:
            if _SENDER_WORD.search(text):
                return True
            continue
        if any(_segment_sends(seg) for seg in segments):
            return True
    return False


# remote shells and copies name their host without a URL: user@host[:path] or host:path
_SHELL_COPIES = frozenset({"ssh", "scp", "sftp", "rsync"})
_NETCATS = frozenset({"nc", "ncat", "netcat"})
_HOST = r"([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
_USER_HOST = re.compile(rf"^(?:[^@\s/:]+@){_HOST}(?::|$)|^{_HOST}:(?!//)")
_SOCAT_ADDRESS = re.compile(rf"(?i)^(?:tcp|tcp4|tcp6|udp|udp4|udp6|openssl|ssl):{_HOST}:")
_BARE_HOST = re.compile(rf"^{_HOST}$")


def remote_hosts(line: str) -> list[str]:
    """Hosts a sending command of the line names without a URL: the user@host or host:path of
    ssh, scp, sftp and rsync, the host of nc / ncat, socat's TCP:host:port."""
    hosts: list[str] = []
    for raw in line.splitlines():
        segments = _segments(_unquoted(raw)) or []
        for seg in segments:
            words = _command(seg)
            cmd = words[0].rsplit("/", 1)[-1] if words else ""
            for word in words[1:]:
                if cmd in _SHELL_COPIES:
                    m = _USER_HOST.match(word)
                elif cmd == "socat":
                    m = _SOCAT_ADDRESS.match(word)
                elif cmd in _NETCATS:
                    m = _BARE_HOST.match(word)
                else:
                    break
                if m:
                    hosts.append(next(g for g in m.groups() if g))
    return hosts
