/*
 * /v1/keys: an admin key lists, creates, shows and revokes its tenant's API
 * keys. A new key's secret is in the 201 answer and nowhere else: only its
 * SHA-256 is stored.
 *
 * A key restricted to one client sees and manages only keys restricted to
 * that same client, and may not create a key broader than itself (no higher
 * scope, no wider client reach): otherwise a restricted key could mint an
 * unrestricted one.
 *
 * Handlers run inside the tenant transaction; every statement still names
 * tenant_id = realreach.current_tenant() so that the index on (tenant_id, id)
 * is used and no query depends on RLS alone for its correctness.
 */
#include "rr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_COLS                                                                               \
    "id, public_id, name, scope, client_id, realreach.iso(created_at),"                        \
    " realreach.iso(expires_at), realreach.iso(revoked_at), rate_limit"

/* ------------------------------------------------------------ schemas */

#define SCOPE_SCHEMA "{\"type\":\"string\",\"enum\":[\"read\",\"write\",\"admin\"]}"
#define KEY_PROPS                                                                              \
    "\"id\":{\"type\":\"integer\",\"readOnly\":true},"                                         \
    "\"public_id\":{\"type\":\"string\",\"readOnly\":true,"                                   \
    "\"description\":\"names the key in lists and logs; not secret\"},"                       \
    "\"name\":{\"type\":[\"string\",\"null\"],\"maxLength\":200},"                             \
    "\"scope\":" SCOPE_SCHEMA ","                                                              \
    "\"client_id\":{\"type\":[\"integer\",\"null\"],"                                          \
    "\"description\":\"the one client the key may see; null: every client\"},"                 \
    "\"created_at\":{\"type\":\"string\",\"format\":\"date-time\",\"readOnly\":true},"         \
    "\"expires_at\":{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"},"                \
    "\"revoked_at\":{\"type\":[\"string\",\"null\"],\"format\":\"date-time\",\"readOnly\":true},"   \
    "\"rate_limit\":{\"type\":[\"integer\",\"null\"],\"readOnly\":true,"                   \
    "\"description\":\"requests/s; null: the service default; set by the operator\"}"
#define KEY_REQUIRED                                                                           \
    "\"required\":[\"id\",\"public_id\",\"name\",\"scope\",\"client_id\",\"created_at\","      \
    "\"expires_at\",\"revoked_at\",\"rate_limit\"]"
#define KEY_SCHEMA "{\"type\":\"object\",\"properties\":{" KEY_PROPS "}," KEY_REQUIRED "}"

static const char list_schema[] = "{\"type\":\"object\",\"properties\":{"
                                  "\"items\":{\"type\":\"array\",\"items\":" KEY_SCHEMA "},"
                                  "\"next_cursor\":{\"type\":[\"string\",\"null\"]}},"
                                  "\"required\":[\"items\",\"next_cursor\"]}";

static const char created_schema[] =
    "{\"type\":\"object\",\"properties\":{" KEY_PROPS ","
    "\"key\":{\"type\":\"string\",\"readOnly\":true,"
    "\"description\":\"the secret key, shown only in this answer\"}},"
    "\"required\":[\"id\",\"public_id\",\"name\",\"scope\",\"client_id\",\"created_at\","
    "\"expires_at\",\"revoked_at\",\"rate_limit\",\"key\"]}";

static const char create_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"scope\"],"
    "\"properties\":{"
    "\"name\":{\"type\":[\"string\",\"null\"],\"maxLength\":200},"
    "\"scope\":" SCOPE_SCHEMA ","
    "\"client_id\":{\"type\":[\"integer\",\"null\"]},"
    "\"expires_at\":{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"}}}";

static const char key_schema[] = KEY_SCHEMA;

/* ------------------------------------------------------------- helpers */

static json_t *text_or_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? json_null() : json_string(PQgetvalue(r, row, col));
}

static json_t *int_or_null(const PGresult *r, int row, int col)
{
    return PQgetisnull(r, row, col) ? json_null()
                                    : json_integer(strtoll(PQgetvalue(r, row, col), NULL, 10));
}

/* One row of KEY_COLS as the API's key object. */
static json_t *key_json(const PGresult *r, int row)
{
    json_t *o = json_object();
    json_object_set_new(o, "id", int_or_null(r, row, 0));
    json_object_set_new(o, "public_id", text_or_null(r, row, 1));
    json_object_set_new(o, "name", text_or_null(r, row, 2));
    json_object_set_new(o, "scope", text_or_null(r, row, 3));
    json_object_set_new(o, "client_id", int_or_null(r, row, 4));
    json_object_set_new(o, "created_at", text_or_null(r, row, 5));
    json_object_set_new(o, "expires_at", text_or_null(r, row, 6));
    json_object_set_new(o, "revoked_at", text_or_null(r, row, 7));
    json_object_set_new(o, "rate_limit", int_or_null(r, row, 8));
    return o;
}

/* The caller's client restriction as a query parameter: NULL when the key
 * may see every client. */
static const char *caller_client(rr_ctx_t *ctx)
{
    return ctx->key.client_id ? rr_arena_sprintf(ctx->arena, "%lld", (long long)ctx->key.client_id)
                              : NULL;
}

static bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

/* rr_time_valid() checks the shape; this also refuses what PostgreSQL would
 * refuse to cast (April 31st, a zone beyond +-15:59), so the cast cannot
 * abort the transaction with an error that names no field. */
static bool date_possible(const char *s)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, mo, d;
    if (!rr_time_valid(s) || sscanf(s, "%4d-%2d-%2d", &y, &mo, &d) != 3)
        return false;
    if (d > mdays[mo - 1] + (mo == 2 && leap(y)))
        return false;
    const char *z = s + 19;
    while (*z && *z != 'Z' && *z != 'z' && *z != '+' && *z != '-')
        z++;
    if (*z == '+' || *z == '-')
        return (z[1] - '0') * 10 + (z[2] - '0') <= 15 && (z[4] - '0') * 10 + (z[5] - '0') <= 59;
    return true;
}

/* ------------------------------------------------------------ handlers */

static rr_rc_t keys_list(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    rr_page_t page;
    if (rr_page_begin(ctx, &page) != RR_OK)
        return RR_INVALID;
    const char *p[3] = {rr_arena_sprintf(ctx->arena, "%lld", (long long)page.after_id),
                        rr_arena_sprintf(ctx->arena, "%d", page.limit + 1), caller_client(ctx)};
    /* one row more than asked tells whether another page follows */
    PGresult *r = rr_db_query(ctx,
                              "SELECT " KEY_COLS " FROM realreach.api_keys"
                              " WHERE tenant_id = realreach.current_tenant() AND id > $1"
                              "   AND ($3::bigint IS NULL OR client_id = $3::bigint)"
                              " ORDER BY id LIMIT $2",
                              3, p);
    if (!r)
        return RR_DB_ERROR;
    return rr_page_respond_rows_as(ctx, &page, r, key_json);
}

static rr_rc_t keys_create(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    static const char *const scopes[] = {"read", "write", "admin", NULL};
    static const rr_field_t fields[] = {
        {"name", RR_FT_STRING, RR_F_NULLABLE, 200, NULL},
        {"scope", RR_FT_STRING, RR_F_REQUIRED, 0, scopes},
        {"client_id", RR_FT_INT, RR_F_NULLABLE, 0, NULL},
        {"expires_at", RR_FT_TIME, RR_F_NULLABLE, 0, NULL},
        {"id", RR_FT_INT, RR_F_READONLY, 0, NULL},
        {"public_id", RR_FT_STRING, RR_F_READONLY, 0, NULL},
        {"tenant_id", RR_FT_INT, RR_F_READONLY, 0, NULL},
        {"created_at", RR_FT_TIME, RR_F_READONLY, 0, NULL},
        {"revoked_at", RR_FT_TIME, RR_F_READONLY, 0, NULL},
        {"key", RR_FT_STRING, RR_F_READONLY, 0, NULL},
        /* the operator sets a key's rate limit (CLI); a tenant may not
         * raise its own */
        {"rate_limit", RR_FT_INT, RR_F_READONLY, 0, NULL},
    };
    json_t *body = rr_req_json(ctx);
    if (!body)
        return RR_INVALID;
    if (rr_json_check(ctx, body, fields, sizeof fields / sizeof *fields) != RR_OK)
        return RR_INVALID;

    rr_scope_t scope;
    rr_scope_parse(json_string_value(json_object_get(body, "scope")), &scope);
    if (scope > ctx->key.scope)
        return rr_problem(ctx, 403, "forbidden", "scope",
                          "a key cannot create a key with a higher scope than its own (%s)",
                          rr_scope_name(ctx->key.scope));

    json_t *jc = json_object_get(body, "client_id");
    long long client = json_is_integer(jc) ? (long long)json_integer_value(jc) : 0;
    if (ctx->key.client_id && client != ctx->key.client_id)
        return rr_problem(ctx, 403, "forbidden", "client_id",
                          "this key is restricted to client %lld and can only create keys "
                          "restricted to that client",
                          (long long)ctx->key.client_id);
    if (json_is_integer(jc) && client <= 0)
        return rr_problem(ctx, 422, "validation", "client_id", "no such client");

    json_t *je = json_object_get(body, "expires_at");
    const char *expires = json_is_string(je) ? json_string_value(je) : NULL;
    if (expires && !date_possible(expires))
        return rr_problem(ctx, 422, "validation", "expires_at", "'expires_at' is not a real date");

    const char *client_s = client ? rr_arena_sprintf(ctx->arena, "%lld", client) : NULL;
    const char *vp[2] = {client_s, expires};
    PGresult *r = rr_db_query(ctx,
                              "SELECT $1::bigint IS NULL OR EXISTS (SELECT 1 FROM realreach.clients"
                              "   WHERE tenant_id = realreach.current_tenant() AND id = $1::bigint),"
                              " $2::timestamptz IS NULL OR $2::timestamptz > now()",
                              2, vp);
    if (!r)
        return RR_DB_ERROR;
    bool client_ok = !strcmp(PQgetvalue(r, 0, 0), "t");
    bool future = !strcmp(PQgetvalue(r, 0, 1), "t");
    PQclear(r);
    if (!client_ok)
        return rr_problem(ctx, 422, "validation", "client_id", "no such client");
    if (!future)
        return rr_problem(ctx, 422, "validation", "expires_at", "'expires_at' is in the past");

    char key[128], public_id[32], hex[65];
    unsigned char digest[32];
    if (rr_key_generate(key, sizeof key, public_id))
        return RR_ERROR;
    rr_key_digest(key, digest);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    json_t *jn = json_object_get(body, "name");
    const char *ip[6] = {public_id, hex, json_is_string(jn) ? json_string_value(jn) : NULL,
                         rr_scope_name(scope), client_s, expires};
    r = rr_db_query(ctx,
                    "INSERT INTO realreach.api_keys"
                    " (tenant_id, public_id, digest, name, scope, client_id, expires_at)"
                    " VALUES (realreach.current_tenant(), $1, decode($2, 'hex'), $3, $4,"
                    " $5::bigint, $6::timestamptz)"
                    " RETURNING " KEY_COLS,
                    6, ip);
    if (!r) {
        memset(key, 0, sizeof key);
        return RR_DB_ERROR;
    }
    json_t *out = key_json(r, 0);
    /* an Idempotency-Key replay gets the record, never the secret again */
    char *record = json_dumps(out, JSON_COMPACT);
    if (record) {
        ctx->idem_body = rr_arena_strdup(ctx->arena, record);
        free(record);
    }
    json_object_set_new(out, "key", json_string(key));
    memset(key, 0, sizeof key);
    char *location = rr_arena_sprintf(ctx->arena, "/v1/keys/%s", PQgetvalue(r, 0, 0));
    rr_log(RR_LOG_INFO, "key %s (id %s, scope %s) created by key %s", public_id,
           PQgetvalue(r, 0, 0), rr_scope_name(scope), ctx->key.public_id);
    PQclear(r);
    rr_header_set(ctx, "Location", location);
    return rr_respond_json(ctx, 201, out);
}

static rr_rc_t keys_get(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    int64_t id;
    if (rr_host_api.param_id(ctx, "key_id", &id) != RR_OK)
        return RR_INVALID;
    const char *p[2] = {rr_arena_sprintf(ctx->arena, "%lld", (long long)id), caller_client(ctx)};
    PGresult *r = rr_db_query(ctx,
                              "SELECT " KEY_COLS " FROM realreach.api_keys"
                              " WHERE tenant_id = realreach.current_tenant() AND id = $1"
                              "   AND ($2::bigint IS NULL OR client_id = $2::bigint)",
                              2, p);
    if (!r)
        return RR_DB_ERROR;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return rr_problem(ctx, 404, "not-found", "key_id", "no such key");
    }
    json_t *o = key_json(r, 0);
    PQclear(r);
    return rr_respond_json(ctx, 200, o);
}

static rr_rc_t keys_revoke(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    int64_t id;
    if (rr_host_api.param_id(ctx, "key_id", &id) != RR_OK)
        return RR_INVALID;
    const char *p[2] = {rr_arena_sprintf(ctx->arena, "%lld", (long long)id), caller_client(ctx)};
    /* revoking twice keeps the first instant: DELETE is idempotent */
    PGresult *r = rr_db_query(ctx,
                              "UPDATE realreach.api_keys SET revoked_at = coalesce(revoked_at, now())"
                              " WHERE tenant_id = realreach.current_tenant() AND id = $1"
                              "   AND ($2::bigint IS NULL OR client_id = $2::bigint)"
                              " RETURNING public_id",
                              2, p);
    if (!r)
        return RR_DB_ERROR;
    if (PQntuples(r) != 1) {
        PQclear(r);
        return rr_problem(ctx, 404, "not-found", "key_id", "no such key");
    }
    rr_log(RR_LOG_INFO, "key %s revoked by key %s", PQgetvalue(r, 0, 0), ctx->key.public_id);
    PQclear(r);
    return rr_respond_raw(ctx, 204, "application/json", NULL, 0);
}

/* ------------------------------------------------------------ register */

void rr_routes_keys_register(void)
{
    static const rr_route_def_t defs[] = {
        {sizeof(rr_route_def_t), "GET", "/v1/keys", RR_SCOPE_ADMIN, keys_list, NULL,
         "List the tenant's API keys (never their secrets)", NULL, list_schema, 0},
        {sizeof(rr_route_def_t), "POST", "/v1/keys", RR_SCOPE_ADMIN, keys_create, NULL,
         "Create an API key; its secret is returned once, in this answer", create_schema,
         created_schema, RR_ROUTE_IDEMPOTENT},
        {sizeof(rr_route_def_t), "GET", "/v1/keys/{key_id}", RR_SCOPE_ADMIN, keys_get, NULL,
         "Show one API key (never its secret)", NULL, key_schema, 0},
        {sizeof(rr_route_def_t), "DELETE", "/v1/keys/{key_id}", RR_SCOPE_ADMIN, keys_revoke,
         NULL, "Revoke an API key (takes effect within the key cache TTL)", NULL, NULL, 0},
    };
    for (size_t i = 0; i < sizeof defs / sizeof *defs; i++)
        if (rr_router_add(&defs[i], "core") != RR_OK)
            rr_log(RR_LOG_ERROR, "cannot register %s %s", defs[i].method, defs[i].path);
}
