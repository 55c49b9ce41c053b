/*
 * JSON input: rr_json_check (every refusal names its field and kind),
 * rr_json_depth_exceeds (brackets inside strings and escapes do not count),
 * rr_req_json (media type, size, depth, duplicate keys, non-objects) and
 * rr_time_valid.
 */
#include "unit.h"

#include <stdlib.h>

static json_t *load(const char *text)
{
    json_error_t err;
    json_t *j = json_loads(text, JSON_ALLOW_NUL, &err);
    if (!j)
        fail_msg("test JSON does not parse: %s: %s", text, err.text);
    return j;
}

static const char *const colours[] = {"red", "green", NULL};

static const rr_field_t fields[] = {
    {.name = "name", .type = RR_FT_STRING, .flags = RR_F_REQUIRED, .max_len = 5},
    {.name = "count", .type = RR_FT_INT},
    {.name = "ratio", .type = RR_FT_NUMBER},
    {.name = "active", .type = RR_FT_BOOL},
    {.name = "seen_at", .type = RR_FT_TIME, .flags = RR_F_NULLABLE},
    {.name = "meta", .type = RR_FT_OBJECT},
    {.name = "tags", .type = RR_FT_ARRAY, .max_len = 2},
    {.name = "colour", .type = RR_FT_STRING, .one_of = colours},
    {.name = "note", .type = RR_FT_STRING, .flags = RR_F_NULLABLE},
    {.name = "id", .type = RR_FT_INT, .flags = RR_F_READONLY},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

/* Runs rr_json_check on text; returns the unit context for assertions. */
static unit_ctx_t *check(const char *text, rr_rc_t want_rc)
{
    unit_ctx_t *u = unit_ctx_new(NULL);
    json_t *obj = load(text);
    rr_rc_t rc = rr_json_check(&u->ctx, obj, fields, NFIELDS);
    json_decref(obj);
    if (rc != want_rc)
        fail_msg("%s: rc %d, expected %d", text, rc, want_rc);
    return u;
}

static void refused(const char *text, const char *kind, const char *field)
{
    unit_ctx_t *u = check(text, RR_INVALID);
    assert_int_equal(u->ctx.status, 422);
    assert_string_equal(u->ctx.content_type, "application/problem+json");
    if (!unit_problem_kind(u) || strcmp(unit_problem_kind(u), kind))
        fail_msg("%s: kind %s, expected %s", text, unit_problem_kind(u), kind);
    if (!unit_resp_str(u, "field") || strcmp(unit_resp_str(u, "field"), field))
        fail_msg("%s: field %s, expected %s", text, unit_resp_str(u, "field"), field);
    unit_ctx_free(u);
}

static void accepted(const char *text)
{
    unit_ctx_t *u = check(text, RR_OK);
    assert_false(u->ctx.responded);
    unit_ctx_free(u);
}

static void test_check_accepts_valid(void **state)
{
    (void)state;
    accepted("{\"name\":\"abc\"}");
    accepted("{\"name\":\"abcde\",\"count\":-3,\"ratio\":1.5,\"active\":false,"
             "\"seen_at\":\"2025-01-02T03:04:05Z\",\"meta\":{\"a\":[1]},\"tags\":[1,2],"
             "\"colour\":\"green\",\"note\":\"x\"}");
    accepted("{\"name\":\"a\",\"ratio\":2}"); /* an integer is a number */
    accepted("{\"name\":\"a\",\"seen_at\":null,\"note\":null}");
    accepted("{\"name\":\"\xc3\xa9t\xc3\xa9\"}"); /* 5 bytes: at the limit */
}

static void test_check_unknown_and_read_only(void **state)
{
    (void)state;
    refused("{\"name\":\"a\",\"tenant_id\":2}", "unknown-field", "tenant_id");
    refused("{\"name\":\"a\",\"id\":2}", "read-only-field", "id");
    refused("{\"name\":\"a\",\"id\":null}", "read-only-field", "id");
}

static void test_check_required(void **state)
{
    (void)state;
    refused("{}", "validation", "name");
    refused("{\"count\":1}", "validation", "name");
    refused("{\"name\":\"\"}", "validation", "name");
    refused("{\"name\":null}", "validation", "name");
}

static void test_check_wrong_type(void **state)
{
    (void)state;
    refused("{\"name\":1}", "validation", "name");
    refused("{\"name\":\"a\",\"count\":1.5}", "validation", "count");
    refused("{\"name\":\"a\",\"count\":\"1\"}", "validation", "count");
    refused("{\"name\":\"a\",\"count\":true}", "validation", "count");
    refused("{\"name\":\"a\",\"ratio\":\"1\"}", "validation", "ratio");
    refused("{\"name\":\"a\",\"active\":1}", "validation", "active");
    refused("{\"name\":\"a\",\"meta\":[]}", "validation", "meta");
    refused("{\"name\":\"a\",\"tags\":{}}", "validation", "tags");
    refused("{\"name\":\"a\",\"seen_at\":\"yesterday\"}", "validation", "seen_at");
    refused("{\"name\":\"a\",\"seen_at\":\"2025-01-02T03:04:05\"}", "validation", "seen_at");
    refused("{\"name\":\"a\",\"seen_at\":1735787045}", "validation", "seen_at");
}

static void test_check_too_long(void **state)
{
    (void)state;
    refused("{\"name\":\"abcdef\"}", "validation", "name");
    refused("{\"name\":\"\xc3\xa9t\xc3\xa9s\"}", "validation", "name"); /* 6 bytes, 4 chars */
    refused("{\"name\":\"a\",\"tags\":[1,2,3]}", "validation", "tags");

    /* without max_len, the default (4000 bytes) applies */
    static const rr_field_t text_field[] = {{.name = "t", .type = RR_FT_STRING}};
    char *big = malloc(5000);
    memcpy(big, "{\"t\":\"", 6);
    memset(big + 6, 'x', 4001);
    memcpy(big + 6 + 4001, "\"}", 3);
    unit_ctx_t *u = unit_ctx_new(NULL);
    json_t *obj = load(big);
    assert_int_equal(rr_json_check(&u->ctx, obj, text_field, 1), RR_INVALID);
    assert_int_equal(u->ctx.status, 422);
    json_decref(obj);
    unit_ctx_free(u);
    free(big);
}

static void test_check_nul_byte(void **state)
{
    (void)state;
    refused("{\"name\":\"a\\u0000b\"}", "validation", "name");
    refused("{\"name\":\"a\",\"note\":\"\\u0000\"}", "validation", "note");
}

static void test_check_one_of(void **state)
{
    (void)state;
    accepted("{\"name\":\"a\",\"colour\":\"red\"}");
    refused("{\"name\":\"a\",\"colour\":\"blue\"}", "validation", "colour");
    refused("{\"name\":\"a\",\"colour\":\"Red\"}", "validation", "colour");
    refused("{\"name\":\"a\",\"colour\":\"\"}", "validation", "colour");
    refused("{\"name\":\"a\",\"colour\":null}", "validation", "colour");
}

static void test_check_nullable(void **state)
{
    (void)state;
    accepted("{\"name\":\"a\",\"note\":null}");
    refused("{\"name\":\"a\",\"count\":null}", "validation", "count");
    refused("{\"name\":\"a\",\"meta\":null}", "validation", "meta");
}

/* ------------------------------------------------------------- depth */

static int depth(const char *text, int limit)
{
    return rr_json_depth_exceeds(text, strlen(text), limit);
}

static void test_depth(void **state)
{
    (void)state;
    assert_true(depth("[[[]]]", 3) >= 0);
    assert_int_equal(depth("[[[]]]", 2), -1);
    assert_int_equal(depth("{\"a\":{\"b\":[{}]}}", 3), -1);
    assert_true(depth("{\"a\":{\"b\":[{}]}}", 4) >= 0);
    assert_true(depth("[],[],[],[]", 1) >= 0); /* siblings do not add up */
    assert_true(depth("", 1) >= 0);
}

static void test_depth_ignores_strings(void **state)
{
    (void)state;
    assert_true(depth("{\"a\":\"[[[[[[{{{{{\"}", 1) >= 0);
    assert_true(depth("[\"]]]]]]]]\",[[1]]]", 3) >= 0);
    assert_int_equal(depth("[\"]]]]]]]]\",[[1]]]", 2), -1);
    /* an escaped quote does not end the string */
    assert_true(depth("{\"a\":\"\\\"[[[[[\"}", 1) >= 0);
    /* an escaped backslash does: the brackets after it count */
    assert_int_equal(depth("{\"a\":\"\\\\\",\"b\":[[[1]]]}", 3), -1);
    assert_true(depth("{\"a\":\"\\\\\",\"b\":[[[1]]]}", 4) >= 0);
}

static void test_depth_respects_length(void **state)
{
    (void)state;
    const char *text = "[[]][[[[[[[[[[";
    assert_true(rr_json_depth_exceeds(text, 4, 2) >= 0);
    assert_int_equal(rr_json_depth_exceeds(text, strlen(text), 2), -1);
    /* a lone backslash at the end must not read past len */
    char buf[3] = {'"', '\\', '['};
    assert_true(rr_json_depth_exceeds(buf, 2, 0) >= 0);
}

/* ------------------------------------------------------- rr_req_json */

static unit_ctx_t *body_ctx(const char *ctype, const char *body)
{
    unit_ctx_t *u = unit_ctx_new(NULL);
    static rr_kv_t headers[1];
    headers[0].name = "content-type";
    headers[0].value = ctype;
    u->ctx.headers = headers;
    u->ctx.nheaders = ctype ? 1 : 0;
    u->ctx.body = body ? rr_arena_strdup(u->arena, body) : NULL;
    u->ctx.body_len = body ? strlen(body) : 0;
    return u;
}

static void req_json_refused(const char *ctype, const char *body, int status, const char *kind)
{
    unit_ctx_t *u = body_ctx(ctype, body);
    assert_null(rr_req_json(&u->ctx));
    assert_int_equal(u->ctx.status, status);
    assert_string_equal(unit_problem_kind(u), kind);
    unit_ctx_free(u);
}

static void test_req_json(void **state)
{
    (void)state;
    unit_ctx_t *u = body_ctx("application/json; charset=utf-8", "{\"a\":1}");
    json_t *j = rr_req_json(&u->ctx);
    assert_non_null(j);
    assert_ptr_equal(rr_req_json(&u->ctx), j); /* parsed once, owned by ctx */
    assert_int_equal(json_integer_value(json_object_get(j, "a")), 1);
    assert_false(u->ctx.responded);
    unit_ctx_free(u);

    req_json_refused("application/json", NULL, 400, "invalid-json");
    req_json_refused("text/plain", "{}", 415, "unsupported-media-type");
    req_json_refused(NULL, "{}", 415, "unsupported-media-type");
    req_json_refused("application/jsonx", "{}", 415, "unsupported-media-type");
    req_json_refused("application/json", "{\"a\":1,\"a\":2}", 400, "invalid-json");
    req_json_refused("application/json", "[1]", 400, "invalid-json");
    req_json_refused("application/json", "\"text\"", 400, "invalid-json");
    req_json_refused("application/json", "{\"a\":", 400, "invalid-json");
    req_json_refused("application/json", "{\"a\":1} trailing", 400, "invalid-json");

    char deep[200] = "{\"a\":";
    for (int i = 0; i < rr_cfg.max_json_depth + 1; i++)
        strcat(deep, "[");
    req_json_refused("application/json", deep, 400, "invalid-json");

    size_t saved = rr_cfg.max_json_body;
    rr_cfg.max_json_body = 8;
    req_json_refused("application/json", "{\"a\":\"123456\"}", 413, "payload-too-large");
    rr_cfg.max_json_body = saved;
}

/* ------------------------------------------------------------- time */

static void test_time_valid(void **state)
{
    (void)state;
    static const char *const good[] = {
        "2025-01-02T03:04:05Z",      "2025-01-02T03:04:05z",
        "2025-01-02T03:04:05.1Z",    "2025-01-02T03:04:05.123456Z",
        "2025-01-02T03:04:05+02:00", "2025-01-02T03:04:05-05:30",
        "2024-02-29T00:00:00Z",      "1999-12-31T23:59:59.999+00:00",
    };
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        if (!rr_time_valid(good[i]))
            fail_msg("refused valid time %s", good[i]);
}

static void test_time_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2025-01-02",
        "2025-01-02T03:04:05",       /* no zone */
        "2025-01-02 03:04:05Z",      /* space */
        "2025-01-02T03:04Z",
        "2025-13-02T03:04:05Z",
        "2025-00-02T03:04:05Z",
        "2025-01-32T03:04:05Z",
        "2025-01-00T03:04:05Z",
        "2025-01-02T24:00:00Z",
        "2025-01-02T03:60:00Z",
        "2025-01-02T03:04:05.Z",
        "2025-01-02T03:04:05+0200",
        "2025-01-02T03:04:05+02",
        "2025-01-02T03:04:05Zjunk",
        "2025-01-02T03:04:05+02:00x",
        "1899-12-31T23:59:59Z",
        "25-01-02T03:04:05Z",
        "2025-1-2T3:4:5Z",
        "2025-01-02T03:04:-5Z",      /* signs inside fields */
        "2025-01-02T03:-4:05Z",
        "2025-01-02T03:04:+5Z",
        "2025-01-02T03:04: 5Z",      /* blanks inside fields */
        " 2025-01-02T03:04:05Z",
        "2025-02-30T00:00:00Z",      /* no such day */
        "2023-02-29T00:00:00Z",      /* not a leap year */
        "2025-04-31T00:00:00Z",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (rr_time_valid(bad[i]))
            fail_msg("accepted invalid time '%s'", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_accepts_valid),
        cmocka_unit_test(test_check_unknown_and_read_only),
        cmocka_unit_test(test_check_required),
        cmocka_unit_test(test_check_wrong_type),
        cmocka_unit_test(test_check_too_long),
        cmocka_unit_test(test_check_nul_byte),
        cmocka_unit_test(test_check_one_of),
        cmocka_unit_test(test_check_nullable),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_depth_ignores_strings),
        cmocka_unit_test(test_depth_respects_length),
        cmocka_unit_test(test_req_json),
        cmocka_unit_test(test_time_valid),
        cmocka_unit_test(test_time_invalid),
    };
    return cmocka_run_group_tests_name("core json", tests, NULL, NULL);
}
