"""Idempotency-Key on creating POSTs: a client can retry an unknown outcome
safely. Same key + same request -> the same answer, replayed; same key +
another request -> 422; still running -> 409; stored per tenant."""

import threading
import uuid

from helpers import Client, assert_problem, secret_of


def idem(key):
    return {"Idempotency-Key": key}


def count_named(c, name):
    return sum(1 for x in c.list_all("/v1/clients") if x["name"] == name)


def test_replay_gives_the_same_answer_and_one_row(fresh_tenant):
    c = fresh_tenant
    key = "create-" + uuid.uuid4().hex
    first = c.post("/v1/clients", json={"name": "idem brand"}, headers=idem(key))
    assert first.status_code == 201, first.text
    assert first.headers.get("Idempotent-Replayed") is None
    for _ in range(2):
        again = c.post("/v1/clients", json={"name": "idem brand"}, headers=idem(key))
        assert again.status_code == 201, again.text
        assert again.json() == first.json()
        assert again.headers.get("Location") == first.headers.get("Location")
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.headers.get("Content-Type", "").startswith("application/json")
    assert count_named(c, "idem brand") == 1
    # without the key, the same body creates another client
    assert c.post("/v1/clients", json={"name": "idem brand"}).status_code == 201
    assert count_named(c, "idem brand") == 2


def test_same_key_other_request_is_422(fresh_tenant):
    c = fresh_tenant
    key = "k-" + uuid.uuid4().hex
    first = c.post("/v1/clients", json={"name": "first"}, headers=idem(key))
    assert first.status_code == 201
    r = c.post("/v1/clients", json={"name": "second"}, headers=idem(key))
    assert_problem(r, 422, "idempotency-mismatch", "Idempotency-Key")
    # the same key on another path is another request too
    cid = first.json()["id"]
    r = c.post("/v1/clients/%d/accounts" % cid, json={"platform": "x", "handle": "h"},
               headers=idem(key))
    assert_problem(r, 422, "idempotency-mismatch", "Idempotency-Key")
    assert count_named(c, "second") == 0
    assert c.list_all("/v1/clients/%d/accounts" % cid) == []


def test_a_failed_request_does_not_use_up_its_key(fresh_tenant):
    c = fresh_tenant
    key = "retry-" + uuid.uuid4().hex
    r = c.post("/v1/clients", json={"name": 5}, headers=idem(key))
    assert_problem(r, 422, "validation", "name")
    r = c.post("/v1/clients", json={"name": "fixed"}, headers=idem(key))
    assert r.status_code == 201, r.text
    assert r.headers.get("Idempotent-Replayed") is None


def test_accounts_are_idempotent_too(fresh_tenant):
    c = fresh_tenant
    cid = c.create_client("acc-idem")["id"]
    key = uuid.uuid4().hex
    body = {"platform": "tiktok", "handle": "once"}
    a = c.post("/v1/clients/%d/accounts" % cid, json=body, headers=idem(key))
    b = c.post("/v1/clients/%d/accounts" % cid, json=body, headers=idem(key))
    assert a.status_code == b.status_code == 201
    assert a.json() == b.json()
    assert b.headers.get("Idempotent-Replayed") == "true"
    assert len(c.list_all("/v1/clients/%d/accounts" % cid)) == 1


def test_bad_idempotency_keys_are_400(fresh_tenant):
    c = fresh_tenant
    for bad in ("x" * 256, "has space", "tab\tkey"):
        r = c.post("/v1/clients", json={"name": "badkey"}, headers=idem(bad))
        assert_problem(r, 400, None, "Idempotency-Key")
    assert count_named(c, "badkey") == 0
    # 255 visible characters are fine
    r = c.post("/v1/clients", json={"name": "longkey"}, headers=idem("k" * 255))
    assert r.status_code == 201, r.text


def test_concurrent_requests_with_one_key(fresh_tenant):
    key = "slow-" + uuid.uuid4().hex
    barrier = threading.Barrier(2)
    results = [None, None]

    def go(i):
        c = Client(fresh_tenant.key)
        barrier.wait()
        results[i] = c.post("/v1/test/slow", params={"ms": 1500}, headers=idem(key), timeout=20)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes == [201, 409], [(r.status_code, r.text) for r in results]
    done = [r for r in results if r.status_code == 201][0]
    busy = [r for r in results if r.status_code == 409][0]
    assert_problem(busy, 409, "idempotency-in-progress", "Idempotency-Key")
    assert done.json() == {"ok": True, "slept_ms": 1500}

    # the retry after the first finished replays its answer (without sleeping)
    again = fresh_tenant.post("/v1/test/slow", params={"ms": 1500}, headers=idem(key))
    assert again.status_code == 201, again.text
    assert again.json() == done.json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.elapsed.total_seconds() < 1.0


def test_keys_are_per_tenant(tenant_a, tenant_b):
    key = "shared-" + uuid.uuid4().hex
    a = tenant_a.write.post("/v1/clients", json={"name": "A idem " + key}, headers=idem(key))
    assert a.status_code == 201, a.text
    b = tenant_b.write.post("/v1/clients", json={"name": "B idem " + key}, headers=idem(key))
    assert b.status_code == 201, b.text
    assert b.headers.get("Idempotent-Replayed") is None
    assert b.json()["id"] != a.json()["id"]
    # B's replay is B's answer, never A's
    b2 = tenant_b.write.post("/v1/clients", json={"name": "B idem " + key}, headers=idem(key))
    assert b2.json() == b.json()
    # and B sending A's exact request with A's key is a new request for B
    b3 = tenant_b.write.post("/v1/clients", json={"name": "A idem " + key}, headers=idem(key))
    assert_problem(b3, 422, "idempotency-mismatch")
    assert "A idem" not in b3.text
    assert tenant_a.admin.delete("/v1/clients/%d" % a.json()["id"]).status_code == 204
    assert tenant_b.admin.delete("/v1/clients/%d" % b.json()["id"]).status_code == 204


def test_key_creation_does_not_store_the_secret(tenant_a, admin_db):
    """POST /v1/keys takes an Idempotency-Key; the stored answer must not be
    the one place the secret is kept in clear."""
    r = tenant_a.admin.post("/v1/keys", json={"scope": "read", "name": "idem-secret"},
                            headers=idem("keys-" + uuid.uuid4().hex))
    assert r.status_code == 201, r.text
    secret = secret_of(r.json()["key"])
    with admin_db.cursor() as cur:
        cur.execute("SELECT count(*) FROM realreach.idempotency_keys WHERE strpos(body, %s) > 0",
                    (secret,))
        assert cur.fetchone()[0] == 0, "the key's secret is stored in realreach.idempotency_keys"
        cur.execute("SELECT count(*) FROM realreach.api_keys WHERE strpos(digest::text, %s) > 0"
                    " OR strpos(coalesce(name, ''), %s) > 0", (secret, secret))
        assert cur.fetchone()[0] == 0
