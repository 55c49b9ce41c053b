/*
 * Streaming request bodies and COPY FROM STDIN: bulk ingest reads the body in
 * pieces and pushes rows straight into PostgreSQL, so a worker's memory stays
 * bounded whatever the body's size. What is read is also hashed, for the
 * Idempotency-Key check of streamed requests.
 */
#include "rr.h"

#include <fcgiapp.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long rr_body_read(rr_ctx_t *ctx, char *buf, size_t cap)
{
    if (!ctx->body_stream) /* only routes flagged RR_ROUTE_STREAM_BODY stream */
        return -1;
    if (ctx->body_left == 0)
        return 0;
    size_t want = cap;
    if (want > ctx->body_left)
        want = (size_t)ctx->body_left;
    if (want > (1u << 30))
        want = 1u << 30;
    int n = FCGX_GetStr(buf, (int)want, (FCGX_Stream *)ctx->body_stream);
    if (n <= 0) {
        ctx->body_short = true;
        ctx->body_left = 0;
        return -1;
    }
    ctx->body_left -= (unsigned long long)n;
    if (ctx->body_hash)
        EVP_DigestUpdate((EVP_MD_CTX *)ctx->body_hash, buf, (size_t)n);
    return n;
}

void rr_body_drain(rr_ctx_t *ctx)
{
    char buf[65536];
    while (ctx->body_stream && ctx->body_left > 0)
        if (rr_body_read(ctx, buf, sizeof buf) <= 0)
            break;
}

static void copy_error(rr_ctx_t *ctx, PGresult *r)
{
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    snprintf(ctx->sqlstate, sizeof ctx->sqlstate, "%s", state ? state : "08006");
    const char *msg = r ? PQresultErrorMessage(r) : PQerrorMessage(rr_db_conn(ctx->db));
    ctx->db_error = rr_arena_strdup(ctx->arena, msg ? msg : "COPY failed");
    if (!rr_db_ok(ctx->db))
        ctx->db_lost = true;
}

rr_rc_t rr_copy_begin(rr_ctx_t *ctx, const char *copy_sql)
{
    if (rr_tx_start_now(ctx) != RR_OK)
        return RR_DB_ERROR;
    PGresult *r = PQexec(rr_db_conn(ctx->db), copy_sql);
    if (!r || PQresultStatus(r) != PGRES_COPY_IN) {
        copy_error(ctx, r);
        PQclear(r);
        return RR_DB_ERROR;
    }
    PQclear(r);
    return RR_OK;
}

rr_rc_t rr_copy_put(rr_ctx_t *ctx, const char *data, size_t len)
{
    if (len == 0)
        return RR_OK;
    if (PQputCopyData(rr_db_conn(ctx->db), data, (int)len) != 1) {
        copy_error(ctx, NULL);
        return RR_DB_ERROR;
    }
    return RR_OK;
}

rr_rc_t rr_copy_end(rr_ctx_t *ctx, int64_t *rows)
{
    PGconn *conn = rr_db_conn(ctx->db);
    if (PQputCopyEnd(conn, NULL) != 1) {
        copy_error(ctx, NULL);
        return RR_DB_ERROR;
    }
    PGresult *r = PQgetResult(conn);
    rr_rc_t rc = RR_OK;
    if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
        copy_error(ctx, r);
        rc = RR_DB_ERROR;
    } else if (rows) {
        *rows = strtoll(PQcmdTuples(r), NULL, 10);
    }
    PQclear(r);
    while ((r = PQgetResult(conn)) != NULL)
        PQclear(r);
    return rc;
}
