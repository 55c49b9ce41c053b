/*
 * faulty — a test plugin that misbehaves on request, loaded by the API test
 * stack to prove the process model holds (Redis keeps such modules beside its
 * tests too):
 *   GET /v1/test/crash            the worker dies of SIGSEGV mid-request: nginx
 *                                 answers 502, the master logs the route and
 *                                 respawns the worker, other traffic goes on;
 *   GET /v1/test/sleep?seconds=N  a stuck handler (0..60 s): the master kills
 *                                 it at the request time limit, nginx answers
 *                                 504;
 *   GET /v1/test/ok               200 {"ok":true}, to see the stack still serves.
 * All need only the read scope. Never deploy this plugin.
 */
#include <realreach/plugin.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

#define FAULTY_MAX_SLEEP 60

static const rr_host_api_t *host;

static rr_rc_t crash(rr_ctx_t *ctx, void *user_data)
{
    (void)ctx;
    (void)user_data;
    /* A real fault, delivered as one: raise() rather than a NULL store, which
     * the compiler may turn into a trap (SIGILL). If a handler in the worker
     * catches it and returns, fall back to the default action so the
     * process still dies the way a faulty plugin kills it. */
    raise(SIGSEGV);
    signal(SIGSEGV, SIG_DFL);
    raise(SIGSEGV);
    abort();
}

static rr_rc_t slow(rr_ctx_t *ctx, void *user_data)
{
    (void)user_data;
    const char *s = host->req_query(ctx, "seconds");
    char *end = NULL;
    long seconds = 0;
    if (s && *s >= '0' && *s <= '9') {
        errno = 0;
        seconds = strtol(s, &end, 10);
    }
    if (!s || !end || *end || errno || seconds > FAULTY_MAX_SLEEP)
        return host->problem(ctx, 400, "invalid-parameter", "seconds",
                             "seconds must be an integer from 0 to %d", FAULTY_MAX_SLEEP);
    /* Sleep the whole time even if signals interrupt: a stuck handler does
     * not notice SIGTERM either. */
    struct timespec left = {.tv_sec = seconds, .tv_nsec = 0};
    while (nanosleep(&left, &left) == -1 && errno == EINTR)
        ;
    return host->respond_json(ctx, 200, json_pack("{s:I}", "slept", (json_int_t)seconds));
}

static rr_rc_t ok(rr_ctx_t *ctx, void *user_data)
{
    (void)user_data;
    return host->respond_json(ctx, 200, json_pack("{s:b}", "ok", 1));
}

static rr_rc_t faulty_init(rr_plugin_t *self, const rr_host_api_t *h)
{
    host = h;
    static const rr_route_def_t routes[] = {
        {.size = sizeof(rr_route_def_t), .method = "GET", .path = "/v1/test/crash",
         .scope = RR_SCOPE_READ, .handler = crash,
         .summary = "Test only: the worker dies of SIGSEGV"},
        {.size = sizeof(rr_route_def_t), .method = "GET", .path = "/v1/test/sleep",
         .scope = RR_SCOPE_READ, .handler = slow,
         .summary = "Test only: sleep ?seconds= (0 to 60) before answering",
         .response_schema = "{\"type\":\"object\",\"properties\":{\"slept\":{\"type\":\"integer\"}}}"},
        {.size = sizeof(rr_route_def_t), .method = "GET", .path = "/v1/test/ok",
         .scope = RR_SCOPE_READ, .handler = ok, .summary = "Test only: answers {\"ok\":true}",
         .response_schema = "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"}}}"},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (h->route_add(self, &routes[i]) != RR_OK)
            return RR_ERROR;
    return RR_OK;
}

RR_PLUGIN("faulty", "1.0.0", "Test only: crashes and stalls on request", faulty_init, NULL)
