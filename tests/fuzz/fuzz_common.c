/* Helpers shared by the harnesses; see fuzz_common.h. */
#include "fuzz_common.h"

#include <string.h>

void fuzz_init(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    /* nothing below ERROR + 1 is written: a fuzzer runs millions of requests */
    rr_cfg.log_level = RR_LOG_ERROR + 1;
    rr_cfg.key_cache_ttl = 5;
    /* the metrics route and the scoreboard read shared memory */
    if (rr_scoreboard_init(4) != 0)
        abort();
    rr_routes_core_register();
}

rr_db_t *fuzz_db_down(void)
{
    static rr_db_t *db;
    if (!db)
        db = rr_db_open("host=/nonexistent/realreach-fuzz dbname=realreach connect_timeout=1");
    if (rr_db_ok(db))
        abort(); /* the harness must never reach a real server */
    return db;
}

char *fuzz_cstr(rr_arena_t *a, const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    return rr_arena_strndup(a, (const char *)data, nul ? (size_t)(nul - data) : size);
}

char *fuzz_take(rr_arena_t *a, const uint8_t **data, size_t *size, char sep)
{
    const uint8_t *p = memchr(*data, (unsigned char)sep, *size);
    size_t n = p ? (size_t)(p - *data) : *size;
    char *out = fuzz_cstr(a, *data, n);
    *data += p ? n + 1 : n;
    *size -= p ? n + 1 : n;
    return out;
}

int fuzz_utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        size_t len;
        unsigned min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            len = 2, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            len = 3, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            len = 4, min = 0x10000, c &= 0x07;
        } else {
            return 0;
        }
        if (i + len > n)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return 0;
            c = (c << 6) | (p[i + k] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return 0;
        i += len;
    }
    return 1;
}
