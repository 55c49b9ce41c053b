/*
 * JSON input: the body parser with its limits (size, depth, duplicate keys)
 * and the one field validator every handler uses. Limits are checked before
 * jansson builds anything, so a hostile body costs a linear scan, not memory.
 */
#include "rr.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int rr_json_depth_exceeds(const char *text, size_t len, int limit)
{
    int depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
        } else if (c == '"') {
            in_str = true;
        } else if (c == '{' || c == '[') {
            if (++depth > limit)
                return -1;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return 0;
}

static bool media_type_is(const char *ctype, const char *want)
{
    if (!ctype)
        return false;
    size_t n = strlen(want);
    while (*ctype == ' ')
        ctype++;
    return !strncasecmp(ctype, want, n) && (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

json_t *rr_req_json(rr_ctx_t *ctx)
{
    if (ctx->body_json)
        return ctx->body_json;
    if (ctx->body_len == 0) {
        rr_problem(ctx, 400, "invalid-json", NULL, "a JSON object body is required");
        return NULL;
    }
    const char *ctype = rr_ctx_header(ctx, "Content-Type");
    if (!media_type_is(ctype, "application/json")) {
        rr_problem(ctx, 415, "unsupported-media-type", "Content-Type",
                   "send the body as application/json");
        return NULL;
    }
    if (ctx->body_len > rr_cfg.max_json_body) {
        rr_problem(ctx, 413, "payload-too-large", NULL, "a JSON body may be at most %zu bytes",
                   rr_cfg.max_json_body);
        return NULL;
    }
    if (rr_json_depth_exceeds(ctx->body, ctx->body_len, rr_cfg.max_json_depth)) {
        rr_problem(ctx, 400, "invalid-json", NULL, "JSON nested deeper than %d levels",
                   rr_cfg.max_json_depth);
        return NULL;
    }
    json_error_t err;
    /* NUL is allowed by the parser so that the field check can name the field */
    json_t *j = json_loadb(ctx->body, ctx->body_len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &err);
    if (!j) {
        rr_problem(ctx, 400, "invalid-json", NULL, "malformed JSON at line %d column %d: %s",
                   err.line, err.column, err.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        rr_problem(ctx, 400, "invalid-json", NULL, "the body must be a JSON object");
        return NULL;
    }
    ctx->body_json = j;
    return j;
}

/* ISO 8601 / RFC 3339 date-time with an explicit zone:
 * YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM) */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

bool rr_time_valid(const char *s)
{
    /* fixed positions, digits only: sscanf's %d would take signs and blanks */
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    for (int i = 0; i < 19; i++)
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
            return false;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), sec = digits(s + 17, 2);
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 ||
        sec > 60)
        return false;
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (mo == 2 && d == 29 && !leap)
        return false;
    const char *p = s + 19;
    if (*p == '.') {
        p++;
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'Z' || *p == 'z')
        return p[1] == '\0';
    if ((*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2]) &&
        p[3] == ':' && isdigit((unsigned char)p[4]) && isdigit((unsigned char)p[5]) && !p[6])
        return true;
    return false;
}

static const char *type_name(rr_field_type_t t)
{
    switch (t) {
    case RR_FT_STRING: return "a string";
    case RR_FT_INT: return "an integer";
    case RR_FT_NUMBER: return "a number";
    case RR_FT_BOOL: return "a boolean";
    case RR_FT_TIME: return "an ISO 8601 date-time with a time zone";
    case RR_FT_OBJECT: return "an object";
    default: return "an array";
    }
}

static bool type_ok(const json_t *v, rr_field_type_t t)
{
    switch (t) {
    case RR_FT_STRING: return json_is_string(v);
    case RR_FT_INT: return json_is_integer(v);
    case RR_FT_NUMBER: return json_is_number(v);
    case RR_FT_BOOL: return json_is_boolean(v);
    case RR_FT_TIME: return json_is_string(v) && rr_time_valid(json_string_value(v));
    case RR_FT_OBJECT: return json_is_object(v);
    default: return json_is_array(v);
    }
}

#define RR_DEFAULT_MAX_STRING 4000
#define RR_DEFAULT_MAX_ARRAY 1000

rr_rc_t rr_json_check(rr_ctx_t *ctx, json_t *obj, const rr_field_t *fields, size_t n)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        const rr_field_t *f = NULL;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(fields[i].name, key))
                f = &fields[i];
        if (!f)
            return rr_problem(ctx, 422, "unknown-field", key, "unknown field '%s'", key);
        if (f->flags & RR_F_READONLY)
            return rr_problem(ctx, 422, "read-only-field", key, "'%s' is read-only", key);
        if (json_is_null(v)) {
            if (!(f->flags & RR_F_NULLABLE))
                return rr_problem(ctx, 422, "validation", key, "'%s' may not be null", key);
            continue;
        }
        if (!type_ok(v, f->type))
            return rr_problem(ctx, 422, "validation", key, "'%s' must be %s", key,
                              type_name(f->type));
        if (f->type == RR_FT_STRING) {
            size_t max = f->max_len ? f->max_len : RR_DEFAULT_MAX_STRING;
            size_t len = json_string_length(v);
            if (len == 0 && (f->flags & RR_F_REQUIRED))
                return rr_problem(ctx, 422, "validation", key, "'%s' may not be empty", key);
            if (len > max)
                return rr_problem(ctx, 422, "validation", key, "'%s' is longer than %zu bytes",
                                  key, max);
            if (memchr(json_string_value(v), '\0', len))
                return rr_problem(ctx, 422, "validation", key, "'%s' contains a NUL byte", key);
            if (f->one_of && !rr_one_of(json_string_value(v), f->one_of))
                return rr_problem(ctx, 422, "validation", key, "'%s' is not an allowed value",
                                  key);
        }
        if (f->type == RR_FT_ARRAY) {
            size_t max = f->max_len ? f->max_len : RR_DEFAULT_MAX_ARRAY;
            if (json_array_size(v) > max)
                return rr_problem(ctx, 422, "validation", key, "'%s' has more than %zu items",
                                  key, max);
        }
    }
    for (size_t i = 0; i < n; i++)
        if ((fields[i].flags & RR_F_REQUIRED) && !json_object_get(obj, fields[i].name))
            return rr_problem(ctx, 422, "validation", fields[i].name, "'%s' is required",
                              fields[i].name);
    return RR_OK;
}
