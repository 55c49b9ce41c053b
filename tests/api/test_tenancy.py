"""API1 (object-level authorisation): tenant A can never see, change or even
detect tenant B's objects, through any route of the core or a plugin; and
the database itself enforces it (row-level security, a role that owns
nothing and bypasses nothing)."""

from datetime import datetime, timedelta, timezone

import psycopg2
import pytest
import requests

from helpers import BASE_URL, assert_problem, merged_snapshot, wait_for

GUESSED_IDS = ["1", "2", "999999999", "9223372036854775807", "9223372036854775808", "-1", "0",
               "abc", "1.0", "0x10", "%20"]
# Never poked with guesses: these routes crash or stall a worker on purpose.
SKIP_PREFIXES = ("/v1/test/crash", "/v1/test/sleep")


@pytest.fixture(scope="module")
def openapi():
    r = requests.get(BASE_URL + "/v1/openapi.json", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield method.upper(), path, op


def path_params(path):
    return [seg[1:-1] for seg in path.split("/") if seg.startswith("{") and seg.endswith("}")]


def example_for(schema, prefer_optional=False):
    """A small value valid for an OpenAPI schema (enough to get past body
    validation, so that what answers is the object lookup)."""
    if not isinstance(schema, dict):
        return "probe"
    if "enum" in schema:
        return schema["enum"][0]
    t = schema.get("type", "object")
    if isinstance(t, list):
        t = [x for x in t if x != "null"][0]
    if t == "object":
        props = schema.get("properties", {})
        names = list(schema.get("required", []))
        if not names and props:
            # a PATCH: one plain writable property
            plain = [n for n, s in props.items()
                     if not s.get("readOnly") and "enum" not in s and s.get("type") in
                     ("string", ["string", "null"])]
            names = plain[:1] or [n for n, s in props.items() if not s.get("readOnly")][:1]
        return {n: example_for(props.get(n, {})) for n in names}
    if t == "string":
        if schema.get("format") == "date-time":
            return (datetime.now(timezone.utc) + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
        return "probe"[: schema.get("maxLength", 5)] or "p"
    if t == "integer":
        return max(1, schema.get("minimum", 1))
    if t == "number":
        return 1
    if t == "boolean":
        return True
    if t == "array":
        return []
    return "probe"


def body_for(op):
    rb = op.get("requestBody")
    if not rb:
        return None
    schema = rb.get("content", {}).get("application/json", {}).get("schema", {})
    return example_for(schema)


B_LABEL = "b-secret-label"


@pytest.fixture(scope="module")
def b_objects(tenant_b):
    """B's values by path-parameter name, and strings only B's data holds."""
    keys = tenant_b.admin.list_all("/v1/keys")
    job = tenant_b.write.post("/v1/test/jobs", json={"fail_times": 0})
    assert job.status_code == 202, job.text
    label = tenant_b.write.put("/v1/accounts/%d/labels/%s" % (tenant_b.account_id, B_LABEL))
    assert label.status_code in (200, 201), label.text
    snap = tenant_b.write.post("/v1/accounts/%d/followers" % tenant_b.account_id,
                               data=b'[{"id": "b-follower", "screen_name": "b_main_fan"}]',
                               headers={"Content-Type": "application/json"})
    assert snap.status_code == 201, snap.text
    merged_snapshot(tenant_b.read, snap.json())
    post = tenant_b.write.post("/v1/accounts/%d/posts" % tenant_b.account_id,
                               data=b'[{"id": "b-post", "created_at": "2025-01-01T00:00:00Z"}]',
                               headers={"Content-Type": "application/json"})
    assert post.status_code == 201, post.text
    posts = tenant_b.read.get("/v1/accounts/%d/posts" % tenant_b.account_id).json()["items"]
    ids = {
        "snapshot_id": snap.json()["snapshot"]["id"],
        "post_id": posts[0]["id"],
        "client_id": tenant_b.client_id,
        "account_id": tenant_b.account_id,
        "key_id": keys[0]["id"],
        "job_id": job.json()["id"],
        "label": B_LABEL,          # a name, not an id: A may use the same name
    }
    from test_audience import audit_of  # the audience plugin's objects
    audit = audit_of(tenant_b, ["b-secret-follower"])
    ids["audit_id"] = ids["other_audit_id"] = audit["id"]
    markers = ["B main brand", "B second brand", "b_main", "b_second", "b-secret-follower"]
    markers += [k["public_id"] for k in keys]
    return ids, markers


def is_id(param):
    return param.endswith("_id")


def a_own_ids(tenant_a):
    """Ids that belong to A (a guessed id may legitimately be one of them)."""
    own = {"client_id": set(), "account_id": set(), "key_id": set(), "job_id": set()}
    for c in tenant_a.admin.list_all("/v1/clients"):
        own["client_id"].add(str(c["id"]))
        for a in tenant_a.admin.list_all("/v1/clients/%d/accounts" % c["id"]):
            own["account_id"].add(str(a["id"]))
    own["key_id"] = {str(k["id"]) for k in tenant_a.admin.list_all("/v1/keys")}
    own["job_id"] = {str(j["id"]) for j in tenant_a.admin.list_all("/v1/jobs")}
    return own


def no_b_data(resp, markers):
    for m in markers:
        assert m not in resp.text, "tenant B's %r shows in %s" % (m, resp.text[:300])


def wait_job(c, resp):
    """A 202 started a job: wait for it to finish (so its effects, if any,
    are visible to the checks that follow)."""
    loc = resp.headers.get("Location", "")
    if resp.status_code != 202 or not loc.startswith("/v1/jobs/"):
        return
    wait_for(lambda: c.get(loc).json()["state"] in ("done", "failed"), 15, 0.2,
             "job %s" % loc)


def test_every_route_hides_other_tenants_objects(openapi, tenant_a, tenant_b, b_objects):
    ids, markers = b_objects
    a = tenant_a.admin
    probed = 0
    for method, path, op in operations(openapi):
        params = path_params(path)
        if not params or path.startswith(SKIP_PREFIXES):
            continue
        missing = [p for p in params if p not in ids]
        assert not missing, ("no tenant-B value for parameter(s) %s of %s %s: add one to "
                             "b_objects" % (missing, method, path))
        url = path
        for p in params:
            url = url.replace("{%s}" % p, str(ids[p]))
        r = a.request(method, url, json=body_for(op))
        where = "%s %s with tenant A's key on B's values -> %d %s" % (
            method, url, r.status_code, r.text[:300])
        if any(is_id(p) for p in params):
            # B's object does not exist for A: the same answer as no object,
            # naming the path parameter that was not found
            assert r.status_code == 404, where
            body = assert_problem(r, 404, "not-found")
            assert body.get("field") in params, where
        else:
            # only names (a label): A's own (empty) view of that name
            assert r.status_code < 500 and r.status_code not in (401, 403), where
            if r.status_code == 200 and "items" in r.json():
                assert r.json()["items"] == [], where
            wait_job(a, r)
        no_b_data(r, markers)
        probed += 1
    assert probed >= 8, "expected the core's parameterised routes in the document"

    # nothing of B's changed
    b = tenant_b.admin
    assert b.get("/v1/clients/%d" % tenant_b.client_id).json()["name"] == "B main brand"
    assert b.get("/v1/accounts/%d" % tenant_b.account_id).json()["handle"] == "b_main"
    assert tenant_b.read.get("/v1/clients").status_code == 200, "B's read key was revoked"
    key = b.get("/v1/keys/%d" % ids["key_id"]).json()
    assert key["revoked_at"] is None
    labels = b.get("/v1/accounts/%d/labels" % tenant_b.account_id)
    assert B_LABEL in labels.text, labels.text


@pytest.mark.parametrize("guess", GUESSED_IDS)
def test_guessed_ids_are_not_found(openapi, tenant_a, b_objects, guess):
    _, markers = b_objects
    own = a_own_ids(tenant_a)
    a = tenant_a.admin
    for method, path, op in operations(openapi):
        params = path_params(path)
        if not params or path.startswith(SKIP_PREFIXES):
            continue
        if not any(is_id(p) for p in params):
            continue
        if any(guess in own.get(p, set()) for p in params):
            continue  # A's own object: a 2xx would be right, and a DELETE harmful
        url = path
        for p in params:
            url = url.replace("{%s}" % p, guess if is_id(p) else "probe")
        r = a.request(method, url, json=body_for(op))
        assert r.status_code == 404, "%s %s -> %d %s" % (method, url, r.status_code, r.text[:300])
        body = assert_problem(r, 404, "not-found")
        assert body.get("field") in params, "%s %s -> %s" % (method, url, r.text[:300])
        no_b_data(r, markers)


def test_lists_hold_none_of_the_other_tenants_objects(openapi, tenant_a, tenant_b, b_objects):
    ids, markers = b_objects
    a = tenant_a.admin
    lists = 0
    for method, path, op in operations(openapi):
        if method != "GET" or path.startswith("/v1/test/"):
            continue
        schema = (op.get("responses", {}).get("200", {}).get("content", {})
                  .get("application/json", {}).get("schema", {}))
        if "items" not in schema.get("properties", {}):
            continue
        params = path_params(path)
        # A's own objects, and B's label name (a name is no capability)
        own = {"client_id": tenant_a.client_id, "account_id": tenant_a.account_id,
               "label": ids["label"]}
        if any(p not in own for p in params):
            continue
        url = path
        for p in params:
            url = url.replace("{%s}" % p, str(own[p]))
        r = a.get(url, params={"limit": 200})
        assert r.status_code == 200, "%s -> %d %s" % (url, r.status_code, r.text[:300])
        no_b_data(r, markers)
        lists += 1
    assert lists >= 4

    clients = {c["id"] for c in a.list_all("/v1/clients")}
    assert tenant_b.client_id not in clients and tenant_b.other_client_id not in clients
    assert {tenant_a.client_id, tenant_a.other_client_id} <= clients
    jobs = {j["id"] for j in a.list_all("/v1/jobs")}
    assert ids["job_id"] not in jobs
    keys = {k["id"] for k in a.list_all("/v1/keys")}
    assert ids["key_id"] not in keys
    # filtering on B's values finds nothing either
    r = a.get("/v1/jobs", params={"kind": "test.flaky", "limit": 200})
    assert ids["job_id"] not in {j["id"] for j in r.json()["items"]}


def test_a_cursor_cannot_reach_into_another_tenant(tenant_a, tenant_b):
    """A cursor is a position, not a capability: B's cursor used by A pages
    A's own rows only."""
    r = tenant_b.admin.get("/v1/clients", params={"limit": 1})
    cursor = r.json()["next_cursor"]
    assert cursor
    r = tenant_a.admin.get("/v1/clients", params={"limit": 200, "cursor": cursor})
    assert r.status_code == 200
    for c in r.json()["items"]:
        assert c["id"] not in (tenant_b.client_id, tenant_b.other_client_id)


def test_ids_in_bodies_cannot_point_at_another_tenant(tenant_a, tenant_b):
    """A body naming B's client (where a body may name one) is refused."""
    r = tenant_a.admin.post("/v1/keys", json={"scope": "read", "client_id": tenant_b.client_id})
    assert r.status_code in (404, 422), r.text
    assert_problem(r, r.status_code)
    assert "key" not in r.json()


# ------------------------------------------------------------ database

def test_no_tenant_set_fails_closed(app_db):
    with app_db.cursor() as cur:
        with pytest.raises(psycopg2.Error):
            cur.execute("SELECT id, name FROM realreach.clients")
            cur.fetchall()
    app_db.rollback()
    with app_db.cursor() as cur:
        with pytest.raises(psycopg2.Error):
            cur.execute("SELECT count(*) FROM realreach.accounts")
    app_db.rollback()


def test_transaction_tenant_sees_only_its_rows(app_db, tenant_a, tenant_b):
    with app_db.cursor() as cur:
        cur.execute("SELECT set_config('realreach.tenant_id', %s, true)", (str(tenant_a.id),))
        cur.execute("SELECT tenant_id, id FROM realreach.clients")
        rows = cur.fetchall()
        assert rows and {t for t, _ in rows} == {tenant_a.id}
        ids = {i for _, i in rows}
        assert {tenant_a.client_id, tenant_a.other_client_id} <= ids
        assert tenant_b.client_id not in ids
        cur.execute("SELECT DISTINCT tenant_id FROM realreach.accounts")
        assert cur.fetchall() == [(tenant_a.id,)]
        cur.execute("SELECT DISTINCT tenant_id FROM realreach.api_keys")
        assert cur.fetchall() == [(tenant_a.id,)]
        # B's rows are invisible to writes too
        cur.execute("UPDATE realreach.clients SET name = 'stolen' WHERE id = %s",
                    (tenant_b.client_id,))
        assert cur.rowcount == 0
        cur.execute("DELETE FROM realreach.accounts WHERE id = %s", (tenant_b.account_id,))
        assert cur.rowcount == 0
    app_db.rollback()


def test_insert_for_another_tenant_is_refused(app_db, tenant_a, tenant_b):
    with app_db.cursor() as cur:
        cur.execute("SELECT set_config('realreach.tenant_id', %s, true)", (str(tenant_a.id),))
        with pytest.raises(psycopg2.Error) as e:
            cur.execute("INSERT INTO realreach.clients (tenant_id, name) VALUES (%s, 'intruder')",
                        (tenant_b.id,))
        assert "row-level security" in str(e.value)
    app_db.rollback()
    with app_db.cursor() as cur:
        cur.execute("SELECT set_config('realreach.tenant_id', %s, true)", (str(tenant_a.id),))
        with pytest.raises(psycopg2.Error):
            cur.execute("UPDATE realreach.clients SET tenant_id = %s WHERE id = %s",
                        (tenant_b.id, tenant_a.client_id))
    app_db.rollback()


def test_tenant_setting_does_not_outlive_the_transaction(app_db, tenant_a):
    with app_db.cursor() as cur:
        cur.execute("SELECT set_config('realreach.tenant_id', %s, true)", (str(tenant_a.id),))
        cur.execute("SELECT count(*) FROM realreach.clients")
        assert cur.fetchone()[0] >= 2
    app_db.commit()
    with app_db.cursor() as cur:
        with pytest.raises(psycopg2.Error):
            cur.execute("SELECT id FROM realreach.clients")
            cur.fetchall()
    app_db.rollback()


def test_service_role_is_unprivileged(app_db):
    with app_db.cursor() as cur:
        cur.execute("SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles"
                    " WHERE rolname = current_user")
        assert cur.fetchone() == (False, False, False, False)
        cur.execute("SELECT schemaname, tablename FROM pg_tables WHERE tableowner = current_user")
        assert cur.fetchall() == []
        cur.execute("SELECT c.relname FROM pg_class c WHERE c.relowner ="
                    " (SELECT oid FROM pg_roles WHERE rolname = current_user)")
        assert cur.fetchall() == [], "the service role owns relations"
        # nor may it inherit a role that is privileged
        cur.execute("SELECT r.rolname FROM pg_roles r WHERE pg_has_role(current_user, r.oid, 'MEMBER')"
                    " AND (r.rolsuper OR r.rolbypassrls) ")
        assert cur.fetchall() == []
    app_db.rollback()


def test_every_tenant_table_forces_rls_with_check(admin_db):
    """Core and plugin tables alike: RLS enabled and forced, and a policy for
    the service role with both USING and WITH CHECK."""
    with admin_db.cursor() as cur:
        cur.execute("""
            SELECT n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity
              FROM pg_class c
              JOIN pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
                                 AND NOT a.attisdropped
             WHERE c.relkind IN ('r', 'p')
               AND n.nspname NOT IN ('pg_catalog', 'information_schema')""")
        tables = cur.fetchall()
        assert len(tables) >= 5
        # the one exception: COPY cannot target an RLS table, so follower
        # lists are taken in through a write-only table (its own test below)
        assert ("realreach", "snapshot_intake", False, False) in tables
        tables.remove(("realreach", "snapshot_intake", False, False))
        for schema, table, enabled, forced in tables:
            assert enabled and forced, "%s.%s: RLS enabled=%s forced=%s" % (schema, table,
                                                                             enabled, forced)
            cur.execute("""
                SELECT count(*) FROM pg_policies
                 WHERE schemaname = %s AND tablename = %s
                   AND ('realreach_app' = ANY (roles) OR 'public' = ANY (roles))
                   AND qual IS NOT NULL
                   AND (with_check IS NOT NULL OR cmd IN ('SELECT', 'DELETE'))""",
                        (schema, table))
            assert cur.fetchone()[0] >= 1, "%s.%s has no USING/WITH CHECK policy for the " \
                                           "service role" % (schema, table)
        # views the service can read must not run with their owner's rights,
        # but for the one over the intake (whose rows it may not read itself):
        # a security barrier that filters on the tenant
        cur.execute("""
            SELECT n.nspname, c.relname, coalesce(c.reloptions, '{}')
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind = 'v' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
               AND has_table_privilege('realreach_app', c.oid, 'SELECT')""")
        views = cur.fetchall()
        intake = [v for v in views if v[:2] == ("realreach", "snapshot_intake_rows")]
        assert len(intake) == 1 and "security_barrier=true" in intake[0][2], intake
        cur.execute("SELECT pg_get_viewdef('realreach.snapshot_intake_rows'::regclass)")
        assert "(snapshot_intake.tenant_id = realreach.current_tenant())" in cur.fetchone()[0]
        for schema, view, opts in views:
            if (schema, view) == ("realreach", "snapshot_intake_rows"):
                continue
            assert "security_invoker=true" in opts or "security_invoker=on" in opts, (
                "view %s.%s bypasses RLS (no security_invoker)" % (schema, view))


def test_snapshot_intake_is_write_only_and_pinned_to_the_tenant(tenant_a, tenant_b, app_db):
    """realreach.snapshot_intake has no RLS (COPY needs that): the service
    role may only insert rows of its own tenant, and reads and removes them
    only through a view and a function that see the current tenant's rows."""
    row = ("INSERT INTO realreach.snapshot_intake (tenant_id, snapshot_id, part, position,"
           " external_id, bare) VALUES (%s, %s, 1, 0, 'intake-probe', true)")

    def as_tenant(cur, tenant):
        cur.execute("SELECT set_config('realreach.tenant_id', %s, true)", (str(tenant),))

    def refused(sql, args, tenant, code):
        with app_db.cursor() as cur:
            if tenant is not None:
                as_tenant(cur, tenant)
            with pytest.raises(psycopg2.Error) as e:
                cur.execute(sql, args)
        app_db.rollback()
        assert e.value.pgcode in code.split("|"), (sql, e.value.pgcode, str(e.value))

    try:
        refused(row, (tenant_b.id, 1), tenant_a.id, "23514")  # another tenant's row: CHECK
        # no tenant set: the setting is missing, or empty once a transaction set it
        refused(row, (tenant_a.id, 1), None, "42704|22P02")
        for sql in ("SELECT * FROM realreach.snapshot_intake",
                    "UPDATE realreach.snapshot_intake SET bare = false",
                    "DELETE FROM realreach.snapshot_intake",
                    "TRUNCATE realreach.snapshot_intake"):
            refused(sql, (), tenant_a.id, "42501")             # permission denied
        with app_db.cursor() as cur:
            as_tenant(cur, tenant_a.id)
            cur.execute(row, (tenant_a.id, 987654321))
            cur.execute("SELECT external_id FROM realreach.snapshot_intake_rows"
                        " WHERE snapshot_id = 987654321")
            assert cur.fetchall() == [("intake-probe",)]
            as_tenant(cur, tenant_b.id)  # B sees and removes nothing of A's
            cur.execute("SELECT count(*) FROM realreach.snapshot_intake_rows")
            assert cur.fetchone()[0] == 0
            # a condition of the reader's cannot see past the tenant filter
            cur.execute("SELECT count(*) FROM realreach.snapshot_intake_rows"
                        " WHERE snapshot_id = 987654321 OR true")
            assert cur.fetchone()[0] == 0
            cur.execute("SELECT realreach.snapshot_intake_clear(987654321)")
            assert cur.fetchone()[0] == 0
            as_tenant(cur, tenant_a.id)
            cur.execute("SELECT realreach.snapshot_intake_clear(987654321)")
            assert cur.fetchone()[0] == 1
        app_db.rollback()
    finally:
        app_db.rollback()
