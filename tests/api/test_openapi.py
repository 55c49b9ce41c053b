"""GET /v1/openapi.json is the API's contract: OpenAPI 3.1, complete for every
operation, and exactly the set of (method, path) the router serves."""

import re

import pytest
import requests

from helpers import BASE_URL, Client, assert_problem

PUBLIC = {("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"),
          ("GET", "/v1/openapi.json")}

# What the core and the test plugins must serve; a route removed by mistake
# fails here even if the document and the router agree.
EXPECTED = PUBLIC | {
    ("GET", "/v1/plugins"),
    ("GET", "/v1/clients"), ("POST", "/v1/clients"),
    ("GET", "/v1/clients/{client_id}"), ("PATCH", "/v1/clients/{client_id}"),
    ("DELETE", "/v1/clients/{client_id}"),
    ("GET", "/v1/clients/{client_id}/accounts"), ("POST", "/v1/clients/{client_id}/accounts"),
    ("GET", "/v1/accounts/{account_id}"), ("PATCH", "/v1/accounts/{account_id}"),
    ("DELETE", "/v1/accounts/{account_id}"),
    ("GET", "/v1/keys"), ("POST", "/v1/keys"),
    ("GET", "/v1/keys/{key_id}"), ("DELETE", "/v1/keys/{key_id}"),
    ("GET", "/v1/jobs"), ("GET", "/v1/jobs/{job_id}"),
    # test plugins
    ("POST", "/v1/test/slow"), ("POST", "/v1/test/jobs"), ("POST", "/v1/test/events"),
    ("GET", "/v1/test/crash"), ("GET", "/v1/test/sleep"), ("GET", "/v1/test/ok"),
}
IDEMPOTENT = {("POST", "/v1/clients"), ("POST", "/v1/clients/{client_id}/accounts"),
              ("POST", "/v1/test/slow")}
# Never called with a key: they crash or stall the worker on purpose.
DANGEROUS = {("GET", "/v1/test/crash"), ("GET", "/v1/test/sleep")}
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@pytest.fixture(scope="module")
def doc():
    r = requests.get(BASE_URL + "/v1/openapi.json", timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()


def ops(doc):
    return {(m.upper(), p): op for p, item in doc["paths"].items() for m, op in item.items()
            if m in METHODS}


def params_of(path):
    return re.findall(r"\{([^}]+)\}", path)


def fill(path, value="999999999"):
    return re.sub(r"\{[^}]+\}", value, path)


def test_document_is_openapi_3_1(doc):
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] and doc["info"]["version"]
    assert doc["paths"]
    schemes = doc["components"]["securitySchemes"]
    assert any(s.get("type") == "http" and s.get("scheme") == "bearer" for s in schemes.values())
    assert "Problem" in doc["components"]["schemas"]


def test_every_operation_is_complete(doc):
    seen_ids = set()
    schemes = set(doc["components"]["securitySchemes"])
    for (method, path), op in ops(doc).items():
        where = "%s %s" % (method, path)
        assert isinstance(op.get("summary"), str) and op["summary"].strip(), where
        assert op.get("responses"), where
        assert any(code.startswith("2") for code in op["responses"]), where
        for code, resp in op["responses"].items():
            assert re.fullmatch(r"[1-5]\d\d|default", code), where
            assert resp.get("description"), "%s %s: response without description" % (where, code)
        oid = op.get("operationId")
        assert oid and oid not in seen_ids, where
        seen_ids.add(oid)
        if (method, path) in PUBLIC:
            assert not op.get("security"), "%s is public but documents a key" % where
        else:
            sec = op.get("security")
            assert sec and all(set(s) <= schemes for s in sec), "%s has no security" % where
            assert "401" in op["responses"] and "403" in op["responses"], where
        declared = {p["name"] for p in op.get("parameters", []) if p.get("in") == "path"}
        assert declared == set(params_of(path)), "%s: path parameters %s declared %s" % (
            where, params_of(path), declared)
        for p in op.get("parameters", []):
            if p.get("in") == "path":
                assert p.get("required") is True and "schema" in p, where
        if params_of(path):
            assert "404" in op["responses"], where
        if (method, path) in IDEMPOTENT:
            names = {p["name"] for p in op.get("parameters", []) if p.get("in") == "header"}
            assert "Idempotency-Key" in names, where
        rb = op.get("requestBody")
        if rb:
            assert "application/json" in rb["content"], where


def test_every_ref_resolves(doc):
    refs = []

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if k == "$ref":
                    refs.append(v)
                else:
                    walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(doc)
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        node = doc
        for part in ref[2:].split("/"):
            assert part in node, "unresolved $ref %s" % ref
            node = node[part]


def test_core_routes_are_documented(doc):
    missing = EXPECTED - set(ops(doc))
    assert not missing, sorted(missing)


def test_documented_routes_are_served(doc, tenant_a):
    """The router knows every documented operation: without a key, a
    protected route answers 401 (the router's 404/405 come before
    authentication); with an admin key and ids that do not exist, no
    operation gets the router's "no such resource" or a 405."""
    anon = Client(None)
    admin = tenant_a.admin
    for (method, path), op in sorted(ops(doc).items()):
        url = fill(path)
        if (method, path) in PUBLIC:
            r = anon.request(method, url)
            assert r.status_code == 200, "%s %s -> %d" % (method, url, r.status_code)
            continue
        r = anon.request(method, url)
        assert_problem(r, 401, "unauthorized")
        if (method, path) in DANGEROUS:
            continue
        body = {} if method in ("POST", "PATCH", "PUT") else None
        r = admin.request(method, url, json=body)
        assert r.status_code != 405, "%s %s -> 405 %s" % (method, url, r.text)
        if r.status_code == 404:
            p = assert_problem(r, 404)
            assert p.get("detail") != "no such resource", "%s %s is not routed" % (method, url)


def test_allow_lists_exactly_the_documented_methods(doc):
    anon = Client(None)
    for path, item in doc["paths"].items():
        documented = {m.upper() for m in item if m in METHODS}
        for probe in ("PUT", "PATCH", "DELETE", "POST", "GET"):
            if probe not in documented:
                break
        else:
            continue
        r = anon.request(probe, fill(path), json={} if probe != "GET" else None)
        assert_problem(r, 405, "method-not-allowed")
        allow = {m.strip() for m in r.headers.get("Allow", "").split(",") if m.strip()}
        assert allow == documented, "%s: Allow %s, documented %s" % (path, allow, documented)


@pytest.mark.parametrize("method,path,status", [
    ("GET", "/v1/nothing", 404),
    ("GET", "/v1", 404),
    ("GET", "/", 404),
    ("GET", "/v2/clients", 404),
    ("GET", "/v1/clients/1/nothing", 404),
    ("GET", "/v1/clients/1/accounts/1", 404),
    ("GET", "/v1/Clients", 404),
    ("GET", "//v1/clients", 404),
    ("GET", "/v1//clients", 404),
    ("DELETE", "/v1/clients", 405),
    ("PUT", "/v1/clients/1", 405),
    ("POST", "/healthz", 405),
    ("PATCH", "/v1/jobs/1", 405),
])
def test_undocumented_routes_are_refused(doc, tenant_a, method, path, status):
    documented = set(ops(doc))
    r = tenant_a.admin.request(method, path, json={} if method != "GET" else None)
    assert_problem(r, status)
    if status == 405:
        assert r.headers.get("Allow")
    else:
        assert not any(re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", p), path)
                       for m, p in documented if m == method), "%s is documented" % path


def test_plugin_routes_match_the_document(doc, tenant_a):
    """GET /v1/plugins (from the loader) and the document agree."""
    plugins = tenant_a.read.get("/v1/plugins").json()["items"]
    documented = ops(doc)
    for p in plugins:
        for route in p["routes"]:
            key = (route["method"], route["path"])
            assert key in documented, "%s route %s is not documented" % (p["name"], key)
            assert p["name"] in documented[key].get("tags", []), key
