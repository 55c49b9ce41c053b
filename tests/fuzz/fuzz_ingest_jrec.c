/*
 * The flat JSON record parser of bulk ingest (core/ingest_jrec.c:
 * rr_jrec_parse, rr_jrec_get, rr_jrec_text), checked against jansson, which
 * the rest of the service trusts for JSON.
 *
 * Input: one JSON text (any bytes, its length is passed).
 *
 * Invariants besides ASan/UBSan and LeakSanitizer:
 *  - (inputs without a raw NUL byte, which jansson takes for the end)
 *    what rr_jrec_parse accepts, jansson accepts too (JSON_DECODE_ANY,
 *    no \u0000: PostgreSQL text holds no NUL, both refuse it), unless
 *    jansson refuses only for its own limits
 *    (integer range, depth);
 *  - what jansson accepts within the depth limit, rr_jrec_parse accepts
 *    (but for numbers longer than 63 characters, which it refuses by design);
 *  - when both accept an object without repeated keys, every member whose
 *    key holds no '.' is found by rr_jrec_get under its key, with the same
 *    type and value (strings byte for byte through rr_jrec_text, integers,
 *    booleans, null, reals);
 *  - every string rr_jrec_text gives is what PostgreSQL text accepts once
 *    NUL-free (valid UTF-8).
 *
 * fuzz-requires: rr_jrec_parse rr_jrec_get rr_jrec_text rr_jrec_init rr_jrec_free
 */
#include "fuzz_common.h"
#include "ingest.h"

#include <math.h>
#include <string.h>

#define DEPTH 32

static int depth_of(json_t *j)
{
    int best = 0;
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        json_object_foreach(j, k, v)
        {
            int d = depth_of(v);
            best = d > best ? d : best;
        }
        return best + 1;
    }
    if (json_is_array(j)) {
        json_array_foreach(j, i, v)
        {
            int d = depth_of(v);
            best = d > best ? d : best;
        }
        return best + 1;
    }
    return 0;
}

static void compare_member(rr_jrec_t *jr, const char *key, json_t *v)
{
    size_t klen = strlen(key);
    if (memchr(key, '.', klen) || klen == 0 || klen > 64)
        return;
    rr_jentry_t *e = rr_jrec_get(jr, key, klen);
    FUZZ_CHECK(e != NULL);
    switch (json_typeof(v)) {
    case JSON_STRING: {
        FUZZ_CHECK(e->type == RR_V_STR);
        size_t n = 0;
        const char *s = rr_jrec_text(jr, e, &n);
        FUZZ_CHECK(n == json_string_length(v) && !memcmp(s, json_string_value(v), n));
        break;
    }
    case JSON_INTEGER: FUZZ_CHECK(e->type == RR_V_INT && e->i == json_integer_value(v)); break;
    case JSON_REAL:
        FUZZ_CHECK(e->type == RR_V_REAL);
        FUZZ_CHECK(e->d == json_real_value(v) || (isnan(e->d) && isnan(json_real_value(v))));
        break;
    case JSON_TRUE:
    case JSON_FALSE: FUZZ_CHECK(e->type == RR_V_BOOL && e->b == json_is_true(v)); break;
    case JSON_NULL: FUZZ_CHECK(e->type == RR_V_NULL); break;
    default: FUZZ_CHECK(e->type == RR_V_OTHER); break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    static rr_jrec_t jr;
    static int inited;
    if (!inited) {
        rr_jrec_init(&jr);
        inited = 1;
    }
    /* the text must outlive the record: a heap copy shows overreads */
    char *text = malloc(size ? size : 1);
    memcpy(text, data, size);
    char err[200];
    bool ok = rr_jrec_parse(&jr, text, size, DEPTH, err, sizeof err);
    if (!ok)
        FUZZ_CHECK(err[0] != '\0');

    /* jansson takes a raw NUL byte for the end of the text (and ignores what
     * follows): no comparison for such inputs */
    json_error_t jerr;
    json_t *jj = memchr(text, 0, size) ? NULL : json_loadb(text, size, JSON_DECODE_ANY, &jerr);
    bool compare = !memchr(text, 0, size);
    if (compare && ok && !jj) {
        /* jansson's own limits only */
        FUZZ_CHECK(strstr(jerr.text, "too big") || strstr(jerr.text, "overflow") ||
                   strstr(jerr.text, "depth"));
    }
    /* by design: a number written with more than 63 characters is refused
     * (the record is reported, not guessed at) */
    if (compare && !ok && jj && depth_of(jj) <= DEPTH && !strstr(err, "number too long")) {
        fprintf(stderr, "fuzz: rr_jrec_parse refused what jansson accepts: %s\n", err);
        FUZZ_CHECK(!"rr_jrec_parse refused valid JSON");
    }
    if (ok && jj) {
        json_t *strict = json_loadb(text, size, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, NULL);
        if (strict && json_is_object(jj)) {
            FUZZ_CHECK(jr.root.type == RR_V_OTHER && jr.root.container == '{');
            const char *k;
            json_t *v;
            json_object_foreach(jj, k, v) compare_member(&jr, k, v);
        }
        json_decref(strict);
    }
    if (ok) {
        for (int i = 0; i < jr.n; i++) {
            if (jr.e[i].type != RR_V_STR)
                continue;
            size_t n = 0;
            const char *s = rr_jrec_text(&jr, &jr.e[i], &n);
            FUZZ_CHECK(fuzz_utf8_valid(s, n));
        }
    }
    json_decref(jj);
    free(text);
    return 0;
}
