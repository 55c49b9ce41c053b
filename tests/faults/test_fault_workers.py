"""Worker faults (shared/design/reliability.md): a worker killed mid-request
(SIGKILL, SIGSEGV), a crash loop, a stuck handler."""

import os
import signal
import threading
import time
from collections import Counter

import pytest

from faultkit import (SYS_POLL, SYS_SLEEP, Traffic, alive, helpers, report, syscall_of,
                      wait_until)


def warm(c, n=24):
    """Enough requests that every worker has its database connection."""
    for i in range(n):
        r = c.get("/v1/test/ok" if i % 2 else "/v1/clients", params=None if i % 2 else {"limit": 1})
        assert r.status_code == 200, r.text[:300]


def need_proc_syscall(st):
    """These tests tell a busy worker from an idle one by the system call it
    is blocked in (/proc/PID/syscall), which needs ptrace access to the
    service's processes: root, or the same user with kernel.yama.ptrace_scope
    0."""
    if syscall_of(st.master_pid()) is None:
        pytest.skip("/proc/%d/syscall is not readable (run as root, or as the service user "
                    "with kernel.yama.ptrace_scope=0)" % st.master_pid())


def pool_ready(st, before, size=4):
    """The pool is whole again: SIZE workers, at least one new since BEFORE,
    every one waiting for a connection (in poll)."""
    w = st.workers()
    if len(w) != size or not (set(w) - set(before)):
        return None
    return w if all(syscall_of(p) in SYS_POLL for p in set(w) - set(before)) else None


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV], ids=["sigkill", "sigsegv"])
def test_worker_killed_mid_request(make_stack, sig):
    """A worker inside a 2 s request gets SIG: that request is answered 502
    problem+json right away, three threads of other traffic see no failure,
    a new worker is waiting for connections within 1 s, and the master logs
    the route the dead worker was serving."""
    st = make_stack("kill-" + sig.name.lower())
    need_proc_syscall(st)
    tid, c = st.tenant("read")
    warm(c)
    before = st.workers()
    assert len(before) == 4, before
    restarts = helpers.metric_value("realreach_worker_restarts_total") or 0
    off = helpers.log_size()
    base, hdr = st.base, {"Authorization": "Bearer " + c.key}

    def req(s, i, n, timeout):
        if n % 2:
            return "ok", lambda: s.get(base + "/v1/test/ok", headers=hdr, timeout=timeout)
        return "list", lambda: s.get(base + "/v1/clients", params={"limit": 1}, headers=hdr,
                                     timeout=timeout)

    tr = Traffic(req, threads=3, timeout=10).start()
    slow = {}

    def sleeper():
        t0 = time.monotonic()
        try:
            slow["r"] = c.get("/v1/test/sleep", params={"seconds": 2}, timeout=10)
        except Exception as e:
            slow["e"] = repr(e)
        slow["t"] = time.monotonic()

    th = threading.Thread(target=sleeper)
    try:
        time.sleep(0.3)
        th.start()
        busy, _ = wait_until(lambda: [p for p in st.workers() if syscall_of(p) in SYS_SLEEP], 1.5, 0.01)
        assert busy and len(busy) == 1, "no single worker inside /v1/test/sleep: %s" % busy
        victim = busy[0]
        t_kill = time.monotonic()
        os.kill(victim, sig)
        ready, t_ready = wait_until(lambda: pool_ready(st, before), 5, 0.005)
        th.join(10)
        metric_workers = helpers.metric_value("realreach_workers")
        time.sleep(1)
    finally:
        tr.stop()
        th.join(10)
    recs = tr.snapshot()
    fails = [(r[2], r[3], r[5][:200]) for r in recs if r[3] != 200]
    deaths = st.deaths(off)
    r = slow.get("r")
    report("worker %s mid-request" % sig.name,
           "victim %d; its request answered %s %.2f s after the kill; new worker waiting for "
           "connections %.3f s after the kill; other traffic: %d requests, %d failed; "
           "master: %s" % (victim, r.status_code if r is not None else slow.get("e"),
                           slow["t"] - t_kill, t_ready, len(recs), len(fails),
                           [d["msg"] for d in deaths]))

    assert r is not None, slow.get("e")
    helpers.assert_problem(r, 502, "bad-gateway")
    assert slow["t"] - t_kill < 1, "the killed request was answered %.2f s after the kill" % (slow["t"] - t_kill)
    assert ready, "the pool was not whole again within 5 s: workers %s" % st.workers()
    assert t_ready <= 1.0, "a new worker was ready %.2f s after the kill (limit 1 s)" % t_ready
    assert metric_workers == 4, metric_workers
    assert len(recs) >= 30 and not fails, "other requests failed: %s" % fails[:10]
    assert len(deaths) == 1, deaths
    msg = deaths[0]["msg"]
    assert ("worker %d died of signal %d while serving /v1/test/sleep" % (victim, sig)) in msg, msg
    assert (helpers.metric_value("realreach_worker_restarts_total") or 0) == restarts + 1
    assert alive(st.master_pid())


def test_crash_loop_backs_off_and_recovers(make_stack):
    """30 requests to /v1/test/crash fired at once (each kills the worker
    that takes it, and the ones still queued kill the respawned workers): the
    master survives, logs "crash loop" and backs off; once the last crash
    request has been taken, a normal request succeeds within the backoff the
    master announced, then the whole pool is back and serves."""
    st = make_stack("crashloop")
    need_proc_syscall(st)
    tid, c = st.tenant("read")
    warm(c)
    master = st.master_pid()
    off = helpers.log_size()
    base, hdr = st.base, {"Authorization": "Bearer " + c.key}
    statuses = []

    def crash():
        try:
            r = helpers.requests.get(base + "/v1/test/crash", headers=hdr, timeout=3)
            statuses.append(r.status_code)
        except Exception:
            statuses.append("client timeout")

    # what other traffic sees meanwhile: /healthz (no database) in a loop
    probe, probe_stop = [], threading.Event()

    def prober():
        while not probe_stop.is_set():
            q0 = time.monotonic()
            try:
                code = helpers.requests.get(base + "/healthz", timeout=60).status_code
            except Exception:
                code = "error"
            probe.append((code, time.monotonic() - q0))
            probe_stop.wait(0.25)

    pt = threading.Thread(target=prober, daemon=True)
    pt.start()
    t0 = time.monotonic()
    threads = [threading.Thread(target=crash) for _ in range(30)]
    for t in threads:
        t.start()
    fired = time.monotonic() - t0
    for t in threads:
        t.join(10)

    def crash_deaths():
        return [d for d in st.deaths(off) if "while serving /v1/test/crash" in d["msg"]]

    # the hammering is over when the last queued crash request was taken
    master_alive = [True]

    def all_taken():
        master_alive[0] = master_alive[0] and alive(master)
        return len(crash_deaths()) >= 30 or not master_alive[0]

    done, waited = wait_until(all_taken, 180, 0.05)
    t_last = time.monotonic()
    probe_stop.set()
    pt.join(70)
    assert master_alive[0], "the master died during the crash loop"
    assert done, "only %d of 30 crash requests reached a worker within 180 s" % len(crash_deaths())
    backoffs = [int(x["msg"].split("next respawn in ")[1].split()[0])
                for x in st.master_records(off) if x.get("msg", "").startswith("crash loop")]
    assert backoffs, "no 'crash loop' line in the master log"
    announced = max(backoffs[-4:])  # the pending respawns: the last deaths' delays

    # a normal request now waits for the first respawn at most
    r = helpers.requests.get(base + "/v1/test/ok", headers=hdr, timeout=announced / 1000 + 15)
    first_ok = time.monotonic() - t_last
    whole, t_whole = wait_until(lambda: len(st.workers()) == 4
                                and all(syscall_of(p) in SYS_POLL for p in st.workers()),
                                announced / 1000 + 5, 0.05)
    t_whole += first_ok
    after = [c.get("/v1/test/ok").status_code for _ in range(20)]
    report("crash loop",
           "30 crash requests fired in %.2f s (client answers: %s); the last was taken %.1f s "
           "later; backoffs announced (ms): %s; a normal request succeeded %.2f s after the last "
           "crash (largest pending backoff %d ms); pool whole again after %.2f s; then %s; "
           "/healthz during the loop: %s, slowest %.1f s"
           % (fired, dict(Counter(statuses)), waited, backoffs, first_ok, announced, t_whole,
              dict(Counter(after)), dict(Counter(code for code, _ in probe)),
              max((d for _, d in probe), default=0)))

    assert alive(master) and st.master_pid() == master
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert first_ok <= announced / 1000 + 1.5, (
        "normal requests came back %.1f s after the crashes stopped; the backoff was %d ms"
        % (first_ok, announced))
    assert whole, "the pool was not whole again: %s" % st.workers()
    assert after == [200] * 20, after
    others = [d for d in st.deaths(off) if "while serving /v1/test/crash" not in d["msg"]]
    assert not others, "workers died outside the crash requests: %s" % others


def test_stuck_handler_is_killed_at_the_limit(make_stack):
    """REALREACH_REQUEST_TIMEOUT=2: /v1/test/sleep?seconds=30 is answered
    504 problem+json by nginx at ~2 s, the master kills the worker ("exceeded
    the 2 s request limit"), and 20 requests right after all succeed."""
    st = make_stack("stuck", REALREACH_REQUEST_TIMEOUT=2)
    need_proc_syscall(st)
    tid, c = st.tenant("read")
    warm(c)
    before = st.workers()
    off = helpers.log_size()
    t0 = time.monotonic()
    r = c.get("/v1/test/sleep", params={"seconds": 30}, timeout=40)
    took = time.monotonic() - t0
    t_504 = time.monotonic()
    after = []
    for i in range(20):
        q0 = time.monotonic()
        a = c.get("/v1/test/ok" if i % 2 else "/v1/clients")
        after.append((a.status_code, time.monotonic() - q0))

    def killed():
        return [x for x in st.master_records(off) if "exceeded the 2 s request limit" in x.get("msg", "")]

    k, _ = wait_until(killed, 5, 0.02)
    t_killed = time.monotonic() - t0
    ready, t_ready = wait_until(lambda: pool_ready(st, before), 5, 0.01)
    deaths = st.deaths(off)
    report("stuck handler (limit 2 s)",
           "504 after %.2f s; kill logged %.2f s after the request began; 20 requests right "
           "after: %s (max %.0f ms); pool whole %.2f s after the kill was seen"
           % (took, t_killed, dict(Counter(s for s, _ in after)),
              1000 * max(d for _, d in after), t_ready))

    helpers.assert_problem(r, 504, "gateway-timeout")
    assert 1.8 <= took <= 3.0, "the 504 came after %.2f s (limit 2 s)" % took
    assert [s for s, _ in after] == [200] * 20, after
    assert k, "no 'exceeded the 2 s request limit' line in the master log"
    assert "/v1/test/sleep" in k[0]["msg"], k[0]
    assert ready, "the pool was not whole again: %s" % st.workers()
    assert any("died of signal 9 while serving /v1/test/sleep" in d["msg"] for d in deaths), deaths
    assert t_504 - t0 < t_killed
