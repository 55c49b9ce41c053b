/*
 * Ingest timestamps (core/ingest_time.c): rr_time_parse on the raw bytes
 * (every platform form: X v1.1, ISO 8601 variants, Unix seconds and
 * milliseconds), rr_time_from_unix on a number taken from the input,
 * rr_time_from_snowflake on it as an id, rr_time_format on every result.
 *
 * Input: the timestamp text (any bytes; its length is passed, no NUL needed).
 *
 * Invariants besides ASan/UBSan (signed overflow is UB, so UBSan checks the
 * arithmetic):
 *  - an accepted time lies in 1900-01-01 .. 9999-12-31 (± one day of zone);
 *  - rr_time_format gives "YYYY-MM-DDTHH:MM:SS.ffffffZ", which parses back
 *    to the same instant;
 *  - rr_time_from_unix accepts no negative value and nothing past 9999.
 *
 * fuzz-requires: rr_time_parse rr_time_format rr_time_from_unix rr_time_from_snowflake
 */
#include "fuzz_common.h"
#include "ingest.h"

#include <string.h>

#define MIN_US (-2208988800LL * 1000000 - 86400LL * 1000000)  /* 1900-01-01 - 1 day */
#define MAX_US (253402300799LL * 1000000 + 86400LL * 1000000) /* 9999-12-31 + 1 day */

static void check_format(int64_t us)
{
    char out[32];
    rr_time_format(us, out);
    FUZZ_CHECK(strlen(out) == 27 && out[4] == '-' && out[10] == 'T' && out[19] == '.' &&
               out[26] == 'Z');
    int64_t back = 0;
    FUZZ_CHECK(rr_time_parse(out, strlen(out), &back));
    FUZZ_CHECK(back == us);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    int64_t us = 0;
    if (rr_time_parse((const char *)data, size, &us)) {
        FUZZ_CHECK(us >= MIN_US && us <= MAX_US);
        if (us >= -2208988800LL * 1000000 && us <= 253402300799LL * 1000000)
            check_format(us);
    }

    /* a JSON number: the first 8 bytes as a signed integer */
    long long v = 0;
    memcpy(&v, data, size < sizeof v ? size : sizeof v);
    if (rr_time_from_unix(v, &us)) {
        FUZZ_CHECK(v >= 0 && us >= 0 && us <= 253402300799LL * 1000000);
        check_format(us);
    }

    /* an id: the input as a C string */
    char id[64];
    size_t n = size < sizeof id - 1 ? size : sizeof id - 1;
    memcpy(id, data, n);
    id[n] = '\0';
    if (rr_time_from_snowflake(id, &us))
        FUZZ_CHECK(us > 1288834974657LL * 1000);
    return 0;
}
