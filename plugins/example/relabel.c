/*
 * example plugin — renaming a label, as a job. A label may sit on thousands
 * of accounts, so the route only validates and enqueues (202 Accepted with
 * the job's URL); a job runner does the work later in the tenant's
 * transaction and retries it with backoff if it fails. This is the shape of
 * any long work a plugin does: an audit, a report, a recomputation.
 *
 * The job's payload carries everything the work needs, including the key's
 * client restriction: the job runs without the request's key, so what the
 * caller was allowed to touch must travel with the job.
 */
#include "example.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const rr_field_t rename_fields[] = {
    {.name = "to", .type = RR_FT_STRING, .flags = RR_F_REQUIRED, .max_len = EX_LABEL_MAX},
};

/* POST /v1/labels/{label}/rename  {"to": "new-label"} */
rr_rc_t ex_label_rename_post(rr_ctx_t *ctx, void *user_data)
{
    (void)user_data;
    const char *from = ex_host->req_param(ctx, "label");
    if (!ex_label_valid(from))
        return ex_host->problem(ctx, 404, "not-found", "label", "no such label");
    json_t *body = ex_host->req_json(ctx); /* borrowed; NULL: 400/415 already set */
    if (!body)
        return RR_INVALID;
    rr_rc_t rc = ex_host->json_check(ctx, body, rename_fields,
                                     sizeof rename_fields / sizeof rename_fields[0]);
    if (rc != RR_OK)
        return rc;
    const char *to = json_string_value(json_object_get(body, "to"));
    if (!ex_label_valid(to))
        return ex_host->problem(ctx, 422, "validation", "to",
                                "a label is 1 to %d characters of a-z, 0-9, '-' and '_'",
                                EX_LABEL_MAX);
    if (!strcmp(from, to))
        return ex_host->problem(ctx, 422, "validation", "to", "the label is already called '%s'",
                                to);

    int64_t client = ex_host->key_client_id(ctx);
    json_t *payload = json_pack("{s:s, s:s, s:o}", "from", from, "to", to, "client_id",
                                client ? json_integer(client) : json_null());
    if (!payload)
        return RR_ERROR;
    int64_t job_id = 0;
    rc = ex_host->job_enqueue(ctx, EX_JOB_RELABEL, payload, &job_id); /* payload borrowed */
    json_decref(payload);
    if (rc != RR_OK)
        return rc;
    return ex_host->respond_job_accepted(ctx, job_id);
}

/* Job EX_JOB_RELABEL, payload {"from": "...", "to": "...", "client_id": n|null}.
 * Moves the label in one statement (an account that already carries the new
 * label keeps that one) and returns
 * {"from", "to", "accounts": moved, "merged": already had it}.
 * A payload this version cannot read is refused (RR_INVALID): the payload is
 * stored with the job and may come from another version of the plugin, so it
 * is input like any other. */
rr_rc_t ex_relabel_job(rr_ctx_t *ctx, json_t *payload, json_t **result, void *user_data)
{
    (void)user_data;
    const char *from = json_string_value(json_object_get(payload, "from"));
    const char *to = json_string_value(json_object_get(payload, "to"));
    json_t *client = json_object_get(payload, "client_id");
    if (!ex_label_valid(from) || !ex_label_valid(to) || !strcmp(from, to) ||
        !(json_is_null(client) || (json_is_integer(client) && json_integer_value(client) > 0))) {
        ex_host->log(ctx, RR_LOG_ERROR, "%s: payload is not {from, to, client_id}",
                     EX_JOB_RELABEL);
        return RR_INVALID;
    }
    char client_id[24];
    if (json_is_integer(client))
        snprintf(client_id, sizeof client_id, "%lld", (long long)json_integer_value(client));
    const char *params[] = {from, to, json_is_integer(client) ? client_id : NULL};
    PGresult *res = ex_host->db_query(
        ctx,
        "WITH moved AS ("
        "    DELETE FROM realreach.example_account_labels l"
        "     WHERE l.tenant_id = realreach.current_tenant() AND l.label = $1::text"
        "       AND ($3::bigint IS NULL OR l.account_id IN ("
        "            SELECT a.id FROM realreach.accounts a"
        "             WHERE a.tenant_id = realreach.current_tenant()"
        "               AND a.client_id = $3::bigint))"
        "    RETURNING l.account_id, l.created_at),"
        " added AS ("
        "    INSERT INTO realreach.example_account_labels"
        "                (tenant_id, account_id, label, created_at)"
        "    SELECT realreach.current_tenant(), account_id, $2::text, created_at FROM moved"
        "    ON CONFLICT (tenant_id, account_id, label) DO NOTHING"
        "    RETURNING 1)"
        " SELECT (SELECT count(*) FROM moved), (SELECT count(*) FROM added)",
        3, params);
    if (!res)
        return RR_DB_ERROR;
    if (PQntuples(res) != 1) {
        PQclear(res);
        return RR_ERROR;
    }
    json_int_t moved = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    json_int_t added = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
    PQclear(res);
    *result = json_pack("{s:s, s:s, s:I, s:I}", "from", from, "to", to, "accounts", moved,
                        "merged", moved - added);
    return *result ? RR_OK : RR_ERROR;
}
