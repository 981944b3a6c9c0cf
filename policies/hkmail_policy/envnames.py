"""Whether an environment variable's name says it is only read from (a mirror, a registry, a
download source), so a URL in it is not where data is sent.

The name is split into words (on `_`, `-`, `.`, spaces and camelCase) and only whole words count:
REPORT_URL is not a "repo", CAPTURE_HOOK not an "apt", RESOURCE_CALLBACK not a "source". A name
with any word of sending is never read-only, whatever else it says (fail closed: the name alone
cannot prove a read).
"""

from __future__ import annotations

import re

# words that name a place only read from
_READ = re.compile(
    r"mirrors?|registry|registries|downloads?|sources?|origin|index|repos?|repository"
    r"|pypi|npm|apt|ntp|images?|pull|fetch"
)
# words that name a place data goes to
_SEND = re.compile(
    r"(?:web)?hooks?|callbacks?|reports?|reporting|reporter|sinks?|notif\w*|alerts?|alerting"
    r"|push|endpoints?|uploads?|post|smtps?|e?mail\w*|sends?|sender|senders|dest|destination"
    r"|targets?|exports?|exporter|ingest\w*|forward\w*|relay|collect\w*|publish\w*|emit\w*"
    r"|telemetry|beacon|logs?|logging|audit|backups?|archive|sync|out|output|outbound|put|write"
)
_PART = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")


def words(name: str) -> list[str]:
    """The lower-case words of a variable name: `pipIndexURL` -> pip, index, url."""
    return [w.lower() for part in re.split(r"[_\-.\s]+", name) for w in _PART.findall(part)]


def read_only(name: str) -> bool:
    """True if a word of the name is one of reading and none is one of sending."""
    ws = words(name)
    return any(_READ.fullmatch(w) for w in ws) and not any(_SEND.fullmatch(w) for w in ws)
