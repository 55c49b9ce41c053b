/*
 * Unit tests of the example plugin against the mock host: no server, no
 * database. Each test scripts the database answers a handler will get, runs
 * one request, and checks the answer, the SQL parameters that were sent and
 * (mock_verify) that the host API was used correctly. The SQL itself runs
 * against PostgreSQL in the API suite (tests/api).
 *
 * Run: make unit            (or under ASan: make unit SAN=1)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "example.h"
#include "mock_host.h"

/* rr_plugin_describe() is what RR_PLUGIN() defines in example.c. */
const rr_plugin_desc_t *rr_plugin_describe(void);

static int load_plugin(void **state)
{
    (void)state;
    return mock_plugin_init(rr_plugin_describe) == RR_OK ? 0 : -1;
}

static int unload_plugin(void **state)
{
    (void)state;
    mock_plugin_fini();
    mock_registry_reset();
    return 0;
}

/* A request context for tenant 1 with the given scope and client restriction. */
static rr_ctx_t *ctx_for(rr_scope_t scope, int64_t client)
{
    rr_ctx_t *ctx = mock_ctx_new();
    mock_set_key(ctx, 1, client, scope);
    return ctx;
}

static const char *body_str(rr_ctx_t *ctx, const char *key)
{
    return json_string_value(json_object_get(mock_body_json(ctx), key));
}

static json_int_t body_int(rr_ctx_t *ctx, const char *key)
{
    return json_integer_value(json_object_get(mock_body_json(ctx), key));
}

/* ------------------------------------------------------- registration */

static void test_registers_routes_job_and_migration(void **state)
{
    (void)state;
    assert_null(mock_registry_error());
    assert_int_equal(mock_routes_count(), 5);

    const rr_route_def_t *r = mock_route_find("GET", "/v1/accounts/{account_id}/labels");
    assert_non_null(r);
    assert_int_equal(r->scope, RR_SCOPE_READ);
    assert_non_null(r->response_schema);
    r = mock_route_find("PUT", "/v1/accounts/{account_id}/labels/{label}");
    assert_non_null(r);
    assert_int_equal(r->scope, RR_SCOPE_WRITE);
    r = mock_route_find("DELETE", "/v1/accounts/{account_id}/labels/{label}");
    assert_non_null(r);
    assert_int_equal(r->scope, RR_SCOPE_WRITE);
    r = mock_route_find("GET", "/v1/labels/{label}/accounts");
    assert_non_null(r);
    assert_int_equal(r->scope, RR_SCOPE_READ);
    r = mock_route_find("POST", "/v1/labels/{label}/rename");
    assert_non_null(r);
    assert_int_equal(r->scope, RR_SCOPE_WRITE);
    assert_true(r->flags & RR_ROUTE_IDEMPOTENT);
    assert_non_null(r->request_schema);

    assert_true(mock_job_kind_exists("example.relabel"));
    assert_int_equal(mock_job_kinds_count(), 1);
    assert_int_equal(mock_migrations_count(), 1);
    assert_string_equal(mock_migration_name(0), "001_example.sql");
}

/* Cheap guards on the migration: the rules every plugin table must keep. */
static void test_migration_keeps_tenancy_rules(void **state)
{
    (void)state;
    const char *sql = mock_migration_sql(0);
    assert_non_null(sql);
    assert_non_null(strstr(sql, "PRIMARY KEY (tenant_id, account_id, label)"));
    assert_non_null(strstr(sql, "FOREIGN KEY (tenant_id, account_id)"));
    assert_non_null(strstr(sql, "ON DELETE CASCADE"));
    assert_non_null(strstr(sql, "(tenant_id, label, account_id)"));
    assert_non_null(strstr(sql, "ENABLE ROW LEVEL SECURITY"));
    assert_non_null(strstr(sql, "FORCE ROW LEVEL SECURITY"));
    assert_non_null(strstr(sql, "USING (tenant_id = realreach.current_tenant())"));
    assert_non_null(strstr(sql, "WITH CHECK (tenant_id = realreach.current_tenant())"));
    assert_non_null(strstr(sql, "TO realreach_app"));
}

static void test_registration_after_init_is_refused(void **state)
{
    (void)state;
    /* The host freezes its tables after init(); so does the mock. */
    static const rr_route_def_t late = {.size = sizeof(rr_route_def_t), .method = "GET",
                                        .path = "/v1/late", .scope = RR_SCOPE_READ,
                                        .handler = ex_account_labels_get, .summary = "late"};
    assert_int_equal(mock_host_api.route_add(NULL, &late), RR_ERROR);
    assert_non_null(mock_registry_error());
    /* reload so the next tests start clean */
    assert_int_equal(load_plugin(NULL), 0);
}

static void test_label_rules(void **state)
{
    (void)state;
    char longest[EX_LABEL_MAX + 2];
    memset(longest, 'a', sizeof longest);
    longest[EX_LABEL_MAX] = '\0';
    assert_true(ex_label_valid(longest));
    longest[EX_LABEL_MAX] = 'a';
    longest[EX_LABEL_MAX + 1] = '\0';
    assert_false(ex_label_valid(longest));

    assert_true(ex_label_valid("vip"));
    assert_true(ex_label_valid("at-risk"));
    assert_true(ex_label_valid("q3_2025-launch"));
    assert_true(ex_label_valid("0"));
    assert_false(ex_label_valid(""));
    assert_false(ex_label_valid(NULL));
    assert_false(ex_label_valid("VIP"));
    assert_false(ex_label_valid("a b"));
    assert_false(ex_label_valid("a/b"));
    assert_false(ex_label_valid("a%2Fb"));
    assert_false(ex_label_valid("caf\xc3\xa9"));
    assert_false(ex_label_valid("a'b"));
}

/* ---------------------------------------- GET /v1/accounts/{id}/labels */

static void test_list_labels(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_READ, 0);
    mock_db_account(ctx, 3, "x", "brand"); /* account 7 of client 3 */
    mock_db_rows(ctx, "label,created_at", 2, "at-risk", "2025-01-02T03:04:05.000Z", "vip",
                 "2025-02-03T04:05:06.000Z");
    assert_int_equal(mock_request(ctx, "GET", "/v1/accounts/7/labels"), RR_OK);
    assert_int_equal(mock_status(ctx), 200);
    json_t *items = json_object_get(mock_body_json(ctx), "items");
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "label")),
                        "at-risk");
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(items, 1), "created_at")),
        "2025-02-03T04:05:06.000Z");

    assert_int_equal(mock_db_calls(ctx), 2);
    assert_string_equal(mock_db_param(ctx, 0, 0), "7"); /* account_load */
    assert_string_equal(mock_db_param(ctx, 1, 0), "7");
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

static void test_list_labels_empty(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_READ, 0);
    mock_db_account(ctx, 3, "x", "brand");
    mock_db_rows(ctx, "label,created_at", 0);
    assert_int_equal(mock_request(ctx, "GET", "/v1/accounts/7/labels"), RR_OK);
    assert_int_equal(mock_status(ctx), 200);
    assert_int_equal(json_array_size(json_object_get(mock_body_json(ctx), "items")), 0);
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

static void test_unknown_account_is_404(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_READ, 0);
    mock_db_no_account(ctx); /* RLS hides other tenants' accounts */
    assert_int_equal(mock_request(ctx, "GET", "/v1/accounts/999/labels"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 404);
    assert_string_equal(mock_problem_kind(ctx), "not-found");
    assert_string_equal(mock_problem_field(ctx), "account_id");
    assert_string_equal(mock_db_param(ctx, 0, 0), "999");
    assert_int_equal(mock_db_calls(ctx), 1);
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

static void test_client_restricted_key(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_READ, 42);
    mock_db_account(ctx, 3, "x", "brand"); /* account 7 belongs to client 3 */
    assert_int_equal(mock_request(ctx, "GET", "/v1/accounts/7/labels"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 403);
    assert_string_equal(mock_problem_kind(ctx), "forbidden");
    assert_int_equal(mock_db_calls(ctx), 1);
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);

    ctx = ctx_for(RR_SCOPE_READ, 3); /* restricted to the account's own client */
    mock_db_account(ctx, 3, "x", "brand");
    mock_db_rows(ctx, "label,created_at", 0);
    assert_int_equal(mock_request(ctx, "GET", "/v1/accounts/7/labels"), RR_OK);
    assert_int_equal(mock_status(ctx), 200);
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

static void test_impossible_account_ids_are_404_without_query(void **state)
{
    (void)state;
    static const char *const paths[] = {
        "/v1/accounts/0/labels",   "/v1/accounts/-1/labels",
        "/v1/accounts/abc/labels", "/v1/accounts/7x/labels",
        "/v1/accounts/+7/labels",  "/v1/accounts/99999999999999999999/labels",
    };
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        rr_ctx_t *ctx = ctx_for(RR_SCOPE_READ, 0);
        assert_int_equal(mock_request(ctx, "GET", paths[i]), RR_INVALID);
        assert_int_equal(mock_status(ctx), 404);
        assert_int_equal(mock_db_calls(ctx), 0);
        assert_null(mock_verify(ctx));
        mock_ctx_free(ctx);
    }
}

static void test_database_failure_is_db_error(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_READ, 0);
    mock_db_account(ctx, 3, "x", "brand");
    mock_db_fail(ctx, "57P01"); /* the server went away mid-request */
    assert_int_equal(mock_request(ctx, "GET", "/v1/accounts/7/labels"), RR_DB_ERROR);
    assert_int_equal(mock_status(ctx), 0); /* the host answers (503) */
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);

    ctx = ctx_for(RR_SCOPE_READ, 0);
    mock_db_fail(ctx, "40001");
    assert_int_equal(mock_request(ctx, "GET", "/v1/accounts/7/labels"), RR_DB_ERROR);
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

/* ------------------------------------ PUT /v1/accounts/{id}/labels/{l} */

/* What the INSERT ... RETURNING and the SELECT of an existing label give. */
#define LABEL_COLS "account_id:int8,label,created_at"

static void test_put_adds_label(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_WRITE, 0);
    mock_db_account(ctx, 3, "x", "brand");
    mock_db_rows(ctx, LABEL_COLS, 1, "7", "at-risk", "2025-03-01T10:00:00.000Z");
    assert_int_equal(mock_request(ctx, "PUT", "/v1/accounts/7/labels/at-risk"), RR_OK);
    assert_int_equal(mock_status(ctx), 201);
    assert_string_equal(mock_header(ctx, "Location"), "/v1/accounts/7/labels/at-risk");
    assert_int_equal(body_int(ctx, "account_id"), 7);
    assert_string_equal(body_str(ctx, "label"), "at-risk");
    assert_string_equal(body_str(ctx, "created_at"), "2025-03-01T10:00:00.000Z");

    assert_int_equal(mock_db_calls(ctx), 2);
    assert_non_null(strstr(mock_db_sql(ctx, 1), "INSERT INTO realreach.example_account_labels"));
    assert_non_null(strstr(mock_db_sql(ctx, 1), "ON CONFLICT"));
    assert_string_equal(mock_db_param(ctx, 1, 0), "7");
    assert_string_equal(mock_db_param(ctx, 1, 1), "at-risk");
    assert_string_equal(mock_db_param(ctx, 1, 2), "100");
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

static void test_put_existing_label_is_200(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_WRITE, 0);
    mock_db_account(ctx, 3, "x", "brand");
    mock_db_rows(ctx, LABEL_COLS, 0); /* ON CONFLICT DO NOTHING */
    mock_db_rows(ctx, LABEL_COLS, 1, "7", "vip", "2024-12-31T23:59:59.000Z");
    assert_int_equal(mock_request(ctx, "PUT", "/v1/accounts/7/labels/vip"), RR_OK);
    assert_int_equal(mock_status(ctx), 200);
    assert_null(mock_header(ctx, "Location"));
    assert_string_equal(body_str(ctx, "created_at"), "2024-12-31T23:59:59.000Z");
    assert_string_equal(mock_db_param(ctx, 2, 1), "vip");
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

static void test_put_over_the_limit_is_422(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_WRITE, 0);
    mock_db_account(ctx, 3, "x", "brand");
    mock_db_rows(ctx, LABEL_COLS, 0);
    mock_db_rows(ctx, LABEL_COLS, 0); /* not there either: the limit stopped it */
    assert_int_equal(mock_request(ctx, "PUT", "/v1/accounts/7/labels/vip"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 422);
    assert_string_equal(mock_problem_kind(ctx), "limit-exceeded");
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

static void test_put_invalid_label_is_422_without_query(void **state)
{
    (void)state;
    static const char *const paths[] = {
        "/v1/accounts/7/labels/VIP",
        "/v1/accounts/7/labels/a%20b",
        "/v1/accounts/7/labels/x123456789x123456789x123456789x123456789x123456789x",
    };
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        rr_ctx_t *ctx = ctx_for(RR_SCOPE_WRITE, 0);
        assert_int_equal(mock_request(ctx, "PUT", paths[i]), RR_INVALID);
        assert_int_equal(mock_status(ctx), 422);
        assert_string_equal(mock_problem_field(ctx), "label");
        assert_int_equal(mock_db_calls(ctx), 0);
        assert_null(mock_verify(ctx));
        mock_ctx_free(ctx);
    }
}

static void test_put_on_unseen_account_writes_nothing(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_WRITE, 42);
    mock_db_no_account(ctx);
    assert_int_equal(mock_request(ctx, "PUT", "/v1/accounts/8/labels/vip"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 404);
    assert_int_equal(mock_db_calls(ctx), 1); /* nothing written */
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);

    ctx = ctx_for(RR_SCOPE_WRITE, 42); /* another client's account */
    mock_db_account(ctx, 3, "x", "brand");
    assert_int_equal(mock_request(ctx, "PUT", "/v1/accounts/8/labels/vip"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 403);
    assert_int_equal(mock_db_calls(ctx), 1);
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

static void test_read_key_cannot_write(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_READ, 0);
    assert_int_equal(mock_request(ctx, "PUT", "/v1/accounts/7/labels/vip"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 403);
    assert_int_equal(mock_db_calls(ctx), 0);
    mock_ctx_free(ctx);
}

/* --------------------------------- DELETE /v1/accounts/{id}/labels/{l} */

static void test_delete_label(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_WRITE, 0);
    mock_db_account(ctx, 3, "x", "brand");
    mock_db_rows(ctx, "?column?", 1, "1");
    assert_int_equal(mock_request(ctx, "DELETE", "/v1/accounts/7/labels/vip"), RR_OK);
    assert_int_equal(mock_status(ctx), 204);
    size_t len = 1;
    mock_body(ctx, &len);
    assert_int_equal(len, 0);
    assert_string_equal(mock_db_param(ctx, 1, 0), "7");
    assert_string_equal(mock_db_param(ctx, 1, 1), "vip");
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

static void test_delete_missing_label_is_404(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_WRITE, 0);
    mock_db_account(ctx, 3, "x", "brand");
    mock_db_rows(ctx, "?column?", 0);
    assert_int_equal(mock_request(ctx, "DELETE", "/v1/accounts/7/labels/vip"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 404);
    assert_string_equal(mock_problem_field(ctx), "label");
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);

    ctx = ctx_for(RR_SCOPE_WRITE, 0); /* a label that cannot exist: no query */
    assert_int_equal(mock_request(ctx, "DELETE", "/v1/accounts/7/labels/NOPE"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 404);
    assert_int_equal(mock_db_calls(ctx), 0);
    mock_ctx_free(ctx);

    ctx = ctx_for(RR_SCOPE_WRITE, 0); /* an account that is not there */
    mock_db_no_account(ctx);
    assert_int_equal(mock_request(ctx, "DELETE", "/v1/accounts/7/labels/vip"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 404);
    assert_string_equal(mock_problem_field(ctx), "account_id"); /* not the label */
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

/* ------------------------------------------ GET /v1/labels/{l}/accounts */

#define ACCOUNT_COLS "id:int8,client_id:int8,platform,handle,labelled_at"

static void test_label_accounts_pages(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_READ, 0);
    mock_set_query(ctx, "limit", "2");
    /* three rows for a page of two: another page follows */
    mock_db_rows(ctx, ACCOUNT_COLS, 3, "3", "1", "x", "brand", "2025-01-01T00:00:00.000Z", "5",
                 "1", "instagram", "brand.ig", "2025-01-02T00:00:00.000Z", "9", "2", "tiktok",
                 "other", "2025-01-03T00:00:00.000Z");
    assert_int_equal(mock_request(ctx, "GET", "/v1/labels/vip/accounts"), RR_OK);
    assert_int_equal(mock_status(ctx), 200);
    json_t *items = json_object_get(mock_body_json(ctx), "items");
    assert_int_equal(json_array_size(items), 2);
    json_t *second = json_array_get(items, 1);
    assert_int_equal(json_integer_value(json_object_get(second, "id")), 5);
    assert_int_equal(json_integer_value(json_object_get(second, "client_id")), 1);
    assert_string_equal(json_string_value(json_object_get(second, "platform")), "instagram");
    assert_string_equal(json_string_value(json_object_get(second, "handle")), "brand.ig");
    assert_string_equal(json_string_value(json_object_get(second, "labelled_at")),
                        "2025-01-02T00:00:00.000Z");
    const char *next = body_str(ctx, "next_cursor");
    assert_non_null(next);
    char cursor[64];
    snprintf(cursor, sizeof cursor, "%s", next);

    assert_string_equal(mock_db_param(ctx, 0, 0), "vip");
    assert_string_equal(mock_db_param(ctx, 0, 1), "0");
    assert_null(mock_db_param(ctx, 0, 2));
    assert_string_equal(mock_db_param(ctx, 0, 3), "3"); /* limit + 1 */
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);

    /* the next page starts after account 5 and is the last */
    ctx = ctx_for(RR_SCOPE_READ, 0);
    mock_set_query(ctx, "limit", "2");
    mock_set_query(ctx, "cursor", cursor);
    mock_db_rows(ctx, ACCOUNT_COLS, 1, "9", "2", "tiktok", "other", "2025-01-03T00:00:00.000Z");
    assert_int_equal(mock_request(ctx, "GET", "/v1/labels/vip/accounts"), RR_OK);
    assert_string_equal(mock_db_param(ctx, 0, 1), "5");
    assert_int_equal(json_array_size(json_object_get(mock_body_json(ctx), "items")), 1);
    assert_true(json_is_null(json_object_get(mock_body_json(ctx), "next_cursor")));
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

static void test_label_accounts_exact_page_has_no_next(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_READ, 0);
    mock_set_query(ctx, "limit", "1");
    mock_db_rows(ctx, ACCOUNT_COLS, 1, "3", "1", "x", "brand", "2025-01-01T00:00:00.000Z");
    assert_int_equal(mock_request(ctx, "GET", "/v1/labels/vip/accounts"), RR_OK);
    assert_true(json_is_null(json_object_get(mock_body_json(ctx), "next_cursor")));
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

static void test_label_accounts_client_restricted(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_READ, 42);
    mock_db_rows(ctx, ACCOUNT_COLS, 0);
    assert_int_equal(mock_request(ctx, "GET", "/v1/labels/vip/accounts"), RR_OK);
    assert_string_equal(mock_db_param(ctx, 0, 2), "42");
    assert_string_equal(mock_db_param(ctx, 0, 3), "51"); /* default page 50, + 1 */
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

static void test_label_accounts_bad_input(void **state)
{
    (void)state;
    static const char *const limits[] = {"0", "201", "-1", "ten", "", "5x"};
    for (size_t i = 0; i < sizeof limits / sizeof *limits; i++) {
        rr_ctx_t *ctx = ctx_for(RR_SCOPE_READ, 0);
        mock_set_query(ctx, "limit", limits[i]);
        assert_int_equal(mock_request(ctx, "GET", "/v1/labels/vip/accounts"), RR_INVALID);
        assert_int_equal(mock_status(ctx), 400);
        assert_string_equal(mock_problem_field(ctx), "limit");
        assert_int_equal(mock_db_calls(ctx), 0);
        mock_ctx_free(ctx);
    }
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_READ, 0);
    mock_set_query(ctx, "cursor", "forged");
    assert_int_equal(mock_request(ctx, "GET", "/v1/labels/vip/accounts"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 400);
    assert_string_equal(mock_problem_field(ctx), "cursor");
    mock_ctx_free(ctx);

    ctx = ctx_for(RR_SCOPE_READ, 0);
    assert_int_equal(mock_request(ctx, "GET", "/v1/labels/Not-A-Label/accounts"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 404);
    assert_int_equal(mock_db_calls(ctx), 0);
    mock_ctx_free(ctx);
}

/* ------------------------------------ POST /v1/labels/{l}/rename + job */

static void test_rename_enqueues_job(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_WRITE, 0);
    mock_set_body(ctx, "{\"to\":\"priority\"}");
    assert_int_equal(mock_request(ctx, "POST", "/v1/labels/vip/rename"), RR_OK);
    assert_int_equal(mock_status(ctx), 202);
    assert_non_null(mock_header(ctx, "Location"));
    assert_int_equal(mock_jobs_count(ctx), 1);
    assert_string_equal(mock_job_kind(ctx, 0), "example.relabel");
    json_t *p = mock_job_payload(ctx, 0);
    assert_string_equal(json_string_value(json_object_get(p, "from")), "vip");
    assert_string_equal(json_string_value(json_object_get(p, "to")), "priority");
    assert_true(json_is_null(json_object_get(p, "client_id")));
    assert_int_equal(mock_db_calls(ctx), 0); /* the work happens in the job */
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);

    ctx = ctx_for(RR_SCOPE_WRITE, 42); /* the key's restriction travels with the job */
    mock_set_body(ctx, "{\"to\":\"priority\"}");
    assert_int_equal(mock_request(ctx, "POST", "/v1/labels/vip/rename"), RR_OK);
    assert_int_equal(json_integer_value(json_object_get(mock_job_payload(ctx, 0), "client_id")),
                     42);
    mock_ctx_free(ctx);
}

static void test_rename_rejects_bad_bodies(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        const char *ctype;
        int status;
        const char *field;
    } cases[] = {
        {"{\"to\":\"Priority\"}", NULL, 422, "to"},
        {"{\"to\":\"vip\"}", NULL, 422, "to"}, /* same name */
        {"{\"to\":\"\"}", NULL, 422, "to"},
        {"{\"to\":7}", NULL, 422, "to"},
        {"{\"to\":null}", NULL, 422, "to"},
        {"{}", NULL, 422, "to"},
        {"{\"to\":\"a\",\"from\":\"b\"}", NULL, 422, "from"}, /* unknown field */
        {"{\"to\":\"a\",\"to\":\"b\"}", NULL, 400, NULL},     /* duplicate key */
        {"[\"priority\"]", NULL, 400, NULL},
        {"{\"to\":", NULL, 400, NULL},
        {"{\"to\":\"priority\"}", "text/plain", 415, "Content-Type"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        rr_ctx_t *ctx = ctx_for(RR_SCOPE_WRITE, 0);
        if (cases[i].ctype)
            mock_set_header(ctx, "Content-Type", cases[i].ctype);
        mock_set_body(ctx, cases[i].body);
        assert_int_equal(mock_request(ctx, "POST", "/v1/labels/vip/rename"), RR_INVALID);
        assert_int_equal(mock_status(ctx), cases[i].status);
        if (cases[i].field)
            assert_string_equal(mock_problem_field(ctx), cases[i].field);
        assert_int_equal(mock_jobs_count(ctx), 0);
        assert_null(mock_verify(ctx));
        mock_ctx_free(ctx);
    }
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_WRITE, 0); /* no body at all */
    assert_int_equal(mock_request(ctx, "POST", "/v1/labels/vip/rename"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 400);
    mock_ctx_free(ctx);
}

static void test_relabel_job(void **state)
{
    (void)state;
    rr_ctx_t *ctx = mock_ctx_new();
    json_t *payload = json_pack("{s:s, s:s, s:n}", "from", "vip", "to", "priority", "client_id");
    mock_db_rows(ctx, "moved,added", 1, "3", "2");
    json_t *result = NULL;
    assert_int_equal(mock_run_job(ctx, "example.relabel", payload, &result), RR_OK);
    assert_non_null(result);
    assert_int_equal(json_integer_value(json_object_get(result, "accounts")), 3);
    assert_int_equal(json_integer_value(json_object_get(result, "merged")), 1);
    assert_string_equal(mock_db_param(ctx, 0, 0), "vip");
    assert_string_equal(mock_db_param(ctx, 0, 1), "priority");
    assert_null(mock_db_param(ctx, 0, 2));
    assert_null(mock_verify(ctx));
    json_decref(result);
    json_decref(payload);
    mock_ctx_free(ctx);

    ctx = mock_ctx_new(); /* restricted to one client */
    payload = json_pack("{s:s, s:s, s:i}", "from", "vip", "to", "priority", "client_id", 42);
    mock_db_rows(ctx, "moved,added", 1, "0", "0");
    assert_int_equal(mock_run_job(ctx, "example.relabel", payload, NULL), RR_OK);
    assert_string_equal(mock_db_param(ctx, 0, 2), "42");
    assert_null(mock_verify(ctx));
    json_decref(payload);
    mock_ctx_free(ctx);

    ctx = mock_ctx_new(); /* the database fails: the runner retries the job */
    payload = json_pack("{s:s, s:s, s:n}", "from", "vip", "to", "priority", "client_id");
    mock_db_fail(ctx, "40P01");
    assert_int_equal(mock_run_job(ctx, "example.relabel", payload, &result), RR_DB_ERROR);
    assert_null(result);
    assert_null(mock_verify(ctx));
    json_decref(payload);
    mock_ctx_free(ctx);
}

static void test_relabel_job_refuses_bad_payloads(void **state)
{
    (void)state;
    static const char *const payloads[] = {
        "{}",
        "{\"from\":\"vip\"}",
        "{\"from\":\"vip\",\"to\":\"vip\",\"client_id\":null}",
        "{\"from\":\"vip\",\"to\":\"BAD\",\"client_id\":null}",
        "{\"from\":\"vip\",\"to\":\"ok\",\"client_id\":\"42\"}",
        "{\"from\":\"vip\",\"to\":\"ok\",\"client_id\":0}",
        "{\"from\":\"vip\",\"to\":\"ok\"}",
        "[]",
    };
    for (size_t i = 0; i < sizeof payloads / sizeof *payloads; i++) {
        rr_ctx_t *ctx = mock_ctx_new();
        json_t *payload = json_loads(payloads[i], 0, NULL);
        assert_non_null(payload);
        json_t *result = NULL;
        assert_int_equal(mock_run_job(ctx, "example.relabel", payload, &result), RR_INVALID);
        assert_null(result);
        assert_int_equal(mock_db_calls(ctx), 0);
        assert_int_equal(mock_logs_count(ctx), 1);
        json_decref(payload);
        mock_ctx_free(ctx);
    }
}

/* ------------------------------------------------------ out of memory */

/* Runs one scripted request with the n-th allocation failing, for n = 1, 2,
 * ... until a run needs no more allocations than n: every failure path is
 * taken once. The handler must not crash or leak (ASan/valgrind check the
 * latter) and must not claim success with a broken answer. */
typedef void (*script_fn)(rr_ctx_t *ctx);

static void oom_sweep(const char *method, const char *path, rr_scope_t scope, script_fn script,
                      int ok_status)
{
    unsigned long n;
    for (n = 1; n < 10000; n++) {
        rr_ctx_t *ctx = ctx_for(scope, 0);
        script(ctx);
        mock_alloc_fail_at(n);
        rr_rc_t rc = mock_request(ctx, method, path);
        unsigned long failures = mock_alloc_failures();
        mock_alloc_fail_at(0);
        if (rc == RR_OK)
            assert_int_equal(mock_status(ctx), ok_status);
        else
            assert_true(rc == RR_ERROR || rc == RR_INVALID);
        if (!failures) {
            assert_int_equal(rc, RR_OK);
            mock_ctx_free(ctx);
            break;
        }
        mock_ctx_free(ctx);
    }
    assert_true(n > 1); /* the handler allocates, so some run failed */
}

static void script_list(rr_ctx_t *ctx)
{
    mock_db_account(ctx, 3, "x", "brand");
    mock_db_rows(ctx, "label,created_at", 2, "a", "2025-01-01T00:00:00.000Z", "b",
                 "2025-01-01T00:00:00.000Z");
}

static void script_put(rr_ctx_t *ctx)
{
    mock_db_account(ctx, 3, "x", "brand");
    mock_db_rows(ctx, LABEL_COLS, 1, "7", "vip", "2025-01-01T00:00:00.000Z");
}

static void script_pages(rr_ctx_t *ctx)
{
    mock_set_query(ctx, "limit", "1");
    mock_db_rows(ctx, ACCOUNT_COLS, 2, "3", "1", "x", "a", "2025-01-01T00:00:00.000Z", "4", "1",
                 "x", "b", "2025-01-01T00:00:00.000Z");
}

static void script_rename(rr_ctx_t *ctx) { mock_set_body(ctx, "{\"to\":\"priority\"}"); }

static void test_out_of_memory_paths(void **state)
{
    (void)state;
    oom_sweep("GET", "/v1/accounts/7/labels", RR_SCOPE_READ, script_list, 200);
    oom_sweep("PUT", "/v1/accounts/7/labels/vip", RR_SCOPE_WRITE, script_put, 201);
    oom_sweep("GET", "/v1/labels/vip/accounts", RR_SCOPE_READ, script_pages, 200);
    oom_sweep("POST", "/v1/labels/vip/rename", RR_SCOPE_WRITE, script_rename, 202);
}

static void test_out_of_memory_in_job(void **state)
{
    (void)state;
    json_t *payload = json_pack("{s:s, s:s, s:n}", "from", "vip", "to", "priority", "client_id");
    unsigned long n;
    for (n = 1; n < 1000; n++) {
        rr_ctx_t *ctx = mock_ctx_new();
        mock_db_rows(ctx, "moved,added", 1, "3", "3");
        json_t *result = NULL;
        mock_alloc_fail_at(n);
        rr_rc_t rc = mock_run_job(ctx, "example.relabel", payload, &result);
        unsigned long failures = mock_alloc_failures();
        mock_alloc_fail_at(0);
        assert_true(rc == RR_OK ? result != NULL : result == NULL);
        json_decref(result);
        mock_ctx_free(ctx);
        if (!failures) {
            assert_int_equal(rc, RR_OK);
            break;
        }
    }
    assert_true(n > 1);
    json_decref(payload);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registers_routes_job_and_migration),
        cmocka_unit_test(test_migration_keeps_tenancy_rules),
        cmocka_unit_test(test_registration_after_init_is_refused),
        cmocka_unit_test(test_label_rules),
        cmocka_unit_test(test_list_labels),
        cmocka_unit_test(test_list_labels_empty),
        cmocka_unit_test(test_unknown_account_is_404),
        cmocka_unit_test(test_client_restricted_key),
        cmocka_unit_test(test_impossible_account_ids_are_404_without_query),
        cmocka_unit_test(test_database_failure_is_db_error),
        cmocka_unit_test(test_put_adds_label),
        cmocka_unit_test(test_put_existing_label_is_200),
        cmocka_unit_test(test_put_over_the_limit_is_422),
        cmocka_unit_test(test_put_invalid_label_is_422_without_query),
        cmocka_unit_test(test_put_on_unseen_account_writes_nothing),
        cmocka_unit_test(test_read_key_cannot_write),
        cmocka_unit_test(test_delete_label),
        cmocka_unit_test(test_delete_missing_label_is_404),
        cmocka_unit_test(test_label_accounts_pages),
        cmocka_unit_test(test_label_accounts_exact_page_has_no_next),
        cmocka_unit_test(test_label_accounts_client_restricted),
        cmocka_unit_test(test_label_accounts_bad_input),
        cmocka_unit_test(test_rename_enqueues_job),
        cmocka_unit_test(test_rename_rejects_bad_bodies),
        cmocka_unit_test(test_relabel_job),
        cmocka_unit_test(test_relabel_job_refuses_bad_payloads),
        cmocka_unit_test(test_out_of_memory_paths),
        cmocka_unit_test(test_out_of_memory_in_job),
    };
    return cmocka_run_group_tests_name("plugin example", tests, load_plugin, unload_plugin);
}
