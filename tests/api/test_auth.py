"""API2 (authentication) and API5 (function-level authorisation): who may call
what. Keys are `rr_<public id>_<secret>` sent as `Authorization: Bearer`."""

import base64
import os
import time
from datetime import datetime, timedelta, timezone

import pytest

from helpers import (SEEN_KEYS, Client, assert_problem, cli, create_key, log_path, public_id,
                     random_key, read_log, revoke_key, run_dir, secret_of)

PROTECTED = "/v1/clients"


def assert_401(resp):
    body = assert_problem(resp, 401, "unauthorized")
    challenge = resp.headers.get("WWW-Authenticate", "")
    assert challenge.startswith("Bearer"), "401 without a Bearer challenge: %r" % challenge
    return body


def get_with_auth(value):
    c = Client(None)
    headers = {} if value is None else {"Authorization": value}
    return c.get(PROTECTED, headers=headers)


# ------------------------------------------------------------------ 401

def test_missing_key_is_401_with_challenge(anon):
    r = anon.get(PROTECTED)
    assert_401(r)
    assert "items" not in r.text


def test_empty_authorization_is_401():
    assert_401(get_with_auth(""))


@pytest.mark.parametrize("scheme", [
    "Bearer x",
    "Bearer",
    "Bearer ",
    "Basic " + base64.b64encode(b"user:password").decode(),
    "Digest username=\"a\"",
    "rr_abcdefghijkl_" + "A" * 43,            # no scheme
    "Bearer rr_short_secret",                  # public id too short
    "Bearer rr_abcdefghijkl",                  # no secret
    "Bearer rr__" + "A" * 43,                  # empty public id
    "Bearer " + "x" * 5000,                    # huge token
    "Bearer rr_abcdefghijkl_" + "A" * 43 + " extra",
])
def test_malformed_authorization_is_401(scheme):
    assert_401(get_with_auth(scheme))


def test_other_scheme_with_a_valid_key_is_401(tenant_a):
    key = tenant_a.keys["read"]
    for value in ("Basic " + key, "Token " + key, "Bearer" + key, key):
        assert_401(get_with_auth(value))


def test_wrong_prefix_is_401(tenant_a):
    key = tenant_a.keys["read"]
    for prefix in ("xx_", "RR_", "rk_", ""):
        assert_401(get_with_auth("Bearer " + prefix + key[3:]))


def test_unknown_public_id_and_wrong_secret_look_the_same(tenant_a):
    key = tenant_a.keys["read"]
    unknown = assert_401(get_with_auth("Bearer " + random_key()))
    secret = secret_of(key)
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    wrong = assert_401(get_with_auth("Bearer rr_%s_%s" % (public_id(key), flipped)))
    # another secret of the right length for a real public id
    other = assert_401(get_with_auth("Bearer rr_%s_%s" % (public_id(key), secret_of(random_key()))))
    # telling them apart would reveal which public ids exist
    assert unknown["detail"] == wrong["detail"] == other["detail"]
    # and the right key still works
    assert Client(key).get(PROTECTED).status_code == 200


def test_revoked_key_is_401(tenant_a):
    key = create_key(tenant_a.id, "read")
    c = Client(key)
    assert c.get(PROTECTED).status_code == 200
    revoke_key(tenant_a.id, key)
    assert_401(c.get(PROTECTED))
    assert_401(c.get("/v1/clients/%d" % tenant_a.client_id))


def test_expired_key_is_401(tenant_a, admin_db):
    soon = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    key = create_key(tenant_a.id, "read", expires=soon)
    c = Client(key)
    assert c.get(PROTECTED).status_code == 200
    with admin_db.cursor() as cur:
        cur.execute("UPDATE realreach.api_keys SET expires_at = now() - interval '1 second'"
                    " WHERE public_id = %s", (public_id(key),))
        assert cur.rowcount == 1
    assert_401(c.get(PROTECTED))


def test_cli_refuses_an_expiry_in_the_past(tenant_a):
    p = cli("key", "create", "--tenant", tenant_a.id, "--scopes", "read",
            "--expires", "2001-01-01T00:00:00Z", check=False)
    assert p.returncode != 0
    assert "rr_" not in p.stdout


@pytest.mark.parametrize("param", ["api_key", "key", "access_token", "token", "x"])
def test_key_in_query_string_is_refused_even_with_a_valid_header(tenant_a, param):
    key = tenant_a.keys["read"]
    c = Client(key)
    # with the valid header too: the key in the URL has leaked, refuse loudly
    assert_401(c.get(PROTECTED, params={param: key}))
    assert_401(Client(None).get(PROTECTED, params={param: key}))
    # a key-shaped value anywhere in the query counts
    assert_401(c.get(PROTECTED, params={"limit": "5", "q": "x" + key}))


# ------------------------------------------------------------------ 403

def test_read_key_cannot_write(tenant_a):
    r = tenant_a.read
    assert_problem(r.post("/v1/clients", json={"name": "nope"}), 403, "forbidden")
    assert_problem(r.patch("/v1/clients/%d" % tenant_a.client_id, json={"notes": "x"}), 403,
                   "forbidden")
    assert_problem(r.delete("/v1/clients/%d" % tenant_a.client_id), 403, "forbidden")
    assert_problem(r.post("/v1/clients/%d/accounts" % tenant_a.client_id,
                          json={"platform": "x", "handle": "nope"}), 403, "forbidden")
    assert_problem(r.patch("/v1/accounts/%d" % tenant_a.account_id, json={"handle": "n"}), 403,
                   "forbidden")
    assert_problem(r.delete("/v1/accounts/%d" % tenant_a.account_id), 403, "forbidden")
    # nothing changed
    names = [c["name"] for c in tenant_a.admin.list_all("/v1/clients")]
    assert "nope" not in names
    assert tenant_a.admin.get("/v1/clients/%d" % tenant_a.client_id).status_code == 200
    assert tenant_a.admin.get("/v1/accounts/%d" % tenant_a.account_id).status_code == 200


@pytest.mark.parametrize("scope", ["read", "write"])
def test_admin_routes_need_an_admin_key(tenant_a, scope):
    c = tenant_a.clients[scope]
    assert_problem(c.get("/v1/keys"), 403, "forbidden")
    assert_problem(c.post("/v1/keys", json={"scope": "read"}), 403, "forbidden")
    victim = public_id(tenant_a.keys["read"])
    keys = tenant_a.admin.list_all("/v1/keys")
    kid = [k["id"] for k in keys if k["public_id"] == victim][0]
    assert_problem(c.get("/v1/keys/%d" % kid), 403, "forbidden")
    assert_problem(c.delete("/v1/keys/%d" % kid), 403, "forbidden")
    # the key was not revoked
    assert tenant_a.read.get(PROTECTED).status_code == 200


def test_admin_key_can_use_admin_routes(tenant_a):
    assert tenant_a.admin.get("/v1/keys").status_code == 200


# ------------------------------------------------- client-restricted keys

def test_client_restricted_key_sees_only_its_client(tenant_a):
    c = Client(tenant_a.restricted_key)
    own, other = tenant_a.client_id, tenant_a.other_client_id

    items = c.list_all("/v1/clients")
    assert [i["id"] for i in items] == [own]
    assert c.get("/v1/clients/%d" % own).status_code == 200
    assert c.get("/v1/accounts/%d" % tenant_a.account_id).status_code == 200
    assert c.get("/v1/clients/%d/accounts" % own).status_code == 200

    assert_problem(c.get("/v1/clients/%d" % other), 403, "forbidden")
    assert_problem(c.get("/v1/clients/%d/accounts" % other), 403, "forbidden")
    assert_problem(c.get("/v1/accounts/%d" % tenant_a.other_account_id), 403, "forbidden")


def test_client_restricted_key_cannot_write_another_client(tenant_a):
    c = Client(tenant_a.restricted_key)
    other, other_acc = tenant_a.other_client_id, tenant_a.other_account_id
    before_client = tenant_a.admin.get("/v1/clients/%d" % other).json()
    before_acc = tenant_a.admin.get("/v1/accounts/%d" % other_acc).json()

    assert_problem(c.patch("/v1/clients/%d" % other, json={"notes": "hijack"}), 403, "forbidden")
    assert_problem(c.delete("/v1/clients/%d" % other), 403, "forbidden")
    assert_problem(c.post("/v1/clients/%d/accounts" % other,
                          json={"platform": "x", "handle": "hijack"}), 403, "forbidden")
    assert_problem(c.patch("/v1/accounts/%d" % other_acc, json={"handle": "hijack"}), 403,
                   "forbidden")
    assert_problem(c.delete("/v1/accounts/%d" % other_acc), 403, "forbidden")
    # a restricted key cannot create clients (they would be outside its reach)
    assert_problem(c.post("/v1/clients", json={"name": "hijack"}), 403, "forbidden")

    assert tenant_a.admin.get("/v1/clients/%d" % other).json() == before_client
    assert tenant_a.admin.get("/v1/accounts/%d" % other_acc).json() == before_acc
    # (other tests may add accounts to this shared client: look for the hijack)
    accounts = tenant_a.admin.list_all("/v1/clients/%d/accounts" % other)
    assert other_acc in [a["id"] for a in accounts]
    assert not [a for a in accounts if a["handle"] == "hijack"]


def test_client_restricted_key_plugin_routes(tenant_a, base_url):
    """Every documented route taking a client or account id refuses the other
    client's objects to a restricted key (core and plugins alike)."""
    import requests as rq
    doc = rq.get(base_url + "/v1/openapi.json", timeout=10).json()
    c = Client(tenant_a.restricted_key)
    ids = {"client_id": tenant_a.other_client_id, "account_id": tenant_a.other_account_id}
    checked = 0
    for path, item in doc["paths"].items():
        params = [seg[1:-1] for seg in path.split("/") if seg.startswith("{")]
        if not params or not set(params) <= set(ids) or not ("client_id" in params
                                                             or "account_id" in params):
            continue
        url = path
        for p in params:
            url = url.replace("{%s}" % p, str(ids[p]))
        for method in item:
            if method.upper() not in ("GET", "DELETE"):
                continue
            r = c.request(method.upper(), url)
            assert r.status_code in (403, 404), "%s %s -> %d %s" % (method, url, r.status_code,
                                                                     r.text[:200])
            assert_problem(r, r.status_code)
            checked += 1
    assert checked >= 4


# --------------------------------------------------------------- logging

def test_key_secrets_never_reach_the_logs(tenant_a):
    key = create_key(tenant_a.id, "read")
    c = Client(key)
    c.get(PROTECTED)
    c.get(PROTECTED, params={"api_key": key})
    Client(None).get(PROTECTED, params={"access_token": key})
    Client("rr_%s_%s" % (public_id(key), secret_of(random_key()))).get(PROTECTED)
    revoke_key(tenant_a.id, key)
    c.get(PROTECTED)
    # a key created over the API appears in its 201 answer only
    r = tenant_a.admin.post("/v1/keys", json={"scope": "read", "name": "log-check"})
    assert r.status_code == 201, r.text
    SEEN_KEYS.append(r.json()["key"])
    Client(r.json()["key"]).get(PROTECTED)

    time.sleep(0.3)  # the request lines are written after the answer
    texts = {log_path(): read_log()}
    for extra in ("nginx/access.log", "nginx/error.log"):
        p = os.path.join(run_dir(), extra)
        if os.path.exists(p):
            with open(p, "rb") as f:
                texts[p] = f.read().decode("utf-8", "replace")
    assert public_id(key) in texts[log_path()], "the request lines should name the public id"
    for k in SEEN_KEYS:
        for path, text in texts.items():
            assert secret_of(k) not in text, "the secret of key %s is in %s" % (public_id(k), path)


# ------------------------------------------------------------ rate limit

def test_rate_limit_answers_429_then_recovers(tenant_a):
    key = create_key(tenant_a.id, "read", rate_limit=2)
    c = Client(key)
    answers = [c.get(PROTECTED, params={"limit": 1}) for _ in range(12)]
    codes = [r.status_code for r in answers]
    assert 200 in codes and 429 in codes, codes
    ok = answers[0]
    assert ok.status_code == 200
    assert "RateLimit" in ok.headers, dict(ok.headers)
    limited = [r for r in answers if r.status_code == 429][0]
    assert_problem(limited, 429, "rate-limited")
    assert "RateLimit" in limited.headers, dict(limited.headers)
    retry = limited.headers.get("Retry-After", "")
    assert retry.isdigit() and 1 <= int(retry) <= 60, retry
    # other keys of the tenant are not limited by this one
    assert tenant_a.read.get(PROTECTED).status_code == 200
    time.sleep(int(retry) + 0.3)
    assert c.get(PROTECTED, params={"limit": 1}).status_code == 200
