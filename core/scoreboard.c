/*
 * The scoreboard: one slot per worker or runner in shared memory. A process
 * marks itself busy (with the route and request id) while it serves; the
 * master reads the slots to kill a request that outlived its time limit and
 * to name the route a dead worker was serving.
 */
#include "shm.h"

#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

rr_shm_t *rr_shm;

long long rr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long rr_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void rr_spin_lock(int *lock)
{
    while (__atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE))
        sched_yield();
}

void rr_spin_unlock(int *lock) { __atomic_store_n(lock, 0, __ATOMIC_RELEASE); }

int rr_scoreboard_init(int nslots)
{
    if (nslots > RR_MAX_SLOTS)
        return -1;
    void *p = mmap(NULL, sizeof(rr_shm_t), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
    if (p == MAP_FAILED)
        return -1;
    rr_shm = p;
    memset(rr_shm, 0, sizeof *rr_shm);
    rr_shm->nslots = nslots;
    return 0;
}

int rr_scoreboard_slots(void) { return rr_shm ? rr_shm->nslots : 0; }

void rr_scoreboard_claim(int slot, pid_t pid, rr_proc_kind_t kind, int generation)
{
    if (!rr_shm || slot < 0 || slot >= rr_shm->nslots)
        return;
    rr_slot_t *s = &rr_shm->slots[slot];
    s->pid = pid;
    s->kind = kind;
    s->generation = generation;
    s->route[0] = s->request_id[0] = '\0';
    __atomic_store_n(&s->busy_since_ms, 0, __ATOMIC_RELEASE);
}

void rr_scoreboard_release(int slot)
{
    if (!rr_shm || slot < 0 || slot >= rr_shm->nslots)
        return;
    memset(&rr_shm->slots[slot], 0, sizeof(rr_slot_t));
}

void rr_scoreboard_busy(int slot, const char *route, const char *request_id)
{
    if (!rr_shm || slot < 0 || slot >= rr_shm->nslots)
        return;
    rr_slot_t *s = &rr_shm->slots[slot];
    snprintf(s->route, sizeof s->route, "%s", route ? route : "-");
    snprintf(s->request_id, sizeof s->request_id, "%s", request_id ? request_id : "");
    __atomic_store_n(&s->busy_since_ms, rr_now_ms(), __ATOMIC_RELEASE);
}

void rr_scoreboard_idle(int slot)
{
    if (!rr_shm || slot < 0 || slot >= rr_shm->nslots)
        return;
    __atomic_store_n(&rr_shm->slots[slot].busy_since_ms, 0, __ATOMIC_RELEASE);
    rr_shm->slots[slot].bulk = 0;
}

void rr_scoreboard_bulk(int slot)
{
    if (rr_shm && slot >= 0 && slot < rr_shm->nslots)
        rr_shm->slots[slot].bulk = 1;
}

pid_t rr_scoreboard_peek(int slot, long long *busy_ms, char *route, size_t cap,
                         rr_proc_kind_t *kind, int *generation)
{
    if (!rr_shm || slot < 0 || slot >= rr_shm->nslots)
        return 0;
    rr_slot_t *s = &rr_shm->slots[slot];
    long long since = __atomic_load_n(&s->busy_since_ms, __ATOMIC_ACQUIRE);
    if (busy_ms)
        *busy_ms = since ? rr_now_ms() - since : -1;
    if (route && cap)
        snprintf(route, cap, "%s", since ? s->route : "-");
    if (kind)
        *kind = (rr_proc_kind_t)s->kind;
    if (generation)
        *generation = s->generation;
    return s->pid;
}
