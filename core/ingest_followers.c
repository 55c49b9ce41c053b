/*
 * Follower snapshots: one complete follower list of an account as observed
 * at a time, in the platform's order (newest first).
 *
 *   POST /v1/accounts/{account_id}/followers            the whole list in one body
 *   POST /v1/accounts/{account_id}/snapshots            open one for parts
 *   POST /v1/accounts/{account_id}/snapshots/{id}/parts?part=N   append part N (1, 2, ...)
 *   POST /v1/accounts/{account_id}/snapshots/{id}/complete       make it visible
 *   GET  /v1/accounts/{account_id}/snapshots[/{id}[/followers]]
 *
 * A list too large for one request (platform APIs hand it out in pages) is
 * sent in parts; each part is one all-or-nothing request of its own. A part
 * sent again with its Idempotency-Key is answered from the record; a part
 * out of order is a 409. An open snapshot left alone for 24 hours expires
 * (its state reads "expired"; its rows are purged when the account's next
 * one is opened).
 *
 * Taking in and merging are two steps. A request validates its rows and
 * streams them with one binary COPY into realreach.snapshot_intake (rows per
 * second near a bare COPY's) and reports duplicates. Once the list is whole
 * (the one-shot POST, or complete) it is merged (ingest_snapshot_merge.c:
 * profiles upserted, membership stored, the snapshot complete, analyses see
 * it, "followers.stored" emitted): by the same request up to
 * RR_INLINE_MERGE_MAX rows (201/200), else by a "followers.merge" job, the
 * snapshot reading 'merging' meanwhile (202). A FastCGI worker is not held
 * for a long list's merge.
 *
 * Duplicates: a profile listed twice in one body is reported and stored at
 * its first position; across parts the same is done when completing.
 */
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TENANT "realreach.current_tenant()"
#define CHUNK RR_STR(RR_INGEST_CHUNK)

/* One snapshot of the account ($1 account, $2 snapshot). */
static const char SQL_SNAPSHOT[] = "SELECT " RR_SNAPSHOT_COLS " FROM realreach.follower_snapshots"
                                   " WHERE tenant_id = " TENANT " AND account_id = $1 AND id = $2";

/* Every row of a part goes straight into realreach.snapshot_intake (one
 * binary COPY, no staging): see sql/013_snapshot_intake.sql. */
#define SQL_INTAKE_COPY                                                                            \
    "COPY realreach.snapshot_intake (tenant_id, snapshot_id, part, "                               \
    "position, " RR_PROFILE_STAGE_NAMES ") FROM STDIN"

/* Rows of part $2 naming a key an earlier row of the part named ($3: the
 * candidate keys, NULL for all): (row, first_row, key, total), rows counted
 * from 1 in the request ($4: the part's first position). */
static const char SQL_PART_DUPS[] =
    "WITH r AS (SELECT position, external_id FROM realreach.snapshot_intake_rows"
    "            WHERE snapshot_id = $1 AND part = $2 AND ($3::text[] IS NULL OR external_id = ANY "
    "($3::text[]))),"
    " d AS (SELECT external_id, min(position) AS first FROM r"
    "        GROUP BY external_id HAVING count(*) > 1)"
    " SELECT r.position - $4 + 1, d.first - $4 + 1, r.external_id, count(*) OVER ()"
    "   FROM r JOIN d USING (external_id) WHERE r.position > d.first"
    "  ORDER BY r.position LIMIT 20";

/* On completing a snapshot sent in parts: rows naming a key an earlier part
 * named, not counted yet (the first row of their key in their own part):
 * (position, first_position, key, total). */
static const char SQL_CROSS_PART_DUPS[] =
    "WITH r AS (SELECT part, position, external_id,"
    "                  min(position) OVER (PARTITION BY external_id) AS first,"
    "                  min(position) OVER (PARTITION BY external_id, part) AS first_in_part"
    "             FROM realreach.snapshot_intake_rows WHERE snapshot_id = $1)"
    " SELECT position, first, external_id, count(*) OVER () FROM r"
    "  WHERE position = first_in_part AND position > first"
    "  ORDER BY position LIMIT 20";

static const char SQL_OPEN[] =
    "INSERT INTO realreach.follower_snapshots (tenant_id, account_id, observed_at)"
    " VALUES (" TENANT ", $1, $2::timestamptz) RETURNING id";

static const char SQL_PURGE_EXPIRED[] =
    "DELETE FROM realreach.follower_snapshots WHERE tenant_id = " TENANT " AND account_id = $1"
    " AND state = 'open' AND expires_at <= now()";

static const char SQL_LOCK_SNAPSHOT[] =
    "SELECT state, expires_at <= now(), parts, next_position,"
    " (extract(epoch FROM observed_at) * 1000000)::bigint,"
    " realreach.snapshot_state(state, expires_at, merge_job_id) = 'failed',"
    " followers + duplicates"
    "  FROM realreach.follower_snapshots"
    " WHERE tenant_id = " TENANT " AND account_id = $1 AND id = $2 FOR UPDATE";

static const char SQL_PART_DONE[] =
    "UPDATE realreach.follower_snapshots SET parts = $2, received = received + $3,"
    " rejected = rejected + $4, duplicates = duplicates + $5, followers = followers + $6,"
    " next_position = next_position + $3, expires_at = now() + interval '24 hours',"
    " updated_at = now()"
    " WHERE tenant_id = " TENANT " AND id = $1 RETURNING " RR_SNAPSHOT_COLS;

static const char SQL_ONE_SHOT_DONE[] =
    "UPDATE realreach.follower_snapshots SET state = 'merging', parts = 1, received = $2,"
    " rejected = $3, duplicates = $4, followers = $5, next_position = $2,"
    " observed_at = $6::timestamptz, merge_job_id = $7, updated_at = now()"
    " WHERE tenant_id = " TENANT " AND id = $1 RETURNING " RR_SNAPSHOT_COLS;

static const char SQL_MERGE_AGAIN[] =
    "UPDATE realreach.follower_snapshots SET merge_job_id = $2, updated_at = now()"
    " WHERE tenant_id = " TENANT " AND id = $1 RETURNING " RR_SNAPSHOT_COLS;

static const char SQL_COMPLETE[] =
    "UPDATE realreach.follower_snapshots SET state = 'merging', merge_job_id = $3,"
    " updated_at = now(), duplicates = duplicates + $2, followers = followers - $2"
    " WHERE tenant_id = " TENANT " AND id = $1 RETURNING " RR_SNAPSHOT_COLS;

/* ------------------------------------------------------------- one part */

typedef struct part_target {
    rr_profile_row_t row;
    int64_t tenant_id, snapshot_id, base; /* base: the part's first position */
    int32_t part;
} part_target_t;

static bool follower_row(rr_bulk_t *b, const rr_source_t *src, int64_t row, void *ud)
{
    part_target_t *t = ud;
    rr_profile_row_t *pr = &t->row;
    const char *field = NULL, *why = NULL;
    if (!rr_profile_normalise(src, b->platform, pr, &field, &why))
        return rr_bulk_error(b, row, field ? field : "id", "%s", why ? why : "is invalid");
    rr_copy_int(&b->copy, t->tenant_id);
    rr_copy_int(&b->copy, t->snapshot_id);
    rr_copy_int4(&b->copy, t->part);
    rr_copy_int(&b->copy, t->base + row - 1);
    rr_profile_copy(&b->copy, pr);
    rr_copy_row_end(&b->copy);
    if (b->use_keys)
        rr_keyset_add(&b->keys, pr->external_id, pr->external_id_len);
    if (pr->has_observed && (!b->any_observed || pr->observed_at > b->max_observed)) {
        b->any_observed = true;
        b->max_observed = pr->observed_at;
    }
    return true;
}

/* Streams the body into the snapshot's intake as part `part` from position
 * base on, and reports the rows naming a key the part named before. RR_OK
 * with b's counts, or a problem (422 when the request is refused). */
static rr_rc_t take_in_part(rr_bulk_t *b, int64_t snapshot_id, int part, int64_t base)
{
    part_target_t *t = calloc(1, sizeof *t);
    if (!t)
        return RR_ERROR;
    t->tenant_id = b->ctx->tenant_id;
    t->snapshot_id = snapshot_id;
    t->part = part;
    t->base = base;
    b->use_keys = rr_keyset_init(&b->keys, b->ctx->body_left);
    rr_rc_t rc = rr_bulk_stream_flat(b, NULL, SQL_INTAKE_COPY, follower_row, t);
    free(t);
    if (rc != RR_OK)
        return rc;
    if (rr_bulk_refused(b))
        return RR_INVALID;
    /* the key filter saw every key: only the ones it saw twice can repeat */
    if (b->valid == 0 || (b->use_keys && !b->keys.overflow && b->keys.ncand == 0))
        return RR_OK;
    rr_ctx_t *ctx = b->ctx;
    const char *p[4] = {rr_i64(ctx, snapshot_id), rr_i64(ctx, part),
                        b->use_keys && !b->keys.overflow ? rr_keyset_candidates(&b->keys) : NULL,
                        rr_i64(ctx, base)};
    return rr_bulk_sql_dups(b, SQL_PART_DUPS, 4, p);
}

static json_t *part_answer(rr_bulk_t *b, PGresult *snap)
{
    json_t *body = rr_bulk_counts(b, b->valid - b->duplicates);
    json_object_set_new(body, "snapshot", rr_row_json(snap, 0));
    return body;
}

static void set_location(rr_ctx_t *ctx, const rr_account_ref_t *acct, const char *snapshot_id)
{
    char loc[96];
    snprintf(loc, sizeof loc, "/v1/accounts/%s/snapshots/%s", acct->id_text, snapshot_id);
    rr_header_set(ctx, "Location", loc);
}

/* Queues the snapshot's merge into the profile directory; its job id. */
static rr_rc_t queue_merge(rr_ctx_t *ctx, const rr_account_ref_t *acct, int64_t snapshot_id,
                           int64_t *job_id)
{
    json_t *payload = json_pack("{s:I,s:I}", "snapshot_id", (json_int_t)snapshot_id, "account_id",
                                (json_int_t)acct->id);
    if (!payload)
        return RR_ERROR;
    rr_rc_t rc = rr_job_enqueue(ctx, RR_SNAPSHOT_MERGE_KIND, payload, job_id);
    json_decref(payload);
    return rc;
}

/* ------------------------------------------------------------- one shot */

static rr_rc_t followers_post(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    rr_account_ref_t acct;
    rr_rc_t rc = rr_account_load(ctx, &acct);
    if (rc != RR_OK)
        return rc;
    rr_bulk_t b;
    if ((rc = rr_bulk_init(&b, ctx, &acct)) != RR_OK)
        return rc;
    bool given = false;
    int64_t observed = 0;
    if ((rc = rr_query_time(ctx, "observed_at", &given, &observed)) != RR_OK) {
        rr_bulk_cleanup(&b);
        return rc;
    }
    if (!given)
        observed = b.now_us;
    char t[32];
    rr_time_format(observed, t);
    const char *p[2] = {acct.id_text, t};
    PGresult *r = rr_db_query(ctx, SQL_OPEN, 2, p);
    if (!r) {
        rr_bulk_cleanup(&b);
        return RR_DB_ERROR;
    }
    int64_t snapshot_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    long long ts = rr_now_ms();
    rc = take_in_part(&b, snapshot_id, 1, 0);
    rr_log(RR_LOG_DEBUG, "followers: took in %lld rows in %lld ms", (long long)b.received,
           rr_now_ms() - ts);
    bool now = b.valid <= RR_INLINE_MERGE_MAX;
    int64_t job_id = 0;
    if (rc == RR_OK && !now)
        rc = queue_merge(ctx, &acct, snapshot_id, &job_id);
    if (rc != RR_OK) {
        rr_bulk_cleanup(&b);
        return rc;
    }
    /* without ?observed_at= the rows' own observation times say when the
     * list was seen (the research CSV's `updated`), else now */
    if (!given && b.any_observed)
        observed = b.max_observed;
    rr_time_format(observed, t);
    const char *q[7] = {rr_i64(ctx, snapshot_id),
                        rr_i64(ctx, b.received),
                        rr_i64(ctx, b.rejected),
                        rr_i64(ctx, b.duplicates),
                        rr_i64(ctx, b.valid - b.duplicates),
                        t,
                        now ? NULL : rr_i64(ctx, job_id)};
    r = rr_db_query(ctx, SQL_ONE_SHOT_DONE, 7, q);
    json_t *merged = NULL;
    if (r && now) {
        PQclear(r);
        if ((rc = rr_snapshot_merge(ctx, snapshot_id, &merged, &r)) != RR_OK) {
            rr_bulk_cleanup(&b);
            return rc;
        }
    }
    if (!r) {
        rr_bulk_cleanup(&b);
        return RR_DB_ERROR;
    }
    json_t *body = part_answer(&b, r);
    if (merged)
        json_object_set_new(body, "merge", merged);
    PQclear(r);
    rr_bulk_cleanup(&b);
    set_location(ctx, &acct, q[0]);
    return rr_respond_json(ctx, now ? 201 : 202, body);
}

/* ------------------------------------------------------------ lifecycle */

static const rr_field_t open_fields[] = {
    {"observed_at", RR_FT_TIME, RR_F_NULLABLE, 0, NULL},
};

static rr_rc_t snapshots_open(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    rr_account_ref_t acct;
    rr_rc_t rc = rr_account_load(ctx, &acct);
    if (rc != RR_OK)
        return rc;
    const char *observed = NULL;
    if (ctx->body_len > 0) {
        json_t *body = rr_req_json(ctx);
        if (!body || rr_json_check(ctx, body, open_fields, 1) != RR_OK)
            return RR_INVALID;
        observed = json_string_value(json_object_get(body, "observed_at"));
    }
    char now[32];
    if (!observed) {
        rr_time_format(rr_time_now_us(), now);
        observed = now;
    }
    const char *p[2] = {acct.id_text, observed};
    if (rr_bulk_exec(ctx, SQL_PURGE_EXPIRED, 1, p) != RR_OK)
        return RR_DB_ERROR;
    PGresult *r = rr_db_query(ctx, SQL_OPEN, 2, p);
    if (!r)
        return RR_DB_ERROR;
    const char *q[2] = {acct.id_text, rr_arena_strdup(ctx->arena, PQgetvalue(r, 0, 0))};
    PQclear(r);
    r = rr_db_query(ctx, SQL_SNAPSHOT, 2, q);
    if (!r)
        return RR_DB_ERROR;
    json_t *snap = rr_row_json(r, 0);
    PQclear(r);
    set_location(ctx, &acct, q[1]);
    return rr_respond_json(ctx, 201, snap);
}

static rr_rc_t snapshots_list(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    rr_account_ref_t acct;
    rr_page_t page;
    rr_rc_t rc = rr_account_load(ctx, &acct);
    if (rc != RR_OK)
        return rc;
    if (rr_page_begin(ctx, &page) != RR_OK)
        return RR_INVALID;
    static const char *const states[] = {"open", "merging", "complete", "expired", "failed", NULL};
    const char *state;
    if (rr_query_one_of(ctx, "state", states, &state) != RR_OK)
        return RR_INVALID;
    const char *p[4] = {acct.id_text, rr_i64(ctx, page.after_id), rr_i64(ctx, page.limit + 1),
                        state};
    PGresult *r = rr_db_query(
        ctx,
        "SELECT " RR_SNAPSHOT_COLS " FROM realreach.follower_snapshots"
        " WHERE tenant_id = " TENANT " AND account_id = $1 AND id > $2"
        " AND ($4::text IS NULL OR realreach.snapshot_state(state, expires_at, merge_job_id) = $4)"
        " ORDER BY id LIMIT $3",
        4, p);
    if (!r)
        return RR_DB_ERROR;
    return rr_page_respond_rows(ctx, &page, r);
}

/* Loads {snapshot_id} of the account: 404 when absent. */
static rr_rc_t snapshot_param(rr_ctx_t *ctx, int64_t *id)
{
    return rr_host_api.param_id(ctx, "snapshot_id", id);
}

static rr_rc_t snapshots_get(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    rr_account_ref_t acct;
    int64_t sid;
    rr_rc_t rc = rr_account_load(ctx, &acct);
    if (rc != RR_OK)
        return rc;
    if (snapshot_param(ctx, &sid) != RR_OK)
        return RR_INVALID;
    const char *p[2] = {acct.id_text, rr_i64(ctx, sid)};
    PGresult *r = rr_db_query(ctx, SQL_SNAPSHOT, 2, p);
    if (!r)
        return RR_DB_ERROR;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return rr_problem(ctx, 404, "not-found", "snapshot_id", "no such snapshot");
    }
    json_t *snap = rr_row_json(r, 0);
    PQclear(r);
    return rr_respond_json(ctx, 200, snap);
}

typedef struct snap_lock {
    char state[16];
    bool expired;
    int parts;
    int64_t next_position;
    int64_t observed_us;
    bool merge_failed; /* merging, and its merge job failed for good */
    int64_t rows;      /* rows taken in, over all parts */
} snap_lock_t;

/* Locks the snapshot row (parts of one snapshot are applied one at a time). */
static rr_rc_t lock_snapshot(rr_ctx_t *ctx, const rr_account_ref_t *acct, int64_t sid,
                             snap_lock_t *s)
{
    const char *p[2] = {acct->id_text, rr_i64(ctx, sid)};
    PGresult *r = rr_db_query(ctx, SQL_LOCK_SNAPSHOT, 2, p);
    if (!r)
        return RR_DB_ERROR;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return rr_problem(ctx, 404, "not-found", "snapshot_id", "no such snapshot");
    }
    snprintf(s->state, sizeof s->state, "%s", PQgetvalue(r, 0, 0));
    s->expired = PQgetvalue(r, 0, 1)[0] == 't';
    s->parts = atoi(PQgetvalue(r, 0, 2));
    s->next_position = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
    s->observed_us = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
    s->merge_failed = PQgetvalue(r, 0, 5)[0] == 't';
    s->rows = strtoll(PQgetvalue(r, 0, 6), NULL, 10);
    PQclear(r);
    if (!strcmp(s->state, "open") && s->expired)
        return rr_problem(ctx, 409, "snapshot-expired", NULL,
                          "this snapshot expired (no part for 24 hours); open a new one");
    return RR_OK;
}

static rr_rc_t parts_post(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    rr_account_ref_t acct;
    int64_t sid;
    rr_rc_t rc = rr_account_load(ctx, &acct);
    if (rc != RR_OK)
        return rc;
    if (snapshot_param(ctx, &sid) != RR_OK)
        return RR_INVALID;
    snap_lock_t s;
    if ((rc = lock_snapshot(ctx, &acct, sid, &s)) != RR_OK)
        return rc;
    if (strcmp(s.state, "open"))
        return rr_problem(ctx, 409, "snapshot-complete", NULL,
                          "this snapshot is complete; open a new one for another list");
    const char *pv = rr_ctx_query(ctx, "part");
    char *end = NULL;
    long part = pv ? strtol(pv, &end, 10) : 0;
    if (!pv || !*pv || *end || part < 1 || part > 1000000)
        return rr_problem(ctx, 400, "invalid-parameter", "part",
                          "part (1, 2, ... in the order the platform gave them) is required");
    if (part != s.parts + 1)
        return rr_problem(ctx, 409, "part-out-of-order", "part",
                          part <= s.parts ? "part %ld is already stored (send each part once; "
                                            "a retry with its Idempotency-Key is answered again)"
                                          : "part %ld is out of order: part %d comes next",
                          part, s.parts + 1);
    rr_bulk_t b;
    if ((rc = rr_bulk_init(&b, ctx, &acct)) != RR_OK)
        return rc;
    rc = take_in_part(&b, sid, (int)part, s.next_position);
    if (rc != RR_OK) {
        rr_bulk_cleanup(&b);
        return rc;
    }
    const char *q[6] = {rr_i64(ctx, sid),          rr_i64(ctx, part),
                        rr_i64(ctx, b.received),   rr_i64(ctx, b.rejected),
                        rr_i64(ctx, b.duplicates), rr_i64(ctx, b.valid - b.duplicates)};
    PGresult *r = rr_db_query(ctx, SQL_PART_DONE, 6, q);
    if (!r) {
        rr_bulk_cleanup(&b);
        return RR_DB_ERROR;
    }
    json_t *body = part_answer(&b, r);
    json_object_set_new(body, "part", json_integer(part));
    PQclear(r);
    rr_bulk_cleanup(&b);
    return rr_respond_json(ctx, 201, body);
}

/* The answer of a complete that found no new duplicate: the snapshot row r
 * (NULL: the query failed). */
static rr_rc_t complete_answer(rr_ctx_t *ctx, int status, PGresult *r)
{
    if (!r)
        return RR_DB_ERROR;
    json_t *body = json_pack("{s:o,s:I,s:[]}", "snapshot", rr_row_json(r, 0), "duplicates",
                             (json_int_t)0, "duplicate_positions");
    PQclear(r);
    return rr_respond_json(ctx, status, body);
}

static rr_rc_t complete_post(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    rr_account_ref_t acct;
    int64_t sid;
    rr_rc_t rc = rr_account_load(ctx, &acct);
    if (rc != RR_OK)
        return rc;
    if (snapshot_param(ctx, &sid) != RR_OK)
        return RR_INVALID;
    snap_lock_t s;
    if ((rc = lock_snapshot(ctx, &acct, sid, &s)) != RR_OK)
        return rc;
    const char *sid_text = rr_i64(ctx, sid);
    if (s.merge_failed) {
        /* the rows are still in the intake: merge them again */
        int64_t job_id = 0;
        if ((rc = queue_merge(ctx, &acct, sid, &job_id)) != RR_OK)
            return rc;
        const char *q[2] = {sid_text, rr_i64(ctx, job_id)};
        return complete_answer(ctx, 202, rr_db_query(ctx, SQL_MERGE_AGAIN, 2, q));
    }
    if (strcmp(s.state, "open")) {
        /* completed before: the snapshot as it is (merging or complete) */
        const char *q[2] = {acct.id_text, sid_text};
        return complete_answer(ctx, 200, rr_db_query(ctx, SQL_SNAPSHOT, 2, q));
    }
    json_t *dups = json_array();
    int64_t ndup = 0;
    if (s.parts > 1) {
        const char *p[1] = {sid_text};
        PGresult *r = rr_db_query(ctx, SQL_CROSS_PART_DUPS, 1, p);
        if (!r) {
            json_decref(dups);
            return RR_DB_ERROR;
        }
        for (int i = 0; i < PQntuples(r); i++) {
            ndup = strtoll(PQgetvalue(r, i, 3), NULL, 10);
            json_array_append_new(dups,
                                  json_pack("{s:I,s:I,s:s}", "position",
                                            (json_int_t)strtoll(PQgetvalue(r, i, 0), NULL, 10),
                                            "first_position",
                                            (json_int_t)strtoll(PQgetvalue(r, i, 1), NULL, 10),
                                            "key", PQgetvalue(r, i, 2)));
        }
        PQclear(r);
    }
    bool now = s.rows <= RR_INLINE_MERGE_MAX;
    int64_t job_id = 0;
    if (!now && (rc = queue_merge(ctx, &acct, sid, &job_id)) != RR_OK) {
        json_decref(dups);
        return rc;
    }
    const char *p[3] = {sid_text, rr_i64(ctx, ndup), now ? NULL : rr_i64(ctx, job_id)};
    PGresult *r = rr_db_query(ctx, SQL_COMPLETE, 3, p);
    json_t *merged = NULL;
    if (r && now) {
        PQclear(r);
        if ((rc = rr_snapshot_merge(ctx, sid, &merged, &r)) != RR_OK) {
            json_decref(dups);
            return rc;
        }
    }
    if (!r) {
        json_decref(dups);
        return RR_DB_ERROR;
    }
    json_t *body = json_pack("{s:o,s:I,s:o}", "snapshot", rr_row_json(r, 0), "duplicates",
                             (json_int_t)ndup, "duplicate_positions", dups);
    if (merged)
        json_object_set_new(body, "merge", merged);
    PQclear(r);
    return rr_respond_json(ctx, now ? 200 : 202, body);
}

/* ------------------------------------------------------------- members */

static const char SQL_MEMBERS_PAGE[] = "SELECT m.position, " RR_PROFILE_JSON_COLS(
    "p") ", realreach.iso(m.followed_at) AS followed_at"
         "  FROM (SELECT c.first_position + u.ord - 1 AS position, u.pid, u.fat AS followed_at"
         "          FROM (SELECT first_position, profile_ids, followed_at FROM "
         "realreach.snapshot_chunks"
         "                 WHERE tenant_id = " TENANT " AND snapshot_id = $1"
         "                   AND first_position > $2::bigint - " CHUNK
         "                 ORDER BY part, chunk LIMIT 3) c"
         "         CROSS JOIN LATERAL unnest(c.profile_ids, c.followed_at) WITH ORDINALITY AS u "
         "(pid, fat, ord)"
         "         WHERE u.pid IS NOT NULL AND c.first_position + u.ord - 1 >= $2) m"
         "  JOIN realreach.profiles p ON p.tenant_id = " TENANT " AND p.id = m.pid"
         " ORDER BY m.position LIMIT $3";

/* Is a member (not a free slot) left after position $2? */
static const char SQL_MEMBERS_MORE[] =
    "SELECT EXISTS (SELECT 1 FROM realreach.snapshot_chunks c"
    "  CROSS JOIN LATERAL unnest(c.profile_ids) WITH ORDINALITY AS u (pid, ord)"
    " WHERE c.tenant_id = " TENANT " AND c.snapshot_id = $1"
    "   AND c.first_position + cardinality(c.profile_ids) - 1 > $2"
    "   AND u.pid IS NOT NULL AND c.first_position + u.ord - 1 > $2)";

static rr_rc_t members_list(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    rr_account_ref_t acct;
    int64_t sid;
    rr_page_t page;
    rr_rc_t rc = rr_account_load(ctx, &acct);
    if (rc != RR_OK)
        return rc;
    if (snapshot_param(ctx, &sid) != RR_OK || rr_page_begin(ctx, &page) != RR_OK)
        return RR_INVALID;
    const char *p[3] = {acct.id_text, rr_i64(ctx, sid), NULL};
    PGresult *r = rr_db_query(ctx,
                              "SELECT realreach.snapshot_state(state, expires_at, merge_job_id)"
                              "  FROM realreach.follower_snapshots"
                              " WHERE tenant_id = " TENANT " AND account_id = $1 AND id = $2",
                              2, p);
    if (!r)
        return RR_DB_ERROR;
    int n = PQntuples(r);
    const char *state = n ? rr_arena_strdup(ctx->arena, PQgetvalue(r, 0, 0)) : "";
    PQclear(r);
    if (n == 0)
        return rr_problem(ctx, 404, "not-found", "snapshot_id", "no such snapshot");
    /* members are listed with their profiles: known once the merge is done */
    if (strcmp(state, "complete"))
        return rr_problem(
            ctx, 409, "snapshot-incomplete", "snapshot_id",
            "snapshot %lld is %s: its followers are listed once it is complete%s", (long long)sid,
            state, strcmp(state, "merging") ? "" : " (its merge job is running; retry shortly)");
    /* the cursor holds the next position + 1 (a cursor is never 0) */
    int64_t from = page.after_id > 0 ? page.after_id - 1 : 0;
    const char *q[3] = {p[1], rr_i64(ctx, from), rr_i64(ctx, page.limit + 1)};
    r = rr_db_query(ctx, SQL_MEMBERS_PAGE, 3, q);
    if (!r)
        return RR_DB_ERROR;
    int rows = PQntuples(r);
    bool more = rows > page.limit;
    if (more)
        rows = page.limit;
    json_t *items = json_array();
    int64_t last = -1;
    for (int i = 0; i < rows; i++) {
        json_array_append_new(items, rr_row_json(r, i));
        last = strtoll(PQgetvalue(r, i, 0), NULL, 10);
    }
    PQclear(r);
    if (!more && last >= 0) {
        const char *m[2] = {p[1], rr_i64(ctx, last)};
        r = rr_db_query(ctx, SQL_MEMBERS_MORE, 2, m);
        if (!r) {
            json_decref(items);
            return RR_DB_ERROR;
        }
        more = PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
    }
    return rr_page_respond(ctx, &page, items, more && last >= 0 ? last + 2 : 0);
}

/* -------------------------------------------------------------- routes */

#define SNAPSHOT_SCHEMA                                                                            \
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},"                          \
    "\"account_id\":{\"type\":\"integer\"},\"observed_at\":{\"type\":\"string\",\"format\":"       \
    "\"date-time\"},"                                                                              \
    "\"state\":{\"enum\":[\"open\",\"merging\",\"complete\",\"expired\",\"failed\"]},\"parts\":{"  \
    "\"type\":\"integer\"},"                                                                       \
    "\"received\":{\"type\":\"integer\"},\"rejected\":{\"type\":\"integer\"},"                     \
    "\"duplicates\":{\"type\":\"integer\"},\"followers\":{\"type\":\"integer\"},"                  \
    "\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                               \
    "\"completed_at\":{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"},"                  \
    "\"expires_at\":{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"},"                    \
    "\"merge_job_id\":{\"type\":[\"integer\",\"null\"],\"description\":\"the job merging the "     \
    "followers into the profile directory (state merging until it is done)\"}}}"
#define FOLLOWERS_ANSWER                                                                           \
    "{\"type\":\"object\",\"properties\":{" RR_INGEST_COUNTS_PROPS                                 \
    ",\"snapshot\":" SNAPSHOT_SCHEMA ",\"part\":{\"type\":\"integer\"}}}"
#define PROFILE_LIST_BODY                                                                          \
    "{\"type\":\"array\",\"description\":\"Follower profiles in the platform's order: a JSON "     \
    "array or API answer (X v1.1 users, X v2 users, X archive follower.js, Instagram profiles or " \
    "followers_N.json, TikTok users), NDJSON (application/x-ndjson), CSV with a header "           \
    "(text/csv, e.g. the flattened v1.1 research files) or one id per line (text/plain)\","        \
    "\"items\":{\"type\":\"object\"}}"
#define MEMBER_SCHEMA                                                                              \
    "{\"type\":\"object\",\"properties\":{\"position\":{\"type\":\"integer\"},"                    \
    "\"profile_id\":{\"type\":\"integer\"},\"external_id\":{\"type\":\"string\"},"                 \
    "\"handle\":{\"type\":[\"string\",\"null\"]},\"followers_count\":{\"type\":[\"integer\","      \
    "\"null\"]},"                                                                                  \
    "\"followed_at\":{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"}}}"
void rr_routes_followers_register(void)
{
    static const rr_route_def_t defs[] = {
        {sizeof(rr_route_def_t), "POST", "/v1/accounts/{account_id}/followers", RR_SCOPE_WRITE,
         followers_post, NULL,
         "Store a complete follower list as a snapshot (?observed_at=, ?on_error=skip, ?format=): "
         "201 complete, or 202 merging (over 10,000 rows) until its merge job is done",
         PROFILE_LIST_BODY, FOLLOWERS_ANSWER, RR_ROUTE_STREAM_BODY | RR_ROUTE_IDEMPOTENT},
        {sizeof(rr_route_def_t), "POST", "/v1/accounts/{account_id}/snapshots", RR_SCOPE_WRITE,
         snapshots_open, NULL, "Open a follower snapshot to be sent in parts",
         "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
         "\"observed_at\":{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"}}}",
         SNAPSHOT_SCHEMA, RR_ROUTE_IDEMPOTENT},
        {sizeof(rr_route_def_t), "GET", "/v1/accounts/{account_id}/snapshots", RR_SCOPE_READ,
         snapshots_list, NULL, "List an account's follower snapshots (filter: state)", NULL,
         RR_INGEST_PAGE_OF(SNAPSHOT_SCHEMA), 0},
        {sizeof(rr_route_def_t), "GET", "/v1/accounts/{account_id}/snapshots/{snapshot_id}",
         RR_SCOPE_READ, snapshots_get, NULL, "Read a follower snapshot", NULL, SNAPSHOT_SCHEMA, 0},
        {sizeof(rr_route_def_t), "POST", "/v1/accounts/{account_id}/snapshots/{snapshot_id}/parts",
         RR_SCOPE_WRITE, parts_post, NULL,
         "Append part ?part=N of an open snapshot's follower list", PROFILE_LIST_BODY,
         FOLLOWERS_ANSWER, RR_ROUTE_STREAM_BODY | RR_ROUTE_IDEMPOTENT},
        {sizeof(rr_route_def_t), "POST",
         "/v1/accounts/{account_id}/snapshots/{snapshot_id}/complete", RR_SCOPE_WRITE,
         complete_post, NULL,
         "Complete a snapshot sent in parts (200 complete, or 202 merging over 10,000 rows: "
         "analyses see it once merged), or merge again one whose merge failed",
         NULL, "{\"type\":\"object\",\"properties\":{\"snapshot\":" SNAPSHOT_SCHEMA "}}", 0},
        {sizeof(rr_route_def_t), "GET",
         "/v1/accounts/{account_id}/snapshots/{snapshot_id}/followers", RR_SCOPE_READ, members_list,
         NULL, "List a snapshot's followers in the platform's order", NULL,
         RR_INGEST_PAGE_OF(MEMBER_SCHEMA), 0},
    };
    for (size_t i = 0; i < sizeof defs / sizeof *defs; i++)
        rr_router_add(&defs[i], "core");
    rr_snapshot_merge_register();
}
