/*
 * JSON request bodies: rr_req_json (media type, size limit, depth pre-scan,
 * duplicate keys, non-objects) and rr_json_check against the field tables the
 * core's handlers use (clients, accounts, keys; each also as a PATCH, where no
 * field is required), plus rr_time_valid on every string value.
 *
 * Input: byte 0 picks the table, the Content-Type and the limits; the rest is
 * the body.
 *
 * Invariants besides ASan/UBSan:
 *  - every refusal is a problem response with status 400/413/415/422;
 *  - a body that rr_req_json accepts is an object no deeper than the depth
 *    limit (the byte pre-scan and jansson must agree), and rr_req_json
 *    returns the same object when called again;
 *  - rr_json_check accepts only objects whose every member is in the table,
 *    not read-only, of the right type, within max_len, in one_of, without
 *    NUL, and has every required field;
 *  - a string rr_time_valid accepts starts with YYYY-MM-DDTHH:MM:SS, digits
 *    where digits belong.
 */
#include "fuzz_common.h"

#include <string.h>

static const char *const platforms[] = {"x",       "instagram", "tiktok", "facebook",
                                        "youtube", "linkedin",  NULL};
static const char *const relations[] = {"own", "competitor", NULL};
static const char *const scopes[] = {"read", "write", "admin", NULL};

/* copies of core/routes_clients.c and core/routes_keys.c */
static const rr_field_t client_fields[] = {
    {"id", RR_FT_INT, RR_F_READONLY, 0, NULL},
    {"tenant_id", RR_FT_INT, RR_F_READONLY, 0, NULL},
    {"created_at", RR_FT_TIME, RR_F_READONLY, 0, NULL},
    {"updated_at", RR_FT_TIME, RR_F_READONLY, 0, NULL},
    {"name", RR_FT_STRING, RR_F_REQUIRED, 200, NULL},
    {"notes", RR_FT_STRING, RR_F_NULLABLE, 4000, NULL},
};
static const rr_field_t account_fields[] = {
    {"id", RR_FT_INT, RR_F_READONLY, 0, NULL},
    {"tenant_id", RR_FT_INT, RR_F_READONLY, 0, NULL},
    {"client_id", RR_FT_INT, RR_F_READONLY, 0, NULL},
    {"created_at", RR_FT_TIME, RR_F_READONLY, 0, NULL},
    {"updated_at", RR_FT_TIME, RR_F_READONLY, 0, NULL},
    {"platform", RR_FT_STRING, RR_F_REQUIRED, 20, platforms},
    {"handle", RR_FT_STRING, RR_F_REQUIRED, 100, NULL},
    {"external_id", RR_FT_STRING, RR_F_NULLABLE, 100, NULL},
    {"relation", RR_FT_STRING, 0, 20, relations},
};
static const rr_field_t key_fields[] = {
    {"name", RR_FT_STRING, RR_F_NULLABLE, 200, NULL},
    {"scope", RR_FT_STRING, RR_F_REQUIRED, 0, scopes},
    {"client_id", RR_FT_INT, RR_F_NULLABLE, 0, NULL},
    {"expires_at", RR_FT_TIME, RR_F_NULLABLE, 0, NULL},
    {"id", RR_FT_INT, RR_F_READONLY, 0, NULL},
    {"public_id", RR_FT_STRING, RR_F_READONLY, 0, NULL},
    {"tenant_id", RR_FT_INT, RR_F_READONLY, 0, NULL},
    {"created_at", RR_FT_TIME, RR_F_READONLY, 0, NULL},
    {"revoked_at", RR_FT_TIME, RR_F_READONLY, 0, NULL},
    {"key", RR_FT_STRING, RR_F_READONLY, 0, NULL},
    {"rate_limit", RR_FT_INT, RR_F_READONLY, 0, NULL},
};
/* every type and flag, small limits */
static const rr_field_t all_fields[] = {
    {"s", RR_FT_STRING, RR_F_REQUIRED, 5, NULL},
    {"i", RR_FT_INT, 0, 0, NULL},
    {"n", RR_FT_NUMBER, RR_F_NULLABLE, 0, NULL},
    {"b", RR_FT_BOOL, 0, 0, NULL},
    {"t", RR_FT_TIME, RR_F_NULLABLE, 0, NULL},
    {"o", RR_FT_OBJECT, 0, 0, NULL},
    {"a", RR_FT_ARRAY, 0, 3, NULL},
    {"e", RR_FT_STRING, 0, 0, relations},
    {"r", RR_FT_INT, RR_F_READONLY, 0, NULL},
};
#define N(a) (sizeof(a) / sizeof *(a))

static const struct {
    const rr_field_t *f;
    size_t n;
} tables[] = {{client_fields, N(client_fields)},
              {account_fields, N(account_fields)},
              {key_fields, N(key_fields)},
              {all_fields, N(all_fields)}};

static const char *const ctypes[] = {"application/json",  "application/json; charset=utf-8",
                                     " APPLICATION/JSON", "application/jsonx",
                                     "text/plain",        NULL /* no header */,
                                     "application/json ", ""};

static int depth_of(json_t *j)
{
    int best = 0;
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v)
        {
            int d = depth_of(v);
            if (d > best)
                best = d;
        }
        return best + 1;
    }
    if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v)
        {
            int d = depth_of(v);
            if (d > best)
                best = d;
        }
        return best + 1;
    }
    return 0;
}

/* YYYY-MM-DDTHH:MM:SS, digits where digits belong (no sign, no blank) */
static int time_shaped(const char *s)
{
    static const char pat[] = "dddd-dd-ddTdd:dd:dd";
    if (strlen(s) < 20)
        return 0;
    for (int i = 0; pat[i]; i++)
        if (pat[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != pat[i])
            return 0;
    return 1;
}

static const rr_field_t *field_for(const rr_field_t *f, size_t n, const char *name)
{
    const rr_field_t *found = NULL;
    for (size_t i = 0; i < n; i++)
        if (!strcmp(f[i].name, name))
            found = &f[i];
    return found;
}

static void check_accepted(json_t *obj, const rr_field_t *f, size_t n, int patch)
{
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v)
    {
        const rr_field_t *d = field_for(f, n, k);
        FUZZ_CHECK(d && !(d->flags & RR_F_READONLY));
        if (json_is_null(v)) {
            FUZZ_CHECK(d->flags & RR_F_NULLABLE);
            continue;
        }
        switch (d->type) {
        case RR_FT_STRING: {
            FUZZ_CHECK(json_is_string(v));
            size_t len = json_string_length(v);
            FUZZ_CHECK(len <= (d->max_len ? d->max_len : 4000));
            FUZZ_CHECK(!memchr(json_string_value(v), 0, len));
            if (d->one_of) {
                int ok = 0;
                for (const char *const *o = d->one_of; *o; o++)
                    ok |= !strcmp(*o, json_string_value(v));
                FUZZ_CHECK(ok);
            }
            break;
        }
        case RR_FT_INT: FUZZ_CHECK(json_is_integer(v)); break;
        case RR_FT_NUMBER: FUZZ_CHECK(json_is_number(v)); break;
        case RR_FT_BOOL: FUZZ_CHECK(json_is_boolean(v)); break;
        case RR_FT_TIME: {
            FUZZ_CHECK(json_is_string(v));
            const char *s = json_string_value(v);
            FUZZ_CHECK(time_shaped(s));
            break;
        }
        case RR_FT_OBJECT: FUZZ_CHECK(json_is_object(v)); break;
        case RR_FT_ARRAY:
            FUZZ_CHECK(json_is_array(v));
            FUZZ_CHECK(json_array_size(v) <= (d->max_len ? d->max_len : 1000));
            break;
        }
    }
    if (!patch)
        for (size_t i = 0; i < n; i++)
            if (f[i].flags & RR_F_REQUIRED)
                FUZZ_CHECK(json_object_get(obj, f[i].name) != NULL);
}

static void check_problem(const rr_ctx_t *ctx)
{
    FUZZ_CHECK(ctx->responded && ctx->resp_body);
    FUZZ_CHECK(ctx->status == 400 || ctx->status == 413 || ctx->status == 415 ||
               ctx->status == 422);
    FUZZ_CHECK(!strcmp(ctx->content_type, "application/problem+json"));
    json_t *p = json_loadb(ctx->resp_body, ctx->resp_len, 0, NULL);
    FUZZ_CHECK(p && json_integer_value(json_object_get(p, "status")) == ctx->status);
    json_decref(p);
}

/* every string value, at any depth, through the date-time validator */
static void times(json_t *j, int budget)
{
    if (budget <= 0)
        return;
    if (json_is_string(j)) {
        if (rr_time_valid(json_string_value(j)))
            FUZZ_CHECK(time_shaped(json_string_value(j)));
        return;
    }
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(j))
        json_object_foreach(j, k, v) times(v, budget - 1);
    else if (json_is_array(j))
        json_array_foreach(j, i, v) times(v, budget - 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    if (size < 1)
        return 0;
    static rr_arena_t *arena;
    if (!arena)
        arena = rr_arena_new();
    unsigned sel = data[0];
    data++, size--;

    size_t saved_max = rr_cfg.max_json_body;
    int saved_depth = rr_cfg.max_json_depth;
    if (sel & 0x80)
        rr_cfg.max_json_body = 1024; /* the smallest REALREACH_MAX_JSON_BODY */
    if (sel & 0x40)
        rr_cfg.max_json_depth = 2 + (int)(sel & 7); /* from the smallest allowed */

    rr_ctx_t ctx;
    rr_ctx_init(&ctx, arena, NULL);
    ctx.method = "POST";
    ctx.path = "/v1/clients";
    ctx.request_id = "fuzz";
    const char *ctype = ctypes[(sel >> 3) & 7];
    ctx.headers = rr_arena_alloc(arena, sizeof(rr_kv_t));
    if (ctype) {
        ctx.headers[0].name = "content-type";
        ctx.headers[0].value = ctype;
        ctx.nheaders = 1;
    }
    /* as read_body leaves it: the bytes, then a NUL */
    ctx.body = rr_arena_alloc(arena, size + 1);
    memcpy(ctx.body, data, size);
    ctx.body[size] = '\0';
    ctx.body_len = size;

    json_t *obj = rr_req_json(&ctx);
    if (!obj) {
        check_problem(&ctx);
    } else {
        FUZZ_CHECK(!ctx.responded);
        FUZZ_CHECK(json_is_object(obj));
        FUZZ_CHECK(depth_of(obj) <= rr_cfg.max_json_depth);
        FUZZ_CHECK(rr_req_json(&ctx) == obj);
        times(obj, 64);
        unsigned t = sel & 3;
        const rr_field_t *f = tables[t].f;
        size_t n = tables[t].n;
        int patch = (sel >> 2) & 1;
        rr_field_t copy[16];
        if (patch) {
            for (size_t i = 0; i < n; i++) {
                copy[i] = f[i];
                copy[i].flags &= ~RR_F_REQUIRED;
            }
            f = copy;
        }
        rr_rc_t rc = rr_json_check(&ctx, obj, f, n);
        if (rc == RR_OK) {
            FUZZ_CHECK(!ctx.responded);
            check_accepted(obj, f, n, patch);
        } else {
            FUZZ_CHECK(rc == RR_INVALID);
            check_problem(&ctx);
            FUZZ_CHECK(ctx.status == 422);
        }
    }
    rr_cfg.max_json_body = saved_max;
    rr_cfg.max_json_depth = saved_depth;
    rr_ctx_cleanup(&ctx);
    rr_arena_reset(arena);
    return 0;
}
