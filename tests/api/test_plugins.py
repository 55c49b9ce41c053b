"""Plugins and the process model: the loader refuses a plugin built for
another ABI and names the field; a crashing plugin costs one request; a
reload (SIGHUP) under traffic loses none; a stuck handler is cut off at the
request time limit."""

import os
import signal
import threading
import time

import pytest

from helpers import (Client, assert_problem, cli, env, log_records, log_size, master_pid,
                     metric_value, wait_for)


def build_dir():
    return os.path.dirname(env("RR_BIN"))


def test_cli_refuses_a_plugin_of_another_abi():
    bad = os.path.join(build_dir(), "test-plugins-bad", "bad_abi.so")
    assert os.path.exists(bad), "%s is not built (make build)" % bad
    p = cli("plugins", "--path", bad, check=False)
    assert p.returncode != 0, p.stdout + p.stderr
    assert "abi_major" in p.stdout + p.stderr, p.stdout + p.stderr


def test_cli_accepts_the_test_plugins():
    p = cli("plugins", "--path", os.path.join(build_dir(), "test-plugins"), check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "testkit" in p.stdout and "faulty" in p.stdout, p.stdout


def test_plugin_list(tenant_a):
    r = tenant_a.read.get("/v1/plugins")
    assert r.status_code == 200, r.text
    plugins = {p["name"]: p for p in r.json()["items"]}
    for name in ("example", "testkit", "faulty"):
        assert name in plugins, sorted(plugins)
        assert plugins[name]["version"], plugins[name]
        assert plugins[name]["abi"].startswith("1."), plugins[name]
    routes = {(x["method"], x["path"]) for x in plugins["testkit"]["routes"]}
    assert ("POST", "/v1/test/slow") in routes
    assert any(path.startswith("/v1/accounts/{account_id}/labels")
               for _, path in ((x["method"], x["path"]) for x in plugins["example"]["routes"]))
    # nobody's path leaks: a plugin's file system location is not shown
    assert "/build/" not in r.text and ".so" not in r.text


def test_plugins_need_a_key(anon):
    assert_problem(anon.get("/v1/plugins"), 401, "unauthorized")


def test_plugin_account_routes_answer_as_the_core(tenant_a, tenant_b):
    """host->account_load (the example plugin's label routes): 404 for an
    account that is not the tenant's, 403 for a key restricted to another
    client, exactly as the core's own GET /v1/accounts/{id}."""
    restricted = Client(tenant_a.restricted_key)
    own, other = tenant_a.account_id, tenant_a.other_account_id
    r = restricted.put("/v1/accounts/%d/labels/account-rule" % own)
    assert r.status_code in (200, 201), r.text
    try:
        assert restricted.get("/v1/accounts/%d/labels" % own).status_code == 200
        for r in (restricted.get("/v1/accounts/%d/labels" % other),
                  restricted.put("/v1/accounts/%d/labels/account-rule" % other),
                  restricted.delete("/v1/accounts/%d/labels/account-rule" % other),
                  restricted.get("/v1/accounts/%d" % other)):
            assert_problem(r, 403, "forbidden")
        for r in (tenant_a.admin.get("/v1/accounts/%d/labels" % tenant_b.account_id),
                  tenant_a.admin.put("/v1/accounts/%d/labels/account-rule" % tenant_b.account_id),
                  tenant_a.admin.get("/v1/accounts/%d" % tenant_b.account_id)):
            assert_problem(r, 404, "not-found")
        assert tenant_a.admin.get("/v1/accounts/%d/labels" % other).status_code == 200
        # what a plugin gets (testkit echoes it) is the core's view of the account
        mine = restricted.get("/v1/test/accounts/%d" % own)
        assert mine.status_code == 200, mine.text
        core = restricted.get("/v1/accounts/%d" % own).json()
        assert mine.json() == {k: core[k] for k in ("id", "client_id", "platform", "handle")}
        assert_problem(restricted.get("/v1/test/accounts/%d" % other), 403, "forbidden")
        assert_problem(tenant_a.read.get("/v1/test/accounts/%d" % tenant_b.account_id), 404,
                       "not-found")
        assert_problem(tenant_a.read.get("/v1/test/accounts/abc"), 404, "not-found")
    finally:
        assert restricted.delete("/v1/accounts/%d/labels/account-rule" % own).status_code == 204


# --------------------------------------------------------------- faults

def test_crashing_handler_costs_one_request(tenant_a):
    c = tenant_a.admin
    restarts = metric_value("realreach_worker_restarts_total") or 0
    off = log_size()
    r = c.get("/v1/test/crash")
    assert_problem(r, 502, "bad-gateway")
    assert "nginx/" not in r.headers.get("Server", "")

    fails = []
    for i in range(20):
        ok = c.get("/v1/test/ok" if i % 2 else "/v1/clients")
        if ok.status_code != 200:
            fails.append((ok.status_code, ok.text[:200]))
    assert fails == []

    wait_for(lambda: (metric_value("realreach_worker_restarts_total") or 0) > restarts, 5,
             what="realreach_worker_restarts_total to grow")
    died = wait_for(lambda: [x for x in log_records(off) if x.get("role") == "master"
                             and "/v1/test/crash" in x.get("msg", "")], 5,
                    what="a master log line naming /v1/test/crash")
    assert died[0]["level"] in ("error", "warn"), died[0]
    assert (metric_value("realreach_workers") or 0) >= 1


def worker_pids(records):
    return {x["pid"] for x in records if x.get("role") == "worker" and x.get("msg") == "request"}


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_reload_under_traffic_loses_nothing(tenant_a):
    key = tenant_a.keys["read"]
    off = log_size()
    warm = Client(key)
    for _ in range(20):
        assert warm.get("/v1/clients", params={"limit": 1}).status_code == 200
    time.sleep(0.2)
    old = worker_pids(log_records(off))
    assert old, "no request lines with worker pids in the log"

    minimum, nthreads = 300, 6
    failures, counts = [], [0] * nthreads
    go, stop = threading.Event(), threading.Event()

    def traffic(i):
        c = Client(key)
        go.wait()
        n = 0
        while not stop.is_set() or sum(counts) < minimum:
            n += 1
            try:
                path = "/v1/clients" if n % 2 else "/v1/test/ok"
                r = c.get(path, params={"limit": 1} if n % 2 else None, timeout=20)
                if r.status_code != 200:
                    failures.append((path, r.status_code, r.text[:200]))
            except Exception as e:  # a reset connection is a failure too
                failures.append(("exception", repr(e)))
            counts[i] += 1

    def reloads():
        return [x for x in log_records(off_hup) if x.get("role") == "master"
                and "generation" in x.get("msg", "")]

    threads = [threading.Thread(target=traffic, args=(i,)) for i in range(nthreads)]
    for t in threads:
        t.start()
    off_hup = log_size()
    go.set()
    try:
        # two reloads, each while requests are in flight
        for n in (1, 2):
            time.sleep(0.3)
            os.kill(master_pid(), signal.SIGHUP)
            wait_for(lambda: len(reloads()) >= n, 10, 0.05, "reload %d in the master log" % n)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert sum(counts) >= minimum
    assert failures == [], "%d of %d requests failed: %s" % (len(failures), sum(counts),
                                                           failures[:10])

    # the old generation drains and exits
    wait_for(lambda: not any(alive(p) for p in old), 10, what="the old workers to exit")
    off2 = log_size()
    for _ in range(20):
        assert warm.get("/v1/clients", params={"limit": 1}).status_code == 200
    time.sleep(0.2)
    new = worker_pids(log_records(off2))
    assert new and not (new & old), (old, new)


def test_stuck_handler_is_cut_off_at_the_time_limit(tenant_a):
    limit = int(os.environ.get("RR_REQUEST_TIMEOUT", "0") or 0)
    if not 1 <= limit <= 5:
        pytest.fail("run the suite against a stack started with REALREACH_REQUEST_TIMEOUT=3 "
                    "(RR_REQUEST_TIMEOUT is %r)" % os.environ.get("RR_REQUEST_TIMEOUT"))
    restarts = metric_value("realreach_worker_restarts_total") or 0
    off = log_size()
    c = tenant_a.admin
    t0 = time.monotonic()
    r = c.get("/v1/test/sleep", params={"seconds": 10}, timeout=30)
    took = time.monotonic() - t0
    assert_problem(r, 504, "gateway-timeout")
    assert limit - 0.5 <= took <= limit + 1.5, took
    # the service answers normally right after
    for _ in range(5):
        assert c.get("/v1/clients").status_code == 200
    # and the stuck worker is killed and replaced
    wait_for(lambda: (metric_value("realreach_worker_restarts_total") or 0) > restarts, 6,
             what="the stuck worker to be replaced")
    killed = [x for x in log_records(off) if x.get("role") == "master"
              and "/v1/test/sleep" in x.get("msg", "")]
    assert killed, "the master did not log which route was stuck"
