/*
 * Bulk ingest bodies (core/ingest.h): the record parsers for every body
 * format — one JSON document (an array, or an envelope holding one; X API
 * v1.1 / v2 answers, Instagram exports, X archive follower.js), NDJSON, CSV
 * with a header row, id lists — read through rr_reader in chunks of a
 * fuzzed size, then each record through the profile normaliser of a fuzzed
 * platform and into COPY text (rr_copybuf without a context: the text
 * accumulates, no database).
 *
 * Input: byte 0 = format (bits 0-1: JSON, NDJSON, CSV, ids), platform
 * (bits 2-4), read size (bits 5-7); byte 1 = record limit (bit 0: 256
 * bytes, else 1 MiB), JSON depth limit (bits 1-3), jansson records instead
 * of flat ones (bit 4: the followers routes parse flat, rr_jrec); the rest
 * is the body. The sources are built as rr_bulk_stream does.
 *
 * Invariants besides ASan/UBSan and LeakSanitizer:
 *  - the parser ends (END or FATAL) within the body's size + 2 records,
 *    numbers records 1, 2, 3 ... and sets an error text with BAD and FATAL;
 *  - an OK record has what its format promises (a JSON value; CSV fields
 *    with lengths; an id line);
 *  - what the normaliser writes is a COPY binary file PostgreSQL accepts:
 *    the header, every row with the follower stage's columns, text valid
 *    UTF-8 without NUL, bigint and timestamptz 8 bytes, booleans 0 or 1,
 *    the trailer, nothing after it.
 *
 * fuzz-requires: rr_src_cache_reset rr_jrec_text rr_reader_init rr_parser_new rr_parser_next
 * rr_parser_header rr_profile_normalise rr_profile_copy rr_copybuf_init rr_copybuf_free
 * rr_copy_row_end rr_copy_int rr_copy_row_begin rr_copy_finish
 */
#include "fuzz_common.h"
#include "ingest.h"

#include <string.h>

static const char *const platforms[] = {"x",       "instagram", "tiktok", "facebook",
                                        "youtube", "linkedin",  "x",      "instagram"};
static const size_t read_sizes[] = {1, 2, 7, 64, 511, 4096, 65536, 1u << 20};

typedef struct body {
    const uint8_t *p;
    size_t left;
    size_t chunk;
} body_t;

static long body_read(void *src, char *buf, size_t cap)
{
    body_t *b = src;
    size_t n = b->left < cap ? b->left : cap;
    if (n > b->chunk)
        n = b->chunk;
    memcpy(buf, b->p, n);
    b->p += n;
    b->left -= n;
    return (long)n;
}

/* The COPY binary file (core/ingest_copy.c): "PGCOPY\n\377\r\n\0", flags,
 * extension length, then rows of (int16 field count, per field int32 length
 * or -1 and the bytes), then int16 -1. Every row has the follower stage's
 * columns: the row number, then RR_PROFILE_STAGE_COLUMNS; 't' text must be
 * valid UTF-8 without NUL (PostgreSQL refuses the whole COPY otherwise),
 * 'i' bigint and 'd' timestamptz 8 bytes, 'b' boolean 1 byte of 0 or 1. */
static const char stage_types[] = "i"
                                  "ttttttt"
                                  "d"
                                  "iiiii"
                                  "t"
                                  "bbb"
                                  "ddd"
                                  "b";

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void check_copy(const unsigned char *s, size_t n, size_t rows)
{
    if (rows == 0)
        return;
    FUZZ_CHECK(n >= 19 + 2 && !memcmp(s, "PGCOPY\n\377\r\n\0", 11));
    size_t i = 19, seen = 0;
    for (;;) {
        FUZZ_CHECK(i + 2 <= n);
        int16_t nf = (int16_t)(s[i] << 8 | s[i + 1]);
        i += 2;
        if (nf == -1)
            break;
        FUZZ_CHECK(nf == (int16_t)strlen(stage_types));
        for (int f = 0; f < nf; f++) {
            FUZZ_CHECK(i + 4 <= n);
            int32_t len = (int32_t)get32(s + i);
            i += 4;
            if (len == -1)
                continue;
            FUZZ_CHECK(len >= 0 && i + (size_t)len <= n);
            switch (stage_types[f]) {
            case 't':
                FUZZ_CHECK(fuzz_utf8_valid((const char *)s + i, (size_t)len));
                FUZZ_CHECK(!memchr(s + i, 0, (size_t)len));
                break;
            case 'b': FUZZ_CHECK(len == 1 && s[i] <= 1); break;
            default: FUZZ_CHECK(len == 8); break;
            }
            i += (size_t)len;
        }
        seen++;
    }
    FUZZ_CHECK(i == n && seen == rows);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    if (size < 2)
        return 0;
    rr_body_format_t fmt = (rr_body_format_t)(data[0] & 3);
    const char *platform = platforms[(data[0] >> 2) & 7];
    size_t chunk = read_sizes[(data[0] >> 5) & 7];
    size_t max_record = (data[1] & 1) ? 256 : 1u << 20;
    int depth = 2 + ((data[1] >> 1) & 7) * 4;
    bool flat = !(data[1] & 0x10); /* the followers routes parse flat */
    data += 2, size -= 2;

    rr_src_cache_reset(); /* a new body: CSV column lookups start over */
    body_t body = {data, size, chunk};
    rr_reader_t rd;
    FUZZ_CHECK(rr_reader_init(&rd, body_read, &body, max_record));
    rr_parser_t *p = rr_parser_new(fmt, &rd, depth, flat);
    FUZZ_CHECK(p != NULL);
    rr_copybuf_t copy;
    FUZZ_CHECK(rr_copybuf_init(&copy, NULL));

    int64_t expect_row = 1;
    size_t rows = 0;
    size_t records = 0;
    for (;;) {
        rr_record_t rec;
        memset(&rec, 0, sizeof rec);
        rr_rec_rc_t rc = rr_parser_next(p, &rec);
        FUZZ_CHECK(++records <= size + 2); /* every record consumes input */
        if (rc == RR_REC_END)
            break;
        if (rc == RR_REC_FATAL) {
            FUZZ_CHECK(rec.error[0] != '\0');
            break;
        }
        FUZZ_CHECK(rec.row == expect_row);
        expect_row++;
        if (rc == RR_REC_BAD) {
            FUZZ_CHECK(rec.error[0] != '\0');
            continue;
        }
        FUZZ_CHECK(rc == RR_REC_OK);

        /* the source rr_bulk_stream (core/ingest_bulk.c) hands its row
         * function: the object, the CSV row with its header, or an id_only
         * source (one column "id") for a JSON string or integer or an id
         * line */
        rr_source_t src;
        memset(&src, 0, sizeof src);
        static char id_col[] = "id";
        static char *id_header[] = {id_col};
        char numbuf[32];
        char *one_field[1];
        size_t one_len[1];
        switch (fmt) {
        case RR_BODY_JSON:
        case RR_BODY_NDJSON:
            if (flat) {
                FUZZ_CHECK(rec.jrec != NULL && rec.json == NULL);
                rr_jentry_t *root = &rec.jrec->root;
                if (root->type == RR_V_OTHER && root->container == '{') {
                    src.jrec = rec.jrec;
                } else if (root->type == RR_V_STR) {
                    size_t n = 0;
                    one_field[0] = (char *)rr_jrec_text(rec.jrec, root, &n);
                    one_len[0] = n;
                    src.id_only = true;
                } else if (root->type == RR_V_INT) {
                    snprintf(numbuf, sizeof numbuf, "%lld", root->i);
                    one_field[0] = numbuf;
                    one_len[0] = strlen(numbuf);
                    src.id_only = true;
                } else {
                    continue; /* "must be an object (or an id)" */
                }
                break;
            }
            FUZZ_CHECK(rec.json != NULL && rec.jrec == NULL);
            if (json_is_object(rec.json)) {
                src.obj = rec.json;
            } else if (json_is_string(rec.json)) {
                one_field[0] = (char *)json_string_value(rec.json);
                one_len[0] = json_string_length(rec.json);
                src.id_only = true;
            } else if (json_is_integer(rec.json)) {
                snprintf(numbuf, sizeof numbuf, "%lld", (long long)json_integer_value(rec.json));
                one_field[0] = numbuf;
                one_len[0] = strlen(numbuf);
                src.id_only = true;
            } else {
                continue; /* "must be an object (or an id)" */
            }
            break;
        case RR_BODY_CSV:
            FUZZ_CHECK(rec.nfields >= 0 && (rec.nfields == 0 || (rec.fields && rec.lens)));
            for (int i = 0; i < rec.nfields; i++)
                FUZZ_CHECK(rec.fields[i] && strlen(rec.fields[i]) <= rec.lens[i]);
            src.fields = rec.fields;
            src.lens = rec.lens;
            src.nfields = rec.nfields;
            src.header = rr_parser_header(p, &src.nheader);
            FUZZ_CHECK(src.header != NULL && rec.nfields <= src.nheader);
            break;
        case RR_BODY_IDS:
            FUZZ_CHECK(rec.text != NULL && rec.text_len > 0);
            one_field[0] = (char *)rec.text;
            one_len[0] = rec.text_len;
            src.id_only = true;
            break;
        }
        if (src.id_only) {
            src.fields = one_field;
            src.lens = one_len;
            src.nfields = 1;
            src.header = id_header;
            src.nheader = 1;
        }
        rr_profile_row_t row;
        const char *field = NULL, *why = NULL;
        /* what follower_row (core/ingest_followers.c) writes */
        if (rr_profile_normalise(&src, platform, &row, &field, &why)) {
            FUZZ_CHECK(row.external_id && row.external_id_len > 0);
            rr_copy_row_begin(&copy);
            rr_copy_int(&copy, rec.row);
            rr_profile_copy(&copy, &row);
            rr_copy_row_end(&copy);
            rows++;
        }
    }
    FUZZ_CHECK(!copy.failed);
    if (rows) {
        rr_copy_finish(&copy);
        check_copy((const unsigned char *)copy.buf, copy.len, rows);
    }

    rr_copybuf_free(&copy);
    rr_parser_free(p);
    rr_reader_free(&rd);
    return 0;
}
