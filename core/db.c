/*
 * Database access: one connection per process, reconnected on demand, a
 * per-connection prepared-statement cache, and the tenant transaction.
 *
 * The tenant transaction is opened lazily: rr_tx_begin() only records the
 * tenant; the first query sends BEGIN, set_config('realreach.tenant_id', $1,
 * true) and itself in one pipeline, so tenancy costs no extra round trip.
 * Reads (rr_tx_begin_reads) skip BEGIN/COMMIT altogether: each query goes
 * as set_config + query + Sync, one implicit read-only transaction.
 * set_config(..., true) is transaction-local: a plain SET would leak the
 * tenant to the next request on this connection.
 */
#include "rr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RR_STMT_CACHE 512
#define RR_RECONNECT_MS 250

typedef struct rr_stmt {
    char *sql;
    unsigned long hash;
    char name[16];
    bool prepared;
} rr_stmt_t;

struct rr_db {
    char *conninfo;
    PGconn *conn;
    bool stale; /* the session's settings went bad (read-only database): reconnect */
    long long next_try_ms;
    rr_stmt_t stmts[RR_STMT_CACHE];
    int nstmts;
};

static unsigned long hash_str(const char *s)
{
    unsigned long h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h;
}

static void stmt_cache_clear(rr_db_t *db)
{
    for (int i = 0; i < db->nstmts; i++)
        free(db->stmts[i].sql);
    db->nstmts = 0;
}

rr_db_t *rr_db_open(const char *conninfo)
{
    rr_db_t *db = calloc(1, sizeof *db);
    if (!db)
        abort(); /* process start-up: nothing sensible to do without memory */
    db->conninfo = strdup(conninfo ? conninfo : "");
    rr_db_ensure(db);
    return db;
}

void rr_db_close(rr_db_t *db)
{
    if (!db)
        return;
    if (db->conn)
        PQfinish(db->conn);
    stmt_cache_clear(db);
    free(db->conninfo);
    free(db);
}

bool rr_db_ok(const rr_db_t *db)
{
    return db->conn && !db->stale && PQstatus(db->conn) == CONNECTION_OK;
}

/* A session opened while the database was read-only (or being shut down)
 * stays that way after the cause is gone: such errors retire the
 * connection, and the next request opens a fresh one. A read request's own
 * read-only mode (tx_reads) is not such a cause. */
static void retire_if_stale(rr_db_t *db, const char *sqlstate, bool own_read_only)
{
    if (!sqlstate)
        return;
    if ((!strcmp(sqlstate, "25006") && !own_read_only) || !strncmp(sqlstate, "57P", 3))
        db->stale = true;
}

PGconn *rr_db_conn(rr_db_t *db) { return db->conn; }

/* Server notices (and libpq's own messages) go through the JSON log rather
 * than libpq's default raw stderr lines. */
static void notice_to_log(void *arg, const char *message)
{
    (void)arg;
    rr_log(RR_LOG_WARN, "postgres: %s", message);
}

bool rr_db_ensure(rr_db_t *db)
{
    if (rr_db_ok(db))
        return true;
    long long now = rr_now_ms();
    if (db->conn) {
        PQfinish(db->conn);
        db->conn = NULL;
        db->stale = false;
        stmt_cache_clear(db);
    } else if (now < db->next_try_ms) {
        return false;
    }
    /* connect_timeout bounds a hang when the server is unreachable */
    const char *keys[] = {"dbname", "connect_timeout", "application_name", NULL};
    const char *vals[] = {db->conninfo, "2", "realreach", NULL};
    db->conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        rr_log(RR_LOG_WARN, "database unavailable: %s", PQerrorMessage(db->conn));
        PQfinish(db->conn);
        db->conn = NULL;
        db->next_try_ms = now + RR_RECONNECT_MS;
        return false;
    }
    PQsetNoticeProcessor(db->conn, notice_to_log, NULL);
    return true;
}

static rr_stmt_t *stmt_for(rr_db_t *db, const char *sql)
{
    unsigned long h = hash_str(sql);
    for (int i = 0; i < db->nstmts; i++)
        if (db->stmts[i].hash == h && !strcmp(db->stmts[i].sql, sql))
            return &db->stmts[i];
    if (db->nstmts == RR_STMT_CACHE)
        return NULL; /* cache full: run unnamed */
    rr_stmt_t *s = &db->stmts[db->nstmts];
    s->sql = strdup(sql);
    if (!s->sql)
        return NULL;
    s->hash = h;
    snprintf(s->name, sizeof s->name, "rr%d", db->nstmts);
    s->prepared = false;
    db->nstmts++;
    return s;
}

static void record_error(rr_ctx_t *ctx, const PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : NULL;
    if ((!msg || !*msg) && ctx->db->conn)
        msg = PQerrorMessage(ctx->db->conn);
    snprintf(ctx->sqlstate, sizeof ctx->sqlstate, "%s", state ? state : "08006");
    ctx->db_error = rr_arena_strdup(ctx->arena, msg ? msg : "connection lost");
    retire_if_stale(ctx->db, state, ctx->tx_reads);
    if (!ctx->db->conn || PQstatus(ctx->db->conn) != CONNECTION_OK) { /* lost, not merely stale */
        ctx->db_lost = true;
        snprintf(ctx->sqlstate, sizeof ctx->sqlstate, "08006");
    }
}

static bool result_ok(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Reads one pipelined command's result and its terminating NULL. */
static PGresult *pipeline_next(PGconn *conn)
{
    PGresult *r = PQgetResult(conn);
    if (r) {
        PGresult *extra;
        while ((extra = PQgetResult(conn)) != NULL)
            PQclear(extra);
    }
    return r;
}

#define SQL_SET_TENANT "SELECT set_config('realreach.tenant_id', $1, true)"
/* reads: the tenant, and read-only for this implicit transaction alone */
#define SQL_SET_TENANT_READS                                                          \
    "SELECT set_config('realreach.tenant_id', $1, true), "                           \
    "set_config('transaction_read_only', 'on', true)"

/* [BEGIN;] set_config; [Parse;] Execute; Sync — one round trip. With begin,
 * the transaction stays open afterwards; without, the statements between
 * Syncs form one implicit transaction that ends with them. Prepared
 * statements (set_config included) come from the connection's cache. */
static PGresult *query_with_tenant(rr_ctx_t *ctx, rr_stmt_t *st, const char *sql, int n,
                                   const char *const *params, bool begin)
{
    PGconn *conn = ctx->db->conn;
    char tenant[24];
    snprintf(tenant, sizeof tenant, "%lld", (long long)ctx->tx_tenant);
    const char *tp[1] = {tenant};
    rr_stmt_t *set = stmt_for(ctx->db, begin ? SQL_SET_TENANT : SQL_SET_TENANT_READS);
    /* which results to expect, in order */
    enum { R_BEGIN, R_PREP_SET, R_SET, R_PREP, R_QUERY };
    int kinds[5], count = 0;

    if (!PQenterPipelineMode(conn))
        goto lost;
    if (begin) {
        if (!PQsendQueryParams(conn, "BEGIN", 0, NULL, NULL, NULL, NULL, 0))
            goto lost;
        kinds[count++] = R_BEGIN;
    }
    if (set && !set->prepared) {
        if (!PQsendPrepare(conn, set->name, set->sql, 1, NULL))
            goto lost;
        kinds[count++] = R_PREP_SET;
    }
    if (set ? !PQsendQueryPrepared(conn, set->name, 1, tp, NULL, NULL, 0)
            : !PQsendQueryParams(conn, begin ? SQL_SET_TENANT : SQL_SET_TENANT_READS, 1, NULL,
                                 tp, NULL, NULL, 0))
        goto lost;
    kinds[count++] = R_SET;
    if (st && !st->prepared) {
        if (!PQsendPrepare(conn, st->name, sql, n, NULL))
            goto lost;
        kinds[count++] = R_PREP;
    }
    if (st ? !PQsendQueryPrepared(conn, st->name, n, params, NULL, NULL, 0)
           : !PQsendQueryParams(conn, sql, n, NULL, params, NULL, NULL, 0))
        goto lost;
    kinds[count++] = R_QUERY;
    if (!PQpipelineSync(conn))
        goto lost;

    PGresult *results[5] = {0};
    for (int i = 0; i < count; i++)
        results[i] = pipeline_next(conn);
    PGresult *sync = PQgetResult(conn);
    bool synced = sync && PQresultStatus(sync) == PGRES_PIPELINE_SYNC;
    PQclear(sync);
    PQexitPipelineMode(conn);

    PGresult *out = NULL;
    const PGresult *failed = NULL;
    bool any_failed = false, begun = false;
    for (int i = 0; i < count; i++) {
        bool ok = results[i] && result_ok(results[i]);
        if (!ok && !any_failed) {
            any_failed = true;
            failed = results[i];
        }
        if (ok && kinds[i] == R_PREP_SET)
            set->prepared = true;
        if (ok && kinds[i] == R_PREP)
            st->prepared = true;
        if (ok && kinds[i] == R_BEGIN)
            begun = true;
    }
    if (any_failed || !synced) {
        record_error(ctx, failed);
        /* BEGIN went through unless it was the failure: the tx is open (aborted) */
        ctx->tx_open = begun;
    } else {
        out = results[count - 1];
        results[count - 1] = NULL;
        ctx->tx_open = begin;
    }
    for (int i = 0; i < count; i++)
        PQclear(results[i]);
    ctx->tx_pending = false;
    return out;

lost:
    record_error(ctx, NULL);
    if (PQpipelineStatus(conn) != PQ_PIPELINE_OFF) {
        PGresult *r;
        while ((r = PQgetResult(conn)) != NULL)
            PQclear(r);
        PQexitPipelineMode(conn);
    }
    ctx->tx_pending = false;
    ctx->tx_open = false;
    return NULL;
}

PGresult *rr_db_query(rr_ctx_t *ctx, const char *sql, int n, const char *const *params)
{
    if (ctx->db_lost || !rr_db_ensure(ctx->db)) {
        ctx->db_lost = true;
        snprintf(ctx->sqlstate, sizeof ctx->sqlstate, "08006");
        ctx->db_error = "database unavailable";
        return NULL;
    }
    if (ctx->tx_pending || ctx->tx_reads) {
        bool begin = !ctx->tx_reads;
        PGresult *r = query_with_tenant(ctx, stmt_for(ctx->db, sql), sql, n, params, begin);
        /* A connection the server dropped while this worker was idle (a
         * restart) still looks fine until used. Nothing ran on it, so
         * reconnect once and send the whole round trip again. */
        if (!r && !rr_db_ok(ctx->db) && rr_db_ensure(ctx->db)) {
            ctx->db_lost = false;
            ctx->sqlstate[0] = '\0';
            ctx->tx_pending = begin;
            ctx->tx_open = false;
            r = query_with_tenant(ctx, stmt_for(ctx->db, sql), sql, n, params, begin);
        }
        return r;
    }
    rr_stmt_t *st = stmt_for(ctx->db, sql);

    PGconn *conn = ctx->db->conn;
    if (st && !st->prepared) {
        PGresult *p = PQprepare(conn, st->name, sql, n, NULL);
        if (!p || PQresultStatus(p) != PGRES_COMMAND_OK) {
            record_error(ctx, p);
            PQclear(p);
            return NULL;
        }
        PQclear(p);
        st->prepared = true;
    }
    PGresult *r = st ? PQexecPrepared(conn, st->name, n, params, NULL, NULL, 0)
                     : PQexecParams(conn, sql, n, NULL, params, NULL, NULL, 0);
    if (!r || !result_ok(r)) {
        record_error(ctx, r);
        PQclear(r);
        return NULL;
    }
    return r;
}

rr_rc_t rr_tx_start_now(rr_ctx_t *ctx)
{
    if (ctx->tx_reads) { /* a COPY needs a real transaction */
        snprintf(ctx->sqlstate, sizeof ctx->sqlstate, "25006");
        ctx->db_error = "COPY in a read-only request";
        return RR_DB_ERROR;
    }
    if (!ctx->tx_pending)
        return ctx->tx_open ? RR_OK : RR_DB_ERROR;
    /* a trivial statement rides along with BEGIN + set_config */
    PGresult *r = rr_db_query(ctx, "SELECT 1", 0, NULL);
    if (!r)
        return RR_DB_ERROR;
    PQclear(r);
    return RR_OK;
}

void rr_tx_begin(rr_ctx_t *ctx, int64_t tenant_id)
{
    ctx->tx_tenant = tenant_id;
    ctx->tx_pending = true;
    ctx->tx_open = false;
    ctx->tx_reads = false;
}

void rr_tx_begin_reads(rr_ctx_t *ctx, int64_t tenant_id)
{
    ctx->tx_tenant = tenant_id;
    ctx->tx_pending = false;
    ctx->tx_open = false;
    ctx->tx_reads = true;
}

rr_rc_t rr_tx_end(rr_ctx_t *ctx, bool commit)
{
    if (ctx->tx_reads) { /* every query ended its own implicit transaction */
        ctx->tx_reads = false;
        return commit && ctx->db_lost ? RR_DB_ERROR : RR_OK;
    }
    if (ctx->tx_pending) { /* nothing was sent: nothing to end */
        ctx->tx_pending = false;
        return RR_OK;
    }
    if (!ctx->tx_open)
        return commit && ctx->db_lost ? RR_DB_ERROR : RR_OK;
    ctx->tx_open = false;
    if (!rr_db_ok(ctx->db)) {
        ctx->db_lost = true;
        snprintf(ctx->sqlstate, sizeof ctx->sqlstate, "08006");
        return commit ? RR_DB_ERROR : RR_OK;
    }
    PGresult *r = PQexec(ctx->db->conn, commit ? "COMMIT" : "ROLLBACK");
    /* COMMIT of an aborted transaction "succeeds" with the tag ROLLBACK */
    bool ok = r && PQresultStatus(r) == PGRES_COMMAND_OK &&
              (!commit || !strcmp(PQcmdStatus(r), "COMMIT"));
    if (!ok && commit) {
        record_error(ctx, r);
        if (!ctx->sqlstate[0] || !strcmp(ctx->sqlstate, "00000"))
            snprintf(ctx->sqlstate, sizeof ctx->sqlstate, "40000");
    }
    PQclear(r);
    return ok ? RR_OK : RR_DB_ERROR;
}

PGresult *rr_db_exec_plain(rr_db_t *db, const char *sql, int n, const char *const *params,
                           char sqlstate[6])
{
    if (sqlstate)
        sqlstate[0] = '\0';
    if (!rr_db_ensure(db)) {
        if (sqlstate)
            memcpy(sqlstate, "08006", 6);
        return NULL;
    }
    PGresult *r = PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL, 0);
    if ((!r || !result_ok(r)) && !rr_db_ok(db)) {
        /* dropped while idle (see rr_db_query): one fresh attempt */
        PQclear(r);
        r = rr_db_ensure(db) ? PQexecParams(db->conn, sql, n, NULL, params, NULL, NULL, 0) : NULL;
    }
    if (!r || !result_ok(r)) {
        const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        retire_if_stale(db, state, false);
        if (sqlstate)
            snprintf(sqlstate, 6, "%s", state ? state : "08006");
        rr_log(RR_LOG_WARN, "query failed: %s", r ? PQresultErrorMessage(r) : "no result");
        PQclear(r);
        return NULL;
    }
    return r;
}
