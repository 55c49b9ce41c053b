/*
 * mock_host — test a realreach plugin without a server or a database.
 *
 * This is what an agency links its plugin's unit tests against. It provides
 * an rr_host_api_t (mock_host_api) whose functions work on a mock request
 * context, so a test can:
 *
 *   1. load the plugin:      mock_plugin_init(rr_plugin_describe)
 *      (runs the descriptor checks the real loader runs, then init(); what
 *      init registered is recorded: routes, job kinds, hooks, sections,
 *      migrations. Route definitions are checked as the server would: a
 *      summary, a well-formed template, schemas that parse as JSON.)
 *   2. build a request:      ctx = mock_ctx_new();
 *                            mock_set_key(ctx, tenant, client, RR_SCOPE_WRITE);
 *                            mock_set_query(ctx, "limit", "2");
 *                            mock_set_body(ctx, "{\"to\":\"vip\"}");
 *   3. script the database:  mock_db_rows(ctx, "id:int8,label", 1, "7", "vip");
 *                            mock_db_fail(ctx, "40001");
 *      Each db_query() call consumes the next scripted answer, in order, and
 *      is recorded (SQL text and parameters) for the test to assert.
 *      account_load() is one such query: mock_db_account(ctx, 3, "x", "brand")
 *      or mock_db_no_account(ctx).
 *   4. run it:               rc = mock_request(ctx, "GET", "/v1/accounts/7/labels");
 *      (matches the registered routes like the router does — literal
 *      segments beat parameters, 404/405 otherwise — checks the key's scope,
 *      fills the path parameters and calls the handler.) Jobs and hooks run
 *      with mock_run_job() and mock_run_hook().
 *   5. assert:               mock_status(ctx), mock_body_json(ctx),
 *                            mock_db_sql(ctx, 0), mock_db_param(ctx, 0, 1),
 *                            mock_header(ctx, "Location"), mock_job_at(ctx, 0)...
 *                            assert_null(mock_verify(ctx));
 *      mock_verify() names the first misuse it saw: a query that does not
 *      scope itself with realreach.current_tenant(), a $N placeholder with
 *      no parameter, a query the test did not script, a scripted answer left
 *      unused, a handler that returned RR_OK without answering, or RR_INVALID
 *      without a problem, a response set twice, registration outside init.
 *
 * Out of memory (the SQLite way): mock_alloc_fail_at(n) makes the n-th
 * allocation made while a plugin callback runs fail — both host->alloc() /
 * host->sprintf() and every jansson allocation (the mock installs jansson
 * allocation functions). Loop n = 1, 2, ... until mock_alloc_failures() stays
 * 0 to drive every out-of-memory path; run the tests under ASan
 * (`make unit SAN=1`) or valgrind to prove no path leaks.
 *
 * What the mock does not do: run SQL (it answers what the test scripted, so
 * the SQL itself is tested by the API suite against PostgreSQL), enforce
 * transactions, or mimic the core's exact cursor text (cursors are opaque:
 * use the next_cursor a response gave you). PQcmdTuples() cannot be scripted
 * (libpq offers no way to set a result's command status): count rows with
 * RETURNING instead, which also reads better.
 *
 * Ownership: strings passed to mock_set_* are copied. Results passed to
 * mock_db_result() are stolen. Everything returned by mock_* accessors is
 * borrowed from the context (or, for registrations, the registry) and lives
 * until mock_ctx_free() (or mock_registry_reset()).
 */
#ifndef RR_MOCK_HOST_H
#define RR_MOCK_HOST_H

#include <realreach/plugin.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern const rr_host_api_t mock_host_api;

/* ------------------------------------------------------------- plugin */
/* Checks the descriptor like the loader does, then calls init() with
 * mock_host_api. Returns init's rc, or RR_ERROR if the descriptor is refused
 * (the reason is in mock_registry_error()). One plugin at a time. */
rr_rc_t mock_plugin_init(rr_plugin_describe_fn describe);
void mock_plugin_fini(void);    /* calls the plugin's fini(), if any */
void mock_registry_reset(void); /* forgets every registration */
const char *mock_registry_error(void); /* first registration misuse, or NULL */

size_t mock_routes_count(void);
/* The route registered for exactly this method and template, or NULL. */
const rr_route_def_t *mock_route_find(const char *method, const char *path);
const rr_route_def_t *mock_route_at(size_t i);
size_t mock_job_kinds_count(void);
bool mock_job_kind_exists(const char *kind);
size_t mock_hooks_count(void);
bool mock_hook_exists(const char *event);
size_t mock_sections_count(void);
size_t mock_migrations_count(void);
const char *mock_migration_name(size_t i);
const char *mock_migration_sql(size_t i);

/* ------------------------------------------------------------ context */
rr_ctx_t *mock_ctx_new(void); /* tenant 1, all clients, scope admin */
void mock_ctx_free(rr_ctx_t *ctx);

void mock_set_key(rr_ctx_t *ctx, int64_t tenant_id, int64_t client_id, rr_scope_t scope);
void mock_set_query(rr_ctx_t *ctx, const char *name, const char *value);
void mock_set_header(rr_ctx_t *ctx, const char *name, const char *value);
/* A JSON body; also sets Content-Type: application/json unless set. The
 * body is what req_body()/req_json() return and what body_read() streams. */
void mock_set_body(rr_ctx_t *ctx, const char *body);
void mock_set_body_raw(rr_ctx_t *ctx, const char *body, size_t len);
/* Path parameters, for calling a handler directly instead of mock_request(). */
void mock_set_param(rr_ctx_t *ctx, const char *name, const char *value);

/* Routes method + path (no query string: use mock_set_query) through the
 * registered routes and calls the handler. Returns the handler's rc, or
 * RR_INVALID with a 404/405/403 problem set as the server would answer. */
rr_rc_t mock_request(rr_ctx_t *ctx, const char *method, const char *path);
/* Runs a registered job kind / every hook registered for event. payload is
 * borrowed; *result (may be NULL) receives the job's result reference. */
rr_rc_t mock_run_job(rr_ctx_t *ctx, const char *kind, json_t *payload, json_t **result);
/* What host->job_attempt() answers in mock_run_job() (default 1). */
void mock_set_job_attempt(rr_ctx_t *ctx, int attempt);
rr_rc_t mock_run_hook(rr_ctx_t *ctx, const char *event, json_t *payload);

/* ----------------------------------------------------------- database */
/* Queues the answer to the next db_query(). columns: comma-separated names,
 * each optionally typed ("id:int8,label,active:bool,meta:jsonb"; types: bool,
 * int2, int4, int8, float4, float8, numeric, json, jsonb, text — the default)
 * so that row_json()/page_respond_rows() give the JSON types the core would;
 * then nrows * ncolumns values, row by row, in PostgreSQL's text form ("t"
 * for true); a NULL value is SQL NULL. */
void mock_db_rows(rr_ctx_t *ctx, const char *columns, int nrows, ...);
void mock_db_command(rr_ctx_t *ctx); /* PGRES_COMMAND_OK, no rows */
void mock_db_fail(rr_ctx_t *ctx, const char *sqlstate); /* db_query returns NULL */
void mock_db_result(rr_ctx_t *ctx, PGresult *res);      /* stolen */
/* account_load() runs one query, as on the server: it takes the next
 * scripted answer and is recorded like any query (mock_db_calls() counts it;
 * mock_db_param(ctx, call, 0) is the account id). Script that answer with
 * mock_db_account() (the tenant has the account: RR_OK, or 403 when the key
 * set with mock_set_key() is restricted to another client), with
 * mock_db_no_account() (404), or with mock_db_fail() (RR_DB_ERROR).
 * platform and handle are copied; NULL gives "x" and "handle". */
void mock_db_account(rr_ctx_t *ctx, int64_t client_id, const char *platform, const char *handle);
void mock_db_no_account(rr_ctx_t *ctx);

int mock_db_calls(const rr_ctx_t *ctx);
const char *mock_db_sql(const rr_ctx_t *ctx, int call);
int mock_db_nparams(const rr_ctx_t *ctx, int call);
const char *mock_db_param(const rr_ctx_t *ctx, int call, int i); /* NULL = SQL NULL */
int mock_db_pending(const rr_ctx_t *ctx); /* scripted answers not yet used */

/* COPY FROM STDIN (copy_begin/copy_put/copy_end): each COPY is recorded with
 * its statement and all the data put. It succeeds unless mock_copy_fail()
 * queued a failure, and copy_end() reports the number of '\n'-terminated
 * lines put (less one when the statement says HEADER) unless
 * mock_copy_rows() queued a count. Both apply to the next COPY. */
void mock_copy_fail(rr_ctx_t *ctx, const char *sqlstate);
void mock_copy_rows(rr_ctx_t *ctx, int64_t rows);
int mock_copies(const rr_ctx_t *ctx);
const char *mock_copy_sql(const rr_ctx_t *ctx, int i);
const char *mock_copy_data(const rr_ctx_t *ctx, int i, size_t *len);
const char *mock_db_last_sqlstate(const rr_ctx_t *ctx); /* of the last failed query */

/* ----------------------------------------------------------- response */
int mock_status(const rr_ctx_t *ctx); /* 0 when nothing was answered */
const char *mock_content_type(const rr_ctx_t *ctx);
const char *mock_body(const rr_ctx_t *ctx, size_t *len);
json_t *mock_body_json(rr_ctx_t *ctx); /* parsed response body; borrowed */
const char *mock_header(const rr_ctx_t *ctx, const char *name);
/* For problem responses: the last part of "type" ("not-found") and "field". */
const char *mock_problem_kind(rr_ctx_t *ctx);
const char *mock_problem_field(rr_ctx_t *ctx);

/* ------------------------------------------------- jobs, events, logs */
int mock_jobs_count(const rr_ctx_t *ctx);
const char *mock_job_kind(const rr_ctx_t *ctx, int i);
json_t *mock_job_payload(const rr_ctx_t *ctx, int i); /* borrowed */
int mock_events_count(const rr_ctx_t *ctx);
const char *mock_event_name(const rr_ctx_t *ctx, int i);
json_t *mock_event_payload(const rr_ctx_t *ctx, int i); /* borrowed */
int mock_logs_count(const rr_ctx_t *ctx);
const char *mock_log_at(const rr_ctx_t *ctx, int i);

/* ------------------------------------------------------------- checks */
/* NULL when the plugin used the host correctly, else what went wrong. */
const char *mock_verify(rr_ctx_t *ctx);

/* ----------------------------------------------------- out of memory */
/* The n-th allocation (1-based) counted from now fails; 0 = none. Only
 * allocations made while a plugin callback runs are counted. */
void mock_alloc_fail_at(unsigned long n);
unsigned long mock_alloc_failures(void); /* failures injected since the last fail_at */
unsigned long mock_alloc_count(void);    /* allocations counted since the last fail_at */

#endif /* RR_MOCK_HOST_H */
