/*
 * testkit — a test-only plugin for the API suite (tests/api). Never shipped.
 *
 *   POST /v1/test/slow?ms=N   (write, Idempotency-Key honoured) sleeps N ms
 *                             (0..5000) inside the request's transaction, then
 *                             answers 201 {"ok":true,"slept_ms":N}: two
 *                             concurrent requests with one key must give one
 *                             201 and one 409 idempotency-in-progress.
 *   POST /v1/test/jobs        (write) body {"fail_times": n}: enqueues a
 *                             "test.flaky" job and answers 202 with its URL.
 *                             The job fails while its attempt <= fail_times,
 *                             then succeeds with {"attempts": attempt}.
 *   POST /v1/test/events      (write) emits "test.event" with the body; the
 *                             hook on "test.event" (run after the commit, in
 *                             a job runner) enqueues a "test.noop" job, which
 *                             just succeeds: GET /v1/jobs?kind=test.noop shows
 *                             that the hook ran.
 *   GET /v1/test/accounts/{account_id}
 *                             (read) what host->account_load() gives:
 *                             {"id","client_id","platform","handle"}, or its
 *                             404/403 problem.
 */
#include <realreach/plugin.h>

#include <errno.h>
#include <stdlib.h>
#include <time.h>

#define TESTKIT_MAX_SLEEP_MS 5000

static const rr_host_api_t *host;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static rr_rc_t slow(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    const char *v = host->req_query(ctx, "ms");
    long ms = 0;
    if (v) {
        char *end;
        errno = 0;
        ms = strtol(v, &end, 10);
        if (errno || end == v || *end || ms < 0 || ms > TESTKIT_MAX_SLEEP_MS)
            return host->problem(ctx, 400, "invalid-parameter", "ms",
                                 "ms must be an integer from 0 to %d", TESTKIT_MAX_SLEEP_MS);
    }
    sleep_ms(ms);
    return host->respond_json(ctx, 201, json_pack("{s:b,s:I}", "ok", 1, "slept_ms", (json_int_t)ms));
}

static rr_rc_t account_get(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    rr_account_t acct;
    rr_rc_t rc = host->account_load(ctx, "account_id", &acct);
    if (rc != RR_OK)
        return rc;
    return host->respond_json(ctx, 200, json_pack("{s:I,s:I,s:s,s:s}", "id", (json_int_t)acct.id,
                                                  "client_id", (json_int_t)acct.client_id,
                                                  "platform", acct.platform, "handle",
                                                  acct.handle));
}

static const rr_field_t job_fields[] = {
    {"fail_times", RR_FT_INT, RR_F_REQUIRED, 0, NULL},
};

static rr_rc_t jobs_create(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    json_t *body = host->req_json(ctx);
    if (!body || host->json_check(ctx, body, job_fields, 1) != RR_OK)
        return RR_INVALID;
    json_int_t n = json_integer_value(json_object_get(body, "fail_times"));
    if (n < 0 || n > 100)
        return host->problem(ctx, 422, "validation", "fail_times",
                             "fail_times must be from 0 to 100");
    int64_t id = 0;
    rr_rc_t rc = host->job_enqueue(ctx, "test.flaky", body, &id);
    if (rc != RR_OK)
        return rc;
    return host->respond_job_accepted(ctx, id);
}

static rr_rc_t flaky(rr_ctx_t *ctx, json_t *payload, json_t **result, void *ud)
{
    (void)ud;
    int attempt = host->job_attempt(ctx);
    json_int_t fail_times = json_integer_value(json_object_get(payload, "fail_times"));
    if (attempt <= fail_times) {
        /* the detail becomes the job's error text */
        host->problem(ctx, 500, "test-flaky", NULL, "test.flaky fails attempt %d of %lld on purpose",
                      attempt, (long long)fail_times);
        return RR_ERROR;
    }
    *result = json_pack("{s:i}", "attempts", attempt);
    return RR_OK;
}

static rr_rc_t events_emit(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    json_t *body = host->req_json(ctx);
    if (!body)
        return RR_INVALID;
    if (host->event_emit(ctx, "test.event", body) != RR_OK)
        return RR_ERROR;
    return host->respond_json(ctx, 200, json_pack("{s:s}", "emitted", "test.event"));
}

static rr_rc_t on_test_event(rr_ctx_t *ctx, const char *event, json_t *payload, void *ud)
{
    (void)ud;
    (void)event;
    json_t *p = json_pack("{s:O}", "event_payload", payload);
    if (!p)
        return RR_ERROR;
    rr_rc_t rc = host->job_enqueue(ctx, "test.noop", p, NULL);
    json_decref(p);
    return rc;
}

static rr_rc_t noop(rr_ctx_t *ctx, json_t *payload, json_t **result, void *ud)
{
    (void)ctx;
    (void)ud;
    *result = json_pack("{s:b,s:O}", "noop", 1, "payload", payload);
    return *result ? RR_OK : RR_ERROR;
}

#define OK_SCHEMA                                                                              \
    "{\"type\":\"object\",\"properties\":{\"ok\":{\"type\":\"boolean\"},\"slept_ms\":{\"type\":" \
    "\"integer\"}}}"
#define JOBS_SCHEMA                                                                            \
    "{\"type\":\"object\",\"required\":[\"fail_times\"],\"additionalProperties\":false,"       \
    "\"properties\":{\"fail_times\":{\"type\":\"integer\",\"minimum\":0,\"maximum\":100}}}"

#define ACCOUNT_SCHEMA                                                                         \
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},\"client_id\":{"        \
    "\"type\":\"integer\"},\"platform\":{\"type\":\"string\"},\"handle\":{\"type\":\"string\"}}}"

static rr_rc_t testkit_init(rr_plugin_t *self, const rr_host_api_t *h)
{
    host = h;
    static const rr_route_def_t routes[] = {
        {sizeof(rr_route_def_t), "POST", "/v1/test/slow", RR_SCOPE_WRITE, slow, NULL,
         "Test only: sleep ?ms= inside the transaction, then answer 201", NULL, OK_SCHEMA,
         RR_ROUTE_IDEMPOTENT},
        {sizeof(rr_route_def_t), "POST", "/v1/test/jobs", RR_SCOPE_WRITE, jobs_create, NULL,
         "Test only: enqueue a test.flaky job failing fail_times times", JOBS_SCHEMA, NULL, 0, 202},
        {sizeof(rr_route_def_t), "POST", "/v1/test/events", RR_SCOPE_WRITE, events_emit, NULL,
         "Test only: emit the test.event event with the body", "{\"type\":\"object\"}", NULL, 0},
        {sizeof(rr_route_def_t), "GET", "/v1/test/accounts/{account_id}", RR_SCOPE_READ,
         account_get, NULL, "Test only: the account as host->account_load() gives it", NULL,
         ACCOUNT_SCHEMA, 0},
    };
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
        if (h->route_add(self, &routes[i]) != RR_OK)
            return RR_ERROR;
    if (h->job_kind_add(self, "test.flaky", flaky, NULL) != RR_OK ||
        h->job_kind_add(self, "test.noop", noop, NULL) != RR_OK ||
        h->hook_add(self, "test.event", on_test_event, NULL) != RR_OK)
        return RR_ERROR;
    return RR_OK;
}

RR_PLUGIN("testkit", "1.0.0", "Test-only routes, jobs and hooks for the API suite", testkit_init,
          NULL)
