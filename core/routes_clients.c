/*
 * Clients (an agency's brands) and their social accounts: list, create, read,
 * update, delete. A key restricted to one client sees only that client: 403
 * for another client of its tenant; other tenants' objects are simply not
 * found (row-level security hides them).
 */
#include "rr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENT_COLS "id, name, notes, realreach.iso(created_at) AS created_at, realreach.iso(updated_at) AS updated_at"
#define ACCOUNT_COLS                                                                       \
    "id, client_id, platform, handle, external_id, relation, realreach.iso(created_at) AS created_at, " \
    "realreach.iso(updated_at) AS updated_at"

static const char *const platforms[] = {"x", "instagram", "tiktok", "facebook", "youtube", "linkedin", NULL};
static const char *const relations[] = {"own", "competitor", NULL};

static const rr_field_t client_fields[] = {
    {"id", RR_FT_INT, RR_F_READONLY, 0, NULL},
    {"tenant_id", RR_FT_INT, RR_F_READONLY, 0, NULL},
    {"created_at", RR_FT_TIME, RR_F_READONLY, 0, NULL},
    {"updated_at", RR_FT_TIME, RR_F_READONLY, 0, NULL},
    {"name", RR_FT_STRING, RR_F_REQUIRED, 200, NULL},
    {"notes", RR_FT_STRING, RR_F_NULLABLE, 4000, NULL},
};
static const rr_field_t account_fields[] = {
    {"id", RR_FT_INT, RR_F_READONLY, 0, NULL},
    {"tenant_id", RR_FT_INT, RR_F_READONLY, 0, NULL},
    {"client_id", RR_FT_INT, RR_F_READONLY, 0, NULL},
    {"created_at", RR_FT_TIME, RR_F_READONLY, 0, NULL},
    {"updated_at", RR_FT_TIME, RR_F_READONLY, 0, NULL},
    {"platform", RR_FT_STRING, RR_F_REQUIRED, 20, platforms},
    {"handle", RR_FT_STRING, RR_F_REQUIRED, 100, NULL},
    {"external_id", RR_FT_STRING, RR_F_NULLABLE, 100, NULL},
    {"relation", RR_FT_STRING, 0, 20, relations},
};
#define NFIELDS(a) (sizeof(a) / sizeof *(a))

/* For a PATCH every field is optional: the same table without REQUIRED. */
static rr_rc_t check_patch(rr_ctx_t *ctx, json_t *body, const rr_field_t *fields, size_t n)
{
    rr_field_t copy[16];
    for (size_t i = 0; i < n && i < 16; i++) {
        copy[i] = fields[i];
        copy[i].flags &= ~RR_F_REQUIRED;
    }
    if (json_object_size(body) == 0)
        return rr_problem(ctx, 422, "validation", NULL, "nothing to change");
    return rr_json_check(ctx, body, copy, n);
}

static const char *opt_str(json_t *body, const char *name)
{
    json_t *v = json_object_get(body, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* 403 when the key is restricted to another client of the tenant. */
static rr_rc_t client_allowed(rr_ctx_t *ctx, int64_t client_id)
{
    if (ctx->key.client_id && ctx->key.client_id != client_id)
        return rr_problem(ctx, 403, "forbidden", NULL, "this key is restricted to another client");
    return RR_OK;
}

static rr_rc_t id_param(rr_ctx_t *ctx, const char *name, int64_t *id)
{
    return rr_host_api.param_id(ctx, name, id);
}

static rr_rc_t respond_one(rr_ctx_t *ctx, PGresult *r, int status, const char *what, const char *location_fmt)
{
    if (!r)
        return RR_DB_ERROR;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return rr_problem(ctx, 404, "not-found", rr_arena_sprintf(ctx->arena, "%s_id", what),
                          "no such %s", what);
    }
    json_t *obj = rr_row_json(r, 0);
    if (location_fmt) {
        char loc[128];
        snprintf(loc, sizeof loc, location_fmt, PQgetvalue(r, 0, PQfnumber(r, "id")));
        rr_header_set(ctx, "Location", loc);
    }
    PQclear(r);
    return rr_respond_json(ctx, status, obj);
}

/* ------------------------------------------------------------ clients */

static rr_rc_t clients_list(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    rr_page_t page;
    if (rr_page_begin(ctx, &page) != RR_OK)
        return RR_INVALID;
    char after[24], limit[16], only[24];
    snprintf(after, sizeof after, "%lld", (long long)page.after_id);
    snprintf(limit, sizeof limit, "%d", page.limit + 1);
    snprintf(only, sizeof only, "%lld", (long long)ctx->key.client_id);
    const char *p[3] = {after, limit, only};
    PGresult *r = rr_db_query(ctx,
                              "SELECT " CLIENT_COLS " FROM realreach.clients"
                              " WHERE tenant_id = realreach.current_tenant() AND id > $1"
                              " AND ($3::bigint = 0 OR id = $3::bigint) ORDER BY id LIMIT $2",
                              3, p);
    if (!r)
        return RR_DB_ERROR;
    return rr_page_respond_rows(ctx, &page, r);
}

static rr_rc_t clients_create(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    if (ctx->key.client_id)
        return rr_problem(ctx, 403, "forbidden", NULL, "a client-restricted key cannot create clients");
    json_t *body = rr_req_json(ctx);
    if (!body || rr_json_check(ctx, body, client_fields, NFIELDS(client_fields)) != RR_OK)
        return RR_INVALID;
    const char *p[2] = {opt_str(body, "name"), opt_str(body, "notes")};
    PGresult *r = rr_db_query(ctx,
                              "INSERT INTO realreach.clients (tenant_id, name, notes)"
                              " VALUES (realreach.current_tenant(), $1, $2) RETURNING " CLIENT_COLS,
                              2, p);
    return respond_one(ctx, r, 201, "client", "/v1/clients/%s");
}

static rr_rc_t clients_get(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    int64_t id;
    if (id_param(ctx, "client_id", &id) != RR_OK || client_allowed(ctx, id) != RR_OK)
        return RR_INVALID;
    const char *p[1] = {rr_host_api.req_param(ctx, "client_id")};
    PGresult *r = rr_db_query(ctx,
                              "SELECT " CLIENT_COLS " FROM realreach.clients"
                              " WHERE tenant_id = realreach.current_tenant() AND id = $1",
                              1, p);
    return respond_one(ctx, r, 200, "client", NULL);
}

static rr_rc_t clients_patch(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    int64_t id;
    if (id_param(ctx, "client_id", &id) != RR_OK || client_allowed(ctx, id) != RR_OK)
        return RR_INVALID;
    json_t *body = rr_req_json(ctx);
    if (!body || check_patch(ctx, body, client_fields, NFIELDS(client_fields)) != RR_OK)
        return RR_INVALID;
    json_t *notes = json_object_get(body, "notes");
    const char *p[4] = {rr_host_api.req_param(ctx, "client_id"), opt_str(body, "name"),
                        opt_str(body, "notes"), notes ? "t" : "f"};
    PGresult *r = rr_db_query(ctx,
                              "UPDATE realreach.clients SET name = COALESCE($2, name),"
                              " notes = CASE WHEN $4::boolean THEN $3 ELSE notes END, updated_at = now()"
                              " WHERE tenant_id = realreach.current_tenant() AND id = $1 RETURNING " CLIENT_COLS,
                              4, p);
    return respond_one(ctx, r, 200, "client", NULL);
}

static rr_rc_t clients_delete(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    int64_t id;
    if (id_param(ctx, "client_id", &id) != RR_OK)
        return RR_INVALID;
    if (ctx->key.client_id)
        return rr_problem(ctx, 403, "forbidden", NULL, "a client-restricted key cannot delete clients");
    const char *p[1] = {rr_host_api.req_param(ctx, "client_id")};
    PGresult *r = rr_db_query(ctx,
                              "DELETE FROM realreach.clients WHERE tenant_id = realreach.current_tenant()"
                              " AND id = $1 RETURNING id",
                              1, p);
    if (!r)
        return RR_DB_ERROR;
    int n = PQntuples(r);
    PQclear(r);
    if (n == 0)
        return rr_problem(ctx, 404, "not-found", "client_id", "no such client");
    return rr_respond_raw(ctx, 204, "application/json", NULL, 0);
}

/* ------------------------------------------------------------ accounts */

static rr_rc_t accounts_list(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    int64_t cid;
    rr_page_t page;
    if (id_param(ctx, "client_id", &cid) != RR_OK || client_allowed(ctx, cid) != RR_OK ||
        rr_page_begin(ctx, &page) != RR_OK)
        return RR_INVALID;
    const char *platform, *relation;
    if (rr_query_one_of(ctx, "platform", platforms, &platform) != RR_OK ||
        rr_query_one_of(ctx, "relation", relations, &relation) != RR_OK)
        return RR_INVALID;
    char after[24], limit[16];
    snprintf(after, sizeof after, "%lld", (long long)page.after_id);
    snprintf(limit, sizeof limit, "%d", page.limit + 1);
    const char *p[5] = {rr_host_api.req_param(ctx, "client_id"), after, limit, platform, relation};
    /* One round trip: the client row, joined to its page of accounts. No row
     * at all: no such client (for this tenant); one row whose id is NULL: the
     * client is there and the page is empty. */
    PGresult *r = rr_db_query(ctx,
                              "SELECT a.* FROM realreach.clients c"
                              " LEFT JOIN LATERAL (SELECT " ACCOUNT_COLS " FROM realreach.accounts"
                              "   WHERE tenant_id = realreach.current_tenant() AND client_id = c.id AND id > $2"
                              "   AND ($4::text IS NULL OR platform = $4) AND ($5::text IS NULL OR relation = $5)"
                              "   ORDER BY id LIMIT $3) a ON true"
                              " WHERE c.tenant_id = realreach.current_tenant() AND c.id = $1 ORDER BY a.id",
                              5, p);
    if (!r)
        return RR_DB_ERROR;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return rr_problem(ctx, 404, "not-found", "client_id", "no such client");
    }
    if (PQgetisnull(r, 0, PQfnumber(r, "id"))) {
        PQclear(r);
        return rr_page_respond(ctx, &page, json_array(), 0);
    }
    return rr_page_respond_rows(ctx, &page, r);
}

static rr_rc_t accounts_create(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    int64_t cid;
    if (id_param(ctx, "client_id", &cid) != RR_OK || client_allowed(ctx, cid) != RR_OK)
        return RR_INVALID;
    json_t *body = rr_req_json(ctx);
    if (!body || rr_json_check(ctx, body, account_fields, NFIELDS(account_fields)) != RR_OK)
        return RR_INVALID;
    const char *relation = opt_str(body, "relation");
    const char *p[5] = {rr_host_api.req_param(ctx, "client_id"), opt_str(body, "platform"),
                        opt_str(body, "handle"), opt_str(body, "external_id"), relation ? relation : "own"};
    /* One round trip: the INSERT takes its client from the tenant's clients,
     * so no row inserted means no such client (for this tenant). */
    PGresult *r = rr_db_query(ctx,
                              "INSERT INTO realreach.accounts (tenant_id, client_id, platform, handle, external_id, relation)"
                              " SELECT realreach.current_tenant(), c.id, $2, $3, $4, $5 FROM realreach.clients c"
                              " WHERE c.tenant_id = realreach.current_tenant() AND c.id = $1 RETURNING " ACCOUNT_COLS,
                              5, p);
    if (!r && !strcmp(ctx->sqlstate, "23505"))
        return rr_problem(ctx, 409, "conflict", "handle",
                          "this client already has an account with this platform and handle");
    if (r && PQntuples(r) == 0) {
        PQclear(r);
        return rr_problem(ctx, 404, "not-found", "client_id", "no such client");
    }
    return respond_one(ctx, r, 201, "account", "/v1/accounts/%s");
}

rr_rc_t rr_account_load_param(rr_ctx_t *ctx, const char *param, rr_account_ref_t *acct)
{
    if (id_param(ctx, param, &acct->id) != RR_OK)
        return RR_INVALID;
    snprintf(acct->id_text, sizeof acct->id_text, "%lld", (long long)acct->id);
    const char *p[1] = {acct->id_text};
    PGresult *r = rr_db_query(ctx,
                              "SELECT client_id, platform, handle FROM realreach.accounts"
                              " WHERE tenant_id = realreach.current_tenant() AND id = $1",
                              1, p);
    if (!r)
        return RR_DB_ERROR;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return rr_problem(ctx, 404, "not-found", param, "no such account");
    }
    acct->client_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    snprintf(acct->platform, sizeof acct->platform, "%s", PQgetvalue(r, 0, 1));
    acct->handle = rr_arena_strdup(ctx->arena, PQgetvalue(r, 0, 2));
    PQclear(r);
    if (!acct->handle)
        return RR_ERROR;
    return client_allowed(ctx, acct->client_id);
}

rr_rc_t rr_account_load(rr_ctx_t *ctx, rr_account_ref_t *acct)
{
    return rr_account_load_param(ctx, "account_id", acct);
}

static rr_rc_t accounts_get(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    int64_t id;
    if (id_param(ctx, "account_id", &id) != RR_OK)
        return RR_INVALID;
    const char *p[1] = {rr_host_api.req_param(ctx, "account_id")};
    /* one query: the client restriction is checked on the row itself */
    PGresult *r = rr_db_query(ctx,
                              "SELECT " ACCOUNT_COLS " FROM realreach.accounts"
                              " WHERE tenant_id = realreach.current_tenant() AND id = $1",
                              1, p);
    if (r && PQntuples(r) == 1 &&
        client_allowed(ctx, strtoll(PQgetvalue(r, 0, PQfnumber(r, "client_id")), NULL, 10)) != RR_OK) {
        PQclear(r);
        return RR_INVALID;
    }
    return respond_one(ctx, r, 200, "account", NULL);
}

static rr_rc_t accounts_patch(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    rr_account_ref_t acct;
    rr_rc_t rc = rr_account_load(ctx, &acct);
    if (rc != RR_OK)
        return rc;
    json_t *body = rr_req_json(ctx);
    if (!body || check_patch(ctx, body, account_fields, NFIELDS(account_fields)) != RR_OK)
        return RR_INVALID;
    if (json_object_get(body, "platform"))
        return rr_problem(ctx, 422, "read-only-field", "platform",
                          "an account's platform cannot change; create another account");
    const char *p[5] = {acct.id_text, opt_str(body, "handle"),
                        opt_str(body, "external_id"), json_object_get(body, "external_id") ? "t" : "f",
                        opt_str(body, "relation")};
    PGresult *r = rr_db_query(ctx,
                              "UPDATE realreach.accounts SET handle = COALESCE($2, handle),"
                              " external_id = CASE WHEN $4::boolean THEN $3 ELSE external_id END,"
                              " relation = COALESCE($5, relation), updated_at = now()"
                              " WHERE tenant_id = realreach.current_tenant() AND id = $1 RETURNING " ACCOUNT_COLS,
                              5, p);
    if (!r && !strcmp(ctx->sqlstate, "23505"))
        return rr_problem(ctx, 409, "conflict", "handle",
                          "this client already has an account with this platform and handle");
    return respond_one(ctx, r, 200, "account", NULL);
}

static rr_rc_t accounts_delete(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    rr_account_ref_t acct;
    rr_rc_t rc = rr_account_load(ctx, &acct);
    if (rc != RR_OK)
        return rc;
    const char *p[1] = {acct.id_text};
    PGresult *r = rr_db_query(ctx,
                              "DELETE FROM realreach.accounts WHERE tenant_id = realreach.current_tenant() AND id = $1",
                              1, p);
    if (!r)
        return RR_DB_ERROR;
    PQclear(r);
    return rr_respond_raw(ctx, 204, "application/json", NULL, 0);
}

#define CLIENT_SCHEMA                                                                            \
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\",\"readOnly\":true},"      \
    "\"name\":{\"type\":\"string\",\"maxLength\":200},\"notes\":{\"type\":[\"string\",\"null\"],\"maxLength\":4000}," \
    "\"created_at\":{\"type\":\"string\",\"format\":\"date-time\",\"readOnly\":true},"           \
    "\"updated_at\":{\"type\":\"string\",\"format\":\"date-time\",\"readOnly\":true}}}"
#define CLIENT_CREATE_SCHEMA                                                                     \
    "{\"type\":\"object\",\"required\":[\"name\"],\"additionalProperties\":false,\"properties\":{" \
    "\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200},\"notes\":{\"type\":[\"string\",\"null\"],\"maxLength\":4000}}}"
#define ACCOUNT_SCHEMA                                                                           \
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\",\"readOnly\":true},"      \
    "\"client_id\":{\"type\":\"integer\",\"readOnly\":true},"                                   \
    "\"platform\":{\"enum\":[\"x\",\"instagram\",\"tiktok\",\"facebook\",\"youtube\",\"linkedin\"]}," \
    "\"handle\":{\"type\":\"string\",\"maxLength\":100},\"external_id\":{\"type\":[\"string\",\"null\"],\"maxLength\":100}," \
    "\"relation\":{\"enum\":[\"own\",\"competitor\"]},"                                         \
    "\"created_at\":{\"type\":\"string\",\"format\":\"date-time\",\"readOnly\":true},"           \
    "\"updated_at\":{\"type\":\"string\",\"format\":\"date-time\",\"readOnly\":true}}}"
#define ACCOUNT_CREATE_SCHEMA                                                                    \
    "{\"type\":\"object\",\"required\":[\"platform\",\"handle\"],\"additionalProperties\":false,\"properties\":{" \
    "\"platform\":{\"enum\":[\"x\",\"instagram\",\"tiktok\",\"facebook\",\"youtube\",\"linkedin\"]}," \
    "\"handle\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":100},\"external_id\":{\"type\":[\"string\",\"null\"],\"maxLength\":100}," \
    "\"relation\":{\"enum\":[\"own\",\"competitor\"]}}}"
#define PAGE_OF(item) "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\",\"items\":" item "},\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}"

void rr_routes_clients_register(void)
{
    static const rr_route_def_t defs[] = {
        {sizeof(rr_route_def_t), "GET", "/v1/clients", RR_SCOPE_READ, clients_list, NULL,
         "List the agency's clients", NULL, PAGE_OF(CLIENT_SCHEMA), 0},
        {sizeof(rr_route_def_t), "POST", "/v1/clients", RR_SCOPE_WRITE, clients_create, NULL,
         "Create a client", CLIENT_CREATE_SCHEMA, CLIENT_SCHEMA, RR_ROUTE_IDEMPOTENT},
        {sizeof(rr_route_def_t), "GET", "/v1/clients/{client_id}", RR_SCOPE_READ, clients_get, NULL,
         "Read a client", NULL, CLIENT_SCHEMA, 0},
        {sizeof(rr_route_def_t), "PATCH", "/v1/clients/{client_id}", RR_SCOPE_WRITE, clients_patch, NULL,
         "Change a client's name or notes", CLIENT_CREATE_SCHEMA, CLIENT_SCHEMA, 0},
        {sizeof(rr_route_def_t), "DELETE", "/v1/clients/{client_id}", RR_SCOPE_WRITE, clients_delete, NULL,
         "Delete a client and everything under it", NULL, NULL, 0},
        {sizeof(rr_route_def_t), "GET", "/v1/clients/{client_id}/accounts", RR_SCOPE_READ, accounts_list, NULL,
         "List a client's social accounts (filters: platform, relation)", NULL, PAGE_OF(ACCOUNT_SCHEMA), 0},
        {sizeof(rr_route_def_t), "POST", "/v1/clients/{client_id}/accounts", RR_SCOPE_WRITE, accounts_create,
         NULL, "Add a social account to a client", ACCOUNT_CREATE_SCHEMA, ACCOUNT_SCHEMA, RR_ROUTE_IDEMPOTENT},
        {sizeof(rr_route_def_t), "GET", "/v1/accounts/{account_id}", RR_SCOPE_READ, accounts_get, NULL,
         "Read an account", NULL, ACCOUNT_SCHEMA, 0},
        {sizeof(rr_route_def_t), "PATCH", "/v1/accounts/{account_id}", RR_SCOPE_WRITE, accounts_patch, NULL,
         "Change an account's handle, external id or relation", ACCOUNT_CREATE_SCHEMA, ACCOUNT_SCHEMA, 0},
        {sizeof(rr_route_def_t), "DELETE", "/v1/accounts/{account_id}", RR_SCOPE_WRITE, accounts_delete, NULL,
         "Delete an account and its data", NULL, NULL, 0},
    };
    for (size_t i = 0; i < sizeof defs / sizeof *defs; i++)
        rr_router_add(&defs[i], "core");
}

rr_rc_t rr_client_allowed(rr_ctx_t *ctx, int64_t client_id) { return client_allowed(ctx, client_id); }
