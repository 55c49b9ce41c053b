/*
 * Building responses: JSON bodies, raw bodies, headers, and the one helper for
 * RFC 9457 problem details. Every error the service gives goes through
 * rr_problem(), so each kind has one stable type URI:
 *   https://realreach.dev/problems/<kind>
 */
#include "rr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

rr_rc_t rr_respond_raw(rr_ctx_t *ctx, int status, const char *ctype, const char *body,
                       size_t len)
{
    ctx->status = status;
    ctx->content_type = rr_arena_strdup(ctx->arena, ctype);
    ctx->resp_body = rr_arena_strndup(ctx->arena, body ? body : "", body ? len : 0);
    ctx->resp_len = body ? len : 0;
    ctx->responded = true;
    return ctx->resp_body ? RR_OK : RR_ERROR;
}

rr_rc_t rr_respond_json(rr_ctx_t *ctx, int status, json_t *body)
{
    if (!body)
        return RR_ERROR;
    /* 10 significant digits: a share reads 0.3584, not 0.35839999999999998 */
    char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
    json_decref(body);
    if (!text)
        return RR_ERROR;
    rr_rc_t rc = rr_respond_raw(ctx, status, "application/json", text, strlen(text));
    free(text);
    return rc;
}

rr_rc_t rr_header_set(rr_ctx_t *ctx, const char *name, const char *value)
{
    /* refuse CR/LF: a header value must never split the response */
    if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return RR_ERROR;
    for (rr_header_t *h = ctx->resp_headers; h; h = h->next) {
        if (!strcasecmp(h->name, name)) {
            h->value = rr_arena_strdup(ctx->arena, value);
            return RR_OK;
        }
    }
    rr_header_t *h = rr_arena_alloc(ctx->arena, sizeof *h);
    if (!h)
        return RR_ERROR;
    h->name = rr_arena_strdup(ctx->arena, name);
    h->value = rr_arena_strdup(ctx->arena, value);
    h->next = ctx->resp_headers;
    ctx->resp_headers = h;
    return RR_OK;
}

static const char *status_title(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 500 ? "Client Error" : "Server Error";
    }
}

rr_rc_t rr_vproblem(rr_ctx_t *ctx, int status, const char *kind, const char *field,
                    const char *fmt, va_list ap)
{
    char detail[1024];
    vsnprintf(detail, sizeof detail, fmt, ap);
    json_t *p = json_object();
    char type[160];
    snprintf(type, sizeof type, RR_PROBLEM_BASE "%s", kind);
    json_object_set_new(p, "type", json_string(type));
    json_object_set_new(p, "title", json_string(status_title(status)));
    json_object_set_new(p, "status", json_integer(status));
    /* detail may quote client input: jansson refuses invalid UTF-8 */
    json_t *d = json_string(detail);
    json_object_set_new(p, "detail", d ? d : json_string("invalid input"));
    if (field) {
        json_t *f = json_string(field);
        json_object_set_new(p, "field", f ? f : json_null());
    }
    if (ctx->request_id)
        json_object_set_new(p, "request_id", json_string(ctx->request_id));
    char *text = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    if (!text)
        return RR_ERROR;
    rr_respond_raw(ctx, status, "application/problem+json", text, strlen(text));
    free(text);
    return RR_INVALID;
}

rr_rc_t rr_problem(rr_ctx_t *ctx, int status, const char *kind, const char *field,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rr_rc_t rc = rr_vproblem(ctx, status, kind, field, fmt, ap);
    va_end(ap);
    return rc;
}

void rr_problem_add_errors(rr_ctx_t *ctx, json_t *errors)
{
    json_t *p = ctx->resp_body ? json_loadb(ctx->resp_body, ctx->resp_len, 0, NULL) : NULL;
    if (!p) {
        json_decref(errors);
        return;
    }
    json_object_set_new(p, "errors", errors);
    char *text = json_dumps(p, JSON_COMPACT);
    json_decref(p);
    if (text) {
        rr_respond_raw(ctx, ctx->status, "application/problem+json", text, strlen(text));
        free(text);
    }
}

static bool state_class(const char *s, const char *cls) { return !strncmp(s, cls, 2); }

rr_rc_t rr_problem_from_db(rr_ctx_t *ctx)
{
    const char *s = ctx->sqlstate[0] ? ctx->sqlstate : "XX000";
    if (ctx->db_lost || state_class(s, "08") || state_class(s, "53") || state_class(s, "58") ||
        !strcmp(s, "57P01") || !strcmp(s, "57P02") || !strcmp(s, "57P03") ||
        !strcmp(s, "25006")) {
        rr_header_set(ctx, "Retry-After", "1");
        rr_log(RR_LOG_WARN, "database unavailable (%s): %s", s,
               ctx->db_error ? ctx->db_error : "");
        return rr_problem(ctx, 503, "unavailable", NULL,
                          "the database is unavailable; retry shortly");
    }
    if (!strcmp(s, "40001") || !strcmp(s, "40P01") || !strcmp(s, "55P03"))
        return rr_problem(ctx, 409, "conflict", NULL,
                          "a concurrent change conflicted with this request; retry it");
    if (!strcmp(s, "23505"))
        return rr_problem(ctx, 409, "conflict", NULL, "an object with these values already exists");
    if (!strcmp(s, "23503"))
        return rr_problem(ctx, 422, "invalid-reference", NULL,
                          "a referenced object does not exist");
    if (state_class(s, "22") || state_class(s, "23"))
        return rr_problem(ctx, 422, "validation", NULL, "a value is out of range or invalid");
    if (!strcmp(s, "57014"))
        return rr_problem(ctx, 503, "unavailable", NULL, "the query took too long");
    rr_log(RR_LOG_ERROR, "query failed (%s): %s", s, ctx->db_error ? ctx->db_error : "");
    return rr_problem(ctx, 500, "internal", NULL, "internal error (request %s)",
                      ctx->request_id ? ctx->request_id : "-");
}
