/*
 * audience plugin — audits: starting one (202, a job), listing and showing
 * them, and the audit job itself.
 *
 * The job streams: it reads the snapshot one stored chunk (up to 10,000
 * followers) at a time, oldest first so the follow-order detector sees
 * them in follow order, scores them in C, and writes each chunk's verdicts
 * as one row of parallel arrays (realreach.audience_verdicts), so its
 * memory does not grow with the audience. (COPY is no option: PostgreSQL
 * refuses COPY FROM into a table under row-level security, and staging a
 * million rows to INSERT them again cost more than all the scoring.)
 * Scoring runs on a helper thread (see scorer_t) so that PostgreSQL reads
 * the next chunk and writes the previous one meanwhile; the job's thread
 * keeps the connection and every host call.
 * The counts, mass followers and most frequent reasons are added up while
 * scoring (exact, and a second pass over a million rows is saved); the
 * audit row is updated in the same transaction, so an audit is either done
 * with all its verdicts or not done at all (a retried job starts over).
 */
#include "audience.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <pthread.h>
#include <signal.h>

enum {
    AC_ID,
    AC_ACCOUNT,
    AC_SNAPSHOT,
    AC_STATE,
    AC_MODEL,
    AC_OBSERVED,
    AC_CREATED,
    AC_FINISHED,
    AC_JOB,
    AC_ERROR,
    AC_FOLLOWERS,
    AC_FAKE,
    AC_SUSPICIOUS,
    AC_INACTIVE,
    AC_GENUINE,
    AC_MASS,
    AC_LOWCONF,
    AC_GENUINE_MASS,
    AC_REASONS,
    AC_DURATION
};

static json_t *str_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? json_null() : json_string(PQgetvalue(res, row, col));
}

static json_t *int_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? json_null() : json_integer(aud_int(res, row, col));
}

/* a share rounded to 4 decimals (0.1234 = 12.34 %) */
static json_t *share(double part, double whole)
{
    return json_real(whole > 0 ? round(part / whole * 10000) / 10000 : 0);
}

json_t *aud_audit_json(const PGresult *res, int row)
{
    json_t *a = json_object();
    if (!a)
        return NULL;
    char url[96], job_url[48];
    snprintf(url, sizeof url, "/v1/accounts/%s/audits/%s", PQgetvalue(res, row, AC_ACCOUNT),
             PQgetvalue(res, row, AC_ID));
    snprintf(job_url, sizeof job_url, "/v1/jobs/%s", PQgetvalue(res, row, AC_JOB));
    int bad = 0;
    bad |= json_object_set_new(a, "id", json_integer(aud_int(res, row, AC_ID)));
    bad |= json_object_set_new(a, "account_id", json_integer(aud_int(res, row, AC_ACCOUNT)));
    bad |= json_object_set_new(a, "snapshot_id", int_or_null(res, row, AC_SNAPSHOT));
    bad |= json_object_set_new(a, "state", str_or_null(res, row, AC_STATE));
    bad |= json_object_set_new(a, "model_version", str_or_null(res, row, AC_MODEL));
    bad |= json_object_set_new(a, "observed_at", str_or_null(res, row, AC_OBSERVED));
    bad |= json_object_set_new(a, "created_at", str_or_null(res, row, AC_CREATED));
    bad |= json_object_set_new(a, "finished_at", str_or_null(res, row, AC_FINISHED));
    bad |= json_object_set_new(a, "job_id", int_or_null(res, row, AC_JOB));
    bad |= json_object_set_new(a, "job_url",
                               PQgetisnull(res, row, AC_JOB) ? json_null() : json_string(job_url));
    bad |= json_object_set_new(a, "url", json_string(url));
    bad |= json_object_set_new(a, "error", str_or_null(res, row, AC_ERROR));
    if (PQgetisnull(res, row, AC_FOLLOWERS)) {
        bad |= json_object_set_new(a, "summary", json_null());
        if (bad) {
            json_decref(a);
            return NULL;
        }
        return a;
    }
    double n = aud_num(res, row, AC_FOLLOWERS);
    double fake = aud_num(res, row, AC_FAKE), susp = aud_num(res, row, AC_SUSPICIOUS);
    double inact = aud_num(res, row, AC_INACTIVE), gen = aud_num(res, row, AC_GENUINE);
    double mass = aud_num(res, row, AC_MASS), gmass = aud_num(res, row, AC_GENUINE_MASS);
    const char *range;
    double fake_share = n > 0 ? fake / n : 0;
    const char *band = aud_band(fake_share, &range);
    json_t *reasons = NULL;
    if (!PQgetisnull(res, row, AC_REASONS))
        reasons = json_loads(PQgetvalue(res, row, AC_REASONS), 0, NULL);
    json_t *summary = json_pack(
        "{s:I, s:{s:{s:I,s:o}, s:{s:I,s:o}, s:{s:I,s:o}, s:{s:I,s:o}}, s:o, s:o,"
        " s:{s:s,s:s,s:s}, s:I, s:I, s:s, s:{s:I,s:o}, s:I, s:o, s:I}",
        "followers", (json_int_t)n, "classes", "fake", "count", (json_int_t)fake, "share",
        share(fake, n), "suspicious", "count", (json_int_t)susp, "share", share(susp, n),
        "inactive", "count", (json_int_t)inact, "share", share(inact, n), "genuine", "count",
        (json_int_t)gen, "share", share(gen, n), "fake_share", share(fake, n),
        "fake_or_suspicious_share", share(fake + susp, n), "band", "name", band, "range", range,
        "basis", "fake_share", "real_reach", (json_int_t)gen, "real_reach_excluding_mass",
        (json_int_t)(gen - gmass), "real_reach_formula",
        "followers x share of genuine (optionally minus genuine mass followers)", "mass_followers",
        "count", (json_int_t)mass, "share", share(mass, n), "low_confidence",
        (json_int_t)aud_num(res, row, AC_LOWCONF), "top_reasons", reasons ? reasons : json_array(),
        "duration_ms", (json_int_t)aud_int(res, row, AC_DURATION));
    bad |= json_object_set_new(a, "summary", summary);
    if (bad || !summary) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/* ------------------------------------------------------------ the routes */

static const rr_field_t audit_fields[] = {
    {.name = "snapshot_id", .type = RR_FT_INT, .flags = RR_F_NULLABLE},
};

/* POST /v1/accounts/{account_id}/audits  {"snapshot_id": n}? -> 202 */
rr_rc_t aud_audits_post(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    int64_t account_id;
    rr_rc_t rc = aud_account_param(ctx, &account_id);
    if (rc != RR_OK)
        return rc;
    size_t blen = 0;
    aud_host->req_body(ctx, &blen);
    json_int_t snapshot = 0;
    if (blen > 0) {
        json_t *body = aud_host->req_json(ctx);
        if (!body)
            return RR_INVALID;
        rc = aud_host->json_check(ctx, body, audit_fields,
                                  sizeof audit_fields / sizeof *audit_fields);
        if (rc != RR_OK)
            return rc;
        json_t *s = json_object_get(body, "snapshot_id");
        if (json_is_integer(s)) {
            snapshot = json_integer_value(s);
            if (snapshot <= 0)
                return aud_host->problem(ctx, 404, "not-found", "snapshot_id",
                                         "no such snapshot of this account");
        }
    }

    char acc[24], snap[24];
    snprintf(acc, sizeof acc, "%lld", (long long)account_id);
    snprintf(snap, sizeof snap, "%lld", (long long)snapshot);
    const char *params[] = {acc, snapshot ? snap : NULL};
    /* the named snapshot, or the latest whole one (complete, or still
     * merging: then the audit must wait for it, not take an older one; one
     * whose merge failed is skipped). The state as clients see it. */
    PGresult *res = aud_host->db_query(
        ctx,
        "SELECT id, state, followers"
        "  FROM (SELECT id, realreach.snapshot_state(state, expires_at, merge_job_id) AS state,"
        "               followers, observed_at"
        "          FROM realreach.follower_snapshots"
        "         WHERE tenant_id = realreach.current_tenant() AND account_id = $1::bigint"
        "           AND ($2::bigint IS NULL OR id = $2::bigint)) s"
        " WHERE $2::bigint IS NOT NULL OR state IN ('complete', 'merging')"
        " ORDER BY observed_at DESC, id DESC LIMIT 1",
        2, params);
    if (!res)
        return RR_DB_ERROR;
    if (PQntuples(res) == 0) {
        PQclear(res);
        if (snapshot)
            return aud_host->problem(ctx, 404, "not-found", "snapshot_id",
                                     "no such snapshot of this account");
        return aud_host->problem(ctx, 409, "no-snapshot", NULL,
                                 "account %lld has no complete follower snapshot to audit: "
                                 "store its followers first (POST /v1/accounts/%lld/followers)",
                                 (long long)account_id, (long long)account_id);
    }
    char state[16];
    snprintf(state, sizeof state, "%s", PQgetvalue(res, 0, 1));
    bool complete = !strcmp(state, "complete");
    bool merging = !strcmp(state, "merging");
    int64_t snapshot_id = aud_int(res, 0, 0);
    PQclear(res);
    if (merging) {
        aud_host->header_set(ctx, "Retry-After", "5");
        return aud_host->problem(ctx, 409, "snapshot-merging", "snapshot_id",
                                 "snapshot %lld is being merged into the profile directory; "
                                 "audit it once its state is complete (retry shortly)",
                                 (long long)snapshot_id);
    }
    if (!complete)
        return aud_host->problem(ctx, 409, "snapshot-incomplete", "snapshot_id",
                                 "snapshot %lld is %s: only complete snapshots are audited%s",
                                 (long long)snapshot_id, state,
                                 strcmp(state, "failed")
                                     ? ""
                                     : " (its merge failed: POST its complete route to merge "
                                       "it again)");

    snprintf(snap, sizeof snap, "%lld", (long long)snapshot_id);
    const char *ins[] = {acc, snap, aud_model.version};
    res = aud_host->db_query(
        ctx,
        "INSERT INTO realreach.audience_audits"
        "       (tenant_id, account_id, snapshot_id, model_version, observed_at)"
        " SELECT realreach.current_tenant(), $1::bigint, s.id, $3::text, s.observed_at"
        "   FROM realreach.follower_snapshots s"
        "  WHERE s.tenant_id = realreach.current_tenant() AND s.id = $2::bigint"
        " RETURNING id",
        3, ins);
    if (!res)
        return RR_DB_ERROR;
    if (PQntuples(res) != 1) { /* the snapshot went away under us */
        PQclear(res);
        return aud_host->problem(ctx, 404, "not-found", "snapshot_id",
                                 "no such snapshot of this account");
    }
    int64_t audit_id = aud_int(res, 0, 0);
    PQclear(res);

    json_t *payload = json_pack("{s:I}", "audit_id", (json_int_t)audit_id);
    if (!payload)
        return RR_ERROR;
    int64_t job_id = 0;
    rc = aud_host->job_enqueue(ctx, AUD_JOB_AUDIT, payload, &job_id);
    json_decref(payload);
    if (rc != RR_OK)
        return rc;

    char aid[24], jid[24];
    snprintf(aid, sizeof aid, "%lld", (long long)audit_id);
    snprintf(jid, sizeof jid, "%lld", (long long)job_id);
    const char *upd[] = {aid, jid};
    res =
        aud_host->db_query(ctx,
                           "WITH a AS (UPDATE realreach.audience_audits SET job_id = $2::bigint"
                           "  WHERE tenant_id = realreach.current_tenant() AND id = $1::bigint"
                           "  RETURNING *)"
                           " SELECT " AUD_AUDIT_COLS " FROM a"
                           " LEFT JOIN realreach.jobs j ON j.tenant_id = realreach.current_tenant()"
                           "  AND j.id = a.job_id",
                           2, upd);
    if (!res)
        return RR_DB_ERROR;
    json_t *audit = PQntuples(res) == 1 ? aud_audit_json(res, 0) : NULL;
    PQclear(res);
    if (!audit)
        return RR_ERROR;
    char *location = aud_host->sprintf(ctx, "/v1/accounts/%lld/audits/%lld", (long long)account_id,
                                       (long long)audit_id);
    if (!location || aud_host->header_set(ctx, "Location", location) != RR_OK) {
        json_decref(audit);
        return RR_ERROR;
    }
    return aud_host->respond_json(ctx, 202, audit);
}

/* GET /v1/accounts/{account_id}/audits — in creation order, keyset by id. */
rr_rc_t aud_audits_list(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    int64_t account_id;
    rr_rc_t rc = aud_account_param(ctx, &account_id);
    if (rc != RR_OK)
        return rc;
    rr_page_t page;
    if ((rc = aud_host->page_begin(ctx, &page)) != RR_OK)
        return rc;
    char acc[24], after[24], limit[16];
    snprintf(acc, sizeof acc, "%lld", (long long)account_id);
    snprintf(after, sizeof after, "%lld", (long long)page.after_id);
    snprintf(limit, sizeof limit, "%d", page.limit + 1);
    const char *params[] = {acc, after, limit};
    PGresult *res = aud_host->db_query(ctx,
                                       "SELECT " AUD_AUDIT_COLS AUD_AUDIT_FROM
                                       " WHERE a.tenant_id = realreach.current_tenant()"
                                       "   AND a.account_id = $1::bigint AND a.id > $2::bigint"
                                       " ORDER BY a.id LIMIT $3::int",
                                       3, params);
    if (!res)
        return RR_DB_ERROR;
    int n = PQntuples(res);
    int shown = n > page.limit ? page.limit : n;
    json_t *items = json_array();
    for (int i = 0; items && i < shown; i++)
        if (json_array_append_new(items, aud_audit_json(res, i))) {
            json_decref(items);
            items = NULL;
        }
    int64_t last = n > page.limit ? aud_int(res, shown - 1, AC_ID) : 0;
    PQclear(res);
    if (!items)
        return RR_ERROR;
    return aud_host->page_respond(ctx, &page, items, last);
}

/* GET /v1/accounts/{account_id}/audits/{audit_id} */
rr_rc_t aud_audit_get(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    int64_t account_id, audit_id;
    rr_rc_t rc = aud_account_param(ctx, &account_id);
    if (rc != RR_OK)
        return rc;
    if ((rc = aud_host->param_id(ctx, "audit_id", &audit_id)) != RR_OK)
        return rc;
    char acc[24], id[24];
    snprintf(acc, sizeof acc, "%lld", (long long)account_id);
    snprintf(id, sizeof id, "%lld", (long long)audit_id);
    const char *params[] = {acc, id};
    PGresult *res = aud_host->db_query(ctx,
                                       "SELECT " AUD_AUDIT_COLS AUD_AUDIT_FROM
                                       " WHERE a.tenant_id = realreach.current_tenant()"
                                       "   AND a.account_id = $1::bigint AND a.id = $2::bigint",
                                       2, params);
    if (!res)
        return RR_DB_ERROR;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return aud_host->problem(ctx, 404, "not-found", "audit_id",
                                 "no such audit of this account");
    }
    json_t *audit = aud_audit_json(res, 0);
    PQclear(res);
    return aud_host->respond_json(ctx, 200, audit);
}

/* ------------------------------------------------------------- the job */

typedef struct tally {
    int64_t n, cls[AUD_NCLASSES], mass, low_confidence, genuine_mass;
    int64_t reasons[AUD_NREASONS];               /* over fake + suspicious */
    double read_ms, score_ms, write_ms, wait_ms; /* where the time went */
} tally_t;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* The most frequent reasons of fake and suspicious followers, as JSON text:
 * [{"code": ..., "count": n, "share": of fake + suspicious}], at most 5. */
static char *top_reasons_json(const tally_t *t)
{
    json_t *a = json_array();
    int64_t flagged = t->cls[AUD_FAKE] + t->cls[AUD_SUSPICIOUS];
    bool used[AUD_NREASONS] = {false};
    for (int k = 0; a && k < 5; k++) {
        int best = -1;
        for (int r = 0; r < AUD_NREASONS; r++)
            if (!used[r] && t->reasons[r] > 0 && (best < 0 || t->reasons[r] > t->reasons[best]))
                best = r;
        if (best < 0)
            break;
        used[best] = true;
        double sh =
            flagged > 0 ? round((double)t->reasons[best] / (double)flagged * 10000) / 10000 : 0;
        if (json_array_append_new(a,
                                  json_pack("{s:s, s:I, s:f}", "code", aud_reason_names[best],
                                            "count", (json_int_t)t->reasons[best], "share", sh))) {
            json_decref(a);
            a = NULL;
        }
    }
    char *text = a ? json_dumps(a, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    json_decref(a);
    return text;
}

/* One chunk's verdicts as the parallel arrays of a realreach.audience_verdicts
 * row, in PostgreSQL's array text form, built while scoring: in follow
 * order (oldest first, positions descending), as the chunk is read. */
typedef struct chunk_arrays {
    aud_buf_t positions, profiles, classes, scores, confidences, mass, reasons;
    int counts[AUD_NCLASSES], mass_n, n;
    int64_t high, low; /* positions: the first added (oldest), the last */
} chunk_arrays_t;

static aud_buf_t *chunk_buf(chunk_arrays_t *c, int k)
{
    aud_buf_t *all[] = {&c->positions,   &c->profiles, &c->classes, &c->scores,
                        &c->confidences, &c->mass,     &c->reasons};
    return all[k];
}
#define CHUNK_BUFS 7

static void chunk_reset(chunk_arrays_t *c)
{
    for (int k = 0; k < CHUNK_BUFS; k++) {
        chunk_buf(c, k)->len = 0;
        aud_buf_put(chunk_buf(c, k), "{", 1);
    }
    memset(c->counts, 0, sizeof c->counts);
    c->mass_n = c->n = 0;
}

static void chunk_free(chunk_arrays_t *c)
{
    for (int k = 0; k < CHUNK_BUFS; k++)
        aud_buf_free(chunk_buf(c, k));
}

/* An array element of text: quoted, with " and \ escaped. */
static void array_text(aud_buf_t *b, const char *s, size_t n)
{
    aud_buf_put(b, "\"", 1);
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '"' && s[i] != '\\')
            continue;
        aud_buf_put(b, s + start, i - start);
        aud_buf_put(b, "\\", 1);
        start = i;
    }
    aud_buf_put(b, s + start, n - start);
    aud_buf_put(b, "\"", 1);
}

static void chunk_add(chunk_arrays_t *c, int64_t position, const char *profile, size_t profile_len,
                      const aud_verdict_t *v, aud_buf_t *scratch)
{
    const char *sep = c->n ? "," : "";
    if (c->n == 0)
        c->high = position;
    c->low = position;
    aud_buf_puts(&c->positions, sep);
    aud_buf_i64(&c->positions, position);
    aud_buf_puts(&c->profiles, sep);
    aud_buf_put(&c->profiles, profile, profile_len);
    char cls[3] = {',', (char)('0' + v->cls), 0};
    aud_buf_puts(&c->classes, c->n ? cls : cls + 1);
    aud_buf_puts(&c->scores, sep);
    aud_buf_fixed4(&c->scores, v->score);
    aud_buf_puts(&c->confidences, sep);
    aud_buf_fixed4(&c->confidences, v->confidence);
    aud_buf_puts(&c->mass, c->n ? (v->mass ? ",t" : ",f") : (v->mass ? "t" : "f"));
    aud_buf_puts(&c->reasons, sep);
    scratch->len = 0;
    aud_reasons_json(scratch, v);
    if (!scratch->oom)
        array_text(&c->reasons, scratch->s, scratch->len);
    c->counts[v->cls]++;
    c->mass_n += v->mass;
    c->n++;
}

static rr_rc_t chunk_write(rr_ctx_t *ctx, const char *audit_id, chunk_arrays_t *c)
{
    for (int k = 0; k < CHUNK_BUFS; k++) {
        aud_buf_put(chunk_buf(c, k), "}", 1);
        if (chunk_buf(c, k)->oom)
            return RR_ERROR;
    }
    char first[24], last[24], n[16], cnt[AUD_NCLASSES][16], mass[16];
    snprintf(first, sizeof first, "%lld", (long long)c->low);
    snprintf(last, sizeof last, "%lld", (long long)c->high);
    snprintf(n, sizeof n, "%d", c->n);
    for (int k = 0; k < AUD_NCLASSES; k++)
        snprintf(cnt[k], sizeof cnt[k], "%d", c->counts[k]);
    snprintf(mass, sizeof mass, "%d", c->mass_n);
    const char *params[] = {audit_id,
                            first,
                            last,
                            n,
                            cnt[AUD_FAKE],
                            cnt[AUD_SUSPICIOUS],
                            cnt[AUD_INACTIVE],
                            cnt[AUD_GENUINE],
                            mass,
                            c->positions.s,
                            c->profiles.s,
                            c->classes.s,
                            c->scores.s,
                            c->confidences.s,
                            c->mass.s,
                            c->reasons.s};
    PGresult *res = aud_host->db_query(
        ctx,
        "INSERT INTO realreach.audience_verdicts"
        " (tenant_id, audit_id, first_position, last_position, n, fake, suspicious, inactive,"
        "  genuine, mass_followers, positions, profile_ids, classes, scores, confidences, mass,"
        "  reasons)"
        " VALUES (realreach.current_tenant(), $1::bigint, $2::bigint, $3::bigint, $4::int,"
        "  $5::int, $6::int, $7::int, $8::int, $9::int, $10::bigint[], $11::bigint[],"
        "  $12::smallint[], $13::real[], $14::real[], $15::boolean[], $16::text[])",
        16, params);
    if (!res)
        return RR_DB_ERROR;
    PQclear(res);
    return RR_OK;
}

/* Scores one chunk's followers (as read: oldest first) into arrays, the
 * tally and the follow-order detector. Touches no host function: it runs
 * on the scoring thread. Frees res. */
static void score_chunk(PGresult *res, double observed_at, tally_t *t, aud_order_t *order,
                        chunk_arrays_t *arrays, aud_buf_t *scratch)
{
    double t0 = now_ms();
    chunk_reset(arrays);
    for (int i = 0; i < PQntuples(res); i++) {
        aud_profile_t p;
        aud_verdict_t v;
        aud_profile_from_row(res, i, observed_at, &p);
        aud_judge(&aud_model, &p, &v);
        t->n++;
        t->cls[v.cls]++;
        t->mass += v.mass;
        t->low_confidence += v.confidence < AUD_MIN_CONFIDENCE;
        t->genuine_mass += v.mass && v.cls == AUD_GENUINE;
        if (v.cls == AUD_FAKE || v.cls == AUD_SUSPICIOUS)
            for (int r = 0; r < v.nreasons; r++)
                t->reasons[v.reasons[r].code]++;
        int64_t position = aud_int(res, i, AUD_COL_POSITION);
        aud_order_add(order, position, p.created_at, v.cls == AUD_FAKE);
        chunk_add(arrays, position, PQgetvalue(res, i, AUD_COL_PROFILE),
                  (size_t)PQgetlength(res, i, AUD_COL_PROFILE), &v, scratch);
    }
    PQclear(res);
    t->score_ms += now_ms() - t0;
}

/* The scoring thread. On a machine with two cores PostgreSQL reads chunk
 * i + 1 and writes chunk i - 1 while chunk i is scored, instead of every
 * step waiting for the one before. The job's own thread keeps the database
 * connection and every host call; the scoring thread only computes, on
 * memory handed over under the mutex. The thread lives within one job: it
 * is joined before the job returns, whatever happens. */
typedef struct scorer {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool running; /* the thread exists */
    bool busy;    /* a chunk was handed over and is not scored yet */
    bool quit;
    PGresult *res; /* the chunk handed over (the thread frees it) */
    chunk_arrays_t *out;
    double observed_at;
    tally_t *t;
    aud_order_t *order;
    aud_buf_t scratch;
} scorer_t;

static void *scorer_main(void *arg)
{
    scorer_t *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->busy && !s->quit)
            pthread_cond_wait(&s->cv, &s->mu);
        if (!s->busy)
            break; /* quit with nothing pending */
        PGresult *res = s->res;
        chunk_arrays_t *out = s->out;
        pthread_mutex_unlock(&s->mu);
        score_chunk(res, s->observed_at, s->t, s->order, out, &s->scratch);
        pthread_mutex_lock(&s->mu);
        s->res = NULL;
        s->busy = false;
        pthread_cond_broadcast(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Hands res over (scored on the thread, or here when there is none). */
static void scorer_give(scorer_t *s, PGresult *res, chunk_arrays_t *out)
{
    if (!s->running) {
        score_chunk(res, s->observed_at, s->t, s->order, out, &s->scratch);
        return;
    }
    pthread_mutex_lock(&s->mu);
    s->res = res;
    s->out = out;
    s->busy = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* Waits until the chunk handed over is scored. */
static void scorer_wait(scorer_t *s)
{
    if (!s->running)
        return;
    pthread_mutex_lock(&s->mu);
    while (s->busy)
        pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

static void scorer_start(scorer_t *s, double observed_at, tally_t *t, aud_order_t *order)
{
    memset(s, 0, sizeof *s);
    s->observed_at = observed_at;
    s->t = t;
    s->order = order;
    if (pthread_mutex_init(&s->mu, NULL) != 0)
        return;
    if (pthread_cond_init(&s->cv, NULL) != 0) {
        pthread_mutex_destroy(&s->mu);
        return;
    }
    /* signals stay with the process's own threads */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    s->running = pthread_create(&s->thread, NULL, scorer_main, s) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!s->running) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
    }
}

static void scorer_stop(scorer_t *s)
{
    if (s->running) {
        pthread_mutex_lock(&s->mu);
        while (s->busy)
            pthread_cond_wait(&s->cv, &s->mu);
        s->quit = true;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        s->running = false;
    }
    aud_buf_free(&s->scratch);
}

/* Reads, scores and writes every chunk of the snapshot: chunk i is scored
 * while chunk i + 1 is read and chunk i - 1 written. */
static rr_rc_t audit_chunks(rr_ctx_t *ctx, int64_t snapshot_id, const aud_chunk_t *chunks,
                            size_t nchunks, double observed_at, const char *audit_id, tally_t *t,
                            aud_order_t *order)
{
    chunk_arrays_t *arrays = calloc(2, sizeof *arrays);
    if (!arrays)
        return RR_ERROR;
    scorer_t s;
    scorer_start(&s, observed_at, t, order);
    rr_rc_t rc = RR_OK;
    bool pending = false; /* chunk i - 1 handed over, not written yet */
    for (size_t i = 0; i <= nchunks && rc == RR_OK; i++) {
        PGresult *res = NULL;
        if (i < nchunks) {
            double t0 = now_ms();
            res = aud_chunk_read(ctx, snapshot_id, &chunks[i]);
            t->read_ms += now_ms() - t0;
            if (!res) {
                rc = RR_DB_ERROR;
                break;
            }
        }
        double t1 = now_ms();
        scorer_wait(&s); /* chunk i - 1 is scored */
        t->wait_ms += now_ms() - t1;
        if (res)
            scorer_give(&s, res, &arrays[i % 2]);
        if (pending) {
            double t2 = now_ms();
            chunk_arrays_t *done = &arrays[(i - 1) % 2];
            rc = done->n > 0 ? chunk_write(ctx, audit_id, done) : RR_OK;
            t->write_ms += now_ms() - t2;
        }
        pending = res != NULL;
    }
    scorer_stop(&s);
    chunk_free(&arrays[0]);
    chunk_free(&arrays[1]);
    free(arrays);
    return rc;
}

/* Job AUD_JOB_AUDIT, payload {"audit_id": n}. */
rr_rc_t aud_audit_job(rr_ctx_t *ctx, json_t *payload, json_t **result, void *ud)
{
    (void)ud;
    double t0 = now_ms();
    json_t *jid = json_object_get(payload, "audit_id");
    if (!json_is_integer(jid) || json_integer_value(jid) <= 0) {
        aud_host->log(ctx, RR_LOG_ERROR, "%s: payload is not {\"audit_id\": n}", AUD_JOB_AUDIT);
        return RR_INVALID;
    }
    char aid[24];
    snprintf(aid, sizeof aid, "%lld", (long long)json_integer_value(jid));
    const char *params[] = {aid};
    PGresult *res = aud_host->db_query(
        ctx,
        "SELECT account_id, snapshot_id, extract(epoch FROM observed_at)::float8, state"
        "  FROM realreach.audience_audits"
        " WHERE tenant_id = realreach.current_tenant() AND id = $1::bigint FOR UPDATE",
        1, params);
    if (!res)
        return RR_DB_ERROR;
    if (PQntuples(res) == 0) { /* deleted with its account: nothing left to do */
        PQclear(res);
        *result = json_pack("{s:s, s:s}", "audit_id", aid, "skipped", "the audit no longer exists");
        return *result ? RR_OK : RR_ERROR;
    }
    int64_t account_id = aud_int(res, 0, 0);
    bool has_snapshot = !PQgetisnull(res, 0, 1);
    int64_t snapshot_id = aud_int(res, 0, 1);
    double observed_at = aud_num(res, 0, 2);
    bool done = !strcmp(PQgetvalue(res, 0, 3), "done");
    PQclear(res);
    if (done) {
        *result = json_pack("{s:s, s:s}", "audit_id", aid, "skipped", "already done");
        return *result ? RR_OK : RR_ERROR;
    }
    if (!has_snapshot)
        return aud_host->problem(ctx, 409, "snapshot-gone", NULL,
                                 "the audited snapshot was deleted before the audit ran");

    tally_t t;
    memset(&t, 0, sizeof t);
    aud_order_t *order = malloc(sizeof *order);
    if (!order)
        return RR_ERROR;
    aud_order_init(order);
    aud_chunk_t *chunks = NULL;
    size_t nchunks = 0;
    rr_rc_t rc = aud_snapshot_chunks(ctx, snapshot_id, &chunks, &nchunks);
    if (rc == RR_OK)
        rc = audit_chunks(ctx, snapshot_id, chunks, nchunks, observed_at, aid, &t, order);
    free(chunks);
    double t_detect = now_ms();

    int anomalies = 0;
    if (rc == RR_OK) {
        if (aud_order_finish(order) < 0)
            rc = RR_ERROR;
        else
            rc = aud_detect(ctx, account_id, snapshot_id, order, &anomalies);
    }
    aud_order_free(order);
    free(order);
    if (rc != RR_OK)
        return rc;
    double t_end = now_ms();

    char *reasons = top_reasons_json(&t);
    if (!reasons)
        return RR_ERROR;
    char n[24], c[AUD_NCLASSES][24], mass[24], low[24], gmass[24], ms[24];
    snprintf(n, sizeof n, "%lld", (long long)t.n);
    for (int k = 0; k < AUD_NCLASSES; k++)
        snprintf(c[k], sizeof c[k], "%lld", (long long)t.cls[k]);
    snprintf(mass, sizeof mass, "%lld", (long long)t.mass);
    snprintf(low, sizeof low, "%lld", (long long)t.low_confidence);
    snprintf(gmass, sizeof gmass, "%lld", (long long)t.genuine_mass);
    snprintf(ms, sizeof ms, "%.0f", now_ms() - t0);
    const char *upd[] = {
        aid,   n,       c[AUD_FAKE], c[AUD_SUSPICIOUS], c[AUD_INACTIVE], c[AUD_GENUINE], mass, low,
        gmass, reasons, ms};
    res = aud_host->db_query(
        ctx,
        "UPDATE realreach.audience_audits SET state = 'done', finished_at = now(),"
        " followers = $2::bigint, fake = $3::bigint, suspicious = $4::bigint,"
        " inactive = $5::bigint, genuine = $6::bigint, mass_followers = $7::bigint,"
        " low_confidence = $8::bigint, genuine_mass = $9::bigint, top_reasons = $10::jsonb,"
        " duration_ms = $11::bigint"
        " WHERE tenant_id = realreach.current_tenant() AND id = $1::bigint RETURNING id",
        11, upd);
    free(reasons);
    if (!res)
        return RR_DB_ERROR;
    PQclear(res);
    *result = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:i, s:s, s:{s:i, s:i, s:i, s:i, s:i, s:i}}",
        "audit_id", json_integer_value(jid), "followers", (json_int_t)t.n, "fake",
        (json_int_t)t.cls[AUD_FAKE], "suspicious", (json_int_t)t.cls[AUD_SUSPICIOUS], "inactive",
        (json_int_t)t.cls[AUD_INACTIVE], "genuine", (json_int_t)t.cls[AUD_GENUINE],
        "mass_followers", (json_int_t)t.mass, "anomalies", anomalies, "model_version",
        aud_model.version, "milliseconds", "read", (int)t.read_ms, "score", (int)t.score_ms,
        "write", (int)t.write_ms, "waiting_for_scores", (int)t.wait_ms, "detect",
        (int)(t_end - t_detect), "total", (int)(now_ms() - t0));
    return *result ? RR_OK : RR_ERROR;
}
