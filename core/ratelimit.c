/*
 * Rate limits per API key: a token bucket (the key's own rate, else
 * REALREACH_RATE_LIMIT per second; burst twice the rate or
 * REALREACH_RATE_BURST) in shared memory, so all workers of a
 * host draw from one bucket per key. Buckets are per host: with H hosts
 * behind one nginx, configure rate/H (README, "Scaling out").
 */
#include "shm.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

bool rr_ratelimit_take(const char *key_id, int rate_limit, int rate_burst, int *remaining,
                       int *retry_after)
{
    *remaining = rate_burst;
    *retry_after = 0;
    if (rate_limit <= 0 || !rr_shm || !key_id)
        return true;
    unsigned long h = 5381;
    for (const char *p = key_id; *p; p++)
        h = h * 33 + (unsigned char)*p;
    long long now = rr_now_ms();
    double rate = rate_limit, burst = rate_burst > 0 ? rate_burst : rate_limit;
    bool allowed;
    rr_spin_lock(&rr_shm->rate_lock);
    rr_rate_t *slot = NULL, *oldest = NULL;
    for (int probe = 0; probe < 8; probe++) {
        rr_rate_t *r = &rr_shm->rates[(h + (unsigned long)probe) % RR_RATE_ENTRIES];
        if (!strcmp(r->key_id, key_id)) {
            slot = r;
            break;
        }
        if (!oldest || r->last_ms < oldest->last_ms)
            oldest = r;
    }
    if (!slot) { /* new key (or an evicted one): starts with a full bucket */
        slot = oldest;
        snprintf(slot->key_id, sizeof slot->key_id, "%s", key_id);
        slot->tokens = burst;
        slot->last_ms = now;
    }
    slot->tokens = fmin(burst, slot->tokens + rate * (double)(now - slot->last_ms) / 1000.0);
    slot->last_ms = now;
    if (slot->tokens >= 1.0) {
        slot->tokens -= 1.0;
        allowed = true;
    } else {
        allowed = false;
        *retry_after = (int)ceil((1.0 - slot->tokens) / rate);
        if (*retry_after < 1)
            *retry_after = 1;
    }
    *remaining = (int)floor(slot->tokens);
    rr_spin_unlock(&rr_shm->rate_lock);
    return allowed;
}
