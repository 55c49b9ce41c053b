/*
 * Unit tests of the audience plugin's routes, audit job and hooks against
 * the mock host: registration, input checks (before any query), answers
 * built from scripted rows, the COPY text the job writes, and the
 * out-of-memory paths. The SQL itself runs against PostgreSQL in
 * tests/api/test_audience*.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "audience.h"
#include "mock_host.h"

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

static rr_ctx_t *ctx_for(rr_scope_t scope, int64_t client)
{
    rr_ctx_t *ctx = mock_ctx_new();
    mock_set_key(ctx, 1, client, scope);
    return ctx;
}

/* the account lookup every route starts with (host->account_load): account 7
 * of client 3 */
static void script_account(rr_ctx_t *ctx)
{
    mock_db_account(ctx, 3, "x", "brand");
}

#define AUDIT_ROW_COLS                                                                             \
    "id:int8,account_id:int8,snapshot_id:int8,state,model_version,observed_at,created_at,"         \
    "finished_at,job_id:int8,error,followers:int8,fake:int8,suspicious:int8,inactive:int8,"        \
    "genuine:int8,mass_followers:int8,low_confidence:int8,genuine_mass:int8,top_reasons,"          \
    "duration_ms:int8"

static void script_done_audit(rr_ctx_t *ctx)
{
    mock_db_rows(ctx, AUDIT_ROW_COLS, 1, "5", "7", "3", "done", "gbt-test",
                 "2025-01-01T00:00:00.000Z", "2025-01-02T00:00:00.000Z", "2025-01-02T00:00:01.000Z",
                 "101", NULL, "1000", "250", "50", "100", "600", "40", "3", "30",
                 "[{\"code\":\"following_ratio\",\"count\":200,\"share\":0.6667}]", "812");
}

static json_t *body_get(rr_ctx_t *ctx, const char *path)
{
    json_t *j = mock_body_json(ctx);
    char copy[128];
    snprintf(copy, sizeof copy, "%s", path);
    for (char *tok = strtok(copy, "."); tok && j; tok = strtok(NULL, "."))
        j = json_object_get(j, tok);
    return j;
}

/* ------------------------------------------------------- registration */

static void test_registers_routes_job_hooks_and_migration(void **state)
{
    (void)state;
    assert_null(mock_registry_error());
    assert_int_equal(mock_routes_count(), 7);
    const rr_route_def_t *r = mock_route_find("POST", "/v1/accounts/{account_id}/audits");
    assert_non_null(r);
    assert_int_equal(r->scope, RR_SCOPE_WRITE);
    assert_true(r->flags & RR_ROUTE_IDEMPOTENT);
    assert_int_equal(r->status, 202);
    static const char *const reads[] = {
        "/v1/accounts/{account_id}/audits",
        "/v1/accounts/{account_id}/audits/{audit_id}",
        "/v1/accounts/{account_id}/audits/{audit_id}/followers",
        "/v1/accounts/{account_id}/audits/{audit_id}/removal.csv",
        "/v1/accounts/{account_id}/audits/{audit_id}/compare/{other_audit_id}",
        "/v1/accounts/{account_id}/anomalies",
    };
    for (size_t i = 0; i < sizeof reads / sizeof *reads; i++) {
        r = mock_route_find("GET", reads[i]);
        assert_non_null(r);
        assert_int_equal(r->scope, RR_SCOPE_READ);
    }
    assert_true(mock_job_kind_exists("audience.audit"));
    assert_int_equal(mock_hooks_count(), 2);
    assert_true(mock_hook_exists("followers.stored"));
    assert_true(mock_hook_exists("metrics.stored"));
    assert_int_equal(mock_migrations_count(), 1);
    const char *sql = mock_migration_sql(0);
    assert_non_null(strstr(sql, "PRIMARY KEY (tenant_id, audit_id, first_position)"));
    assert_non_null(
        strstr(sql, "REFERENCES realreach.audience_audits (tenant_id, id) ON DELETE CASCADE"));
    assert_non_null(strstr(sql, "WITH (security_invoker = true)"));
    assert_non_null(strstr(sql, "PRIMARY KEY (tenant_id, id)"));
    assert_non_null(strstr(sql, "ENABLE ROW LEVEL SECURITY"));
    assert_non_null(strstr(sql, "FORCE ROW LEVEL SECURITY"));
    assert_non_null(strstr(sql, "USING (tenant_id = realreach.current_tenant())"));
    assert_non_null(strstr(sql, "WITH CHECK (tenant_id = realreach.current_tenant())"));
    assert_non_null(strstr(sql, "TO realreach_app"));
    assert_non_null(strstr(sql, "REFERENCES realreach.accounts (tenant_id, id) ON DELETE CASCADE"));
}

/* ------------------------------------------------------- POST audits */

static void test_post_audit_starts_a_job(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_WRITE, 0);
    script_account(ctx);
    mock_db_rows(ctx, "id:int8,state,followers:int8", 1, "3", "complete", "2014");
    mock_db_rows(ctx, "id:int8", 1, "5");
    mock_db_rows(ctx, AUDIT_ROW_COLS, 1, "5", "7", "3", "queued", "gbt-test",
                 "2025-01-01T00:00:00.000Z", "2025-01-02T00:00:00.000Z", NULL, "101", NULL, NULL,
                 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
    assert_int_equal(mock_request(ctx, "POST", "/v1/accounts/7/audits"), RR_OK);
    assert_int_equal(mock_status(ctx), 202);
    assert_string_equal(mock_header(ctx, "Location"), "/v1/accounts/7/audits/5");
    assert_string_equal(json_string_value(body_get(ctx, "state")), "queued");
    assert_string_equal(json_string_value(body_get(ctx, "job_url")), "/v1/jobs/101");
    assert_true(json_is_null(body_get(ctx, "summary")));
    /* the latest complete snapshot: no snapshot named */
    assert_null(mock_db_param(ctx, 1, 1));
    assert_string_equal(mock_db_param(ctx, 2, 2), aud_model.version);
    assert_int_equal(mock_jobs_count(ctx), 1);
    assert_string_equal(mock_job_kind(ctx, 0), "audience.audit");
    assert_int_equal(json_integer_value(json_object_get(mock_job_payload(ctx, 0), "audit_id")), 5);
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

static void test_post_audit_of_a_named_snapshot(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_WRITE, 0);
    mock_set_body(ctx, "{\"snapshot_id\": 42}");
    script_account(ctx);
    mock_db_rows(ctx, "id:int8,state,followers:int8", 1, "42", "open", "10");
    assert_int_equal(mock_request(ctx, "POST", "/v1/accounts/7/audits"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 409);
    assert_string_equal(mock_problem_kind(ctx), "snapshot-incomplete");
    assert_string_equal(mock_db_param(ctx, 1, 1), "42");
    assert_int_equal(mock_jobs_count(ctx), 0);
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

static void test_post_audit_waits_for_a_merging_snapshot(void **state)
{
    (void)state;
    /* the latest whole snapshot is still merging: 409 with Retry-After,
     * rather than an audit of the snapshot before it */
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_WRITE, 0);
    script_account(ctx);
    mock_db_rows(ctx, "id:int8,state,followers:int8", 1, "43", "merging", "10");
    assert_int_equal(mock_request(ctx, "POST", "/v1/accounts/7/audits"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 409);
    assert_string_equal(mock_problem_kind(ctx), "snapshot-merging");
    assert_string_equal(mock_header(ctx, "Retry-After"), "5");
    assert_int_equal(mock_jobs_count(ctx), 0);
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

static void test_post_audit_bad_input(void **state)
{
    (void)state;
    /* no snapshot at all: 409 with a clear problem */
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_WRITE, 0);
    script_account(ctx);
    mock_db_rows(ctx, "id:int8,state,followers:int8", 0);
    assert_int_equal(mock_request(ctx, "POST", "/v1/accounts/7/audits"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 409);
    assert_string_equal(mock_problem_kind(ctx), "no-snapshot");
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
    /* an unknown snapshot: 404 */
    ctx = ctx_for(RR_SCOPE_WRITE, 0);
    mock_set_body(ctx, "{\"snapshot_id\": 99}");
    script_account(ctx);
    mock_db_rows(ctx, "id:int8,state,followers:int8", 0);
    assert_int_equal(mock_request(ctx, "POST", "/v1/accounts/7/audits"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 404);
    assert_string_equal(mock_problem_field(ctx), "snapshot_id");
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
    /* bodies that are not {"snapshot_id": n}: refused after the account check */
    static const char *const bodies[] = {"{\"snapshot_id\": \"4\"}", "{\"snap\": 4}", "[4]"};
    for (size_t i = 0; i < sizeof bodies / sizeof *bodies; i++) {
        ctx = ctx_for(RR_SCOPE_WRITE, 0);
        mock_set_body(ctx, bodies[i]);
        script_account(ctx);
        assert_int_equal(mock_request(ctx, "POST", "/v1/accounts/7/audits"), RR_INVALID);
        assert_true(mock_status(ctx) == 422 || mock_status(ctx) == 400);
        assert_int_equal(mock_db_calls(ctx), 1);
        assert_null(mock_verify(ctx));
        mock_ctx_free(ctx);
    }
    /* snapshot_id 0 cannot exist */
    ctx = ctx_for(RR_SCOPE_WRITE, 0);
    mock_set_body(ctx, "{\"snapshot_id\": 0}");
    script_account(ctx);
    assert_int_equal(mock_request(ctx, "POST", "/v1/accounts/7/audits"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 404);
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

static void test_accounts_are_checked_first(void **state)
{
    (void)state;
    /* another tenant's (or no) account: 404 */
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_READ, 0);
    mock_db_no_account(ctx);
    assert_int_equal(mock_request(ctx, "GET", "/v1/accounts/7/audits/5"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 404);
    assert_string_equal(mock_problem_kind(ctx), "not-found");
    assert_string_equal(mock_problem_field(ctx), "account_id");
    assert_string_equal(mock_db_param(ctx, 0, 0), "7");
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
    /* a key restricted to client 4 on client 3's account: 403 */
    ctx = ctx_for(RR_SCOPE_WRITE, 4);
    script_account(ctx);
    assert_int_equal(mock_request(ctx, "POST", "/v1/accounts/7/audits"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 403);
    assert_string_equal(mock_problem_kind(ctx), "forbidden");
    assert_int_equal(mock_db_calls(ctx), 1);
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
    /* a key restricted to client 3 may use client 3's account */
    ctx = ctx_for(RR_SCOPE_READ, 3);
    script_account(ctx);
    script_done_audit(ctx);
    assert_int_equal(mock_request(ctx, "GET", "/v1/accounts/7/audits/5"), RR_OK);
    assert_int_equal(mock_status(ctx), 200);
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
    /* the account lookup failed: the host maps the SQLSTATE */
    ctx = ctx_for(RR_SCOPE_READ, 0);
    mock_db_fail(ctx, "57P01");
    assert_int_equal(mock_request(ctx, "GET", "/v1/accounts/7/anomalies"), RR_DB_ERROR);
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
    /* ids that cannot exist: 404 without a query */
    static const char *const paths[] = {"/v1/accounts/0/audits", "/v1/accounts/abc/anomalies",
                                        "/v1/accounts/-1/audits/1"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        ctx = ctx_for(RR_SCOPE_READ, 0);
        assert_int_equal(mock_request(ctx, "GET", paths[i]), RR_INVALID);
        assert_int_equal(mock_status(ctx), 404);
        assert_int_equal(mock_db_calls(ctx), 0);
        mock_ctx_free(ctx);
    }
    /* a read key cannot start an audit */
    ctx = ctx_for(RR_SCOPE_READ, 0);
    assert_int_equal(mock_request(ctx, "POST", "/v1/accounts/7/audits"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 403);
    mock_ctx_free(ctx);
}

/* ---------------------------------------------------------- GET audit */

static void test_audit_summary(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_READ, 0);
    script_account(ctx);
    script_done_audit(ctx);
    assert_int_equal(mock_request(ctx, "GET", "/v1/accounts/7/audits/5"), RR_OK);
    assert_int_equal(mock_status(ctx), 200);
    assert_int_equal(json_integer_value(body_get(ctx, "summary.followers")), 1000);
    assert_int_equal(json_integer_value(body_get(ctx, "summary.classes.fake.count")), 250);
    assert_true(json_real_value(body_get(ctx, "summary.classes.fake.share")) == 0.25);
    assert_true(json_real_value(body_get(ctx, "summary.fake_or_suspicious_share")) == 0.3);
    assert_string_equal(json_string_value(body_get(ctx, "summary.band.name")), "caution");
    assert_string_equal(json_string_value(body_get(ctx, "summary.band.range")), "20-50%");
    assert_int_equal(json_integer_value(body_get(ctx, "summary.real_reach")), 600);
    assert_int_equal(json_integer_value(body_get(ctx, "summary.real_reach_excluding_mass")), 570);
    assert_int_equal(json_integer_value(body_get(ctx, "summary.mass_followers.count")), 40);
    json_t *top = body_get(ctx, "summary.top_reasons");
    assert_int_equal(json_array_size(top), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(top, 0), "code")),
                        "following_ratio");
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

static void test_bands(void **state)
{
    (void)state;
    const char *range;
    assert_string_equal(aud_band(0.0, &range), "normal");
    assert_string_equal(range, "0-10%");
    assert_string_equal(aud_band(0.0999, NULL), "normal");
    assert_string_equal(aud_band(0.10, NULL), "elevated");
    assert_string_equal(aud_band(0.35, NULL), "caution");
    assert_string_equal(aud_band(0.50, NULL), "red_flag");
    assert_string_equal(aud_band(0.70, &range), "mostly_fake");
    assert_string_equal(range, "70-100%");
    assert_string_equal(aud_band(1.0, NULL), "mostly_fake");
}

/* ---------------------------------------------------- followers, CSV */

#define VERDICT_COLS                                                                               \
    "page_key:int8,position:int8,profile_id:int8,external_id,handle,class,score:float8,"           \
    "confidence:float8,mass:bool,reasons:json"

static void test_followers_page_by_class(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_READ, 0);
    mock_set_query(ctx, "class", "fake,suspicious");
    mock_set_query(ctx, "limit", "1");
    script_account(ctx);
    mock_db_rows(ctx, "done:bool", 1, "t");
    mock_db_rows(ctx, "first_position:int8", 2, "0", "10000");
    mock_db_rows(
        ctx, VERDICT_COLS, 2, "1", "0", "12", "x12", "bot12", "fake", "0.98", "1", "t",
        "[{\"code\":\"following_ratio\",\"text\":\"following 3,400 while followed by 12\"}]", "5",
        "4", "13", "x13", "bot13", "suspicious", "0.4", "1", "f", "[]");
    assert_int_equal(mock_request(ctx, "GET", "/v1/accounts/7/audits/5/followers"), RR_OK);
    assert_int_equal(mock_status(ctx), 200);
    json_t *items = body_get(ctx, "items");
    assert_int_equal(json_array_size(items), 1);
    json_t *v = json_array_get(items, 0);
    assert_null(json_object_get(v, "page_key"));
    assert_string_equal(json_string_value(json_object_get(v, "class")), "fake");
    assert_true(json_is_array(json_object_get(v, "reasons")));
    assert_true(json_is_string(body_get(ctx, "next_cursor")));
    assert_string_equal(mock_db_param(ctx, 2, 2), "{3,2}");
    assert_string_equal(mock_db_param(ctx, 2, 1), "0");
    assert_null(mock_db_param(ctx, 2, 3));   /* no mass filter */
    assert_int_equal(mock_db_calls(ctx), 4); /* the first chunk filled the page */
    assert_string_equal(mock_db_param(ctx, 3, 1), "0");
    assert_string_equal(mock_db_param(ctx, 3, 5), "2"); /* the page and one more */
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

static void test_followers_bad_filters_and_unfinished_audit(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"class", "bots"}, {"class", "fake,"}, {"class", "fake,nope"}, {"mass", "1"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rr_ctx_t *ctx = ctx_for(RR_SCOPE_READ, 0);
        mock_set_query(ctx, bad[i][0], bad[i][1]);
        script_account(ctx);
        mock_db_rows(ctx, "done:bool", 1, "t");
        assert_int_equal(mock_request(ctx, "GET", "/v1/accounts/7/audits/5/followers"), RR_INVALID);
        assert_int_equal(mock_status(ctx), 422);
        assert_string_equal(mock_problem_field(ctx), bad[i][0]);
        assert_null(mock_verify(ctx));
        mock_ctx_free(ctx);
    }
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_READ, 0);
    script_account(ctx);
    mock_db_rows(ctx, "done:bool", 1, "f");
    assert_int_equal(mock_request(ctx, "GET", "/v1/accounts/7/audits/5/followers"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 409);
    assert_string_equal(mock_problem_kind(ctx), "audit-not-done");
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
    /* an audit of another account: 404 */
    ctx = ctx_for(RR_SCOPE_READ, 0);
    script_account(ctx);
    mock_db_rows(ctx, "done:bool", 0);
    assert_int_equal(mock_request(ctx, "GET", "/v1/accounts/7/audits/5/removal.csv"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 404);
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

static void test_removal_csv(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_READ, 0);
    script_account(ctx);
    mock_db_rows(ctx, "done:bool", 1, "t");
    mock_db_rows(ctx, "first_position:int8", 1, "0");
    mock_db_rows(ctx, "position:int8,external_id,handle,class,score:numeric,reasons", 2, "3",
                 "1001", "=cmd|x", "fake", "0.9876", "following 3,400 while followed by 12; no bio",
                 "9", "1002", NULL, "fake", "0.5100", "say \"hi\"");
    assert_int_equal(mock_request(ctx, "GET", "/v1/accounts/7/audits/5/removal.csv"), RR_OK);
    assert_int_equal(mock_status(ctx), 200);
    assert_string_equal(mock_content_type(ctx), "text/csv; charset=utf-8");
    assert_non_null(strstr(mock_header(ctx, "Content-Disposition"), "audit-5-removal.csv"));
    assert_null(mock_header(ctx, "Link"));
    size_t len;
    const char *body = mock_body(ctx, &len);
    assert_string_equal(body, "external_id,handle,class,score,reasons\r\n"
                              "\"1001\",\"'=cmd|x\",fake,0.9876,"
                              "\"following 3,400 while followed by 12; no bio\"\r\n"
                              "\"1002\",\"\",fake,0.5100,\"say \"\"hi\"\"\"\r\n");
    assert_string_equal(mock_db_param(ctx, 2, 2), "{3}"); /* fakes by default */
    assert_string_equal(mock_db_param(ctx, 2, 1), "0");   /* from position 0 */
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);

    ctx = ctx_for(RR_SCOPE_READ, 0);
    mock_set_query(ctx, "after", "x");
    script_account(ctx);
    mock_db_rows(ctx, "done:bool", 1, "t");
    assert_int_equal(mock_request(ctx, "GET", "/v1/accounts/7/audits/5/removal.csv"), RR_INVALID);
    assert_int_equal(mock_status(ctx), 422);
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

/* --------------------------------------------------------------- job */

#define FOLLOWER_COLS                                                                              \
    "position:int8,profile_id:int8,handle,has_name:bool,has_bio:bool,has_url:bool,"                \
    "has_location:bool,followers:int8,following:int8,posts:int8,likes:int8,listed:int8,"           \
    "created:int8,last_post:int8,default_avatar:bool,verified:bool"

static void test_audit_job_scores_and_copies(void **state)
{
    (void)state;
    rr_ctx_t *ctx = mock_ctx_new();
    mock_db_rows(ctx, "account_id:int8,snapshot_id:int8,observed:float8,state", 1, "7", "3",
                 "1700000000", "queued");
    mock_db_rows(ctx, "part:int4,chunk:int4", 1, "1", "0");
    mock_db_rows(ctx, FOLLOWER_COLS, 3,
                 /* a person */
                 "2", "21", "maria_rossi", "t", "t", "t", "t", "420", "380", "2500", "900", "4",
                 "1510000000", "1699900000", "f", "f",
                 /* bought */
                 "1", "22", "jdk83749201", "t", "f", "f", "f", "12", "3400", "0", "0", "0",
                 "1696000000", NULL, "t", "f",
                 /* nothing known but the handle */
                 "0", "23", "someone", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                 NULL, NULL, NULL);
    mock_db_command(ctx);                            /* the chunk's verdicts */
    mock_db_rows(ctx, "t:float8,followers:int8", 0); /* no count series */
    mock_db_rows(ctx, "id:int8,t:float8,followers:int8", 1, "3", "1700000000", "3");
    mock_db_rows(ctx, "id:int8", 1, "5"); /* the audit's update */
    json_t *payload = json_pack("{s:i}", "audit_id", 5);
    json_t *result = NULL;
    assert_int_equal(mock_run_job(ctx, "audience.audit", payload, &result), RR_OK);
    assert_non_null(result);
    assert_int_equal(json_integer_value(json_object_get(result, "followers")), 3);
    assert_int_equal(json_integer_value(json_object_get(result, "fake")), 1);
    assert_int_equal(json_integer_value(json_object_get(result, "genuine")), 2);
    assert_int_equal(json_integer_value(json_object_get(result, "mass_followers")), 1);

    /* one row of parallel arrays, in follow order (positions descending) */
    assert_non_null(strstr(mock_db_sql(ctx, 3), "INSERT INTO realreach.audience_verdicts"));
    assert_string_equal(mock_db_param(ctx, 3, 0), "5");
    assert_string_equal(mock_db_param(ctx, 3, 1), "0"); /* first position */
    assert_string_equal(mock_db_param(ctx, 3, 2), "2"); /* last */
    assert_string_equal(mock_db_param(ctx, 3, 3), "3"); /* n */
    assert_string_equal(mock_db_param(ctx, 3, 4), "1"); /* fake */
    assert_string_equal(mock_db_param(ctx, 3, 7), "2"); /* genuine */
    assert_string_equal(mock_db_param(ctx, 3, 8), "1"); /* mass */
    assert_string_equal(mock_db_param(ctx, 3, 9), "{2,1,0}");
    assert_string_equal(mock_db_param(ctx, 3, 10), "{21,22,23}");
    assert_string_equal(mock_db_param(ctx, 3, 11), "{0,3,0}");
    assert_true(!strncmp(mock_db_param(ctx, 3, 12), "{0.", 3));
    assert_string_equal(mock_db_param(ctx, 3, 14), "{f,t,f}");
    const char *reasons = mock_db_param(ctx, 3, 15);
    assert_true(!strncmp(reasons, "{\"[]\",\"[{\\\"code\\\":", 16));
    assert_non_null(strstr(reasons, "following 3,400 while followed by 12"));
    assert_non_null(strstr(reasons, "mass follower: following 3,400 accounts"));
    assert_non_null(strstr(reasons, "missing_data"));
    /* the update carries the counts and the top reasons */
    int last = mock_db_calls(ctx) - 1;
    assert_string_equal(mock_db_param(ctx, last, 1), "3");
    assert_string_equal(mock_db_param(ctx, last, 2), "1");
    assert_non_null(strstr(mock_db_param(ctx, last, 9), "following_ratio"));
    assert_null(mock_verify(ctx));
    json_decref(result);
    json_decref(payload);
    mock_ctx_free(ctx);
}

static void test_audit_job_edge_cases(void **state)
{
    (void)state;
    /* already done: nothing rewritten */
    rr_ctx_t *ctx = mock_ctx_new();
    mock_db_rows(ctx, "account_id:int8,snapshot_id:int8,observed:float8,state", 1, "7", "3",
                 "1700000000", "done");
    json_t *payload = json_pack("{s:i}", "audit_id", 5), *result = NULL;
    assert_int_equal(mock_run_job(ctx, "audience.audit", payload, &result), RR_OK);
    assert_non_null(json_object_get(result, "skipped"));
    assert_int_equal(mock_db_calls(ctx), 1);
    assert_null(mock_verify(ctx));
    json_decref(result);
    mock_ctx_free(ctx);
    /* the audit was deleted (its account was) */
    ctx = mock_ctx_new();
    mock_db_rows(ctx, "account_id:int8,snapshot_id:int8,observed:float8,state", 0);
    result = NULL;
    assert_int_equal(mock_run_job(ctx, "audience.audit", payload, &result), RR_OK);
    assert_null(mock_verify(ctx));
    json_decref(result);
    mock_ctx_free(ctx);
    /* the snapshot went away first */
    ctx = mock_ctx_new();
    mock_db_rows(ctx, "account_id:int8,snapshot_id:int8,observed:float8,state", 1, "7", NULL,
                 "1700000000", "queued");
    result = NULL;
    assert_int_equal(mock_run_job(ctx, "audience.audit", payload, &result), RR_INVALID);
    assert_null(result);
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
    /* a database failure midway rolls the job back */
    ctx = mock_ctx_new();
    mock_db_rows(ctx, "account_id:int8,snapshot_id:int8,observed:float8,state", 1, "7", "3",
                 "1700000000", "queued");
    mock_db_rows(ctx, "part:int4,chunk:int4", 1, "1", "0");
    mock_db_fail(ctx, "57014");
    assert_int_equal(mock_run_job(ctx, "audience.audit", payload, &result), RR_DB_ERROR);
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
    json_decref(payload);
    /* payloads this version cannot read */
    static const char *const bad[] = {"{}", "{\"audit_id\":\"5\"}", "{\"audit_id\":0}", "[]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ctx = mock_ctx_new();
        payload = json_loads(bad[i], 0, NULL);
        assert_int_equal(mock_run_job(ctx, "audience.audit", payload, &result), RR_INVALID);
        assert_int_equal(mock_db_calls(ctx), 0);
        json_decref(payload);
        mock_ctx_free(ctx);
    }
}

/* ------------------------------------------------------------- hooks */

static void test_hooks(void **state)
{
    (void)state;
    /* unreadable payloads are skipped without a query */
    static const char *const bad[] = {"{}", "{\"account_id\":\"7\"}", "{\"account_id\":-2}",
                                      "{\"account_id\":7,\"snapshot_id\":\"x\"}", "null"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rr_ctx_t *ctx = mock_ctx_new();
        json_t *payload = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        assert_int_equal(mock_run_hook(ctx, "metrics.stored", payload), RR_OK);
        assert_int_equal(mock_db_calls(ctx), 0);
        json_decref(payload);
        mock_ctx_free(ctx);
    }
    /* an account deleted since: nothing to do */
    rr_ctx_t *ctx = mock_ctx_new();
    mock_db_rows(ctx, "?column?:int4", 0);
    json_t *payload = json_pack("{s:i, s:i}", "account_id", 7, "snapshot_id", 3);
    assert_int_equal(mock_run_hook(ctx, "followers.stored", payload), RR_OK);
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
    /* no series, no complete snapshot yet: nothing found, nothing stored */
    ctx = mock_ctx_new();
    mock_db_rows(ctx, "?column?:int4", 1, "1");
    mock_db_rows(ctx, "t:float8,followers:int8", 0);
    mock_db_rows(ctx, "id:int8,t:float8,followers:int8", 0);
    assert_int_equal(mock_run_hook(ctx, "followers.stored", payload), RR_OK);
    assert_string_equal(mock_db_param(ctx, 2, 1), "3");
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
    json_decref(payload);
}

static void test_anomalies_list(void **state)
{
    (void)state;
    rr_ctx_t *ctx = ctx_for(RR_SCOPE_READ, 0);
    script_account(ctx);
    mock_db_rows(ctx, "id:int8,source,verdict,evidence:jsonb", 1, "4", "series", "likely_purchase",
                 "[\"gained 5,000\"]");
    assert_int_equal(mock_request(ctx, "GET", "/v1/accounts/7/anomalies"), RR_OK);
    assert_int_equal(mock_status(ctx), 200);
    assert_int_equal(json_array_size(body_get(ctx, "items")), 1);
    assert_null(mock_verify(ctx));
    mock_ctx_free(ctx);
}

/* ---------------------------------------------------- out of memory */

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
        mock_ctx_free(ctx);
        if (!failures) {
            assert_int_equal(rc, RR_OK);
            break;
        }
    }
    assert_true(n > 1);
}

static void script_get(rr_ctx_t *ctx)
{
    script_account(ctx);
    script_done_audit(ctx);
}

static void script_post(rr_ctx_t *ctx)
{
    script_account(ctx);
    mock_db_rows(ctx, "id:int8,state,followers:int8", 1, "3", "complete", "2014");
    mock_db_rows(ctx, "id:int8", 1, "5");
    mock_db_rows(ctx, AUDIT_ROW_COLS, 1, "5", "7", "3", "queued", "gbt-test",
                 "2025-01-01T00:00:00.000Z", "2025-01-02T00:00:00.000Z", NULL, "101", NULL, NULL,
                 NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
}

static void script_csv(rr_ctx_t *ctx)
{
    script_account(ctx);
    mock_db_rows(ctx, "done:bool", 1, "t");
    mock_db_rows(ctx, "first_position:int8", 1, "0");
    mock_db_rows(ctx, "position:int8,external_id,handle,class,score:numeric,reasons", 1, "3",
                 "1001", "h", "fake", "0.9876", "no bio");
}

static void test_out_of_memory_paths(void **state)
{
    (void)state;
    oom_sweep("GET", "/v1/accounts/7/audits/5", RR_SCOPE_READ, script_get, 200);
    oom_sweep("POST", "/v1/accounts/7/audits", RR_SCOPE_WRITE, script_post, 202);
    oom_sweep("GET", "/v1/accounts/7/audits/5/removal.csv", RR_SCOPE_READ, script_csv, 200);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_registers_routes_job_hooks_and_migration),
        cmocka_unit_test(test_post_audit_starts_a_job),
        cmocka_unit_test(test_post_audit_of_a_named_snapshot),
        cmocka_unit_test(test_post_audit_waits_for_a_merging_snapshot),
        cmocka_unit_test(test_post_audit_bad_input),
        cmocka_unit_test(test_accounts_are_checked_first),
        cmocka_unit_test(test_audit_summary),
        cmocka_unit_test(test_bands),
        cmocka_unit_test(test_followers_page_by_class),
        cmocka_unit_test(test_followers_bad_filters_and_unfinished_audit),
        cmocka_unit_test(test_removal_csv),
        cmocka_unit_test(test_audit_job_scores_and_copies),
        cmocka_unit_test(test_audit_job_edge_cases),
        cmocka_unit_test(test_hooks),
        cmocka_unit_test(test_anomalies_list),
        cmocka_unit_test(test_out_of_memory_paths),
    };
    return cmocka_run_group_tests(tests, load_plugin, unload_plugin);
}
