"""Jobs: 202 Accepted with the job's URL, retries with backoff, and ingest
hooks that run after the announcing transaction committed."""

import re
import uuid
from datetime import datetime

from helpers import Client, assert_problem, create_key, wait_for


def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def start_flaky(c, fail_times):
    r = c.post("/v1/test/jobs", json={"fail_times": fail_times})
    assert r.status_code == 202, r.text
    loc = r.headers.get("Location", "")
    assert re.fullmatch(r"/v1/jobs/\d+", loc), loc
    job = r.json()
    assert loc == "/v1/jobs/%d" % job["id"] == job["url"]
    assert job["kind"] == "test.flaky"
    assert job["state"] == "queued" and job["attempts"] == 0
    return loc, job


def test_job_retries_then_succeeds(tenant_a):
    c = tenant_a.write
    loc, _ = start_flaky(c, 1)

    def done():
        j = c.get(loc).json()
        return j if j["state"] == "done" else None

    job = wait_for(done, 15, 0.2, "the job to be done")
    assert job["attempts"] == 2
    assert job["result"] == {"attempts": 2}
    assert job["error"] is None
    assert job["finished_at"] and ts(job["finished_at"]) >= ts(job["created_at"])
    # a read key may follow it too
    assert tenant_a.read.get(loc).json()["state"] == "done"


def test_failing_job_is_rescheduled_with_backoff(tenant_a):
    c = tenant_a.write
    loc, _ = start_flaky(c, 99)

    def failed_once():
        j = c.get(loc).json()
        return j if j["attempts"] >= 1 and j["state"] == "queued" else None

    first = wait_for(failed_once, 10, 0.1, "the first failed attempt")
    assert first["error"] and "on purpose" in first["error"], first
    assert first["max_attempts"] >= 2
    # the retry is scheduled for later, not immediately
    gap1 = (ts(first["run_at"]) - ts(first["started_at"])).total_seconds()
    assert gap1 >= 1.0, first

    def failed_twice():
        j = c.get(loc).json()
        return j if j["attempts"] >= 2 and j["state"] == "queued" else None

    second = wait_for(failed_twice, 10, 0.2, "the second failed attempt")
    assert ts(second["run_at"]) > ts(first["run_at"])
    gap2 = (ts(second["run_at"]) - ts(second["started_at"])).total_seconds()
    assert gap2 > gap1 * 0.9 and gap2 >= 2.5, (gap1, gap2)  # backoff grows
    # listed among the tenant's queued flaky jobs
    r = c.get("/v1/jobs", params={"state": "queued", "kind": "test.flaky", "limit": 200})
    assert second["id"] in {j["id"] for j in r.json()["items"]}


def test_job_request_validation(tenant_a):
    c = tenant_a.write
    assert_problem(c.post("/v1/test/jobs", json={"fail_times": "x"}), 422, "validation",
                   "fail_times")
    assert_problem(c.post("/v1/test/jobs", json={}), 422, "validation", "fail_times")
    assert_problem(tenant_a.read.post("/v1/test/jobs", json={"fail_times": 0}), 403, "forbidden")
    assert_problem(c.get("/v1/jobs", params={"state": "sleeping"}), 400, None, "state")
    assert_problem(c.get("/v1/jobs", params={"limit": 0}), 400, None, "limit")


def test_hook_runs_after_commit(tenant_a):
    c = tenant_a.write
    marker = uuid.uuid4().hex
    r = c.post("/v1/test/events", json={"marker": marker})
    assert r.status_code in (200, 202), r.text

    def noop_done():
        items = c.list_all("/v1/jobs", kind="test.noop")
        for j in items:
            p = (j.get("result") or {}).get("payload") or {}
            if j["state"] == "done" and (p.get("event_payload") or {}).get("marker") == marker:
                return j
        return None

    job = wait_for(noop_done, 15, 0.2, "the hook's test.noop job")
    assert job["kind"] == "test.noop"
    # a refused request announces nothing
    bad = c.post("/v1/test/events", data=b"{not json", headers={"Content-Type": "application/json"})
    assert_problem(bad, 400, "invalid-json")


def test_client_restricted_key_sees_only_its_clients_jobs(tenant_a):
    from helpers import Client
    restricted = Client(tenant_a.restricted_key)
    mine = restricted.post("/v1/test/jobs", json={"fail_times": 0})
    assert mine.status_code == 202, mine.text
    other = tenant_a.write.post("/v1/test/jobs", json={"fail_times": 0})
    assert other.status_code == 202, other.text
    mine_id, other_id = mine.json()["id"], other.json()["id"]
    # its own job: visible; a job of the whole tenant: not (it may concern any client)
    assert restricted.get("/v1/jobs/%d" % mine_id).status_code == 200
    assert_problem(restricted.get("/v1/jobs/%d" % other_id), 404, "not-found")
    listed = {j["id"] for j in restricted.get("/v1/jobs?limit=200&kind=test.flaky").json()["items"]}
    assert mine_id in listed and other_id not in listed
    # an unrestricted key sees both
    assert tenant_a.read.get("/v1/jobs/%d" % mine_id).status_code == 200
    assert tenant_a.read.get("/v1/jobs/%d" % other_id).status_code == 200


def test_job_list_pages(fresh_tenant):
    """GET /v1/jobs pages like every list, filtered or not, and a key
    restricted to a client pages through that client's jobs only."""
    c = fresh_tenant
    cid = c.create_client("jobs")["id"]
    restricted = Client(create_key(c.tenant_id, "write", client=cid))
    made = []
    for i in range(7):
        who = restricted if i % 3 == 1 else c
        r = who.post("/v1/test/jobs", json={"fail_times": 0})
        assert r.status_code == 202, r.text
        made.append((who, r.json()["id"]))
    ids = [j for _, j in made]
    # (states change while the runner works: the pages are compared by id)
    c.check_paging("/v1/jobs", ids, 2)
    c.check_paging("/v1/jobs", ids, 3, kind="test.flaky")
    mine = [j for who, j in made if who is restricted]
    assert len(mine) == 2
    restricted.check_paging("/v1/jobs", mine, 1)
    restricted.check_paging("/v1/jobs", mine, 1, kind="test.flaky")
    assert c.get("/v1/jobs", params={"kind": "test.noop"}).json() == {"items": [],
                                                                      "next_cursor": None}
