/*
 * Request and response plumbing: query-string decoding, header lookup,
 * problem documents (RFC 9457), header injection refused, the SQLSTATE to
 * status mapping, and query rows as typed JSON (including what happens when
 * memory runs out half-way).
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

static void test_query_decoding(void **state)
{
    (void)state;
    unit_ctx_t *u = unit_ctx_new("a=1&b=x%20y&c=p+q&a=2&empty=&flag&%41=%42&bad=%zz&nul=%00&t=%E2%82%AC");
    rr_ctx_t *c = &u->ctx;
    assert_string_equal(rr_ctx_query(c, "a"), "1"); /* first value wins */
    assert_string_equal(rr_ctx_query(c, "b"), "x y");
    assert_string_equal(rr_ctx_query(c, "c"), "p q");
    assert_string_equal(rr_ctx_query(c, "empty"), "");
    assert_string_equal(rr_ctx_query(c, "flag"), "");
    assert_string_equal(rr_ctx_query(c, "A"), "B");
    assert_null(rr_ctx_query(c, "bad")); /* malformed escapes are dropped */
    assert_null(rr_ctx_query(c, "nul")); /* so are NUL bytes */
    assert_string_equal(rr_ctx_query(c, "t"), "\xe2\x82\xac");
    assert_null(rr_ctx_query(c, "missing"));
    unit_ctx_free(u);

    u = unit_ctx_new(NULL);
    assert_null(rr_ctx_query(&u->ctx, "a"));
    unit_ctx_free(u);
    u = unit_ctx_new("&&&=&%");
    assert_null(rr_ctx_query(&u->ctx, "%"));
    unit_ctx_free(u);

    /* many parameters: bounded, no crash */
    char *big = malloc(64 * 1024);
    big[0] = '\0';
    for (int i = 0; i < 5000; i++)
        strcat(big, "k=v&");
    u = unit_ctx_new(big);
    assert_string_equal(rr_ctx_query(&u->ctx, "k"), "v");
    unit_ctx_free(u);
    free(big);
}

static void test_header_lookup(void **state)
{
    (void)state;
    unit_ctx_t *u = unit_ctx_new(NULL);
    rr_kv_t headers[] = {{"content-type", "application/json"}, {"idempotency-key", "k1"}};
    u->ctx.headers = headers;
    u->ctx.nheaders = 2;
    assert_string_equal(rr_ctx_header(&u->ctx, "Content-Type"), "application/json");
    assert_string_equal(rr_ctx_header(&u->ctx, "IDEMPOTENCY-KEY"), "k1");
    assert_null(rr_ctx_header(&u->ctx, "Authorization"));
    unit_ctx_free(u);
}

static void test_problem_document(void **state)
{
    (void)state;
    unit_ctx_t *u = unit_ctx_new(NULL);
    assert_int_equal(rr_problem(&u->ctx, 422, "validation", "name", "'%s' is bad", "name"),
                     RR_INVALID);
    assert_int_equal(u->ctx.status, 422);
    assert_true(u->ctx.responded);
    assert_string_equal(u->ctx.content_type, "application/problem+json");
    assert_string_equal(unit_resp_str(u, "type"), RR_PROBLEM_BASE "validation");
    assert_non_null(unit_resp_str(u, "title"));
    assert_int_equal(json_integer_value(json_object_get(unit_resp(u), "status")), 422);
    assert_string_equal(unit_resp_str(u, "detail"), "'name' is bad");
    assert_string_equal(unit_resp_str(u, "field"), "name");
    assert_string_equal(unit_resp_str(u, "request_id"), "unit-test");
    unit_ctx_free(u);

    /* detail quoting invalid UTF-8 from a client still yields valid JSON */
    u = unit_ctx_new(NULL);
    rr_problem(&u->ctx, 400, "invalid-parameter", "\xff", "bad value '%s'", "\xff\xfe");
    assert_non_null(unit_resp(u));
    assert_int_equal(u->ctx.status, 400);
    unit_ctx_free(u);

    /* errors appended to a problem */
    u = unit_ctx_new(NULL);
    rr_problem(&u->ctx, 422, "validation", NULL, "rows rejected");
    rr_problem_add_errors(&u->ctx, json_pack("[{s:i}]", "row", 3));
    json_t *errors = json_object_get(unit_resp(u), "errors");
    assert_int_equal(json_array_size(errors), 1);
    assert_string_equal(unit_resp_str(u, "type"), RR_PROBLEM_BASE "validation");
    unit_ctx_free(u);
}

static void test_header_injection_refused(void **state)
{
    (void)state;
    unit_ctx_t *u = unit_ctx_new(NULL);
    assert_int_equal(rr_header_set(&u->ctx, "Location", "/v1/x\r\nSet-Cookie: a=b"), RR_ERROR);
    assert_int_equal(rr_header_set(&u->ctx, "X-A\r\nB", "v"), RR_ERROR);
    assert_int_equal(rr_header_set(&u->ctx, "X-A: B", "v"), RR_ERROR);
    assert_int_equal(rr_header_set(&u->ctx, "Location", "/v1/x"), RR_OK);
    assert_int_equal(rr_header_set(&u->ctx, "location", "/v1/y"), RR_OK); /* replaces */
    int n = 0;
    for (rr_header_t *h = u->ctx.resp_headers; h; h = h->next) {
        n++;
        assert_string_equal(h->value, "/v1/y");
    }
    assert_int_equal(n, 1);
    unit_ctx_free(u);
}

static void db_maps(const char *sqlstate, bool lost, int status, const char *kind)
{
    unit_ctx_t *u = unit_ctx_new(NULL);
    snprintf(u->ctx.sqlstate, sizeof u->ctx.sqlstate, "%s", sqlstate);
    u->ctx.db_lost = lost;
    assert_int_equal(rr_problem_from_db(&u->ctx), RR_INVALID);
    if (u->ctx.status != status)
        fail_msg("SQLSTATE %s: %d, expected %d", sqlstate, u->ctx.status, status);
    assert_string_equal(unit_problem_kind(u), kind);
    /* never the database's own words in the answer */
    assert_null(strstr(u->ctx.resp_body, "ERROR"));
    unit_ctx_free(u);
}

static void test_sqlstate_mapping(void **state)
{
    (void)state;
    db_maps("08006", false, 503, "unavailable");
    db_maps("57P01", false, 503, "unavailable");
    db_maps("53300", false, 503, "unavailable");
    db_maps("", true, 503, "unavailable");
    db_maps("40001", false, 409, "conflict");
    db_maps("40P01", false, 409, "conflict");
    db_maps("23505", false, 409, "conflict");
    db_maps("23503", false, 422, "invalid-reference");
    db_maps("22P02", false, 422, "validation");
    db_maps("23514", false, 422, "validation");
    db_maps("57014", false, 503, "unavailable");
    db_maps("42501", false, 500, "internal"); /* a privilege error is ours */
    db_maps("XX000", false, 500, "internal");
    db_maps("", false, 500, "internal");
}

static PGresult *typed_result(void)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc att[] = {
        {.name = "id", .typid = 20, .typlen = 8, .atttypmod = -1},
        {.name = "ok", .typid = 16, .typlen = 1, .atttypmod = -1},
        {.name = "ratio", .typid = 701, .typlen = 8, .atttypmod = -1},
        {.name = "meta", .typid = 3802, .typlen = -1, .atttypmod = -1},
        {.name = "name", .typid = 25, .typlen = -1, .atttypmod = -1},
        {.name = "gone", .typid = 25, .typlen = -1, .atttypmod = -1},
    };
    assert_true(PQsetResultAttrs(res, 6, att));
    const char *vals[][6] = {
        {"7", "t", "0.25", "{\"a\":[1,2]}", "seven", NULL},
        {"9007199254740993", "f", "-1e3", "null", "", NULL},
    };
    for (int r = 0; r < 2; r++)
        for (int c = 0; c < 6; c++)
            assert_true(PQsetvalue(res, r, c, (char *)vals[r][c],
                                   vals[r][c] ? (int)strlen(vals[r][c]) : -1));
    return res;
}

static void test_rows_as_typed_json(void **state)
{
    (void)state;
    PGresult *res = typed_result();
    json_t *rows = rr_rows_json(res);
    assert_int_equal(json_array_size(rows), 2);
    json_t *r0 = json_array_get(rows, 0);
    assert_int_equal(json_integer_value(json_object_get(r0, "id")), 7);
    assert_true(json_is_true(json_object_get(r0, "ok")));
    assert_true(json_real_value(json_object_get(r0, "ratio")) == 0.25);
    assert_int_equal(json_array_size(json_object_get(json_object_get(r0, "meta"), "a")), 2);
    assert_string_equal(json_string_value(json_object_get(r0, "name")), "seven");
    assert_true(json_is_null(json_object_get(r0, "gone")));
    json_t *r1 = json_array_get(rows, 1);
    assert_int_equal(json_integer_value(json_object_get(r1, "id")), 9007199254740993LL);
    assert_true(json_is_false(json_object_get(r1, "ok")));
    assert_true(json_is_null(json_object_get(r1, "meta")));
    assert_string_equal(json_string_value(json_object_get(r1, "name")), "");
    json_decref(rows);
    PQclear(res);
}

/* SQLite-style: the n-th jansson allocation fails. An answer is either whole
 * or NULL — never a row with a field missing or a list with a row missing,
 * which a handler would send as a 200. */
static unsigned long fail_at, allocs;

static void *failing_malloc(size_t n)
{
    if (++allocs == fail_at)
        return NULL;
    return malloc(n);
}

static void test_rows_json_out_of_memory(void **state)
{
    (void)state;
    PGresult *res = typed_result();
    json_t *whole = rr_rows_json(res);
    assert_non_null(whole);
    json_set_alloc_funcs(failing_malloc, free);
    for (fail_at = 1; fail_at < 500; fail_at++) {
        allocs = 0;
        json_t *rows = rr_rows_json(res);
        unsigned long used = allocs;
        bool complete = rows && json_equal(rows, whole);
        json_decref(rows);
        if (rows && !complete) {
            json_set_alloc_funcs(malloc, free);
            fail_msg("allocation %lu failed: rr_rows_json returned a partial answer", fail_at);
        }
        if (used < fail_at)
            break; /* no allocation failed: every path was tried */
    }
    json_set_alloc_funcs(malloc, free);
    json_decref(whole);
    PQclear(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query_decoding),
        cmocka_unit_test(test_header_lookup),
        cmocka_unit_test(test_problem_document),
        cmocka_unit_test(test_header_injection_refused),
        cmocka_unit_test(test_sqlstate_mapping),
        cmocka_unit_test(test_rows_as_typed_json),
        cmocka_unit_test(test_rows_json_out_of_memory),
    };
    /* the refusals and database errors these tests cause on purpose would
     * each log a line; set REALREACH_TEST_LOG=1 to see them */
    if (!getenv("REALREACH_TEST_LOG"))
        rr_cfg.log_level = RR_LOG_ERROR + 1;
    return cmocka_run_group_tests_name("core http", tests, NULL, NULL);
}
