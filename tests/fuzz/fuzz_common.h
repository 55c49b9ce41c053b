/*
 * Shared helpers of the libFuzzer harnesses (tests/fuzz/README.md): one-time
 * set-up of the core (quiet log, core route table, shared memory for the
 * metrics and scoreboard), a disconnected database handle, fuzz input split
 * into parts, and the check macro the harnesses use as their oracle.
 */
#ifndef RR_FUZZ_COMMON_H
#define RR_FUZZ_COMMON_H

#include "rr.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* An invariant the code under test must keep: a failed one is a finding,
 * reported like a crash (with the input saved by libFuzzer). */
#define FUZZ_CHECK(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz: invariant failed at %s:%d: %s\n", __FILE__, __LINE__, #cond);   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Quiet log, default limits, core routes registered, shared memory mapped.
 * Idempotent; every harness calls it first. */
void fuzz_init(void);

/* A database handle that never connects (its conninfo names a socket
 * directory that does not exist): what a worker has while PostgreSQL is
 * down. Requests that need the database must answer 503, never crash. */
rr_db_t *fuzz_db_down(void);

/* The input as a NUL-terminated arena string, cut at the first NUL byte
 * (what a C string from libfcgi or a header can hold). */
char *fuzz_cstr(rr_arena_t *a, const uint8_t *data, size_t size);

/* Splits off the part before the first `sep` byte: *part gets an arena copy
 * (cut at NUL), data/size advance past the separator. With no separator the
 * whole rest is the part. */
char *fuzz_take(rr_arena_t *a, const uint8_t **data, size_t *size, char sep);

/* True if s is valid UTF-8 (what jansson accepts for strings). */
int fuzz_utf8_valid(const char *s, size_t n);

#endif
