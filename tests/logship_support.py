"""Judges of hkmail-logship's requests shared by its tests: the log stores' own SDKs (signatures,
protobuf) and fake SLS / CLS endpoints on loopback that check every signature and decode every
batch."""

from __future__ import annotations

import hashlib
import importlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from hkmail.mailserver import logship_files

Creds = tuple[str, str, str]
Batch = list[tuple[int, list[tuple[str, str]]]]


def fields_of(log: Any, key: str = "Contents") -> list[tuple[str, str]]:
    out = []
    for c in getattr(log, key):
        k = c.Key if hasattr(c, "Key") else c.key
        v = c.Value if hasattr(c, "Value") else c.value
        out.append((k, v.decode() if isinstance(v, bytes) else v))
    return out


CLS_PROTO = """
package cls;
message Log { message Content { required string key = 1; required string value = 2; }
              required int64 time = 1; repeated Content contents = 2; }
message LogTag { required string key = 1; required string value = 2; }
message LogGroup { repeated Log logs = 1; optional string contextFlow = 2;
                   optional string filename = 3; optional string source = 4;
                   repeated LogTag logTags = 5; }
message LogGroupList { repeated LogGroup logGroupList = 1; }
"""  # from Tencent's UploadLog documentation (in tencentcloud-sdk-python's cls_client.py)


def cls_classes() -> Any:
    """LogGroupList from the documented cls.proto (built without protoc)."""
    f = descriptor_pb2.FileDescriptorProto(name="hkmail_test_cls.proto", package="hkmailtestcls")
    req = descriptor_pb2.FieldDescriptorProto.LABEL_REQUIRED
    opt = descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL
    rep = descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED
    string = descriptor_pb2.FieldDescriptorProto.TYPE_STRING
    int64 = descriptor_pb2.FieldDescriptorProto.TYPE_INT64
    msg = descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE

    def add(parent: Any, name: str, fields: list[tuple[str, int, int, int, str]]) -> Any:
        m = parent.add(name=name)
        for fname, number, label, ftype, type_name in fields:
            fld = m.field.add(name=fname, number=number, label=label, type=ftype)
            if type_name:
                fld.type_name = type_name
        return m

    log = add(f.message_type, "Log", [("time", 1, req, int64, "")])
    add(log.nested_type, "Content", [("key", 1, req, string, ""), ("value", 2, req, string, "")])
    log.field.add(
        name="contents", number=2, label=rep, type=msg, type_name=".hkmailtestcls.Log.Content"
    )
    add(
        f.message_type,
        "LogGroup",
        [
            ("logs", 1, rep, msg, ".hkmailtestcls.Log"),
            ("contextFlow", 2, opt, string, ""),
            ("filename", 3, opt, string, ""),
            ("source", 4, opt, string, ""),
        ],
    )
    add(
        f.message_type,
        "LogGroupList",
        [("logGroupList", 1, rep, msg, ".hkmailtestcls.LogGroup")],
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("hkmailtestcls.LogGroupList"))


def decode_cls(body: bytes) -> list[tuple[int, list[tuple[str, str]]]]:
    lst = cls_classes()()
    lst.ParseFromString(body)
    (group,) = lst.logGroupList
    assert group.filename == "hkmail"
    return [(log.time, [(c.key, c.value) for c in log.contents]) for log in group.logs]


def sdk_cls_headers(body: bytes, topic: str, timestamp: int, creds: Creds) -> dict[str, str]:
    """The headers tencentcloud-sdk-python's CLS client builds for UploadLog."""
    from tencentcloud.cls.v20201016.cls_client import ClsClient
    from tencentcloud.common.credential import Credential
    from tencentcloud.common.http.request import RequestInternal
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile

    ac = importlib.import_module("tencentcloud.common.abstract_client")
    profile = ClientProfile(
        httpProfile=HttpProfile(endpoint=logship_files.LOG_API_HOST["tencentcloud"])
    )
    client = ClsClient(Credential(*creds), "ap-hongkong", profile)
    req = RequestInternal(client._get_endpoint(), "POST", "/", header={"X-CLS-TopicId": topic})
    req.data = body
    real_time = ac.time.time
    ac.time.time = lambda: timestamp
    try:
        client._build_req_inter("UploadLog", None, req, {"IsOctetStream": True})
    finally:
        ac.time.time = real_time
    return dict(req.header)


def sdk_cls_json_request(
    action: str, params: dict[str, Any], timestamp: int, creds: Creds
) -> tuple[dict[str, str], bytes]:
    """The headers and body tencentcloud-sdk-python's CLS client builds for a JSON action."""
    from tencentcloud.cls.v20201016.cls_client import ClsClient
    from tencentcloud.common.credential import Credential
    from tencentcloud.common.http.request import RequestInternal
    from tencentcloud.common.profile.client_profile import ClientProfile
    from tencentcloud.common.profile.http_profile import HttpProfile

    ac = importlib.import_module("tencentcloud.common.abstract_client")
    profile = ClientProfile(
        httpProfile=HttpProfile(endpoint=logship_files.LOG_API_HOST["tencentcloud"])
    )
    client = ClsClient(Credential(*creds), "ap-hongkong", profile)
    req = RequestInternal(client._get_endpoint(), "POST", "/")
    real_time = ac.time.time
    ac.time.time = lambda: timestamp
    try:
        client._build_req_inter(action, params, req, {})
    finally:
        ac.time.time = real_time
    data = req.data.encode() if isinstance(req.data, str) else req.data
    return dict(req.header), data


def sdk_sls_authorization(
    headers: dict[str, str], resource: str, body: bytes, creds: tuple[str, str, str]
) -> str:
    """The Authorization aliyun-log-python-sdk's AuthV1 computes for the same request."""
    from aliyun.log.auth import AuthV1
    from aliyun.log.credentials import StaticCredentialsProvider

    auth = AuthV1(StaticCredentialsProvider(*creds))
    theirs = {
        k: v
        for k, v in headers.items()
        if k in ("Content-Type", "x-log-bodyrawsize", "x-log-apiversion", "Host")
    }
    date = headers["Date"]
    original = AuthV1._getGMT
    AuthV1._getGMT = staticmethod(lambda: date)  # type: ignore[method-assign]
    try:
        auth.sign_request("POST", resource, {}, theirs, body)
    finally:
        AuthV1._getGMT = original  # type: ignore[method-assign]
    return str(theirs["Authorization"])


class FakeSLS:
    """An SLS PutLogs endpoint on loopback: refuses a bad signature or MD5, decodes each batch;
    ``down`` makes it answer 503."""

    def __init__(self, creds: Creds) -> None:
        self.batches: list[list[tuple[int, list[tuple[str, str]]]]] = []
        self.refused: list[str] = []
        self.down = False
        store = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                from aliyun.log.log_logs_raw_pb2 import LogGroupRaw

                body = self.rfile.read(int(self.headers["Content-Length"]))
                if store.down:
                    self.send_response(503)
                    self.end_headers()
                    return
                # HTTP header names are case-insensitive (urllib sends "X-log-..."); SLS
                # canonicalises the x-log-*/x-acs-* names in lower case.
                h = {k.lower(): v for k, v in self.headers.items()}
                h |= {
                    "Content-Type": h.get("content-type", ""),
                    "Content-MD5": h.get("content-md5", ""),
                    "Date": h.get("date", ""),
                }
                ok = (
                    h.get("Content-MD5") == hashlib.md5(body).hexdigest().upper()
                    and h.get("x-acs-security-token") == creds[2]
                    and h.get("authorization") == sdk_sls_authorization(h, self.path, body, creds)
                )
                if not ok:
                    store.refused.append(self.path)
                    self.send_response(401)
                    self.end_headers()
                    return
                group = LogGroupRaw()
                group.ParseFromString(body)
                store.batches.append([(log.Time, fields_of(log)) for log in group.Logs])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def messages(self) -> list[str]:
        return [dict(f)["message"] for batch in self.batches for _, f in batch]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FakeCLS:
    """A CLS UploadLog endpoint (API 3.0) on loopback: refuses a request whose TC3 signature,
    token, action, version, region or topic differs from what tencentcloud-sdk-python would send;
    decodes each batch (the documented cls.proto)."""

    def __init__(
        self,
        creds: Creds,
        topic: str,
        region: str = "ap-hongkong",
        names: tuple[str, str] = ("hk-mail-audit", "hk-mail-server"),
    ) -> None:
        """``names``: the (logset, topic) names DescribeTopics finds ``topic`` by."""
        self.batches: list[Batch] = []
        self.refused: list[str] = []
        self.lookups = 0
        self.lock = threading.Lock()
        store = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _answer(self, body: dict[str, Any]) -> None:
                data = json.dumps({"Response": body}).encode()
                self.send_response(200)  # API 3.0 answers errors with 200 and an Error object
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _describe_topics(self, body: bytes, h: dict[str, str]) -> None:
                """DescribeTopics: the SDK's own request for these parameters must be this one
                (body, signature, token); answers the topic when both names match exactly."""
                params = json.loads(body)
                want, data = sdk_cls_json_request(
                    "DescribeTopics", params, int(h.get("x-tc-timestamp", "0")), creds
                )
                wrong = [
                    name
                    for name in ("Authorization", "X-TC-Version", "X-TC-Region", "X-TC-Token")
                    if h.get(name.lower()) != want[name]
                ]
                if data != body or h.get("content-type") != "application/json":
                    wrong.append("body")
                if wrong:
                    with store.lock:
                        store.refused.append(", ".join(wrong))
                    self._answer({"Error": {"Code": "AuthFailure", "Message": str(wrong)}})
                    return
                filters = {f["Key"]: f["Values"] for f in params.get("Filters", [])}
                hit = params.get("PreciseSearch") == 3 and filters == {
                    "logsetName": [names[0]],
                    "topicName": [names[1]],
                }
                with store.lock:
                    store.lookups += 1
                topics = [{"TopicId": topic, "TopicName": names[1], "LogsetId": "ls-1"}]
                found = topics if hit else []
                self._answer({"Topics": found, "TotalCount": len(found), "RequestId": "fake"})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                h = {k.lower(): v for k, v in self.headers.items()}
                if h.get("x-tc-action") == "DescribeTopics":
                    self._describe_topics(body, h)
                    return
                want = sdk_cls_headers(body, topic, int(h.get("x-tc-timestamp", "0")), creds)
                wrong = [
                    name
                    for name in (
                        "Authorization",
                        "X-TC-Action",
                        "X-TC-Version",
                        "X-TC-Region",
                        "X-TC-Token",
                        "X-CLS-TopicId",
                        "Content-Type",
                    )
                    if h.get(name.lower()) != want[name]
                ]
                if want["X-TC-Region"] != region:
                    wrong.append("region")
                if wrong:
                    with store.lock:
                        store.refused.append(", ".join(wrong))
                    self._answer({"Error": {"Code": "AuthFailure", "Message": str(wrong)}})
                    return
                with store.lock:
                    store.batches.append(decode_cls(body))
                self._answer({"RequestId": "fake"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def entries(self) -> list[dict[str, str]]:
        with self.lock:
            return [dict(f) for batch in self.batches for _, f in batch]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
