/*
 * The jobs API: GET /v1/jobs/{job_id} (one job: what a 202's Location points
 * to) and GET /v1/jobs (the tenant's jobs, oldest first, paginated, filtered
 * by state and kind). Jobs are created only by the routes that start work;
 * the runner (jobs.c) changes their state.
 */
#include "rr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RR_JOB_KIND_MAX 100 /* the CHECK on realreach.jobs.kind */

static const char *const job_states[] = {"queued", "running", "done", "failed", NULL};

#define RR_JOB_SCHEMA                                                                    \
    "{\"type\":\"object\","                                                              \
    "\"required\":[\"id\",\"kind\",\"state\",\"attempts\",\"max_attempts\",\"result\","   \
    "\"error\",\"created_at\",\"started_at\",\"finished_at\",\"run_at\",\"url\"],"        \
    "\"properties\":{"                                                                   \
    "\"id\":{\"type\":\"integer\"},"                                                     \
    "\"kind\":{\"type\":\"string\"},"                                                    \
    "\"state\":{\"type\":\"string\",\"enum\":[\"queued\",\"running\",\"done\","          \
    "\"failed\"]},"                                                                      \
    "\"attempts\":{\"type\":\"integer\"},"                                               \
    "\"max_attempts\":{\"type\":\"integer\"},"                                           \
    "\"result\":{\"description\":\"what the job produced (any JSON), null until "        \
    "done\"},"                                                                           \
    "\"error\":{\"type\":[\"string\",\"null\"],"                                         \
    "\"description\":\"why the last attempt failed\"},"                                  \
    "\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                     \
    "\"started_at\":{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"},"          \
    "\"finished_at\":{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"},"         \
    "\"run_at\":{\"type\":\"string\",\"format\":\"date-time\","                          \
    "\"description\":\"when the job is (or was last) due\"},"                            \
    "\"url\":{\"type\":\"string\"}}}"

#define RR_JOB_LIST_SCHEMA                                                               \
    "{\"type\":\"object\",\"required\":[\"items\",\"next_cursor\"],"                     \
    "\"properties\":{\"items\":{\"type\":\"array\",\"items\":" RR_JOB_SCHEMA "},"       \
    "\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}"

/* Built once at registration from the shared column list (constants only:
 * every value is a parameter). */
static char *sql_get;
static char *sql_list;

static rr_rc_t job_get(rr_ctx_t *ctx, void *user_data)
{
    (void)user_data;
    int64_t id;
    rr_rc_t rc = rr_host_api.param_id(ctx, "job_id", &id);
    if (rc != RR_OK)
        return rc;
    char id_text[24];
    snprintf(id_text, sizeof id_text, "%lld", (long long)id);
    char client[24];
    snprintf(client, sizeof client, "%lld", (long long)ctx->key.client_id);
    const char *params[2] = {id_text, client};
    PGresult *r = rr_db_query(ctx, sql_get, 2, params);
    if (!r)
        return RR_DB_ERROR;
    if (PQntuples(r) == 0) {
        PQclear(r);
        /* the same answer as a malformed id: another tenant's ids stay unknowable */
        return rr_problem(ctx, 404, "not-found", "job_id", "no such job_id");
    }
    json_t *job = rr_job_to_json(r, 0);
    PQclear(r);
    return rr_respond_json(ctx, 200, job);
}

static bool kind_valid(const char *kind)
{
    size_t n = strlen(kind);
    if (n == 0 || n > RR_JOB_KIND_MAX)
        return false;
    /* jansson validates UTF-8; the database would refuse it with a 22021 */
    json_t *s = json_string(kind);
    bool ok = s != NULL;
    json_decref(s);
    return ok;
}

static rr_rc_t job_list(rr_ctx_t *ctx, void *user_data)
{
    (void)user_data;
    rr_page_t page;
    rr_rc_t rc = rr_page_begin(ctx, &page);
    if (rc != RR_OK)
        return rc;
    const char *state;
    if (rr_query_one_of(ctx, "state", job_states, &state) != RR_OK)
        return RR_INVALID;
    const char *kind = rr_ctx_query(ctx, "kind");
    if (kind && !kind_valid(kind))
        return rr_problem(ctx, 400, "invalid-parameter", "kind",
                          "kind must be 1 to %d bytes of UTF-8", RR_JOB_KIND_MAX);

    char after[24], limit[16];
    snprintf(after, sizeof after, "%lld", (long long)page.after_id);
    snprintf(limit, sizeof limit, "%d", page.limit + 1); /* one more: is there a next page? */
    char client[24];
    snprintf(client, sizeof client, "%lld", (long long)ctx->key.client_id);
    const char *params[5] = {after, state, kind, limit, client};
    PGresult *r = rr_db_query(ctx, sql_list, 5, params);
    if (!r)
        return RR_DB_ERROR;
    return rr_page_respond_rows_as(ctx, &page, r, rr_job_to_json);
}

void rr_routes_jobs_register(void)
{
    /* a client-restricted key sees only the jobs of its client */
    const char *from = "FROM realreach.jobs WHERE tenant_id = realreach.current_tenant()";
    /* the tenant_id condition is redundant with RLS but lets the planner use
     * the (tenant_id, id) primary key for both lookup and keyset order */
    if (asprintf(&sql_get,
                 "SELECT %s %s AND id = $1 AND ($2::bigint = 0 OR client_id = $2::bigint)",
                 rr_job_columns, from) < 0 ||
        asprintf(&sql_list,
                 "SELECT %s %s AND id > $1 AND ($2::text IS NULL OR state = $2) "
                 "AND ($3::text IS NULL OR kind = $3) "
                 "AND ($5::bigint = 0 OR client_id = $5::bigint) ORDER BY id LIMIT $4",
                 rr_job_columns, from) < 0) {
        rr_log(RR_LOG_ERROR, "jobs routes: out of memory");
        return;
    }
    static const rr_route_def_t defs[] = {
        {.size = sizeof(rr_route_def_t),
         .method = "GET",
         .path = "/v1/jobs/{job_id}",
         .scope = RR_SCOPE_READ,
         .handler = job_get,
         .summary = "Get a job: its state, attempts, and result or error",
         .response_schema = RR_JOB_SCHEMA},
        {.size = sizeof(rr_route_def_t),
         .method = "GET",
         .path = "/v1/jobs",
         .scope = RR_SCOPE_READ,
         .handler = job_list,
         .summary = "List jobs, oldest first; filter with ?state= and ?kind=",
         .response_schema = RR_JOB_LIST_SCHEMA},
    };
    for (size_t i = 0; i < sizeof defs / sizeof defs[0]; i++)
        if (rr_router_add(&defs[i], "core") != RR_OK)
            rr_log(RR_LOG_ERROR, "jobs routes: cannot register %s %s", defs[i].method,
                   defs[i].path);
}
