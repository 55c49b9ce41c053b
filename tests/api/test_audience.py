"""Audience plugin: audits of follower snapshots end to end — the labelled
training files (cresci-2015) stored as the followers of one account, audited
through the API, and the verdicts checked against the labels at the level
`make eval-audience` reports; the summary, paging by class, the removal list,
comparing audits, and bad input (no snapshot, unknown snapshot).

Follower data is stored with SQL as the schema owner, the way the ingest
routes store it (profiles, a complete snapshot in chunks of 10,000, the
"followers.stored" event as a hook job), so these tests do not depend on the
ingest routes' request format.
"""

import csv
import io
import json
import math
import os
import random
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from helpers import assert_problem, connect, env, merged_snapshot, wait_for

DATA = os.environ.get("RR_AUDIENCE_DATA") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data", "cresci-2015")
CHUNK = 10000
CLASSES = ("fake", "suspicious", "inactive", "genuine")
# What `make eval-audience` reports for the plugin's model (5-fold CV):
# accuracy 0.993, MCC 0.986. The audit scores the same profiles with the
# model trained on all of them, so it must do at least as well as the
# goal the evaluation is held to.
MIN_ACCURACY = 0.98
MIN_MCC = 0.95


# ------------------------------------------------------------ loading data

def _time(s):
    if not s:
        return None
    for fmt in ("%a %b %d %H:%M:%S %z %Y", "%Y-%m-%d %H:%M:%S"):
        try:
            t = datetime.strptime(s, fmt)
            return t if t.tzinfo else t.replace(tzinfo=timezone.utc)
        except ValueError:
            pass
    return None


def read_cresci(name, label):
    """The rows of a cresci-2015 file as profile dicts (the columns a
    platform still reports; never `dataset`, colours or theme fields)."""
    out = []
    with open(os.path.join(DATA, name), newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            r = {k: v.replace("\x00", "") for k, v in r.items()}  # text cannot hold NUL
            out.append({
                "external_id": r["id"], "handle": r["screen_name"], "name": r["name"],
                "bio": r["description"], "url": "" if r["url"] == "NULL" else r["url"],
                "location": r["location"], "platform_created_at": _time(r["created_at"]),
                "followers_count": int(r["followers_count"]),
                "following_count": int(r["friends_count"]),
                "posts_count": int(r["statuses_count"]),
                "likes_count": int(r["favourites_count"]), "likes_kind": "given",
                "listed_count": int(r["listed_count"]),
                "default_avatar": r["default_profile_image"] == "1",
                "verified": r["verified"] == "1",
                "observed_at": _time(r["updated"]),
                "label": label,
            })
    return out


PROFILE_COLS = ("external_id", "handle", "name", "bio", "url", "location", "platform_created_at",
                "followers_count", "following_count", "posts_count", "likes_count", "likes_kind",
                "listed_count", "default_avatar", "verified", "last_post_at", "observed_at")


def store_profiles(db, tenant_id, profiles, platform="x"):
    """Upserts profiles; returns their ids in order."""
    ids = []
    with db.cursor() as cur:
        for i in range(0, len(profiles), 1000):
            batch = profiles[i:i + 1000]
            rows = [[tenant_id, platform] + [p.get(c) for c in PROFILE_COLS] for p in batch]
            cols = ", ".join(("tenant_id", "platform") + PROFILE_COLS)
            values = ", ".join(["(" + ", ".join(["%s"] * len(rows[0])) + ")"] * len(rows))
            cur.execute(
                "INSERT INTO realreach.profiles (%s) VALUES %s"
                " ON CONFLICT (tenant_id, platform, external_id) DO UPDATE SET"
                " handle = EXCLUDED.handle, followers_count = EXCLUDED.followers_count,"
                " following_count = EXCLUDED.following_count, posts_count = EXCLUDED.posts_count,"
                " observed_at = EXCLUDED.observed_at"
                " RETURNING id" % (cols, values),
                [v for row in rows for v in row])
            got = [r[0] for r in cur.fetchall()]
            assert len(got) == len(batch)
            ids += got
    return ids


def store_snapshot(db, tenant_id, account_id, profile_ids, observed_at, followed_at=None,
                   state="complete", emit=True):
    """A snapshot listing profile_ids in order (position 0 first), stored in
    chunks as the ingest code does; emits "followers.stored". Returns its id."""
    with db.cursor() as cur:
        cur.execute(
            "INSERT INTO realreach.follower_snapshots"
            " (tenant_id, account_id, observed_at, state, parts, received, followers,"
            "  next_position, completed_at)"
            " VALUES (%s, %s, %s, %s, 1, %s, %s, %s, CASE WHEN %s = 'complete' THEN now() END)"
            " RETURNING id",
            (tenant_id, account_id, observed_at, state, len(profile_ids), len(profile_ids),
             len(profile_ids), state))
        sid = cur.fetchone()[0]
        for k, start in enumerate(range(0, len(profile_ids), CHUNK)):
            cur.execute(
                "INSERT INTO realreach.snapshot_chunks"
                " (tenant_id, snapshot_id, part, chunk, first_position, profile_ids, followed_at)"
                " VALUES (%s, %s, 1, %s, %s, %s, %s)",
                (tenant_id, sid, k, start, profile_ids[start:start + CHUNK],
                 followed_at[start:start + CHUNK] if followed_at else None))
    if emit and state == "complete":
        emit_event(db, tenant_id, "followers.stored",
                   {"account_id": account_id, "snapshot_id": sid})
    return sid


def store_metrics(db, tenant_id, account_id, points, emit=True):
    """points: [(observed_at, followers)]."""
    with db.cursor() as cur:
        for t, n in points:
            cur.execute(
                "INSERT INTO realreach.account_metrics (tenant_id, account_id, observed_at, followers)"
                " VALUES (%s, %s, %s, %s)"
                " ON CONFLICT (tenant_id, account_id, observed_at) DO UPDATE SET followers = EXCLUDED.followers",
                (tenant_id, account_id, t, n))
    if emit:
        emit_event(db, tenant_id, "metrics.stored", {"account_id": account_id})


def emit_event(db, tenant_id, event, payload):
    """What the core does after an ingest request commits: a hook job."""
    with db.cursor() as cur:
        cur.execute("INSERT INTO realreach.jobs (tenant_id, kind, payload) VALUES (%s, 'hook', %s)"
                    " RETURNING id",
                    (tenant_id, json.dumps({"event": event, "payload": payload})))
        return cur.fetchone()[0]


def wait_hooks(db, tenant_id, timeout=60):
    def idle():
        with db.cursor() as cur:
            cur.execute("SELECT count(*) FILTER (WHERE state IN ('queued', 'running')),"
                        " count(*) FILTER (WHERE state = 'failed')"
                        " FROM realreach.jobs WHERE tenant_id = %s AND kind = 'hook'", (tenant_id,))
            pending, failed = cur.fetchone()
        assert failed == 0, "a hook job failed"
        return pending == 0
    wait_for(idle, timeout, 0.2, "hook jobs of tenant %d" % tenant_id)


def run_audit(client, account_id, body=None, timeout=120):
    r = client.post("/v1/accounts/%d/audits" % account_id, json=body,
                    headers={"Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 202, r.text
    audit = r.json()
    assert r.headers["Location"] == audit["url"]
    url = audit["url"]

    def finished():
        a = client.get(url).json()
        assert a["state"] != "failed", a
        return a if a["state"] == "done" else None
    return wait_for(finished, timeout, 0.25, "audit %s" % url)


def audit_of(tenant, handles, account_id=None):
    """A done audit of a snapshot of the given followers (handles; minimal
    profiles) of the tenant's main account — for suites that need an audit
    id, such as the cross-tenant one."""
    account_id = account_id or tenant.account_id
    c = connect(env("RR_ADMIN_DB"))
    try:
        ids = store_profiles(c, tenant.id, [{"external_id": h, "handle": h} for h in handles])
        store_snapshot(c, tenant.id, account_id, ids, datetime.now(timezone.utc), emit=False)
    finally:
        c.close()
    return run_audit(tenant.write, account_id)


def mcc(tp, fp, tn, fn):
    d = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return (tp * tn - fp * fn) / d if d else 0.0


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def db():
    c = connect(env("RR_ADMIN_DB"))
    yield c
    c.close()


@pytest.fixture(scope="module")
def labelled(tenant_a, db):
    """The training files as the followers of tenant A's main account, in a
    shuffled (fixed) order; its audit."""
    profiles = read_cresci("E13.train.csv", 0) + read_cresci("INT.train.csv", 1)
    random.Random(2015).shuffle(profiles)
    # ingested through the API as the research files are (CSV, rows shuffled
    # the same way), not written behind the service's back
    rows, header = {}, None
    for name in ("E13.train.csv", "INT.train.csv"):
        with open(os.path.join(DATA, name), newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader)
            for row in reader:
                rows[row[0]] = row
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(header)
    for p in profiles:
        writer.writerow(rows[p["external_id"]])
    body = out.getvalue().encode("utf-8")
    r = tenant_a.write.post("/v1/accounts/%d/followers" % tenant_a.account_id, data=body,
                            headers={"Content-Type": "text/csv"})
    assert r.status_code == 201, r.text[:500]  # 2,014 rows: merged by the request
    answer = r.json()
    assert answer["accepted"] == len(profiles) and answer["rejected"] == 0, answer
    sid = answer["snapshot"]["id"]
    merged_snapshot(tenant_a.read, answer, timeout=120)
    with db.cursor() as cur:
        cur.execute("SELECT external_id, id FROM realreach.profiles WHERE tenant_id = %s"
                    " AND external_id = ANY(%s)",
                    (tenant_a.id, [p["external_id"] for p in profiles]))
        by_ext = dict(cur.fetchall())
    ids = [by_ext[p["external_id"]] for p in profiles]
    observed = max(p["observed_at"] for p in profiles)
    wait_hooks(db, tenant_a.id)
    audit = run_audit(tenant_a.write, tenant_a.account_id)
    return {"profiles": profiles, "ids": ids, "snapshot_id": sid, "audit": audit,
            "observed": observed}


# ------------------------------------------------------------------- tests

def test_audit_agrees_with_the_labels(tenant_a, labelled):
    a = labelled["audit"]
    profiles = labelled["profiles"]
    s = a["summary"]
    assert a["snapshot_id"] == labelled["snapshot_id"]
    assert a["model_version"].startswith("gbt-")
    assert s["followers"] == len(profiles)
    assert sum(s["classes"][c]["count"] for c in CLASSES) == len(profiles)

    verdicts = tenant_a.read.list_all("/v1/accounts/%d/audits/%d/followers"
                                      % (tenant_a.account_id, a["id"]))
    assert len(verdicts) == len(profiles)
    assert [v["position"] for v in verdicts] == list(range(len(profiles)))
    label = {p["external_id"]: p["label"] for p in profiles}
    tp = fp = tn = fn = 0
    for v in verdicts:
        fake = v["class"] == "fake"
        if label[v["external_id"]]:
            tp, fn = tp + fake, fn + (not fake)
        else:
            fp, tn = fp + fake, tn + (not fake)
        assert 0 <= v["score"] <= 1 and 0 <= v["confidence"] <= 1
        if v["class"] in ("fake", "suspicious"):
            assert v["reasons"], v
            assert all(r["code"] and r["text"] for r in v["reasons"])
    accuracy = (tp + tn) / len(verdicts)
    assert accuracy >= MIN_ACCURACY, (tp, fp, tn, fn)
    assert mcc(tp, fp, tn, fn) >= MIN_MCC, (tp, fp, tn, fn)
    assert s["classes"]["fake"]["count"] == tp + fp


def test_summary_reads_like_a_report(tenant_a, labelled):
    s = labelled["audit"]["summary"]
    n = s["followers"]
    fake_share = s["classes"]["fake"]["count"] / n
    assert abs(s["fake_share"] - fake_share) < 1e-3
    assert s["band"]["name"] == "caution" and s["band"]["range"] == "20-50%"  # about 49 % fake
    assert s["real_reach"] == s["classes"]["genuine"]["count"]
    assert s["real_reach_excluding_mass"] <= s["real_reach"]
    assert s["mass_followers"]["count"] >= 1
    assert s["low_confidence"] == 0  # the training files are complete
    codes = [r["code"] for r in s["top_reasons"]]
    assert codes and "following_ratio" in codes
    assert all(0 < r["share"] <= 1 and r["count"] > 0 for r in s["top_reasons"])
    counts = [r["count"] for r in s["top_reasons"]]
    assert counts == sorted(counts, reverse=True)


def test_verdicts_filter_by_class_and_mass(tenant_a, labelled):
    a = labelled["audit"]
    base = "/v1/accounts/%d/audits/%d/followers" % (tenant_a.account_id, a["id"])
    fakes = tenant_a.read.list_all(base, **{"class": "fake"})
    assert len(fakes) == a["summary"]["classes"]["fake"]["count"]
    assert {v["class"] for v in fakes} == {"fake"}
    both = tenant_a.read.list_all(base, **{"class": "fake,suspicious"})
    assert len(both) == len(fakes) + a["summary"]["classes"]["suspicious"]["count"]
    mass = tenant_a.read.list_all(base, mass="true")
    assert len(mass) == a["summary"]["mass_followers"]["count"]
    assert all(v["mass"] for v in mass)
    assert all(any(r["code"] == "mass_follower" for r in v["reasons"]) for v in mass)
    r = tenant_a.read.get(base, params={"class": "bots"})
    assert_problem(r, 422, "validation", "class")
    r = tenant_a.read.get(base, params={"mass": "yes"})
    assert_problem(r, 422, "validation", "mass")


def test_removal_csv(tenant_a, labelled):
    a = labelled["audit"]
    url = "/v1/accounts/%d/audits/%d/removal.csv" % (tenant_a.account_id, a["id"])
    r = tenant_a.read.get(url)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in r.headers.get("Content-Disposition", "")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["external_id", "handle", "class", "score", "reasons"]
    body = rows[1:]
    assert len(body) == a["summary"]["classes"]["fake"]["count"]
    handles = {p["external_id"]: p["handle"] for p in labelled["profiles"]}
    for ext, handle, cls, score, reasons in body:
        assert handles[ext] == handle
        assert cls == "fake" and 0.5 <= float(score) <= 1
        assert reasons
    r = tenant_a.read.get(url, params={"class": "fake,suspicious"})
    assert len(r.text.strip().splitlines()) - 1 == (a["summary"]["classes"]["fake"]["count"]
                                                    + a["summary"]["classes"]["suspicious"]["count"])
    # paging by position: what follows the 10th row
    tenth = int(tenant_a.read.list_all(
        "/v1/accounts/%d/audits/%d/followers" % (tenant_a.account_id, a["id"]),
        **{"class": "fake"})[9]["position"])
    r = tenant_a.read.get(url, params={"after": tenth})
    assert len(r.text.strip().splitlines()) - 1 == len(body) - 10
    assert_problem(tenant_a.read.get(url, params={"after": "-1"}), 422, "validation", "after")


def test_audits_are_kept_and_listed(tenant_a, labelled):
    first = labelled["audit"]
    again = run_audit(tenant_a.write, tenant_a.account_id,
                      {"snapshot_id": labelled["snapshot_id"]})
    assert again["id"] != first["id"]
    assert again["summary"]["classes"] == first["summary"]["classes"]  # deterministic
    items = tenant_a.read.list_all("/v1/accounts/%d/audits" % tenant_a.account_id, limit=1)
    ids = [i["id"] for i in items]
    assert first["id"] in ids and again["id"] in ids and ids == sorted(ids)
    one = tenant_a.read.get(first["url"]).json()
    assert one["summary"] == first["summary"]


def test_compare_shows_what_changed(tenant_a, labelled, db):
    """A later snapshot: 100 fakes gone, 50 new fakes, 30 new genuine."""
    profiles, ids = labelled["profiles"], labelled["ids"]
    first = labelled["audit"]
    fakes = tenant_a.read.list_all("/v1/accounts/%d/audits/%d/followers"
                                   % (tenant_a.account_id, first["id"]), **{"class": "fake"})
    gone = {v["profile_id"] for v in fakes[:100]}
    later = labelled["observed"] + timedelta(days=30)
    by_ext = {p["external_id"]: p for p in profiles}
    fake_ext = [v["external_id"] for v in fakes[100:150]]
    new_fake = [dict(by_ext[e], external_id="nf%d" % i, handle="nf%d" % i)
                for i, e in enumerate(fake_ext)]
    genuine = tenant_a.read.list_all("/v1/accounts/%d/audits/%d/followers"
                                     % (tenant_a.account_id, first["id"]), **{"class": "genuine"})
    new_real = [dict(by_ext[v["external_id"]], external_id="nr%d" % i, handle="nr%d" % i)
                for i, v in enumerate(genuine[:30])]
    new_ids = store_profiles(db, tenant_a.id, new_fake + new_real)
    kept = [i for i in ids if i not in gone]
    sid = store_snapshot(db, tenant_a.id, tenant_a.account_id, new_ids + kept, later)
    wait_hooks(db, tenant_a.id)
    second = run_audit(tenant_a.write, tenant_a.account_id)
    assert second["snapshot_id"] == sid

    r = tenant_a.read.get("/v1/accounts/%d/audits/%d/compare/%d"
                          % (tenant_a.account_id, first["id"], second["id"]))
    assert r.status_code == 200, r.text
    c = r.json()
    assert c["from"]["id"] == first["id"] and c["to"]["id"] == second["id"]
    ch = c["changes"]
    assert ch["removed"] == 100 and ch["removed_fakes"] == 100
    assert ch["new_followers"] == 80
    new_fakes_seen = second["summary"]["classes"]["fake"]["count"] - (
        first["summary"]["classes"]["fake"]["count"] - 100)
    assert ch["new_fakes_new_followers"] >= 45  # the model may spare a few
    assert c["new_fakes"] == ch["new_fakes_new_followers"] + ch["new_fakes_reclassified"]
    assert c["new_fakes"] - ch["no_longer_fake"] == new_fakes_seen
    assert c["followers_change"] == -20
    expect = round(second["summary"]["fake_share"] - first["summary"]["fake_share"], 4)
    assert abs(c["fake_share_change"] - expect) < 2e-4
    assert c["fake_share_change"] < 0
    assert len(c["examples"]["removed_fakes"]) == 20
    assert all(e["external_id"] for e in c["examples"]["new_fakes"])
    # the other way round
    back = tenant_a.read.get("/v1/accounts/%d/audits/%d/compare/%d"
                             % (tenant_a.account_id, second["id"], first["id"])).json()
    assert back["changes"]["removed"] == 80 and back["changes"]["new_followers"] == 100


def test_audit_of_an_account_without_snapshot_is_409(tenant_a):
    r = tenant_a.write.post("/v1/accounts/%d/audits" % tenant_a.other_account_id, json={})
    body = assert_problem(r, 409, "no-snapshot")
    assert "snapshot" in body["detail"]
    r = tenant_a.write.post("/v1/accounts/%d/audits" % tenant_a.other_account_id)
    assert_problem(r, 409, "no-snapshot")


def test_unknown_or_incomplete_snapshot(tenant_a, tenant_b, db):
    acc = tenant_a.admin.create_account(tenant_a.other_client_id, "x")
    for bad in (999999999, 1 << 62):
        r = tenant_a.write.post("/v1/accounts/%d/audits" % acc["id"], json={"snapshot_id": bad})
        assert_problem(r, 404, "not-found", "snapshot_id")
    # a snapshot of another account (of another tenant) is not this account's
    pid = store_profiles(db, tenant_b.id, [{"external_id": "b-only", "handle": "bonly"}])
    b_snap = store_snapshot(db, tenant_b.id, tenant_b.account_id, pid,
                            datetime.now(timezone.utc), emit=False)
    r = tenant_a.write.post("/v1/accounts/%d/audits" % acc["id"], json={"snapshot_id": b_snap})
    assert_problem(r, 404, "not-found", "snapshot_id")
    # an open snapshot is not audited
    pid = store_profiles(db, tenant_a.id, [{"external_id": "open-1", "handle": "open1"}])
    open_snap = store_snapshot(db, tenant_a.id, acc["id"], pid, datetime.now(timezone.utc),
                               state="open")
    r = tenant_a.write.post("/v1/accounts/%d/audits" % acc["id"], json={"snapshot_id": open_snap})
    assert_problem(r, 409, "snapshot-incomplete", "snapshot_id")
    r = tenant_a.write.post("/v1/accounts/%d/audits" % acc["id"], json={})
    assert_problem(r, 409, "no-snapshot")
    # bodies that are not {"snapshot_id": n}
    for body in ({"snapshot_id": "1"}, {"snapshot": 1}, [1]):
        r = tenant_a.write.post("/v1/accounts/%d/audits" % acc["id"], json=body)
        assert r.status_code in (400, 422), r.text


def test_audit_routes_respect_tenants_and_clients(tenant_a, tenant_b, labelled):
    a = labelled["audit"]
    acc, aid = tenant_a.account_id, a["id"]
    paths = ["/v1/accounts/%d/audits" % acc, "/v1/accounts/%d/audits/%d" % (acc, aid),
             "/v1/accounts/%d/audits/%d/followers" % (acc, aid),
             "/v1/accounts/%d/audits/%d/removal.csv" % (acc, aid),
             "/v1/accounts/%d/audits/%d/compare/%d" % (acc, aid, aid),
             "/v1/accounts/%d/anomalies" % acc]
    for p in paths:  # tenant B: not found, like any id that does not exist
        assert_problem(tenant_b.admin.get(p), 404, "not-found")
    assert_problem(tenant_b.admin.post(paths[0], json={}), 404, "not-found")
    # a key restricted to A's other client: forbidden (as the core's account routes)
    other = tenant_a.admin.create_account(tenant_a.other_client_id, "x")
    from helpers import Client, create_key
    restricted = Client(create_key(tenant_a.id, "write", client=tenant_a.other_client_id))
    for p in paths:
        assert_problem(restricted.get(p), 403, "forbidden")
    assert_problem(restricted.post(paths[0], json={}), 403, "forbidden")
    assert_problem(restricted.post("/v1/accounts/%d/audits" % other["id"], json={}), 409,
                   "no-snapshot")
    # an audit id of another account of the same tenant is not found there
    assert_problem(tenant_a.read.get("/v1/accounts/%d/audits/%d" % (other["id"], aid)), 404,
                   "not-found")
    # a read key cannot start an audit
    assert_problem(tenant_a.read.post(paths[0], json={}), 403, "forbidden")
