/*
 * The region shared by the master and every worker and runner of one host:
 * the scoreboard (who is busy with what, for timeouts and crash reports),
 * request metrics and rate-limit buckets. Mapped once by the master before
 * forking. Per host only: with several hosts, each is scraped on its own and
 * rate limits apply per host (see README, "Scaling out").
 */
#ifndef RR_SHM_H
#define RR_SHM_H

#include "rr.h"

#define RR_MAX_SLOTS 256
#define RR_METRIC_ENTRIES 512
#define RR_METRIC_BUCKETS 13
#define RR_RATE_ENTRIES 1024

typedef struct rr_slot {
    pid_t pid;
    int kind;
    int generation;
    long long busy_since_ms; /* 0 = idle */
    int killed;              /* the master killed it for the time limit */
    int bulk;                /* streaming a bulk body: the longer limit applies */
    char route[96];
    char request_id[40];
} rr_slot_t;

typedef struct rr_metric {
    int used;
    int status;
    char method[8];
    char route[112];
    unsigned long long count;
    unsigned long long sum_us;
    unsigned long long buckets[RR_METRIC_BUCKETS];
} rr_metric_t;

typedef struct rr_rate {
    char key_id[32];
    double tokens;
    long long last_ms;
} rr_rate_t;

typedef struct rr_shm {
    int nslots;
    rr_slot_t slots[RR_MAX_SLOTS];
    int metrics_lock;
    rr_metric_t metrics[RR_METRIC_ENTRIES];
    unsigned long long restarts;
    unsigned long long jobs_done, jobs_retried, jobs_failed;
    int rate_lock;
    rr_rate_t rates[RR_RATE_ENTRIES];
} rr_shm_t;

extern rr_shm_t *rr_shm;

void rr_spin_lock(int *lock);
void rr_spin_unlock(int *lock);

#endif
