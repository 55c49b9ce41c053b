"""API3 (property-level authorisation) and API4 (resource consumption): what a
body, a query string and a page may hold, and that a refused request wrote
nothing."""

import json
import os
import re
import socket
import struct
from urllib.parse import urlsplit

import pytest

from helpers import BASE_URL, assert_problem, recv_all, run_dir

MiB = 1024 * 1024


@pytest.fixture
def tenant(fresh_tenant):
    """A fresh tenant holding exactly one client (so 'nothing written' is a
    simple comparison)."""
    fresh_tenant.create_client("the only one")
    return fresh_tenant


def client_names(c):
    return sorted(x["name"] for x in c.list_all("/v1/clients"))


def post_raw(c, path, data, content_type="application/json", **kw):
    headers = {"Content-Type": content_type} if content_type else {}
    headers.update(kw.pop("headers", {}))
    return c.post(path, data=data, headers=headers, **kw)


# ------------------------------------------------------------- clients

@pytest.mark.parametrize("data,status,kind,field", [
    (b'{"name": "x"', 400, "invalid-json", None),
    (b'{"name": "x",}', 400, "invalid-json", None),
    (b"name=x", 400, "invalid-json", None),
    (b'["name"]', 400, "invalid-json", None),
    (b'"just a string"', 400, "invalid-json", None),
    (b'{"name": "a", "name": "b"}', 400, "invalid-json", None),          # duplicate keys
    (b'{"name": "\xff\xfe"}', 400, "invalid-json", None),                # not UTF-8
    (b'{"name": 5}', 422, "validation", "name"),
    (b'{"name": null}', 422, "validation", "name"),
    (b'{"name": ["x"]}', 422, "validation", "name"),
    (b'{"name": ""}', 422, "validation", "name"),
    (b'{"notes": "no name"}', 422, "validation", "name"),
    (b'{}', 422, "validation", "name"),
    (b'{"name": "x", "colour": "red"}', 422, "unknown-field", "colour"),
    (b'{"name": "x", "id": 7}', 422, "read-only-field", "id"),
    (b'{"name": "x", "tenant_id": 1}', 422, "read-only-field", "tenant_id"),
    (b'{"name": "x", "created_at": "2020-01-01T00:00:00Z"}', 422, "read-only-field", "created_at"),
    (b'{"name": "x", "updated_at": "2020-01-01T00:00:00Z"}', 422, "read-only-field", "updated_at"),
    (b'{"name": "x", "notes": 12}', 422, "validation", "notes"),
    (json.dumps({"name": "n" * 201}).encode(), 422, "validation", "name"),
    (json.dumps({"name": "x", "notes": "n" * 4001}).encode(), 422, "validation", "notes"),
    (b'{"name": "a\\u0000b"}', 422, "validation", "name"),              # NUL in a string
])
def test_bad_client_bodies_write_nothing(tenant, data, status, kind, field):
    before = client_names(tenant)
    r = post_raw(tenant, "/v1/clients", data)
    assert_problem(r, status, kind, field)
    assert client_names(tenant) == before


def test_name_of_200_chars_is_accepted(tenant):
    r = tenant.post("/v1/clients", json={"name": "n" * 200})
    assert r.status_code == 201, r.text
    r = tenant.post("/v1/clients", json={"name": "é" * 201})
    assert_problem(r, 422, "validation", "name")


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded",
                                   "application/jsonx", "multipart/form-data; boundary=x", None])
def test_wrong_content_type_is_415(tenant, ctype):
    before = client_names(tenant)
    r = post_raw(tenant, "/v1/clients", b'{"name": "typed"}', content_type=ctype)
    assert_problem(r, 415, "unsupported-media-type")
    assert client_names(tenant) == before


def test_json_content_type_with_charset_is_fine(tenant):
    r = post_raw(tenant, "/v1/clients", b'{"name": "charset"}',
                 content_type="application/json; charset=utf-8")
    assert r.status_code == 201, r.text


def test_empty_body_is_400(tenant):
    before = client_names(tenant)
    assert_problem(post_raw(tenant, "/v1/clients", b""), 400, "invalid-json")
    assert_problem(tenant.post("/v1/clients"), 400)
    assert client_names(tenant) == before


def test_deep_nesting_is_400(tenant):
    before = client_names(tenant)
    deep = b'{"name": "x", "notes": ' + b"[" * 100 + b"]" * 100 + b"}"
    assert_problem(post_raw(tenant, "/v1/clients", deep), 400, "invalid-json")
    deep_obj = b'{"a":' * 100 + b"1" + b"}" * 100
    assert_problem(post_raw(tenant, "/v1/clients", deep_obj), 400, "invalid-json")
    # brackets inside strings are not nesting
    r = tenant.post("/v1/clients", json={"name": "[[[[", "notes": "{" * 200})
    assert r.status_code == 201, r.text
    assert client_names(tenant) == sorted(before + ["[[[["])


def test_body_over_the_json_limit_is_413(tenant):
    before = client_names(tenant)
    big = json.dumps({"name": "big", "notes": "x" * (MiB + 10)}).encode()
    r = post_raw(tenant, "/v1/clients", big)
    assert_problem(r, 413, "payload-too-large")
    assert client_names(tenant) == before


def test_body_over_nginx_limit_is_413_problem_from_nginx(tenant):
    """nginx refuses a body over client_max_body_size on its Content-Length,
    before reading it, with its own problem+json page."""
    u = urlsplit(BASE_URL)
    s = socket.create_connection((u.hostname, u.port or 80), timeout=10)
    try:
        req = ("POST /v1/clients HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"
               "Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
               % (u.netloc, tenant.key, 200 * 1024 * MiB)).encode()
        s.sendall(req)
        data = b""
        # read the answer only: nginx keeps the socket open for a while
        # (lingering close) waiting for the body it refused
        while True:
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if m and len(body) >= int(m.group(1)):
                    break
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0].split()[1] == "413", lines[0]
    headers = {k.strip().lower(): v.strip() for k, v in
               (l.split(":", 1) for l in lines[1:] if ":" in l)}
    assert headers.get("content-type", "").startswith("application/problem+json"), headers
    assert "nginx/" not in headers.get("server", "")
    p = json.loads(body.decode())
    assert p["status"] == 413 and p["type"] == "https://realreach.dev/problems/payload-too-large"
    assert client_names(tenant) == ["the only one"]


def test_a_padded_body_over_64_kib_is_read_whole(tenant):
    """The service reads a body in growing pieces: one of several hundred KiB
    (well past the first 64 KiB) arrives whole."""
    for pad in (64 * 1024 - 20, 64 * 1024 + 1, 300 * 1024, 900 * 1024):
        name = "padded-%d" % pad
        body = b'{"name": "' + name.encode() + b'"' + b" " * pad + b"}"
        r = post_raw(tenant, "/v1/clients", body)
        assert r.status_code == 201, r.text
        assert r.json()["name"] == name
    assert len(client_names(tenant)) == 5


# ----------------------------------------------- FastCGI, without nginx
# nginx only ever forwards a whole body of the length it announces; a peer on
# the FastCGI socket need not.

def fcgi_record(rtype, content=b"", rid=1):
    return struct.pack(">BBHHBx", 1, rtype, rid, len(content), 0) + content


def fcgi_params(params):
    out = b""
    for k, v in params.items():
        k, v = k.encode(), v.encode()
        for n in (len(k), len(v)):
            out += struct.pack(">B", n) if n < 128 else struct.pack(">I", n | 0x80000000)
        out += k + v
    return out


def fcgi_request(method, uri, key, claimed, body, ctype="application/json"):
    """One FastCGI request straight to the service's socket, claiming a
    CONTENT_LENGTH of `claimed` and sending only `body`; (status, JSON)."""
    path = os.environ.get("RR_SOCKET") or os.path.join(run_dir(), "realreach.sock")
    params = {"REQUEST_METHOD": method, "REQUEST_URI": uri, "SERVER_PROTOCOL": "HTTP/1.1",
              "CONTENT_TYPE": ctype, "CONTENT_LENGTH": str(claimed),
              "HTTP_AUTHORIZATION": "Bearer " + key}
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(15)
    try:
        s.connect(path)
        data = fcgi_record(1, struct.pack(">HB5x", 1, 0))  # BEGIN_REQUEST, RESPONDER
        data += fcgi_record(4, fcgi_params(params)) + fcgi_record(4)
        for i in range(0, len(body), 65535):
            data += fcgi_record(5, body[i:i + 65535])
        s.sendall(data + fcgi_record(5))  # then the end of stdin
        got = recv_all(s)
    finally:
        s.close()
    out, i = b"", 0
    while i + 8 <= len(got):
        _, rtype, _, clen, plen = struct.unpack(">BBHHBx", got[i:i + 8])
        if rtype == 6:  # STDOUT
            out += got[i + 8:i + 8 + clen]
        i += 8 + clen + plen
    head, _, payload = out.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^status:\s*(\d+)", head)
    return (int(m.group(1)) if m else 200), json.loads(payload.decode() or "null")


@pytest.mark.parametrize("claimed,sent", [
    (100, 20),                      # a little short
    (60 * MiB, 20),                 # a lie about the length: nothing like 60 MiB is needed
    (60 * MiB, 200 * 1024),         # short after the first 64 KiB
])
def test_fastcgi_body_shorter_than_its_length_is_400(tenant, claimed, sent):
    body = (b'{"name": "short"' + b" " * sent)[:sent]
    status, p = fcgi_request("POST", "/v1/clients", tenant.key, claimed, body)
    assert status == 400, p
    assert p["type"].endswith("/bad-request") and "ended early" in p["detail"], p
    assert client_names(tenant) == ["the only one"]


def test_fastcgi_body_over_the_limit_is_413_without_reading(tenant):
    status, p = fcgi_request("POST", "/v1/clients", tenant.key, 10 * 1024 * MiB,
                             b'{"name": "huge"}')
    assert status == 413, p
    assert p["type"].endswith("/payload-too-large"), p
    assert client_names(tenant) == ["the only one"]


def test_fastcgi_whole_body_past_64_kib(tenant):
    body = b'{"name": "direct"' + b" " * (200 * 1024) + b"}"
    status, p = fcgi_request("POST", "/v1/clients", tenant.key, len(body), body)
    assert status == 201, p
    assert p["name"] == "direct"


def test_bad_query_encoding_is_harmless(tenant):
    r = tenant.get("/v1/clients?limit=%zz")
    assert r.status_code in (200, 400), r.text
    if r.status_code == 400:
        assert_problem(r, 400)


# ------------------------------------------------------------- accounts

def test_account_validation(tenant):
    cid = tenant.list_all("/v1/clients")[0]["id"]
    path = "/v1/clients/%d/accounts" % cid
    assert_problem(tenant.post(path, json={"platform": "myspace", "handle": "h"}), 422,
                   "validation", "platform")
    assert_problem(tenant.post(path, json={"platform": 7, "handle": "h"}), 422, "validation",
                   "platform")
    assert_problem(tenant.post(path, json={"platform": "x"}), 422, "validation", "handle")
    assert_problem(tenant.post(path, json={"handle": "h"}), 422, "validation", "platform")
    assert_problem(tenant.post(path, json={"platform": "x", "handle": "h", "relation": "friend"}),
                   422, "validation", "relation")
    assert_problem(tenant.post(path, json={"platform": "x", "handle": "h" * 101}), 422,
                   "validation", "handle")
    assert_problem(tenant.post(path, json={"platform": "x", "handle": "h", "client_id": cid}),
                   422, "read-only-field", "client_id")
    assert tenant.list_all(path) == []

    first = tenant.post(path, json={"platform": "x", "handle": "dup"})
    assert first.status_code == 201, first.text
    assert_problem(tenant.post(path, json={"platform": "x", "handle": "dup"}), 409, "conflict",
                   "handle")
    # the same handle on another platform is another account
    assert tenant.post(path, json={"platform": "tiktok", "handle": "dup"}).status_code == 201
    assert len(tenant.list_all(path)) == 2
    # renaming onto an existing handle conflicts too
    other = tenant.post(path, json={"platform": "x", "handle": "dup2"}).json()
    assert_problem(tenant.patch("/v1/accounts/%d" % other["id"], json={"handle": "dup"}), 409,
                   "conflict", "handle")
    assert_problem(tenant.patch("/v1/accounts/%d" % other["id"], json={"platform": "tiktok"}),
                   422, "read-only-field", "platform")
    assert tenant.get("/v1/accounts/%d" % other["id"]).json()["handle"] == "dup2"


def test_patch_with_nothing_is_422(tenant):
    c = tenant.list_all("/v1/clients")[0]
    assert_problem(tenant.patch("/v1/clients/%d" % c["id"], json={}), 422)
    assert_problem(tenant.patch("/v1/clients/%d" % c["id"], json={"id": 5}), 422,
                   "read-only-field", "id")
    assert_problem(tenant.patch("/v1/clients/%d" % c["id"], json={"name": None}), 422,
                   "validation", "name")
    acc = tenant.create_account(c["id"])
    assert_problem(tenant.patch("/v1/accounts/%d" % acc["id"], json={}), 422)
    assert tenant.get("/v1/clients/%d" % c["id"]).json() == c


# ----------------------------------------------------------- pagination

@pytest.mark.parametrize("limit", ["0", "201", "abc", "-1", "1.5", "", "99999999999999999999"])
def test_bad_limit_is_400(tenant, limit):
    assert_problem(tenant.get("/v1/clients", params={"limit": limit}), 400, None, "limit")


@pytest.mark.parametrize("cursor", ["abc", "v1.5", "dj.uMQ", "x" * 100, "djEuLTE",
                                    "AAAA", "dmdmZm9v"])
def test_forged_cursor_is_400(tenant, cursor):
    r = tenant.get("/v1/clients", params={"cursor": cursor})
    assert_problem(r, 400, None, "cursor")


def test_pages_of_two_return_each_client_once(fresh_tenant):
    made = [fresh_tenant.create_client("page-%d" % i)["id"] for i in range(5)]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = fresh_tenant.get("/v1/clients", params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["items"]) <= 2
        seen += [c["id"] for c in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if not cursor:
            break
        assert pages < 10
    assert seen == made
    assert pages == 3
    # limits at the edges
    assert len(fresh_tenant.get("/v1/clients", params={"limit": 1}).json()["items"]) == 1
    assert len(fresh_tenant.get("/v1/clients", params={"limit": 200}).json()["items"]) == 5
    # a deleted row between pages does not break the walk
    first = fresh_tenant.get("/v1/clients", params={"limit": 2}).json()
    assert fresh_tenant.delete("/v1/clients/%d" % made[2]).status_code == 204
    rest = fresh_tenant.get("/v1/clients", params={"limit": 2, "cursor": first["next_cursor"]})
    assert [c["id"] for c in rest.json()["items"]] == [made[3], made[4]]


def test_responses_show_no_internal_fields(tenant):
    c = tenant.list_all("/v1/clients")[0]
    assert "tenant_id" not in c
    acc = tenant.create_account(c["id"])
    assert "tenant_id" not in acc
    assert set(c) >= {"id", "name", "created_at"}
