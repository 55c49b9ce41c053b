/*
 * API keys: rr_key_parse on the raw input, then rr_auth_request with the
 * input as the Authorization header value (and an optional query string),
 * up to the database lookup: the database is down (half the inputs: a
 * disconnected handle, half: none), so a well-formed key must get 503 with
 * Retry-After, never RR_OK and never a crash.
 *
 * Input: "<Authorization value>\n<query string>" (both cut at NUL; the query
 * part is optional).
 *
 * Invariants besides ASan/UBSan:
 *  - rr_key_parse accepts exactly rr_<12 base62>_<43..86 base62> and
 *    returns the 12-character public id and a pointer to the secret;
 *  - rr_auth_request never answers RR_OK here; it answers 401 with a
 *    WWW-Authenticate challenge, or (a well-formed Bearer key, nothing
 *    key-like in the URL) 503 with Retry-After;
 *  - keys from rr_key_generate always parse (checked once at start-up).
 */
#include "fuzz_common.h"

#include <string.h>
#include <strings.h>

static int b62(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* the format, independently of keys.c */
static int key_shaped(const char *k)
{
    if (strncmp(k, "rr_", 3))
        return 0;
    for (int i = 3; i < 15; i++)
        if (!b62(k[i]))
            return 0;
    if (k[15] != '_')
        return 0;
    size_t n = 0;
    while (b62(k[16 + n]))
        n++;
    return k[16 + n] == '\0' && n >= 43 && n <= 86;
}

static const char *resp_header(rr_ctx_t *ctx, const char *name)
{
    for (rr_header_t *h = ctx->resp_headers; h; h = h->next)
        if (!strcasecmp(h->name, name))
            return h->value;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    static rr_arena_t *arena;
    static int generated;
    if (!arena)
        arena = rr_arena_new();
    if (!generated) {
        generated = 1;
        for (int i = 0; i < 64; i++) {
            char key[128], pub[32], pub2[32];
            const char *secret = NULL;
            FUZZ_CHECK(rr_key_generate(key, sizeof key, pub) == 0);
            FUZZ_CHECK(rr_key_parse(key, pub2, &secret) && !strcmp(pub, pub2));
            FUZZ_CHECK(key_shaped(key) && secret == key + 16);
        }
    }

    char *auth = fuzz_take(arena, &data, &size, '\n');
    char *qs = size ? fuzz_cstr(arena, data, size) : NULL;

    char pub[32];
    memset(pub, 'X', sizeof pub);
    const char *secret = NULL;
    bool ok = rr_key_parse(auth, pub, &secret);
    FUZZ_CHECK(ok == (bool)key_shaped(auth));
    if (ok) {
        FUZZ_CHECK(strlen(pub) == 12 && !memcmp(pub, auth + 3, 12));
        FUZZ_CHECK(secret == auth + 16);
    }
    /* a NULL out-parameter is allowed */
    FUZZ_CHECK(rr_key_parse(auth, NULL, NULL) == ok);

    rr_ctx_t ctx;
    rr_ctx_init(&ctx, arena, (size & 1) ? fuzz_db_down() : NULL);
    ctx.method = "GET";
    ctx.path = "/v1/clients";
    ctx.request_id = "fuzz";
    ctx.headers = rr_arena_alloc(arena, sizeof(rr_kv_t));
    ctx.headers[0].name = "authorization";
    ctx.headers[0].value = auth;
    ctx.nheaders = 1;
    rr_ctx_parse_query(&ctx, qs);

    rr_rc_t rc = rr_auth_request(&ctx);
    FUZZ_CHECK(rc == RR_INVALID);
    FUZZ_CHECK(ctx.status == 401 || ctx.status == 503);
    if (ctx.status == 401) {
        FUZZ_CHECK(resp_header(&ctx, "WWW-Authenticate") != NULL);
    } else {
        FUZZ_CHECK(resp_header(&ctx, "Retry-After") != NULL);
        /* only a well-formed key reaches the lookup */
        const char *h = auth;
        while (*h == ' ' || *h == '\t')
            h++;
        FUZZ_CHECK(!strncasecmp(h, "bearer", 6));
    }
    FUZZ_CHECK(ctx.tenant_id == 0 && ctx.key.key_id == 0);

    rr_ctx_cleanup(&ctx);
    rr_arena_reset(arena);
    return 0;
}
