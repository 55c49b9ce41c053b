/*
 * Request line parsing: method + request URI, split as the worker splits it
 * (path before the first '?', query after), then the query-string parser
 * (rr_ctx_parse_query) and path-template routing (rr_router_match) against
 * the real core route table (rr_routes_core_register).
 *
 * Input: "<METHOD>\n<request URI>" (the part before the first newline is the
 * method; both cut at a NUL byte, as C strings from libfcgi are).
 *
 * Invariants checked besides ASan/UBSan:
 *  - at most 64 query pairs, none NULL, no NUL inside, rr_ctx_query finds
 *    the first pair of each name;
 *  - a match names a registered route of this method with as many segments
 *    as the path, literal segments equal, parameters named after the
 *    template's {names} and valued by the path segments;
 *  - 405 only with a non-empty Allow list of other methods, none of which is
 *    the request's.
 */
#include "fuzz_common.h"

#include <string.h>

static int count_segments(const char *path)
{
    int n = 0;
    for (const char *p = path; *p; p++)
        if (*p == '/' && p[1] && p[1] != '/')
            n++;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    static rr_arena_t *arena;
    if (!arena)
        arena = rr_arena_new();

    char *method = fuzz_take(arena, &data, &size, '\n');
    char *uri = fuzz_cstr(arena, data, size);

    rr_ctx_t ctx;
    rr_ctx_init(&ctx, arena, NULL);
    ctx.method = method;
    ctx.request_id = "fuzz";
    const char *q = strchr(uri, '?');
    ctx.path = rr_arena_strndup(arena, uri, q ? (size_t)(q - uri) : strlen(uri));
    rr_ctx_parse_query(&ctx, q ? q + 1 : "");

    FUZZ_CHECK(ctx.nquery >= 0 && ctx.nquery <= 64);
    for (int i = 0; i < ctx.nquery; i++) {
        FUZZ_CHECK(ctx.query[i].name && ctx.query[i].value);
        const char *first = rr_ctx_query(&ctx, ctx.query[i].name);
        FUZZ_CHECK(first != NULL);
        int k = 0;
        while (strcmp(ctx.query[k].name, ctx.query[i].name))
            k++;
        FUZZ_CHECK(first == ctx.query[k].value);
    }
    (void)rr_ctx_query(&ctx, "limit");
    (void)rr_ctx_query(&ctx, "cursor");

    const rr_route_t *route = NULL;
    const char *allow = NULL;
    rr_match_t m =
        rr_router_match(ctx.method, ctx.path, arena, &route, ctx.params, &ctx.nparams, &allow);
    if (m == RR_MATCH_OK) {
        FUZZ_CHECK(route != NULL);
        FUZZ_CHECK(!strcmp(route->method, ctx.method));
        FUZZ_CHECK(route->nsegments == count_segments(ctx.path));
        FUZZ_CHECK(ctx.nparams >= 0 && ctx.nparams <= RR_MAX_PATH_PARAMS);
        int k = 0;
        const char *p = ctx.path;
        for (int i = 0; i < route->nsegments; i++) {
            p++; /* '/' */
            const char *e = strchr(p, '/');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            const char *t = route->segments[i];
            size_t tl = strlen(t);
            if (t[0] == '{' && t[tl - 1] == '}') {
                if (k < RR_MAX_PATH_PARAMS) {
                    FUZZ_CHECK(k < ctx.nparams);
                    FUZZ_CHECK(strlen(ctx.params[k].name) == tl - 2 &&
                               !memcmp(ctx.params[k].name, t + 1, tl - 2));
                    FUZZ_CHECK(strlen(ctx.params[k].value) == len &&
                               !memcmp(ctx.params[k].value, p, len));
                    k++;
                }
            } else {
                FUZZ_CHECK(tl == len && !memcmp(t, p, len));
            }
            p += len;
        }
        FUZZ_CHECK(k == ctx.nparams);
        ctx.route = route;
        /* what handlers do with a parameter: an id or a 404 */
        for (int i = 0; i < ctx.nparams; i++) {
            FUZZ_CHECK(rr_host_api.req_param(&ctx, ctx.params[i].name) != NULL);
            int64_t id = 0;
            rr_rc_t rc = rr_host_api.param_id(&ctx, ctx.params[i].name, &id);
            FUZZ_CHECK(rc == RR_OK ? id > 0 : ctx.status == 404);
        }
    } else if (m == RR_MATCH_NO_METHOD) {
        FUZZ_CHECK(route == NULL && allow && *allow);
        /* the request's own method is never offered as the alternative */
        size_t ml = strlen(ctx.method);
        for (const char *a = allow; *a;) {
            const char *c = strstr(a, ", ");
            size_t len = c ? (size_t)(c - a) : strlen(a);
            FUZZ_CHECK(!(len == ml && !memcmp(a, ctx.method, ml)));
            a += c ? len + 2 : len;
        }
        rr_header_set(&ctx, "Allow", allow);
        rr_problem(&ctx, 405, "method-not-allowed", NULL, "use one of: %s", allow);
        FUZZ_CHECK(ctx.status == 405);
    } else {
        FUZZ_CHECK(m == RR_MATCH_NO_PATH && route == NULL);
        rr_problem(&ctx, 404, "not-found", NULL, "no such resource");
    }

    rr_ctx_cleanup(&ctx);
    rr_arena_reset(arena);
    return 0;
}
