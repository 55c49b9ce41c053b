/*
 * The request context: initialisation, query-string and header access.
 * Everything a context points to lives in its arena, so copying what libfcgi
 * hands out (it frees params at the next accept) is one arena copy.
 */
#include "rr.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void rr_ctx_init(rr_ctx_t *ctx, rr_arena_t *arena, rr_db_t *db)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->arena = arena;
    ctx->db = db;
    ctx->status = 0;
}

void rr_ctx_cleanup(rr_ctx_t *ctx)
{
    if (ctx->body_json)
        json_decref(ctx->body_json);
    if (ctx->events)
        json_decref(ctx->events);
    if (ctx->body_hash)
        EVP_MD_CTX_free((EVP_MD_CTX *)ctx->body_hash);
    if (ctx->body_heap) {
        if (ctx->body == ctx->body_heap) {
            ctx->body = NULL;
            ctx->body_len = 0;
        }
        free(ctx->body_heap);
        ctx->body_heap = NULL;
    }
    ctx->body_json = NULL;
    ctx->events = NULL;
    ctx->body_hash = NULL;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into the arena; '+' is a space in query strings.
 * Returns NULL for a malformed escape or an embedded NUL. */
static char *url_decode(rr_arena_t *a, const char *s, size_t n)
{
    char *out = rr_arena_alloc(a, n + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int h, l;
            if (i + 2 >= n || (h = hexval((unsigned char)s[i + 1])) < 0 ||
                (l = hexval((unsigned char)s[i + 2])) < 0)
                return NULL;
            int c = h * 16 + l;
            if (c == 0)
                return NULL;
            out[o++] = (char)c;
            i += 2;
        } else if (s[i] == '+') {
            out[o++] = ' ';
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    return out;
}

#define RR_MAX_QUERY_PARAMS 64

void rr_ctx_parse_query(rr_ctx_t *ctx, const char *qs)
{
    ctx->query_string = qs ? qs : "";
    ctx->nquery = 0;
    ctx->query = rr_arena_alloc(ctx->arena, sizeof(rr_kv_t) * RR_MAX_QUERY_PARAMS);
    if (!qs || !ctx->query)
        return;
    const char *p = qs;
    while (*p && ctx->nquery < RR_MAX_QUERY_PARAMS) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        if (len > 0) {
            const char *eq = memchr(p, '=', len);
            size_t klen = eq ? (size_t)(eq - p) : len;
            char *k = url_decode(ctx->arena, p, klen);
            char *v = eq ? url_decode(ctx->arena, eq + 1, len - klen - 1)
                         : rr_arena_strdup(ctx->arena, "");
            if (k && v) {
                ctx->query[ctx->nquery].name = k;
                ctx->query[ctx->nquery].value = v;
                ctx->nquery++;
            } else if (!ctx->bad_query) {
                /* refused, not dropped: dropping ?platform=x%00 would
                 * silently widen the answer */
                ctx->bad_query = k ? k : rr_arena_strndup(ctx->arena, p, klen);
            }
        }
        if (!amp)
            break;
        p = amp + 1;
    }
}

const char *rr_ctx_query(rr_ctx_t *ctx, const char *name)
{
    for (int i = 0; i < ctx->nquery; i++)
        if (!strcmp(ctx->query[i].name, name))
            return ctx->query[i].value;
    return NULL;
}

bool rr_one_of(const char *s, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (!strcmp(s, *allowed))
            return true;
    return false;
}

rr_rc_t rr_query_one_of(rr_ctx_t *ctx, const char *name, const char *const *allowed,
                        const char **value)
{
    const char *v = rr_ctx_query(ctx, name);
    *value = v;
    if (!v || rr_one_of(v, allowed))
        return RR_OK;
    size_t n = 1;
    for (const char *const *a = allowed; *a; a++)
        n += strlen(*a) + 2;
    char *list = rr_arena_alloc(ctx->arena, n);
    if (!list)
        return rr_problem(ctx, 400, "invalid-parameter", name, "%s has no such value", name);
    list[0] = '\0';
    for (const char *const *a = allowed; *a; a++) {
        if (a != allowed)
            strcat(list, ", ");
        strcat(list, *a);
    }
    return rr_problem(ctx, 400, "invalid-parameter", name, "%s must be one of %s", name, list);
}

const char *rr_ctx_header(rr_ctx_t *ctx, const char *name)
{
    for (int i = 0; i < ctx->nheaders; i++)
        if (!strcasecmp(ctx->headers[i].name, name))
            return ctx->headers[i].value;
    return NULL;
}
