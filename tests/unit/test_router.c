/*
 * Router: template registration and matching — literal segments beat
 * parameters whatever the registration order, 405 (with the Allow list) vs
 * 404, parameters extracted by name, malformed paths and too many segments
 * refused without a crash.
 */
#include "unit.h"

#include <stdio.h>

static rr_rc_t handler(rr_ctx_t *ctx, void *ud)
{
    (void)ctx;
    (void)ud;
    return RR_OK;
}

static rr_rc_t add(const char *method, const char *path)
{
    rr_route_def_t d = {.size = sizeof d, .method = method, .path = path,
                        .scope = RR_SCOPE_READ, .handler = handler, .summary = "test"};
    return rr_router_add(&d, "core");
}

static int setup(void **state)
{
    (void)state;
    rr_router_reset();
    /* the parameter route first, so that order cannot explain a literal win */
    assert_int_equal(add("GET", "/v1/keys/{key_id}"), RR_OK);
    assert_int_equal(add("DELETE", "/v1/keys/{key_id}"), RR_OK);
    assert_int_equal(add("GET", "/v1/keys/current"), RR_OK);
    assert_int_equal(add("GET", "/v1/clients/{client_id}/accounts/{account_id}"), RR_OK);
    assert_int_equal(add("GET", "/v1/clients/{client_id}/accounts"), RR_OK);
    assert_int_equal(add("POST", "/v1/clients/{client_id}/accounts"), RR_OK);
    assert_int_equal(add("GET", "/v1/{kind}/current"), RR_OK);
    assert_int_equal(add("GET", "/healthz"), RR_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rr_router_reset();
    return 0;
}

typedef struct {
    rr_match_t m;
    const rr_route_t *route;
    rr_kv_t params[RR_MAX_PATH_PARAMS];
    int nparams;
    const char *allow;
} result_t;

static result_t match(rr_arena_t *a, const char *method, const char *path)
{
    result_t r;
    memset(&r, 0, sizeof r);
    r.m = rr_router_match(method, path, a, &r.route, r.params, &r.nparams, &r.allow);
    return r;
}

static const char *param(const result_t *r, const char *name)
{
    for (int i = 0; i < r->nparams; i++)
        if (!strcmp(r->params[i].name, name))
            return r->params[i].value;
    return NULL;
}

static void test_literal_beats_parameter(void **state)
{
    (void)state;
    rr_arena_t *a = rr_arena_new();
    result_t r = match(a, "GET", "/v1/keys/current");
    assert_int_equal(r.m, RR_MATCH_OK);
    assert_string_equal(r.route->path, "/v1/keys/current");
    assert_int_equal(r.nparams, 0);

    r = match(a, "GET", "/v1/keys/abc123");
    assert_int_equal(r.m, RR_MATCH_OK);
    assert_string_equal(r.route->path, "/v1/keys/{key_id}");
    assert_int_equal(r.nparams, 1);
    assert_string_equal(param(&r, "key_id"), "abc123");

    /* two candidates with one literal each: the more literal segments win,
     * and /v1/keys/current has two */
    r = match(a, "GET", "/v1/things/current");
    assert_int_equal(r.m, RR_MATCH_OK);
    assert_string_equal(r.route->path, "/v1/{kind}/current");
    assert_string_equal(param(&r, "kind"), "things");
    rr_arena_free(a);
}

static void test_params_extracted_by_name(void **state)
{
    (void)state;
    rr_arena_t *a = rr_arena_new();
    result_t r = match(a, "GET", "/v1/clients/12/accounts/34");
    assert_int_equal(r.m, RR_MATCH_OK);
    assert_int_equal(r.nparams, 2);
    assert_string_equal(param(&r, "client_id"), "12");
    assert_string_equal(param(&r, "account_id"), "34");
    assert_string_equal(r.route->method, "GET");
    assert_ptr_equal(r.route->handler, handler);
    assert_int_equal(r.route->scope, RR_SCOPE_READ);
    assert_string_equal(r.route->plugin, "core");

    r = match(a, "POST", "/v1/clients/12/accounts");
    assert_int_equal(r.m, RR_MATCH_OK);
    assert_string_equal(r.route->method, "POST");
    assert_string_equal(param(&r, "client_id"), "12");
    rr_arena_free(a);
}

static void test_method_not_allowed_lists_allow(void **state)
{
    (void)state;
    rr_arena_t *a = rr_arena_new();
    result_t r = match(a, "PUT", "/v1/keys/abc");
    assert_int_equal(r.m, RR_MATCH_NO_METHOD);
    assert_null(r.route);
    assert_non_null(r.allow);
    assert_non_null(strstr(r.allow, "GET"));
    assert_non_null(strstr(r.allow, "DELETE"));
    assert_null(strstr(r.allow, "POST"));

    r = match(a, "DELETE", "/v1/clients/1/accounts");
    assert_int_equal(r.m, RR_MATCH_NO_METHOD);
    assert_non_null(strstr(r.allow, "GET"));
    assert_non_null(strstr(r.allow, "POST"));

    /* the method matters only once the path matched: an unknown path is 404 */
    r = match(a, "PUT", "/v1/nothing/here/at/all");
    assert_int_equal(r.m, RR_MATCH_NO_PATH);
    assert_null(r.allow);
    rr_arena_free(a);
}

static void test_unknown_paths_are_404(void **state)
{
    (void)state;
    rr_arena_t *a = rr_arena_new();
    static const char *const paths[] = {
        "/v1/keys",             /* too few segments */
        "/v1/keys/a/b",         /* too many */
        "/v2/keys/current",     /* another literal */
        "/",                    /* no segments */
        "/healthz/x",
    };
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        result_t r = match(a, "GET", paths[i]);
        assert_int_equal(r.m, RR_MATCH_NO_PATH);
        assert_null(r.route);
    }
    rr_arena_free(a);
}

static void test_malformed_paths(void **state)
{
    (void)state;
    rr_arena_t *a = rr_arena_new();
    static const char *const paths[] = {
        "",          "healthz",       "v1/keys/current", "//",
        "//healthz", "/v1//keys/abc", "/v1/keys//",      "/v1/clients/1//accounts",
    };
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        result_t r = match(a, "GET", paths[i]);
        assert_int_equal(r.m, RR_MATCH_NO_PATH);
        assert_null(r.route);
        assert_null(r.allow);
    }
    /* one trailing slash ends the path: it names the same resource */
    result_t r = match(a, "GET", "/healthz/");
    assert_int_equal(r.m, RR_MATCH_OK);
    assert_string_equal(r.route->path, "/healthz");
    rr_arena_free(a);
}

static void test_too_many_segments(void **state)
{
    (void)state;
    rr_arena_t *a = rr_arena_new();
    char path[4096] = "";
    for (int i = 0; i < 500; i++)
        strcat(path, "/x");
    result_t r = match(a, "GET", path);
    assert_int_equal(r.m, RR_MATCH_NO_PATH);

    /* twelve segments can be registered and matched; thirteen cannot */
    assert_int_equal(add("GET", "/a/b/c/d/e/f/g/h/i/j/k/{l}"), RR_OK);
    r = match(a, "GET", "/a/b/c/d/e/f/g/h/i/j/k/twelve");
    assert_int_equal(r.m, RR_MATCH_OK);
    assert_string_equal(param(&r, "l"), "twelve");
    r = match(a, "GET", "/a/b/c/d/e/f/g/h/i/j/k/twelve/13");
    assert_int_equal(r.m, RR_MATCH_NO_PATH);
    assert_int_equal(add("GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m"), RR_ERROR);
    rr_arena_free(a);
}

static void test_registration_refusals(void **state)
{
    (void)state;
    size_t before = rr_router_count();
    assert_int_equal(add("GET", "/v1/keys/current"), RR_ERROR); /* duplicate */
    assert_int_equal(add("GET", "/v1//broken"), RR_ERROR);
    assert_int_equal(add("GET", "no-slash"), RR_ERROR);
    rr_route_def_t d = {.size = sizeof d, .method = "GET", .path = "/v1/x",
                        .scope = RR_SCOPE_READ, .handler = handler, .summary = NULL};
    assert_int_equal(rr_router_add(&d, "core"), RR_ERROR); /* summary required */
    d.summary = "";
    assert_int_equal(rr_router_add(&d, "core"), RR_ERROR);
    d.summary = "x";
    d.handler = NULL;
    assert_int_equal(rr_router_add(&d, "core"), RR_ERROR);
    d.handler = handler;
    d.method = NULL;
    assert_int_equal(rr_router_add(&d, "core"), RR_ERROR);
    assert_int_equal(rr_router_count(), before);
    /* the same path with another method is a new route */
    d.method = "PATCH";
    d.path = "/v1/keys/{key_id}";
    assert_int_equal(rr_router_add(&d, "core"), RR_OK);
    assert_int_equal(rr_router_count(), before + 1);
    assert_non_null(rr_router_at(before));
    assert_null(rr_router_at(before + 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_literal_beats_parameter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params_extracted_by_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_method_not_allowed_lists_allow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_paths_are_404, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_many_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registration_refusals, setup, teardown),
    };
    return cmocka_run_group_tests_name("core router", tests, NULL, NULL);
}
