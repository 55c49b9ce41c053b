"""Audience plugin: burst detection from the ingest hooks. A follower count
series with a weekly pattern and a jump, follower snapshots before and after
it whose newcomers are bought (or not), and a snapshot without any series
whose follow order hides a band of bought followers. Detection runs from the
"metrics.stored" / "followers.stored" events alone: nobody asks for it.
"""

import random
from datetime import datetime, timedelta, timezone

import pytest

from helpers import assert_problem
from test_audience import (db, emit_event, read_cresci, store_metrics,  # noqa: F401 (fixture)
                           store_profiles, store_snapshot, wait_hooks)

DAY0 = datetime(2015, 3, 2, 12, 0, tzinfo=timezone.utc)  # a Monday noon, after every creation
JUMP_DAY = 40
JUMP = 600


@pytest.fixture(scope="module")
def pools():
    genuine = read_cresci("E13.train.csv", 0)
    fake = read_cresci("INT.train.csv", 1)
    return genuine, fake


def copies(pool, n, tag):
    """n profiles cycled from pool under new ids (the same signals)."""
    return [dict(pool[i % len(pool)], external_id="%s-%d" % (tag, i), handle="%s%d" % (tag, i))
            for i in range(n)]


def growth(days, seed):
    """Daily arrivals: 8 on weekdays, 25 on weekends, +-3."""
    rnd = random.Random(seed)
    return [(25 if (DAY0 + timedelta(days=d)).weekday() >= 5 else 8) + rnd.randint(-3, 3)
            for d in range(days)]


def build_account(tenant, db, pools, tag, jump_fake, days=56, snapshots=(35, 50)):
    """An account whose followers arrive day by day (1,500 at day 0), with a
    jump of JUMP on JUMP_DAY (bought or genuine), a count series that says
    so, and snapshots on the given days. Returns the account id, the
    snapshot ids and a function giving the members on a day (newest first)."""
    genuine_pool, fake_pool = pools
    acc = tenant.admin.create_account(tenant.client_id, "x", handle="bursty_" + tag)["id"]
    daily = growth(days, tag)
    genuine = iter(copies(genuine_pool, 1500 + sum(daily) + JUMP, tag + "g"))
    jumpers = iter(copies(fake_pool, JUMP, tag + "f"))
    arrivals = [(-1, next(genuine)) for _ in range(1500)]  # (day, profile), oldest first
    for d in range(days):
        arrivals += [(d, next(genuine)) for _ in range(daily[d])]
        if d == JUMP_DAY:
            arrivals += [(d, next(jumpers) if jump_fake else next(genuine)) for _ in range(JUMP)]
    ids = store_profiles(db, tenant.id, [p for _, p in arrivals])
    day_of = [d for d, _ in arrivals]

    def members(day):
        return [ids[i] for i in reversed(range(len(ids))) if day_of[i] <= day]

    snaps = [store_snapshot(db, tenant.id, acc, members(sd), DAY0 + timedelta(days=sd, minutes=1))
             for sd in snapshots]
    store_metrics(db, tenant.id, acc, [(DAY0 + timedelta(days=d), sum(1 for x in day_of if x <= d))
                                       for d in range(days)])
    wait_hooks(db, tenant.id, timeout=90)
    return acc, snaps, members


def anomalies(tenant, acc):
    return tenant.read.list_all("/v1/accounts/%d/anomalies" % acc)


def test_bought_burst_is_found_and_judged_a_purchase(tenant_a, db, pools):
    acc, snaps, _ = build_account(tenant_a, db, pools, "buy", jump_fake=True)
    found = anomalies(tenant_a, acc)
    assert len(found) == 1, found
    a = found[0]
    assert a["source"] == "series"
    start = datetime.fromisoformat(a["window_start"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(a["window_end"].replace("Z", "+00:00"))
    assert start == DAY0 + timedelta(days=JUMP_DAY - 1)
    assert end == DAY0 + timedelta(days=JUMP_DAY)
    assert abs(a["excess"] - JUMP) <= 30 and a["gained"] >= JUMP
    assert a["z"] >= 3.5
    assert a["snapshot_id"] == snaps[1]  # the first snapshot after the jump
    assert JUMP <= a["newcomers"] <= JUMP + 40
    assert a["fake_share"] >= 0.9
    assert a["verdict"] == "likely_purchase"
    text = " ".join(a["evidence"])
    assert "scored fake" in text and "follow order" in text
    assert a["model_version"].startswith("gbt-")


def test_organic_burst_is_judged_organic(tenant_a, db, pools):
    acc, _, _ = build_account(tenant_a, db, pools, "giveaway", jump_fake=False)
    found = anomalies(tenant_a, acc)
    assert len(found) == 1, found
    assert found[0]["verdict"] == "likely_organic"
    assert found[0]["fake_share"] <= 0.1


def test_burst_without_a_later_snapshot_is_unclear_until_one_arrives(tenant_a, db, pools):
    acc, _, members = build_account(tenant_a, db, pools, "late", jump_fake=True, snapshots=(35,))
    found = anomalies(tenant_a, acc)
    assert len(found) == 1
    a = found[0]
    assert a["verdict"] == "unclear" and a["newcomers"] is None
    assert any("no complete follower snapshot after the jump" in e for e in a["evidence"])
    # the snapshot after the jump arrives: its hook checks the cohort, in place
    store_snapshot(db, tenant_a.id, acc, members(50), DAY0 + timedelta(days=50, minutes=1))
    wait_hooks(db, tenant_a.id, timeout=90)
    found = anomalies(tenant_a, acc)
    assert len(found) == 1, found
    assert found[0]["id"] == a["id"]
    assert found[0]["verdict"] == "likely_purchase", found[0]
    assert found[0]["updated_at"] >= a["updated_at"]


def test_follow_order_finds_a_bought_band_without_a_series(tenant_a, db, pools):
    genuine_pool, fake_pool = pools
    acc = tenant_a.admin.create_account(tenant_a.client_id, "x", handle="band")["id"]
    old = copies(genuine_pool, 800, "bandold")
    band = copies(fake_pool, 400, "bandfake")
    new = copies(genuine_pool, 800, "bandnew")
    ids = store_profiles(db, tenant_a.id, old + band + new)  # arrival order
    ids.reverse()
    store_snapshot(db, tenant_a.id, acc, ids, datetime(2015, 2, 14, 12, tzinfo=timezone.utc))
    wait_hooks(db, tenant_a.id, timeout=90)
    found = anomalies(tenant_a, acc)
    assert len(found) == 1, found
    a = found[0]
    assert a["source"] == "follow_order"
    assert 380 <= a["newcomers"] <= 420
    assert a["fake_share"] >= 0.9
    assert a["verdict"] == "likely_purchase"
    assert a["z"] is None
    # dated by the newest creation time among the accounts before the band
    start = datetime.fromisoformat(a["window_start"].replace("Z", "+00:00"))
    assert datetime(2012, 1, 1, tzinfo=timezone.utc) < start < datetime(2014, 1, 1, tzinfo=timezone.utc)
    assert any("positions" in e for e in a["evidence"])


def test_hooks_skip_what_they_cannot_read(tenant_a, db):
    for payload in ({"account_id": "7"}, {}, {"account_id": 999999999},
                    {"account_id": tenant_a.account_id, "snapshot_id": -4}):
        emit_event(db, tenant_a.id, "metrics.stored", payload)
        emit_event(db, tenant_a.id, "followers.stored", payload)
    wait_hooks(db, tenant_a.id)  # none failed


def test_anomalies_of_an_account_without_data(tenant_a, tenant_b):
    r = tenant_a.read.get("/v1/accounts/%d/anomalies" % tenant_a.other_account_id)
    assert r.status_code == 200 and r.json()["items"] == []
    assert_problem(tenant_b.read.get("/v1/accounts/%d/anomalies" % tenant_a.other_account_id),
                   404, "not-found")
