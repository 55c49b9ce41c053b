/*
 * Jobs: enqueueing in the request's transaction, ingest events turned into
 * "hook" jobs, the 202 answer, the JSON form of a job, and the job runner.
 *
 * Jobs live in realreach.jobs so they survive restarts and commit or vanish
 * with the request that queued them. A runner claims one due job at a time
 * with realreach.claim_job() (FOR UPDATE SKIP LOCKED, a lease), runs its
 * handler inside the job's tenant transaction, and records the outcome in
 * that same transaction, so "done" and the handler's writes commit together.
 * A failure is recorded in a second transaction after the rollback, with an
 * exponential backoff. A runner that dies mid-job leaves only a lease behind;
 * when it expires claim_job() hands the job out again.
 */
#include "rr.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The internal kind whose payload is {"event","payload"}: it runs every hook
 * registered for the event. */
#define RR_HOOK_KIND "hook"

#define RR_JOB_LEASE_SECONDS "600"
#define RR_JOB_IDLE_WAIT_MS 1000 /* due retries are picked up within this */
/* A failed attempt that cannot be recorded (the database is away) is tried
 * again this often, this many times (a minute), before the lease decides. */
#define RR_JOB_RECORD_PAUSE_MS 500
#define RR_JOB_RECORD_TRIES 120
#define RR_DB_BACKOFF_MIN_MS 250
#define RR_DB_BACKOFF_MAX_MS 5000
#define RR_JOB_ERROR_MAX 500 /* bytes of error text kept on the job */

/* The columns rr_job_to_json() reads, timestamps already ISO 8601 (UTC). One
 * list for every query that shows a job, so the JSON form cannot drift. */
#define RR_JOB_COLUMNS                                                         \
    "id, kind, state, attempts, max_attempts, result, error, "                 \
    "realreach.iso(created_at) AS created_at, "                                \
    "realreach.iso(started_at) AS started_at, "                                \
    "realreach.iso(finished_at) AS finished_at, "                              \
    "realreach.iso(run_at) AS run_at"

const char rr_job_columns[] = RR_JOB_COLUMNS;

/* ------------------------------------------------------------ enqueueing */

rr_rc_t rr_job_enqueue(rr_ctx_t *ctx, const char *kind, json_t *payload, int64_t *job_id)
{
    if (!kind || (strcmp(kind, RR_HOOK_KIND) && !rr_job_kind_find(kind))) {
        /* no runner would ever claim it: refuse now rather than let it rot */
        rr_log(RR_LOG_ERROR, "job_enqueue: kind '%s' is not registered", kind ? kind : "(null)");
        return RR_ERROR;
    }
    char *text = payload ? json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (payload && !text) {
        rr_log(RR_LOG_ERROR, "job_enqueue: payload of '%s' cannot be encoded", kind);
        return RR_ERROR;
    }
    /* a client-restricted key's jobs are visible only to keys of that client */
    char client[24];
    snprintf(client, sizeof client, "%lld", (long long)ctx->key.client_id);
    const char *params[3] = {kind, text ? text : "{}", client};
    PGresult *r = rr_db_query(ctx,
                              "INSERT INTO realreach.jobs (tenant_id, kind, payload, client_id) "
                              "VALUES (realreach.current_tenant(), $1, $2::jsonb, NULLIF($3::bigint, 0)) RETURNING id",
                              3, params);
    free(text);
    if (!r)
        return RR_DB_ERROR;
    if (job_id)
        *job_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return RR_OK;
}

rr_rc_t rr_event_emit(rr_ctx_t *ctx, const char *event, json_t *payload)
{
    json_t *name = event && *event ? json_string(event) : NULL;
    if (!name) {
        rr_log(RR_LOG_ERROR, "event_emit: event name missing or not UTF-8");
        return RR_ERROR;
    }
    if (!ctx->events && !(ctx->events = json_array())) {
        json_decref(name);
        return RR_ERROR;
    }
    /* jansson's *_new functions take the reference even when they fail */
    json_t *e = json_object();
    if (!e) {
        json_decref(name);
        return RR_ERROR;
    }
    if (json_object_set_new(e, "event", name) ||
        json_object_set_new(e, "payload", payload ? json_incref(payload) : json_null())) {
        json_decref(e);
        return RR_ERROR;
    }
    return json_array_append_new(ctx->events, e) ? RR_ERROR : RR_OK;
}

static bool event_has_hook(const char *event)
{
    for (size_t i = 0; i < rr_hooks_count(); i++)
        if (!strcmp(rr_hook_at(i)->event, event))
            return true;
    return false;
}

rr_rc_t rr_events_flush(rr_ctx_t *ctx)
{
    json_t *events = ctx->events;
    ctx->events = NULL; /* flushed once: a second call must not enqueue twice */
    if (!events)
        return RR_OK;
    rr_rc_t rc = RR_OK;
    size_t i;
    json_t *e;
    json_array_foreach(events, i, e) {
        const char *event = json_string_value(json_object_get(e, "event"));
        if (!event_has_hook(event))
            continue; /* nobody listens: a job would only be noise */
        rc = rr_job_enqueue(ctx, RR_HOOK_KIND, e, NULL);
        if (rc != RR_OK)
            break;
    }
    json_decref(events);
    return rc;
}

/* ------------------------------------------------------ the JSON of a job */

static const char *col(const PGresult *res, int row, const char *name)
{
    int c = PQfnumber(res, name);
    return c < 0 || PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

static json_t *str_or_null(const char *s)
{
    json_t *j = s ? json_string(s) : NULL;
    return j ? j : json_null();
}

static json_t *int_of(const char *s) { return json_integer(s ? strtoll(s, NULL, 10) : 0); }

json_t *rr_job_to_json(const PGresult *res, int row)
{
    const char *id = col(res, row, "id");
    const char *result = col(res, row, "result");
    if (!id)
        return NULL;
    json_t *j = json_object();
    if (!j)
        return NULL;
    json_t *res_json = json_null();
    if (result) {
        json_error_t err;
        /* jsonb can hold numbers jansson cannot: show null rather than fail */
        json_t *parsed = json_loads(result, JSON_DECODE_ANY, &err);
        if (parsed)
            res_json = parsed;
        else
            rr_log(RR_LOG_WARN, "job %s: result not representable: %s", id, err.text);
    }
    json_object_set_new(j, "id", int_of(id));
    json_object_set_new(j, "kind", str_or_null(col(res, row, "kind")));
    json_object_set_new(j, "state", str_or_null(col(res, row, "state")));
    json_object_set_new(j, "attempts", int_of(col(res, row, "attempts")));
    json_object_set_new(j, "max_attempts", int_of(col(res, row, "max_attempts")));
    json_object_set_new(j, "result", res_json);
    json_object_set_new(j, "error", str_or_null(col(res, row, "error")));
    json_object_set_new(j, "created_at", str_or_null(col(res, row, "created_at")));
    json_object_set_new(j, "started_at", str_or_null(col(res, row, "started_at")));
    json_object_set_new(j, "finished_at", str_or_null(col(res, row, "finished_at")));
    json_object_set_new(j, "run_at", str_or_null(col(res, row, "run_at")));
    char url[48];
    snprintf(url, sizeof url, "/v1/jobs/%s", id);
    json_object_set_new(j, "url", json_string(url));
    return j;
}

rr_rc_t rr_respond_job_accepted(rr_ctx_t *ctx, int64_t job_id)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)job_id);
    const char *params[1] = {id};
    /* same transaction as the INSERT: the job is visible though uncommitted */
    PGresult *r = rr_db_query(ctx,
                              "SELECT " RR_JOB_COLUMNS " FROM realreach.jobs "
                              "WHERE tenant_id = realreach.current_tenant() AND id = $1",
                              1, params);
    if (!r)
        return RR_DB_ERROR;
    json_t *job = PQntuples(r) == 1 ? rr_job_to_json(r, 0) : NULL;
    PQclear(r);
    if (!job) {
        rr_log(RR_LOG_ERROR, "respond_job_accepted: job %s not found in this transaction", id);
        return RR_ERROR;
    }
    char location[48];
    snprintf(location, sizeof location, "/v1/jobs/%s", id);
    if (rr_header_set(ctx, "Location", location) != RR_OK) {
        json_decref(job);
        return RR_ERROR;
    }
    return rr_respond_json(ctx, 202, job);
}

/* ------------------------------------------------------------- the runner */

/* A claimed job, as claim_job() returned it. */
typedef struct rr_claimed {
    int64_t tenant_id;
    int64_t id;
    const char *kind; /* arena */
    const char *attempts_text;
    int attempts;
    int max_attempts;
    json_t *payload; /* owned */
} rr_claimed_t;

/* All kinds this runner can run, as a JSON array text: the kinds reach SQL
 * as one parameter (json_array_elements_text), so no plugin-chosen string is
 * ever quoted by hand. */
static char *kinds_param(void)
{
    json_t *a = json_array();
    json_array_append_new(a, json_string(RR_HOOK_KIND));
    for (size_t i = 0; i < rr_job_kinds_count(); i++) {
        const char *k = rr_job_kind_at(i)->kind;
        if (strcmp(k, RR_HOOK_KIND))
            json_array_append_new(a, json_string(k));
    }
    char *text = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return text;
}

/* Cuts s to at most max bytes without splitting a UTF-8 sequence (the
 * database refuses invalid UTF-8, and the failure record must get through). */
static char *short_text(rr_arena_t *a, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return rr_arena_strdup(a, s);
    while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
        max--;
    return rr_arena_strndup(a, s, max);
}

/* The message stored on a failed attempt. It is shown to the tenant, so a
 * database error is reduced to its SQLSTATE (the full text goes to the log);
 * a problem the handler set (host->problem) is meant for clients: keep it. */
static const char *failure_text(rr_ctx_t *ctx, rr_rc_t rc, const char *fallback)
{
    if (fallback)
        return fallback;
    if (rc == RR_DB_ERROR)
        return rr_arena_sprintf(ctx->arena, "database error (SQLSTATE %s)",
                                ctx->sqlstate[0] ? ctx->sqlstate : "XX000");
    if (ctx->responded && ctx->resp_body && ctx->status >= 400) {
        json_t *p = json_loadb(ctx->resp_body, ctx->resp_len, 0, NULL);
        const char *detail = json_string_value(json_object_get(p, "detail"));
        char *out = detail ? short_text(ctx->arena, detail, RR_JOB_ERROR_MAX) : NULL;
        json_decref(p);
        if (out)
            return out;
    }
    return rr_arena_sprintf(ctx->arena, "job handler failed (code %d)", (int)rc);
}

/* Runs every hook registered for the event, in registration order, in one
 * transaction: a failing hook rolls all of them back and the job retries. */
static rr_rc_t run_hooks(rr_ctx_t *ctx, json_t *payload, json_t **result, const char **why)
{
    const char *event = json_string_value(json_object_get(payload, "event"));
    json_t *inner = json_object_get(payload, "payload");
    if (!event) {
        *why = "hook job without an event";
        return RR_ERROR;
    }
    int ran = 0;
    for (size_t i = 0; i < rr_hooks_count(); i++) {
        const rr_hook_t *h = rr_hook_at(i);
        if (strcmp(h->event, event))
            continue;
        rr_rc_t rc = h->fn(ctx, event, inner ? inner : json_null(), h->user_data);
        if (rc != RR_OK) {
            rr_log(RR_LOG_WARN, "hook of plugin %s for %s failed (%d)", h->plugin, event,
                   (int)rc);
            return rc;
        }
        ran++;
    }
    *result = json_pack("{s:s,s:i}", "event", event, "hooks", ran);
    return RR_OK;
}

static rr_rc_t run_handler(rr_ctx_t *ctx, const rr_claimed_t *job, json_t **result,
                           const char **why)
{
    if (!job->payload) {
        *why = "job payload cannot be decoded";
        return RR_ERROR;
    }
    if (!strcmp(job->kind, RR_HOOK_KIND))
        return run_hooks(ctx, job->payload, result, why);
    const rr_job_kind_t *k = rr_job_kind_find(job->kind);
    if (!k) { /* cannot happen: only registered kinds are claimed */
        *why = "no handler for this job kind";
        return RR_ERROR;
    }
    return k->fn(ctx, job->payload, result, k->user_data);
}

/* Records success in the job's own transaction and commits. The state and
 * attempts guard makes a runner whose lease ran out (and whose job another
 * runner took over) roll back instead of overwriting the newer attempt. */
static rr_rc_t finish_done(rr_ctx_t *ctx, const rr_claimed_t *job, json_t *result,
                           bool *lease_lost)
{
    char *text = result ? json_dumps(result, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (result && !text)
        return RR_ERROR;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)job->id);
    const char *params[3] = {id, text, job->attempts_text};
    PGresult *r = rr_db_query(ctx,
                              "UPDATE realreach.jobs SET state = 'done', result = $2::jsonb, "
                              "error = NULL, finished_at = now(), lease_until = NULL "
                              "WHERE tenant_id = realreach.current_tenant() AND id = $1 "
                              "AND state = 'running' AND attempts = $3",
                              3, params);
    free(text);
    if (!r)
        return RR_DB_ERROR;
    *lease_lost = strcmp(PQcmdTuples(r), "1") != 0;
    PQclear(r);
    if (*lease_lost)
        return RR_ERROR;
    return rr_tx_end(ctx, true);
}

/* Records a failed attempt in a fresh transaction (the job's own was rolled
 * back): queued again after min(2^attempts, 300) s ±20 %, or failed for good
 * when the attempts are used up. Returns the new state, or NULL. */
static const char *finish_failed(rr_ctx_t *ctx, const rr_claimed_t *job, const char *error,
                                 bool permanent)
{
    ctx->db_lost = false; /* the connection may have been re-established */
    ctx->sqlstate[0] = '\0';
    rr_tx_begin(ctx, job->tenant_id);
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)job->id);
    /* $4: the handler refused its input (RR_INVALID): retrying cannot help */
    const char *params[4] = {id, error, job->attempts_text, permanent ? "t" : "f"};
    PGresult *r = rr_db_query(
        ctx,
        "UPDATE realreach.jobs SET "
        "state = CASE WHEN $4::boolean OR attempts >= max_attempts THEN 'failed' ELSE 'queued' END, "
        "error = $2, lease_until = NULL, "
        "finished_at = CASE WHEN $4::boolean OR attempts >= max_attempts THEN now() END, "
        "run_at = CASE WHEN $4::boolean OR attempts >= max_attempts THEN run_at ELSE now() + "
        "make_interval(secs => least(power(2, attempts), 300) * (0.8 + 0.4 * random())) END "
        "WHERE tenant_id = realreach.current_tenant() AND id = $1 "
        "AND state = 'running' AND attempts = $3 RETURNING state",
        4, params);
    bool updated = r != NULL;
    const char *state = NULL;
    if (r && PQntuples(r) == 1)
        state = rr_arena_strdup(ctx->arena, PQgetvalue(r, 0, 0));
    PQclear(r);
    if (rr_tx_end(ctx, updated) != RR_OK)
        state = NULL;
    return state;
}

static void run_claimed(rr_db_t *db, rr_arena_t *arena, int slot, const rr_claimed_t *job)
{
    long long t0 = rr_now_us();
    rr_ctx_t ctx;
    rr_ctx_init(&ctx, arena, db);
    ctx.is_job = true;
    ctx.job_attempt = job->attempts; /* claim_job() already counted this one */
    ctx.tenant_id = job->tenant_id;
    ctx.request_id = rr_arena_sprintf(arena, "job-%lld", (long long)job->id);
    /* plugins may read these; give them something other than NULL */
    ctx.method = "JOB";
    ctx.path = rr_arena_sprintf(arena, "job:%s", job->kind);
    rr_scoreboard_busy(slot, ctx.path, ctx.request_id);

    rr_tx_begin(&ctx, job->tenant_id);
    json_t *result = NULL;
    const char *why = NULL;
    bool lease_lost = false;
    rr_rc_t rc = run_handler(&ctx, job, &result, &why);
    if (rc == RR_OK)
        rc = rr_events_flush(&ctx); /* hooks of what this job stored */
    if (rc == RR_OK)
        rc = finish_done(&ctx, job, result, &lease_lost);
    json_decref(result);

    const char *outcome;
    if (rc == RR_OK) {
        outcome = "done";
    } else {
        if (rc == RR_DB_ERROR && ctx.db_error)
            rr_log(RR_LOG_WARN, "job %lld: database error %s: %s", (long long)job->id,
                   ctx.sqlstate, ctx.db_error);
        const char *error = lease_lost ? NULL : failure_text(&ctx, rc, why);
        rr_tx_end(&ctx, false);
        const char *state = lease_lost ? NULL : finish_failed(&ctx, job, error, rc == RR_INVALID);
        /* The database went away mid-job: keep trying to record the attempt
         * (a runner can do nothing else meanwhile). Left unrecorded, the job
         * would wait out its whole lease before anyone retried it. */
        for (int tries = 0; !lease_lost && !state && tries < RR_JOB_RECORD_TRIES &&
                            !rr_shutdown_requested;
             tries++) {
            usleep(RR_JOB_RECORD_PAUSE_MS * 1000);
            state = finish_failed(&ctx, job, error, rc == RR_INVALID);
        }
        if (lease_lost)
            outcome = "lease-lost"; /* another runner owns the job now */
        else if (!state)
            outcome = "unrecorded"; /* stays running; the lease will expire */
        else
            outcome = strcmp(state, "failed") ? "retry" : "failed";
    }
    if (!strcmp(outcome, "done") || !strcmp(outcome, "retry") || !strcmp(outcome, "failed"))
        rr_metrics_count_job(outcome);
    rr_log(rc == RR_OK ? RR_LOG_INFO : RR_LOG_WARN,
           "job %lld tenant %lld kind %s attempt %d/%d outcome %s us %lld", (long long)job->id,
           (long long)job->tenant_id, job->kind, job->attempts, job->max_attempts, outcome,
           rr_now_us() - t0);
    rr_scoreboard_idle(slot);
    rr_ctx_cleanup(&ctx);
}

/* Claims one due job and runs it. 1: a job ran; 0: nothing due; -1: the
 * database failed. */
static int claim_and_run(rr_db_t *db, rr_arena_t *arena, int slot, const char *kinds)
{
    const char *params[2] = {kinds, RR_JOB_LEASE_SECONDS};
    char sqlstate[6];
    PGresult *r = rr_db_exec_plain(db,
                                   "SELECT tenant_id, id, kind, payload, attempts, max_attempts "
                                   "FROM realreach.claim_job("
                                   "ARRAY(SELECT json_array_elements_text($1::json)), $2)",
                                   2, params, sqlstate);
    if (!r)
        return -1;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return 0;
    }
    rr_claimed_t job = {
        .tenant_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10),
        .id = strtoll(PQgetvalue(r, 0, 1), NULL, 10),
        .kind = rr_arena_strdup(arena, PQgetvalue(r, 0, 2)),
        .attempts_text = rr_arena_strdup(arena, PQgetvalue(r, 0, 4)),
        .attempts = atoi(PQgetvalue(r, 0, 4)),
        .max_attempts = atoi(PQgetvalue(r, 0, 5)),
        .payload = json_loads(PQgetvalue(r, 0, 3), JSON_DECODE_ANY, NULL),
    };
    PQclear(r);
    if (job.kind && job.attempts_text)
        run_claimed(db, arena, slot, &job);
    json_decref(job.payload);
    return 1;
}

/* Drains pending notifications; true if any arrived. false also when the
 * connection broke (the next claim notices and reconnects). */
static bool drain_notifies(PGconn *conn)
{
    bool any = false;
    if (!PQconsumeInput(conn))
        return false;
    PGnotify *n;
    while ((n = PQnotifies(conn)) != NULL) {
        any = true;
        PQfreemem(n);
    }
    return any;
}

/* Waits until a NOTIFY arrives or timeout_ms passes; SIGTERM cuts it short. */
static void wait_for_work(PGconn *conn, int timeout_ms)
{
    if (drain_notifies(conn))
        return; /* consumed while claiming: work may already be queued */
    struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
    if (pfd.fd < 0) {
        poll(NULL, 0, timeout_ms);
        return;
    }
    if (poll(&pfd, 1, timeout_ms) > 0)
        drain_notifies(conn);
}

#define RR_MAINTENANCE_MS 60000

int rr_runner_main(int slot)
{
    rr_db_t *db = rr_db_open(rr_cfg.db);
    rr_arena_t *arena = rr_arena_new();
    char *kinds = kinds_param();
    if (!arena || !kinds) {
        rr_log(RR_LOG_ERROR, "runner: out of memory at start-up");
        return 1;
    }
    rr_log(RR_LOG_INFO, "runner %d: running job kinds %s", slot, kinds);

    /* The connection LISTENing, told apart by pointer and backend pid: a
     * reconnect inside any query helper gives a new session to LISTEN on.
     * Were a reconnect ever missed, the 1 s poll still finds the work. */
    PGconn *listening = NULL;
    int listening_pid = 0;
    int backoff_ms = 0;
    long long next_maintenance_ms = rr_now_ms() + RR_MAINTENANCE_MS;
    while (!rr_shutdown_requested) {
        PGconn *conn = rr_db_ensure(db) ? rr_db_conn(db) : NULL;
        if (conn && (conn != listening || PQbackendPID(conn) != listening_pid)) {
            PGresult *l = rr_db_exec_plain(db, "LISTEN realreach_jobs", 0, NULL, NULL);
            if (l) {
                listening = conn;
                listening_pid = PQbackendPID(conn);
                PQclear(l);
            } else {
                conn = NULL;
            }
        }
        int got = conn ? claim_and_run(db, arena, slot, kinds) : -1;
        rr_arena_reset(arena);
        if (got < 0) {
            /* database down (or not migrated): never exit over it, back off */
            backoff_ms = backoff_ms ? backoff_ms * 2 : RR_DB_BACKOFF_MIN_MS;
            if (backoff_ms > RR_DB_BACKOFF_MAX_MS)
                backoff_ms = RR_DB_BACKOFF_MAX_MS;
            listening = NULL;
            poll(NULL, 0, backoff_ms);
            continue;
        }
        backoff_ms = 0;
        long long now = rr_now_ms();
        if (now >= next_maintenance_ms) {
            /* every runner may do it: the DELETE is idempotent and cheap */
            next_maintenance_ms = now + RR_MAINTENANCE_MS;
            PGresult *m = rr_db_exec_plain(db, "SELECT realreach.maintenance()", 0, NULL, NULL);
            if (m && atoi(PQgetvalue(m, 0, 0)) > 0)
                rr_log(RR_LOG_INFO, "maintenance: %s expired idempotency records removed",
                       PQgetvalue(m, 0, 0));
            PQclear(m);
        }
        if (got == 0 && rr_db_ok(db))
            wait_for_work(rr_db_conn(db), RR_JOB_IDLE_WAIT_MS);
    }
    rr_log(RR_LOG_INFO, "runner %d: shutting down", slot);
    free(kinds);
    rr_arena_free(arena);
    rr_db_close(db);
    return 0;
}
