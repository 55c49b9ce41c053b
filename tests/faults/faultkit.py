"""Shared machinery of the fault suite (tests/faults): a private stack per
test (scripts/stack.sh), the processes of that stack (master, workers,
postmaster), a traffic recorder for "requests under a fault" and a place to
report measured figures.

The HTTP client, the CLI, problem+json checks, the log and /metrics come from
tests/api/helpers.py (imported, not copied): `Stack.activate()` points the
variables helpers reads (RR_BASE_URL, RR_LOG, RR_BIN, RR_ADMIN_DB, ...) at
this test's stack.
"""

import json
import os
import shutil
import subprocess
import sys
import threading
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "api"))

import helpers  # noqa: E402  (tests/api/helpers.py)

STACK_SH = os.path.join(ROOT, "scripts", "stack.sh")

# x86_64 syscall numbers as /proc/PID/syscall shows them: a worker waiting
# for a connection sits in poll(); one inside /v1/test/sleep in nanosleep.
SYS_POLL = {"7", "271"}            # poll, ppoll
SYS_SLEEP = {"35", "230"}          # nanosleep, clock_nanosleep

# Figures measured by the tests, printed in pytest's terminal summary.
RESULTS = []


def report(test, text):
    RESULTS.append((test, text))


def build_dir():
    b = os.environ.get("RR_FAULTS_BUILD", "build")
    return b if os.path.isabs(b) else os.path.join(ROOT, b)


def port():
    return int(os.environ.get("RR_FAULTS_PORT", "18085"))


# ------------------------------------------------------------ processes

def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def ppid_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def children(pid):
    """Live children of PID (scanning /proc: no CONFIG_PROC_CHILDREN needed)."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit() and ppid_of(int(d)) == pid and alive(int(d)):
            out.append(int(d))
    return sorted(out)


def syscall_of(pid):
    """The number of the system call PID is blocked in ('running' if none)."""
    try:
        with open("/proc/%d/syscall" % pid) as f:
            return f.read().split()[0]
    except (OSError, IndexError):
        return None


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_until(pred, timeout, interval=0.02):
    """Polls PRED; returns (value, seconds waited) or (None, timeout)."""
    t0 = time.monotonic()
    while True:
        v = pred()
        if v:
            return v, time.monotonic() - t0
        if time.monotonic() - t0 >= timeout:
            return None, timeout
        time.sleep(interval)


# ---------------------------------------------------------------- stack

class Stack:
    """One private stack: .run/NAME with PostgreSQL, realreach and nginx on
    127.0.0.1:PORT, started fresh (empty database) and always stopped."""

    def __init__(self, name, extra_env=None, port_=None, build=None):
        self.name = name
        self.port = port_ or port()
        self.build = build or build_dir()
        self.extra_env = dict(extra_env or {})
        self.env = {}
        self.started = False

    # -- lifecycle
    def _run(self, *args, check=True, timeout=120, env=None):
        p = subprocess.run(["bash", STACK_SH, *args], capture_output=True, text=True,
                           timeout=timeout, env=env)
        if check and p.returncode != 0:
            raise AssertionError("stack.sh %s exited %d\n%s\n%s"
                                 % (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def start(self):
        self._run("stop", self.name, check=False)
        shutil.rmtree(os.path.join(ROOT, ".run", self.name), ignore_errors=True)
        e = {k: v for k, v in os.environ.items()
             if not k.startswith("REALREACH_") and not k.startswith("PG")}
        e.update({"REALREACH_WORKERS": "4", "REALREACH_JOB_RUNNERS": "1"})
        e.update(self.extra_env)
        plugins = "%s/plugins:%s/test-plugins" % (self.build, self.build)
        self.started = True
        self._run("start", self.name, "--port", str(self.port), "--build", self.build,
                  "--plugins", plugins, env=e)
        out = self._run("env", self.name).stdout
        for line in out.splitlines():
            if line.startswith("export "):
                k, v = line[len("export "):].split("=", 1)
                self.env[k] = v.strip("'")
        self.activate()
        return self

    def activate(self):
        """Points tests/api/helpers at this stack."""
        for k, v in self.env.items():
            os.environ[k] = v
        helpers.BASE_URL = self.env["RR_BASE_URL"]

    def stop(self):
        if self.started:
            self._run("stop", self.name, check=False)
            self.started = False

    @property
    def base(self):
        return self.env["RR_BASE_URL"]

    @property
    def run_dir(self):
        return self.env["RR_RUN_DIR"]

    # -- PostgreSQL
    def pg_stop(self):
        self._run("pg-stop", self.name)

    def pg_start(self):
        self._run("pg-start", self.name)

    def postmaster_pid(self):
        try:
            with open(os.path.join(self.env["RR_PGDATA"], "postmaster.pid")) as f:
                pid = int(f.readline().strip())
        except (OSError, ValueError):
            return None
        try:
            with open("/proc/%d/comm" % pid) as f:
                if f.read().strip() != "postgres":
                    return None
        except OSError:
            return None
        return pid

    def postgres_pids(self):
        """Every postgres process (postmaster or an orphaned backend) whose
        working directory is this stack's data directory."""
        pgdata = os.path.realpath(self.env["RR_PGDATA"])
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/comm" % d) as f:
                    if f.read().strip() != "postgres":
                        continue
                if os.readlink("/proc/%s/cwd" % d) == pgdata and alive(int(d)):
                    out.append(int(d))
            except OSError:
                continue
        return out

    def admin_db(self):
        return helpers.connect(self.env["RR_ADMIN_DB"])

    # -- realreach
    def master_pid(self):
        with open(self.env["RR_PIDFILE"]) as f:
            return int(f.read().strip())

    def children(self):
        return children(self.master_pid())

    def runner_pids(self):
        return {x["pid"] for x in helpers.log_records(0)
                if x.get("role") == "runner" and "running job kinds" in x.get("msg", "")}

    def workers(self):
        """Live worker pids (children of the master that are not job runners)."""
        runners = self.runner_pids()
        return [p for p in self.children() if p not in runners]

    def idle_workers(self):
        return [p for p in self.workers() if syscall_of(p) in SYS_POLL]

    def master_records(self, offset=0):
        return [x for x in helpers.log_records(offset) if x.get("role") == "master"]

    def deaths(self, offset=0):
        """Master log lines about a child that died or exited badly."""
        return [x for x in self.master_records(offset)
                if " died of signal " in x.get("msg", "") or " exited with status " in x.get("msg", "")]

    def tenant(self, scope="admin"):
        """A new tenant and one key of SCOPE: (tenant id, helpers.Client)."""
        tid = helpers.create_tenant("faults-" + uuid.uuid4().hex[:6])
        key = helpers.create_key(tid, scope)
        return tid, helpers.Client(key, base=self.base)

    def openapi_paths(self):
        r = helpers.requests.get(self.base + "/v1/openapi.json", timeout=10)
        assert r.status_code == 200, r.text[:300]
        return r.json().get("paths", {})


# -------------------------------------------------------------- traffic

class Traffic:
    """Threads sending requests continuously; every request is recorded as
    (start, end, what, status, headers, body) with monotonic times.

    FN(session, thread, n, timeout) returns (what, send): WHAT labels the
    request (anything: a route, a (name, key) pair), SEND() makes it and
    returns the response. Status None means SEND raised (connection reset,
    client timeout); the exception's repr is the body."""

    def __init__(self, fn, threads=6, timeout=10):
        self.fn = fn
        self.n = threads
        self.timeout = timeout
        self.records = []
        self.lock = threading.Lock()
        self.stop_ev = threading.Event()
        self.threads = []

    def _loop(self, i):
        c = helpers.requests.Session()
        n = 0
        while not self.stop_ev.is_set():
            n += 1
            t0 = time.monotonic()
            status, headers, body = None, {}, ""
            what, send = self.fn(c, i, n, self.timeout)
            try:
                r = send()
                status, headers, body = r.status_code, dict(r.headers), r.text
            except Exception as e:  # a reset or a timeout is an outcome too
                body = repr(e)
            t1 = time.monotonic()
            with self.lock:
                self.records.append((t0, t1, what, status, headers, body))

    def start(self):
        self.threads = [threading.Thread(target=self._loop, args=(i,), daemon=True)
                        for i in range(self.n)]
        for t in self.threads:
            t.start()
        return self

    def stop(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(self.timeout + 5)

    def snapshot(self):
        with self.lock:
            return list(self.records)


def is_problem_503(status, headers, body):
    """A 503 the way the service (or nginx) must give it: problem+json with
    a numeric Retry-After."""
    if status != 503:
        return False
    ctype = headers.get("Content-Type", "").split(";")[0].strip().lower()
    if ctype != "application/problem+json":
        return False
    if not headers.get("Retry-After", "").isdigit():
        return False
    try:
        b = json.loads(body)
    except ValueError:
        return False
    return b.get("status") == 503 and str(b.get("type", "")).startswith(helpers.PROBLEM_BASE)


def percentile(values, q):
    if not values:
        return 0.0
    v = sorted(values)
    k = min(len(v) - 1, max(0, int(round(q / 100.0 * (len(v) - 1)))))
    return v[k]


__all__ = ["helpers", "Stack", "Traffic", "report", "alive", "children", "syscall_of",
           "rss_kib", "wait_until", "is_problem_503", "percentile", "SYS_POLL", "SYS_SLEEP",
           "ROOT"]
