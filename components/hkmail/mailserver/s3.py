"""A small S3 client (Signature V4, standard library only) for the archive bucket.

Both clouds answer the S3 API on their Hong Kong endpoints: Alibaba OSS at
``s3.oss-cn-hongkong.aliyuncs.com`` (virtual-hosted style only) and Tencent COS at
``cos.ap-hongkong.myqcloud.com`` (Tencent Cloud, *Accessing COS with AWS S3 SDK*, 2025-01-24,
which signs with a temporary key's token). The instance role's temporary key is sent as
``x-amz-security-token``. The server's journal uploader and ``scripts/archive`` share this client,
so what the tests prove against the loopback store is what runs on the instance.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

Credentials = tuple[str, str, str | None]  # key id, secret, session token
_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class StoreError(Exception):
    """The store refused a request (4xx): retrying the same request would not help."""


class StoreUnavailable(Exception):
    """Network error or 5xx: the store may answer later."""


@dataclass(frozen=True)
class Head:
    etag: str  # lower-case hex, quotes removed
    size: int
    meta: Mapping[str, str]  # x-amz-meta-* without the prefix, lower-case names


@dataclass
class S3:
    endpoint: str  # https://host[:port]
    region: str  # the Signature V4 region (OSS: oss-cn-hongkong; COS: ap-hongkong)
    bucket: str
    credentials: Callable[[], Credentials]
    path_style: bool = False  # OSS refuses path style; the loopback test store needs it
    timeout: float = 30.0

    # -- requests -------------------------------------------------------------------------------

    def _url(self, key: str, query: Mapping[str, str] | None) -> tuple[str, str, str]:
        parts = urllib.parse.urlsplit(self.endpoint)
        path = "/" + urllib.parse.quote(key, safe="/-_.~")
        if self.path_style:
            host, path = parts.netloc, f"/{self.bucket}{path}"
        else:
            host = f"{self.bucket}.{parts.netloc}"
        qs = "&".join(
            f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
            for k, v in sorted((query or {}).items())
        )
        return f"{parts.scheme}://{host}{path}" + (f"?{qs}" if qs else ""), host, path

    def request(
        self,
        method: str,
        key: str = "",
        *,
        query: Mapping[str, str] | None = None,
        body: bytes = b"",
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        url, host, path = self._url(key, query)
        key_id, secret, token = self.credentials()
        now = dt.datetime.now(dt.UTC)
        amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        h = {k.lower(): v.strip() for k, v in (headers or {}).items()}
        h["host"] = host
        h["x-amz-date"] = amz_date
        h["x-amz-content-sha256"] = hashlib.sha256(body).hexdigest()
        if token:
            h["x-amz-security-token"] = token
        signed = ";".join(sorted(h))
        canonical = "\n".join(
            [
                method,
                path,
                url.partition("?")[2],
                "".join(f"{k}:{h[k]}\n" for k in sorted(h)),
                signed,
                h["x-amz-content-sha256"],
            ]
        )
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = "\n".join(
            ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
        )
        k = ("AWS4" + secret).encode()
        for part in (day, self.region, "s3", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        sig = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
        h["authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={signed}, Signature={sig}"
        )
        del h["host"]
        req = urllib.request.Request(url, data=body or None, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return resp.status, dict(resp.headers.items()), resp.read()
        except urllib.error.HTTPError as exc:
            data = exc.read()
            if exc.code >= 500:
                raise StoreUnavailable(f"{method} {key}: HTTP {exc.code}") from None
            return exc.code, dict(exc.headers.items()), data
        except OSError as exc:  # refused, reset, timeout, DNS
            raise StoreUnavailable(f"{method} {key}: {exc}") from None

    @staticmethod
    def _fail(what: str, status: int, body: bytes) -> StoreError:
        code = ""
        try:
            el = ET.fromstring(body).find("Code")
            code = el.text or "" if el is not None else ""
        except ET.ParseError:
            pass
        return StoreError(f"{what}: HTTP {status} {code}".rstrip())

    # -- operations -----------------------------------------------------------------------------

    def put(
        self,
        key: str,
        data: bytes,
        meta: Mapping[str, str] | None = None,
        content_type: str = "application/octet-stream",
    ) -> str:
        """Store ``data``; the store checks it against Content-MD5. Returns the ETag."""
        headers = {
            "Content-MD5": base64.b64encode(hashlib.md5(data).digest()).decode(),
            # Always set: urllib would otherwise send a form type, which servers may parse.
            "Content-Type": content_type,
        }
        headers.update({f"x-amz-meta-{k}": v for k, v in (meta or {}).items()})
        status, h, body = self.request("PUT", key, body=data, headers=headers)
        if status != 200:
            raise self._fail(f"PUT {key}", status, body)
        return _etag(h)

    def head(self, key: str) -> Head | None:
        status, h, body = self.request("HEAD", key)
        if status == 404:
            return None
        if status != 200:
            raise self._fail(f"HEAD {key}", status, body)
        low = {k.lower(): v for k, v in h.items()}
        meta = {k[len("x-amz-meta-") :]: v for k, v in low.items() if k.startswith("x-amz-meta-")}
        return Head(_etag(h), int(low.get("content-length", "0")), meta)

    def get(self, key: str) -> bytes:
        status, _, body = self.request("GET", key)
        if status != 200:
            raise self._fail(f"GET {key}", status, body)
        return body

    def list(self, prefix: str) -> Iterator[str]:
        """Every key under ``prefix`` (ListObjectsV2, page by page)."""
        token: str | None = None
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if token:
                query["continuation-token"] = token
            status, _, body = self.request("GET", "", query=query)
            if status != 200:
                raise self._fail(f"LIST {prefix}", status, body)
            root = ET.fromstring(body)
            for el in root.iter(f"{_NS}Key"):
                yield el.text or ""
            for el in root.iter("Key"):  # a store that answers without the namespace
                yield el.text or ""
            truncated = root.findtext(f"{_NS}IsTruncated") or root.findtext("IsTruncated")
            token = root.findtext(f"{_NS}NextContinuationToken") or root.findtext(
                "NextContinuationToken"
            )
            if truncated != "true" or not token:
                return


def _etag(headers: Mapping[str, str]) -> str:
    low = {k.lower(): v for k, v in headers.items()}
    return low.get("etag", "").strip('"').lower()
