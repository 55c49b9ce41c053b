"""Count series, posts with their metrics, engagements; the ingest hooks;
and object-level authorisation on every ingest route (another tenant's
account, snapshot or post is not found; a client-restricted key may not
touch another client's account)."""

import json
import time
import uuid
from datetime import datetime, timezone

import pytest

from helpers import Client, assert_problem, create_key, log_records, log_size, wait_for
from ingest_support import IngestTenant, count, fixture_bytes, it  # noqa: F401


def ok(r, status=201):
    assert r.status_code == status, "%d %s" % (r.status_code, r.text[:800])
    return r.json()


# --------------------------------------------------------------- metrics

def test_metrics_csv_json_and_buckets(it):
    a = it.account("x")
    body = ok(it.post(a, "metrics", fixture_bytes("metrics.csv"), "csv"))
    assert (body["received"], body["accepted"], body["rejected"]) == (4, 4, 0)
    assert body["points"] == {"created": 4, "updated": 0, "unchanged": 0}
    body = ok(it.post(a, "metrics", fixture_bytes("metrics.json")))
    assert body["accepted"] == 3
    # the same points again change nothing
    again = ok(it.post(a, "metrics", fixture_bytes("metrics.csv"), "csv"))
    assert again["points"] == {"created": 0, "updated": 0, "unchanged": 4}
    r = it.c.get("/v1/accounts/%d/metrics" % a,
                 params={"from": "2025-01-01T00:00:00Z", "to": "2025-03-01T00:00:00Z", "bucket": "day"})
    days = ok(r, 200)
    assert days["bucket"] == "day"
    by = {d["bucket_start"][:10]: d for d in days["items"]}
    assert by["2025-01-02"]["followers"] == 1015 and by["2025-01-02"]["points"] == 2
    assert by["2025-01-02"]["following"] == 101  # the last point that reported it
    assert by["2025-01-02"]["followers_change"] == 15
    assert by["2025-02-01"]["followers"] == 1201 and by["2025-02-02"]["followers"] == 1230
    weeks = ok(it.c.get("/v1/accounts/%d/metrics" % a, params={
        "from": "2024-12-30T00:00:00Z", "to": "2025-01-13T00:00:00Z", "bucket": "week"}), 200)
    assert [w["bucket_start"] for w in weeks["items"]] == ["2024-12-30T00:00:00.000Z",
                                                          "2025-01-06T00:00:00.000Z"]
    assert weeks["items"][0]["followers"] == 1015
    raw = ok(it.c.get("/v1/accounts/%d/metrics" % a, params={
        "from": "2025-01-01T00:00:00Z", "to": "2025-01-03T00:00:00Z", "bucket": "none"}), 200)
    assert len(raw["items"]) == 3
    hours = ok(it.c.get("/v1/accounts/%d/metrics" % a, params={
        "from": "2025-01-02T00:00:00Z", "to": "2025-01-03T00:00:00Z", "bucket": "hour"}), 200)
    assert [h["bucket_start"][11:13] for h in hours["items"]] == ["00", "12"]
    assert_problem(it.c.get("/v1/accounts/%d/metrics" % a, params={"bucket": "minute"}), 400,
                   "invalid-parameter", "bucket")
    assert_problem(it.c.get("/v1/accounts/%d/metrics" % a, params={
        "bucket": "hour", "from": "2010-01-01T00:00:00Z"}), 400, "invalid-parameter", "bucket")


def test_metrics_errors_duplicates_and_nulls(it, admin_db):
    a = it.account("x")
    rows = [{"observed_at": "2025-04-01T00:00:00Z", "followers": 5},
            {"observed_at": "2025-04-01T00:00:00Z", "followers": 6},
            {"observed_at": "soon", "followers": 1},
            {"followers": 2},
            {"observed_at": "2025-04-02T00:00:00Z"},
            {"observed_at": "2025-04-03T00:00:00Z", "following": 0}]
    p = assert_problem(it.post(a, "metrics", rows), 422, "invalid-rows")
    assert [(e["row"], e["field"]) for e in p["errors"]] == [(3, "observed_at"), (4, "observed_at"),
                                                             (5, "followers")]
    assert count(admin_db, "SELECT count(*) FROM realreach.account_metrics WHERE tenant_id = %s"
                           " AND account_id = %s", it.id, a) == 0
    body = ok(it.post(a, "metrics", rows, params={"on_error": "skip"}))
    assert (body["accepted"], body["rejected"], body["duplicates"]) == (2, 3, 1)
    assert body["duplicate_rows"][0]["row"] == 2
    with admin_db.cursor() as cur:
        cur.execute("SELECT followers, following FROM realreach.account_metrics WHERE tenant_id = %s"
                    " AND account_id = %s ORDER BY observed_at", (it.id, a))
        assert cur.fetchall() == [(5, None), (None, 0)]  # unknown stays NULL, zero stays zero


# ----------------------------------------------------------------- posts

def test_posts_formats_and_metric_history(it, admin_db):
    a = it.account("x")
    body = ok(it.post(a, "posts", fixture_bytes("posts_x_v2.json"),
                      params={}))
    assert body["posts"]["created"] == 2 and body["posts"]["observations"] == 2
    ok(it.post(a, "posts", fixture_bytes("posts_x_archive_tweets.js"), "js"))
    # later figures of the same post: one more observation, post updated
    time.sleep(0.01)  # observed at the request's time, after the first
    later = [{"id": "1800000000000000002", "public_metrics": {"like_count": 25, "retweet_count": 3,
                                                              "reply_count": 2, "quote_count": 1}}]
    body = ok(it.post(a, "posts", later))
    assert body["posts"] == {"created": 0, "updated": 1, "observations": 1}
    items = it.c.list_all("/v1/accounts/%d/posts" % a)
    by = {p["external_id"]: p for p in items}
    assert set(by) == {"1800000000000000002", "1800000000000000003", "1800000000000000004"}
    first = by["1800000000000000002"]
    assert first["text"] == "New drop!" and first["published_at"] == "2025-05-01T10:00:00.000Z"
    assert first["metrics"]["likes"] == 25 and first["metrics"]["shares"] == 4  # retweets + quotes
    assert by["1800000000000000003"]["metrics"]["clicks"] == 4
    assert by["1800000000000000003"]["metrics"]["reach"] is None  # not reported: NULL
    archive = by["1800000000000000004"]
    assert archive["metrics"]["likes"] == 3 and archive["text"] == "From the archive"
    one = ok(it.c.get("/v1/accounts/%d/posts/%d" % (a, first["id"])), 200)
    assert [m["likes"] for m in one["metrics"]] == [19, 25]
    since = it.c.list_all("/v1/accounts/%d/posts" % a, since="2025-05-02T00:00:00Z")
    assert [p["external_id"] for p in since] == ["1800000000000000003"]


def test_posts_instagram_tiktok_csv(it, admin_db):
    ig = it.account("instagram")
    body = ok(it.post(ig, "posts", fixture_bytes("posts_instagram_business_discovery.json")))
    assert body["accepted"] == 3
    by = {p["external_id"]: p for p in it.c.list_all("/v1/accounts/%d/posts" % ig)}
    assert by["17900000000000001"]["type"] == "image"
    reel = by["17900000000000002"]
    assert reel["type"] == "reel" and reel["url"] == "https://www.instagram.com/reel/XyZ/"
    assert reel["metrics"]["likes"] is None  # hidden likes are left out, not 0
    assert (reel["metrics"]["reach"], reel["metrics"]["saves"], reel["metrics"]["views"]) == (1234, 17, 5310)
    assert by["17900000000000003"]["type"] == "carousel"
    assert [p["external_id"] for p in it.c.list_all("/v1/accounts/%d/posts" % ig, type="reel")] == [
        "17900000000000002"]
    tt = it.account("tiktok")
    ok(it.post(tt, "posts", fixture_bytes("posts_tiktok.json")))
    v = it.c.list_all("/v1/accounts/%d/posts" % tt)[0]
    assert v["published_at"] == "2024-05-01T10:00:00.000Z" and v["metrics"]["views"] == 45000
    c = it.account("x")
    ok(it.post(c, "posts", fixture_bytes("posts.csv"), "csv"))
    by = {p["external_id"]: p for p in it.c.list_all("/v1/accounts/%d/posts" % c)}
    assert by["p-1"]["text"] == "Spring, finally" and by["p-1"]["metrics"]["impressions"] == 500
    assert by["p-2"]["metrics"]["likes"] is None and by["p-2"]["metrics"]["views"] == 9000


def test_posts_need_a_time_when_new(it, admin_db):
    a = it.account("x")
    p = assert_problem(it.post(a, "posts", [{"id": "np-1", "like_count": 1}]), 422, "invalid-rows")
    assert p["errors"][0]["field"] == "published_at"
    body = ok(it.post(a, "posts", [{"id": "np-1", "like_count": 1},
                                   {"id": "np-2", "created_at": "2025-01-01T00:00:00Z"}],
                      params={"on_error": "skip"}))
    assert (body["accepted"], body["rejected"]) == (1, 1)
    # a known post may come back without its time
    ok(it.post(a, "posts", [{"id": "np-2", "like_count": 9}]))
    assert it.c.list_all("/v1/accounts/%d/posts" % a)[0]["metrics"]["likes"] == 9


def test_post_duplicates_in_one_request(it):
    a = it.account("x")
    rows = [{"id": "dp", "created_at": "2025-01-01T00:00:00Z", "like_count": 1, "observed_at": "2025-01-02T00:00:00Z"},
            {"id": "dp", "like_count": 2, "observed_at": "2025-01-02T00:00:00Z"},
            {"id": "dp", "like_count": 3, "observed_at": "2025-01-03T00:00:00Z"}]
    body = ok(it.post(a, "posts", rows))
    assert (body["accepted"], body["duplicates"]) == (2, 1)
    assert body["posts"]["observations"] == 2


# ----------------------------------------------------------- engagements

def test_engagements_json_and_csv(it, admin_db):
    a = it.account("x")
    ok(it.post(a, "posts", fixture_bytes("posts_x_v2.json")))
    it.merged(it.followers(a, fixture_bytes("x_v1_followers_list.json")))
    body = ok(it.post(a, "engagements", fixture_bytes("engagements.json")))
    assert (body["received"], body["accepted"]) == (4, 4), body
    assert body["engagements"]["created"] == 4
    items = it.c.list_all("/v1/accounts/%d/engagements" % a)
    by = {(e["kind"], e["profile_external_id"]): e for e in items}
    assert ("share", "2244994945") in by  # retweet
    reply = by[("reply", "783214")]
    assert reply["text"] == "Love it" and reply["external_id"] == "1800000000000000010"
    assert reply["profile_handle"] == "brunocafe"  # the follower profile, linked by id
    liker = by[("like", "77")]
    assert liker["occurred_at"] is None
    with admin_db.cursor() as cur:
        cur.execute("SELECT followers_count, default_avatar FROM realreach.profiles"
                    " WHERE tenant_id = %s AND platform = 'x' AND external_id = '77'", (it.id,))
        assert cur.fetchone() == (5, True)
    # sent again: nothing new
    again = ok(it.post(a, "engagements", fixture_bytes("engagements.json")))
    assert again["engagements"] == {"created": 0, "already_stored": 4}
    csv = ok(it.post(a, "engagements", fixture_bytes("engagements.csv"), "csv"))
    assert csv["engagements"]["created"] == 2
    comments = it.c.list_all("/v1/accounts/%d/engagements" % a, kind="comment")
    assert {c["text"] for c in comments} >= {"nice, really", "First!"}


def test_engagements_with_unknown_posts_and_duplicates(it, admin_db):
    a = it.account("x")
    ok(it.post(a, "posts", [{"id": "ep", "created_at": "2025-01-01T00:00:00Z"}]))
    rows = [{"post_external_id": "ep", "kind": "like", "profile": {"id": "u1"}},
            {"post_external_id": "nope", "kind": "like", "profile": {"id": "u2"}},
            {"post_external_id": "ep", "kind": "like", "profile": {"id": "u1"}},
            {"post_external_id": "ep", "kind": "cheer", "profile": {"id": "u3"}},
            {"post_external_id": "ep", "kind": "like"}]
    p = assert_problem(it.post(a, "engagements", rows), 422, "invalid-rows")
    assert [(e["row"], e["field"]) for e in p["errors"]] == [(2, "post_external_id"), (4, "kind"),
                                                             (5, "profile")]
    assert count(admin_db, "SELECT count(*) FROM realreach.engagements e JOIN realreach.posts p"
                           " ON p.tenant_id = e.tenant_id AND p.id = e.post_id"
                           " WHERE e.tenant_id = %s AND p.account_id = %s", it.id, a) == 0
    body = ok(it.post(a, "engagements", rows, params={"on_error": "skip"}))
    assert (body["accepted"], body["rejected"], body["duplicates"]) == (1, 3, 1)


# ----------------------------------------------------------------- hooks

@pytest.mark.parametrize("route,event,rows", [
    ("metrics", "metrics.stored", [{"observed_at": "2025-01-01T00:00:00Z", "followers": 1}]),
    ("posts", "posts.stored", [{"id": "hp", "created_at": "2025-01-01T00:00:00Z", "like_count": 1}]),
])
def test_ingest_hooks_run_after_commit(it, route, event, rows):
    a = it.account("x")
    off = log_size()
    ok(it.post(a, route, rows))

    def hooked():
        return [r for r in log_records(off) if r.get("msg", "").startswith("ingestkit hook " + event)
                and json.loads(r["msg"].split(" ", 3)[3])["account_id"] == a]
    wait_for(hooked, 20, 0.2, "the ingestkit hook for " + event)


def test_engagements_hook(it):
    a = it.account("x")
    ok(it.post(a, "posts", [{"id": "hk", "created_at": "2025-01-01T00:00:00Z"}]))
    off = log_size()
    ok(it.post(a, "engagements", [{"post": "hk", "kind": "like", "profile": {"id": "9"}}]))
    line = wait_for(lambda: [r for r in log_records(off) if r.get("msg", "").startswith(
        "ingestkit hook engagements.stored") and '"account_id":%d,' % a in r["msg"]], 20, 0.2,
        "the engagements hook")[0]
    payload = json.loads(line["msg"].split(" ", 3)[3])
    assert payload == {"account_id": a, "engagements": 1, "posts": 1}


# --------------------------------------------------------- authorisation

def ingest_routes(account, snapshot, post):
    """Every ingest route with the given ids: (method, path, body, content type)."""
    base = "/v1/accounts/%s" % account
    return [
        ("POST", base + "/followers", b'[{"id":"1"}]', "application/json"),
        ("POST", base + "/snapshots", b"{}", "application/json"),
        ("GET", base + "/snapshots", None, None),
        ("GET", base + "/snapshots/%s" % snapshot, None, None),
        ("POST", base + "/snapshots/%s/parts?part=1" % snapshot, b'[{"id":"1"}]', "application/json"),
        ("POST", base + "/snapshots/%s/complete" % snapshot, None, None),
        ("GET", base + "/snapshots/%s/followers" % snapshot, None, None),
        ("POST", base + "/metrics", b'[{"observed_at":"2025-01-01T00:00:00Z","followers":1}]',
         "application/json"),
        ("GET", base + "/metrics", None, None),
        ("POST", base + "/posts", b'[{"id":"1","created_at":"2025-01-01T00:00:00Z"}]', "application/json"),
        ("GET", base + "/posts", None, None),
        ("GET", base + "/posts/%s" % post, None, None),
        ("POST", base + "/engagements", b'[{"post":"1","kind":"like","profile":{"id":"1"}}]',
         "application/json"),
        ("GET", base + "/engagements", None, None),
    ]


@pytest.fixture(scope="module")
def other():
    """Another tenant with a snapshot, a post and data under its account."""
    b = IngestTenant()
    sid = b.merged(b.followers(b.x, [{"id": "secret-follower", "screen_name": "b_secret"}]))["snapshot"]["id"]
    ok(b.post(b.x, "posts", [{"id": "b-post", "created_at": "2025-01-01T00:00:00Z", "text": "b secret"}]))
    pid = b.c.list_all("/v1/accounts/%d/posts" % b.x)[0]["id"]
    return b, sid, pid


def test_every_ingest_route_hides_other_tenants_objects(it, other, admin_db):
    b, sid, pid = other
    stored = count(admin_db, "SELECT count(*) FROM realreach.profiles WHERE tenant_id = %s", b.id)
    for method, path, body, ctype in ingest_routes(b.x, sid, pid):
        h = {"Content-Type": ctype} if ctype else {}
        r = it.c.request(method, path, data=body, headers=h)
        assert r.status_code == 404, "%s %s -> %d %s" % (method, path, r.status_code, r.text[:200])
        assert_problem(r, 404, "not-found")
        assert "secret" not in r.text
    # A's own account with B's snapshot / post ids: not found either
    for method, path, body, ctype in ingest_routes(it.x, sid, pid):
        if "/snapshots/" not in path and "/posts/" not in path:
            continue
        h = {"Content-Type": ctype} if ctype else {}
        r = it.c.request(method, path, data=body, headers=h)
        assert r.status_code == 404, "%s %s -> %d %s" % (method, path, r.status_code, r.text[:200])
    assert count(admin_db, "SELECT count(*) FROM realreach.profiles WHERE tenant_id = %s", b.id) == stored
    assert count(admin_db, "SELECT count(*) FROM realreach.profiles WHERE tenant_id = %s"
                           " AND external_id = '1'", it.id) == 0


def test_client_restricted_key_only_touches_its_client(it):
    restricted = Client(create_key(it.id, "write", client=it.client_id))
    r = restricted.post("/v1/accounts/%d/followers" % it.tt, data=b'[{"id":"1"}]',
                        headers={"Content-Type": "application/json"})
    assert_problem(r, 403, "forbidden")
    r = restricted.get("/v1/accounts/%d/posts" % it.tt)
    assert_problem(r, 403, "forbidden")
    r = restricted.post("/v1/accounts/%d/metrics" % it.x,
                        data=b'[{"observed_at":"2025-01-01T00:00:00Z","followers":1}]',
                        headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text


def test_read_key_cannot_ingest(it):
    reader = Client(create_key(it.id, "read"))
    r = reader.post("/v1/accounts/%d/followers" % it.x, data=b"[]",
                    headers={"Content-Type": "application/json"})
    assert_problem(r, 403, "forbidden")
    assert reader.get("/v1/accounts/%d/snapshots" % it.x).status_code == 200
