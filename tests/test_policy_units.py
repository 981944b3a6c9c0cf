"""Property tests of the pack's building blocks (the rules built on them are tested over gRPC)."""

from __future__ import annotations

import base64
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "policies"))

from hkmail_policy import regions
from hkmail_policy.rules.mailauth import rsa_modulus_bits
from hkmail_policy.values import SECRET_SIG, SIG_KEY, leaves

OUTSIDE = sorted(regions.KNOWN_REGIONS - set(regions.DEFAULT_ALLOWED))
label = st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)


@given(st.sampled_from(OUTSIDE), label, label)
def test_region_embedded_in_a_host_name_is_found(region: str, left: str, right: str) -> None:
    for text in (f"{left}.{region}.{right}.com", f"{left}-{region}", f"qcs::cos:{region}::{left}"):
        found = regions.embedded_regions(text)
        assert region in found, text
        assert not any(regions.in_allowed(r, regions.DEFAULT_ALLOWED) for r in found)


@given(st.sampled_from(sorted(regions.KNOWN_REGIONS)), st.sampled_from("abcdefgh"))
def test_zone_belongs_to_its_region(region: str, letter: str) -> None:
    assert regions.region_of(f"{region}-{letter}") == region
    allowed = regions.in_allowed(f"{region}-{letter}", regions.DEFAULT_ALLOWED)
    assert allowed == (region in regions.DEFAULT_ALLOWED)


def test_hong_kong_ids_are_not_flagged() -> None:
    for text in ("cn-hongkong", "cn-hongkong-b", "ap-hongkong-2", "oss-cn-hongkong.aliyuncs.com"):
        found = regions.embedded_regions(text)
        assert found and all(regions.in_allowed(r, regions.DEFAULT_ALLOWED) for r in found)
    assert regions.embedded_regions("vpc-2ze0abc, sg-hk01, Asia/Hong_Kong") == []
    assert regions.numeric_zone_allowed(300002, ["ap-hongkong"])
    assert not regions.numeric_zone_allowed(100003, ["ap-hongkong"])


@given(st.integers(min_value=512, max_value=4096), st.booleans())
def test_rsa_modulus_bits_measures_der_keys(bits: int, spki: bool) -> None:
    key = rsa.RSAPublicNumbers(65537, (1 << (bits - 1)) | 1).public_key()
    fmt = (
        serialization.PublicFormat.SubjectPublicKeyInfo
        if spki
        else serialization.PublicFormat.PKCS1
    )
    der = key.public_bytes(serialization.Encoding.DER, fmt)
    assert rsa_modulus_bits(der) == bits
    assert base64.b64decode(base64.b64encode(der)) == der


def test_leaves_keep_secret_and_list_shape() -> None:
    props = {"dataDisks": [{"kmsKeyId": {SIG_KEY: SECRET_SIG, "value": "k"}}], "n": 2.0}
    got = {leaf.path: leaf for leaf in leaves(props)}
    assert (
        got["dataDisks[0].kmsKeyId"].secret and got["dataDisks[0].kmsKeyId"].shown() == "[secret]"
    )
    assert got["dataDisks[0].kmsKeyId"].shape == "dataDisks[].kmsKeyId"
    assert got["n"].value == 2 and isinstance(got["n"].value, int)
