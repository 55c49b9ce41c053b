/*
 * Cursor pagination, the one way every list pages: ?limit=1..200 (default 50)
 * and an opaque ?cursor= from the previous page's next_cursor. The cursor
 * encodes the last id seen (keyset pagination: stable under inserts, O(1)
 * per page); it is versioned ("v1.") so its form can change later.
 */
#include "rr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RR_PAGE_DEFAULT 50
#define RR_PAGE_MAX 200

static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void encode_cursor(int64_t id, char *out, size_t cap)
{
    char raw[32];
    int n = snprintf(raw, sizeof raw, "v1.%lld", (long long)id);
    size_t o = 0;
    for (int i = 0; i < n && o + 5 < cap; i += 3) {
        unsigned v = (unsigned char)raw[i] << 16;
        if (i + 1 < n) v |= (unsigned char)raw[i + 1] << 8;
        if (i + 2 < n) v |= (unsigned char)raw[i + 2];
        out[o++] = b64u[(v >> 18) & 63];
        out[o++] = b64u[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = b64u[(v >> 6) & 63];
        if (i + 2 < n) out[o++] = b64u[v & 63];
    }
    out[o] = '\0';
}

static bool decode_cursor(const char *s, int64_t *id)
{
    char raw[40];
    size_t o = 0, len = strlen(s);
    if (len == 0 || len > 48)
        return false;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; i++) {
        const char *p = strchr(b64u, s[i]);
        if (!p || !s[i])
            return false;
        acc = (acc << 6) | (unsigned)(p - b64u);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= sizeof raw)
                return false;
            raw[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    raw[o] = '\0';
    if (strncmp(raw, "v1.", 3))
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(raw + 3, &end, 10);
    if (errno || *end || end == raw + 3 || v < 0)
        return false;
    *id = v;
    return true;
}

rr_rc_t rr_page_begin(rr_ctx_t *ctx, rr_page_t *page)
{
    page->limit = RR_PAGE_DEFAULT;
    page->after_id = 0;
    const char *l = rr_ctx_query(ctx, "limit");
    if (l) {
        char *end;
        errno = 0;
        long v = strtol(l, &end, 10);
        if (errno || end == l || *end || v < 1 || v > RR_PAGE_MAX)
            return rr_problem(ctx, 400, "invalid-parameter", "limit",
                              "limit must be an integer from 1 to %d", RR_PAGE_MAX);
        page->limit = (int)v;
    }
    const char *c = rr_ctx_query(ctx, "cursor");
    if (c && !decode_cursor(c, &page->after_id))
        return rr_problem(ctx, 400, "invalid-parameter", "cursor",
                          "cursor is not one this service issued");
    return RR_OK;
}

rr_rc_t rr_page_respond(rr_ctx_t *ctx, const rr_page_t *page, json_t *items, int64_t last_id)
{
    (void)page;
    json_t *body = json_object();
    if (!body || json_object_set_new(body, "items", items)) { /* steals items, even NULL */
        json_decref(body);
        return RR_ERROR; /* never a 200 without "items" */
    }
    if (last_id > 0) {
        char cur[64];
        encode_cursor(last_id, cur, sizeof cur);
        json_object_set_new(body, "next_cursor", json_string(cur));
    } else {
        json_object_set_new(body, "next_cursor", json_null());
    }
    return rr_respond_json(ctx, 200, body);
}

rr_rc_t rr_page_respond_rows_as(rr_ctx_t *ctx, const rr_page_t *page, PGresult *res,
                                rr_row_json_fn row_json)
{
    int n = PQntuples(res);
    bool more = n > page->limit; /* the look-ahead row: only a sign that more follow */
    if (more)
        n = page->limit;
    int id_col = PQfnumber(res, "id");
    if (id_col < 0 && more) {
        /* no id, no cursor: the page would end the list early */
        PQclear(res);
        return RR_ERROR;
    }
    json_t *items = json_array();
    int64_t last = 0;
    for (int r = 0; items && r < n; r++) {
        if (json_array_append_new(items, row_json(res, r))) { /* steals even NULL */
            json_decref(items); /* out of memory: no answer rather than a short page */
            items = NULL;
            break;
        }
        if (id_col >= 0)
            last = strtoll(PQgetvalue(res, r, id_col), NULL, 10);
    }
    PQclear(res);
    if (!items)
        return RR_ERROR;
    return rr_page_respond(ctx, page, items, more ? last : 0);
}

rr_rc_t rr_page_respond_rows(rr_ctx_t *ctx, const rr_page_t *page, PGresult *res)
{
    return rr_page_respond_rows_as(ctx, page, res, rr_row_json);
}
