"""Fixtures of the fault suite (tests/faults, `make test-faults`).

Each test kills or stops something (PostgreSQL, a worker, the database's
writability), so each starts its OWN stack with scripts/stack.sh — name
faults-<test>, 127.0.0.1:$RR_FAULTS_PORT (18085), an empty database, 4
workers, build $RR_FAULTS_BUILD (build) with the test plugins — and stops it
at the end, pass or fail (its logs stay in .run/faults-<test>/).

Environment: RR_FAULTS_BUILD (build directory, default build), RR_FAULTS_PORT
(default 18085). Measured figures are printed at the end of the run.
"""

import fcntl
import os
import re
import sys

import pytest

import faultkit


_LOCK = []


def pytest_configure(config):
    # two runs in one checkout would share the stack names and the port
    os.makedirs(os.path.join(faultkit.ROOT, ".run"), exist_ok=True)
    f = open(os.path.join(faultkit.ROOT, ".run", ".faults.run.lock"), "w")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        sys.stderr.write("tests/faults: another fault run in this checkout holds "
                         ".run/.faults.run.lock: waiting for it\n")
        fcntl.flock(f, fcntl.LOCK_EX)
    _LOCK.append(f)
    b = faultkit.build_dir()
    missing = [p for p in ("realreach", "test-plugins/faulty.so", "test-plugins/testkit.so")
               if not os.path.exists(os.path.join(b, p))]
    if missing:
        raise pytest.UsageError("tests/faults needs a build with the test plugins in %s "
                                "(missing %s): run `make build` or `make test-faults`"
                                % (b, ", ".join(missing)))


@pytest.fixture
def make_stack(request):
    """make_stack(short=None, **env) starts this test's stack (named
    faults-SHORT, default the test's name; REALREACH_* settings in ENV) and
    returns a faultkit.Stack; it is stopped after the test."""
    made = []

    def make(short=None, **extra_env):
        base = short or request.node.name.lower().replace("test_", "", 1)
        name = ("faults-" + re.sub(r"[^a-z0-9]+", "-", base).strip("-"))[:32].rstrip("-")
        s = faultkit.Stack(name, {k: str(v) for k, v in extra_env.items()})
        made.append(s)
        return s.start()

    yield make
    for s in made:
        s.stop()


def pytest_terminal_summary(terminalreporter):
    if not faultkit.RESULTS:
        return
    terminalreporter.section("fault suite: measured")
    for test, text in faultkit.RESULTS:
        terminalreporter.write_line("%-34s %s" % (test, text))
