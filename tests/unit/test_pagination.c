/*
 * Cursor pagination: limit bounds, the cursor a page hands out leads to the
 * next page (round trip), forged or damaged cursors are refused with a 400
 * naming "cursor", and rr_page_respond_rows (and _as, with a route's own row
 * form) drops the look-ahead row.
 */
#include "unit.h"

#include <stdio.h>

/* base64url without padding, as the core encodes cursors: lets the tests
 * forge cursors that decode to chosen text. */
static void b64url(const char *raw, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t n = strlen(raw), o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned char)raw[i] << 16;
        if (i + 1 < n)
            v |= (unsigned char)raw[i + 1] << 8;
        if (i + 2 < n)
            v |= (unsigned char)raw[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = tab[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = tab[v & 63];
    }
    out[o] = '\0';
}

static unit_ctx_t *begin(const char *query, rr_rc_t want, rr_page_t *page)
{
    unit_ctx_t *u = unit_ctx_new(query);
    rr_rc_t rc = rr_page_begin(&u->ctx, page);
    if (rc != want)
        fail_msg("?%s: rc %d, expected %d", query ? query : "", rc, want);
    return u;
}

static void refused(const char *query, const char *field)
{
    rr_page_t page;
    unit_ctx_t *u = begin(query, RR_INVALID, &page);
    assert_int_equal(u->ctx.status, 400);
    assert_string_equal(unit_problem_kind(u), "invalid-parameter");
    assert_string_equal(unit_resp_str(u, "field"), field);
    unit_ctx_free(u);
}

static void test_limit(void **state)
{
    (void)state;
    rr_page_t page;
    unit_ctx_t *u = begin(NULL, RR_OK, &page);
    assert_int_equal(page.limit, 50);
    assert_int_equal(page.after_id, 0);
    unit_ctx_free(u);
    u = begin("limit=1", RR_OK, &page);
    assert_int_equal(page.limit, 1);
    unit_ctx_free(u);
    u = begin("limit=200", RR_OK, &page);
    assert_int_equal(page.limit, 200);
    unit_ctx_free(u);

    static const char *const bad[] = {"limit=0",   "limit=201", "limit=-1",   "limit=",
                                      "limit=abc", "limit=5x",  "limit=1e2", "limit=99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        refused(bad[i], "limit");
}

static void test_cursor_round_trip(void **state)
{
    (void)state;
    static const int64_t ids[] = {1, 42, 1000000007, INT64_MAX};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
        rr_page_t page;
        unit_ctx_t *u = begin("limit=2", RR_OK, &page);
        json_t *items = json_pack("[{s:I}, {s:I}]", "id", (json_int_t)1, "id", (json_int_t)2);
        assert_int_equal(rr_page_respond(&u->ctx, &page, items, ids[i]), RR_OK);
        assert_int_equal(u->ctx.status, 200);
        assert_string_equal(u->ctx.content_type, "application/json");
        assert_int_equal(json_array_size(json_object_get(unit_resp(u), "items")), 2);
        const char *cursor = unit_resp_str(u, "next_cursor");
        assert_non_null(cursor);
        /* the cursor is safe in a query string as it is */
        for (const char *p = cursor; *p; p++)
            assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
        char query[128];
        snprintf(query, sizeof query, "limit=2&cursor=%s", cursor);
        unit_ctx_free(u);

        u = begin(query, RR_OK, &page);
        assert_int_equal(page.after_id, ids[i]);
        assert_int_equal(page.limit, 2);
        unit_ctx_free(u);
    }
}

static void test_last_page_has_null_cursor(void **state)
{
    (void)state;
    rr_page_t page;
    unit_ctx_t *u = begin(NULL, RR_OK, &page);
    assert_int_equal(rr_page_respond(&u->ctx, &page, json_array(), 0), RR_OK);
    assert_true(json_is_null(json_object_get(unit_resp(u), "next_cursor")));
    assert_int_equal(json_array_size(json_object_get(unit_resp(u), "items")), 0);
    unit_ctx_free(u);
}

static void test_forged_cursors_refused(void **state)
{
    (void)state;
    static const char *const raw[] = {
        "v1.-5", "v1.", "v1.5x", "v2.5", "V1.5", "5", "v1.0x10", "v1.5 ",
        "v1.99999999999999999999", "v1.5\n",
    };
    for (size_t i = 0; i < sizeof raw / sizeof *raw; i++) {
        char enc[128], query[160];
        b64url(raw[i], enc);
        snprintf(query, sizeof query, "cursor=%s", enc);
        refused(query, "cursor");
    }
    static const char *const junk[] = {
        "cursor=",          "cursor=abc%21",     "cursor=====",
        "cursor=djEuNQ==",  /* standard padding is not ours */
        "cursor=djEuNQ%2B", /* '+' is not base64url */
        "cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "cursor=%00",
    };
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) {
        rr_page_t page;
        unit_ctx_t *u = unit_ctx_new(junk[i]);
        rr_rc_t rc = rr_page_begin(&u->ctx, &page);
        /* "cursor=%00" is dropped by the query parser: no cursor at all */
        if (!strcmp(junk[i], "cursor=%00")) {
            assert_int_equal(rc, RR_OK);
            assert_int_equal(page.after_id, 0);
        } else {
            if (rc != RR_INVALID)
                fail_msg("accepted forged %s", junk[i]);
            assert_int_equal(u->ctx.status, 400);
        }
        unit_ctx_free(u);
    }
    /* a hand-made cursor of the right form is just a position: accepted */
    char enc[64], query[96];
    b64url("v1.77", enc);
    snprintf(query, sizeof query, "cursor=%s", enc);
    rr_page_t page;
    unit_ctx_t *u = begin(query, RR_OK, &page);
    assert_int_equal(page.after_id, 77);
    unit_ctx_free(u);
}

static void test_respond_without_items_fails(void **state)
{
    (void)state;
    /* items is what json_array() returned: NULL when memory ran out. The
     * answer must not be a 200 without "items". */
    rr_page_t page;
    unit_ctx_t *u = begin(NULL, RR_OK, &page);
    assert_int_not_equal(rr_page_respond(&u->ctx, &page, NULL, 0), RR_OK);
    assert_int_not_equal(u->ctx.status, 200);
    unit_ctx_free(u);
}

static PGresult *rows(int n)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    PGresAttDesc att[2] = {
        {.name = "id", .typid = 20 /* int8 */, .typlen = 8, .atttypmod = -1},
        {.name = "name", .typid = 25 /* text */, .typlen = -1, .atttypmod = -1},
    };
    assert_true(PQsetResultAttrs(res, 2, att));
    for (int r = 0; r < n; r++) {
        char id[16], name[16];
        snprintf(id, sizeof id, "%d", (r + 1) * 10);
        snprintf(name, sizeof name, "n%d", r);
        assert_true(PQsetvalue(res, r, 0, id, (int)strlen(id)));
        assert_true(PQsetvalue(res, r, 1, name, (int)strlen(name)));
    }
    return res;
}

static void test_respond_rows(void **state)
{
    (void)state;
    rr_page_t page;
    unit_ctx_t *u = begin("limit=2", RR_OK, &page);
    assert_int_equal(rr_page_respond_rows(&u->ctx, &page, rows(3)), RR_OK);
    json_t *items = json_object_get(unit_resp(u), "items");
    assert_int_equal(json_array_size(items), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 1), "id")), 20);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 1), "name")), "n1");
    char query[128];
    snprintf(query, sizeof query, "cursor=%s", unit_resp_str(u, "next_cursor"));
    unit_ctx_free(u);
    u = begin(query, RR_OK, &page);
    assert_int_equal(page.after_id, 20);
    unit_ctx_free(u);

    u = begin("limit=2", RR_OK, &page); /* exactly a page: no next */
    assert_int_equal(rr_page_respond_rows(&u->ctx, &page, rows(2)), RR_OK);
    assert_int_equal(json_array_size(json_object_get(unit_resp(u), "items")), 2);
    assert_true(json_is_null(json_object_get(unit_resp(u), "next_cursor")));
    unit_ctx_free(u);
}

/* A route's own row form, as rr_page_respond_rows_as() takes it. */
static json_t *name_only(const PGresult *res, int row)
{
    return json_pack("{s:s}", "name", PQgetvalue(res, row, PQfnumber(res, "name")));
}

static json_t *out_of_memory(const PGresult *res, int row)
{
    (void)res;
    return row == 1 ? NULL : json_object();
}

static void test_respond_rows_as(void **state)
{
    (void)state;
    rr_page_t page;
    unit_ctx_t *u = begin("limit=2", RR_OK, &page);
    assert_int_equal(rr_page_respond_rows_as(&u->ctx, &page, rows(3), name_only), RR_OK);
    json_t *items = json_object_get(unit_resp(u), "items");
    assert_int_equal(json_array_size(items), 2); /* the look-ahead row dropped */
    assert_null(json_object_get(json_array_get(items, 1), "id"));
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 1), "name")), "n1");
    char query[128]; /* the cursor still comes from the "id" column */
    snprintf(query, sizeof query, "cursor=%s", unit_resp_str(u, "next_cursor"));
    unit_ctx_free(u);
    u = begin(query, RR_OK, &page);
    assert_int_equal(page.after_id, 20);
    unit_ctx_free(u);

    /* a row that cannot be shown fails the whole answer, never a short page */
    u = begin("limit=5", RR_OK, &page);
    assert_int_equal(rr_page_respond_rows_as(&u->ctx, &page, rows(3), out_of_memory), RR_ERROR);
    assert_int_not_equal(u->ctx.status, 200);
    unit_ctx_free(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_cursor_round_trip),
        cmocka_unit_test(test_last_page_has_null_cursor),
        cmocka_unit_test(test_forged_cursors_refused),
        cmocka_unit_test(test_respond_without_items_fails),
        cmocka_unit_test(test_respond_rows),
        cmocka_unit_test(test_respond_rows_as),
    };
    return cmocka_run_group_tests_name("core pagination", tests, NULL, NULL);
}
