"""Helpers shared by the realreach API tests: the admin CLI, an HTTP client
with a Bearer key, problem+json assertions, tenants, the service log and
/metrics. Fixtures live in conftest.py."""

import json
import os
import re
import secrets
import string
import subprocess
import time
import uuid
from dataclasses import dataclass

import psycopg2
import requests

REQUIRED_ENV = ("RR_BASE_URL", "RR_ADMIN_DB", "RR_APP_DB", "RR_BIN", "RR_RUN_DIR")
PROBLEM_BASE = "https://realreach.dev/problems/"
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
KEY_RE = re.compile(r"^rr_([A-Za-z0-9]{8,24})_([A-Za-z0-9]{20,})$")

# Every key secret this session has seen: the log test checks none of them
# was ever written down.
SEEN_KEYS = []


def env(name):
    return os.environ[name]


BASE_URL = os.environ.get("RR_BASE_URL", "").rstrip("/")


# --------------------------------------------------------------- the CLI

def cli(*args, check=True, timeout=30):
    """Runs `realreach ARGS` with REALREACH_ADMIN_DB set; CompletedProcess."""
    e = dict(os.environ)
    e["REALREACH_ADMIN_DB"] = env("RR_ADMIN_DB")
    p = subprocess.run([env("RR_BIN"), *map(str, args)], env=e, capture_output=True, text=True,
                       timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError("realreach %s exited %d\nstdout: %s\nstderr: %s"
                             % (" ".join(map(str, args)), p.returncode, p.stdout, p.stderr))
    return p


def create_tenant(name=None):
    p = cli("tenant", "create", "--name", name or "t-" + uuid.uuid4().hex[:10])
    out = p.stdout.strip()
    assert out.isdigit(), "tenant create printed %r" % out
    return int(out)


def create_key(tenant, scope, client=None, expires=None, rate_limit=None, name=None):
    args = ["key", "create", "--tenant", tenant, "--scopes", scope]
    if client is not None:
        args += ["--client", client]
    if expires is not None:
        args += ["--expires", expires]
    if rate_limit is not None:
        args += ["--rate-limit", rate_limit]
    if name is not None:
        args += ["--name", name]
    key = cli(*args).stdout.strip()
    assert KEY_RE.match(key), "key create printed %r, not rr_<public id>_<secret>" % key
    SEEN_KEYS.append(key)
    return key


def revoke_key(tenant, key):
    cli("key", "revoke", "--tenant", tenant, "--key", public_id(key))


def public_id(key):
    return KEY_RE.match(key).group(1)


def secret_of(key):
    return KEY_RE.match(key).group(2)


def random_key():
    """Well-formed, but no such key exists."""
    return "rr_%s_%s" % ("".join(secrets.choice(B62) for _ in range(12)),
                         "".join(secrets.choice(B62) for _ in range(43)))


# --------------------------------------------------------------- HTTP

class Client:
    """requests.Session sending `Authorization: Bearer <key>` (if a key)."""

    def __init__(self, key=None, base=None):
        self.base = (base or BASE_URL).rstrip("/")
        self.key = key
        self.s = requests.Session()
        if key:
            self.s.headers["Authorization"] = "Bearer " + key

    def request(self, method, path, **kw):
        kw.setdefault("timeout", 15)
        kw.setdefault("allow_redirects", False)
        return self.s.request(method, self.base + path, **kw)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def pages(self, path, limit, most, **params):
        """The bodies of a list endpoint's pages, first to last, following
        next_cursor (at most `most` pages)."""
        cursor = None
        for _ in range(most):
            q = dict(params, limit=limit)
            if cursor:
                q["cursor"] = cursor
            r = self.get(path, params=q)
            assert r.status_code == 200, r.text
            body = r.json()
            yield body
            cursor = body.get("next_cursor")
            if not cursor:
                return
        raise AssertionError("more than %d pages from %s" % (most, path))

    def list_all(self, path, limit=200, **params):
        """Walks every page of a list endpoint; returns all items."""
        return [x for body in self.pages(path, limit, 1000, **params) for x in body["items"]]

    def walk_pages(self, path, limit, **params):
        """Follows next_cursor from the first page to the last; the pages'
        items (one list per page). Asserts the page contract on the way:
        {"items", "next_cursor"} in that order, no page longer than limit,
        every page but the last full, only the last without a cursor."""
        pages = []
        for body in self.pages(path, limit, 100, **params):
            assert list(body) == ["items", "next_cursor"], body
            assert len(body["items"]) <= limit, body
            pages.append(body["items"])
            cursor = body["next_cursor"]
            assert cursor is None or (isinstance(cursor, str) and cursor
                                      and len(body["items"]) == limit), body
        assert body["next_cursor"] is None, body
        assert all(len(p) == limit for p in pages[:-1]), [len(p) for p in pages]
        return pages

    def check_paging(self, path, ids, limit, **params):
        """The list at path, walked limit items at a time, holds exactly ids
        (in that order: no gap, no repeat); a page that ends at the last
        item has no next cursor; a forged cursor is a 400. The items."""
        assert len(ids) > limit, "too few items to page"
        pages = self.walk_pages(path, limit, **params)
        items = [x for p in pages for x in p]
        assert [x["id"] for x in items] == ids
        assert len(pages) == -(-len(ids) // limit)
        whole = self.get(path, params=dict(params, limit=len(ids))).json()
        assert [x["id"] for x in whole["items"]] == ids and whole["next_cursor"] is None
        assert_problem(self.get(path, params=dict(params, cursor="nonsense")), 400, None, "cursor")
        return items

    # object helpers ----------------------------------------------------
    def create_client(self, name=None, **extra):
        r = self.post("/v1/clients", json=dict({"name": name or "brand-" + uuid.uuid4().hex[:8]},
                                               **extra))
        assert r.status_code == 201, r.text
        return r.json()

    def create_account(self, client_id, platform="instagram", handle=None, **extra):
        body = dict({"platform": platform, "handle": handle or "h" + uuid.uuid4().hex[:10]}, **extra)
        r = self.post("/v1/clients/%d/accounts" % client_id, json=body)
        assert r.status_code == 201, r.text
        return r.json()


def recv_all(sock):
    """Everything a socket sends until the peer closes it."""
    out = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return out
        out += chunk


def media_type(resp):
    return resp.headers.get("Content-Type", "").split(";")[0].strip().lower()


_ANY = object()

# What an error body must never contain: stack traces, SQL or libpq text,
# internal names, version banners.
LEAKS = ("Traceback", "SQLSTATE", "ERROR:", "current_tenant", "realreach.clients",
         "realreach.accounts", "realreach.api_keys", "PQ", "libpq", "segfault", "nginx/")


def assert_problem(resp, status, kind=None, field=_ANY):
    """Asserts an RFC 9457 answer: status, content type, stable type URI,
    the status member and (when given) the field member. Returns the body."""
    assert resp.status_code == status, "expected %d, got %d: %s %s" % (
        status, resp.status_code, resp.headers.get("Content-Type"), resp.text[:500])
    assert media_type(resp) == "application/problem+json", (
        "a %d answer must be application/problem+json, got %r: %s"
        % (status, resp.headers.get("Content-Type"), resp.text[:300]))
    body = resp.json()
    assert isinstance(body, dict), body
    assert body.get("status") == status, body
    assert isinstance(body.get("type"), str) and body["type"].startswith(PROBLEM_BASE), body
    assert re.fullmatch(re.escape(PROBLEM_BASE) + r"[a-z0-9-]+", body["type"]), body
    assert isinstance(body.get("title"), str) and body["title"], body
    if kind is not None:
        assert body["type"] == PROBLEM_BASE + kind, "expected kind %r: %s" % (kind, body)
    if field is not _ANY:
        assert body.get("field") == field, "expected field %r: %s" % (field, body)
    # no internals in an error: no stack trace, no SQL
    text = resp.text
    for leak in LEAKS:
        assert leak not in text, "error body leaks %r: %s" % (leak, text)
    return body


# ------------------------------------------------------------- tenants

@dataclass
class Tenant:
    id: int
    keys: dict                 # scope -> key
    clients: dict              # scope -> Client
    client_id: int             # a client with one account
    account_id: int
    other_client_id: int       # a second client (for restricted keys)
    other_account_id: int
    restricted_key: str        # write key restricted to client_id

    @property
    def admin(self):
        return self.clients["admin"]

    @property
    def write(self):
        return self.clients["write"]

    @property
    def read(self):
        return self.clients["read"]


def make_tenant(label):
    tid = create_tenant("%s-%s" % (label, uuid.uuid4().hex[:6]))
    keys = {s: create_key(tid, s) for s in ("read", "write", "admin")}
    clients = {s: Client(k) for s, k in keys.items()}
    c1 = clients["admin"].create_client("%s main brand" % label)
    a1 = clients["admin"].create_account(c1["id"], "instagram", "%s_main" % label.lower())
    c2 = clients["admin"].create_client("%s second brand" % label)
    a2 = clients["admin"].create_account(c2["id"], "x", "%s_second" % label.lower(),
                                         relation="competitor")
    restricted = create_key(tid, "write", client=c1["id"])
    return Tenant(tid, keys, clients, c1["id"], a1["id"], c2["id"], a2["id"], restricted)



def connect(conninfo, autocommit=True):
    c = psycopg2.connect(conninfo)
    c.autocommit = autocommit
    return c


# ------------------------------------------------------- process / logs

def run_dir():
    return env("RR_RUN_DIR")


def log_path():
    return os.environ.get("RR_LOG") or os.path.join(run_dir(), "realreach.log")


def master_pid():
    with open(os.path.join(run_dir(), "realreach.pid")) as f:
        return int(f.read().strip())


def log_size():
    try:
        return os.path.getsize(log_path())
    except OSError:
        return 0


def read_log(offset=0):
    with open(log_path(), "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


def log_records(offset=0):
    """The JSON lines of the service log after byte offset (others skipped)."""
    out = []
    for line in read_log(offset).splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def wait_for(pred, timeout, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.1fs waiting for %s (last: %r)" % (timeout, what, last))


METRIC_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def metrics():
    """GET /metrics parsed: list of (name, {labels}, value)."""
    r = requests.get(BASE_URL + "/metrics", timeout=10)
    assert r.status_code == 200, r.text
    out = []
    for line in r.text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = METRIC_RE.match(line)
        assert m, "malformed metrics line %r" % line
        labels = dict(LABEL_RE.findall(m.group(3) or ""))
        out.append((m.group(1), labels, float(m.group(4))))
    return out


def metric_value(name, **labels):
    total = None
    for n, lab, v in metrics():
        if n == name and all(lab.get(k) == str(val) for k, val in labels.items()):
            total = (total or 0) + v
    return total


def merged_snapshot(client, answer, timeout=60):
    """The snapshot of a follower list (the answer of POST .../followers or
    .../complete, as a dict) once merged: at once when the request merged it
    (a small list: complete, the merge's result under "merge"), else polled
    until its merge job has completed it (fails if the job failed). Returns
    (snapshot, the merge's result)."""
    snap = answer["snapshot"]
    if snap["state"] == "complete":
        return snap, answer["merge"]
    path = "/v1/accounts/%d/snapshots/%d" % (snap["account_id"], snap["id"])

    def done():
        # the job first: a snapshot read after it is done must be complete
        job = client.get("/v1/jobs/%d" % snap["merge_job_id"]).json()
        assert job["state"] in ("queued", "running", "done"), "merge job %r" % job
        s = client.get(path)
        assert s.status_code == 200, s.text
        s = s.json()
        if job["state"] == "done":
            assert s["state"] == "complete", "merge job done, snapshot %r" % s
        return s if s["state"] == "complete" else None

    final = wait_for(done, timeout, interval=0.02, what="snapshot %d merged" % snap["id"])
    job = client.get("/v1/jobs/%d" % final["merge_job_id"])
    assert job.status_code == 200 and job.json()["state"] == "done", job.text
    return final, job.json()["result"]
