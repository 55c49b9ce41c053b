/*
 * Plugin loader: rr_plugin_check_desc refuses each bad descriptor field by
 * name; the built test plugins load (faulty, example) or are refused before
 * anything of theirs runs (bad_abi, bad_magic: their init() aborts); the
 * registries freeze after init; a loaded plugin's handler works through the
 * real host API.
 *
 * RR_TEST_BUILD is the build directory (mk/unit.mk passes it), where
 * `make unit` has built the plugins first.
 */
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>

#ifndef RR_TEST_BUILD
#define RR_TEST_BUILD "build"
#endif

static rr_rc_t init_ok(rr_plugin_t *self, const rr_host_api_t *host)
{
    (void)self;
    (void)host;
    return RR_OK;
}

static rr_plugin_desc_t good(void)
{
    rr_plugin_desc_t d = {
        .size = sizeof(rr_plugin_desc_t),
        .magic = RR_PLUGIN_MAGIC,
        .abi_major = RR_ABI_MAJOR,
        .abi_minor = RR_ABI_MINOR,
        .build_signature = RR_BUILD_SIGNATURE,
        .name = "unit_test-1",
        .version = "1.0.0",
        .description = "unit test",
        .init = init_ok,
    };
    return d;
}

static void refused_naming(const rr_plugin_desc_t *d, const char *field)
{
    const char *why = rr_plugin_check_desc(d);
    if (!why)
        fail_msg("descriptor accepted; expected a refusal naming '%s'", field);
    char quoted[64];
    snprintf(quoted, sizeof quoted, "'%s'", field);
    if (!strstr(why, quoted))
        fail_msg("refusal '%s' does not name %s", why, quoted);
}

static void test_good_descriptor(void **state)
{
    (void)state;
    rr_plugin_desc_t d = good();
    assert_null(rr_plugin_check_desc(&d));
    d.fini = NULL; /* optional */
    d.description = NULL;
    assert_null(rr_plugin_check_desc(&d));
    d.size = sizeof(rr_plugin_desc_t) + 64; /* a later minor's larger descriptor */
    assert_null(rr_plugin_check_desc(&d));
    assert_non_null(rr_plugin_check_desc(NULL));
}

static void test_each_field_named(void **state)
{
    (void)state;
    rr_plugin_desc_t d = good();
    d.size = 8;
    refused_naming(&d, "size");
    d = good();
    d.size = offsetof(rr_plugin_desc_t, fini);
    refused_naming(&d, "size");

    d = good();
    d.magic = 0x47505252u;
    refused_naming(&d, "magic");

    d = good();
    d.abi_major = RR_ABI_MAJOR + 1;
    refused_naming(&d, "abi_major");
    d.abi_major = RR_ABI_MAJOR - 1;
    refused_naming(&d, "abi_major");

    d = good();
    d.abi_minor = RR_ABI_MINOR + 1;
    refused_naming(&d, "abi_minor");

    d = good();
    d.build_signature = NULL;
    refused_naming(&d, "build_signature");
    d.build_signature = "rr1;ptr=4;jansson=2;libpq=5";
    refused_naming(&d, "build_signature");

    static const char *const bad_names[] = {
        NULL, "", "Upper", "has space", "dot.ted", "slash/", "\xc3\xa9",
        "a123456789a123456789a123456789a123456789a123456789a123456789abcde", /* 65 */
    };
    for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++) {
        d = good();
        d.name = bad_names[i];
        refused_naming(&d, "name");
    }

    d = good();
    d.version = NULL;
    refused_naming(&d, "version");
    d.version = "";
    refused_naming(&d, "version");

    d = good();
    d.init = NULL;
    refused_naming(&d, "init");
}

/* The loader's records are process-global: find ours by path. */
static rr_plugin_t *record(const char *path)
{
    for (size_t i = 0; i < rr_plugins_count(); i++)
        if (!strcmp(rr_plugin_at(i)->path, path))
            return rr_plugin_at(i);
    return NULL;
}

static void test_refused_plugins_never_run(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        const char *field;
    } cases[] = {
        {RR_TEST_BUILD "/test-plugins-bad/bad_abi.so", "'abi_major'"},
        {RR_TEST_BUILD "/test-plugins-bad/bad_magic.so", "'magic'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        /* run_init = true: init() aborts, so reaching the asserts proves it
         * was never called */
        assert_int_equal(rr_plugins_load(cases[i].file, true), 1);
        rr_plugin_t *p = record(cases[i].file);
        assert_non_null(p);
        assert_false(p->loaded);
        if (!strstr(p->error, cases[i].field))
            fail_msg("%s refused with '%s', not naming %s", cases[i].file, p->error,
                     cases[i].field);
    }
    assert_int_equal(rr_plugins_load(RR_TEST_BUILD "/test-plugins-bad/no-such.so", true), 1);
    rr_plugin_t *p = record(RR_TEST_BUILD "/test-plugins-bad/no-such.so");
    assert_non_null(p);
    assert_non_null(strstr(p->error, "cannot load"));
}

static const rr_route_t *route(const char *method, const char *path)
{
    for (size_t i = 0; i < rr_router_count(); i++) {
        const rr_route_t *r = rr_router_at(i);
        if (!strcmp(r->method, method) && !strcmp(r->path, path))
            return r;
    }
    return NULL;
}

static void test_faulty_plugin_loads_and_serves(void **state)
{
    (void)state;
    const char *file = RR_TEST_BUILD "/test-plugins/faulty.so";
    assert_int_equal(rr_plugins_load(file, true), 0);
    rr_plugin_t *p = record(file);
    assert_non_null(p);
    assert_true(p->loaded);
    assert_string_equal(p->desc->name, "faulty");
    assert_false(p->in_init);

    const rr_route_t *ok = route("GET", "/v1/test/ok");
    assert_non_null(ok);
    assert_string_equal(ok->plugin, "faulty");
    assert_int_equal(ok->scope, RR_SCOPE_READ);
    assert_non_null(route("GET", "/v1/test/crash"));
    assert_non_null(route("GET", "/v1/test/sleep"));

    /* its handler runs through the real host API */
    unit_ctx_t *u = unit_ctx_new(NULL);
    assert_int_equal(ok->handler(&u->ctx, ok->user_data), RR_OK);
    assert_int_equal(u->ctx.status, 200);
    assert_true(json_is_true(json_object_get(unit_resp(u), "ok")));
    unit_ctx_free(u);

    const rr_route_t *sleep_route = route("GET", "/v1/test/sleep");
    u = unit_ctx_new("seconds=0");
    assert_int_equal(sleep_route->handler(&u->ctx, NULL), RR_OK);
    assert_int_equal(u->ctx.status, 200);
    unit_ctx_free(u);
    u = unit_ctx_new("seconds=61");
    assert_int_equal(sleep_route->handler(&u->ctx, NULL), RR_INVALID);
    assert_int_equal(u->ctx.status, 400);
    unit_ctx_free(u);

    /* after init() the tables are frozen */
    rr_route_def_t late = {.size = sizeof late, .method = "GET", .path = "/v1/test/late",
                           .scope = RR_SCOPE_READ, .handler = ok->handler, .summary = "late"};
    size_t routes = rr_router_count();
    assert_int_equal(rr_host_api.route_add(p, &late), RR_ERROR);
    assert_int_equal(rr_host_api.migration_add(p, "999_late.sql", "SELECT 1"), RR_ERROR);
    assert_int_equal(rr_router_count(), routes);

    /* the same plugin twice: refused by name */
    assert_int_equal(rr_plugins_load(file, true), 1);
}

static void test_example_plugin_registers(void **state)
{
    (void)state;
    const char *file = RR_TEST_BUILD "/plugins/example.so";
    assert_int_equal(rr_plugins_load(file, true), 0);
    assert_non_null(route("GET", "/v1/accounts/{account_id}/labels"));
    assert_non_null(route("PUT", "/v1/accounts/{account_id}/labels/{label}"));
    assert_non_null(route("GET", "/v1/labels/{label}/accounts"));
    assert_non_null(rr_job_kind_find("example.relabel"));
    bool found = false;
    for (size_t i = 0; i < rr_migrations_count(); i++) {
        const rr_migration_t *m = rr_migration_at(i);
        if (!strcmp(m->owner, "example") && !strcmp(m->name, "001_example.sql")) {
            found = true;
            assert_non_null(strstr(m->sql, "FORCE ROW LEVEL SECURITY"));
        }
    }
    assert_true(found);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_descriptor),
        cmocka_unit_test(test_each_field_named),
        cmocka_unit_test(test_refused_plugins_never_run),
        cmocka_unit_test(test_faulty_plugin_loads_and_serves),
        cmocka_unit_test(test_example_plugin_registers),
    };
    /* the refusals and database errors these tests cause on purpose would
     * each log a line; set REALREACH_TEST_LOG=1 to see them */
    if (!getenv("REALREACH_TEST_LOG"))
        rr_cfg.log_level = RR_LOG_ERROR + 1;
    return cmocka_run_group_tests_name("core plugins", tests, NULL, NULL);
}
