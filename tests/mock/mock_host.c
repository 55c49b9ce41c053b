/*
 * mock_host — the host API for plugin unit tests (see mock_host.h for how to
 * use it). It mirrors what the core does where a plugin can observe it
 * (routing, scopes, problem documents, JSON validation, pagination bounds)
 * and records everything else (queries, jobs, events) for assertions.
 *
 * The mock's own bookkeeping uses plain malloc and aborts when that fails: only
 * allocations made on the plugin's behalf (host->alloc, host->sprintf and
 * jansson while a plugin callback runs) take part in failure injection.
 */
#if !defined(_GNU_SOURCE) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* strtok_r, strcasecmp: also when built without -D_GNU_SOURCE */
#endif
#include "mock_host.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MOCK_PROBLEM_BASE "https://realreach.dev/problems/"
#define MOCK_MAX_KV 32
#define MOCK_MAX_PARAMS 8
#define MOCK_MAX_SEGMENTS 12
#define MOCK_MAX_JSON_DEPTH 32
#define MOCK_MAX_JSON_BODY (1024u * 1024u)
#define MOCK_PAGE_DEFAULT 50
#define MOCK_PAGE_MAX 200
#define MOCK_DEFAULT_MAX_STRING 4000
#define MOCK_DEFAULT_MAX_ARRAY 1000

/* ------------------------------------------------------------ helpers */

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "mock_host: out of memory in the mock itself\n");
        abort();
    }
    return p;
}

static char *xstrdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *p = xmalloc(n + 1);
    memcpy(p, s, n + 1);
    return p;
}

static void *xgrow(void *p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return p;
    size_t ncap = *cap ? *cap * 2 : 8;
    while (ncap < need)
        ncap *= 2;
    void *np = realloc(p, ncap * elem);
    if (!np)
        abort();
    *cap = ncap;
    return np;
}

/* ------------------------------------------------ allocation counting */

static unsigned long alloc_count, alloc_fail_at, alloc_failures;
static bool counting; /* true while a plugin callback runs */

static void *counted_malloc(size_t n)
{
    if (counting) {
        alloc_count++;
        if (alloc_fail_at && alloc_count == alloc_fail_at) {
            alloc_failures++;
            return NULL;
        }
    }
    return malloc(n);
}

static void install_allocator(void)
{
    static bool done;
    if (!done) {
        json_set_alloc_funcs(counted_malloc, free);
        done = true;
    }
}

void mock_alloc_fail_at(unsigned long n)
{
    install_allocator();
    alloc_fail_at = n;
    alloc_count = 0;
    alloc_failures = 0;
}

unsigned long mock_alloc_failures(void) { return alloc_failures; }
unsigned long mock_alloc_count(void) { return alloc_count; }

/* ----------------------------------------------------------- registry */

struct rr_plugin {
    const rr_plugin_desc_t *desc;
    bool in_init;
};

typedef struct {
    char *name;
    rr_job_fn fn;
    void *ud;
} mock_job_kind_t;

typedef struct {
    char *event;
    rr_hook_fn fn;
    void *ud;
} mock_hook_t;

typedef struct {
    char *name;
    const char *sql;
} mock_migration_t;

static struct {
    rr_plugin_t plugin;
    bool loaded;
    rr_route_def_t *routes;
    size_t nroutes, croutes;
    mock_job_kind_t *kinds;
    size_t nkinds, ckinds;
    mock_hook_t *hooks;
    size_t nhooks, chooks;
    char **sections;
    size_t nsections, csections;
    mock_migration_t *migrations;
    size_t nmigrations, cmigrations;
    char error[512];
} reg;

static void reg_misuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reg_misuse(const char *fmt, ...)
{
    if (reg.error[0])
        return; /* keep the first: later ones are often consequences */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reg.error, sizeof reg.error, fmt, ap);
    va_end(ap);
}

const char *mock_registry_error(void) { return reg.error[0] ? reg.error : NULL; }

void mock_registry_reset(void)
{
    free(reg.routes);
    for (size_t i = 0; i < reg.nkinds; i++)
        free(reg.kinds[i].name);
    free(reg.kinds);
    for (size_t i = 0; i < reg.nhooks; i++)
        free(reg.hooks[i].event);
    free(reg.hooks);
    for (size_t i = 0; i < reg.nsections; i++)
        free(reg.sections[i]);
    free(reg.sections);
    for (size_t i = 0; i < reg.nmigrations; i++)
        free(reg.migrations[i].name);
    free(reg.migrations);
    memset(&reg, 0, sizeof reg);
}

static bool may_register(rr_plugin_t *self, const char *what)
{
    if (self != &reg.plugin || !reg.loaded) {
        reg_misuse("%s: not called with the rr_plugin_t given to init()", what);
        return false;
    }
    if (!self->in_init) {
        reg_misuse("%s: called outside init() (the host refuses it)", what);
        return false;
    }
    return true;
}

static bool valid_method(const char *m)
{
    static const char *const ok[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (m && !strcmp(m, ok[i]))
            return true;
    return false;
}

/* A template: '/'-separated non-empty segments; "{name}" segments with
 * name in [a-z0-9_], each name once. */
static bool valid_template(const char *path, char *why, size_t cap)
{
    if (!path || path[0] != '/') {
        snprintf(why, cap, "must start with '/'");
        return false;
    }
    char names[MOCK_MAX_PARAMS][64];
    int nnames = 0, nseg = 0;
    const char *p = path;
    while (*p == '/') {
        p++;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0) {
            snprintf(why, cap, "has an empty segment");
            return false;
        }
        if (++nseg > MOCK_MAX_SEGMENTS) {
            snprintf(why, cap, "has more than %d segments", MOCK_MAX_SEGMENTS);
            return false;
        }
        if (p[0] == '{') {
            if (p[len - 1] != '}' || len < 3 || len - 2 >= sizeof names[0]) {
                snprintf(why, cap, "has a malformed parameter segment");
                return false;
            }
            for (size_t i = 1; i < len - 1; i++)
                if (!(islower((unsigned char)p[i]) || isdigit((unsigned char)p[i]) || p[i] == '_')) {
                    snprintf(why, cap, "parameter names use a-z, 0-9 and '_'");
                    return false;
                }
            if (nnames == MOCK_MAX_PARAMS) {
                snprintf(why, cap, "has more than %d parameters", MOCK_MAX_PARAMS);
                return false;
            }
            memcpy(names[nnames], p + 1, len - 2);
            names[nnames][len - 2] = '\0';
            for (int i = 0; i < nnames; i++)
                if (!strcmp(names[i], names[nnames])) {
                    snprintf(why, cap, "repeats parameter '%.40s'", names[i]);
                    return false;
                }
            nnames++;
        } else if (memchr(p, '{', len) || memchr(p, '}', len)) {
            snprintf(why, cap, "mixes literal text and a parameter in one segment");
            return false;
        }
        p += len;
    }
    return true;
}

static bool valid_schema(const char *text)
{
    if (!text)
        return true;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    bool ok = json_is_object(j);
    json_decref(j);
    return ok;
}

static rr_rc_t m_route_add(rr_plugin_t *self, const rr_route_def_t *def)
{
    if (!may_register(self, "route_add"))
        return RR_ERROR;
    char why[128];
    if (!def || def->size < sizeof(rr_route_def_t)) {
        reg_misuse("route_add: def is NULL or def->size is not sizeof(rr_route_def_t)");
        return RR_ERROR;
    }
    if (!valid_method(def->method)) {
        reg_misuse("route_add %s: method must be GET, POST, PUT, PATCH or DELETE",
                   def->path ? def->path : "(null)");
        return RR_ERROR;
    }
    if (!valid_template(def->path, why, sizeof why)) {
        reg_misuse("route_add %s %s: the path %s", def->method, def->path ? def->path : "(null)",
                   why);
        return RR_ERROR;
    }
    if (!def->handler || !def->summary || !*def->summary) {
        reg_misuse("route_add %s %s: a handler and a summary are required", def->method,
                   def->path);
        return RR_ERROR;
    }
    if (def->scope < RR_SCOPE_PUBLIC || def->scope > RR_SCOPE_ADMIN) {
        reg_misuse("route_add %s %s: scope out of range", def->method, def->path);
        return RR_ERROR;
    }
    if (!valid_schema(def->request_schema) || !valid_schema(def->response_schema)) {
        reg_misuse("route_add %s %s: request/response schema is not a JSON object", def->method,
                   def->path);
        return RR_ERROR;
    }
    if (mock_route_find(def->method, def->path)) {
        reg_misuse("route_add %s %s: registered twice", def->method, def->path);
        return RR_ERROR;
    }
    reg.routes = xgrow(reg.routes, &reg.croutes, reg.nroutes + 1, sizeof *reg.routes);
    reg.routes[reg.nroutes++] = *def;
    return RR_OK;
}

static rr_rc_t m_job_kind_add(rr_plugin_t *self, const char *kind, rr_job_fn fn, void *ud)
{
    if (!may_register(self, "job_kind_add"))
        return RR_ERROR;
    if (!kind || !*kind || !fn || mock_job_kind_exists(kind)) {
        reg_misuse("job_kind_add '%s': empty, without a function, or registered twice",
                   kind ? kind : "(null)");
        return RR_ERROR;
    }
    reg.kinds = xgrow(reg.kinds, &reg.ckinds, reg.nkinds + 1, sizeof *reg.kinds);
    reg.kinds[reg.nkinds++] = (mock_job_kind_t){xstrdup(kind), fn, ud};
    return RR_OK;
}

static rr_rc_t m_hook_add(rr_plugin_t *self, const char *event, rr_hook_fn fn, void *ud)
{
    if (!may_register(self, "hook_add"))
        return RR_ERROR;
    if (!event || !*event || !fn) {
        reg_misuse("hook_add: an event name and a function are required");
        return RR_ERROR;
    }
    reg.hooks = xgrow(reg.hooks, &reg.chooks, reg.nhooks + 1, sizeof *reg.hooks);
    reg.hooks[reg.nhooks++] = (mock_hook_t){xstrdup(event), fn, ud};
    return RR_OK;
}

static rr_rc_t m_section_add(rr_plugin_t *self, const char *name, rr_section_fn fn, void *ud)
{
    (void)ud;
    if (!may_register(self, "report_section_add"))
        return RR_ERROR;
    bool dup = false;
    for (size_t i = 0; name && i < reg.nsections; i++)
        dup |= !strcmp(reg.sections[i], name);
    if (!name || !*name || !fn || dup) {
        reg_misuse("report_section_add '%s': empty, without a function, or registered twice",
                   name ? name : "(null)");
        return RR_ERROR;
    }
    reg.sections = xgrow(reg.sections, &reg.csections, reg.nsections + 1, sizeof *reg.sections);
    reg.sections[reg.nsections++] = xstrdup(name);
    return RR_OK;
}

static rr_rc_t m_migration_add(rr_plugin_t *self, const char *name, const char *sql)
{
    if (!may_register(self, "migration_add"))
        return RR_ERROR;
    bool dup = false;
    for (size_t i = 0; name && i < reg.nmigrations; i++)
        dup |= !strcmp(reg.migrations[i].name, name);
    if (!name || !*name || !sql || !*sql || dup) {
        reg_misuse("migration_add '%s': empty name or SQL, or registered twice",
                   name ? name : "(null)");
        return RR_ERROR;
    }
    reg.migrations = xgrow(reg.migrations, &reg.cmigrations, reg.nmigrations + 1,
                           sizeof *reg.migrations);
    reg.migrations[reg.nmigrations++] = (mock_migration_t){xstrdup(name), sql};
    return RR_OK;
}

size_t mock_routes_count(void) { return reg.nroutes; }
const rr_route_def_t *mock_route_at(size_t i) { return i < reg.nroutes ? &reg.routes[i] : NULL; }

const rr_route_def_t *mock_route_find(const char *method, const char *path)
{
    for (size_t i = 0; i < reg.nroutes; i++)
        if (!strcmp(reg.routes[i].method, method) && !strcmp(reg.routes[i].path, path))
            return &reg.routes[i];
    return NULL;
}

size_t mock_job_kinds_count(void) { return reg.nkinds; }

bool mock_job_kind_exists(const char *kind)
{
    for (size_t i = 0; i < reg.nkinds; i++)
        if (!strcmp(reg.kinds[i].name, kind))
            return true;
    return false;
}

size_t mock_hooks_count(void) { return reg.nhooks; }

bool mock_hook_exists(const char *event)
{
    for (size_t i = 0; i < reg.nhooks; i++)
        if (!strcmp(reg.hooks[i].event, event))
            return true;
    return false;
}

size_t mock_sections_count(void) { return reg.nsections; }
size_t mock_migrations_count(void) { return reg.nmigrations; }
const char *mock_migration_name(size_t i) { return i < reg.nmigrations ? reg.migrations[i].name : NULL; }
const char *mock_migration_sql(size_t i) { return i < reg.nmigrations ? reg.migrations[i].sql : NULL; }

/* The same checks, in the same order, as the core's loader. */
static const char *check_desc(const rr_plugin_desc_t *d)
{
    if (!d)
        return "rr_plugin_describe() returned NULL";
    if (d->size < offsetof(rr_plugin_desc_t, fini) + sizeof(void (*)(void)))
        return "field 'size': smaller than the ABI 1.0 descriptor";
    if (d->magic != RR_PLUGIN_MAGIC)
        return "field 'magic': not RR_PLUGIN_MAGIC";
    if (d->abi_major != RR_ABI_MAJOR)
        return "field 'abi_major': differs from the host";
    if (d->abi_minor > RR_ABI_MINOR)
        return "field 'abi_minor': newer than the host";
    if (!d->build_signature || strcmp(d->build_signature, RR_BUILD_SIGNATURE))
        return "field 'build_signature': differs from the host";
    if (!d->name || !*d->name || strlen(d->name) > 64)
        return "field 'name': missing or longer than 64 bytes";
    for (const char *p = d->name; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '-'))
            return "field 'name': only a-z, 0-9, '_' and '-' are allowed";
    if (!d->version || !*d->version)
        return "field 'version': missing";
    if (!d->init)
        return "field 'init': missing";
    return NULL;
}

rr_rc_t mock_plugin_init(rr_plugin_describe_fn describe)
{
    install_allocator();
    mock_registry_reset();
    const rr_plugin_desc_t *d = describe ? describe() : NULL;
    const char *why = check_desc(d);
    if (why) {
        reg_misuse("the loader refuses the plugin: %s", why);
        return RR_ERROR;
    }
    reg.plugin.desc = d;
    reg.loaded = true;
    reg.plugin.in_init = true;
    counting = true;
    rr_rc_t rc = d->init(&reg.plugin, &mock_host_api);
    counting = false;
    reg.plugin.in_init = false;
    return rc;
}

void mock_plugin_fini(void)
{
    if (reg.loaded && reg.plugin.desc->fini)
        reg.plugin.desc->fini(&reg.plugin);
}

/* ------------------------------------------------------------ context */

typedef struct {
    char *name;
    char *value;
} mock_kv_t;

typedef struct {
    PGresult *res; /* NULL: fail with sqlstate */
    char sqlstate[6];
} mock_answer_t;

typedef struct {
    char *sql;
    int nparams;
    char **params;
} mock_call_t;

typedef struct {
    char *sql;
    char *data;
    size_t len, cap;
} mock_copy_t;

typedef struct mock_mem {
    struct mock_mem *next;
    max_align_t data[];
} mock_mem_t;

struct rr_ctx {
    /* request */
    char *method;
    char *path;
    mock_kv_t params[MOCK_MAX_PARAMS];
    int nparams;
    mock_kv_t query[MOCK_MAX_KV];
    int nquery;
    mock_kv_t headers[MOCK_MAX_KV];
    int nheaders;
    char *body;
    size_t body_len;
    size_t body_pos; /* body_read() position */
    json_t *body_json;

    /* identity */
    int64_t tenant_id;
    int64_t client_id;
    rr_scope_t scope;

    /* response */
    int status;
    char *content_type;
    char *resp_body;
    size_t resp_len;
    int nresponses;
    mock_kv_t resp_headers[MOCK_MAX_KV];
    int nresp_headers;
    json_t *resp_json; /* parsed lazily for assertions */

    /* database */
    mock_answer_t *script;
    size_t nscript, cscript, next_answer;
    mock_call_t *calls;
    size_t ncalls, ccalls;
    int failed_queries;
    char last_sqlstate[6];

    /* COPY FROM STDIN */
    mock_copy_t *copies;
    size_t ncopies, ccopies;
    bool copy_open;
    char copy_fail[6];   /* queued failure for the next COPY, "" = none */
    int64_t copy_rows;   /* queued row count, -1 = count lines */

    /* recorded work */
    json_t *jobs;   /* [{"kind":..,"payload":..}] */
    json_t *events; /* [{"event":..,"payload":..}] */
    char **logs;
    size_t nlogs, clogs;

    int job_attempt; /* set while a job runs; 0 in a request */
    int next_attempt;

    mock_mem_t *mem; /* host->alloc / host->sprintf blocks */
    char misuse[512];
};

static void misuse(rr_ctx_t *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void misuse(rr_ctx_t *ctx, const char *fmt, ...)
{
    if (ctx->misuse[0])
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx->misuse, sizeof ctx->misuse, fmt, ap);
    va_end(ap);
}

rr_ctx_t *mock_ctx_new(void)
{
    install_allocator();
    rr_ctx_t *ctx = xmalloc(sizeof *ctx);
    memset(ctx, 0, sizeof *ctx);
    ctx->tenant_id = 1;
    ctx->scope = RR_SCOPE_ADMIN;
    ctx->next_attempt = 1;
    ctx->copy_rows = -1;
    bool was = counting;
    counting = false;
    ctx->jobs = json_array();
    ctx->events = json_array();
    counting = was;
    if (!ctx->jobs || !ctx->events)
        abort();
    return ctx;
}

static void kv_free(mock_kv_t *kv, int n)
{
    for (int i = 0; i < n; i++) {
        free(kv[i].name);
        free(kv[i].value);
    }
}

static void response_clear(rr_ctx_t *ctx)
{
    free(ctx->content_type);
    free(ctx->resp_body);
    json_decref(ctx->resp_json);
    ctx->content_type = NULL;
    ctx->resp_body = NULL;
    ctx->resp_json = NULL;
    ctx->resp_len = 0;
    ctx->status = 0;
}

void mock_ctx_free(rr_ctx_t *ctx)
{
    if (!ctx)
        return;
    free(ctx->method);
    free(ctx->path);
    kv_free(ctx->params, ctx->nparams);
    kv_free(ctx->query, ctx->nquery);
    kv_free(ctx->headers, ctx->nheaders);
    kv_free(ctx->resp_headers, ctx->nresp_headers);
    free(ctx->body);
    json_decref(ctx->body_json);
    response_clear(ctx);
    for (size_t i = ctx->next_answer; i < ctx->nscript; i++)
        PQclear(ctx->script[i].res);
    free(ctx->script);
    for (size_t i = 0; i < ctx->ncalls; i++) {
        free(ctx->calls[i].sql);
        for (int k = 0; k < ctx->calls[i].nparams; k++)
            free(ctx->calls[i].params[k]);
        free(ctx->calls[i].params);
    }
    free(ctx->calls);
    for (size_t i = 0; i < ctx->ncopies; i++) {
        free(ctx->copies[i].sql);
        free(ctx->copies[i].data);
    }
    free(ctx->copies);
    json_decref(ctx->jobs);
    json_decref(ctx->events);
    for (size_t i = 0; i < ctx->nlogs; i++)
        free(ctx->logs[i]);
    free(ctx->logs);
    while (ctx->mem) {
        mock_mem_t *n = ctx->mem->next;
        free(ctx->mem);
        ctx->mem = n;
    }
    free(ctx);
}

void mock_set_key(rr_ctx_t *ctx, int64_t tenant_id, int64_t client_id, rr_scope_t scope)
{
    ctx->tenant_id = tenant_id;
    ctx->client_id = client_id;
    ctx->scope = scope;
}

static void kv_set(mock_kv_t *kv, int *n, int max, const char *name, const char *value,
                   bool nocase)
{
    for (int i = 0; i < *n; i++) {
        if (nocase ? !strcasecmp(kv[i].name, name) : !strcmp(kv[i].name, name)) {
            free(kv[i].value);
            kv[i].value = xstrdup(value);
            return;
        }
    }
    if (*n == max) {
        fprintf(stderr, "mock_host: more than %d values of one kind\n", max);
        abort();
    }
    kv[*n].name = xstrdup(name);
    kv[*n].value = xstrdup(value);
    (*n)++;
}

static const char *kv_get(const mock_kv_t *kv, int n, const char *name, bool nocase)
{
    for (int i = 0; i < n; i++)
        if (nocase ? !strcasecmp(kv[i].name, name) : !strcmp(kv[i].name, name))
            return kv[i].value;
    return NULL;
}

void mock_set_query(rr_ctx_t *ctx, const char *name, const char *value)
{
    kv_set(ctx->query, &ctx->nquery, MOCK_MAX_KV, name, value, false);
}

void mock_set_header(rr_ctx_t *ctx, const char *name, const char *value)
{
    kv_set(ctx->headers, &ctx->nheaders, MOCK_MAX_KV, name, value, true);
}

void mock_set_param(rr_ctx_t *ctx, const char *name, const char *value)
{
    kv_set(ctx->params, &ctx->nparams, MOCK_MAX_PARAMS, name, value, false);
}

void mock_set_body_raw(rr_ctx_t *ctx, const char *body, size_t len)
{
    free(ctx->body);
    ctx->body = xmalloc(len + 1);
    memcpy(ctx->body, body, len);
    ctx->body[len] = '\0';
    ctx->body_len = len;
    ctx->body_pos = 0;
    json_decref(ctx->body_json);
    ctx->body_json = NULL;
}

void mock_set_body(rr_ctx_t *ctx, const char *body)
{
    mock_set_body_raw(ctx, body, strlen(body));
    if (!kv_get(ctx->headers, ctx->nheaders, "Content-Type", true))
        mock_set_header(ctx, "Content-Type", "application/json");
}

/* ----------------------------------------------------------- response */

static rr_rc_t m_respond_raw(rr_ctx_t *ctx, int status, const char *ctype, const char *body,
                             size_t len)
{
    if (status < 100 || status > 599) {
        misuse(ctx, "respond: status %d is not an HTTP status", status);
        return RR_ERROR;
    }
    if (++ctx->nresponses > 1)
        misuse(ctx, "a response was set twice (the second replaces the first)");
    response_clear(ctx);
    ctx->status = status;
    ctx->content_type = xstrdup(ctype);
    ctx->resp_body = xmalloc(len + 1);
    if (body)
        memcpy(ctx->resp_body, body, len);
    ctx->resp_body[body ? len : 0] = '\0';
    ctx->resp_len = body ? len : 0;
    return RR_OK;
}

static rr_rc_t m_respond_json(rr_ctx_t *ctx, int status, json_t *body)
{
    if (!body)
        return RR_ERROR; /* the host's answer to a failed json_pack(): 500 */
    char *text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(body);
    if (!text)
        return RR_ERROR;
    rr_rc_t rc = m_respond_raw(ctx, status, "application/json", text, strlen(text));
    free(text);
    return rc;
}

static rr_rc_t m_header_set(rr_ctx_t *ctx, const char *name, const char *value)
{
    if (!name || !value || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
        return RR_ERROR;
    kv_set(ctx->resp_headers, &ctx->nresp_headers, MOCK_MAX_KV, name, value, true);
    return RR_OK;
}

static rr_rc_t vproblem(rr_ctx_t *ctx, int status, const char *kind, const char *field,
                        const char *fmt, va_list ap)
{
    char detail[1024];
    vsnprintf(detail, sizeof detail, fmt, ap);
    if (status < 400 || !kind || !*kind)
        misuse(ctx, "problem: status %d / kind '%s' (a problem is a 4xx/5xx with a kind)", status,
               kind ? kind : "(null)");
    char type[160];
    snprintf(type, sizeof type, MOCK_PROBLEM_BASE "%s", kind ? kind : "");
    json_t *d = json_string(detail); /* NULL for invalid UTF-8 (quoted input) or OOM */
    if (!d)
        d = json_string("invalid input");
    json_t *p = json_pack("{s:s, s:i, s:o}", "type", type, "status", status, "detail", d);
    if (p && field && json_object_set_new(p, "field", json_string(field))) {
        json_decref(p);
        p = NULL;
    }
    char *text = p ? json_dumps(p, JSON_COMPACT) : NULL;
    json_decref(p);
    if (!text)
        return RR_ERROR;
    m_respond_raw(ctx, status, "application/problem+json", text, strlen(text));
    free(text);
    return RR_INVALID;
}

static rr_rc_t m_problem(rr_ctx_t *ctx, int status, const char *kind, const char *field,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static rr_rc_t m_problem(rr_ctx_t *ctx, int status, const char *kind, const char *field,
                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rr_rc_t rc = vproblem(ctx, status, kind, field, fmt, ap);
    va_end(ap);
    return rc;
}

/* Problems the mock itself answers (routing), outside any callback. */
static rr_rc_t host_problem(rr_ctx_t *ctx, int status, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static rr_rc_t host_problem(rr_ctx_t *ctx, int status, const char *kind, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rr_rc_t rc = vproblem(ctx, status, kind, NULL, fmt, ap);
    va_end(ap);
    ctx->nresponses = 0; /* the handler has not answered yet */
    return rc;
}

int mock_status(const rr_ctx_t *ctx) { return ctx->status; }
const char *mock_content_type(const rr_ctx_t *ctx) { return ctx->content_type; }

const char *mock_body(const rr_ctx_t *ctx, size_t *len)
{
    if (len)
        *len = ctx->resp_len;
    return ctx->resp_body;
}

json_t *mock_body_json(rr_ctx_t *ctx)
{
    if (!ctx->resp_json && ctx->resp_body && ctx->resp_len)
        ctx->resp_json = json_loadb(ctx->resp_body, ctx->resp_len, 0, NULL);
    return ctx->resp_json;
}

const char *mock_header(const rr_ctx_t *ctx, const char *name)
{
    return kv_get(ctx->resp_headers, ctx->nresp_headers, name, true);
}

const char *mock_problem_kind(rr_ctx_t *ctx)
{
    const char *type = json_string_value(json_object_get(mock_body_json(ctx), "type"));
    if (!type || strncmp(type, MOCK_PROBLEM_BASE, strlen(MOCK_PROBLEM_BASE)))
        return NULL;
    return type + strlen(MOCK_PROBLEM_BASE);
}

const char *mock_problem_field(rr_ctx_t *ctx)
{
    return json_string_value(json_object_get(mock_body_json(ctx), "field"));
}

/* ------------------------------------------------------------ request */

static const char *m_method(rr_ctx_t *ctx) { return ctx->method; }
static const char *m_path(rr_ctx_t *ctx) { return ctx->path; }

static const char *m_param(rr_ctx_t *ctx, const char *name)
{
    return kv_get(ctx->params, ctx->nparams, name, false);
}

static const char *m_query(rr_ctx_t *ctx, const char *name)
{
    return kv_get(ctx->query, ctx->nquery, name, false);
}

static const char *m_header(rr_ctx_t *ctx, const char *name)
{
    return kv_get(ctx->headers, ctx->nheaders, name, true);
}

static const char *m_body(rr_ctx_t *ctx, size_t *len)
{
    if (len)
        *len = ctx->body_len;
    return ctx->body ? ctx->body : "";
}

static bool json_too_deep(const char *text, size_t len, int limit)
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
        } else if ((c == '{' || c == '[') && ++depth > limit) {
            return true;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return false;
}

static json_t *m_req_json(rr_ctx_t *ctx)
{
    if (ctx->body_json)
        return ctx->body_json;
    if (ctx->body_len == 0) {
        m_problem(ctx, 400, "invalid-json", NULL, "a JSON object body is required");
        return NULL;
    }
    const char *ct = m_header(ctx, "Content-Type");
    size_t n = strlen("application/json");
    if (!ct || strncasecmp(ct, "application/json", n) || (ct[n] && ct[n] != ';' && ct[n] != ' ')) {
        m_problem(ctx, 415, "unsupported-media-type", "Content-Type",
                  "send the body as application/json");
        return NULL;
    }
    if (ctx->body_len > MOCK_MAX_JSON_BODY) {
        m_problem(ctx, 413, "payload-too-large", NULL, "a JSON body may be at most %u bytes",
                  MOCK_MAX_JSON_BODY);
        return NULL;
    }
    if (json_too_deep(ctx->body, ctx->body_len, MOCK_MAX_JSON_DEPTH)) {
        m_problem(ctx, 400, "invalid-json", NULL, "JSON nested deeper than %d levels",
                  MOCK_MAX_JSON_DEPTH);
        return NULL;
    }
    json_error_t err;
    json_t *j = json_loadb(ctx->body, ctx->body_len, JSON_REJECT_DUPLICATES, &err);
    if (!j) {
        m_problem(ctx, 400, "invalid-json", NULL, "malformed JSON: %s", err.text);
        return NULL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        m_problem(ctx, 400, "invalid-json", NULL, "the body must be a JSON object");
        return NULL;
    }
    ctx->body_json = j;
    return j;
}

static rr_rc_t m_param_id(rr_ctx_t *ctx, const char *name, int64_t *out)
{
    const char *v = m_param(ctx, name);
    char *end = NULL;
    long long n = 0;
    if (v && isdigit((unsigned char)v[0])) {
        errno = 0;
        n = strtoll(v, &end, 10);
    }
    if (!v || !end || *end || errno || n <= 0)
        return m_problem(ctx, 404, "not-found", name, "no such %s", name);
    *out = n;
    return RR_OK;
}

static int64_t m_tenant(rr_ctx_t *ctx) { return ctx->tenant_id; }
static int64_t m_key_client(rr_ctx_t *ctx) { return ctx->client_id; }

/* --------------------------------------------------------- validation */

static bool time_valid(const char *s)
{
    int y, mo, d, h, mi, sec, n = 0;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n != 19)
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1900)
        return false;
    const char *p = s + 19;
    if (*p == '.') {
        if (!isdigit((unsigned char)*++p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    if (*p == 'Z' || *p == 'z')
        return !p[1];
    return (*p == '+' || *p == '-') && isdigit((unsigned char)p[1]) &&
           isdigit((unsigned char)p[2]) && p[3] == ':' && isdigit((unsigned char)p[4]) &&
           isdigit((unsigned char)p[5]) && !p[6];
}

static bool type_ok(const json_t *v, rr_field_type_t t)
{
    switch (t) {
    case RR_FT_STRING: return json_is_string(v);
    case RR_FT_INT: return json_is_integer(v);
    case RR_FT_NUMBER: return json_is_number(v);
    case RR_FT_BOOL: return json_is_boolean(v);
    case RR_FT_TIME: return json_is_string(v) && time_valid(json_string_value(v));
    case RR_FT_OBJECT: return json_is_object(v);
    default: return json_is_array(v);
    }
}

/* Mirrors core/json.c rr_json_check(): same order of checks, same kinds. */
static rr_rc_t m_json_check(rr_ctx_t *ctx, json_t *obj, const rr_field_t *fields, size_t n)
{
    const char *key;
    json_t *v;
    if (!json_is_object(obj))
        return m_problem(ctx, 422, "validation", NULL, "expected a JSON object");
    json_object_foreach(obj, key, v) {
        const rr_field_t *f = NULL;
        for (size_t i = 0; i < n; i++)
            if (!strcmp(fields[i].name, key))
                f = &fields[i];
        if (!f)
            return m_problem(ctx, 422, "unknown-field", key, "unknown field '%s'", key);
        if (f->flags & RR_F_READONLY)
            return m_problem(ctx, 422, "read-only-field", key, "'%s' is read-only", key);
        if (json_is_null(v)) {
            if (!(f->flags & RR_F_NULLABLE))
                return m_problem(ctx, 422, "validation", key, "'%s' may not be null", key);
            continue;
        }
        if (!type_ok(v, f->type))
            return m_problem(ctx, 422, "validation", key, "'%s' has the wrong type", key);
        if (f->type == RR_FT_STRING) {
            size_t max = f->max_len ? f->max_len : MOCK_DEFAULT_MAX_STRING;
            size_t len = json_string_length(v);
            if (len == 0 && (f->flags & RR_F_REQUIRED))
                return m_problem(ctx, 422, "validation", key, "'%s' may not be empty", key);
            if (len > max)
                return m_problem(ctx, 422, "validation", key, "'%s' is longer than %zu bytes",
                                 key, max);
            if (memchr(json_string_value(v), '\0', len))
                return m_problem(ctx, 422, "validation", key, "'%s' contains a NUL byte", key);
            if (f->one_of) {
                bool found = false;
                for (const char *const *o = f->one_of; *o; o++)
                    found |= !strcmp(*o, json_string_value(v));
                if (!found)
                    return m_problem(ctx, 422, "validation", key, "'%s' is not an allowed value",
                                     key);
            }
        }
        if (f->type == RR_FT_ARRAY) {
            size_t max = f->max_len ? f->max_len : MOCK_DEFAULT_MAX_ARRAY;
            if (json_array_size(v) > max)
                return m_problem(ctx, 422, "validation", key, "'%s' has more than %zu items",
                                 key, max);
        }
    }
    for (size_t i = 0; i < n; i++)
        if ((fields[i].flags & RR_F_REQUIRED) && !json_object_get(obj, fields[i].name))
            return m_problem(ctx, 422, "validation", fields[i].name, "'%s' is required",
                             fields[i].name);
    return RR_OK;
}

/* ----------------------------------------------------------- database */

#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_JSON 114
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700
#define OID_JSONB 3802

static Oid type_oid(const char *name)
{
    static const struct {
        const char *name;
        Oid oid;
    } types[] = {{"bool", OID_BOOL},       {"boolean", OID_BOOL},   {"int2", OID_INT2},
                 {"int4", OID_INT4},       {"int", OID_INT4},       {"integer", OID_INT4},
                 {"int8", OID_INT8},       {"bigint", OID_INT8},    {"float4", OID_FLOAT4},
                 {"float8", OID_FLOAT8},   {"numeric", OID_NUMERIC}, {"json", OID_JSON},
                 {"jsonb", OID_JSONB},     {"text", OID_TEXT}};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (!strcmp(types[i].name, name))
            return types[i].oid;
    fprintf(stderr, "mock_host: unknown column type '%s'\n", name);
    abort();
}

static PGresult *make_result(const char *columns, int nrows, va_list ap)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    if (!res)
        abort();
    char *cols = xstrdup(columns);
    PGresAttDesc att[64];
    int ncols = 0;
    char *save = NULL;
    for (char *c = strtok_r(cols, ",", &save); c; c = strtok_r(NULL, ",", &save)) {
        if (ncols == 64)
            abort();
        while (*c == ' ')
            c++;
        Oid type = 25; /* text */
        char *colon = strchr(c, ':');
        if (colon) {
            *colon = '\0';
            type = type_oid(colon + 1);
        }
        att[ncols] = (PGresAttDesc){.name = c, .typid = type, .typlen = -1, .atttypmod = -1,
                                    .format = 0};
        ncols++;
    }
    if (!PQsetResultAttrs(res, ncols, att))
        abort();
    free(cols); /* PQsetResultAttrs copied the names */
    for (int r = 0; r < nrows; r++)
        for (int c = 0; c < ncols; c++) {
            const char *v = va_arg(ap, const char *);
            if (!PQsetvalue(res, r, c, (char *)v, v ? (int)strlen(v) : -1))
                abort();
        }
    return res;
}

static void script_push(rr_ctx_t *ctx, PGresult *res, const char *sqlstate)
{
    ctx->script = xgrow(ctx->script, &ctx->cscript, ctx->nscript + 1, sizeof *ctx->script);
    mock_answer_t *a = &ctx->script[ctx->nscript++];
    a->res = res;
    snprintf(a->sqlstate, sizeof a->sqlstate, "%s", sqlstate ? sqlstate : "");
}

void mock_db_rows(rr_ctx_t *ctx, const char *columns, int nrows, ...)
{
    va_list ap;
    va_start(ap, nrows);
    script_push(ctx, make_result(columns, nrows, ap), NULL);
    va_end(ap);
}

void mock_db_command(rr_ctx_t *ctx)
{
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_COMMAND_OK);
    if (!res)
        abort();
    script_push(ctx, res, NULL);
}

void mock_db_fail(rr_ctx_t *ctx, const char *sqlstate)
{
    script_push(ctx, NULL, sqlstate && *sqlstate ? sqlstate : "XX000");
}

void mock_db_result(rr_ctx_t *ctx, PGresult *res) { script_push(ctx, res, "XX000"); }

/* The highest $N in sql, skipping string literals, quoted identifiers and
 * dollar-quoted bodies well enough for the SQL plugins write. */
static int max_placeholder(const char *sql)
{
    int max = 0;
    for (const char *p = sql; *p; p++) {
        if (*p == '\'' || *p == '"') {
            char q = *p;
            while (*++p && *p != q)
                ;
            if (!*p)
                break;
        } else if (*p == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
            if (!*p)
                break;
        } else if (*p == '$' && isdigit((unsigned char)p[1])) {
            int n = (int)strtol(p + 1, NULL, 10);
            if (n > max)
                max = n;
        }
    }
    return max;
}

static PGresult *m_db_query(rr_ctx_t *ctx, const char *sql, int nparams,
                            const char *const *params)
{
    if (!sql) {
        misuse(ctx, "db_query: sql is NULL");
        return NULL;
    }
    if (ctx->copy_open)
        misuse(ctx, "db_query during a COPY (end it with copy_end first)");
    ctx->calls = xgrow(ctx->calls, &ctx->ccalls, ctx->ncalls + 1, sizeof *ctx->calls);
    mock_call_t *c = &ctx->calls[ctx->ncalls++];
    int call = (int)ctx->ncalls - 1;
    c->sql = xstrdup(sql);
    c->nparams = nparams > 0 ? nparams : 0;
    c->params = xmalloc(sizeof(char *) * (size_t)(c->nparams ? c->nparams : 1));
    for (int i = 0; i < c->nparams; i++)
        c->params[i] = params ? xstrdup(params[i]) : NULL;
    if (nparams > 0 && !params)
        misuse(ctx, "db_query %d: %d parameters announced but params is NULL", call, nparams);
    if (!strstr(sql, "realreach.current_tenant()"))
        misuse(ctx, "db_query %d: does not scope by tenant_id = realreach.current_tenant()",
               call);
    int maxp = max_placeholder(sql);
    if (maxp != nparams)
        misuse(ctx, "db_query %d: the SQL uses up to $%d but %d parameters were sent", call,
               maxp, nparams);
    if (ctx->next_answer == ctx->nscript) {
        misuse(ctx, "db_query %d: the test scripted no answer for it: %.120s", call, sql);
        snprintf(ctx->last_sqlstate, sizeof ctx->last_sqlstate, "XX000");
        ctx->failed_queries++;
        return NULL;
    }
    mock_answer_t *a = &ctx->script[ctx->next_answer++];
    if (!a->res) {
        memcpy(ctx->last_sqlstate, a->sqlstate, sizeof ctx->last_sqlstate);
        ctx->failed_queries++;
        return NULL;
    }
    PGresult *res = a->res;
    a->res = NULL; /* the caller PQclear()s it */
    return res;
}

int mock_db_calls(const rr_ctx_t *ctx) { return (int)ctx->ncalls; }

const char *mock_db_sql(const rr_ctx_t *ctx, int call)
{
    return call >= 0 && (size_t)call < ctx->ncalls ? ctx->calls[call].sql : NULL;
}

int mock_db_nparams(const rr_ctx_t *ctx, int call)
{
    return call >= 0 && (size_t)call < ctx->ncalls ? ctx->calls[call].nparams : -1;
}

const char *mock_db_param(const rr_ctx_t *ctx, int call, int i)
{
    if (call < 0 || (size_t)call >= ctx->ncalls || i < 0 || i >= ctx->calls[call].nparams)
        return NULL;
    return ctx->calls[call].params[i];
}

int mock_db_pending(const rr_ctx_t *ctx) { return (int)(ctx->nscript - ctx->next_answer); }
const char *mock_db_last_sqlstate(const rr_ctx_t *ctx) { return ctx->last_sqlstate; }

/* ------------------------------------------------- streaming and COPY */

static long m_body_read(rr_ctx_t *ctx, char *buf, size_t cap)
{
    size_t left = ctx->body_len - ctx->body_pos;
    size_t n = left < cap ? left : cap;
    if (n)
        memcpy(buf, ctx->body + ctx->body_pos, n);
    ctx->body_pos += n;
    return (long)n;
}

static rr_rc_t m_copy_begin(rr_ctx_t *ctx, const char *copy_sql)
{
    if (ctx->copy_open) {
        misuse(ctx, "copy_begin: a COPY is already open");
        return RR_ERROR;
    }
    if (!copy_sql || strncasecmp(copy_sql, "COPY ", 5) || !strcasestr(copy_sql, "FROM STDIN")) {
        misuse(ctx, "copy_begin: expected a COPY ... FROM STDIN statement");
        return RR_ERROR;
    }
    ctx->copies = xgrow(ctx->copies, &ctx->ccopies, ctx->ncopies + 1, sizeof *ctx->copies);
    ctx->copies[ctx->ncopies++] = (mock_copy_t){xstrdup(copy_sql), xmalloc(1), 0, 1};
    ctx->copies[ctx->ncopies - 1].data[0] = '\0';
    ctx->copy_open = true;
    return RR_OK;
}

static rr_rc_t m_copy_put(rr_ctx_t *ctx, const char *data, size_t len)
{
    if (!ctx->copy_open) {
        misuse(ctx, "copy_put without copy_begin");
        return RR_ERROR;
    }
    mock_copy_t *c = &ctx->copies[ctx->ncopies - 1];
    c->data = xgrow(c->data, &c->cap, c->len + len + 1, 1);
    memcpy(c->data + c->len, data, len);
    c->len += len;
    c->data[c->len] = '\0';
    return RR_OK;
}

static rr_rc_t m_copy_end(rr_ctx_t *ctx, int64_t *rows)
{
    if (!ctx->copy_open) {
        misuse(ctx, "copy_end without copy_begin");
        return RR_ERROR;
    }
    ctx->copy_open = false;
    mock_copy_t *c = &ctx->copies[ctx->ncopies - 1];
    if (ctx->copy_fail[0]) {
        memcpy(ctx->last_sqlstate, ctx->copy_fail, sizeof ctx->last_sqlstate);
        ctx->copy_fail[0] = '\0';
        ctx->failed_queries++;
        return RR_DB_ERROR;
    }
    int64_t n = ctx->copy_rows;
    if (n < 0) {
        n = 0;
        for (size_t i = 0; i < c->len; i++)
            n += c->data[i] == '\n';
        if (n > 0 && strcasestr(c->sql, "HEADER"))
            n--;
    }
    ctx->copy_rows = -1;
    if (rows)
        *rows = n;
    return RR_OK;
}

void mock_copy_fail(rr_ctx_t *ctx, const char *sqlstate)
{
    snprintf(ctx->copy_fail, sizeof ctx->copy_fail, "%s", sqlstate && *sqlstate ? sqlstate : "22P04");
}

void mock_copy_rows(rr_ctx_t *ctx, int64_t rows) { ctx->copy_rows = rows; }
int mock_copies(const rr_ctx_t *ctx) { return (int)ctx->ncopies; }

const char *mock_copy_sql(const rr_ctx_t *ctx, int i)
{
    return i >= 0 && (size_t)i < ctx->ncopies ? ctx->copies[i].sql : NULL;
}

const char *mock_copy_data(const rr_ctx_t *ctx, int i, size_t *len)
{
    if (i < 0 || (size_t)i >= ctx->ncopies)
        return NULL;
    if (len)
        *len = ctx->copies[i].len;
    return ctx->copies[i].data;
}

/* --------------------------------------------------------- pagination */

static rr_rc_t m_page_begin(rr_ctx_t *ctx, rr_page_t *page)
{
    page->limit = MOCK_PAGE_DEFAULT;
    page->after_id = 0;
    const char *l = m_query(ctx, "limit");
    if (l) {
        char *end;
        errno = 0;
        long v = strtol(l, &end, 10);
        if (errno || end == l || *end || v < 1 || v > MOCK_PAGE_MAX)
            return m_problem(ctx, 400, "invalid-parameter", "limit",
                             "limit must be an integer from 1 to %d", MOCK_PAGE_MAX);
        page->limit = (int)v;
    }
    const char *c = m_query(ctx, "cursor");
    if (c) {
        char *end = NULL;
        long long v = -1;
        if (!strncmp(c, "mock-", 5) && isdigit((unsigned char)c[5])) {
            errno = 0;
            v = strtoll(c + 5, &end, 10);
        }
        if (v <= 0 || !end || *end || errno)
            return m_problem(ctx, 400, "invalid-parameter", "cursor",
                             "cursor is not one this service issued");
        page->after_id = v;
    }
    return RR_OK;
}

static rr_rc_t m_page_respond(rr_ctx_t *ctx, const rr_page_t *page, json_t *items,
                              int64_t last_id)
{
    if (!page)
        misuse(ctx, "page_respond: page is NULL");
    if (!json_is_array(items)) {
        json_decref(items);
        return RR_ERROR;
    }
    if (page && (int)json_array_size(items) > page->limit)
        misuse(ctx, "page_respond: %zu items for a page of %d", json_array_size(items),
               page->limit);
    json_t *next = json_null();
    if (last_id > 0) {
        char cur[40];
        snprintf(cur, sizeof cur, "mock-%lld", (long long)last_id);
        next = json_string(cur);
    }
    /* json_pack releases its "o" arguments when it fails */
    return m_respond_json(ctx, 200, json_pack("{s:o, s:o}", "items", items, "next_cursor", next));
}

/* Mirrors core/dbjson.c: the column type decides the JSON type. Unlike a
 * partial object, NULL is the only answer when an allocation fails. */
static json_t *value_json(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    const char *v = PQgetvalue(res, row, col);
    size_t len = (size_t)PQgetlength(res, row, col);
    switch (PQftype(res, col)) {
    case OID_BOOL: return json_boolean(v[0] == 't');
    case OID_INT2:
    case OID_INT4:
    case OID_INT8: return json_integer(strtoll(v, NULL, 10));
    case OID_FLOAT4:
    case OID_FLOAT8:
    case OID_NUMERIC: return json_real(strtod(v, NULL));
    case OID_JSON:
    case OID_JSONB: return json_loadb(v, len, JSON_DECODE_ANY, NULL);
    default: return json_stringn(v, len);
    }
}

static json_t *m_row_json(const PGresult *res, int row)
{
    json_t *o = json_object();
    for (int c = 0; o && c < PQnfields(res); c++) {
        if (json_object_set_new(o, PQfname(res, c), value_json(res, row, c))) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

static json_t *m_rows_json(const PGresult *res)
{
    json_t *a = json_array();
    for (int r = 0; a && r < PQntuples(res); r++) {
        if (json_array_append_new(a, m_row_json(res, r))) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

static rr_rc_t m_page_respond_rows(rr_ctx_t *ctx, const rr_page_t *page, PGresult *res)
{
    if (!res || !page) {
        misuse(ctx, "page_respond_rows: page or res is NULL");
        PQclear(res);
        return RR_ERROR;
    }
    int id_col = PQfnumber(res, "id");
    if (id_col < 0)
        misuse(ctx, "page_respond_rows: the result has no \"id\" column for the cursor");
    if (PQntuples(res) > page->limit + 1)
        misuse(ctx, "page_respond_rows: %d rows for a page of %d (select limit + 1)",
               PQntuples(res), page->limit);
    int n = PQntuples(res) > page->limit ? page->limit : PQntuples(res);
    bool more = PQntuples(res) > page->limit;
    json_t *items = json_array();
    int64_t last = 0;
    for (int r = 0; items && r < n; r++) {
        if (json_array_append_new(items, m_row_json(res, r))) {
            json_decref(items);
            items = NULL;
        }
        if (id_col >= 0)
            last = strtoll(PQgetvalue(res, r, id_col), NULL, 10);
    }
    PQclear(res);
    if (!items)
        return RR_ERROR;
    return m_page_respond(ctx, page, items, more ? last : 0);
}

static int m_job_attempt(rr_ctx_t *ctx) { return ctx->job_attempt; }

void mock_set_job_attempt(rr_ctx_t *ctx, int attempt) { ctx->next_attempt = attempt; }

/* ------------------------------------------------------- jobs, events */

static rr_rc_t m_job_enqueue(rr_ctx_t *ctx, const char *kind, json_t *payload, int64_t *job_id)
{
    if (!kind || !*kind) {
        misuse(ctx, "job_enqueue: kind is empty");
        return RR_ERROR;
    }
    if (!mock_job_kind_exists(kind))
        misuse(ctx, "job_enqueue: no job kind '%s' is registered", kind);
    json_t *copy = payload ? json_deep_copy(payload) : json_object();
    json_t *job = copy ? json_pack("{s:s, s:o}", "kind", kind, "payload", copy) : NULL;
    if (!job || json_array_append_new(ctx->jobs, job))
        return RR_ERROR;
    if (job_id)
        *job_id = 100 + (int64_t)json_array_size(ctx->jobs);
    return RR_OK;
}

static rr_rc_t m_respond_job_accepted(rr_ctx_t *ctx, int64_t job_id)
{
    int64_t i = job_id - 101;
    if (i < 0 || (size_t)i >= json_array_size(ctx->jobs)) {
        misuse(ctx, "respond_job_accepted: job %lld was not enqueued here", (long long)job_id);
        return RR_ERROR;
    }
    const char *kind = json_string_value(json_object_get(json_array_get(ctx->jobs, (size_t)i), "kind"));
    char loc[64];
    snprintf(loc, sizeof loc, "/v1/jobs/%lld", (long long)job_id);
    if (m_header_set(ctx, "Location", loc))
        return RR_ERROR;
    return m_respond_json(ctx, 202, json_pack("{s:I, s:s, s:s}", "id", (json_int_t)job_id,
                                              "kind", kind, "state", "queued"));
}

static rr_rc_t m_event_emit(rr_ctx_t *ctx, const char *event, json_t *payload)
{
    if (!event || !*event) {
        misuse(ctx, "event_emit: event is empty");
        return RR_ERROR;
    }
    json_t *copy = payload ? json_deep_copy(payload) : json_object();
    json_t *ev = copy ? json_pack("{s:s, s:o}", "event", event, "payload", copy) : NULL;
    if (!ev || json_array_append_new(ctx->events, ev))
        return RR_ERROR;
    return RR_OK;
}

int mock_jobs_count(const rr_ctx_t *ctx) { return (int)json_array_size(ctx->jobs); }

const char *mock_job_kind(const rr_ctx_t *ctx, int i)
{
    return json_string_value(json_object_get(json_array_get(ctx->jobs, (size_t)i), "kind"));
}

json_t *mock_job_payload(const rr_ctx_t *ctx, int i)
{
    return json_object_get(json_array_get(ctx->jobs, (size_t)i), "payload");
}

int mock_events_count(const rr_ctx_t *ctx) { return (int)json_array_size(ctx->events); }

const char *mock_event_name(const rr_ctx_t *ctx, int i)
{
    return json_string_value(json_object_get(json_array_get(ctx->events, (size_t)i), "event"));
}

json_t *mock_event_payload(const rr_ctx_t *ctx, int i)
{
    return json_object_get(json_array_get(ctx->events, (size_t)i), "payload");
}

/* ---------------------------------------------------- memory and logs */

static void *m_alloc(rr_ctx_t *ctx, size_t size)
{
    mock_mem_t *m = counted_malloc(sizeof *m + (size ? size : 1));
    if (!m)
        return NULL;
    m->next = ctx->mem;
    ctx->mem = m;
    return m->data;
}

static char *m_sprintf(rr_ctx_t *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *m_sprintf(rr_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *p = m_alloc(ctx, (size_t)n + 1);
    if (!p)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

static void m_log(rr_ctx_t *ctx, rr_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void m_log(rr_ctx_t *ctx, rr_log_level_t level, const char *fmt, ...)
{
    static const char *const names[] = {"debug", "info", "warn", "error"};
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *lv = level >= RR_LOG_DEBUG && level <= RR_LOG_ERROR ? names[level] : "?";
    size_t len = strlen(lv) + strlen(msg) + 3;
    char *line = xmalloc(len);
    snprintf(line, len, "%s: %s", lv, msg);
    if (getenv("MOCK_HOST_VERBOSE"))
        fprintf(stderr, "[plugin log] %s\n", line);
    ctx->logs = xgrow(ctx->logs, &ctx->clogs, ctx->nlogs + 1, sizeof *ctx->logs);
    ctx->logs[ctx->nlogs++] = line;
}

int mock_logs_count(const rr_ctx_t *ctx) { return (int)ctx->nlogs; }

const char *mock_log_at(const rr_ctx_t *ctx, int i)
{
    return i >= 0 && (size_t)i < ctx->nlogs ? ctx->logs[i] : NULL;
}

/* ----------------------------------------------------------- accounts */

/* account_load() runs the core's one query through m_db_query(), so it is
 * recorded, counted and scripted like any other: mock_db_account(),
 * mock_db_no_account(), or mock_db_fail(). */
#define MOCK_ACCOUNT_SQL                                                                           \
    "SELECT client_id, platform, handle FROM realreach.accounts"                                   \
    " WHERE tenant_id = realreach.current_tenant() AND id = $1"
#define MOCK_ACCOUNT_COLS "client_id:int8,platform,handle"

void mock_db_account(rr_ctx_t *ctx, int64_t client_id, const char *platform, const char *handle)
{
    char client[24];
    snprintf(client, sizeof client, "%lld", (long long)client_id);
    mock_db_rows(ctx, MOCK_ACCOUNT_COLS, 1, client, platform ? platform : "x",
                 handle ? handle : "handle");
}

void mock_db_no_account(rr_ctx_t *ctx) { mock_db_rows(ctx, MOCK_ACCOUNT_COLS, 0); }

/* Mirrors core/routes_clients.c rr_account_load_param(): the same problems. */
static rr_rc_t m_account_load(rr_ctx_t *ctx, const char *param, rr_account_t *out)
{
    if (!param || !out) {
        misuse(ctx, "account_load: param or out is NULL");
        return RR_ERROR;
    }
    int64_t id;
    if (m_param_id(ctx, param, &id) != RR_OK)
        return RR_INVALID;
    char text[24];
    snprintf(text, sizeof text, "%lld", (long long)id);
    const char *p[1] = {text};
    PGresult *res = m_db_query(ctx, MOCK_ACCOUNT_SQL, 1, p);
    if (!res)
        return RR_DB_ERROR;
    if (PQnfields(res) != 3 || PQfnumber(res, "client_id") != 0 ||
        PQfnumber(res, "platform") != 1 || PQfnumber(res, "handle") != 2) {
        misuse(ctx, "account_load: script its answer with mock_db_account() or "
                    "mock_db_no_account()");
        PQclear(res);
        return RR_ERROR;
    }
    if (PQntuples(res) == 0) {
        PQclear(res);
        return m_problem(ctx, 404, "not-found", param, "no such account");
    }
    rr_account_t a = {.id = id, .client_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10)};
    snprintf(a.platform, sizeof a.platform, "%s", PQgetvalue(res, 0, 1));
    size_t len = (size_t)PQgetlength(res, 0, 2);
    char *handle = m_alloc(ctx, len + 1); /* arena memory, as on the server */
    if (handle)
        memcpy(handle, PQgetvalue(res, 0, 2), len + 1);
    PQclear(res);
    if (!handle)
        return RR_ERROR;
    a.handle = handle;
    if (ctx->client_id && ctx->client_id != a.client_id)
        return m_problem(ctx, 403, "forbidden", NULL, "this key is restricted to another client");
    *out = a;
    return RR_OK;
}

/* ------------------------------------------------------------ running */

/* Literal segments beat parameters, as in the core's router. */
static int match(const rr_route_def_t *r, char segs[][256], int n, mock_kv_t *params, int *np)
{
    int score = 0, k = 0, i = 0;
    const char *p = r->path;
    while (*p == '/') {
        p++;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (i == n) {
            kv_free(params, params ? k : 0);
            return -1;
        }
        if (p[0] == '{') {
            if (params && k < MOCK_MAX_PARAMS) {
                params[k].name = xmalloc(len - 1);
                memcpy(params[k].name, p + 1, len - 2);
                params[k].name[len - 2] = '\0';
                params[k].value = xstrdup(segs[i]);
                k++;
            }
        } else if (strlen(segs[i]) != len || strncmp(p, segs[i], len)) {
            kv_free(params, params ? k : 0);
            return -1;
        } else {
            score++;
        }
        i++;
        p += len;
    }
    if (i != n) {
        kv_free(params, params ? k : 0);
        return -1;
    }
    if (np)
        *np = k;
    return score;
}

static void finish_callback(rr_ctx_t *ctx, const char *what, bool must_answer, rr_rc_t rc,
                            int failed_before)
{
    if (rc == RR_OK && must_answer && ctx->status == 0)
        misuse(ctx, "%s returned RR_OK without setting a response", what);
    if (rc == RR_INVALID && ctx->status < 400)
        misuse(ctx, "%s returned RR_INVALID without setting a problem", what);
    if (rc == RR_DB_ERROR && ctx->failed_queries == failed_before)
        misuse(ctx, "%s returned RR_DB_ERROR but no query failed", what);
    if (ctx->copy_open)
        misuse(ctx, "%s returned with a COPY still open", what);
    if (rc != RR_OK && rc != RR_ERROR && rc != RR_DB_ERROR && rc != RR_INVALID)
        misuse(ctx, "%s returned %d, which is not an rr_rc_t", what, (int)rc);
}

rr_rc_t mock_request(rr_ctx_t *ctx, const char *method, const char *path)
{
    free(ctx->method);
    free(ctx->path);
    ctx->method = xstrdup(method);
    ctx->path = xstrdup(path);
    char segs[MOCK_MAX_SEGMENTS][256];
    int n = 0;
    const char *p = path;
    if (*p != '/')
        return host_problem(ctx, 404, "not-found", "no route for %s", path);
    while (*p == '/') {
        p++;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0) {
            if (e)
                return host_problem(ctx, 404, "not-found", "no route for %s", path);
            break;
        }
        if (n == MOCK_MAX_SEGMENTS || len >= sizeof segs[0])
            return host_problem(ctx, 404, "not-found", "no route for %s", path);
        memcpy(segs[n], p, len);
        segs[n][len] = '\0';
        n++;
        p += len;
    }
    const rr_route_def_t *best = NULL;
    int best_score = -1;
    char allow[128] = "";
    for (size_t i = 0; i < reg.nroutes; i++) {
        int s = match(&reg.routes[i], segs, n, NULL, NULL);
        if (s < 0)
            continue;
        if (strcmp(reg.routes[i].method, method)) {
            size_t used = strlen(allow);
            snprintf(allow + used, sizeof allow - used, "%s%s", used ? ", " : "",
                     reg.routes[i].method);
        } else if (s > best_score) {
            best_score = s;
            best = &reg.routes[i];
        }
    }
    if (!best && allow[0]) {
        m_header_set(ctx, "Allow", allow);
        return host_problem(ctx, 405, "method-not-allowed", "%s is not allowed here", method);
    }
    if (!best)
        return host_problem(ctx, 404, "not-found", "no route for %s", path);
    if (ctx->scope < best->scope)
        return host_problem(ctx, 403, "forbidden", "this key's scope does not allow %s %s",
                            method, best->path);
    kv_free(ctx->params, ctx->nparams);
    ctx->nparams = 0;
    match(best, segs, n, ctx->params, &ctx->nparams);

    int failed_before = ctx->failed_queries;
    counting = true;
    rr_rc_t rc = best->handler(ctx, best->user_data);
    counting = false;
    finish_callback(ctx, "handler", true, rc, failed_before);
    return rc;
}

rr_rc_t mock_run_job(rr_ctx_t *ctx, const char *kind, json_t *payload, json_t **result)
{
    for (size_t i = 0; i < reg.nkinds; i++) {
        if (strcmp(reg.kinds[i].name, kind))
            continue;
        json_t *res = NULL;
        int failed_before = ctx->failed_queries;
        ctx->job_attempt = ctx->next_attempt;
        counting = true;
        rr_rc_t rc = reg.kinds[i].fn(ctx, payload, &res, reg.kinds[i].ud);
        counting = false;
        ctx->job_attempt = 0;
        finish_callback(ctx, "job", false, rc, failed_before);
        if (result)
            *result = res;
        else
            json_decref(res);
        return rc;
    }
    misuse(ctx, "mock_run_job: no job kind '%s' is registered", kind);
    return RR_ERROR;
}

rr_rc_t mock_run_hook(rr_ctx_t *ctx, const char *event, json_t *payload)
{
    rr_rc_t rc = RR_OK;
    bool any = false;
    for (size_t i = 0; i < reg.nhooks && rc == RR_OK; i++) {
        if (strcmp(reg.hooks[i].event, event))
            continue;
        any = true;
        int failed_before = ctx->failed_queries;
        ctx->job_attempt = ctx->next_attempt; /* hooks run as jobs */
        counting = true;
        rc = reg.hooks[i].fn(ctx, event, payload, reg.hooks[i].ud);
        counting = false;
        ctx->job_attempt = 0;
        finish_callback(ctx, "hook", false, rc, failed_before);
    }
    if (!any)
        misuse(ctx, "mock_run_hook: no hook is registered for '%s'", event);
    return rc;
}

const char *mock_verify(rr_ctx_t *ctx)
{
    if (ctx->misuse[0])
        return ctx->misuse;
    if (mock_db_pending(ctx) > 0) {
        snprintf(ctx->misuse, sizeof ctx->misuse,
                 "%d scripted database answer(s) were never asked for", mock_db_pending(ctx));
        return ctx->misuse;
    }
    return mock_registry_error();
}

/* A tripwire: when plugin.h appends a host function, this fails to compile
 * until the mock implements it (a NULL entry would crash the plugin's test). */
_Static_assert(sizeof(rr_host_api_t) ==
                   offsetof(rr_host_api_t, account_load) + sizeof(void (*)(void)),
               "the host API grew: add the new functions to mock_host_api");

const rr_host_api_t mock_host_api = {
    .size = sizeof(rr_host_api_t),
    .abi_major = RR_ABI_MAJOR,
    .abi_minor = RR_ABI_MINOR,
    .route_add = m_route_add,
    .job_kind_add = m_job_kind_add,
    .hook_add = m_hook_add,
    .report_section_add = m_section_add,
    .migration_add = m_migration_add,
    .req_method = m_method,
    .req_path = m_path,
    .req_param = m_param,
    .req_query = m_query,
    .req_header = m_header,
    .req_body = m_body,
    .req_json = m_req_json,
    .param_id = m_param_id,
    .tenant_id = m_tenant,
    .key_client_id = m_key_client,
    .respond_json = m_respond_json,
    .respond_raw = m_respond_raw,
    .header_set = m_header_set,
    .problem = m_problem,
    .json_check = m_json_check,
    .db_query = m_db_query,
    .page_begin = m_page_begin,
    .page_respond = m_page_respond,
    .job_enqueue = m_job_enqueue,
    .respond_job_accepted = m_respond_job_accepted,
    .event_emit = m_event_emit,
    .alloc = m_alloc,
    .sprintf = m_sprintf,
    .log = m_log,
    .row_json = m_row_json,
    .rows_json = m_rows_json,
    .page_respond_rows = m_page_respond_rows,
    .job_attempt = m_job_attempt,
    .body_read = m_body_read,
    .copy_begin = m_copy_begin,
    .copy_put = m_copy_put,
    .copy_end = m_copy_end,
    .account_load = m_account_load,
};
