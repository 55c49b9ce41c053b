/*
 * Helpers shared by the core unit tests (cmocka): a request context on its
 * own arena, and the response body parsed back, so tests assert on what a
 * client would receive.
 */
#ifndef RR_UNIT_H
#define RR_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rr.h"

#include <string.h>

typedef struct unit_ctx {
    rr_ctx_t ctx;
    rr_arena_t *arena;
    json_t *resp; /* parsed lazily */
} unit_ctx_t;

static inline unit_ctx_t *unit_ctx_new(const char *query)
{
    unit_ctx_t *u = test_calloc(1, sizeof *u);
    u->arena = rr_arena_new();
    assert_non_null(u->arena);
    rr_ctx_init(&u->ctx, u->arena, NULL);
    u->ctx.method = "GET";
    u->ctx.path = "/v1/test";
    u->ctx.request_id = "unit-test";
    rr_ctx_parse_query(&u->ctx, query);
    return u;
}

static inline void unit_ctx_free(unit_ctx_t *u)
{
    json_decref(u->resp);
    rr_ctx_cleanup(&u->ctx);
    rr_arena_free(u->arena);
    test_free(u);
}

/* The response body as JSON (borrowed; NULL when there is none). */
static inline json_t *unit_resp(unit_ctx_t *u)
{
    if (!u->resp && u->ctx.resp_body && u->ctx.resp_len)
        u->resp = json_loadb(u->ctx.resp_body, u->ctx.resp_len, 0, NULL);
    return u->resp;
}

static inline const char *unit_resp_str(unit_ctx_t *u, const char *key)
{
    return json_string_value(json_object_get(unit_resp(u), key));
}

/* "https://realreach.dev/problems/not-found" -> "not-found" */
static inline const char *unit_problem_kind(unit_ctx_t *u)
{
    const char *t = unit_resp_str(u, "type");
    size_t n = strlen(RR_PROBLEM_BASE);
    return t && !strncmp(t, RR_PROBLEM_BASE, n) ? t + n : NULL;
}

#endif /* RR_UNIT_H */
