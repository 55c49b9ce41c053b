/*
 * audience plugin — reading an audit's verdicts: paging through them (by
 * class), the removal list as CSV, and what changed between two audits.
 * Verdicts exist only once an audit is done: before that these routes
 * answer 409 (the audit's own URL says how far it is).
 *
 * Verdicts are stored one row per snapshot chunk (parallel arrays, see
 * sql/001_audience.sql). A page is read chunk by chunk in position order:
 * first the chunks that can hold what is asked (their class counts say so;
 * no array is read), then one chunk's arrays at a time until the page is
 * full — a page of a million-follower audit reads one or two chunks.
 */
#include "audience.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLASS_NAME_SQL "(ARRAY['genuine','inactive','suspicious','fake'])[v.class + 1]"

/* The chunks of audit $1 that may hold positions >= $2 of classes $3
 * (smallint[] or NULL) and mass $4 (or NULL), in position order. */
#define SQL_CHUNKS                                                                                 \
    "SELECT first_position FROM realreach.audience_verdicts"                                       \
    " WHERE tenant_id = realreach.current_tenant() AND audit_id = $1::bigint"                      \
    "   AND last_position >= $2::bigint"                                                           \
    "   AND ($3::smallint[] IS NULL OR (fake > 0 AND 3 = ANY ($3::smallint[]))"                    \
    "        OR (suspicious > 0 AND 2 = ANY ($3::smallint[]))"                                     \
    "        OR (inactive > 0 AND 1 = ANY ($3::smallint[]))"                                       \
    "        OR (genuine > 0 AND 0 = ANY ($3::smallint[])))"                                       \
    "   AND ($4::boolean IS NULL OR NOT $4::boolean OR mass_followers > 0)"                        \
    " ORDER BY first_position"

/* The verdicts of one chunk ($1 audit, $2 its first_position) from
 * position $3 on, of classes $4 and mass $5, at most $6, in position order
 * (the arrays run from the chunk's highest position down). */
#define CHUNK_ROWS                                                                                 \
    "SELECT v.position, v.profile_id, v.class, v.score, v.confidence, v.mass, v.reasons"           \
    "  FROM realreach.audience_verdicts c"                                                         \
    " CROSS JOIN LATERAL unnest(c.positions, c.profile_ids, c.classes, c.scores,"                  \
    "        c.confidences, c.mass, c.reasons) WITH ORDINALITY"                                    \
    "        AS v (position, profile_id, class, score, confidence, mass, reasons, ord)"            \
    " WHERE c.tenant_id = realreach.current_tenant() AND c.audit_id = $1::bigint"                  \
    "   AND c.first_position = $2::bigint AND v.position >= $3::bigint"                            \
    "   AND ($4::smallint[] IS NULL OR v.class = ANY ($4::smallint[]))"                            \
    "   AND ($5::boolean IS NULL OR v.mass = $5::boolean)"                                         \
    " ORDER BY v.ord DESC LIMIT $6::int"

/* ?class=fake or ?class=fake,suspicious -> "{3,2}" (NULL when absent; a
 * 422 problem and RR_INVALID when a name is not a class). */
static rr_rc_t class_param(rr_ctx_t *ctx, const char *fallback, char out[32], const char **param)
{
    const char *q = aud_host->req_query(ctx, "class");
    if (!q || !*q)
        q = fallback;
    *param = NULL;
    if (!q)
        return RR_OK;
    bool seen[AUD_NCLASSES] = {false};
    size_t o = 0;
    out[o++] = '{';
    const char *s = q;
    for (;;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char name[16];
        int c = -1;
        if (len < sizeof name) {
            memcpy(name, s, len);
            name[len] = '\0';
            c = aud_class_parse(name);
        }
        if (c < 0)
            return aud_host->problem(ctx, 422, "validation", "class",
                                     "class is one or more of fake, suspicious, inactive, genuine "
                                     "(comma-separated)");
        if (!seen[c]) {
            seen[c] = true;
            if (o > 1)
                out[o++] = ',';
            out[o++] = (char)('0' + c);
        }
        if (!e)
            break;
        s = e + 1;
    }
    out[o++] = '}';
    out[o] = '\0';
    *param = out;
    return RR_OK;
}

/* Pages through an audit's verdicts: calls fn for each chunk's rows (the
 * query it is given, with the parameters of CHUNK_ROWS), until `want` rows
 * came back or the chunks ran out. *got: rows seen. */
typedef rr_rc_t (*chunk_fn)(rr_ctx_t *ctx, const char *const params[6], int *rows, void *ud);

static rr_rc_t page_chunks(rr_ctx_t *ctx, int64_t audit_id, int64_t from, const char *classes,
                           const char *mass, int want, chunk_fn fn, void *ud, int *got)
{
    char id[24], start[24];
    snprintf(id, sizeof id, "%lld", (long long)audit_id);
    snprintf(start, sizeof start, "%lld", (long long)from);
    const char *cp[] = {id, start, classes, mass};
    PGresult *chunks = aud_host->db_query(ctx, SQL_CHUNKS, 4, cp);
    if (!chunks)
        return RR_DB_ERROR;
    rr_rc_t rc = RR_OK;
    *got = 0;
    for (int i = 0; i < PQntuples(chunks) && *got < want && rc == RR_OK; i++) {
        char limit[16];
        snprintf(limit, sizeof limit, "%d", want - *got);
        const char *params[6] = {id, PQgetvalue(chunks, i, 0), start, classes, mass, limit};
        int rows = 0;
        rc = fn(ctx, params, &rows, ud);
        *got += rows;
    }
    PQclear(chunks);
    return rc;
}

static rr_rc_t not_done(rr_ctx_t *ctx, int64_t audit_id)
{
    return aud_host->problem(ctx, 409, "audit-not-done", "audit_id",
                             "audit %lld is not done yet: its verdicts appear when it is (see "
                             "its state)",
                             (long long)audit_id);
}

/* ------------------------------------------------------------- followers */

typedef struct follower_page {
    json_t *items;
    int64_t last_key; /* page key (position + 1) of the last row seen */
} follower_page_t;

static rr_rc_t follower_rows(rr_ctx_t *ctx, const char *const params[6], int *rows, void *ud)
{
    follower_page_t *pg = ud;
    PGresult *res =
        aud_host->db_query(ctx,
                           "SELECT v.position + 1 AS page_key, v.position, v.profile_id,"
                           " p.external_id, p.handle, " CLASS_NAME_SQL " AS class,"
                           " round(v.score::numeric, 4)::float8 AS score,"
                           " round(v.confidence::numeric, 4)::float8 AS confidence, v.mass,"
                           " v.reasons::json AS reasons"
                           "  FROM (" CHUNK_ROWS ") v"
                           "  LEFT JOIN realreach.profiles p"
                           "    ON p.tenant_id = realreach.current_tenant() AND p.id = v.profile_id"
                           " ORDER BY v.position",
                           6, params);
    if (!res)
        return RR_DB_ERROR;
    *rows = PQntuples(res);
    rr_rc_t rc = RR_OK;
    for (int i = 0; i < *rows && rc == RR_OK; i++) {
        json_t *row = aud_host->row_json(res, i);
        if (row)
            json_object_del(row, "page_key");
        if (!row || json_array_append_new(pg->items, row))
            rc = RR_ERROR;
        pg->last_key = aud_int(res, i, 0);
    }
    PQclear(res);
    return rc;
}

/* GET .../audits/{audit_id}/followers?class=&mass=&limit=&cursor= — the
 * verdicts in snapshot order (position 0 = the newest follower). */
rr_rc_t aud_followers_list(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    int64_t account_id, audit_id;
    bool done;
    rr_rc_t rc = aud_account_param(ctx, &account_id);
    if (rc == RR_OK)
        rc = aud_audit_param(ctx, "audit_id", account_id, &audit_id, &done);
    if (rc != RR_OK)
        return rc;
    char classes[32];
    const char *cls;
    if ((rc = class_param(ctx, NULL, classes, &cls)) != RR_OK)
        return rc;
    const char *mass = aud_host->req_query(ctx, "mass");
    if (mass && strcmp(mass, "true") && strcmp(mass, "false"))
        return aud_host->problem(ctx, 422, "validation", "mass", "mass is true or false");
    rr_page_t page;
    if ((rc = aud_host->page_begin(ctx, &page)) != RR_OK)
        return rc;
    if (!done)
        return not_done(ctx, audit_id);

    /* one row more than the page tells whether another follows; the page
     * key is position + 1 (keys are positive) */
    follower_page_t pg = {.items = json_array(), .last_key = 0};
    if (!pg.items)
        return RR_ERROR;
    int got = 0;
    rc = page_chunks(ctx, audit_id, page.after_id, cls, mass, page.limit + 1, follower_rows, &pg,
                     &got);
    int64_t last = 0;
    if (rc == RR_OK && got > page.limit) {
        json_array_remove(pg.items, json_array_size(pg.items) - 1);
        last = json_integer_value(json_object_get(
                   json_array_get(pg.items, json_array_size(pg.items) - 1), "position")) +
               1;
    }
    if (rc != RR_OK) {
        json_decref(pg.items);
        return rc;
    }
    return aud_host->page_respond(ctx, &page, pg.items, last);
}

/* ------------------------------------------------------------ removal.csv */

typedef struct csv_page {
    aud_buf_t csv;
    int rows, max;
    long long last; /* position of the last row written */
} csv_page_t;

static rr_rc_t csv_rows(rr_ctx_t *ctx, const char *const params[6], int *rows, void *ud)
{
    csv_page_t *pg = ud;
    PGresult *res = aud_host->db_query(
        ctx,
        "SELECT v.position, p.external_id, p.handle, " CLASS_NAME_SQL ","
        " round(v.score::numeric, 4),"
        " (SELECT string_agg(r->>'text', '; ') FROM json_array_elements(v.reasons::json) r)"
        "  FROM (" CHUNK_ROWS ") v"
        "  LEFT JOIN realreach.profiles p"
        "    ON p.tenant_id = realreach.current_tenant() AND p.id = v.profile_id"
        " ORDER BY v.position",
        6, params);
    if (!res)
        return RR_DB_ERROR;
    *rows = PQntuples(res);
    for (int i = 0; i < *rows && pg->rows < pg->max; i++, pg->rows++) {
        aud_buf_t *b = &pg->csv;
        aud_buf_csv_field(b, PQgetisnull(res, i, 1) ? "" : PQgetvalue(res, i, 1));
        aud_buf_put(b, ",", 1);
        aud_buf_csv_field(b, PQgetisnull(res, i, 2) ? "" : PQgetvalue(res, i, 2));
        aud_buf_put(b, ",", 1);
        aud_buf_puts(b, PQgetvalue(res, i, 3));
        aud_buf_put(b, ",", 1);
        aud_buf_puts(b, PQgetvalue(res, i, 4));
        aud_buf_put(b, ",", 1);
        aud_buf_csv_field(b, PQgetisnull(res, i, 5) ? "" : PQgetvalue(res, i, 5));
        aud_buf_put(b, "\r\n", 2);
        pg->last = (long long)aud_int(res, i, 0);
    }
    PQclear(res);
    return pg->csv.oom ? RR_ERROR : RR_OK;
}

/* GET .../audits/{audit_id}/removal.csv?class=fake,suspicious&after=N —
 * external id, handle, class, score, reasons: the accounts to remove
 * (default: the fakes). At most AUD_CSV_MAX rows per answer; a Link header
 * (rel="next") names the rest. */
rr_rc_t aud_removal_csv(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    int64_t account_id, audit_id;
    bool done;
    rr_rc_t rc = aud_account_param(ctx, &account_id);
    if (rc == RR_OK)
        rc = aud_audit_param(ctx, "audit_id", account_id, &audit_id, &done);
    if (rc != RR_OK)
        return rc;
    char classes[32];
    const char *cls;
    if ((rc = class_param(ctx, "fake", classes, &cls)) != RR_OK)
        return rc;
    const char *after_q = aud_host->req_query(ctx, "after");
    long long after = -1;
    if (after_q) {
        char *end;
        after = strtoll(after_q, &end, 10);
        if (!*after_q || *end || after < 0)
            return aud_host->problem(ctx, 422, "validation", "after",
                                     "after is the position a previous page ended at");
    }
    if (!done)
        return not_done(ctx, audit_id);

    csv_page_t pg = {.max = AUD_CSV_MAX, .last = -1};
    aud_buf_puts(&pg.csv, "external_id,handle,class,score,reasons\r\n");
    int got = 0;
    rc = page_chunks(ctx, audit_id, after + 1, cls, NULL, AUD_CSV_MAX + 1, csv_rows, &pg, &got);
    if (rc == RR_OK && pg.csv.oom)
        rc = RR_ERROR;
    if (rc == RR_OK) {
        char *disposition = aud_host->sprintf(
            ctx, "attachment; filename=\"audit-%lld-removal.csv\"", (long long)audit_id);
        rc = disposition ? aud_host->header_set(ctx, "Content-Disposition", disposition) : RR_ERROR;
    }
    if (rc == RR_OK && got > AUD_CSV_MAX) {
        const char *q = aud_host->req_query(ctx, "class");
        char *link = aud_host->sprintf(
            ctx, "</v1/accounts/%lld/audits/%lld/removal.csv?class=%s&after=%lld>; rel=\"next\"",
            (long long)account_id, (long long)audit_id, q && *q ? q : "fake", pg.last);
        rc = link ? aud_host->header_set(ctx, "Link", link) : RR_ERROR;
    }
    if (rc == RR_OK)
        rc = aud_host->respond_raw(ctx, 200, "text/csv; charset=utf-8", pg.csv.s, pg.csv.len);
    aud_buf_free(&pg.csv);
    return rc;
}

/* ---------------------------------------------------------------- compare */

/* The followers of audit $n with what compare needs (only these arrays are
 * read: the reasons are not). */
#define COMPARE_SIDE(n)                                                                            \
    "SELECT u.position, u.profile_id, u.class, u.score FROM realreach.audience_verdicts c"         \
    " CROSS JOIN LATERAL unnest(c.positions, c.profile_ids, c.classes, c.scores)"                  \
    "      AS u (position, profile_id, class, score)"                                              \
    " WHERE c.tenant_id = realreach.current_tenant() AND c.audit_id = $" #n "::bigint"

/* GET .../audits/{audit_id}/compare/{other_audit_id} — what changed from
 * the first audit to the second: followers gained and lost, new fakes (new
 * followers judged fake, and followers judged fake now but not before),
 * fakes that left, the change of the fake share; with examples. One pass
 * over both audits (a hash join on the profile), then the examples'
 * profiles. */
rr_rc_t aud_audit_compare(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    int64_t account_id, from_id, to_id;
    bool from_done, to_done;
    rr_rc_t rc = aud_account_param(ctx, &account_id);
    if (rc == RR_OK)
        rc = aud_audit_param(ctx, "audit_id", account_id, &from_id, &from_done);
    if (rc == RR_OK)
        rc = aud_audit_param(ctx, "other_audit_id", account_id, &to_id, &to_done);
    if (rc != RR_OK)
        return rc;
    if (!from_done)
        return not_done(ctx, from_id);
    if (!to_done)
        return not_done(ctx, to_id);

    char acc[24], a[24], b[24];
    snprintf(acc, sizeof acc, "%lld", (long long)account_id);
    snprintf(a, sizeof a, "%lld", (long long)from_id);
    snprintf(b, sizeof b, "%lld", (long long)to_id);
    const char *two[] = {a, b};
    const char *three[] = {acc, a, b};

    /* both audits' summaries */
    PGresult *res = aud_host->db_query(ctx,
                                       "SELECT " AUD_AUDIT_COLS AUD_AUDIT_FROM
                                       " WHERE a.tenant_id = realreach.current_tenant()"
                                       "   AND a.account_id = $1::bigint"
                                       "   AND a.id IN ($2::bigint, $3::bigint)",
                                       3, three);
    if (!res)
        return RR_DB_ERROR;
    json_t *from = NULL, *to = NULL;
    for (int i = 0; i < PQntuples(res); i++) {
        int64_t id = aud_int(res, i, 0);
        if (id == from_id && !from)
            from = aud_audit_json(res, i);
        if (id == to_id && !to)
            to = aud_audit_json(res, i);
    }
    PQclear(res);

    res = aud_host->db_query(
        ctx,
        "SELECT count(*) FILTER (WHERE a.profile_id IS NULL) AS new_followers,"
        "       count(*) FILTER (WHERE b.profile_id IS NULL) AS removed,"
        "       count(*) FILTER (WHERE a.profile_id IS NULL AND b.class = 3)"
        "           AS new_fakes_new_followers,"
        "       count(*) FILTER (WHERE a.class <> 3 AND b.class = 3) AS new_fakes_reclassified,"
        "       count(*) FILTER (WHERE b.profile_id IS NULL AND a.class = 3) AS removed_fakes,"
        "       count(*) FILTER (WHERE a.class = 3 AND b.class <> 3) AS no_longer_fake,"
        "       count(*) FILTER (WHERE a.profile_id IS NOT NULL AND b.profile_id IS NOT NULL)"
        "           AS kept,"
        "       (array_agg(b.profile_id ORDER BY b.position) FILTER (WHERE b.class = 3"
        "            AND (a.profile_id IS NULL OR a.class <> 3)))[1:20] AS new_fake_ids,"
        "       (array_agg(b.score ORDER BY b.position) FILTER (WHERE b.class = 3"
        "            AND (a.profile_id IS NULL OR a.class <> 3)))[1:20] AS new_fake_scores,"
        "       (array_agg(a.profile_id ORDER BY a.position) FILTER (WHERE a.class = 3"
        "            AND b.profile_id IS NULL))[1:20] AS removed_fake_ids,"
        "       (array_agg(a.score ORDER BY a.position) FILTER (WHERE a.class = 3"
        "            AND b.profile_id IS NULL))[1:20] AS removed_fake_scores"
        "  FROM (" COMPARE_SIDE(1) ") a FULL JOIN (" COMPARE_SIDE(2) ") b USING (profile_id)",
        2, two);
    if (!res) {
        json_decref(from);
        json_decref(to);
        return RR_DB_ERROR;
    }
    json_t *changes = PQntuples(res) == 1 ? aud_host->row_json(res, 0) : NULL;
    char *ids[4] = {NULL, NULL, NULL, NULL}; /* new ids, scores; removed ids, scores */
    for (int k = 0; k < 4 && PQntuples(res) == 1; k++)
        ids[k] = aud_host->sprintf(ctx, "%s",
                                   PQgetisnull(res, 0, 7 + k) ? "{}" : PQgetvalue(res, 0, 7 + k));
    PQclear(res);
    static const char *const extra[] = {"new_fake_ids", "new_fake_scores", "removed_fake_ids",
                                        "removed_fake_scores"};
    for (int k = 0; k < 4; k++)
        json_object_del(changes, extra[k]);

    /* the examples' profiles, in the order found */
    json_t *examples[2] = {NULL, NULL};
    for (int k = 0; k < 2 && ids[2 * k] && ids[2 * k + 1]; k++) {
        const char *p[] = {ids[2 * k], ids[2 * k + 1]};
        res = aud_host->db_query(
            ctx,
            "SELECT p.external_id, p.handle, round(e.score::numeric, 4)::float8 AS score"
            "  FROM unnest($1::bigint[], $2::real[]) WITH ORDINALITY AS e (profile_id, score, ord)"
            "  LEFT JOIN realreach.profiles p"
            "    ON p.tenant_id = realreach.current_tenant() AND p.id = e.profile_id"
            " ORDER BY e.ord",
            2, p);
        if (!res)
            break;
        examples[k] = aud_host->rows_json(res);
        PQclear(res);
    }
    if (!res || !ids[0] || !ids[1] || !ids[2] || !ids[3]) {
        json_decref(from);
        json_decref(to);
        json_decref(changes);
        json_decref(examples[0]);
        json_decref(examples[1]);
        return res ? RR_ERROR : RR_DB_ERROR;
    }

    json_t *body = NULL;
    if (from && to && changes && examples[0] && examples[1]) {
        json_t *fs = json_object_get(json_object_get(from, "summary"), "fake_share");
        json_t *ts = json_object_get(json_object_get(to, "summary"), "fake_share");
        json_int_t fn =
            json_integer_value(json_object_get(json_object_get(from, "summary"), "followers"));
        json_int_t tn =
            json_integer_value(json_object_get(json_object_get(to, "summary"), "followers"));
        json_int_t nn = json_integer_value(json_object_get(changes, "new_fakes_new_followers"));
        json_int_t nr = json_integer_value(json_object_get(changes, "new_fakes_reclassified"));
        double change = json_real_value(ts) - json_real_value(fs);
        body = json_pack("{s:O, s:O, s:I, s:f, s:I, s:O, s:{s:O, s:O}}", "from", from, "to", to,
                         "followers_change", tn - fn, "fake_share_change",
                         (double)(long long)(change * 10000 + (change < 0 ? -0.5 : 0.5)) / 10000,
                         "new_fakes", nn + nr, "changes", changes, "examples", "new_fakes",
                         examples[0], "removed_fakes", examples[1]);
    }
    json_decref(from);
    json_decref(to);
    json_decref(changes);
    json_decref(examples[0]);
    json_decref(examples[1]);
    return aud_host->respond_json(ctx, 200, body);
}
