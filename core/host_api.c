/*
 * The host API table handed to plugins. Its functions are thin wrappers over
 * the core's own (rr_*), under other names, so a plugin can never bind to a
 * core symbol by accident. Registration functions work only while the plugin's
 * init() runs (Redis checks ctx->module->onload the same way).
 */
#include "rr.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rr_rc_t h_route_add(rr_plugin_t *self, const rr_route_def_t *def)
{
    if (!self || !self->in_init || !def || def->size < sizeof(rr_route_def_t))
        return RR_ERROR;
    return rr_router_add(def, self->desc->name);
}

static rr_rc_t h_job_kind_add(rr_plugin_t *self, const char *kind, rr_job_fn fn, void *ud)
{
    if (!self || !self->in_init)
        return RR_ERROR;
    return rr_job_kind_register(kind, fn, ud, self->desc->name);
}

static rr_rc_t h_hook_add(rr_plugin_t *self, const char *event, rr_hook_fn fn, void *ud)
{
    if (!self || !self->in_init)
        return RR_ERROR;
    return rr_hook_register(event, fn, ud, self->desc->name);
}

static rr_rc_t h_section_add(rr_plugin_t *self, const char *name, rr_section_fn fn, void *ud)
{
    if (!self || !self->in_init)
        return RR_ERROR;
    return rr_section_register(name, fn, ud, self->desc->name);
}

static rr_rc_t h_migration_add(rr_plugin_t *self, const char *name, const char *sql)
{
    if (!self || !self->in_init)
        return RR_ERROR;
    return rr_migration_register(self->desc->name, name, sql);
}

static const char *h_method(rr_ctx_t *ctx) { return ctx->method; }
static const char *h_path(rr_ctx_t *ctx) { return ctx->path; }

static const char *h_param(rr_ctx_t *ctx, const char *name)
{
    for (int i = 0; i < ctx->nparams; i++)
        if (!strcmp(ctx->params[i].name, name))
            return ctx->params[i].value;
    return NULL;
}

static const char *h_query(rr_ctx_t *ctx, const char *name) { return rr_ctx_query(ctx, name); }
static const char *h_header(rr_ctx_t *ctx, const char *name) { return rr_ctx_header(ctx, name); }

static const char *h_body(rr_ctx_t *ctx, size_t *len)
{
    if (len)
        *len = ctx->body_len;
    return ctx->body ? ctx->body : "";
}

static json_t *h_json(rr_ctx_t *ctx) { return rr_req_json(ctx); }

static rr_rc_t h_param_id(rr_ctx_t *ctx, const char *name, int64_t *out)
{
    const char *v = h_param(ctx, name);
    char *end;
    errno = 0;
    long long n = v ? strtoll(v, &end, 10) : 0;
    if (!v || errno || *end || end == v || n <= 0 || v[0] == '+' || v[0] == ' ')
        return rr_problem(ctx, 404, "not-found", name, "no such %s", name);
    *out = n;
    return RR_OK;
}

static int64_t h_tenant(rr_ctx_t *ctx) { return ctx->tenant_id; }
static int64_t h_key_client(rr_ctx_t *ctx) { return ctx->key.client_id; }

static rr_rc_t h_problem(rr_ctx_t *ctx, int status, const char *kind, const char *field,
                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rr_rc_t rc = rr_vproblem(ctx, status, kind, field, fmt, ap);
    va_end(ap);
    return rc;
}

static int h_job_attempt(rr_ctx_t *ctx) { return ctx->is_job ? ctx->job_attempt : 0; }

/* The core's account loader, under the public type. */
static rr_rc_t h_account_load(rr_ctx_t *ctx, const char *param, rr_account_t *out)
{
    _Static_assert(sizeof out->platform == sizeof ((rr_account_ref_t *)0)->platform,
                   "rr_account_t.platform and rr_account_ref_t.platform differ");
    if (!param || !out)
        return RR_ERROR;
    rr_account_ref_t acct;
    rr_rc_t rc = rr_account_load_param(ctx, param, &acct);
    if (rc != RR_OK)
        return rc;
    out->id = acct.id;
    out->client_id = acct.client_id;
    memcpy(out->platform, acct.platform, sizeof out->platform);
    out->handle = acct.handle;
    return RR_OK;
}

static void *h_alloc(rr_ctx_t *ctx, size_t size) { return rr_arena_alloc(ctx->arena, size); }

static char *h_sprintf(rr_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = rr_arena_vsprintf(ctx->arena, fmt, ap);
    va_end(ap);
    return s;
}

static void h_log(rr_ctx_t *ctx, rr_log_level_t level, const char *fmt, ...)
{
    (void)ctx;
    va_list ap;
    va_start(ap, fmt);
    rr_vlog(level, fmt, ap);
    va_end(ap);
}

const rr_host_api_t rr_host_api = {
    .size = sizeof(rr_host_api_t),
    .abi_major = RR_ABI_MAJOR,
    .abi_minor = RR_ABI_MINOR,
    .route_add = h_route_add,
    .job_kind_add = h_job_kind_add,
    .hook_add = h_hook_add,
    .report_section_add = h_section_add,
    .migration_add = h_migration_add,
    .req_method = h_method,
    .req_path = h_path,
    .req_param = h_param,
    .req_query = h_query,
    .req_header = h_header,
    .req_body = h_body,
    .req_json = h_json,
    .param_id = h_param_id,
    .tenant_id = h_tenant,
    .key_client_id = h_key_client,
    .respond_json = rr_respond_json,
    .respond_raw = rr_respond_raw,
    .header_set = rr_header_set,
    .problem = h_problem,
    .json_check = rr_json_check,
    .db_query = rr_db_query,
    .page_begin = rr_page_begin,
    .page_respond = rr_page_respond,
    .job_enqueue = rr_job_enqueue,
    .respond_job_accepted = rr_respond_job_accepted,
    .event_emit = rr_event_emit,
    .alloc = h_alloc,
    .sprintf = h_sprintf,
    .log = h_log,
    .row_json = rr_row_json,
    .rows_json = rr_rows_json,
    .page_respond_rows = rr_page_respond_rows,
    .job_attempt = h_job_attempt,
    .body_read = rr_body_read,
    .copy_begin = rr_copy_begin,
    .copy_put = rr_copy_put,
    .copy_end = rr_copy_end,
    .account_load = h_account_load,
};
