/*
 * Duplicate keys in one request, found with bounded memory: a blocked Bloom
 * filter (one 64-byte block per key, 6 bits in it) sized from the body's
 * length (64 KiB .. 16 MiB). A key the filter may have seen before is a
 * candidate; only the candidates (at most RR_KEYSET_MAX_CANDIDATES bytes of
 * them) go to PostgreSQL, which checks them against the staging table
 * exactly. A request without candidates skips that check altogether; one
 * with too many (a huge body, or one full of duplicates) falls back to
 * grouping the whole staging table. The filter never misses a duplicate; it
 * only sometimes suspects one that is not.
 */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>

#define RR_KEYSET_MIN (64u * 1024)
#define RR_KEYSET_MAX (16u * 1024 * 1024)
#define RR_KEYSET_MAX_CANDIDATES (4u * 1024 * 1024)

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint64_t hash_key(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ len;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = mix64(h ^ w);
    }
    uint64_t tail = 0;
    memcpy(&tail, s + i, len - i);
    return mix64(h ^ tail ^ 0x9e3779b97f4a7c15ULL);
}

bool rr_keyset_init(rr_keyset_t *ks, unsigned long long body_len)
{
    memset(ks, 0, sizeof *ks);
    size_t bytes = RR_KEYSET_MIN;
    while (bytes < body_len / 4 && bytes < RR_KEYSET_MAX)
        bytes *= 2;
    ks->nblocks = bytes / 64;
    ks->bits = calloc(ks->nblocks, 64); /* untouched pages cost no memory */
    ks->cand = malloc(4096);
    ks->cand_cap = 4096;
    if (!ks->bits || !ks->cand) {
        rr_keyset_free(ks);
        return false;
    }
    ks->cand[0] = '{';
    ks->cand_len = 1;
    return true;
}

void rr_keyset_free(rr_keyset_t *ks)
{
    free(ks->bits);
    free(ks->cand);
    ks->bits = NULL;
    ks->cand = NULL;
}

/* Appends key to the candidates as an element of a PostgreSQL array literal. */
static void add_candidate(rr_keyset_t *ks, const char *key, size_t len)
{
    size_t need = ks->cand_len + 2 * len + 6;
    if (need > RR_KEYSET_MAX_CANDIDATES) {
        ks->overflow = true;
        return;
    }
    if (need > ks->cand_cap) {
        size_t cap = ks->cand_cap;
        while (cap < need)
            cap *= 2;
        char *n = realloc(ks->cand, cap);
        if (!n) {
            ks->overflow = true;
            return;
        }
        ks->cand = n;
        ks->cand_cap = cap;
    }
    char *o = ks->cand + ks->cand_len;
    if (ks->ncand > 0)
        *o++ = ',';
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        if (key[i] == '"' || key[i] == '\\')
            *o++ = '\\';
        *o++ = key[i];
    }
    *o++ = '"';
    ks->cand_len = (size_t)(o - ks->cand);
    ks->ncand++;
}

void rr_keyset_add(rr_keyset_t *ks, const char *key, size_t len)
{
    if (!ks->bits || ks->overflow)
        return;
    uint64_t h = hash_key(key, len);
    uint64_t *block = ks->bits + (h % ks->nblocks) * 8;
    uint64_t g = mix64(h ^ 0x5851f42d4c957f2dULL);
    bool present = true;
    for (int i = 0; i < 6; i++) {
        unsigned bit = (unsigned)(g >> (i * 9)) & 511u;
        uint64_t m = 1ULL << (bit & 63);
        if (!(block[bit >> 6] & m)) {
            present = false;
            block[bit >> 6] |= m;
        }
    }
    if (present)
        add_candidate(ks, key, len);
}

const char *rr_keyset_candidates(rr_keyset_t *ks)
{
    if (!ks->cand || ks->cand_len + 2 > ks->cand_cap)
        return "{}";
    ks->cand[ks->cand_len] = '}';
    ks->cand[ks->cand_len + 1] = '\0';
    return ks->cand;
}
