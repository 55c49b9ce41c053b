"""The hostile input suite: oversized headers, floods of parameters, huge and
deep bodies, invalid UTF-8, NUL bytes, SQL meta-characters, path traversal and
integer overflow in every path parameter, and odd methods. Each case must be
answered with the right 4xx problem+json (never a 5xx), write nothing, and
leave the service healthy.

What test_validation.py already covers (deep JSON in a client body, bad
`limit` strings, a body over the JSON and nginx limits, invalid UTF-8 in a
POST /v1/clients body) is not repeated here."""

import json
import re
from urllib.parse import quote

import pytest
import requests

from helpers import BASE_URL, assert_problem

MiB = 1024 * 1024

# tables whose rows a refused request must not change (all carry tenant_id)
TABLES = ("clients", "accounts", "follower_snapshots", "snapshot_followers", "snapshot_intake", "profiles",
          "example_account_labels", "api_keys", "jobs", "account_metrics", "posts",
          "engagements", "audience_audits")


# ------------------------------------------------------------- helpers

@pytest.fixture
def t(fresh_tenant):
    """A fresh tenant with one client holding one account."""
    c = fresh_tenant
    c.cid = c.create_client("hostile brand")["id"]
    c.aid = c.create_account(c.cid, "x", "hostile_x")["id"]
    return c


def counts(db, tenant_id):
    out = {}
    with db.cursor() as cur:
        for table in TABLES:
            cur.execute("SELECT count(*) FROM realreach.%s WHERE tenant_id = %%s" % table,
                        (tenant_id,))
            out[table] = cur.fetchone()[0]
    return out


def assert_healthy(c):
    r = requests.get(BASE_URL + "/healthz", timeout=10)
    assert r.status_code == 200, r.text
    r = c.get("/v1/clients")
    assert r.status_code == 200, r.text
    assert isinstance(r.json().get("items"), list)


def assert_4xx_problem(r, allowed):
    assert r.status_code in allowed, "expected one of %s, got %d: %s" % (
        allowed, r.status_code, r.text[:300])
    return assert_problem(r, r.status_code)


def post_raw(c, path, data, ctype="application/json", **kw):
    return c.post(path, data=data, headers={"Content-Type": ctype}, **kw)


@pytest.fixture
def guarded(t, admin_db):
    """Yields the tenant; afterwards checks nothing was written and the
    service is healthy."""
    before = counts(admin_db, t.tenant_id)
    yield t
    assert counts(admin_db, t.tenant_id) == before
    assert_healthy(t)


# ------------------------------------------------------------- headers

def test_many_small_headers_are_harmless(guarded):
    r = guarded.get("/v1/clients", headers={"X-Flood-%d" % i: "v%d" % i for i in range(200)})
    if r.status_code != 200:
        assert_4xx_problem(r, (400, 413, 431))


def test_header_of_16_kib_is_refused_with_a_problem(guarded):
    r = guarded.get("/v1/clients", headers={"X-Big": "a" * 16384})
    assert_4xx_problem(r, (400, 413, 431))
    r = guarded.post("/v1/clients", json={"name": "big header"}, headers={"X-Big": "b" * 16384})
    assert_4xx_problem(r, (400, 413, 431))


def test_200_headers_of_1_kib_are_refused_with_a_problem(guarded):
    r = guarded.post("/v1/clients", json={"name": "flooded"},
                     headers={"X-Flood-%d" % i: "f" * 1024 for i in range(200)})
    assert_4xx_problem(r, (400, 413, 431))


# ---------------------------------------------------------- parameters

def test_thousand_query_parameters(guarded):
    # short enough for nginx's request line: the service parses all of them
    short = "&".join("p%d=1" % i for i in range(1000))
    for path in ("/v1/clients", "/v1/clients/%d/accounts" % guarded.cid):
        r = guarded.get(path + "?" + short)
        assert r.status_code in (200, 400), r.text[:300]
        if r.status_code == 400:
            assert_problem(r, 400)
    # longer: nginx may refuse the request line (414), still a problem
    long_ = "&".join("param%d=value%d" % (i, i) for i in range(1000))
    r = guarded.get("/v1/clients?" + long_)
    assert r.status_code in (200, 400, 414), r.text[:300]
    if r.status_code != 200:
        assert_problem(r, r.status_code)


def test_repeated_limit(t):
    guarded = t
    for c in range(3):
        guarded.create_client("rep-%d" % c)
    # a valid repeat: 200 honouring one of the values, or 400 naming limit
    r = guarded.get("/v1/clients?limit=1&limit=2")
    if r.status_code == 200:
        assert len(r.json()["items"]) in (1, 2)
    else:
        assert_problem(r, 400, None, "limit")
    # an invalid value among the repeats is never silently "fixed" to a huge page
    for qs in ("limit=abc&limit=1", "limit=500&limit=1", "limit=1&limit=abc",
               "limit=1&limit=500"):
        r = guarded.get("/v1/clients?" + qs)
        if r.status_code == 200:
            assert len(r.json()["items"]) == 1, (qs, r.text)
        else:
            assert_problem(r, 400, None, "limit")
    # 1,000 repeats
    r = guarded.get("/v1/clients?" + "&".join(["limit=1"] * 1000))
    if r.status_code == 200:
        assert len(r.json()["items"]) == 1
    else:
        assert_problem(r, 400)
    assert len(guarded.list_all("/v1/clients")) == 4
    assert_healthy(guarded)


# ---------------------------------------------------------------- bodies

def test_10000_element_array_in_a_field_is_422(guarded):
    r = guarded.post("/v1/clients", json={"name": "arr", "notes": list(range(10000))})
    assert_problem(r, 422, "validation", "notes")
    r = guarded.post("/v1/clients", json={"name": ["x"] * 10000})
    assert_problem(r, 422, "validation", "name")
    r = guarded.post("/v1/clients/%d/accounts" % guarded.cid,
                     json={"platform": "x", "handle": ["h"] * 10000})
    assert_problem(r, 422, "validation", "handle")


def test_100000_element_top_level_array_is_400(guarded):
    r = post_raw(guarded, "/v1/clients", json.dumps(list(range(100000))).encode())
    assert_problem(r, 400, "invalid-json")
    r = post_raw(guarded, "/v1/clients/%d/accounts" % guarded.cid,
                 json.dumps([{"platform": "x", "handle": "h"}] * 20000).encode())
    assert_4xx_problem(r, (400, 413))


def test_deep_json_inside_a_bulk_ingest_body_writes_nothing(guarded):
    path = "/v1/accounts/%d/followers" % guarded.aid
    deep_arr = "[" * 200 + "]" * 200
    deep_obj = '{"a":' * 200 + "1" + "}" * 200
    bodies = [
        '[{"id": "1", "followers_count": 1}, {"id": "2", "followers_count": %s}]' % deep_obj,
        '[{"id": "1", "followers_count": 1}, {"id": "2", "entities": %s}]' % deep_arr,
        '{"data": [{"id": "2", "public_metrics": %s}]}' % deep_obj,
        "[" * 200 + '{"id": "3"}' + "]" * 200,
    ]
    for body in bodies:
        r = post_raw(guarded, path, body.encode())
        assert_4xx_problem(r, (400, 422))
    # NDJSON: the deep row is named
    nd = '{"id": "1", "followers_count": 1}\n{"id": "2", "x": %s}\n' % deep_obj
    r = post_raw(guarded, path, nd.encode(), "application/x-ndjson")
    p = assert_4xx_problem(r, (400, 422))
    if r.status_code == 422:
        assert p["type"].endswith("/invalid-rows"), p
        assert [e["row"] for e in p["errors"]] == [2], p


def test_huge_strings(guarded):
    r = guarded.post("/v1/clients", json={"name": "n" * (MiB + 1)})
    assert_4xx_problem(r, (413, 422))
    r = guarded.patch("/v1/clients/%d" % guarded.cid, json={"name": "n" * (MiB + 1)})
    assert_4xx_problem(r, (413, 422))
    r = guarded.post("/v1/clients/%d/accounts" % guarded.cid,
                     json={"platform": "x", "handle": "h" * 5000})
    assert_problem(r, 422, "validation", "handle")
    r = guarded.patch("/v1/accounts/%d" % guarded.aid, json={"handle": "h" * 5000})
    assert_problem(r, 422, "validation", "handle")
    assert guarded.get("/v1/accounts/%d" % guarded.aid).json()["handle"] == "hostile_x"


# ------------------------------------------------------------ bad UTF-8

def test_invalid_utf8_in_other_json_bodies_is_400(guarded):
    r = post_raw(guarded, "/v1/clients/%d/accounts" % guarded.cid,
                 b'{"platform": "x", "handle": "\xff\xfe"}')
    assert_problem(r, 400, "invalid-json")
    r = guarded.patch("/v1/clients/%d" % guarded.cid, data=b'{"name": "\xc3\x28"}',
                      headers={"Content-Type": "application/json"})
    assert_problem(r, 400, "invalid-json")
    # overlong encoding of '/' and a lone surrogate are not UTF-8 either
    for bad in (b'{"name": "\xc0\xaf"}', b'{"name": "\xed\xa0\x80"}'):
        assert_problem(post_raw(guarded, "/v1/clients", bad), 400, "invalid-json")


@pytest.mark.parametrize("ctype,body", [
    ("application/x-ndjson",
     b'{"id": "1", "followers_count": 1}\n{"id": "2", "screen_name": "\xff\xfe"}\n'),
    ("text/csv", b'id,screen_name\n1,ok\n2,\xff\xfe\n'),
])
def test_invalid_utf8_in_a_bulk_row_is_named(t, admin_db, ctype, body):
    path = "/v1/accounts/%d/followers" % t.aid
    before = counts(admin_db, t.tenant_id)
    p = assert_problem(post_raw(t, path, body, ctype), 422, "invalid-rows")
    assert p["rejected"] == 1 and [e["row"] for e in p["errors"]] == [2], p
    assert counts(admin_db, t.tenant_id) == before
    r = post_raw(t, path, body, ctype, params={"on_error": "skip"})
    assert r.status_code == 201, r.text
    b = r.json()
    assert (b["received"], b["accepted"], b["rejected"]) == (2, 1, 1), b
    assert [e["row"] for e in b["errors"]] == [2], b
    assert_healthy(t)


# ------------------------------------------------------------ NUL bytes

def test_nul_in_path_params_is_4xx(guarded):
    for path in ("/v1/clients/%00", "/v1/clients/1%00", "/v1/clients/%d%%00" % guarded.cid,
                 "/v1/accounts/%d%%00" % guarded.aid, "/v1/labels/a%00b/accounts",
                 "/v1/clients/%d%%00/accounts" % guarded.cid):
        assert_4xx_problem(guarded.get(path), (400, 404))
    assert_4xx_problem(guarded.delete("/v1/clients/%d%%00" % guarded.cid), (400, 404))
    assert_4xx_problem(guarded.put("/v1/accounts/%d/labels/a%%00b" % guarded.aid), (400, 404, 422))
    assert guarded.get("/v1/clients/%d" % guarded.cid).status_code == 200


def test_nul_in_query_values_never_5xx(guarded):
    for qs in ("limit=%00", "cursor=%00", "limit=1%00abc", "platform=x%00", "%00=1", "a=%00"):
        r = guarded.get("/v1/clients/%d/accounts?%s" % (guarded.cid, qs))
        assert r.status_code < 500, (qs, r.status_code, r.text)
        if r.status_code >= 400:
            assert_problem(r, r.status_code)


@pytest.mark.parametrize("qs,field", [
    ("limit=%00", "limit"), ("limit=1%00abc", "limit"), ("platform=x%00", "platform"),
    ("cursor=%00", "cursor"), ("limit=%zz", "limit"),
])
def test_nul_in_a_query_value_is_400(t, qs, field):
    r = t.get("/v1/clients/%d/accounts?%s" % (t.cid, qs))
    assert_problem(r, 400, None, field)


# ------------------------------------------------------ SQL meta-chars

SQLISH = ["Robert'); DROP TABLE realreach.clients;--", "%_\\", "$1", "' OR 1=1--",
          "\"; SELECT pg_sleep(5);--", "a\\'b", "%", "_"]


def test_sql_meta_characters_are_stored_literally(t, admin_db):
    ids = {}
    for name in SQLISH:
        r = t.post("/v1/clients", json={"name": name, "notes": name})
        assert r.status_code == 201, (name, r.text)
        got = r.json()
        assert got["name"] == name and got["notes"] == name
        ids[name] = got["id"]
    for name, cid in ids.items():
        r = t.get("/v1/clients/%d" % cid)
        assert r.status_code == 200
        assert r.content.decode("utf-8") == r.text
        assert r.json()["name"] == name and r.json()["notes"] == name
    listed = sorted(x["name"] for x in t.list_all("/v1/clients"))
    assert listed == sorted(SQLISH + ["hostile brand"])
    # a page of one still pages through all of them
    assert len(t.list_all("/v1/clients", limit=1)) == len(SQLISH) + 1
    with admin_db.cursor() as cur:
        cur.execute("SELECT name FROM realreach.clients WHERE tenant_id = %s AND id = ANY(%s)",
                    (t.tenant_id, list(ids.values())))
        assert sorted(r[0] for r in cur.fetchall()) == sorted(SQLISH)
    # rename through PATCH too
    cid = ids["$1"]
    r = t.patch("/v1/clients/%d" % cid, json={"name": "$2 %_\\ '--"})
    assert r.status_code == 200, r.text
    assert t.get("/v1/clients/%d" % cid).json()["name"] == "$2 %_\\ '--"
    assert_healthy(t)


def test_sql_meta_characters_in_an_account_handle(t):
    path = "/v1/clients/%d/accounts" % t.cid
    stored = []
    for handle in ("Robert'); DROP TABLE realreach.accounts;--", "%_\\", "$1"):
        r = t.post(path, json={"platform": "instagram", "handle": handle})
        if r.status_code == 422:  # a handle syntax check may refuse it: then cleanly
            assert_problem(r, 422, "validation", "handle")
            continue
        assert r.status_code == 201, (handle, r.text)
        assert r.json()["handle"] == handle
        stored.append((r.json()["id"], handle))
    for aid, handle in stored:
        assert t.get("/v1/accounts/%d" % aid).json()["handle"] == handle
    handles = sorted(a["handle"] for a in t.list_all(path))
    assert handles == sorted(["hostile_x"] + [h for _, h in stored])
    assert sorted(a["handle"] for a in t.list_all(path, platform="x")) == ["hostile_x"]
    assert_healthy(t)


# ------------------------------------------- every path parameter of every operation

def _operations():
    spec = requests.get(BASE_URL + "/v1/openapi.json", timeout=10).json()
    ops = []
    for path, item in spec["paths"].items():
        if path.startswith("/v1/test/"):
            continue
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            params = [p["name"] for p in op.get("parameters", []) + item.get("parameters", [])
                      if p.get("in") == "path"]
            if params:
                ops.append((method.upper(), path, params))
    return ops


def _call(c, method, path):
    if method in ("POST", "PUT", "PATCH"):
        return c.request(method, path, data=b"{}", headers={"Content-Type": "application/json"})
    return c.request(method, path)


def _fill(path, values):
    return re.sub(r"\{([a-z_]+)\}", lambda m: values[m.group(1)], path)


TRAVERSAL = ["..%2F..%2Fetc%2Fpasswd", "%2e%2e", "..;", "%00", "1%2F2", quote("' OR 1=1--")]
BIG_IDS = ["9223372036854775807", "9223372036854775808", "99999999999999999999", "-1", "0",
           "1e3", "0x10"]


def test_openapi_has_path_parameters():
    ops = _operations()
    assert len(ops) >= 20
    assert any("{label}" in p for _, p, _ in ops)


def _sweep(t, values, only_ids):
    """Each hostile value in each path parameter (one at a time, the others
    the tenant's real client/account ids, or 1): 404 or 400, never 5xx,
    never a 2xx. (A well-formed, in-range id may instead meet the `{}` body's
    422 first: the body is checked before the lookup.)"""
    real = {"client_id": str(t.cid), "account_id": str(t.aid)}
    bad = []
    for method, path, params in _operations():
        for name in params:
            if only_ids and not name.endswith("_id"):
                continue
            if name == "label" and method in ("PUT", "DELETE"):
                # a label is a free string: these would set/clear a label so named
                continue
            for v in values:
                vals = {p: real.get(p, "1") for p in params}
                vals[name] = v
                url = _fill(path, vals)
                r = _call(t, method, url)
                ok = (400, 404)
                if v == "9223372036854775807" and method in ("POST", "PUT", "PATCH"):
                    ok = (400, 404, 422)
                if r.status_code not in ok:
                    bad.append((method, url, r.status_code, r.text[:200]))
                    continue
                try:
                    assert_problem(r, r.status_code)
                except AssertionError as e:
                    bad.append((method, url, r.status_code, str(e)[:200]))
    assert not bad, "\n".join(map(repr, bad))


def test_path_traversal_in_every_path_parameter(t, admin_db):
    before = counts(admin_db, t.tenant_id)
    _sweep(t, TRAVERSAL, only_ids=False)
    assert counts(admin_db, t.tenant_id) == before
    assert t.get("/v1/clients/%d" % t.cid).status_code == 200
    assert t.get("/v1/accounts/%d" % t.aid).status_code == 200
    assert_healthy(t)


def test_integer_overflow_in_every_id_path_parameter(t, admin_db):
    before = counts(admin_db, t.tenant_id)
    _sweep(t, BIG_IDS, only_ids=True)
    # with a valid body the in-range maximum is a plain 404 too
    for v in BIG_IDS:
        assert_problem(t.patch("/v1/clients/%s" % v, json={"name": "z"}), 404, "not-found")
        assert_problem(t.patch("/v1/accounts/%s" % v, json={"handle": "zz"}), 404, "not-found")
        assert_problem(t.post("/v1/clients/%s/accounts" % v,
                              json={"platform": "x", "handle": "zz"}), 404, "not-found")
    # ...and specifically 404 on the plain reads
    for v in BIG_IDS:
        for path in ("/v1/clients/%s" % v, "/v1/accounts/%s" % v, "/v1/keys/%s" % v,
                     "/v1/jobs/%s" % v, "/v1/clients/%s/accounts" % v):
            assert_problem(t.get(path), 404, "not-found")
    assert counts(admin_db, t.tenant_id) == before
    assert_healthy(t)


@pytest.mark.parametrize("limit", ["2147483648", "-1", "1e2", "99999999999999999999",
                                   "4294967297", "+5", " 5", "5 ", "0x10", "05e0"])
def test_overflowing_limit_is_400(t, limit):
    for path in ("/v1/clients", "/v1/clients/%d/accounts" % t.cid, "/v1/keys", "/v1/jobs"):
        r = t.get(path, params={"limit": limit})
        if limit in ("+5", " 5") and r.status_code == 200:
            # lenient but harmless readings of 5 (strtol-style)
            assert len(r.json()["items"]) <= 5
            continue
        assert_problem(r, 400, None, "limit")


# ------------------------------------------------------------- methods

@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND", "MKCOL", "FOO"])
def test_method_confusion(guarded, method):
    r = guarded.request(method, "/v1/clients", data=b'{"name": "via %s"}' % method.encode(),
                        headers={"Content-Type": "application/json"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    if r.status_code == 405:
        assert_problem(r, 405)
    r = guarded.request(method, "/v1/clients/%d" % guarded.cid)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
    assert guarded.get("/v1/clients/%d" % guarded.cid).json()["name"] == "hostile brand"
