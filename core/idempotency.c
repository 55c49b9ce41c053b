/*
 * Idempotency-Key for creating POSTs. Inside the request's tenant
 * transaction:
 *   1. take a transaction-scoped advisory lock on (tenant, key) without
 *      waiting: if another request holds it, answer 409 (still in progress);
 *   2. a stored record with the same request hash replays its answer; with
 *      another hash, 422;
 *   3. otherwise the handler runs and its answer is stored in the same
 *      transaction as its write, so the record exists iff the write does.
 * Only 2xx answers are stored: a failed request changed nothing and may be
 * retried as new.
 */
#include "rr.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void request_hash(rr_ctx_t *ctx, char hex[65])
{
    unsigned char d[SHA256_DIGEST_LENGTH];
    if (ctx->body_hash) {
        /* streamed body: hash what is left too, then finish a copy so the
         * hash can be asked for again */
        rr_body_drain(ctx);
        EVP_MD_CTX *copy = EVP_MD_CTX_new();
        EVP_MD_CTX_copy_ex(copy, (EVP_MD_CTX *)ctx->body_hash);
        EVP_DigestFinal_ex(copy, d, NULL);
        EVP_MD_CTX_free(copy);
        for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
            snprintf(hex + 2 * i, 3, "%02x", d[i]);
        return;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    EVP_DigestUpdate(md, ctx->method, strlen(ctx->method));
    EVP_DigestUpdate(md, " ", 1);
    EVP_DigestUpdate(md, ctx->path, strlen(ctx->path));
    EVP_DigestUpdate(md, "\n", 1);
    if (ctx->body_len)
        EVP_DigestUpdate(md, ctx->body, ctx->body_len);
    EVP_DigestFinal_ex(md, d, NULL);
    EVP_MD_CTX_free(md);
    for (int i = 0; i < SHA256_DIGEST_LENGTH; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}

static bool key_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 255)
        return false;
    for (; *k; k++)
        if ((unsigned char)*k < 0x21 || (unsigned char)*k > 0x7e)
            return false;
    return true;
}

rr_rc_t rr_idem_begin(rr_ctx_t *ctx, const char *key, bool *replayed)
{
    *replayed = false;
    if (!key_ok(key))
        return rr_problem(ctx, 400, "invalid-header", "Idempotency-Key",
                          "Idempotency-Key must be 1-255 visible ASCII characters");
    const char *p[1] = {key};
    PGresult *r = rr_db_query(
        ctx,
        "SELECT pg_try_advisory_xact_lock(hashtextextended(realreach.current_tenant()::text || ':' || $1, 7))",
        1, p);
    if (!r)
        return RR_DB_ERROR;
    bool locked = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
    if (!locked)
        return rr_problem(ctx, 409, "idempotency-in-progress", "Idempotency-Key",
                          "a request with this Idempotency-Key is still running; retry later");
    r = rr_db_query(ctx,
                    "SELECT encode(request_hash, 'hex'), status, location, body FROM realreach.idempotency_keys"
                    " WHERE tenant_id = realreach.current_tenant() AND key = $1",
                    1, p);
    if (!r)
        return RR_DB_ERROR;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return RR_OK;
    }
    char hex[65];
    request_hash(ctx, hex);
    if (strcmp(PQgetvalue(r, 0, 0), hex)) {
        PQclear(r);
        return rr_problem(ctx, 422, "idempotency-mismatch", "Idempotency-Key",
                          "this Idempotency-Key was used with another request");
    }
    int status = atoi(PQgetvalue(r, 0, 1));
    rr_respond_raw(ctx, status, "application/json", PQgetvalue(r, 0, 3),
                   (size_t)PQgetlength(r, 0, 3));
    if (!PQgetisnull(r, 0, 2))
        rr_header_set(ctx, "Location", PQgetvalue(r, 0, 2));
    rr_header_set(ctx, "Idempotent-Replayed", "true");
    PQclear(r);
    *replayed = true;
    return RR_OK;
}

rr_rc_t rr_idem_store(rr_ctx_t *ctx, const char *key)
{
    char hex[65], status[8];
    request_hash(ctx, hex);
    snprintf(status, sizeof status, "%d", ctx->status);
    const char *location = NULL;
    for (rr_header_t *h = ctx->resp_headers; h; h = h->next)
        if (!strcasecmp(h->name, "Location"))
            location = h->value;
    const char *body = ctx->idem_body ? ctx->idem_body : ctx->resp_body ? ctx->resp_body : "";
    const char *p[7] = {key, ctx->method, ctx->path, hex, status, location, body};
    PGresult *r = rr_db_query(
        ctx,
        "INSERT INTO realreach.idempotency_keys (tenant_id, key, method, path, request_hash, status, location, body)"
        " VALUES (realreach.current_tenant(), $1, $2, $3, decode($4, 'hex'), $5::int, $6, $7)",
        7, p);
    if (!r)
        return RR_DB_ERROR;
    PQclear(r);
    return RR_OK;
}
