"""Database faults (shared/design/reliability.md, "Faults the service must
survive"): PostgreSQL stopped under load, its postmaster SIGKILLed during
idempotent writes, the database turned read-only, the disk full."""

import json
import os
import pwd
import subprocess
import time
import uuid
from collections import Counter

import psycopg2
import pytest

from faultkit import (Traffic, helpers, is_problem_503, percentile, report, wait_until)


def app_backends_terminate(admin):
    """Ends every connection of the service role; returns how many."""
    with admin.cursor() as cur:
        cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE usename = 'realreach_app' AND pid <> pg_backend_pid()")
        return cur.fetchone()[0]


def seed(st):
    """A tenant with an admin key, one client and one account."""
    tid, c = st.tenant("admin")
    client = c.create_client("fault brand")
    account = c.create_account(client["id"])
    return tid, c, client["id"], account["id"]


def job_roundtrip(c, timeout=15):
    """Enqueues a test job and waits for a runner to finish it: seconds
    taken, or None when it could not be enqueued or was not done within
    TIMEOUT."""
    t0 = time.monotonic()
    r = c.post("/v1/test/jobs", json={"fail_times": 0})
    if r.status_code != 202:
        return None
    loc = r.headers["Location"]
    done, _ = wait_until(lambda: c.get(loc).json().get("state") == "done", timeout, 0.1)
    return time.monotonic() - t0 if done else None


def sqlstate_logged(off, state):
    return [x for x in helpers.log_records(off)
            if x.get("role") == "worker" and "(%s)" % state in x.get("msg", "")]


def outcome(status, headers, body):
    if status is None:
        return "exception"
    if 200 <= status < 300:
        return "2xx"
    if is_problem_503(status, headers, body):
        return "503 problem"
    return "%s %s" % (status, headers.get("Content-Type", "").split(";")[0])


# ------------------------------------------------------------------ stop

def test_postgres_stopped_under_load(make_stack):
    """Six threads read and write continuously; PostgreSQL is stopped
    (pg_ctl -m fast) for 3 s and started again. While it is down every
    request gets a 503 problem+json with Retry-After within 3 s (no hang, no
    other error, no worker crash); once it is up again the service resumes by
    itself within 5 s."""
    st = make_stack("pgstop")
    tid, c, cid, aid = seed(st)
    base, hdr = st.base, {"Authorization": "Bearer " + c.key}
    restarts = helpers.metric_value("realreach_worker_restarts_total") or 0
    off = helpers.log_size()

    def req(s, i, n, timeout):
        k = n % 4
        if k == 0:
            return "GET client", lambda: s.get("%s/v1/clients/%d" % (base, cid), headers=hdr,
                                               timeout=timeout)
        if k == 1:
            return "GET account", lambda: s.get("%s/v1/accounts/%d" % (base, aid), headers=hdr,
                                                timeout=timeout)
        if k == 2:
            return "GET list", lambda: s.get(base + "/v1/clients", params={"limit": 5},
                                             headers=hdr, timeout=timeout)
        return "POST client", lambda: s.post(base + "/v1/clients", headers=hdr, timeout=timeout,
                                             json={"name": "pgstop-%d-%d" % (i, n)})

    tr = Traffic(req, threads=6, timeout=10).start()
    try:
        time.sleep(1.5)
        t_stop0 = time.monotonic()
        st.pg_stop()
        t_stop1 = time.monotonic()
        time.sleep(3)
        t_start0 = time.monotonic()
        st.pg_start()
        t_up = time.monotonic()
        # run on until 3 s of clean traffic or 15 s after the restart
        def clean_for_3s():
            recs = tr.snapshot()
            bad = [r for r in recs if outcome(r[3], r[4], r[5]) != "2xx"]
            last_bad = max((r[1] for r in bad), default=0)
            return time.monotonic() - max(last_bad, t_up) >= 3
        wait_until(clean_for_3s, 15, 0.1)
    finally:
        tr.stop()
    recs = tr.snapshot()

    kinds = Counter(outcome(r[3], r[4], r[5]) for r in recs)
    slow = [(r[2], round(r[1] - r[0], 2), outcome(r[3], r[4], r[5])) for r in recs if r[1] - r[0] > 3]
    down = [r for r in recs if r[1] >= t_stop0 and r[0] <= t_up]
    down_503 = [r for r in down if outcome(r[3], r[4], r[5]) == "503 problem"]
    fails = [r for r in recs if outcome(r[3], r[4], r[5]) != "2xx"]
    last_fail_end = max(r[1] for r in fails) if fails else t_up
    resumed = max(0.0, last_fail_end - t_up)
    after = [r for r in recs if r[0] > last_fail_end]
    lat_503 = [r[1] - r[0] for r in recs if outcome(r[3], r[4], r[5]) == "503 problem"]
    job_s = job_roundtrip(c)   # the job runner reconnected too
    deaths = st.deaths(off)
    report("postgres stopped under load",
           "%d requests (%s); pg-stop took %.1f s; 503s: %d, p50 %.0f ms, max %.0f ms; "
           "resumed %.2f s after PostgreSQL accepted connections again (%.2f s after pg-start "
           "began); %d requests after that, all 2xx; a job after the restart took %s"
           % (len(recs), dict(kinds), t_stop1 - t_stop0, len(lat_503),
              1000 * percentile(lat_503, 50), 1000 * max(lat_503, default=0), resumed,
              last_fail_end - t_start0 if fails else 0, len(after),
              "%.2f s" % job_s if job_s is not None else "more than 15 s"))

    assert not slow, "requests took longer than 3 s: %s" % slow[:10]
    other = {k: v for k, v in kinds.items() if k not in ("2xx", "503 problem")}
    assert not other, ("while PostgreSQL was down, requests got something other than 2xx or a "
                       "503 problem+json with Retry-After: %s; e.g. %s"
                       % (other, [(r[2], r[3], r[5][:200]) for r in fails
                                  if outcome(r[3], r[4], r[5]) not in ("503 problem",)][:5]))
    assert down_503, "no request saw the outage (%d in the window)" % len(down)
    assert resumed <= 5, "the service took %.1f s to resume after PostgreSQL came back" % resumed
    assert len(after) >= 20, "too little traffic after the recovery to tell (%d)" % len(after)
    assert not deaths, "workers died: %s" % deaths
    assert (helpers.metric_value("realreach_worker_restarts_total") or 0) == restarts
    assert job_s is not None, "no job runner finished a job within 15 s of the restart"


# --------------------------------------------------------------- kill -9

def ingest_route(paths):
    """A bulk follower-ingest route, if this build has one."""
    for p in ("/v1/accounts/{account_id}/followers", "/v1/accounts/{account_id}/followers/snapshots"):
        if "post" in paths.get(p, {}):
            return p
    return None


def follower_list(seed_, n):
    """N X v1.1 user objects (ids unique to SEED_)."""
    return [{"id_str": str(seed_ * 100000 + k), "screen_name": "f%d_%d" % (seed_, k),
             "followers_count": k % 500, "friends_count": 100 + k % 300, "statuses_count": k % 50,
             "created_at": "Wed Oct 10 20:19:24 +0000 2018"} for k in range(n)]


BULK_N = 300
EPOCH_2024 = 1704067200


def test_postmaster_kill9_loses_no_acknowledged_write(make_stack):
    """Six threads create clients (unique names, one Idempotency-Key each)
    and, when this build has the follower ingest, two threads send follower
    lists of 300 (one snapshot each, unique ?observed_at=, one key each); the
    postmaster gets SIGKILL, then PostgreSQL is started again. Every write
    answered 2xx has its row (snapshot); retrying every other write with its
    own key completes it exactly once (one committed just before the crash is
    replayed, not repeated)."""
    st = make_stack("kill9")
    tid, c, cid, aid = seed(st)
    base, hdr = st.base, {"Authorization": "Bearer " + c.key}
    off = helpers.log_size()
    run = uuid.uuid4().hex[:6]
    bulk_route = ingest_route(st.openapi_paths())

    def client_write(s, i, n, timeout):
        name = "k9-%s-%d-%d" % (run, i, n)
        key = "k9-" + uuid.uuid4().hex
        return ("client", name, key), lambda: s.post(
            base + "/v1/clients", json={"name": name}, timeout=timeout,
            headers=dict(hdr, **{"Idempotency-Key": key}))

    def bulk_write(s, i, n, timeout):
        observed = EPOCH_2024 + i * 100000 + n          # one snapshot per request
        key = "k9b-" + uuid.uuid4().hex
        return ("bulk", observed, key), lambda: send_bulk(s, observed, key, timeout)

    def send_bulk(s, observed, key, timeout):
        return s.post(base + "/v1/accounts/%d/followers" % aid, json=follower_list(observed % 1000, BULK_N),
                      params={"observed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(observed))},
                      headers=dict(hdr, **{"Idempotency-Key": key}), timeout=timeout)

    writers = [Traffic(client_write, threads=6, timeout=10)]
    if bulk_route:
        writers.append(Traffic(bulk_write, threads=2, timeout=20))
    for w in writers:
        w.start()
    try:
        time.sleep(2)
        pm = st.postmaster_pid()
        assert pm, "no postmaster"
        t_kill = time.monotonic()
        os.kill(pm, 9)
        # backends notice their postmaster's death and exit; a new postmaster
        # refuses to start while one of them still holds shared memory
        gone, waited = wait_until(lambda: not st.postgres_pids(), 15, 0.05)
        assert gone, "postgres processes left 15 s after the postmaster was killed: %s" % st.postgres_pids()
        t_gone = time.monotonic()
        time.sleep(0.5)
        st.pg_start()
        time.sleep(3)
    finally:
        for w in writers:
            w.stop()
    recs = [r for w in writers for r in w.snapshot()]
    acked = {r[2]: r for r in recs if r[3] is not None and 200 <= r[3] < 300}
    unacked = [r for r in recs if r[2] not in acked]
    kinds = Counter((r[2][0], outcome(r[3], r[4], r[5])) for r in recs)
    # orphaned backends go on serving until they notice the postmaster died
    acked_orphan = [r for r in acked.values() if r[0] >= t_kill and r[1] <= t_gone]

    # retry every unacknowledged write with its own key, one at a time
    replayed, created, retry_fail = Counter(), Counter(), []
    sess = helpers.requests.Session()
    for r in unacked:
        kind, ident, key = r[2]
        for _ in range(20):
            if kind == "client":
                rr = sess.post(base + "/v1/clients", json={"name": ident}, timeout=10,
                               headers=dict(hdr, **{"Idempotency-Key": key}))
            else:
                rr = send_bulk(sess, ident, key, 20)
            if rr.status_code in (503, 409):
                time.sleep(0.25)
                continue
            break
        if 200 <= rr.status_code < 300:
            if rr.headers.get("Idempotent-Replayed") == "true":
                replayed[kind] += 1
            else:
                created[kind] += 1
        else:
            retry_fail.append((kind, ident, rr.status_code, rr.text[:200]))

    db = st.admin_db()
    merged_s = None
    if bulk_route:
        # an acknowledged list was taken in; its merge job (durable, retried)
        # must still complete it after the crash
        t_merge = time.monotonic()

        def merging():
            with db.cursor() as cur:
                cur.execute("SELECT count(*) FROM realreach.follower_snapshots"
                            " WHERE tenant_id = %s AND account_id = %s AND state = 'merging'",
                            (tid, aid))
                return cur.fetchone()[0]
        done, _ = wait_until(lambda: merging() == 0, 120, 0.2)
        assert done, "%d snapshots still merging 120 s after the retries" % merging()
        merged_s = time.monotonic() - t_merge
    with db.cursor() as cur:
        cur.execute("SELECT name, count(*), min(id) FROM realreach.clients"
                    " WHERE tenant_id = %s AND name LIKE %s GROUP BY name", (tid, "k9-%s-%%" % run))
        rows = {("client", n): (cnt, i, None) for n, cnt, i in cur.fetchall()}
        if bulk_route:
            cur.execute("SELECT extract(epoch FROM observed_at)::bigint, count(*), min(id),"
                        " min(followers) FILTER (WHERE state = 'complete')"
                        "  FROM realreach.follower_snapshots WHERE tenant_id = %s AND account_id = %s"
                        " GROUP BY 1", (tid, aid))
            rows.update({("bulk", o): (cnt, i, f) for o, cnt, i, f in cur.fetchall()})
    db.close()

    lost, wrong = [], []
    for (kind, ident, _), r in acked.items():
        row = rows.get((kind, ident))
        if not row:
            lost.append((kind, ident))
            continue
        body = json.loads(r[5])
        got_id = body.get("id") if kind == "client" else body.get("snapshot", {}).get("id")
        if got_id != row[1] or (kind == "bulk" and row[2] != BULK_N):
            wrong.append((kind, ident, got_id, row))
    dup = {k: v[0] for k, v in rows.items() if v[0] != 1}
    incomplete = [k for k, v in rows.items() if k[0] == "bulk" and v[2] != BULK_N]
    missing_after_retry = [r[2][:2] for r in unacked if (r[2][0], r[2][1]) not in rows]
    job_s = job_roundtrip(c)
    deaths = st.deaths(off)
    n_acked = Counter(k[0] for k in acked)
    report("postmaster kill -9",
           "%s; %d of %d acknowledged writes lost (%s); %d unacknowledged retried with their key: "
           "replayed (committed before the crash, answer lost) %s, created %s, failed %d; "
           "%d duplicates; %s; the last backend exited %.2f s after the kill, %d writes sent "
           "after the kill were acknowledged before that"
           % (dict(kinds), len(lost), len(acked), dict(n_acked), len(unacked), dict(replayed),
              dict(created), len(retry_fail), len(dup),
              "bulk ingest %s (every snapshot merged %.1f s after the retries)"
              % (bulk_route, merged_s) if bulk_route else "no bulk ingest route in this build",
              t_gone - t_kill, len(acked_orphan)))

    assert n_acked["client"] >= 50, "too few writes before the kill to tell (%s)" % n_acked
    assert unacked, "no write was refused: did the kill happen?"
    assert not lost, "%d acknowledged writes lost: %s" % (len(lost), lost[:10])
    assert not wrong, "rows differing from the acknowledged answer: %s" % wrong[:10]
    assert not retry_fail, "retries with the same key that did not complete: %s" % retry_fail[:10]
    assert not dup, "duplicated rows: %s" % dict(list(dup.items())[:10])
    assert not incomplete, "snapshots without all %d followers: %s" % (BULK_N, incomplete[:10])
    assert not missing_after_retry, missing_after_retry[:10]
    assert job_s is not None, "no job runner finished a job within 15 s after the restart"
    other = {k: v for k, v in kinds.items() if k[1] not in ("2xx", "503 problem")}
    assert not other, "writes answered other than 2xx / 503 problem+json: %s" % other
    assert not deaths, "workers died: %s" % deaths


# ------------------------------------------------------------- read-only

def test_read_only_database(make_stack):
    """default_transaction_read_only = on for the database and the service's
    connections ended: writes get 503 problem+json (SQLSTATE 25006), reads
    still 200, no crash; reset (and connections ended again): writes work."""
    st = make_stack("readonly")
    tid, c, cid, aid = seed(st)
    off = helpers.log_size()
    admin = st.admin_db()
    try:
        with admin.cursor() as cur:
            cur.execute("ALTER DATABASE realreach SET default_transaction_read_only = on")
        n_term = app_backends_terminate(admin)

        writes, reads = [], []
        for i in range(8):  # spread over the 4 workers
            writes.append(c.post("/v1/clients", json={"name": "ro-%d" % i}))
            writes.append(c.patch("/v1/clients/%d" % cid, json={"notes": "ro %d" % i}))
            writes.append(c.post("/v1/clients", json={"name": "ro-idem-%d" % i},
                                 headers={"Idempotency-Key": "ro-" + uuid.uuid4().hex}))
            reads.append(c.get("/v1/clients/%d" % cid))
            reads.append(c.get("/v1/clients", params={"limit": 5}))
            reads.append(c.get("/v1/accounts/%d" % aid))
        w_status = Counter(r.status_code for r in writes)
        r_status = Counter(r.status_code for r in reads)
        bad_w = [(r.request.method, r.request.url, r.status_code, r.headers.get("Retry-After"),
                  r.text[:200]) for r in writes
                 if not is_problem_503(r.status_code, r.headers, r.text)]

        # reset: do the existing connections pick it up by themselves?
        with admin.cursor() as cur:
            cur.execute("ALTER DATABASE realreach RESET default_transaction_read_only")
        time.sleep(1)
        by_itself = [c.post("/v1/clients", json={"name": "ro-after-reset-%d" % i}).status_code
                     for i in range(8)]
        job_by_itself = job_roundtrip(c, 5)
        n_term2 = app_backends_terminate(admin)
        after = [c.post("/v1/clients", json={"name": "ro-after-%d" % i}) for i in range(8)]
        job_after = job_roundtrip(c)
    finally:
        with admin.cursor() as cur:
            cur.execute("ALTER DATABASE realreach RESET default_transaction_read_only")
        admin.close()
    deaths = st.deaths(off)
    report("read-only database",
           "terminated %d app connections; writes %s, reads %s; after RESET without "
           "reconnecting: writes %s, a job %s; after ending the connections again (%d): writes "
           "%s, a job %s"
           % (n_term, dict(w_status), dict(r_status), dict(Counter(by_itself)),
              "done in %.2f s" % job_by_itself if job_by_itself else "not enqueued or not done in 5 s", n_term2,
              dict(Counter(r.status_code for r in after)),
              "done in %.2f s" % job_after if job_after else "not done in 15 s"))

    assert not bad_w, "writes to a read-only database not answered 503 problem+json: %s" % bad_w[:5]
    assert r_status == Counter({200: len(reads)}), "reads failed: %s" % r_status
    assert sqlstate_logged(off, "25006"), "no worker logged SQLSTATE 25006"
    assert all(r.status_code == 201 for r in after), [(r.status_code, r.text[:200]) for r in after]
    assert job_after is not None, "no job finished after the database was writable again"
    assert not deaths, "workers died: %s" % deaths


# ------------------------------------------------------------- disk full

def test_disk_full(make_stack):
    """The clients table moved to a tablespace on a 2 MiB tmpfs, filled up:
    creating clients gets 503 problem+json (SQLSTATE 53100), reads still
    200; space freed: writes work again. Needs root (mount)."""
    if os.geteuid() != 0:
        pytest.skip("disk full needs root to mount a tmpfs for a tablespace")
    st = make_stack("diskfull")
    tid, c, cid, aid = seed(st)
    off = helpers.log_size()
    mnt = os.path.join(st.run_dir, "tiny-tablespace")
    svc = pwd.getpwnam(st.env["RR_SERVICE_USER"])
    os.makedirs(mnt, exist_ok=True)
    if os.path.ismount(mnt):  # left by an interrupted run
        subprocess.run(["umount", mnt], capture_output=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o",
                        "size=2m,mode=0700,uid=%d,gid=%d" % (svc.pw_uid, svc.pw_gid),
                        "realreach-faults", mnt], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (%s): disk full not simulated" % p.stderr.strip())
    admin = None
    try:
        admin = st.admin_db()
        with admin.cursor() as cur:
            cur.execute("CREATE TABLESPACE faults_tiny LOCATION %s", (mnt,))
            cur.execute("ALTER TABLE realreach.clients SET TABLESPACE faults_tiny")
            cur.execute("CREATE TABLE public.faults_filler (pad text) TABLESPACE faults_tiny")
            filled = 0
            for _ in range(10000):
                try:
                    cur.execute("INSERT INTO public.faults_filler SELECT repeat(md5(random()::text), 30)"
                                " FROM generate_series(1, 50)")
                    filled += 50
                except psycopg2.Error as e:
                    assert e.pgcode == "53100", (e.pgcode, str(e))
                    break
            else:
                pytest.fail("the 2 MiB tablespace never filled up")
        # a client row is small: the table's last page takes some before the
        # table has to grow, and growing fails
        answers = []
        for i in range(2000):
            r = c.post("/v1/clients", json={"name": "full-%d" % i})
            answers.append(r)
            if r.status_code != 201:
                break
        last = answers[-1]
        reads = [c.get("/v1/clients/%d" % cid).status_code for _ in range(8)]
        with admin.cursor() as cur:
            cur.execute("DROP TABLE public.faults_filler")
        time.sleep(0.2)
        after = [c.post("/v1/clients", json={"name": "after-full-%d" % i}) for i in range(8)]
        report("disk full",
               "filler took %d rows; %d clients created before the disk was full, then %d %s "
               "(Retry-After %s); reads %s; after freeing space: writes %s"
               % (filled, len(answers) - 1, last.status_code,
                  last.headers.get("Content-Type"), last.headers.get("Retry-After"),
                  dict(Counter(reads)), dict(Counter(r.status_code for r in after))))
        assert is_problem_503(last.status_code, last.headers, last.text), (
            "a write to a full disk: expected 503 problem+json with Retry-After, got %d %s"
            % (last.status_code, last.text[:300]))
        assert reads == [200] * 8, reads
        assert sqlstate_logged(off, "53100"), "no worker logged SQLSTATE 53100"
        assert all(r.status_code == 201 for r in after), [(r.status_code, r.text[:200]) for r in after]
        assert not st.deaths(off), st.deaths(off)
    finally:
        if admin is not None:
            admin.close()
        st.stop()
        subprocess.run(["umount", mnt], capture_output=True)
