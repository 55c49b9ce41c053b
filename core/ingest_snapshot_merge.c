/*
 * The "followers.merge" job: turns a follower snapshot's intake rows
 * (realreach.snapshot_intake, written by the requests that took the list in)
 * into profiles and membership, then completes the snapshot.
 *
 *   1. lock the snapshot; anything but 'merging' means the work is done
 *      (a retried or repeated job changes nothing);
 *   2. copy its intake rows into the request-shaped staging table
 *      (pg_temp.rr_stage_profiles, row_no = position + 1), sorted by key and
 *      with known profiles' ids, so the profile merge of ingest_merge.c
 *      runs unchanged and fast: link '@handle' keys, flag duplicates (a
 *      profile listed twice keeps its first position), upsert the profiles
 *      field by field;
 *   3. write the membership in chunks of RR_INGEST_CHUNK positions (a slot
 *      whose row was refused or duplicated stays NULL, so every member keeps
 *      the position it had in the list as sent);
 *   4. mark the snapshot complete, empty its intake, emit "followers.stored".
 *
 * All in one transaction: the job's (a failure rolls everything back, the
 * intake rows stay, and the runner retries with backoff), or the request's
 * that took a small list in (RR_INLINE_MERGE_MAX).
 */
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TENANT "realreach.current_tenant()"
#define STAGE "pg_temp.rr_stage_profiles"
/* RR_PROFILE_STAGE_NAMES of the intake row i */
#define INTAKE_COLS                                                                                \
    "i.external_id, i.handle, i.name, i.bio, i.url, i.location, i.lang, i.platform_created_at,"    \
    " i.followers_count, i.following_count, i.posts_count, i.likes_count, i.listed_count,"         \
    " i.likes_kind, i.default_avatar, i.verified, i.protected, i.last_post_at, i.observed_at,"     \
    " i.followed_at, i.bare"
#define CHUNK RR_STR(RR_INGEST_CHUNK)

/* The sort by key of a million-follower snapshot fits in about 0.6 GB; in
 * memory it takes half the time of a sort spilled to disk (1M rows: staging
 * 3.4 s against 4.5 s at 256 MB). work_mem is a ceiling, not an allocation:
 * small snapshots use what they need. Set for the merge's transaction only. */
#define MERGE_WORK_MEM "768MB"

static const char SQL_LOCK[] =
    "SELECT s.state, s.account_id, a.platform, s.duplicates,"
    " (extract(epoch FROM s.observed_at) * 1000000)::bigint"
    "  FROM realreach.follower_snapshots s"
    "  JOIN realreach.accounts a ON a.tenant_id = s.tenant_id AND a.id = s.account_id"
    " WHERE s.tenant_id = " TENANT " AND s.id = $1 FOR UPDATE OF s";

/* In key order: the staging table's ids are drawn as rows arrive, so new
 * profiles then go into both of profiles' unique indexes in ascending order
 * (each insert lands next to the last one) instead of the platform's order
 * (a random place in the key index every time). Each key is looked up in
 * the profile directory as it is staged: a known profile's id comes with
 * it (existing), a new one draws the next id (after the sort: nextval() is
 * volatile, so PostgreSQL evaluates it on the sorted rows).
 *
 *
 * The keys are looked up by a hash join over the tenant's profiles on the
 * platform, with nested loops off for this statement: the planner's row
 * count for one tenant comes from statistics that lag behind a tenant whose
 * profiles just arrived, and on "about one profile" it once put the
 * tenant's profiles outside and scanned the whole intake for each, and at
 * another time probed them through the primary key with a filter (20-28 s
 * for a list of 6,000 in the demo data). A hash join is linear in the list
 * and the tenant's profiles whatever the estimates. */
static const char SQL_STAGE[] =
    "INSERT INTO " STAGE " (row_no, " RR_PROFILE_STAGE_NAMES ", profile_id, existing)"
    " SELECT i.position + 1, " INTAKE_COLS ","
    "        COALESCE(i.known, nextval('realreach.profiles_id_seq')), i.known IS NOT NULL"
    "   FROM (SELECT i.*, q.id AS known FROM realreach.snapshot_intake_rows i"
    "           LEFT JOIN realreach.profiles q ON q.tenant_id = " TENANT " AND q.platform = $2"
    "                AND q.external_id = i.external_id"
    "          WHERE i.snapshot_id = $1) i"
    "  ORDER BY i.external_id";
static const char SQL_NO_NESTLOOP[] = "SELECT set_config('enable_nestloop', 'off', true)";
static const char SQL_NESTLOOP[] = "SELECT set_config('enable_nestloop', 'on', true)";

/* '@handle' keys (they may link to known ids), follow times, and gaps (rows
 * refused with on_error=skip: positions nobody holds). */
static const char SQL_SHAPE[] =
    "SELECT count(*) FILTER (WHERE external_id >= '@' AND external_id < 'A'),"
    "       bool_or(followed_at IS NOT NULL), coalesce(max(row_no), 0) - count(*)"
    "  FROM " STAGE;

/* Holds the free slots open: every position up to the last gets a row, so
 * the chunks' arrays line up with positions. */
static const char SQL_FILL_GAPS[] =
    "INSERT INTO " STAGE " (row_no, external_id, bare, dup, profile_id)"
    " SELECT g, '', true, true, 0 FROM generate_series(1::bigint, (SELECT max(row_no) FROM " STAGE
    ")) g"
    "  WHERE NOT EXISTS (SELECT 1 FROM " STAGE " s WHERE s.row_no = g)";

#define SQL_MEMBERS_OF(followed_col, followed_agg)                                                 \
    "INSERT INTO realreach.snapshot_chunks (tenant_id, snapshot_id, part, chunk, first_position,"  \
    "   profile_ids" followed_col ")"                                                              \
    " SELECT " TENANT ", $1, 1, g, g * " CHUNK "::bigint,"                                         \
    "   array_agg(CASE WHEN NOT dup THEN profile_id END ORDER BY row_no)" followed_agg             \
    "   FROM (SELECT row_no, profile_id, followed_at, dup, (row_no - 1) / " CHUNK " AS g"          \
    "           FROM " STAGE ") s"                                                                 \
    "  GROUP BY g"                                                                                 \
    " RETURNING cardinality(array_remove(profile_ids, NULL))"
static const char SQL_MEMBERS[] = SQL_MEMBERS_OF("", "");
static const char SQL_MEMBERS_FOLLOWED[] =
    SQL_MEMBERS_OF(", followed_at", ", CASE WHEN bool_or(followed_at IS NOT NULL)"
                                    " THEN array_agg(CASE WHEN NOT dup THEN followed_at END"
                                    " ORDER BY row_no) END");

static const char SQL_DONE[] =
    "UPDATE realreach.follower_snapshots SET state = 'complete', completed_at = now(),"
    " updated_at = now(), duplicates = $2, followers = $3"
    " WHERE tenant_id = " TENANT " AND id = $1 RETURNING " RR_SNAPSHOT_COLS;

static int64_t cell_i64(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static json_t *skipped(int64_t snapshot_id, const char *why)
{
    return json_pack("{s:I,s:s}", "snapshot_id", (json_int_t)snapshot_id, "skipped", why);
}

/* Steps 2 and 3 on the locked snapshot; b carries the platform. */
static rr_rc_t merge_rows(rr_bulk_t *b, const char *sid, int64_t observed_us, int64_t dups_reported,
                          bool *recounted, int64_t *members, int64_t *created, int64_t *updated)
{
    rr_ctx_t *ctx = b->ctx;
    const char *p[1] = {sid};
    if (rr_bulk_exec(ctx, RR_STAGE_PROFILES_CREATE, 0, NULL) != RR_OK ||
        rr_bulk_exec(ctx, "SELECT set_config('work_mem', '" MERGE_WORK_MEM "', true)", 0, NULL) !=
            RR_OK)
        return RR_DB_ERROR;
    /* before the keys are looked up: a merge of the same new profiles that
     * commits meanwhile would otherwise make this one insert them again */
    if (rr_profiles_lock(b) != RR_OK)
        return RR_DB_ERROR;
    long long t0 = rr_now_ms();
    if (rr_bulk_exec(ctx, SQL_NO_NESTLOOP, 0, NULL) != RR_OK)
        return RR_DB_ERROR;
    PGresult *r = rr_db_query(ctx, SQL_STAGE, 2, (const char *const[]){sid, b->platform});
    if (!r)
        return RR_DB_ERROR;
    b->valid = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    if (rr_bulk_exec(ctx, SQL_NESTLOOP, 0, NULL) != RR_OK)
        return RR_DB_ERROR;
    long long t1 = rr_now_ms();
    if (b->valid == 0)
        return RR_OK;
    if (!(r = rr_db_query(ctx, SQL_SHAPE, 0, NULL)))
        return RR_DB_ERROR;
    b->handle_keyed = cell_i64(r, 0, 0);
    b->any_followed = PQgetvalue(r, 0, 1)[0] == 't';
    bool gaps = cell_i64(r, 0, 2) > 0;
    PQclear(r);
    rr_rc_t rc;
    /* a temporary table has no statistics unless asked: without them the
     * joins that follow (profiles by id, '@handle' links) guess its size */
    if (rr_bulk_exec(ctx, "ANALYZE " STAGE, 0, NULL) != RR_OK)
        return RR_DB_ERROR;
    if ((rc = rr_profiles_link(b)) != RR_OK)
        return rc;
    /* the requests checked every key; only linking can add a duplicate */
    if (dups_reported > 0 || b->linked > 0) {
        *recounted = true;
        if ((rc = rr_profiles_dups(b)) != RR_OK)
            return rc;
    }
    long long t2 = rr_now_ms();
    if ((rc = rr_profiles_upsert(b, observed_us, created, updated)) != RR_OK)
        return rc;
    long long t3 = rr_now_ms();
    if (gaps && rr_bulk_exec(ctx, SQL_FILL_GAPS, 0, NULL) != RR_OK)
        return RR_DB_ERROR;
    if (!(r = rr_db_query(ctx, b->any_followed ? SQL_MEMBERS_FOLLOWED : SQL_MEMBERS, 1, p)))
        return RR_DB_ERROR;
    for (int i = 0; i < PQntuples(r); i++)
        *members += cell_i64(r, i, 0);
    PQclear(r);
    rr_log(RR_LOG_DEBUG,
           "followers.merge: %lld rows, stage %lld ms, link+dups %lld ms, upsert %lld ms, "
           "members %lld ms",
           (long long)b->valid, t1 - t0, t2 - t1, t3 - t2, rr_now_ms() - t3);
    return RR_OK;
}

rr_rc_t rr_snapshot_merge(rr_ctx_t *ctx, int64_t snapshot_id, json_t **result, PGresult **snapshot)
{
    if (snapshot)
        *snapshot = NULL;
    const char *sid = rr_i64(ctx, snapshot_id);
    long long t0 = rr_now_ms();
    PGresult *r = rr_db_query(ctx, SQL_LOCK, 1, (const char *const[]){sid});
    if (!r)
        return RR_DB_ERROR;
    if (PQntuples(r) == 0 || strcmp(PQgetvalue(r, 0, 0), "merging")) {
        bool gone = PQntuples(r) == 0;
        PQclear(r);
        *result = skipped(snapshot_id, gone ? "the snapshot was deleted" : "already merged");
        return *result ? RR_OK : RR_ERROR;
    }
    rr_bulk_t b;
    memset(&b, 0, sizeof b);
    b.ctx = ctx;
    b.staged_resolved = true; /* SQL_STAGE looks every key up */
    b.platform = rr_arena_strdup(ctx->arena, PQgetvalue(r, 0, 2));
    b.account_id = cell_i64(r, 0, 1);
    int64_t dups_reported = cell_i64(r, 0, 3);
    int64_t observed_us = cell_i64(r, 0, 4);
    PQclear(r);
    b.errors = json_array();
    b.dups = json_array();
    if (!b.errors || !b.dups || !b.platform) {
        rr_bulk_cleanup(&b);
        return RR_ERROR;
    }

    int64_t members = 0, created = 0, updated = 0;
    bool recounted = false;
    rr_rc_t rc =
        merge_rows(&b, sid, observed_us, dups_reported, &recounted, &members, &created, &updated);
    long long t1 = rr_now_ms();
    /* when the merge flagged duplicates it counted all of them again (those
     * the requests reported and any that linking '@handle' keys revealed) */
    int64_t duplicates = recounted ? b.duplicates : dups_reported;
    r = NULL;
    if (rc == RR_OK) {
        const char *q[3] = {sid, rr_i64(ctx, duplicates), rr_i64(ctx, members)};
        if (!(r = rr_db_query(ctx, SQL_DONE, 3, q)))
            rc = RR_DB_ERROR;
    }
    if (rc == RR_OK && rr_bulk_exec(ctx, "SELECT realreach.snapshot_intake_clear($1)", 1,
                                    (const char *const[]){sid}) != RR_OK)
        rc = RR_DB_ERROR;
    if (rc == RR_OK) {
        json_t *ev =
            json_pack("{s:I,s:I,s:I,s:s}", "account_id",
                      (json_int_t)cell_i64(r, 0, PQfnumber(r, "account_id")), "snapshot_id",
                      (json_int_t)snapshot_id, "followers", (json_int_t)members, "observed_at",
                      PQgetvalue(r, 0, PQfnumber(r, "observed_at")));
        rc = ev ? rr_event_emit(ctx, "followers.stored", ev) : RR_ERROR;
        json_decref(ev);
    }
    if (rc == RR_OK && snapshot) {
        *snapshot = r; /* the caller's now */
        r = NULL;
    }
    PQclear(r);
    if (rc == RR_OK) {
        *result =
            json_pack("{s:I,s:I,s:I,s:{s:I,s:I},s:I,s:I}", "snapshot_id", (json_int_t)snapshot_id,
                      "followers", (json_int_t)members, "duplicates", (json_int_t)duplicates,
                      "profiles", "created", (json_int_t)created, "updated", (json_int_t)updated,
                      "rows", (json_int_t)b.valid, "ms", (json_int_t)(rr_now_ms() - t0));
        if (!*result)
            rc = RR_ERROR;
    }
    if (rc != RR_OK && snapshot && *snapshot) {
        PQclear(*snapshot);
        *snapshot = NULL;
    }
    rr_log(RR_LOG_DEBUG, "followers.merge: snapshot %lld, %lld rows, merge %lld ms, total %lld ms",
           (long long)snapshot_id, (long long)b.valid, t1 - t0, rr_now_ms() - t0);
    rr_bulk_cleanup(&b);
    return rc;
}

static rr_rc_t merge_job(rr_ctx_t *ctx, json_t *payload, json_t **result, void *ud)
{
    (void)ud;
    json_t *jid = json_object_get(payload, "snapshot_id");
    if (!json_is_integer(jid) || json_integer_value(jid) <= 0)
        return rr_problem(ctx, 422, "invalid-payload", "snapshot_id", "must be a snapshot id");
    return rr_snapshot_merge(ctx, json_integer_value(jid), result, NULL);
}

void rr_snapshot_merge_register(void)
{
    rr_job_kind_register(RR_SNAPSHOT_MERGE_KIND, merge_job, NULL, "core");
}
