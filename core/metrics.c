/*
 * Request metrics in Prometheus text format: requests by method, route
 * template and status, a latency histogram, worker restarts, job outcomes.
 * Counters live in shared memory so every worker of the host reports them;
 * routes are templates, never raw paths, so the label set stays bounded.
 */
#include "shm.h"

#include <stdio.h>
#include <string.h>

static const double bucket_le[RR_METRIC_BUCKETS] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                    0.25,  0.5,    1,     2.5,  5,    10};

static unsigned long hash_entry(const char *method, const char *route, int status)
{
    unsigned long h = 5381 + (unsigned long)status;
    for (const char *p = method; *p; p++)
        h = h * 33 + (unsigned char)*p;
    for (const char *p = route; *p; p++)
        h = h * 33 + (unsigned char)*p;
    return h;
}

static rr_metric_t *entry_for(const char *method, const char *route, int status)
{
    unsigned long h = hash_entry(method, route, status);
    for (int probe = 0; probe < RR_METRIC_ENTRIES; probe++) {
        rr_metric_t *m = &rr_shm->metrics[(h + (unsigned long)probe) % RR_METRIC_ENTRIES];
        if (__atomic_load_n(&m->used, __ATOMIC_ACQUIRE)) {
            if (m->status == status && !strcmp(m->method, method) && !strcmp(m->route, route))
                return m;
            continue;
        }
        rr_spin_lock(&rr_shm->metrics_lock);
        if (!m->used) {
            snprintf(m->method, sizeof m->method, "%s", method);
            snprintf(m->route, sizeof m->route, "%s", route);
            m->status = status;
            __atomic_store_n(&m->used, 1, __ATOMIC_RELEASE);
            rr_spin_unlock(&rr_shm->metrics_lock);
            return m;
        }
        rr_spin_unlock(&rr_shm->metrics_lock);
        if (m->status == status && !strcmp(m->method, method) && !strcmp(m->route, route))
            return m;
    }
    return NULL; /* table full: the request is served, just not counted */
}

/* The method label: one of the methods HTTP APIs use, else "OTHER". Never
 * the client's text: a quote or newline in it would forge samples, and
 * every distinct method (nginx passes any A-Z token) would take one of the
 * RR_METRIC_ENTRIES series for good (caught by tests/fuzz/fuzz_fcgi.c). */
static const char *method_label(const char *m)
{
    static const char *const known[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    for (size_t i = 0; m && i < sizeof known / sizeof *known; i++)
        if (!strcmp(m, known[i]))
            return known[i];
    return "OTHER";
}

void rr_metrics_observe(const char *method, const char *route, int status, long long micros)
{
    if (!rr_shm)
        return;
    rr_metric_t *m = entry_for(method_label(method), route ? route : "unmatched", status);
    if (!m)
        return;
    __atomic_fetch_add(&m->count, 1, __ATOMIC_RELAXED);
    __atomic_fetch_add(&m->sum_us, (unsigned long long)micros, __ATOMIC_RELAXED);
    double secs = (double)micros / 1e6;
    for (int i = 0; i < RR_METRIC_BUCKETS; i++)
        if (secs <= bucket_le[i]) {
            __atomic_fetch_add(&m->buckets[i], 1, __ATOMIC_RELAXED);
            break;
        }
}

void rr_metrics_count_restart(void)
{
    if (rr_shm)
        __atomic_fetch_add(&rr_shm->restarts, 1, __ATOMIC_RELAXED);
}

void rr_metrics_count_job(const char *outcome)
{
    if (!rr_shm)
        return;
    if (!strcmp(outcome, "done"))
        __atomic_fetch_add(&rr_shm->jobs_done, 1, __ATOMIC_RELAXED);
    else if (!strcmp(outcome, "retry"))
        __atomic_fetch_add(&rr_shm->jobs_retried, 1, __ATOMIC_RELAXED);
    else
        __atomic_fetch_add(&rr_shm->jobs_failed, 1, __ATOMIC_RELAXED);
}

typedef struct buf {
    rr_arena_t *a;
    char *p;
    size_t len, cap;
} buf_t;

static void add(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t ncap = (b->cap + (size_t)n) * 2;
        char *np = rr_arena_alloc(b->a, ncap);
        if (!np)
            return;
        memcpy(np, b->p, b->len);
        b->p = np;
        b->cap = ncap;
    }
}

char *rr_metrics_render(rr_arena_t *a, size_t *len)
{
    buf_t b = {a, rr_arena_alloc(a, 65536), 0, 65536};
    if (!b.p || !rr_shm)
        return NULL;
    add(&b, "# HELP realreach_http_requests_total Requests served, by route template and status.\n"
            "# TYPE realreach_http_requests_total counter\n");
    for (int i = 0; i < RR_METRIC_ENTRIES; i++) {
        rr_metric_t *m = &rr_shm->metrics[i];
        if (m->used)
            add(&b, "realreach_http_requests_total{method=\"%s\",route=\"%s\",status=\"%d\"} %llu\n",
                m->method, m->route, m->status, m->count);
    }
    add(&b, "# HELP realreach_http_request_duration_seconds Request latency.\n"
            "# TYPE realreach_http_request_duration_seconds histogram\n");
    for (int i = 0; i < RR_METRIC_ENTRIES; i++) {
        rr_metric_t *m = &rr_shm->metrics[i];
        if (!m->used)
            continue;
        unsigned long long cum = 0;
        for (int k = 0; k < RR_METRIC_BUCKETS; k++) {
            cum += m->buckets[k];
            add(&b,
                "realreach_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",status=\"%d\",le=\"%g\"} %llu\n",
                m->method, m->route, m->status, bucket_le[k], cum);
        }
        add(&b,
            "realreach_http_request_duration_seconds_bucket{method=\"%s\",route=\"%s\",status=\"%d\",le=\"+Inf\"} %llu\n"
            "realreach_http_request_duration_seconds_sum{method=\"%s\",route=\"%s\",status=\"%d\"} %.6f\n"
            "realreach_http_request_duration_seconds_count{method=\"%s\",route=\"%s\",status=\"%d\"} %llu\n",
            m->method, m->route, m->status, m->count, m->method, m->route, m->status,
            (double)m->sum_us / 1e6, m->method, m->route, m->status, m->count);
    }
    int workers = 0, runners = 0, busy = 0;
    for (int i = 0; i < rr_shm->nslots; i++) {
        rr_slot_t *s = &rr_shm->slots[i];
        if (!s->pid)
            continue;
        if (s->kind == RR_PROC_WORKER)
            workers++;
        else
            runners++;
        if (s->kind == RR_PROC_WORKER && s->busy_since_ms)
            busy++;
    }
    add(&b,
        "# HELP realreach_workers Worker processes alive.\n# TYPE realreach_workers gauge\n"
        "realreach_workers %d\n"
        "# HELP realreach_workers_busy Workers serving a request now.\n# TYPE realreach_workers_busy gauge\n"
        "realreach_workers_busy %d\n"
        "# HELP realreach_job_runners Job runner processes alive.\n# TYPE realreach_job_runners gauge\n"
        "realreach_job_runners %d\n"
        "# HELP realreach_worker_restarts_total Workers and runners respawned after dying.\n"
        "# TYPE realreach_worker_restarts_total counter\nrealreach_worker_restarts_total %llu\n"
        "# HELP realreach_jobs_processed_total Jobs finished by this host's runners.\n"
        "# TYPE realreach_jobs_processed_total counter\n"
        "realreach_jobs_processed_total{outcome=\"done\"} %llu\n"
        "realreach_jobs_processed_total{outcome=\"retry\"} %llu\n"
        "realreach_jobs_processed_total{outcome=\"failed\"} %llu\n",
        workers, busy, runners, rr_shm->restarts, rr_shm->jobs_done, rr_shm->jobs_retried,
        rr_shm->jobs_failed);
    *len = b.len;
    return b.p;
}
