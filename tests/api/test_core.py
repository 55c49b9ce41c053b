"""The core service: health, readiness, metrics, response hygiene, the CRUD
of clients and accounts, and the keys API."""

import os
import re
import socket
import subprocess
import threading
import time
import uuid
from urllib.parse import urlsplit

from helpers import (BASE_URL, KEY_RE, SEEN_KEYS, Client, assert_problem, create_key, env,
                     metrics, public_id, recv_all, secret_of)


# -------------------------------------------------------------- service

def test_healthz_needs_no_key(anon):
    r = anon.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_readyz(anon):
    r = anon.get("/readyz")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "ready"


def test_metrics_use_route_templates(anon, tenant_a):
    a = tenant_a.admin
    a.get("/v1/clients/%d" % tenant_a.client_id)
    a.get("/v1/accounts/%d" % tenant_a.account_id)
    a.get("/v1/clients/987654321")
    anon.get("/v1/no/such/path/123456")
    r = anon.get("/metrics")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    ms = metrics()
    reqs = [(lab, v) for n, lab, v in ms if n == "realreach_http_requests_total"]
    assert reqs
    routes = {lab["route"] for lab, _ in reqs}
    assert "/v1/clients/{client_id}" in routes
    assert "/v1/accounts/{account_id}" in routes
    for route in routes:
        assert not re.search(r"/\d+(/|$)", route), "raw id in a route label: %s" % route
        assert "987654321" not in route and "123456" not in route
    assert all(set(lab) >= {"method", "route", "status"} for lab, _ in reqs)
    assert any(lab["route"] == "/v1/clients/{client_id}" and lab["status"] == "404"
               for lab, _ in reqs)
    workers = [v for n, _, v in ms if n == "realreach_workers"]
    assert workers and workers[0] >= 1
    names = {n for n, _, _ in ms}
    assert "realreach_worker_restarts_total" in names


def test_every_response_has_a_request_id(anon, tenant_a):
    answers = [anon.get("/healthz"), anon.get("/v1/clients"), anon.get("/v1/nothing"),
               anon.request("DELETE", "/v1/clients"), tenant_a.admin.get("/v1/clients"),
               tenant_a.admin.get("/v1/clients/999999999"),
               tenant_a.admin.post("/v1/clients", json={"name": 1}), anon.get("/metrics")]
    ids = set()
    for r in answers:
        rid = r.headers.get("X-Request-Id")
        assert rid and re.fullmatch(r"[A-Za-z0-9._-]{1,64}", rid), (r.url, rid)
        ids.add(rid)
        if r.headers.get("Content-Type", "").startswith("application/problem+json"):
            assert r.json().get("request_id") == rid
    assert len(ids) == len(answers), "request ids repeat"


def test_a_sane_request_id_is_echoed_and_a_bad_one_replaced(anon, tenant_a):
    r = anon.get("/healthz", headers={"X-Request-Id": "trace-42_a.b"})
    assert r.headers["X-Request-Id"] == "trace-42_a.b"
    r = tenant_a.admin.get("/v1/clients/999999999", headers={"X-Request-Id": "abc-123"})
    assert r.headers["X-Request-Id"] == "abc-123" and r.json()["request_id"] == "abc-123"
    for bad in ("has space", "x" * 65, "<script>", "a\"b", "új"):
        r = anon.get("/healthz", headers={"X-Request-Id": bad.encode("utf-8")})
        rid = r.headers.get("X-Request-Id", "")
        assert rid != bad and re.fullmatch(r"[A-Za-z0-9._-]{1,64}", rid), rid


def raw_request(data):
    u = urlsplit(BASE_URL)
    s = socket.create_connection((u.hostname, u.port or 80), timeout=10)
    try:
        s.sendall(data)
        return recv_all(s)
    finally:
        s.close()


def test_no_version_banners(anon, tenant_a):
    answers = [anon.get("/healthz"), anon.get("/v1/nothing"), anon.get("/v1/clients"),
               tenant_a.admin.get("/v1/clients")]
    for r in answers:
        server = r.headers.get("Server", "")
        assert not re.search(r"\d", server), "Server banner %r" % server
        assert "X-Powered-By" not in r.headers
        assert "nginx/" not in r.text
    # nginx's own error pages too (a malformed request)
    out = raw_request(b"GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\nBad header\r\n\r\n")
    head, _, body = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), head
    assert not re.search(rb"Server: [^\r]*\d", head), head
    assert b"nginx/" not in body and b"<html" not in body.lower(), body
    assert b"application/problem+json" in head


def test_api_answers_are_not_cached_or_sniffed(tenant_a):
    r = tenant_a.admin.get("/v1/clients")
    assert "no-store" in r.headers.get("Cache-Control", "")
    assert r.headers.get("X-Content-Type-Options") == "nosniff"


# ---------------------------------------------------------- clients CRUD

def test_client_crud_round_trip(fresh_tenant):
    c = fresh_tenant
    r = c.post("/v1/clients", json={"name": "Acme", "notes": "first"})
    assert r.status_code == 201, r.text
    made = r.json()
    assert r.headers["Location"] == "/v1/clients/%d" % made["id"]
    assert made["name"] == "Acme" and made["notes"] == "first"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", made["created_at"])

    got = c.get(r.headers["Location"])
    assert got.status_code == 200 and got.json() == made

    p = c.patch("/v1/clients/%d" % made["id"], json={"notes": None})
    assert p.status_code == 200, p.text
    assert p.json()["notes"] is None and p.json()["name"] == "Acme"
    p = c.patch("/v1/clients/%d" % made["id"], json={"name": "Acme 2"})
    assert p.json()["name"] == "Acme 2" and p.json()["updated_at"] >= made["updated_at"]
    assert c.get("/v1/clients/%d" % made["id"]).json()["name"] == "Acme 2"

    assert [x["id"] for x in c.list_all("/v1/clients")] == [made["id"]]

    d = c.delete("/v1/clients/%d" % made["id"])
    assert d.status_code == 204 and d.content == b""
    assert_problem(c.get("/v1/clients/%d" % made["id"]), 404, "not-found")
    assert_problem(c.delete("/v1/clients/%d" % made["id"]), 404, "not-found")
    assert_problem(c.patch("/v1/clients/%d" % made["id"], json={"name": "zombie"}), 404,
                   "not-found")
    assert c.list_all("/v1/clients") == []


def test_account_crud_and_filters(fresh_tenant):
    c = fresh_tenant
    cid = c.create_client("Filters")["id"]
    path = "/v1/clients/%d/accounts" % cid
    r = c.post(path, json={"platform": "instagram", "handle": "acme", "external_id": "17841"})
    assert r.status_code == 201, r.text
    own = r.json()
    assert r.headers["Location"] == "/v1/accounts/%d" % own["id"]
    assert own["client_id"] == cid and own["relation"] == "own"
    rival = c.post(path, json={"platform": "instagram", "handle": "rival",
                               "relation": "competitor"}).json()
    xacc = c.post(path, json={"platform": "x", "handle": "acme"}).json()

    assert c.get("/v1/accounts/%d" % own["id"]).json() == own
    ids = lambda **f: [a["id"] for a in c.list_all(path, **f)]
    assert ids() == [own["id"], rival["id"], xacc["id"]]
    assert ids(platform="instagram") == [own["id"], rival["id"]]
    assert ids(platform="x") == [xacc["id"]]
    assert ids(relation="competitor") == [rival["id"]]
    assert ids(platform="x", relation="competitor") == []
    assert ids(platform="tiktok") == []
    bad = assert_problem(c.get(path, params={"platform": "myspace"}), 400, None, "platform")
    # the answer says what would have been accepted
    assert bad["detail"] == ("platform must be one of x, instagram, tiktok, facebook, youtube,"
                             " linkedin"), bad
    assert_problem(c.get(path, params={"relation": "friend"}), 400, None, "relation")

    p = c.patch("/v1/accounts/%d" % own["id"], json={"handle": "acme_new", "relation": "competitor",
                                                     "external_id": None})
    assert p.status_code == 200, p.text
    assert (p.json()["handle"], p.json()["relation"], p.json()["external_id"]) == \
        ("acme_new", "competitor", None)
    assert p.json()["platform"] == "instagram"

    assert c.delete("/v1/accounts/%d" % own["id"]).status_code == 204
    assert_problem(c.get("/v1/accounts/%d" % own["id"]), 404, "not-found")
    assert_problem(c.delete("/v1/accounts/%d" % own["id"]), 404, "not-found")
    assert ids() == [rival["id"], xacc["id"]]


def test_account_list_tells_missing_client_from_empty_list(fresh_tenant, tenant_a, tenant_b):
    """GET /v1/clients/{id}/accounts: 404 for no such client (or another
    tenant's), 403 for a key restricted to another client, 200 with an empty
    page for a client without accounts (or without matches)."""
    c = fresh_tenant
    empty = c.create_client("No accounts")["id"]
    path = "/v1/clients/%d/accounts" % empty
    r = c.get(path)
    assert r.status_code == 200, r.text
    # the same bytes as any other empty page (one pagination helper)
    assert r.content == b'{"items":[],"next_cursor":null}'
    assert r.content == c.get("/v1/jobs").content
    for q in ({"platform": "x"}, {"relation": "competitor"}, {"limit": 1}):
        r = c.get(path, params=q)
        assert r.status_code == 200 and r.json() == {"items": [], "next_cursor": None}, (q, r.text)

    unknown = empty + 1000000
    assert_problem(c.get("/v1/clients/%d/accounts" % unknown), 404, "not-found")
    assert_problem(c.get("/v1/clients/%d/accounts" % unknown, params={"platform": "x"}), 404,
                   "not-found")
    # another tenant's client, with accounts: simply not found
    assert_problem(c.get("/v1/clients/%d/accounts" % tenant_a.client_id), 404, "not-found")
    assert_problem(tenant_b.admin.get("/v1/clients/%d/accounts" % tenant_a.other_client_id),
                   404, "not-found")
    # validation still comes first: a bad filter is 400, even for an unknown client
    assert_problem(c.get("/v1/clients/%d/accounts" % unknown, params={"platform": "myspace"}),
                   400, None, "platform")

    # a key restricted to one client: 403 for the other client of its tenant,
    # for an unknown client and for another tenant's client
    restricted = Client(create_key(c.tenant_id, "read", client=empty))
    assert restricted.get(path).json() == {"items": [], "next_cursor": None}
    other = c.create_client("Other")["id"]
    c.create_account(other)
    assert_problem(restricted.get("/v1/clients/%d/accounts" % other), 403, "forbidden")
    assert_problem(restricted.get("/v1/clients/%d/accounts" % unknown), 403, "forbidden")
    assert_problem(restricted.get("/v1/clients/%d/accounts" % tenant_a.client_id), 403,
                   "forbidden")
    ra = Client(tenant_a.restricted_key)
    # (other tests may add accounts to the shared tenant's clients)
    seen = ra.list_all("/v1/clients/%d/accounts" % tenant_a.client_id)
    assert tenant_a.account_id in [a["id"] for a in seen]
    assert {a["client_id"] for a in seen} == {tenant_a.client_id}
    assert_problem(ra.get("/v1/clients/%d/accounts" % tenant_a.other_client_id), 403,
                   "forbidden")


def test_account_create_needs_a_client_the_key_may_see(fresh_tenant, tenant_a):
    """POST /v1/clients/{id}/accounts: 404 naming client_id for no such
    client (or another tenant's), 403 for a key restricted to another client,
    422 for a bad body before either, 409 for a duplicate."""
    c = fresh_tenant
    cid = c.create_client("Target")["id"]
    path = lambda client: "/v1/clients/%d/accounts" % client
    body = {"platform": "x", "handle": "probe"}
    unknown = cid + 1000000
    assert_problem(c.post(path(unknown), json=body), 404, "not-found", "client_id")
    # validation comes first: a bad body is a 422 even for an unknown client
    assert_problem(c.post(path(unknown), json={"platform": "myspace", "handle": "h"}), 422,
                   "validation", "platform")
    # another tenant's client: not found, and nothing was added to it
    assert_problem(c.post(path(tenant_a.client_id), json=body), 404, "not-found", "client_id")
    assert "probe" not in [a["handle"] for a in tenant_a.admin.list_all(path(tenant_a.client_id))]

    # a key restricted to one client: 403 for any other (its tenant's, unknown, foreign)
    restricted = Client(create_key(c.tenant_id, "write", client=cid))
    other = c.create_client("Other")["id"]
    for target in (other, unknown, tenant_a.client_id):
        assert_problem(restricted.post(path(target), json=body), 403, "forbidden")
    assert c.list_all(path(other)) == []

    made = restricted.post(path(cid), json=body)
    assert made.status_code == 201, made.text
    assert made.json()["client_id"] == cid
    assert_problem(restricted.post(path(cid), json=body), 409, "conflict", "handle")
    # a 409 does not use up its Idempotency-Key: once the clash is gone, it creates
    idem = {"Idempotency-Key": "dup-" + uuid.uuid4().hex}
    assert_problem(c.post(path(cid), json=body, headers=idem), 409, "conflict", "handle")
    assert c.delete("/v1/accounts/%d" % made.json()["id"]).status_code == 204
    again = c.post(path(cid), json=body, headers=idem)
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") is None
    assert [a["id"] for a in c.list_all(path(cid))] == [again.json()["id"]]


def test_account_list_pages(fresh_tenant):
    c = fresh_tenant
    cid = c.create_client("Paged")["id"]
    noise = c.create_client("Noise")["id"]
    made = []
    for i in range(7):
        made.append(c.create_account(cid, "x" if i % 2 else "tiktok", "paged%d" % i))
        if i == 3:
            c.create_account(noise)  # ids of another client in between
    ids = [a["id"] for a in made]
    path = "/v1/clients/%d/accounts" % cid

    pages, cursor = [], None
    while True:
        r = c.get(path, params=dict({"limit": 3}, **({"cursor": cursor} if cursor else {})))
        assert r.status_code == 200, r.text
        body = r.json()
        assert list(body) == ["items", "next_cursor"]
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [a["id"] for p in pages for a in p] == ids
    assert [a for p in pages for a in p] == made  # the same objects as POST answered
    assert list(pages[0][0]) == list(made[0])    # and the same keys, in the same order

    # a page that ends exactly at the last account has no next cursor
    r = c.get(path, params={"limit": 7}).json()
    assert [a["id"] for a in r["items"]] == ids and r["next_cursor"] is None
    r = c.get(path, params={"limit": 6}).json()
    assert len(r["items"]) == 6 and r["next_cursor"]
    last = c.get(path, params={"limit": 6, "cursor": r["next_cursor"]}).json()
    assert [a["id"] for a in last["items"]] == ids[6:] and last["next_cursor"] is None

    # filters page too
    xs = [a["id"] for a in made if a["platform"] == "x"]
    assert [a["id"] for a in c.list_all(path, limit=1, platform="x")] == xs
    first = c.get(path, params={"limit": 2, "platform": "tiktok"}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = c.get(path, params={"limit": 2, "platform": "tiktok",
                               "cursor": first["next_cursor"]}).json()
    assert [a["id"] for a in first["items"] + rest["items"]] == \
        [a["id"] for a in made if a["platform"] == "tiktok"]
    assert rest["next_cursor"] is None

    # a cursor from another list, past every account: an empty page, not a 404
    far = c.get(path, params={"limit": 6}).json()["next_cursor"]
    for acc in made[5:]:
        assert c.delete("/v1/accounts/%d" % acc["id"]).status_code == 204
    r = c.get(path, params={"cursor": far})
    assert r.status_code == 200 and r.json() == {"items": [], "next_cursor": None}
    assert_problem(c.get(path, params={"cursor": "nonsense"}), 400, None, "cursor")
    assert_problem(c.get(path, params={"limit": 0}), 400, None, "limit")


def test_deleting_a_client_deletes_its_accounts_and_keys(fresh_tenant):
    c = fresh_tenant
    cid = c.create_client("Doomed")["id"]
    keep = c.create_client("Kept")["id"]
    accs = [c.create_account(cid, p)["id"] for p in ("x", "tiktok")]
    kept_acc = c.create_account(keep)["id"]
    restricted = create_key(c.tenant_id, "read", client=cid)
    assert Client(restricted).get("/v1/clients/%d" % cid).status_code == 200

    assert c.delete("/v1/clients/%d" % cid).status_code == 204
    for a in accs:
        assert_problem(c.get("/v1/accounts/%d" % a), 404, "not-found")
    assert_problem(c.get("/v1/clients/%d/accounts" % cid), 404, "not-found")
    assert c.get("/v1/accounts/%d" % kept_acc).status_code == 200
    # a key restricted to the deleted client reaches nothing any more
    r = Client(restricted).get("/v1/clients")
    assert r.status_code == 401 or (r.status_code == 200 and r.json()["items"] == []), r.text


# ------------------------------------------------------------- keys API

def test_keys_api_round_trip(fresh_tenant):
    admin = fresh_tenant
    r = admin.post("/v1/keys", json={"scope": "write", "name": "made over the API"})
    assert r.status_code == 201, r.text
    made = r.json()
    key = made["key"]
    SEEN_KEYS.append(key)
    assert KEY_RE.match(key), key
    assert made["public_id"] == public_id(key)
    assert made["scope"] == "write" and made["revoked_at"] is None
    assert r.headers["Location"] == "/v1/keys/%d" % made["id"]

    k = Client(key)
    assert k.get("/v1/clients").status_code == 200
    assert k.post("/v1/clients", json={"name": "by api key"}).status_code == 201
    assert_problem(k.get("/v1/keys"), 403, "forbidden")

    listed = admin.get("/v1/keys", params={"limit": 200})
    assert listed.status_code == 200
    assert secret_of(key) not in listed.text
    rows = [x for x in listed.json()["items"] if x["id"] == made["id"]]
    assert rows and "key" not in rows[0] and "digest" not in rows[0]
    one = admin.get("/v1/keys/%d" % made["id"])
    assert one.status_code == 200 and secret_of(key) not in one.text
    assert "key" not in one.json()

    assert admin.delete("/v1/keys/%d" % made["id"]).status_code == 204
    assert_problem(k.get("/v1/clients"), 401, "unauthorized")
    assert admin.get("/v1/keys/%d" % made["id"]).json()["revoked_at"]
    # revoking twice is harmless
    assert admin.delete("/v1/keys/%d" % made["id"]).status_code == 204


def test_key_list_pages(fresh_tenant):
    """GET /v1/keys pages like every list: cursor continuity, the last page
    without a cursor, the same key objects as GET /v1/keys/{id}; a restricted
    admin key pages through its client's keys only."""
    admin = fresh_tenant
    cid = admin.create_client("keyed")["id"]

    def make(scope, client=None, **extra):
        r = admin.post("/v1/keys", json=dict({"scope": scope, "client_id": client}, **extra))
        assert r.status_code == 201, r.text
        SEEN_KEYS.append(r.json()["key"])
        return r.json()

    made = [make(("read", "write", "admin")[i % 3], cid if i % 2 else None, name="k%d" % i)
            for i in range(7)]
    assert admin.delete("/v1/keys/%d" % made[3]["id"]).status_code == 204  # still listed
    ids = [k["id"] for k in admin.get("/v1/keys", params={"limit": 200}).json()["items"]]
    assert len(ids) == 8 and ids == sorted(ids)  # the fixture's admin key and the 7
    items = admin.check_paging("/v1/keys", ids, 3)
    for k in items:
        assert admin.get("/v1/keys/%d" % k["id"]).json() == k
    assert items[-1]["name"] == "k6" and items[4]["revoked_at"]

    own = make("admin", cid)
    scoped = Client(own["key"])
    mine = [k["id"] for k in made + [own] if k["client_id"] == cid]
    assert len(mine) == 4
    scoped.check_paging("/v1/keys", mine, 1)
    scoped.check_paging("/v1/keys", mine, 3)


def test_keys_api_validation(fresh_tenant):
    admin = fresh_tenant
    assert_problem(admin.post("/v1/keys", json={}), 422, "validation", "scope")
    assert_problem(admin.post("/v1/keys", json={"scope": "root"}), 422, "validation", "scope")
    assert_problem(admin.post("/v1/keys", json={"scope": "read", "key": "rr_x_y"}), 422,
                   "read-only-field", "key")
    assert_problem(admin.post("/v1/keys", json={"scope": "read",
                                                "expires_at": "2001-01-01T00:00:00Z"}),
                   422, "validation", "expires_at")
    assert_problem(admin.post("/v1/keys", json={"scope": "read", "client_id": 999999999}), 422,
                   "validation", "client_id")
    # a client-restricted key made over the API is restricted
    cid = admin.create_client("scoped")["id"]
    other = admin.create_client("other")["id"]
    r = admin.post("/v1/keys", json={"scope": "read", "client_id": cid})
    assert r.status_code == 201, r.text
    SEEN_KEYS.append(r.json()["key"])
    scoped = Client(r.json()["key"])
    assert [x["id"] for x in scoped.list_all("/v1/clients")] == [cid]
    assert_problem(scoped.get("/v1/clients/%d" % other), 403, "forbidden")


# ------------------------------------------------------ database outage

def stack(cmd):
    script = os.environ.get("RR_STACK") or os.path.join(
        os.path.dirname(os.path.dirname(env("RR_BIN"))), "scripts", "stack.sh")
    name = os.environ.get("RR_STACK_NAME", "test")
    p = subprocess.run([script, cmd, name], capture_output=True, text=True, timeout=90)
    assert p.returncode == 0, "stack.sh %s %s: %s %s" % (cmd, name, p.stdout, p.stderr)


def burst(key, n=8, path="/v1/clients"):
    """n concurrent requests (so every worker takes one); their statuses."""
    out = [None] * n

    def one(i):
        try:
            out[i] = Client(key).get(path, timeout=10).status_code
        except Exception as e:
            out[i] = repr(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def test_database_outage_then_recovery(anon, tenant_a):
    """PostgreSQL down: /healthz still 200 (no database), /readyz and API
    calls 503 with Retry-After, never a hang; back up: the service resumes by
    itself within seconds, on every worker (none keeps a dead connection)."""
    c = tenant_a.read
    key = tenant_a.keys["read"]
    assert burst(key) == [200] * 8
    stack("pg-stop")
    try:
        assert anon.get("/healthz", timeout=5).status_code == 200
        r = anon.get("/readyz", timeout=5)
        assert_problem(r, 503)
        assert r.headers.get("Retry-After")
        # one API call only: the other workers must notice the restart by
        # themselves (below), not because a request failed on each of them
        t0 = time.monotonic()
        r = c.get("/v1/clients", timeout=10)
        assert time.monotonic() - t0 < 5
        assert_problem(r, 503, "unavailable")
        assert r.headers.get("Retry-After", "").isdigit()
    finally:
        stack("pg-start")
    try:
        # "within seconds": give it two, then every request on every worker
        # must succeed (concurrent rounds reach them all; a worker must not
        # keep its dead connection and fail whichever request comes next)
        time.sleep(2)
        rounds = [burst(key) for _ in range(3)]
        failed = [x for r in rounds for x in r if x != 200]
        assert not failed, ("%d of 24 requests failed 2 s after the database came back "
                            "(a worker kept its dead connection): %s" % (len(failed), rounds))
        assert anon.get("/readyz").status_code == 200
    finally:
        # do not leave a worker with a dead connection to the next tests
        ok = 0
        deadline = time.monotonic() + 20
        while ok < 3 and time.monotonic() < deadline:
            ok = ok + 1 if burst(key) == [200] * 8 else 0
