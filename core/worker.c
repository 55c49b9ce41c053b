/*
 * The worker: a single-threaded FastCGI request loop. Each request is copied
 * out of libfcgi (it frees params at the next accept) into the request arena,
 * routed, authenticated, run inside its tenant transaction, answered, counted
 * and logged in one line.
 */
#include "rr.h"

#include <errno.h>
#include <fcgiapp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

volatile int rr_shutdown_requested;

static void on_term(int sig)
{
    (void)sig;
    rr_shutdown_requested = 1;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

/* "HTTP_X_REQUEST_ID" -> "x-request-id" */
static void copy_headers(rr_ctx_t *ctx, char **envp)
{
    int n = 0;
    for (char **e = envp; *e; e++)
        n++;
    ctx->headers = rr_arena_alloc(ctx->arena, sizeof(rr_kv_t) * (size_t)(n + 2));
    ctx->nheaders = 0;
    if (!ctx->headers)
        return;
    for (char **e = envp; *e; e++) {
        const char *kv = *e;
        const char *eq = strchr(kv, '=');
        if (!eq)
            continue;
        const char *name = NULL;
        size_t nlen = 0;
        if (!strncmp(kv, "HTTP_", 5)) {
            name = kv + 5;
            nlen = (size_t)(eq - name);
        } else if (!strncmp(kv, "CONTENT_TYPE=", 13) || !strncmp(kv, "CONTENT_LENGTH=", 15)) {
            name = kv;
            nlen = (size_t)(eq - kv);
        } else {
            continue;
        }
        char *h = rr_arena_strndup(ctx->arena, name, nlen);
        if (!h)
            continue;
        for (char *p = h; *p; p++)
            *p = *p == '_' ? '-' : (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        ctx->headers[ctx->nheaders].name = h;
        ctx->headers[ctx->nheaders].value = rr_arena_strdup(ctx->arena, eq + 1);
        ctx->nheaders++;
    }
}

static bool request_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_' || *s == '.'))
            return false;
    return true;
}

/* The client's X-Request-Id when sane, else nginx's $request_id (so nginx's
 * and our logs join), else pid + counter: unique per host without paying for
 * a random number on every request. */
static const char *new_request_id(rr_ctx_t *ctx, FCGX_Request *req)
{
    const char *given = rr_ctx_header(ctx, "X-Request-Id");
    if (given && request_id_ok(given))
        return given;
    const char *nginx_id = FCGX_GetParam("REQUEST_ID", req->envp);
    if (nginx_id && request_id_ok(nginx_id))
        return rr_arena_strdup(ctx->arena, nginx_id);
    static unsigned long long counter;
    return rr_arena_sprintf(ctx->arena, "w%d-%llu", (int)getpid(), ++counter);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Path parameters arrive percent-encoded; decode them (a NUL or a '/' that
 * was encoded stays inside the value, never splits the path). */
static bool decode_params(rr_ctx_t *ctx)
{
    for (int i = 0; i < ctx->nparams; i++) {
        const char *v = ctx->params[i].value;
        if (!strchr(v, '%'))
            continue;
        size_t n = strlen(v), o = 0;
        char *out = rr_arena_alloc(ctx->arena, n + 1);
        for (size_t k = 0; k < n; k++) {
            if (v[k] == '%') {
                if (k + 2 >= n)
                    return false;
                int h = hexval((unsigned char)v[k + 1]), l = hexval((unsigned char)v[k + 2]);
                if (h < 0 || l < 0 || (h == 0 && l == 0))
                    return false;
                out[o++] = (char)(h * 16 + l);
                k += 2;
            } else {
                out[o++] = v[k];
            }
        }
        out[o] = '\0';
        ctx->params[i].value = out;
    }
    return true;
}

/* The part of a request body read into the arena before it moves to the heap. */
#define RR_BODY_FIRST ((size_t)64 * 1024)

/* Reads the whole body under the limit; false with a problem set if not. */
static bool read_body(rr_ctx_t *ctx, FCGX_Request *req)
{
    const char *cl = FCGX_GetParam("CONTENT_LENGTH", req->envp);
    if (!cl || !*cl)
        return true;
    char *end;
    errno = 0;
    unsigned long long len = strtoull(cl, &end, 10);
    if (errno || *end || cl[0] == '-') {
        rr_problem(ctx, 400, "bad-request", "Content-Length", "invalid Content-Length");
        return false;
    }
    if (len > rr_cfg.max_body) {
        rr_problem(ctx, 413, "payload-too-large", NULL, "the body may be at most %zu bytes",
                   rr_cfg.max_body);
        return false;
    }
    /* Grow as the bytes arrive, never trusting the claimed length with an
     * allocation: the first RR_BODY_FIRST bytes go to the arena (a typical
     * body costs no malloc), a longer body moves to a heap buffer that
     * doubles up to the claimed length (freed in rr_ctx_cleanup). */
    size_t cap = len < RR_BODY_FIRST ? (size_t)len : RR_BODY_FIRST;
    ctx->body = rr_arena_alloc(ctx->arena, cap + 1);
    if (!ctx->body) {
        rr_problem(ctx, 503, "unavailable", NULL, "out of memory");
        return false;
    }
    size_t got = 0;
    while (got < len) {
        if (got == cap) {
            size_t grown = cap > len - cap ? (size_t)len : 2 * cap;
            char *nb = realloc(ctx->body_heap, grown + 1);
            if (!nb) {
                rr_problem(ctx, 503, "unavailable", NULL, "out of memory");
                return false;
            }
            if (!ctx->body_heap)
                memcpy(nb, ctx->body, got);
            ctx->body = ctx->body_heap = nb;
            cap = grown;
        }
        size_t want = cap - got > (1 << 20) ? (1 << 20) : cap - got;
        int n = FCGX_GetStr(ctx->body + got, (int)want, req->in);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    ctx->body[got] = '\0';
    ctx->body_len = got;
    if (got != len) {
        rr_problem(ctx, 400, "bad-request", NULL, "the body ended early");
        return false;
    }
    return true;
}

/* The key's own limit, else the service default; burst 2 x rate unless
 * REALREACH_RATE_BURST sets the default one. */
static void rate_for(const rr_ctx_t *ctx, int *rate, int *burst)
{
    *rate = ctx->key.rate_limit > 0 ? ctx->key.rate_limit : rr_cfg.rate_limit;
    *burst = ctx->key.rate_limit > 0 ? 2 * ctx->key.rate_limit : rr_cfg.rate_burst;
}

/* A streamed route reads its body itself; here only the length is checked,
 * and a hash is started for the Idempotency-Key comparison. */
static bool stream_body(rr_ctx_t *ctx, FCGX_Request *req)
{
    const char *cl = FCGX_GetParam("CONTENT_LENGTH", req->envp);
    char *end;
    errno = 0;
    unsigned long long len = cl && *cl ? strtoull(cl, &end, 10) : 0;
    if (cl && *cl && (errno || *end || cl[0] == '-')) {
        rr_problem(ctx, 400, "bad-request", "Content-Length", "invalid Content-Length");
        return false;
    }
    if (len > rr_cfg.max_stream_body) {
        rr_problem(ctx, 413, "payload-too-large", NULL, "the body may be at most %llu bytes",
                   rr_cfg.max_stream_body);
        return false;
    }
    ctx->body_stream = req->in;
    ctx->body_left = len;
    if (ctx->route->flags & RR_ROUTE_IDEMPOTENT) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1) {
            EVP_DigestUpdate(md, ctx->method, strlen(ctx->method));
            EVP_DigestUpdate(md, " ", 1);
            EVP_DigestUpdate(md, ctx->path, strlen(ctx->path));
            EVP_DigestUpdate(md, "\n", 1);
            ctx->body_hash = md;
        } else {
            EVP_MD_CTX_free(md);
        }
    }
    return true;
}

static void set_rate_headers(rr_ctx_t *ctx, int remaining, int retry_after)
{
    int rate, burst;
    rate_for(ctx, &rate, &burst);
    if (rate <= 0)
        return;
    rr_header_set(ctx, "RateLimit-Policy", rr_arena_sprintf(ctx->arena, "%d;w=1;burst=%d", rate, burst));
    rr_header_set(ctx, "RateLimit",
                  rr_arena_sprintf(ctx->arena, "limit=%d, remaining=%d, reset=%d", burst,
                                   remaining < 0 ? 0 : remaining, retry_after > 0 ? retry_after : 1));
    if (retry_after > 0)
        rr_header_set(ctx, "Retry-After", rr_arena_sprintf(ctx->arena, "%d", retry_after));
}

/* Runs an authenticated route inside its tenant transaction. */
static void run_in_tenant(rr_ctx_t *ctx)
{
    const rr_route_t *route = ctx->route;
    /* A GET reads: each of its queries runs in its own implicit, read-only
     * transaction with the tenant set, in one round trip and with no
     * BEGIN/COMMIT (RR_ROUTE_TRANSACTION asks for a real one). */
    if (!strcmp(ctx->method, "GET") && !(route->flags & RR_ROUTE_TRANSACTION))
        rr_tx_begin_reads(ctx, ctx->tenant_id);
    else
        rr_tx_begin(ctx, ctx->tenant_id);
    const char *idem = NULL;
    bool replayed = false;
    if ((route->flags & RR_ROUTE_IDEMPOTENT) && !strcmp(ctx->method, "POST"))
        idem = rr_ctx_header(ctx, "Idempotency-Key");
    rr_rc_t rc = RR_OK;
    if (idem) {
        rc = rr_idem_begin(ctx, idem, &replayed);
        if (rc != RR_OK || replayed) {
            if (rc == RR_DB_ERROR)
                rr_problem_from_db(ctx);
            rr_tx_end(ctx, false);
            return;
        }
    }
    rc = route->handler(ctx, route->user_data);
    if (rc == RR_DB_ERROR)
        rr_problem_from_db(ctx);
    else if (rc == RR_ERROR || !ctx->responded)
        rr_problem(ctx, 500, "internal", NULL, "internal error (request %s)", ctx->request_id);
    if (ctx->status >= 400) {
        rr_tx_end(ctx, false);
        return;
    }
    if (rr_events_flush(ctx) != RR_OK || (idem && rr_idem_store(ctx, idem) != RR_OK)) {
        rr_problem_from_db(ctx);
        rr_tx_end(ctx, false);
        return;
    }
    /* 2xx only after COMMIT succeeded: an unknown outcome becomes a 503 the
     * client may retry with its Idempotency-Key */
    if (rr_tx_end(ctx, true) != RR_OK) {
        ctx->resp_headers = NULL;
        rr_problem_from_db(ctx);
    }
}

static void handle(rr_ctx_t *ctx, FCGX_Request *req, int slot)
{
    const char *uri = FCGX_GetParam("REQUEST_URI", req->envp);
    ctx->method = rr_arena_strdup(ctx->arena, FCGX_GetParam("REQUEST_METHOD", req->envp));
    if (!ctx->method)
        ctx->method = "GET";
    copy_headers(ctx, req->envp);
    ctx->request_id = new_request_id(ctx, req);
    const char *q = uri ? strchr(uri, '?') : NULL;
    ctx->path = uri ? rr_arena_strndup(ctx->arena, uri, q ? (size_t)(q - uri) : strlen(uri)) : "/";
    rr_ctx_parse_query(ctx, q ? q + 1 : "");

    const char *allow = NULL;
    rr_match_t m = rr_router_match(ctx->method, ctx->path, ctx->arena, &ctx->route, ctx->params,
                                   &ctx->nparams, &allow);
    rr_scoreboard_busy(slot, ctx->route ? ctx->route->path : ctx->path, ctx->request_id);
    if (ctx->route && (ctx->route->flags & RR_ROUTE_STREAM_BODY)) {
        rr_scoreboard_bulk(slot);
        if (!stream_body(ctx, req))
            return;
    } else if (!read_body(ctx, req)) {
        return;
    }
    if (m == RR_MATCH_NO_PATH) {
        rr_problem(ctx, 404, "not-found", NULL, "no such resource");
        return;
    }
    if (m == RR_MATCH_NO_METHOD) {
        rr_header_set(ctx, "Allow", allow);
        rr_problem(ctx, 405, "method-not-allowed", NULL, "use one of: %s", allow);
        return;
    }
    if (!decode_params(ctx)) {
        rr_problem(ctx, 404, "not-found", NULL, "no such resource");
        return;
    }
    if (ctx->bad_query) {
        rr_problem(ctx, 400, "invalid-parameter", ctx->bad_query,
                   "a query parameter has a malformed %%-escape or a NUL byte");
        return;
    }
    const rr_route_t *route = ctx->route;
    if (route->scope == RR_SCOPE_PUBLIC) {
        rr_rc_t rc = route->handler(ctx, route->user_data);
        if (rc == RR_DB_ERROR)
            rr_problem_from_db(ctx);
        else if (rc == RR_ERROR || !ctx->responded)
            rr_problem(ctx, 500, "internal", NULL, "internal error");
        return;
    }
    if (rr_auth_request(ctx) != RR_OK)
        return;
    if (ctx->key.scope < route->scope) {
        rr_problem(ctx, 403, "forbidden", NULL, "this key's scope '%s' cannot use this route (needs '%s')",
                   rr_scope_name(ctx->key.scope), rr_scope_name(route->scope));
        return;
    }
    int remaining, retry_after, rate, burst;
    rate_for(ctx, &rate, &burst);
    if (!rr_ratelimit_take(ctx->key.public_id, rate, burst, &remaining, &retry_after)) {
        rr_problem(ctx, 429, "rate-limited", NULL, "too many requests; retry in %d s", retry_after);
        set_rate_headers(ctx, 0, retry_after);
        return;
    }
    run_in_tenant(ctx);
    set_rate_headers(ctx, remaining, 0);
}

static void send_response(rr_ctx_t *ctx, FCGX_Request *req)
{
    FCGX_FPrintF(req->out, "Status: %d %s\r\n", ctx->status, reason_phrase(ctx->status));
    if (ctx->status != 204)
        FCGX_FPrintF(req->out, "Content-Type: %s\r\n",
                     ctx->content_type ? ctx->content_type : "application/json");
    FCGX_FPrintF(req->out, "X-Request-Id: %s\r\nCache-Control: no-store\r\n"
                           "X-Content-Type-Options: nosniff\r\n", ctx->request_id);
    for (rr_header_t *h = ctx->resp_headers; h; h = h->next)
        FCGX_FPrintF(req->out, "%s: %s\r\n", h->name, h->value);
    FCGX_PutS("\r\n", req->out);
    if (ctx->status != 204 && ctx->resp_len)
        FCGX_PutStr(ctx->resp_body, (int)ctx->resp_len, req->out);
}

/* One accepted request, start to finish: handled, answered, finished
 * (FCGX_Finish_r), counted and logged; the arena is reset afterwards. The
 * accept loop below calls it, and so does the FastCGI fuzz harness
 * (tests/fuzz/fuzz_fcgi.c), which feeds raw records without that loop. */
void rr_worker_serve(FCGX_Request *req, rr_arena_t *arena, rr_db_t *db, int slot)
{
    long long t0 = rr_now_us();
    rr_ctx_t ctx;
    rr_ctx_init(&ctx, arena, db);
    handle(&ctx, req, slot);
    /* nginx sends the whole body before it reads the answer: consume
     * what a streamed handler left, or the answer would be lost */
    rr_body_drain(&ctx);
    send_response(&ctx, req);
    FCGX_Finish_r(req);
    long long us = rr_now_us() - t0;
    const char *route = ctx.route ? ctx.route->path : "unmatched";
    rr_metrics_observe(ctx.method, route, ctx.status, us);
    rr_log_request(ctx.request_id, ctx.tenant_id, ctx.key.public_id, ctx.method, route,
                   ctx.status, us);
    rr_ctx_cleanup(&ctx);
    rr_arena_reset(arena);
    rr_scoreboard_idle(slot);
}

int rr_worker_main(int listen_fd, int slot, int generation)
{
    (void)generation;
    rr_log_set_role("worker");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sa.sa_flags = SA_RESTART; /* reads from nginx or PostgreSQL must not fail */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGHUP, SIG_IGN);

    if (FCGX_Init() != 0)
        return RR_EXIT_FATAL;
    FCGX_Request req;
    if (FCGX_InitRequest(&req, listen_fd, 0) != 0)
        return RR_EXIT_FATAL;
    rr_arena_t *arena = rr_arena_new();
    rr_db_t *db = rr_db_open(rr_cfg.db);
    if (!arena)
        return RR_EXIT_FATAL;

    while (!rr_shutdown_requested) {
        /* poll first: unlike accept() it returns on a signal even with
         * SA_RESTART, so a draining worker notices within a second. The
         * socket is non-blocking: a worker that loses the race for a
         * connection gets EAGAIN and polls again. */
        struct pollfd pfd = {.fd = listen_fd, .events = POLLIN};
        int pr = poll(&pfd, 1, 1000);
        if (pr <= 0 || rr_shutdown_requested)
            continue;
        int rc = FCGX_Accept_r(&req);
        if (rc < 0) {
            if (rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -EINTR || rc == -ECONNABORTED)
                continue;
            rr_log(RR_LOG_ERROR, "accept failed: %s", strerror(-rc));
            continue;
        }
        rr_worker_serve(&req, arena, db, slot);
    }
    FCGX_Free(&req, 1);
    rr_db_close(db);
    rr_arena_free(arena);
    return 0;
}
