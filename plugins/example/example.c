/*
 * example plugin — account labels: the template an agency copies to add its
 * own metric. This file is the plugin's face to the host: the descriptor
 * (RR_PLUGIN), and init(), which registers everything the plugin offers —
 * routes with their scopes and OpenAPI schemas, a job kind, and the SQL
 * migrations embedded from sql/. Handlers live in labels.c and relabel.c.
 *
 * Routes:
 *   GET    /v1/accounts/{account_id}/labels          read   the account's labels
 *   PUT    /v1/accounts/{account_id}/labels/{label}  write  201 added / 200 had it
 *   DELETE /v1/accounts/{account_id}/labels/{label}  write  204 / 404
 *   GET    /v1/labels/{label}/accounts               read   accounts with it (paged)
 *   POST   /v1/labels/{label}/rename                 write  202: job example.relabel
 */
#include "example.h"

#include <stddef.h>

const rr_host_api_t *ex_host;

/* tools/embed turns the files in sql/ into this array (see the Makefile);
 * the type must match the generated one member for member. */
typedef struct {
    const char *name;
    const char *data;
} embedded_file_t;
extern const embedded_file_t example_migrations[];
extern const size_t example_migrations_count;

/* ---- OpenAPI schemas (JSON text). The host publishes them in
 * /v1/openapi.json; the API suite checks responses against them. */
#define LABEL_SCHEMA "{\"type\":\"string\",\"pattern\":\"^[a-z0-9_-]{1,50}$\"}"
#define TIME_SCHEMA "{\"type\":\"string\",\"format\":\"date-time\"}"
#define ID_SCHEMA "{\"type\":\"integer\",\"minimum\":1}"

static const char account_label_schema[] =
    "{\"type\":\"object\",\"required\":[\"account_id\",\"label\",\"created_at\"],"
    "\"properties\":{\"account_id\":" ID_SCHEMA ",\"label\":" LABEL_SCHEMA
    ",\"created_at\":" TIME_SCHEMA "}}";

static const char labels_list_schema[] =
    "{\"type\":\"object\",\"required\":[\"items\"],\"properties\":{\"items\":{"
    "\"type\":\"array\",\"maxItems\":100,\"items\":{\"type\":\"object\","
    "\"required\":[\"label\",\"created_at\"],\"properties\":{\"label\":" LABEL_SCHEMA
    ",\"created_at\":" TIME_SCHEMA "}}}}}";

static const char label_accounts_schema[] =
    "{\"type\":\"object\",\"required\":[\"items\",\"next_cursor\"],\"properties\":{"
    "\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
    "\"required\":[\"id\",\"client_id\",\"platform\",\"handle\",\"labelled_at\"],"
    "\"properties\":{\"id\":" ID_SCHEMA ",\"client_id\":" ID_SCHEMA
    ",\"platform\":{\"type\":\"string\"},\"handle\":{\"type\":\"string\"},"
    "\"labelled_at\":" TIME_SCHEMA "}}},"
    "\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}";

static const char rename_request_schema[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"required\":[\"to\"],"
    "\"properties\":{\"to\":" LABEL_SCHEMA "}}";

static const rr_route_def_t routes[] = {
    {
        .size = sizeof(rr_route_def_t),
        .method = "GET",
        .path = "/v1/accounts/{account_id}/labels",
        .scope = RR_SCOPE_READ,
        .handler = ex_account_labels_get,
        .summary = "List an account's labels (example plugin)",
        .response_schema = labels_list_schema,
    },
    {
        .size = sizeof(rr_route_def_t),
        .method = "PUT",
        .path = "/v1/accounts/{account_id}/labels/{label}",
        .scope = RR_SCOPE_WRITE,
        .handler = ex_account_label_put,
        .summary = "Label an account: 201 when added, 200 when it already had the label",
        .response_schema = account_label_schema,
    },
    {
        .size = sizeof(rr_route_def_t),
        .method = "DELETE",
        .path = "/v1/accounts/{account_id}/labels/{label}",
        .scope = RR_SCOPE_WRITE,
        .handler = ex_account_label_delete,
        .summary = "Remove a label from an account",
    },
    {
        .size = sizeof(rr_route_def_t),
        .method = "GET",
        .path = "/v1/labels/{label}/accounts",
        .scope = RR_SCOPE_READ,
        .handler = ex_label_accounts_get,
        .summary = "List the accounts carrying a label, in account order (paged)",
        .response_schema = label_accounts_schema,
    },
    {
        .size = sizeof(rr_route_def_t),
        .method = "POST",
        .path = "/v1/labels/{label}/rename",
        .scope = RR_SCOPE_WRITE,
        .handler = ex_label_rename_post,
        .summary = "Rename a label on every account (or the key's client's), as a job",
        .request_schema = rename_request_schema,
        .flags = RR_ROUTE_IDEMPOTENT, /* creates a job: honour Idempotency-Key */
        .status = 202,
    },
};

static rr_rc_t example_init(rr_plugin_t *self, const rr_host_api_t *host)
{
    ex_host = host;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (host->route_add(self, &routes[i]) != RR_OK)
            return RR_ERROR;
    if (host->job_kind_add(self, EX_JOB_RELABEL, ex_relabel_job, NULL) != RR_OK)
        return RR_ERROR;
    for (size_t i = 0; i < example_migrations_count; i++)
        if (host->migration_add(self, example_migrations[i].name, example_migrations[i].data) !=
            RR_OK)
            return RR_ERROR;
    return RR_OK;
}

RR_PLUGIN("example", "1.0.0",
          "Account labels: the documented template for an agency's own plugin", example_init,
          NULL)
