/*
 * The bulk request, shared by every ingest route: the body format (by
 * Content-Type, or ?format=), ?on_error=, streaming the body record by
 * record through a normaliser into a COPY to a staging table, the list of
 * refused rows and duplicates, and the all-or-nothing rule.
 *
 * All-or-nothing: by default one invalid row refuses the whole request with
 * a 422 listing the first errors; since the request's transaction then rolls
 * back, nothing is written. Once a row is refused the rest of the body is
 * still read and checked (so the answer counts every row and lists the
 * first errors) but no longer staged. With ?on_error=skip the valid rows are
 * stored and the others reported.
 */
#include "ingest.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool media_is(const char *ctype, const char *want)
{
    size_t n = strlen(want);
    while (*ctype == ' ')
        ctype++;
    return !strncasecmp(ctype, want, n) && (ctype[n] == '\0' || ctype[n] == ';' || ctype[n] == ' ');
}

static const struct {
    const char *name;
    rr_body_format_t fmt;
} formats[] = {
    {"json", RR_BODY_JSON},    {"x_archive", RR_BODY_JSON}, {"ndjson", RR_BODY_NDJSON},
    {"jsonl", RR_BODY_NDJSON}, {"csv", RR_BODY_CSV},        {"tsv", RR_BODY_CSV},
    {"ids", RR_BODY_IDS},      {"text", RR_BODY_IDS},
};

static const struct {
    const char *type;
    rr_body_format_t fmt;
} media[] = {
    {"application/json", RR_BODY_JSON},
    {"text/json", RR_BODY_JSON},
    {"application/javascript", RR_BODY_JSON}, /* X archive data/follower.js */
    {"text/javascript", RR_BODY_JSON},
    {"application/x-ndjson", RR_BODY_NDJSON},
    {"application/ndjson", RR_BODY_NDJSON},
    {"application/jsonl", RR_BODY_NDJSON},
    {"application/x-jsonlines", RR_BODY_NDJSON},
    {"application/jsonlines", RR_BODY_NDJSON},
    {"text/csv", RR_BODY_CSV},
    {"application/csv", RR_BODY_CSV},
    {"text/tab-separated-values", RR_BODY_CSV},
    {"text/plain", RR_BODY_IDS},
};

/* on_error and the body format (?format= first, then Content-Type). */
static rr_rc_t read_options(rr_bulk_t *b, rr_ctx_t *ctx)
{
    const char *oe = rr_ctx_query(ctx, "on_error");
    if (oe && !strcmp(oe, "skip"))
        b->skip = true;
    else if (oe && strcmp(oe, "abort") && strcmp(oe, "reject"))
        return rr_problem(ctx, 400, "invalid-parameter", "on_error",
                          "on_error must be abort (the default: one invalid row refuses the "
                          "request) or skip (store the valid rows)");
    const char *f = rr_ctx_query(ctx, "format");
    if (f) {
        for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
            if (!strcmp(formats[i].name, f)) {
                b->format = formats[i].fmt;
                return RR_OK;
            }
        return rr_problem(ctx, 400, "invalid-parameter", "format",
                          "format must be json, ndjson, csv or ids");
    }
    const char *ctype = rr_ctx_header(ctx, "Content-Type");
    if (ctype)
        for (size_t i = 0; i < sizeof media / sizeof *media; i++)
            if (media_is(ctype, media[i].type)) {
                b->format = media[i].fmt;
                return RR_OK;
            }
    return rr_problem(ctx, 415, "unsupported-media-type", "Content-Type",
                      "send application/json (an array or an API answer), application/x-ndjson, "
                      "text/csv (with a header) or text/plain (one id per line)");
}

rr_rc_t rr_bulk_init(rr_bulk_t *b, rr_ctx_t *ctx, const rr_account_ref_t *acct)
{
    memset(b, 0, sizeof *b);
    b->ctx = ctx;
    b->platform = acct->platform;
    b->account_id = acct->id;
    b->now_us = rr_time_now_us();
    b->errors = json_array();
    b->dups = json_array();
    rr_rc_t rc = !b->errors || !b->dups || !rr_copybuf_init(&b->copy, ctx)
                     ? RR_ERROR
                     : read_options(b, ctx);
    if (rc != RR_OK)
        rr_bulk_cleanup(b);
    return rc;
}

void rr_bulk_cleanup(rr_bulk_t *b)
{
    rr_keyset_free(&b->keys);
    json_decref(b->errors);
    json_decref(b->dups);
    b->errors = b->dups = NULL;
    rr_copybuf_free(&b->copy);
}

/* Inserts item (with an integer "row") into list, kept in row order and at
 * most RR_INGEST_MAX_ERRORS long. Steals item. */
static void list_add(json_t *list, json_t *item)
{
    if (!item)
        return;
    json_int_t row = json_integer_value(json_object_get(item, "row"));
    size_t n = json_array_size(list), at = n;
    while (at > 0 && json_integer_value(json_object_get(json_array_get(list, at - 1), "row")) > row)
        at--;
    if (at >= RR_INGEST_MAX_ERRORS) {
        json_decref(item);
        return;
    }
    json_array_insert_new(list, at, item);
    while (json_array_size(list) > RR_INGEST_MAX_ERRORS)
        json_array_remove(list, json_array_size(list) - 1);
}

static json_t *text_or(const char *s, const char *fallback)
{
    json_t *j = s ? json_string(s) : NULL;
    return j ? j : json_string(fallback);
}

bool rr_bulk_error(rr_bulk_t *b, int64_t row, const char *field, const char *fmt, ...)
{
    b->rejected++;
    if (json_array_size(b->errors) >= RR_INGEST_MAX_ERRORS)
        return false; /* later rows never enter the first errors */
    char reason[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    json_t *e = json_object();
    json_object_set_new(e, "row", json_integer(row));
    json_object_set_new(e, "field", field ? text_or(field, "?") : json_null());
    json_object_set_new(e, "reason", text_or(reason, "invalid"));
    list_add(b->errors, e);
    return false;
}

rr_rc_t rr_bulk_exec(rr_ctx_t *ctx, const char *sql, int n, const char *const *params)
{
    PGresult *r = rr_db_query(ctx, sql, n, params);
    if (!r)
        return RR_DB_ERROR;
    PQclear(r);
    return RR_OK;
}

static long body_source(void *src, char *buf, size_t cap)
{
    return rr_body_read((rr_ctx_t *)src, buf, cap);
}

/* Ends a COPY that must not count: the server fails it, so the transaction
 * is aborted and rolls back. */
static void copy_abort(rr_bulk_t *b)
{
    if (!b->copy_open)
        return;
    b->copy_open = false;
    PGconn *conn = rr_db_conn(b->ctx->db);
    if (!conn)
        return;
    PQputCopyEnd(conn, "bulk ingest refused");
    PGresult *r;
    while ((r = PQgetResult(conn)) != NULL)
        PQclear(r);
}

static char *id_header[] = {"id"};

static rr_rc_t bulk_stream(rr_bulk_t *b, const char *create_sql, const char *copy_sql,
                           rr_bulk_row_fn fn, void *ud, bool flat)
{
    rr_ctx_t *ctx = b->ctx;
    if (create_sql && rr_bulk_exec(ctx, create_sql, 0, NULL) != RR_OK)
        return RR_DB_ERROR;
    if (rr_copy_begin(ctx, rr_arena_sprintf(ctx->arena, "%s" RR_COPY_BINARY, copy_sql)) != RR_OK)
        return RR_DB_ERROR;
    b->copy_open = true;
    rr_src_cache_reset();

    rr_reader_t rd;
    rr_parser_t *p = NULL;
    if (!rr_reader_init(&rd, body_source, ctx, rr_cfg.max_json_body) ||
        !(p = rr_parser_new(b->format, &rd, rr_cfg.max_json_depth, flat))) {
        rr_reader_free(&rd);
        copy_abort(b);
        return RR_ERROR;
    }
    rr_rc_t rc = RR_OK;
    rr_record_t rec;
    memset(&rec, 0, sizeof rec);
    for (;;) {
        rr_rec_rc_t got = rr_parser_next(p, &rec);
        if (got == RR_REC_END)
            break;
        if (got == RR_REC_FATAL) {
            rc = rr_problem(ctx, 400, "invalid-body", NULL, "%s", rec.error);
            break;
        }
        b->received++;
        if (got == RR_REC_BAD) {
            rr_bulk_error(b, rec.row, NULL, "%s", rec.error);
            continue;
        }
        rr_source_t src;
        memset(&src, 0, sizeof src);
        char numbuf[32];
        char *one_field[1];
        size_t one_len[1];
        if (rec.jrec) {
            rr_jentry_t *root = &rec.jrec->root;
            if (root->type == RR_V_OTHER && root->container == '{') {
                src.jrec = rec.jrec;
            } else if (root->type == RR_V_STR || root->type == RR_V_INT) {
                if (root->type == RR_V_STR) {
                    size_t n;
                    one_field[0] = (char *)rr_jrec_text(rec.jrec, root, &n);
                    one_len[0] = n;
                } else {
                    snprintf(numbuf, sizeof numbuf, "%lld", root->i);
                    one_field[0] = numbuf;
                    one_len[0] = strlen(numbuf);
                }
                src.id_only = true;
            } else {
                rr_bulk_error(b, rec.row, NULL, "must be an object (or an id)");
                continue;
            }
        } else if (rec.json) {
            if (json_is_object(rec.json)) {
                src.obj = rec.json;
            } else if (json_is_string(rec.json) || json_is_integer(rec.json)) {
                if (json_is_string(rec.json)) {
                    one_field[0] = (char *)json_string_value(rec.json);
                    one_len[0] = json_string_length(rec.json);
                } else {
                    snprintf(numbuf, sizeof numbuf, "%lld",
                             (long long)json_integer_value(rec.json));
                    one_field[0] = numbuf;
                    one_len[0] = strlen(numbuf);
                }
                src.id_only = true;
            } else {
                rr_bulk_error(b, rec.row, NULL, "must be an object (or an id)");
                continue;
            }
        } else if (rec.fields) {
            src.fields = rec.fields;
            src.lens = rec.lens;
            src.nfields = rec.nfields;
            src.header = rr_parser_header(p, &src.nheader);
        } else {
            one_field[0] = (char *)rec.text;
            one_len[0] = rec.text_len;
            src.id_only = true;
        }
        if (src.id_only) {
            src.fields = one_field;
            src.lens = one_len;
            src.nfields = 1;
            src.header = id_header;
            src.nheader = 1;
        }
        size_t start = rr_copy_row_begin(&b->copy);
        if (!fn(b, &src, rec.row, ud)) {
            rr_copy_row_abort(&b->copy, start);
            continue;
        }
        b->valid++;
        if (b->rejected > 0 && !b->skip && !b->stage_all)
            rr_copy_row_abort(&b->copy, start); /* nothing will be written: stop staging */
        if (b->copy.len >= RR_INGEST_COPY_FLUSH && rr_copybuf_flush(&b->copy) != RR_OK) {
            rc = RR_DB_ERROR;
            break;
        }
    }
    if (rc == RR_OK && rd.cut)
        rc = rr_problem(ctx, 400, "bad-request", NULL, "the body ended before its Content-Length");
    if (rc == RR_OK && b->copy.failed)
        rc = RR_DB_ERROR;
    rr_parser_free(p);
    rr_reader_free(&rd);
    if (rc != RR_OK) {
        if (rc != RR_DB_ERROR || rr_db_ok(ctx->db))
            copy_abort(b);
        return rc;
    }
    rr_copy_finish(&b->copy);
    if (rr_copybuf_flush(&b->copy) != RR_OK) {
        copy_abort(b);
        return RR_DB_ERROR;
    }
    b->copy_open = false;
    int64_t rows = 0;
    return rr_copy_end(ctx, &rows);
}

rr_rc_t rr_bulk_stream(rr_bulk_t *b, const char *create_sql, const char *copy_sql,
                       rr_bulk_row_fn fn, void *ud)
{
    return bulk_stream(b, create_sql, copy_sql, fn, ud, false);
}

rr_rc_t rr_bulk_stream_flat(rr_bulk_t *b, const char *create_sql, const char *copy_sql,
                            rr_bulk_row_fn fn, void *ud)
{
    return bulk_stream(b, create_sql, copy_sql, fn, ud, true);
}

rr_rc_t rr_bulk_sql_errors(rr_bulk_t *b, const char *sql, const char *delete_sql, int n,
                           const char *const *params)
{
    PGresult *r = rr_db_query(b->ctx, sql, n, params);
    if (!r)
        return RR_DB_ERROR;
    int64_t total = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        total = strtoll(PQgetvalue(r, i, 3), NULL, 10);
        json_t *e = json_object();
        json_object_set_new(e, "row", json_integer(strtoll(PQgetvalue(r, i, 0), NULL, 10)));
        json_object_set_new(e, "field", text_or(PQgetvalue(r, i, 1), "?"));
        json_object_set_new(e, "reason", text_or(PQgetvalue(r, i, 2), "invalid"));
        list_add(b->errors, e);
    }
    PQclear(r);
    b->rejected += total;
    b->valid -= total;
    if (total > 0 && b->skip && delete_sql)
        return rr_bulk_exec(b->ctx, delete_sql, n, params);
    return RR_OK;
}

rr_rc_t rr_bulk_sql_dups(rr_bulk_t *b, const char *sql, int n, const char *const *params)
{
    PGresult *r = rr_db_query(b->ctx, sql, n, params);
    if (!r)
        return RR_DB_ERROR;
    int64_t total = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        total = strtoll(PQgetvalue(r, i, 3), NULL, 10);
        json_t *d = json_object();
        json_object_set_new(d, "row", json_integer(strtoll(PQgetvalue(r, i, 0), NULL, 10)));
        json_object_set_new(d, "first_row", json_integer(strtoll(PQgetvalue(r, i, 1), NULL, 10)));
        json_object_set_new(d, "key", text_or(PQgetvalue(r, i, 2), "?"));
        list_add(b->dups, d);
    }
    PQclear(r);
    b->duplicates += total;
    return RR_OK;
}

json_t *rr_bulk_counts(rr_bulk_t *b, int64_t accepted)
{
    return json_pack("{s:I,s:I,s:I,s:I,s:O,s:O}", "received", (json_int_t)b->received, "accepted",
                     (json_int_t)accepted, "rejected", (json_int_t)b->rejected, "duplicates",
                     (json_int_t)b->duplicates, "errors", b->errors, "duplicate_rows", b->dups);
}

bool rr_bulk_refused(rr_bulk_t *b)
{
    if (b->skip || b->rejected == 0)
        return false;
    rr_ctx_t *ctx = b->ctx;
    rr_problem(ctx, 422, "invalid-rows", NULL,
               "%lld of %lld rows are invalid; nothing was stored (with ?on_error=skip the valid "
               "rows are stored and the invalid ones reported)",
               (long long)b->rejected, (long long)b->received);
    rr_problem_add_errors(ctx, json_deep_copy(b->errors));
    /* the counts go with the problem too */
    json_t *p = json_loadb(ctx->resp_body, ctx->resp_len, 0, NULL);
    if (p) {
        json_object_set_new(p, "received", json_integer(b->received));
        json_object_set_new(p, "accepted", json_integer(0));
        json_object_set_new(p, "rejected", json_integer(b->rejected));
        char *text = json_dumps(p, JSON_COMPACT);
        json_decref(p);
        if (text) {
            rr_respond_raw(ctx, 422, "application/problem+json", text, strlen(text));
            free(text);
        }
    }
    return true;
}

rr_rc_t rr_bulk_tune(rr_bulk_t *b, const char *analyze_sql)
{
    if (b->valid < 20000)
        return RR_OK;
    if (rr_bulk_exec(b->ctx, "SELECT set_config('work_mem', '128MB', true)", 0, NULL) != RR_OK)
        return RR_DB_ERROR;
    return analyze_sql ? rr_bulk_exec(b->ctx, analyze_sql, 0, NULL) : RR_OK;
}

/* --------------------------------------------------------------- helpers */

rr_rc_t rr_query_time(rr_ctx_t *ctx, const char *name, bool *present, int64_t *us)
{
    const char *v = rr_ctx_query(ctx, name);
    *present = false;
    if (!v)
        return RR_OK;
    if (!rr_time_parse(v, strlen(v), us))
        return rr_problem(ctx, 400, "invalid-parameter", name,
                          "%s must be an ISO 8601 date-time (or Unix seconds)", name);
    *present = true;
    return RR_OK;
}

const char *rr_i64(rr_ctx_t *ctx, int64_t v)
{
    return rr_arena_sprintf(ctx->arena, "%lld", (long long)v);
}

void rr_routes_ingest_register(void)
{
    rr_routes_followers_register();
    rr_routes_metrics_register();
    rr_routes_posts_register();
    rr_routes_engagements_register();
}
