/*
 * example plugin — the label routes. Each handler follows the same steps,
 * which are the ones an agency's own handler should take:
 *   1. read and validate path/query/body input (no database yet);
 *   2. object-level authorisation: is the account this tenant's, and may
 *      this key see its client? host->account_load() answers it as the
 *      core's account routes do (404 for no such account, another tenant's
 *      included; 403 for a key restricted to another client);
 *   3. parameterised SQL only, every statement scoped with
 *      tenant_id = realreach.current_tenant() (row-level security enforces it
 *      too; saying it keeps the indexes used and the intent visible);
 *   4. turn rows into JSON with the host (row_json, rows_json,
 *      page_respond_rows: the column types give the JSON types, so name and
 *      cast the columns in SQL as they should appear), or build it with
 *      json_pack(); hand it to respond_json(), which turns a NULL body (out
 *      of memory) into a 500 — one check covers every allocation.
 * Errors: return the host's problem() (RR_INVALID), RR_DB_ERROR when a query
 * failed (the host maps its SQLSTATE: 503 when the database is down, 409 on
 * a serialization conflict ...), RR_ERROR for anything else.
 */
#include "example.h"

#include <stdio.h>
#include <string.h>

bool ex_label_valid(const char *label)
{
    size_t n = 0;
    if (!label)
        return false;
    for (const char *p = label; *p; p++, n++) {
        char c = *p;
        if (n == EX_LABEL_MAX || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                                   c == '-' || c == '_'))
            return false;
    }
    return n > 0;
}

/* The key's client restriction as a query parameter: NULL (SQL NULL: every
 * client) or the client id written into buf. */
static const char *client_param(rr_ctx_t *ctx, char buf[24])
{
    int64_t client = ex_host->key_client_id(ctx);
    if (client == 0)
        return NULL;
    snprintf(buf, 24, "%lld", (long long)client);
    return buf;
}

/* The columns of one account label as the API shows it:
 * {"account_id": 7, "label": "vip", "created_at": "2025-01-02T03:04:05.000Z"} */
#define LABEL_COLS "account_id, label, realreach.iso(created_at) AS created_at"

/* GET /v1/accounts/{account_id}/labels — a plain list: an account carries at
 * most EX_LABELS_PER_ACCOUNT labels, so there is nothing to page. */
rr_rc_t ex_account_labels_get(rr_ctx_t *ctx, void *user_data)
{
    (void)user_data;
    rr_account_t acct;
    rr_rc_t rc = ex_host->account_load(ctx, "account_id", &acct);
    if (rc != RR_OK)
        return rc;

    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)acct.id);
    const char *params[] = {id};
    PGresult *res = ex_host->db_query(ctx,
                                      "SELECT label, realreach.iso(created_at) AS created_at"
                                      "  FROM realreach.example_account_labels"
                                      " WHERE tenant_id = realreach.current_tenant()"
                                      "   AND account_id = $1::bigint"
                                      " ORDER BY label",
                                      1, params);
    if (!res)
        return RR_DB_ERROR;
    json_t *items = ex_host->rows_json(res); /* NULL if out of memory */
    PQclear(res);
    /* "o" steals items, also when json_pack fails; a NULL body is a 500 */
    return ex_host->respond_json(ctx, 200, json_pack("{s:o}", "items", items));
}

/* PUT /v1/accounts/{account_id}/labels/{label} — idempotent by nature (PUT):
 * 201 with Location when the label was added, 200 when the account had it. */
rr_rc_t ex_account_label_put(rr_ctx_t *ctx, void *user_data)
{
    (void)user_data;
    const char *label = ex_host->req_param(ctx, "label");
    if (!ex_label_valid(label))
        return ex_host->problem(ctx, 422, "validation", "label",
                                "a label is 1 to %d characters of a-z, 0-9, '-' and '_'",
                                EX_LABEL_MAX);
    rr_account_t acct;
    rr_rc_t rc = ex_host->account_load(ctx, "account_id", &acct);
    if (rc != RR_OK)
        return rc;

    char id[24], max[16];
    snprintf(id, sizeof id, "%lld", (long long)acct.id);
    snprintf(max, sizeof max, "%d", EX_LABELS_PER_ACCOUNT);
    const char *params[] = {id, label, max};
    /* Inserts unless the account already has the label or is at its limit.
     * ON CONFLICT waits for a concurrent insert of the same label, so the
     * follow-up SELECT below sees it once it committed. */
    PGresult *res = ex_host->db_query(
        ctx,
        "INSERT INTO realreach.example_account_labels (tenant_id, account_id, label)"
        " SELECT realreach.current_tenant(), $1::bigint, $2::text"
        "  WHERE (SELECT count(*) FROM realreach.example_account_labels"
        "          WHERE tenant_id = realreach.current_tenant()"
        "            AND account_id = $1::bigint) < $3::int"
        " ON CONFLICT (tenant_id, account_id, label) DO NOTHING"
        " RETURNING " LABEL_COLS,
        3, params);
    if (!res)
        return RR_DB_ERROR;
    if (PQntuples(res) == 1) {
        json_t *body = ex_host->row_json(res, 0);
        PQclear(res);
        char *location = ex_host->sprintf(ctx, "/v1/accounts/%lld/labels/%s",
                                          (long long)acct.id, label);
        if (!location || ex_host->header_set(ctx, "Location", location) != RR_OK) {
            json_decref(body);
            return RR_ERROR;
        }
        return ex_host->respond_json(ctx, 201, body);
    }
    PQclear(res);

    res = ex_host->db_query(ctx,
                            "SELECT " LABEL_COLS
                            "  FROM realreach.example_account_labels"
                            " WHERE tenant_id = realreach.current_tenant()"
                            "   AND account_id = $1::bigint AND label = $2::text",
                            2, params);
    if (!res)
        return RR_DB_ERROR;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return ex_host->problem(ctx, 422, "limit-exceeded", "label",
                                "an account carries at most %d labels", EX_LABELS_PER_ACCOUNT);
    }
    json_t *body = ex_host->row_json(res, 0);
    PQclear(res);
    return ex_host->respond_json(ctx, 200, body);
}

/* DELETE /v1/accounts/{account_id}/labels/{label} — 204, or 404 when the
 * account or its label does not exist (403: the key may not see the
 * account's client). */
rr_rc_t ex_account_label_delete(rr_ctx_t *ctx, void *user_data)
{
    (void)user_data;
    const char *label = ex_host->req_param(ctx, "label");
    if (!ex_label_valid(label)) /* a label that cannot exist is simply not found */
        return ex_host->problem(ctx, 404, "not-found", "label", "no such label");
    rr_account_t acct;
    rr_rc_t rc = ex_host->account_load(ctx, "account_id", &acct);
    if (rc != RR_OK)
        return rc;

    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)acct.id);
    const char *params[] = {id, label};
    /* RETURNING counts the rows (PQcmdTuples would work too, but cannot be
     * scripted in the mock host). */
    PGresult *res = ex_host->db_query(ctx,
                                      "DELETE FROM realreach.example_account_labels"
                                      " WHERE tenant_id = realreach.current_tenant()"
                                      "   AND account_id = $1::bigint AND label = $2::text"
                                      " RETURNING 1",
                                      2, params);
    if (!res)
        return RR_DB_ERROR;
    int deleted = PQntuples(res);
    PQclear(res);
    if (!deleted)
        return ex_host->problem(ctx, 404, "not-found", "label", "the account has no such label");
    return ex_host->respond_raw(ctx, 204, NULL, NULL, 0);
}

/* GET /v1/labels/{label}/accounts?limit=&cursor= — keyset pages in account
 * id order: one row more than the page is fetched to learn whether another
 * page follows, without a count(*); page_respond_rows() drops that row and
 * makes the cursor from the "id" column. */
rr_rc_t ex_label_accounts_get(rr_ctx_t *ctx, void *user_data)
{
    (void)user_data;
    const char *label = ex_host->req_param(ctx, "label");
    if (!ex_label_valid(label))
        return ex_host->problem(ctx, 404, "not-found", "label", "no such label");
    rr_page_t page;
    rr_rc_t rc = ex_host->page_begin(ctx, &page);
    if (rc != RR_OK)
        return rc;

    char after[24], client[24], limit[16];
    snprintf(after, sizeof after, "%lld", (long long)page.after_id);
    snprintf(limit, sizeof limit, "%d", page.limit + 1);
    const char *params[] = {label, after, client_param(ctx, client), limit};
    PGresult *res = ex_host->db_query(
        ctx,
        "SELECT a.id, a.client_id, a.platform, a.handle,"
        "       realreach.iso(l.created_at) AS labelled_at"
        "  FROM realreach.example_account_labels l"
        "  JOIN realreach.accounts a"
        "    ON a.tenant_id = l.tenant_id AND a.id = l.account_id"
        " WHERE l.tenant_id = realreach.current_tenant()"
        "   AND a.tenant_id = realreach.current_tenant()"
        "   AND l.label = $1::text AND l.account_id > $2::bigint"
        "   AND ($3::bigint IS NULL OR a.client_id = $3::bigint)"
        " ORDER BY l.account_id"
        " LIMIT $4::int",
        4, params);
    if (!res)
        return RR_DB_ERROR;
    return ex_host->page_respond_rows(ctx, &page, res); /* res: stolen */
}
