/*
 * COPY binary writer: rows are appended field by field into a buffer that
 * goes to PostgreSQL in RR_INGEST_COPY_FLUSH pieces, so a million rows cost
 * one COPY and a fixed amount of memory. The binary format (not text) spares
 * the server from parsing every number, boolean and timestamp again, and
 * this side from escaping text: what the normaliser has is what is sent.
 *
 * Format (PostgreSQL's "Binary Format" of COPY): a header "PGCOPY\n\377\r\n\0",
 * int32 flags, int32 header extension length; per row an int16 field count,
 * then per field an int32 length (-1: NULL) and the bytes; int16 -1 ends the
 * file. All integers in network order; a bigint is 8 bytes, a boolean 1, a
 * timestamptz the microseconds since 2000-01-01 as 8 bytes.
 */
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PG_EPOCH_US 946684800000000LL /* 2000-01-01 in Unix microseconds */

bool rr_copybuf_init(rr_copybuf_t *c, rr_ctx_t *ctx)
{
    memset(c, 0, sizeof *c);
    c->ctx = ctx;
    c->cap = RR_INGEST_COPY_FLUSH + 64 * 1024;
    c->buf = malloc(c->cap);
    return c->buf != NULL;
}

void rr_copybuf_free(rr_copybuf_t *c)
{
    free(c->buf);
    c->buf = NULL;
}

static bool reserve(rr_copybuf_t *c, size_t more)
{
    if (c->len + more <= c->cap)
        return true;
    size_t ncap = c->cap;
    while (c->len + more > ncap)
        ncap *= 2;
    char *nb = realloc(c->buf, ncap);
    if (!nb) {
        c->failed = true;
        return false;
    }
    c->buf = nb;
    c->cap = ncap;
    return true;
}

static void put16(char *o, uint16_t v)
{
    o[0] = (char)(v >> 8);
    o[1] = (char)v;
}

static void put32(char *o, uint32_t v)
{
    o[0] = (char)(v >> 24);
    o[1] = (char)(v >> 16);
    o[2] = (char)(v >> 8);
    o[3] = (char)v;
}

static void put64(char *o, uint64_t v)
{
    put32(o, (uint32_t)(v >> 32));
    put32(o + 4, (uint32_t)v);
}

size_t rr_copy_row_begin(rr_copybuf_t *c)
{
    if (!c->started && reserve(c, 19)) {
        memcpy(c->buf + c->len, "PGCOPY\n\377\r\n\0", 11);
        put32(c->buf + c->len + 11, 0); /* flags */
        put32(c->buf + c->len + 15, 0); /* header extension */
        c->len += 19;
        c->started = true;
    }
    size_t start = c->len;
    if (reserve(c, 2)) {
        c->row = c->len;
        c->len += 2; /* the field count, set at the row's end */
        c->fields = 0;
    }
    return start;
}

/* Room for a field of n bytes; the pointer to write them to, or NULL. */
static char *field(rr_copybuf_t *c, int32_t n)
{
    if (!reserve(c, 4 + (n > 0 ? (size_t)n : 0)))
        return NULL;
    put32(c->buf + c->len, (uint32_t)n);
    c->len += 4;
    c->fields++;
    char *o = c->buf + c->len;
    if (n > 0)
        c->len += (size_t)n;
    return o;
}

void rr_copy_null(rr_copybuf_t *c)
{
    field(c, -1);
}

void rr_copy_text(rr_copybuf_t *c, const char *s, size_t len)
{
    if (!s) {
        rr_copy_null(c);
        return;
    }
    char *o = field(c, (int32_t)len);
    if (o && len)
        memcpy(o, s, len);
}

void rr_copy_str(rr_copybuf_t *c, const char *s)
{
    rr_copy_text(c, s, s ? strlen(s) : 0);
}

void rr_copy_int(rr_copybuf_t *c, int64_t v)
{
    char *o = field(c, 8);
    if (o)
        put64(o, (uint64_t)v);
}

void rr_copy_int4(rr_copybuf_t *c, int32_t v)
{
    char *o = field(c, 4);
    if (o)
        put32(o, (uint32_t)v);
}

void rr_copy_opt_int(rr_copybuf_t *c, bool present, int64_t v)
{
    if (present)
        rr_copy_int(c, v);
    else
        rr_copy_null(c);
}

void rr_copy_opt_bool(rr_copybuf_t *c, bool present, bool v)
{
    if (!present) {
        rr_copy_null(c);
        return;
    }
    char *o = field(c, 1);
    if (o)
        *o = v ? 1 : 0;
}

void rr_copy_opt_time(rr_copybuf_t *c, bool present, int64_t us)
{
    if (!present) {
        rr_copy_null(c);
        return;
    }
    char *o = field(c, 8);
    if (o)
        put64(o, (uint64_t)(us - PG_EPOCH_US));
}

void rr_copy_row_end(rr_copybuf_t *c)
{
    if (!c->failed)
        put16(c->buf + c->row, (uint16_t)c->fields);
}

void rr_copy_row_abort(rr_copybuf_t *c, size_t row_start)
{
    c->len = row_start;
}

void rr_copy_finish(rr_copybuf_t *c)
{
    if (!c->started)
        rr_copy_row_begin(c), c->len -= 2; /* a header alone: no row */
    if (reserve(c, 2)) {
        put16(c->buf + c->len, 0xFFFF);
        c->len += 2;
    }
}

rr_rc_t rr_copybuf_flush(rr_copybuf_t *c)
{
    if (c->failed)
        return RR_DB_ERROR;
    if (!c->ctx || c->len == 0)
        return RR_OK;
    rr_rc_t rc = rr_copy_put(c->ctx, c->buf, c->len);
    c->len = 0;
    if (rc != RR_OK)
        c->failed = true;
    return rc;
}
