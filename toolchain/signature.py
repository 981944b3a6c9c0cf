"""Detached signatures of evidence files with a key the firm holds (offline; CI uses Sigstore
keyless signing instead, see .github/workflows/policy-gate.yml).

The signature is ECDSA P-256 over SHA-256, DER-encoded, base64 in ``FILE.sig``: the format of
``cosign sign-blob --key``, so either of these verifies it:

    python -m toolchain.signature verify --key report.pub FILE
    openssl dgst -sha256 -verify report.pub -signature <(base64 -d FILE.sig) FILE

Exit 0: signed / verified; 1: the signature does not match; 2: bad input (file, key)."""

from __future__ import annotations

import argparse
import base64
import binascii
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

PASSPHRASE_ENV = "HKMAIL_SIGNING_KEY_PASSPHRASE"


class SignatureError(ValueError):
    pass


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SignatureError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from None


def load_private_key(path: Path) -> ec.EllipticCurvePrivateKey:
    secret = os.environ.get(PASSPHRASE_ENV)
    try:
        key = serialization.load_pem_private_key(
            _read(path, "signing key"), password=secret.encode() if secret else None
        )
    except (ValueError, TypeError) as exc:
        raise SignatureError(
            f"{path}: not a PEM private key (an encrypted one needs {PASSPHRASE_ENV}): {exc}"
        ) from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise SignatureError(f"{path}: the signing key must be ECDSA P-256 (cosign's key type)")
    return key


def load_public_key(path: Path) -> ec.EllipticCurvePublicKey:
    try:
        key = serialization.load_pem_public_key(_read(path, "public key"))
    except ValueError as exc:
        raise SignatureError(f"{path}: not a PEM public key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise SignatureError(f"{path}: the public key must be ECDSA P-256")
    return key


def sign(file: Path, key: ec.EllipticCurvePrivateKey) -> Path:
    """Write ``file.sig`` (base64 DER) and return its path."""
    sig = key.sign(_read(file, "file to sign"), ec.ECDSA(hashes.SHA256()))
    out = file.with_name(file.name + ".sig")
    out.write_text(base64.b64encode(sig).decode() + "\n", encoding="ascii")
    return out


def verify(file: Path, key: ec.EllipticCurvePublicKey, sig_file: Path | None = None) -> bool:
    sig_path = sig_file or file.with_name(file.name + ".sig")
    try:
        sig = base64.b64decode(_read(sig_path, "signature").strip(), validate=True)
    except binascii.Error as exc:
        raise SignatureError(f"{sig_path}: not base64: {exc}") from None
    try:
        key.verify(sig, _read(file, "signed file"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m toolchain.signature",
        description="Sign evidence files (FILE.sig, cosign's sign-blob format) or verify them.",
    )
    sub = ap.add_subparsers(dest="command", required=True)
    s = sub.add_parser("sign", help="write FILE.sig for each FILE")
    s.add_argument("--key", required=True, help=f"ECDSA P-256 PEM private key ({PASSPHRASE_ENV})")
    s.add_argument("files", nargs="+", help="files to sign")
    v = sub.add_parser("verify", help="check FILE against FILE.sig (or --signature)")
    v.add_argument("--key", required=True, help="the signer's PEM public key")
    v.add_argument("--signature", help="the signature file (default: FILE.sig)")
    v.add_argument("file", help="the signed file")
    args = ap.parse_args(argv)
    try:
        if args.command == "sign":
            key = load_private_key(Path(args.key))
            for f in args.files:
                print(f"signed {f}: {sign(Path(f), key)}")
            return 0
        ok = verify(
            Path(args.file),
            load_public_key(Path(args.key)),
            Path(args.signature) if args.signature else None,
        )
    except SignatureError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"{args.file}: {'signature OK' if ok else 'SIGNATURE DOES NOT MATCH'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
