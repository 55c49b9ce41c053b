"""Shared pieces of the bulk-ingest API tests (tests/api/test_ingest*.py):
fixture files, a tenant with accounts on several platforms, posting bodies,
and reading what was stored straight from the database."""

import json
import os
import uuid

import pytest

from helpers import Client, create_key, create_tenant, merged_snapshot

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures", "ingest")
CRESCI = os.environ.get("RR_CRESCI_DIR") or os.path.join(HERE, "..", "..", "..", "shared", "data",
                                                          "cresci-2015")

CT = {
    "json": "application/json",
    "js": "application/javascript",
    "ndjson": "application/x-ndjson",
    "csv": "text/csv",
    "ids": "text/plain",
}


def fixture_path(name):
    return os.path.join(FIXTURES, name)


def fixture_bytes(name):
    with open(fixture_path(name), "rb") as f:
        return f.read()


def cresci_path(name):
    p = os.path.join(CRESCI, name)
    if not os.path.exists(p):
        raise pytest.UsageError("the research CSV %s is missing (set RR_CRESCI_DIR)" % p)
    return p


class IngestTenant:
    """A fresh tenant with an admin key, two clients and accounts on X,
    Instagram and TikTok (X and Instagram under the first client)."""

    def __init__(self):
        self.id = create_tenant("ingest-" + uuid.uuid4().hex[:6])
        self.key = create_key(self.id, "admin")
        self.c = Client(self.key)
        self.client_id = self.c.create_client("ingest brand")["id"]
        self.other_client_id = self.c.create_client("other brand")["id"]
        self.x = self.c.create_account(self.client_id, "x", "brand_x")["id"]
        self.ig = self.c.create_account(self.client_id, "instagram", "brand_ig")["id"]
        self.tt = self.c.create_account(self.other_client_id, "tiktok", "brand_tt")["id"]

    def account(self, platform="x"):
        """A new account of the first client (a clean snapshot history)."""
        return self.c.create_account(self.client_id, platform, "h" + uuid.uuid4().hex[:10])["id"]

    def post(self, account, route, body, kind="json", params=None, headers=None, timeout=60):
        h = {"Content-Type": CT.get(kind, kind)}
        h.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        return self.c.post("/v1/accounts/%d/%s" % (account, route), data=body, headers=h,
                           params=params or {}, timeout=timeout)

    def followers(self, account, body, kind="json", **kw):
        return self.post(account, "followers", body, kind, **kw)

    def merged(self, r, status=None):
        """The answer r once its list is merged: the answer's fields, its
        "snapshot" as it reads then (complete), and the merge's result under
        "merge" (profiles created and updated). A list of up to 10,000 rows is
        merged by the request (201; 200 for complete), a longer one by a job
        (202)."""
        ok = (status,) if status else (200, 201, 202)
        assert r.status_code in ok, "%d %s" % (r.status_code, r.text[:800])
        body = r.json()
        body["snapshot"], body["merge"] = merged_snapshot(self.c, body)
        return body

    def members(self, account, snapshot_id):
        return self.c.list_all("/v1/accounts/%d/snapshots/%d/followers" % (account, snapshot_id))


@pytest.fixture(scope="module")
def it():
    return IngestTenant()


def profile_rows(db, tenant_id, platform=None, where="", params=()):
    """Stored profiles as dicts (every column), by external_id."""
    sql = "SELECT * FROM realreach.profiles WHERE tenant_id = %s"
    args = [tenant_id]
    if platform:
        sql += " AND platform = %s"
        args.append(platform)
    if where:
        sql += " AND " + where
        args += list(params)
    with db.cursor() as cur:
        cur.execute(sql, args)
        cols = [d[0] for d in cur.description]
        return {r[cols.index("external_id")]: dict(zip(cols, r)) for r in cur.fetchall()}


def count(db, sql, *args):
    with db.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()[0]


def snapshot_member_ids(db, tenant_id, snapshot_id):
    """external_ids of a snapshot's members in position order (base tables,
    any state)."""
    with db.cursor() as cur:
        cur.execute("""
            SELECT p.external_id FROM realreach.snapshot_chunks c
             CROSS JOIN LATERAL unnest(c.profile_ids) WITH ORDINALITY AS u (pid, ord)
              JOIN realreach.profiles p ON p.tenant_id = c.tenant_id AND p.id = u.pid
             WHERE c.tenant_id = %s AND c.snapshot_id = %s
             ORDER BY c.first_position + u.ord""", (tenant_id, snapshot_id))
        return [r[0] for r in cur.fetchall()]
