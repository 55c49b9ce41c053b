"""Follower snapshots: every input format agencies have (X v1.1 and v2,
X archive, Instagram objects and exports, TikTok, CSV with the research
files as they are, id lists), NULL versus zero, all-or-nothing and skip
modes, duplicates, idempotent retries, snapshots in parts, expiry, and a
body far larger than the memory limits streamed without growth."""

import json
import os
import time
import uuid
from datetime import datetime, timezone

import pytest

from helpers import assert_problem, log_records, log_size, wait_for
from ingest_support import (count, cresci_path, fixture_bytes, it, profile_rows,  # noqa: F401
                            snapshot_member_ids)


def ok(r, status=201):
    assert r.status_code == status, "%d %s" % (r.status_code, r.text[:800])
    return r.json()


def utc(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


# ------------------------------------------------------------- formats

def test_x_v1_followers_list_envelope(it, admin_db):
    a = it.account("x")
    body = it.merged(it.followers(a, fixture_bytes("x_v1_followers_list.json"),
                           params={"observed_at": "2025-02-01T00:00:00Z"}))
    assert (body["received"], body["accepted"], body["rejected"], body["duplicates"]) == (3, 3, 0, 0)
    snap = body["snapshot"]
    assert snap["state"] == "complete" and snap["followers"] == 3 and snap["parts"] == 1
    assert snap["observed_at"] == "2025-02-01T00:00:00.000Z"
    assert body["merge"]["profiles"] == {"created": 3, "updated": 0}
    # the platform's order is kept
    assert snapshot_member_ids(admin_db, it.id, snap["id"]) == [
        "1234567890123456789", "783214", "1500000000000000099"]
    p = profile_rows(admin_db, it.id, "x")
    ana, bruno, priv = p["1234567890123456789"], p["783214"], p["1500000000000000099"]
    assert ana["handle"] == "ana_r" and ana["followers_count"] == 3 and ana["following_count"] == 812
    assert ana["posts_count"] == 1 and ana["likes_count"] == 0 and ana["likes_kind"] == "given"
    assert ana["default_avatar"] is True and ana["verified"] is False and ana["protected"] is False
    assert ana["url"] == "" and ana["bio"] == "" and ana["lang"] is None  # null url: "not set"; lang: unknown
    assert ana["platform_created_at"] == datetime(2021, 2, 9, 21, 1, 50, tzinfo=timezone.utc)
    assert ana["last_post_at"] == datetime(2021, 2, 10, 8, 0, 0, tzinfo=timezone.utc)
    assert ana["observed_at"] == datetime(2025, 2, 1, tzinfo=timezone.utc)
    assert bruno["url"] == "https://brunocafe.example/"  # the expanded link, not t.co
    assert bruno["bio"] == 'Roaster. "Good beans" only.\nOpen 8–18.'
    assert bruno["name"] == "Bruno Café ☕" and bruno["verified"] is True
    assert bruno["default_avatar"] is False and bruno["listed_count"] == 87
    assert priv["protected"] is True and priv["last_post_at"] is None
    # the old egg URL is a default avatar too when the flag says so... and
    # the flag wins: default_profile_image false
    assert priv["default_avatar"] is False


def test_x_v1_users_lookup_bare_array(it, admin_db):
    a = it.account("x")
    it.merged(it.followers(a, fixture_bytes("x_v1_users_lookup.json")))
    p = profile_rows(admin_db, it.id, "x")
    assert p["6253283"]["default_avatar"] is True and p["6253283"]["following_count"] == 4999
    assert p["6253282"]["location"] == "SF"


@pytest.mark.parametrize("name,kind", [("x_v2_followers.json", "json"),
                                       ("x_v2_followers.ndjson", "ndjson")])
def test_x_v2_users(it, admin_db, name, kind):
    a = it.account("x")
    body = it.merged(it.followers(a, fixture_bytes(name), kind))
    assert body["received"] == 3 and body["accepted"] == 3
    p = profile_rows(admin_db, it.id, "x")
    ana = p["1500000000000000001"]
    assert ana["handle"] == "ana_r2" and ana["followers_count"] == 3 and ana["posts_count"] == 1
    assert ana["default_avatar"] is True  # no flag in v2: the URL says so
    assert ana["platform_created_at"] == datetime(2019, 3, 4, 11, 22, 33, tzinfo=timezone.utc)
    # most_recent_tweet_id is a snowflake: it holds the time of the last post
    assert ana["last_post_at"].year == 2024
    dev = p["2244994945"]
    assert dev["url"] == "https://developer.example.com" and dev["verified"] is True
    assert dev["default_avatar"] is False and dev["likes_count"] == 2150
    new = p["1600000000000000007"]
    assert new["posts_count"] == 0  # "post_count" (the Post renaming) is read too
    assert new["bio"] is None and new["location"] is None  # left out: unknown, not ""


def test_x_archive_follower_js_links_known_and_creates_bare(it, admin_db):
    a = it.account("x")
    it.merged(it.followers(a, fixture_bytes("x_v2_followers.json")))
    before = profile_rows(admin_db, it.id, "x")["2244994945"]
    body = it.merged(it.followers(a, fixture_bytes("x_archive_follower.js"), "js"))
    assert body["accepted"] == 3
    after = profile_rows(admin_db, it.id, "x")
    known = after["2244994945"]
    assert known["id"] == before["id"]  # linked, not duplicated
    assert known["followers_count"] == 570212 and known["observed_at"] == before["observed_at"]
    bare = after["9876543210"]
    for col in ("handle", "name", "bio", "followers_count", "default_avatar", "observed_at",
                "platform_created_at"):
        assert bare[col] is None, (col, bare[col])
    assert snapshot_member_ids(admin_db, it.id, body["snapshot"]["id"]) == [
        "2244994945", "1500000000000000001", "9876543210"]


def test_instagram_profiles_then_export_links_by_handle(it, admin_db):
    a = it.account("instagram")
    it.merged(it.followers(a, fixture_bytes("instagram_profiles.json")))
    p = profile_rows(admin_db, it.id, "instagram")
    ana, ghost = p["17841400000000001"], p["17841400000000002"]
    assert (ana["handle"], ana["name"], ana["bio"], ana["url"]) == (
        "ana.r", "Ana R.", "photos & coffee", "https://ana.example")
    assert (ana["followers_count"], ana["following_count"], ana["posts_count"]) == (812, 640, 57)
    assert ana["default_avatar"] is False and ana["protected"] is False
    assert ghost["default_avatar"] is True and ghost["protected"] is True
    assert ghost["url"] == "" and ghost["likes_count"] is None
    # the export names usernames only: ana.r links to the profile known by id
    body = it.merged(it.followers(a, fixture_bytes("instagram_followers_1.json")))
    assert body["accepted"] == 3
    members = snapshot_member_ids(admin_db, it.id, body["snapshot"]["id"])
    assert members == ["17841400000000001", "@cafe_demo", "@mixed.case_99"]
    p = profile_rows(admin_db, it.id, "instagram")
    assert p["17841400000000001"]["id"] == ana["id"]
    assert p["@mixed.case_99"]["handle"] == "Mixed.Case_99"
    with admin_db.cursor() as cur:
        cur.execute("SELECT followed_at FROM realreach.snapshot_followers WHERE tenant_id = %s"
                    " AND snapshot_id = %s ORDER BY position", (it.id, body["snapshot"]["id"]))
        times = [r[0] for r in cur.fetchall()]
    assert times[0] == datetime.fromtimestamp(1732727703, tz=timezone.utc)


def test_instagram_placeholder_moves_to_the_real_id(it, admin_db):
    a = it.account("instagram")
    it.merged(it.followers(a, fixture_bytes("instagram_following.json")))
    p = profile_rows(admin_db, it.id, "instagram", "external_id LIKE '@only%%'")
    assert list(p) == ["@only.href"]  # the username from the href (_u/ and ?hl= dropped)
    placeholder_id = p["@only.href"]["id"]
    graph = {"data": [{"id": "17841499999999999", "username": "only.href", "followers_count": 9}]}
    it.merged(it.followers(a, graph))
    p = profile_rows(admin_db, it.id, "instagram", "handle = 'only.href'")
    assert list(p) == ["17841499999999999"]
    assert p["17841499999999999"]["id"] == placeholder_id  # same row: old snapshots keep it
    assert p["17841499999999999"]["followers_count"] == 9


def test_instagram_graph_and_tiktok_envelopes(it, admin_db):
    it.merged(it.followers(it.account("instagram"), fixture_bytes("instagram_graph_users.json")))
    cafe = profile_rows(admin_db, it.id, "instagram")["17841405309211844"]
    assert (cafe["followers_count"], cafe["following_count"], cafe["posts_count"]) == (2677, 310, 120)
    assert cafe["url"] == "https://cafe.example"
    t = it.account("tiktok")
    body = it.merged(it.followers(t, fixture_bytes("tiktok_research_followers.json")))
    assert body["accepted"] == 2
    it.merged(it.followers(t, fixture_bytes("tiktok_users.ndjson"), "ndjson"))
    tt = profile_rows(admin_db, it.id, "tiktok")
    assert tt["@bo.tt"]["name"] == "Bo" and tt["@bo.tt"]["followers_count"] is None
    assert "@ana_tt" not in tt  # the placeholder moved to the id the user object gave
    ana = tt["-000abc"]
    assert ana["likes_count"] == 42 and ana["likes_kind"] == "received" and ana["posts_count"] == 3


def test_csv_quotes_newlines_and_null_versus_zero(it, admin_db):
    a = it.account("x")
    body = it.merged(it.followers(a, fixture_bytes("profiles.csv"), "csv"))
    assert body["received"] == 3 and body["accepted"] == 3, body
    p = profile_rows(admin_db, it.id, "x", "external_id IN ('101', '102', '103')")
    one, two, three = p["101"], p["102"], p["103"]
    assert one["name"] == "One, with comma" and one["bio"] == 'line one\nline two "quoted"'
    assert one["followers_count"] == 0 and one["following_count"] == 12  # "0" is zero
    assert one["posts_count"] is None and one["likes_count"] is None     # empty is unknown
    assert one["url"] == "" and one["location"] == "Rome"
    assert one["protected"] is False and one["default_avatar"] is False
    assert two["default_avatar"] is True and two["protected"] is True
    assert two["platform_created_at"] == datetime(2019, 5, 5, tzinfo=timezone.utc)
    for col in ("name", "bio", "url", "location", "followers_count", "default_avatar", "verified",
                "platform_created_at"):
        assert three[col] is None, (col, three[col])  # the NULL token


def test_null_versus_zero_in_json(it, admin_db):
    a = it.account("x")
    rows = [{"id": "n-1", "followers_count": 0, "friends_count": 0, "statuses_count": 0},
            {"id": "n-2", "followers_count": None},
            {"id": "n-3", "screen_name": "only_handle"}]
    it.merged(it.followers(a, "\n".join(json.dumps(r) for r in rows), "ndjson"))
    p = profile_rows(admin_db, it.id, "x", "external_id LIKE 'n-%%'")
    assert (p["n-1"]["followers_count"], p["n-1"]["following_count"], p["n-1"]["posts_count"]) == (0, 0, 0)
    assert p["n-2"]["followers_count"] is None
    assert p["n-3"]["followers_count"] is None and p["n-3"]["handle"] == "only_handle"
    # an answer shows them the same way
    items = it.members(a, it.c.get("/v1/accounts/%d/snapshots" % a).json()["items"][-1]["id"])
    by = {i["external_id"]: i for i in items}
    assert by["n-1"]["followers_count"] == 0 and by["n-2"]["followers_count"] is None


def test_id_list_text_plain(it, admin_db):
    a = it.account("x")
    body = it.merged(it.followers(a, fixture_bytes("ids.txt"), "ids"))
    assert body["received"] == 3 and body["accepted"] == 3  # header, comment, blank skipped
    assert snapshot_member_ids(admin_db, it.id, body["snapshot"]["id"]) == [
        "12345", "67890", "@somehandle"]
    # the same list as a JSON array of ids (X's followers/ids answer)
    body = it.merged(it.followers(a, {"ids": [12345, "67890"], "next_cursor": 0}))
    assert body["accepted"] == 2


def test_format_parameter_overrides_content_type(it):
    a = it.account("x")
    body = it.merged(it.followers(a, b"1\n2\n", "application/octet-stream", params={"format": "ids"}))
    assert body["accepted"] == 2


@pytest.mark.parametrize("ctype", ["application/xml", "image/png"])
def test_unsupported_media_type(it, ctype):
    r = it.followers(it.x, b"<users/>", ctype)
    assert_problem(r, 415, "unsupported-media-type")


def test_bad_parameters(it):
    assert_problem(it.followers(it.x, b"[]", params={"on_error": "maybe"}), 400,
                   "invalid-parameter", "on_error")
    assert_problem(it.followers(it.x, b"[]", params={"observed_at": "yesterday"}), 400,
                   "invalid-parameter", "observed_at")


# --------------------------------------------------- the research files

@pytest.mark.parametrize("name,rows", [("E13.train.csv", 1029), ("INT.train.csv", 985)])
def test_cresci_2015_files_ingest_as_they_are(it, admin_db, name, rows):
    a = it.account("x")
    with open(cresci_path(name), "rb") as f:
        data = f.read()
    body = it.merged(it.followers(a, data, "csv", timeout=120))
    assert (body["received"], body["accepted"], body["rejected"]) == (rows, rows, 0), body["errors"]
    # `updated` is the observation time, of the profiles and of the snapshot
    assert body["snapshot"]["observed_at"].startswith("2015-02-1")
    with admin_db.cursor() as cur:
        cur.execute("""SELECT count(*), count(*) FILTER (WHERE observed_at < '2015-03-01'),
                              count(DISTINCT external_id), count(*) FILTER (WHERE default_avatar IS NULL),
                              count(*) FILTER (WHERE platform_created_at IS NULL)
                         FROM realreach.snapshot_followers sf
                         JOIN realreach.profiles p ON p.tenant_id = sf.tenant_id AND p.id = sf.profile_id
                        WHERE sf.tenant_id = %s AND sf.snapshot_id = %s""",
                    (it.id, body["snapshot"]["id"]))
        total, observed_2015, distinct, no_avatar_flag, no_created = cur.fetchone()
    assert total == rows and observed_2015 == rows and distinct == rows
    assert no_avatar_flag == 0 and no_created == 0
    if name == "E13.train.csv":
        p = profile_rows(admin_db, it.id, "x", "external_id = '6067292'")["6067292"]
        assert (p["handle"], p["name"], p["posts_count"], p["followers_count"], p["following_count"],
                p["likes_count"], p["listed_count"]) == ("alesstar", "alesaura", 40586, 640, 622, 1118, 32)
        assert p["url"] == "http://alesstar.wordpress.com/" and p["lang"] == "en"
        assert p["platform_created_at"] == datetime(2007, 5, 15, 16, 55, 16, tzinfo=timezone.utc)
        assert p["observed_at"] == datetime(2015, 2, 14, 10, 54, 49, tzinfo=timezone.utc)
        assert p["default_avatar"] is False and p["verified"] is False
        # a description padded with NUL bytes (PostgreSQL text cannot hold them) is stored without
        assert count(admin_db, "SELECT count(*) FROM realreach.profiles WHERE tenant_id = %s"
                               " AND bio LIKE ' %%' AND length(bio) < 5", it.id) >= 1


# ----------------------------------------------- errors and duplicates

BAD_ROWS = [
    {"id": "e-1", "followers_count": 10},
    {"id": "e-2", "followers_count": -5},
    {"id": "e-3", "created_at": "last tuesday"},
    {"screen_name": ""},
    "not json {",
    {"id": "e-6", "name": "x" * 300},
    {"id": "e-7", "followers_count": 7},
]


def bad_body():
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in BAD_ROWS)


def test_all_or_nothing_refuses_and_writes_nothing(it, admin_db):
    a = it.account("x")
    before = count(admin_db, "SELECT count(*) FROM realreach.profiles WHERE tenant_id = %s", it.id)
    r = it.followers(a, bad_body(), "ndjson")
    p = assert_problem(r, 422, "invalid-rows")
    assert (p["received"], p["accepted"], p["rejected"]) == (7, 0, 5)
    errs = [(e["row"], e["field"]) for e in p["errors"]]
    assert errs == [(2, "followers_count"), (3, "created_at"), (4, "id"), (5, None), (6, "name")]
    assert all(e["reason"] for e in p["errors"])
    assert count(admin_db, "SELECT count(*) FROM realreach.profiles WHERE tenant_id = %s", it.id) == before
    assert count(admin_db, "SELECT count(*) FROM realreach.follower_snapshots WHERE tenant_id = %s"
                           " AND account_id = %s", it.id, a) == 0


def test_skip_mode_stores_the_valid_rows(it, admin_db):
    a = it.account("x")
    body = it.merged(it.followers(a, bad_body(), "ndjson", params={"on_error": "skip"}))
    assert (body["received"], body["accepted"], body["rejected"]) == (7, 2, 5)
    assert [e["row"] for e in body["errors"]] == [2, 3, 4, 5, 6]
    assert snapshot_member_ids(admin_db, it.id, body["snapshot"]["id"]) == ["e-1", "e-7"]
    assert body["snapshot"]["rejected"] == 5


def test_first_errors_only_but_all_counted(it):
    rows = "\n".join(json.dumps({"id": "m%d" % i, "followers_count": "many"}) for i in range(60))
    p = assert_problem(it.followers(it.account("x"), rows, "ndjson"), 422, "invalid-rows")
    assert p["rejected"] == 60 and len(p["errors"]) == 20 and p["errors"][0]["row"] == 1


def test_duplicates_are_reported_and_stored_once(it, admin_db):
    a = it.account("x")
    rows = [{"id": "d-1", "followers_count": 1}, {"id": "d-2"}, {"id": "d-1", "followers_count": 99},
            {"id": "d-3"}, {"id": "d-2"}]
    body = it.merged(it.followers(a, rows))
    assert (body["received"], body["accepted"], body["duplicates"]) == (5, 3, 2)
    assert body["duplicate_rows"] == [{"row": 3, "first_row": 1, "key": "d-1"},
                                      {"row": 5, "first_row": 2, "key": "d-2"}]
    assert snapshot_member_ids(admin_db, it.id, body["snapshot"]["id"]) == ["d-1", "d-2", "d-3"]
    assert profile_rows(admin_db, it.id, "x")["d-1"]["followers_count"] == 1  # the first is kept


def test_malformed_document_is_a_400_and_writes_nothing(it, admin_db):
    a = it.account("x")
    r = it.followers(a, b'[{"id": "t-1"}, {"id": "t-2"')
    assert_problem(r, 400, "invalid-body")
    assert count(admin_db, "SELECT count(*) FROM realreach.follower_snapshots WHERE tenant_id = %s"
                           " AND account_id = %s", it.id, a) == 0


def test_empty_list_is_an_empty_snapshot(it):
    body = it.merged(it.followers(it.account("x"), b"[]"))
    assert body["received"] == 0 and body["snapshot"]["followers"] == 0


# ---------------------------------------------------- merging profiles

def test_newer_observation_wins_and_null_keeps_old_values(it, admin_db):
    a = it.account("x")
    it.merged(it.followers(a, [{"id": "o-1", "screen_name": "old", "followers_count": 10, "description": "bio"}],
                    params={"observed_at": "2025-01-01T00:00:00Z"}))
    it.merged(it.followers(a, [{"id": "o-1", "screen_name": "new", "followers_count": 20}],
                    params={"observed_at": "2025-02-01T00:00:00Z"}))
    p = profile_rows(admin_db, it.id, "x")["o-1"]
    assert (p["handle"], p["followers_count"], p["bio"]) == ("new", 20, "bio")
    # an older observation only fills what is unknown
    it.merged(it.followers(a, [{"id": "o-1", "screen_name": "older", "followers_count": 5, "location": "Oslo"}],
                    params={"observed_at": "2024-06-01T00:00:00Z"}))
    p = profile_rows(admin_db, it.id, "x")["o-1"]
    assert (p["handle"], p["followers_count"], p["location"]) == ("new", 20, "Oslo")
    assert p["observed_at"] == datetime(2025, 2, 1, tzinfo=timezone.utc)


# ----------------------------------------------------------- idempotency

def test_retry_with_the_same_idempotency_key_stores_once(it, admin_db):
    a = it.account("x")
    key = "followers-" + uuid.uuid4().hex
    body = fixture_bytes("x_v2_followers.ndjson")
    r1 = it.followers(a, body, "ndjson", headers={"Idempotency-Key": key})
    first = ok(r1)
    r2 = it.followers(a, body, "ndjson", headers={"Idempotency-Key": key})
    assert r2.status_code == 201 and r2.headers.get("Idempotent-Replayed") == "true"
    assert r2.json() == first and r2.headers.get("Location") == r1.headers.get("Location")
    assert count(admin_db, "SELECT count(*) FROM realreach.follower_snapshots WHERE tenant_id = %s"
                           " AND account_id = %s", it.id, a) == 1
    r3 = it.followers(a, body + b'{"id": "other"}\n', "ndjson", headers={"Idempotency-Key": key})
    assert_problem(r3, 422, "idempotency-mismatch")


# ----------------------------------------------------- snapshots in parts

def part(it, a, sid, n, rows, key=None, **params):
    h = {"Idempotency-Key": key} if key else {}
    return it.post(a, "snapshots/%d/parts" % sid, rows, "json", params=dict(params, part=n), headers=h)


def test_snapshot_in_parts(it, admin_db, app_db):
    a = it.account("x")
    r = it.c.post("/v1/accounts/%d/snapshots" % a, json={"observed_at": "2025-03-01T00:00:00Z"})
    snap = ok(r)
    sid = snap["id"]
    assert snap["state"] == "open" and snap["expires_at"] and r.headers["Location"].endswith("/%d" % sid)
    page1 = [{"id": "p-%d" % i} for i in range(5)]
    page2 = [{"id": "p-%d" % i} for i in range(5, 8)] + [{"id": "p-2"}]  # pages overlap
    k1 = "part1-" + uuid.uuid4().hex
    b1 = ok(part(it, a, sid, 1, page1, key=k1))
    assert b1["part"] == 1 and b1["accepted"] == 5 and b1["snapshot"]["state"] == "open"
    # a retry of part 1 with its key is answered again; without, it is refused
    again = part(it, a, sid, 1, page1, key=k1)
    assert again.status_code == 201 and again.headers.get("Idempotent-Replayed") == "true"
    assert_problem(part(it, a, sid, 1, page1), 409, "part-out-of-order", "part")
    assert_problem(part(it, a, sid, 3, page2), 409, "part-out-of-order", "part")
    assert_problem(part(it, a, sid, None, page2), 400, "invalid-parameter", "part")
    ok(part(it, a, sid, 2, page2))
    # not visible to analyses before it is complete
    with app_db.cursor() as cur:
        cur.execute("SELECT set_config('realreach.tenant_id', %s, true)", (str(it.id),))
        cur.execute("SELECT count(*) FROM realreach.snapshot_followers WHERE snapshot_id = %s", (sid,))
        assert cur.fetchone()[0] == 0
    app_db.rollback()
    r = it.c.post("/v1/accounts/%d/snapshots/%d/complete" % (a, sid))
    assert r.status_code == 200, r.text  # 9 rows: merged by the request
    done = it.merged(r)
    assert done["snapshot"]["state"] == "complete" and done["snapshot"]["followers"] == 8
    assert done["merge"]["profiles"] == {"created": 8, "updated": 0}
    assert done["duplicates"] == 1 and done["duplicate_positions"][0]["key"] == "p-2"
    assert done["snapshot"]["observed_at"] == "2025-03-01T00:00:00.000Z"
    with app_db.cursor() as cur:
        cur.execute("SELECT set_config('realreach.tenant_id', %s, true)", (str(it.id),))
        cur.execute("SELECT p.external_id FROM realreach.snapshot_followers sf"
                    " JOIN realreach.profiles p ON p.tenant_id = sf.tenant_id AND p.id = sf.profile_id"
                    " WHERE sf.snapshot_id = %s ORDER BY sf.position", (sid,))
        assert [r[0] for r in cur.fetchall()] == ["p-%d" % i for i in range(8)]
    app_db.rollback()
    # completing again changes nothing; no part after completion
    again = ok(it.c.post("/v1/accounts/%d/snapshots/%d/complete" % (a, sid)), 200)
    assert again["snapshot"]["followers"] == 8
    assert_problem(part(it, a, sid, 3, page2), 409, "snapshot-complete")
    # the list API pages through the members in order
    members = it.c.list_all("/v1/accounts/%d/snapshots/%d/followers" % (a, sid), limit=3)
    assert [m["external_id"] for m in members] == ["p-%d" % i for i in range(8)]
    assert [m["position"] for m in members] == sorted(m["position"] for m in members)
    listed = it.c.get("/v1/accounts/%d/snapshots" % a, params={"state": "complete"}).json()["items"]
    assert sid in [s["id"] for s in listed]


def test_abandoned_snapshot_expires(it, admin_db):
    a = it.account("x")
    sid = ok(it.c.post("/v1/accounts/%d/snapshots" % a))["id"]
    ok(part(it, a, sid, 1, [{"id": "x-1"}]))
    with admin_db.cursor() as cur:
        cur.execute("UPDATE realreach.follower_snapshots SET expires_at = now() - interval '1 second'"
                    " WHERE tenant_id = %s AND id = %s", (it.id, sid))
    assert it.c.get("/v1/accounts/%d/snapshots/%d" % (a, sid)).json()["state"] == "expired"
    assert_problem(part(it, a, sid, 2, [{"id": "x-2"}]), 409, "snapshot-expired")
    assert_problem(it.c.post("/v1/accounts/%d/snapshots/%d/complete" % (a, sid)), 409,
                   "snapshot-expired")
    # opening the account's next snapshot purges the abandoned one
    ok(it.c.post("/v1/accounts/%d/snapshots" % a))
    assert it.c.get("/v1/accounts/%d/snapshots/%d" % (a, sid)).status_code == 404
    assert count(admin_db, "SELECT count(*) FROM realreach.snapshot_chunks WHERE tenant_id = %s"
                           " AND snapshot_id = %s", it.id, sid) == 0
    # and the rows it had taken in
    assert count(admin_db, "SELECT count(*) FROM realreach.snapshot_intake WHERE tenant_id = %s"
                           " AND snapshot_id = %s", it.id, sid) == 0


# ------------------------------------------------------------ streaming

def worker_peak_kib():
    """Largest VmHWM (peak RSS) among the stack's workers."""
    from helpers import master_pid
    master = master_pid()
    peak = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            if ppid != master:
                continue
            with open("/proc/%s/status" % d) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except (OSError, ValueError, IndexError):
            continue
    return peak


class BigBody:
    """A body of `rows` NDJSON profiles each carrying `pad` bytes of a field
    the normaliser skips, made while it is sent (a sized file-like object:
    requests sends it with a Content-Length, in blocks, never whole)."""

    def __init__(self, rows, pad):
        self.filler = "z" * pad
        self.rows = rows
        self.i = 0
        self.buf = b""
        self.len = sum(len(self.row(i)) for i in range(rows))

    def row(self, i):
        return ('{"id":"big-%d","screen_name":"big%d","followers_count":%d,"padding":"%s"}\n'
                % (i, i, i, self.filler)).encode()

    def __len__(self):
        return self.len

    def read(self, n=-1):
        while (n < 0 or len(self.buf) < n) and self.i < self.rows:
            self.buf += self.row(self.i)
            self.i += 1
        if n < 0:
            n = len(self.buf)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def test_body_far_larger_than_memory_limits_streams_without_growth(it, admin_db):
    rows, pad = 1600, 100 * 1024  # 160 MiB: 2.5 x REALREACH_MAX_BODY, 160 x the record limit
    a = it.account("x")
    # warm every worker's allocator with a small ingest first
    it.merged(it.followers(a, b'{"id":"warm"}\n', "ndjson"))
    before = worker_peak_kib()
    t0 = time.monotonic()
    body = BigBody(rows, pad)
    r = it.c.post("/v1/accounts/%d/followers" % a, data=body,
                  headers={"Content-Type": "application/x-ndjson"}, timeout=600)
    answer = it.merged(r)
    assert answer["accepted"] == rows, answer
    after = worker_peak_kib()
    growth_mib = (after - before) / 1024
    assert growth_mib < 32, "a worker's peak RSS grew by %.1f MiB for a %d MiB body (%.0f s)" % (
        growth_mib, len(body) >> 20, time.monotonic() - t0)
    assert count(admin_db, "SELECT count(*) FROM realreach.profiles WHERE tenant_id = %s"
                           " AND external_id LIKE 'big-%%'", it.id) == rows


def test_record_longer_than_the_limit_is_one_bad_row(it):
    rows = [json.dumps({"id": "ok-1"}), json.dumps({"id": "huge", "padding": "y" * (2 << 20)}),
            json.dumps({"id": "ok-2"})]
    body = it.merged(it.followers(it.account("x"), "\n".join(rows), "ndjson", params={"on_error": "skip"}))
    assert (body["accepted"], body["rejected"]) == (2, 1)
    assert body["errors"][0]["row"] == 2 and "longer" in body["errors"][0]["reason"]


# ---------------------------------------------------------------- hooks

def test_followers_stored_hook_runs_after_commit(it):
    a = it.account("x")
    off = log_size()
    sid = it.merged(it.followers(a, [{"id": "h-1"}, {"id": "h-2"}]))["snapshot"]["id"]
    assert_problem(it.followers(a, [{"id": "h-3", "followers_count": -1}]), 422)

    def hooked():
        out = []
        for r in log_records(off):
            if r.get("msg", "").startswith("ingestkit hook followers.stored"):
                payload = json.loads(r["msg"].split(" ", 3)[3])
                if payload["account_id"] == a:
                    out.append(payload)
        return out
    payload = wait_for(hooked, 20, 0.2, "the ingestkit hook for followers.stored")[0]
    assert payload["snapshot_id"] == sid and payload["followers"] == 2
    time.sleep(1)
    assert len(hooked()) == 1  # the refused request announced nothing


def test_follow_times_stored_only_where_given(it, admin_db):
    """A list without follow times stores none (NULL, not a made-up time); a
    list where some rows carry one (followed_at, follow_time: any source's
    name) keeps each at its member's position and NULL elsewhere."""
    def follow_times(snapshot_id):
        with admin_db.cursor() as cur:
            cur.execute("SELECT followed_at FROM realreach.snapshot_followers"
                        " WHERE tenant_id = %s AND snapshot_id = %s ORDER BY position",
                        (it.id, snapshot_id))
            return [r[0] for r in cur.fetchall()]

    a = it.account()
    none = it.merged(it.followers(a, [{"id": "91000001", "username": "nf_one"},
                               {"id": "91000002", "username": "nf_two"}]))
    assert follow_times(none["snapshot"]["id"]) == [None, None]
    with admin_db.cursor() as cur:
        cur.execute("SELECT followed_at IS NULL FROM realreach.snapshot_chunks"
                    " WHERE tenant_id = %s AND snapshot_id = %s", (it.id, none["snapshot"]["id"]))
        assert [r[0] for r in cur.fetchall()] == [True]  # no array of NULLs either

    mixed = it.merged(it.followers(a, [
        {"id": "91000001", "username": "nf_one", "followed_at": "2026-11-01T10:00:00Z"},
        {"id": "91000002", "username": "nf_two"},
        {"id": "91000003", "username": "nf_three", "follow_time": 1764000000}]))
    assert follow_times(mixed["snapshot"]["id"]) == [
        datetime(2026, 11, 1, 10, 0, tzinfo=timezone.utc), None,
        datetime.fromtimestamp(1764000000, tz=timezone.utc)]
    members = it.members(a, mixed["snapshot"]["id"])
    assert [m["followed_at"] for m in members] == [
        "2026-11-01T10:00:00.000Z", None,
        datetime.fromtimestamp(1764000000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")]


def test_membership_arrays_use_lz4(admin_db):
    """Migration 011: membership arrays are written with lz4 (a server built
    without lz4 keeps the default; Debian's PostgreSQL has it)."""
    with admin_db.cursor() as cur:
        cur.execute("SELECT attname, attcompression FROM pg_attribute"
                    " WHERE attrelid = 'realreach.snapshot_chunks'::regclass"
                    " AND attname IN ('profile_ids', 'followed_at') ORDER BY attname")
        assert cur.fetchall() == [("followed_at", "l"), ("profile_ids", "l")]


# ------------------------------------------------- taken in, then merged

def test_small_list_is_merged_by_the_request(it, admin_db):
    """Up to 10,000 rows the request that takes the list in merges it: 201,
    the snapshot complete, the merge's result in the answer, the intake
    emptied."""
    a = it.account("x")
    r = it.followers(a, [{"id": "tm-1", "screen_name": "tm_one"}, {"id": "tm-2"}, {"id": "tm-1"}])
    assert r.status_code == 201, r.text
    body = r.json()
    snap = body["snapshot"]
    assert r.headers["Location"] == "/v1/accounts/%d/snapshots/%d" % (a, snap["id"])
    assert snap["state"] == "complete" and snap["completed_at"] and snap["merge_job_id"] is None
    assert (body["accepted"], body["duplicates"], snap["followers"]) == (2, 1, 2)
    assert body["duplicate_rows"] == [{"row": 3, "first_row": 1, "key": "tm-1"}]
    assert body["merge"]["profiles"] == {"created": 2, "updated": 0}
    assert snapshot_member_ids(admin_db, it.id, snap["id"]) == ["tm-1", "tm-2"]
    assert count(admin_db, "SELECT count(*) FROM realreach.snapshot_intake WHERE tenant_id = %s"
                           " AND snapshot_id = %s", it.id, snap["id"]) == 0


def test_long_list_is_taken_in_then_merged_by_a_job(it, admin_db):
    """Over 10,000 rows the request answers 202 once every row is stored in
    the snapshot's intake; the merge job then upserts the profiles, stores the
    membership, completes the snapshot and empties the intake."""
    a = it.account("x")
    rows = "".join('{"id":"lj-%d","followers_count":%d}\n' % (i, i) for i in range(10001))
    rows += '{"id":"lj-7"}\n'
    r = it.followers(a, rows, "ndjson")
    assert r.status_code == 202, r.text[:400]
    taken = r.json()
    snap = taken["snapshot"]
    assert r.headers["Location"] == "/v1/accounts/%d/snapshots/%d" % (a, snap["id"])
    assert snap["state"] == "merging" and snap["completed_at"] is None
    assert (taken["accepted"], taken["duplicates"], snap["followers"]) == (10001, 1, 10001)
    assert taken["duplicate_rows"] == [{"row": 10002, "first_row": 8, "key": "lj-7"}]
    job = it.c.get("/v1/jobs/%d" % snap["merge_job_id"]).json()
    assert job["kind"] == "followers.merge"
    merged = it.merged(r, 202)
    final, result = merged["snapshot"], merged["merge"]
    assert final["state"] == "complete" and final["completed_at"] and final["followers"] == 10001
    assert final["duplicates"] == 1
    assert result["profiles"] == {"created": 10001, "updated": 0} and result["followers"] == 10001
    members = snapshot_member_ids(admin_db, it.id, snap["id"])
    assert members[:3] == ["lj-0", "lj-1", "lj-2"] and len(members) == 10001
    assert count(admin_db, "SELECT count(*) FROM realreach.snapshot_intake WHERE tenant_id = %s"
                           " AND snapshot_id = %s", it.id, snap["id"]) == 0
    merging = it.c.get("/v1/accounts/%d/snapshots" % a, params={"state": "merging"}).json()
    assert merging["items"] == []


def test_members_keep_their_list_positions_around_skipped_rows(it):
    """Rows refused with on_error=skip and duplicates leave their positions
    free: every member keeps the position it had in the list as sent."""
    a = it.account("x")
    rows = [{"id": "gp-0"}, {"id": "gp-1", "followers_count": -5}, {"id": "gp-2"},
            {"id": "gp-0"}, {"id": "gp-4"}]
    body = it.merged(it.followers(a, rows, params={"on_error": "skip"}))
    assert (body["accepted"], body["rejected"], body["duplicates"]) == (3, 1, 1)
    members = it.members(a, body["snapshot"]["id"])
    assert [(m["position"], m["external_id"]) for m in members] == [
        (0, "gp-0"), (2, "gp-2"), (4, "gp-4")]


def test_members_of_a_snapshot_not_yet_complete_are_refused(it):
    a = it.account("x")
    sid = ok(it.c.post("/v1/accounts/%d/snapshots" % a))["id"]
    ok(part(it, a, sid, 1, [{"id": "nc-1"}]))
    p = assert_problem(it.c.get("/v1/accounts/%d/snapshots/%d/followers" % (a, sid)), 409,
                       "snapshot-incomplete", "snapshot_id")
    assert "open" in p["detail"]


def test_failed_merge_reads_failed_and_complete_merges_again(it, admin_db):
    """A merge that failed for good (its job used up its attempts) keeps the
    rows it had taken in: the snapshot reads 'failed', an audit does not wait
    for it, and POST .../complete queues the merge again."""
    a = it.account("x")
    sid = ok(it.c.post("/v1/accounts/%d/snapshots" % a))["id"]
    ok(part(it, a, sid, 1, [{"id": "fm-1", "screen_name": "fm_one"}, {"id": "fm-2"}]))
    with admin_db.cursor() as cur:  # as if its merge job had failed five times
        cur.execute("INSERT INTO realreach.jobs (tenant_id, kind, state, payload, error, attempts,"
                    " finished_at) VALUES (%s, 'followers.merge', 'failed', %s, 'disk full', 5,"
                    " now()) RETURNING id", (it.id, json.dumps({"snapshot_id": sid})))
        job = cur.fetchone()[0]
        cur.execute("UPDATE realreach.follower_snapshots SET state = 'merging', merge_job_id = %s"
                    " WHERE tenant_id = %s AND id = %s", (job, it.id, sid))
    snap = it.c.get("/v1/accounts/%d/snapshots/%d" % (a, sid)).json()
    assert snap["state"] == "failed" and snap["merge_job_id"] == job
    failed = it.c.get("/v1/accounts/%d/snapshots" % a, params={"state": "failed"}).json()["items"]
    assert [s["id"] for s in failed] == [sid]
    p = assert_problem(it.c.post("/v1/accounts/%d/audits" % a, json={"snapshot_id": sid}), 409,
                       "snapshot-incomplete", "snapshot_id")
    assert "merge failed" in p["detail"]
    assert_problem(it.c.post("/v1/accounts/%d/audits" % a), 409, "no-snapshot")
    r = it.c.post("/v1/accounts/%d/snapshots/%d/complete" % (a, sid))
    assert r.status_code == 202 and r.json()["snapshot"]["merge_job_id"] != job, r.text
    done = it.merged(r)
    assert done["snapshot"]["state"] == "complete" and done["snapshot"]["followers"] == 2
    assert [m["external_id"] for m in it.members(a, sid)] == ["fm-1", "fm-2"]
