"""Fixtures for the realreach API suite: it runs against a real stack
(nginx -> realreach -> PostgreSQL) started by `scripts/stack.sh start test`
(`make test` does that and exports the variables below).

Nothing is skipped: a missing variable or an unreachable stack stops the whole
run with a usage error naming what is missing.
"""

import os
import uuid

import pytest
import requests

from helpers import (BASE_URL, REQUIRED_ENV, Client, connect, create_key, create_tenant, env,
                     make_tenant)


def pytest_configure(config):
    missing = [v for v in REQUIRED_ENV if not os.environ.get(v)]
    if missing:
        raise pytest.UsageError(
            "tests/api needs a running stack and its variables; missing: %s.\n"
            "Run `make test`, or: scripts/stack.sh start test --port 18080 "
            "--plugins build/plugins:build/test-plugins && eval \"$(scripts/stack.sh env test)\""
            % ", ".join(missing))
    base = os.environ["RR_BASE_URL"]
    try:
        r = requests.get(base + "/healthz", timeout=5)
    except requests.RequestException as e:
        raise pytest.UsageError("the stack at %s does not answer: %s" % (base, e))
    if r.status_code != 200:
        raise pytest.UsageError("%s/healthz answered %d, not 200" % (base, r.status_code))


@pytest.fixture(scope="session")
def base_url():
    return BASE_URL


@pytest.fixture(scope="session")
def tenants():
    """Two tenants A and B, each with read/write/admin keys, two clients with
    one account each, and a write key restricted to its first client. Shared
    by the whole session: tests must not delete or rename these objects."""
    return make_tenant("A"), make_tenant("B")


@pytest.fixture(scope="session")
def tenant_a(tenants):
    return tenants[0]


@pytest.fixture(scope="session")
def tenant_b(tenants):
    return tenants[1]


@pytest.fixture
def fresh_tenant():
    """A new empty tenant with an admin key (for tests that count rows)."""
    tid = create_tenant("fresh-" + uuid.uuid4().hex[:6])
    key = create_key(tid, "admin")
    t = Client(key)
    t.tenant_id = tid
    return t


@pytest.fixture
def anon():
    return Client(None)


# ------------------------------------------------------------ database

@pytest.fixture
def admin_db():
    """The schema owner / superuser (RR_ADMIN_DB), autocommit. Per test: the
    database-outage test restarts PostgreSQL."""
    c = connect(env("RR_ADMIN_DB"))
    yield c
    c.close()


@pytest.fixture
def app_db():
    """A fresh connection as the service role (RR_APP_DB), not autocommit."""
    c = connect(env("RR_APP_DB"), autocommit=False)
    yield c
    c.close()


