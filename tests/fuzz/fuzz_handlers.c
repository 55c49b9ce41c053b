/*
 * Route handlers behind authentication: the FastCGI harness cannot reach
 * them (with the database down every key lookup answers 503), so this one
 * does what the worker does after rr_auth_request succeeded — with a fixed
 * identity (tenant 1, an admin key, optionally restricted to client 1) and a
 * database that is down. Every route of the core table is reachable:
 * handlers parse path parameters, query parameters (pagination, filters)
 * and bodies (rr_req_json + rr_json_check; streamed bodies read through
 * rr_body_read) before their first query, and that query must then turn
 * into a 503 problem, never a crash or a 2xx.
 *
 * Input, HTTP-like: "<METHOD> <request URI>\n" then header lines
 * "Name: value\n", an empty line, the body. Byte 0 of the input, when it
 * is below 0x20, picks the identity (bit 0: key restricted to client 1;
 * bit 1: read scope instead of admin) and is skipped.
 *
 * Invariants besides ASan/UBSan and LeakSanitizer:
 *  - every handler responds (or returns an error the worker turns into a
 *    problem); no 2xx reaches a route that needs the database;
 *  - a JSON or problem body parses as JSON; a problem's "status" equals
 *    the response status; statuses stay in the set the API documents.
 */
#include "fuzz_common.h"

#include <fcgiapp.h>
#include <string.h>

static bool status_known(int s)
{
    static const int ok[] = {200, 201, 202, 204, 400, 401, 403, 404,
                             405, 409, 413, 415, 422, 429, 500, 503};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (ok[i] == s)
            return true;
    return false;
}

static void parse_head(rr_ctx_t *ctx, rr_arena_t *a, const uint8_t **data, size_t *size)
{
    char *line = fuzz_take(a, data, size, '\n');
    char *sp = strchr(line, ' ');
    ctx->method = sp ? rr_arena_strndup(a, line, (size_t)(sp - line)) : line;
    const char *uri = sp ? sp + 1 : "/";
    const char *q = strchr(uri, '?');
    ctx->path = rr_arena_strndup(a, uri, q ? (size_t)(q - uri) : strlen(uri));
    rr_ctx_parse_query(ctx, q ? q + 1 : "");

    ctx->headers = rr_arena_alloc(a, sizeof(rr_kv_t) * 32);
    ctx->nheaders = 0;
    while (*size) {
        char *h = fuzz_take(a, data, size, '\n');
        size_t hl = strlen(h);
        if (hl && h[hl - 1] == '\r')
            h[--hl] = '\0';
        if (!*h)
            break; /* the blank line: the body follows */
        char *colon = strchr(h, ':');
        if (!colon || ctx->nheaders == 32)
            continue;
        *colon = '\0';
        const char *v = colon + 1;
        while (*v == ' ')
            v++;
        /* as copy_headers leaves them: lower case, '-' for '_' */
        for (char *p = h; *p; p++)
            *p = *p == '_' ? '-' : (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        ctx->headers[ctx->nheaders].name = h;
        ctx->headers[ctx->nheaders].value = v;
        ctx->nheaders++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    static rr_arena_t *arena;
    if (!arena)
        arena = rr_arena_new();
    unsigned who = 0;
    if (size && data[0] < 0x20) {
        who = data[0];
        data++, size--;
    }

    rr_ctx_t ctx;
    rr_ctx_init(&ctx, arena, fuzz_db_down());
    ctx.request_id = "fuzz";
    parse_head(&ctx, arena, &data, &size);

    const char *allow = NULL;
    rr_match_t m =
        rr_router_match(ctx.method, ctx.path, arena, &ctx.route, ctx.params, &ctx.nparams, &allow);
    if (m != RR_MATCH_OK) {
        rr_arena_reset(arena);
        return -1; /* routing is fuzz_query's */
    }
    const rr_route_t *route = ctx.route;

    /* the body, as read_body leaves it, or as a stream over the input */
    FCGX_Stream stream;
    if (route->flags & RR_ROUTE_STREAM_BODY) {
        memset(&stream, 0, sizeof stream);
        stream.rdNext = stream.stopUnget = (unsigned char *)data;
        stream.stop = stream.wrNext = (unsigned char *)data + size;
        stream.isReader = 1;
        stream.isClosed = 1; /* at the end of the buffer: EOF, no refill */
        ctx.body_stream = &stream;
        ctx.body_left = size;
    } else {
        ctx.body = rr_arena_alloc(arena, size + 1);
        memcpy(ctx.body, data, size);
        ctx.body[size] = '\0';
        ctx.body_len = size;
    }

    /* what rr_auth_request leaves for a valid key */
    snprintf(ctx.key.public_id, sizeof ctx.key.public_id, "fuzzkey00000");
    ctx.key.key_id = 1;
    ctx.key.tenant_id = ctx.tenant_id = 1;
    ctx.key.client_id = (who & 1) ? 1 : 0;
    ctx.key.scope = (who & 2) ? RR_SCOPE_READ : RR_SCOPE_ADMIN;

    if (route->scope != RR_SCOPE_PUBLIC && ctx.key.scope < route->scope) {
        rr_arena_reset(arena);
        return -1; /* the worker answers 403 before the handler */
    }
    if (route->scope != RR_SCOPE_PUBLIC)
        rr_tx_begin(&ctx, ctx.tenant_id);
    rr_rc_t rc = route->handler(&ctx, route->user_data);
    if (rc == RR_DB_ERROR)
        rr_problem_from_db(&ctx);
    else if (rc == RR_ERROR || !ctx.responded)
        rr_problem(&ctx, 500, "internal", NULL, "internal error");
    if (route->scope != RR_SCOPE_PUBLIC)
        rr_tx_end(&ctx, false);
    rr_body_drain(&ctx);

    FUZZ_CHECK(ctx.responded && status_known(ctx.status));
    if (rc == RR_OK && route->scope != RR_SCOPE_PUBLIC)
        FUZZ_CHECK(ctx.status >= 400 || !ctx.db_lost); /* no 2xx after a lost query */
    if (ctx.content_type && strstr(ctx.content_type, "json") && ctx.resp_len) {
        json_t *j = json_loadb(ctx.resp_body, ctx.resp_len, JSON_DECODE_ANY, NULL);
        FUZZ_CHECK(j != NULL);
        if (!strcmp(ctx.content_type, "application/problem+json"))
            FUZZ_CHECK(json_integer_value(json_object_get(j, "status")) == ctx.status);
        json_decref(j);
    }

    rr_ctx_cleanup(&ctx);
    rr_arena_reset(arena);
    return 0;
}
