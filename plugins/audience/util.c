/*
 * audience plugin — small helpers: who may see an account, numbers out of
 * query results, follower rows as profiles, and text buffers for COPY,
 * JSON and CSV.
 */
#include "audience.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

rr_rc_t aud_account_param(rr_ctx_t *ctx, int64_t *account_id)
{
    rr_account_t acct;
    rr_rc_t rc = aud_host->account_load(ctx, "account_id", &acct);
    if (rc == RR_OK)
        *account_id = acct.id;
    return rc;
}

rr_rc_t aud_audit_param(rr_ctx_t *ctx, const char *name, int64_t account_id, int64_t *audit_id,
                        bool *done)
{
    rr_rc_t rc = aud_host->param_id(ctx, name, audit_id);
    if (rc != RR_OK)
        return rc;
    char a[24], id[24];
    snprintf(a, sizeof a, "%lld", (long long)account_id);
    snprintf(id, sizeof id, "%lld", (long long)*audit_id);
    const char *params[] = {a, id};
    PGresult *res = aud_host->db_query(ctx,
                                       "SELECT state = 'done' FROM realreach.audience_audits"
                                       " WHERE tenant_id = realreach.current_tenant()"
                                       "   AND account_id = $1::bigint AND id = $2::bigint",
                                       2, params);
    if (!res)
        return RR_DB_ERROR;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return aud_host->problem(ctx, 404, "not-found", name, "no such audit of this account");
    }
    if (done)
        *done = aud_flag(res, 0, 0) == 1;
    PQclear(res);
    return RR_OK;
}

double aud_num(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return NAN;
    char *end;
    const char *v = PQgetvalue(res, row, col);
    double d = strtod(v, &end);
    return end == v ? NAN : d;
}

int64_t aud_int(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

int aud_flag(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return -1;
    return PQgetvalue(res, row, col)[0] == 't';
}

rr_rc_t aud_snapshot_chunks(rr_ctx_t *ctx, int64_t snapshot_id, aud_chunk_t **chunks, size_t *n)
{
    char snap[24];
    snprintf(snap, sizeof snap, "%lld", (long long)snapshot_id);
    const char *params[] = {snap};
    *chunks = NULL;
    *n = 0;
    PGresult *res = aud_host->db_query(ctx,
                                       "SELECT part, chunk FROM realreach.snapshot_chunks"
                                       " WHERE tenant_id = realreach.current_tenant()"
                                       "   AND snapshot_id = $1::bigint"
                                       " ORDER BY first_position DESC",
                                       1, params);
    if (!res)
        return RR_DB_ERROR;
    int rows = PQntuples(res);
    aud_chunk_t *c = malloc((size_t)(rows > 0 ? rows : 1) * sizeof *c);
    if (!c) {
        PQclear(res);
        return RR_ERROR;
    }
    for (int i = 0; i < rows; i++) {
        c[i].part = (int)aud_int(res, i, 0);
        c[i].chunk = (int)aud_int(res, i, 1);
    }
    PQclear(res);
    *chunks = c;
    *n = (size_t)rows;
    return RR_OK;
}

PGresult *aud_chunk_read(rr_ctx_t *ctx, int64_t snapshot_id, const aud_chunk_t *chunk)
{
    char snap[24], part[16], no[16];
    snprintf(snap, sizeof snap, "%lld", (long long)snapshot_id);
    snprintf(part, sizeof part, "%d", chunk->part);
    snprintf(no, sizeof no, "%d", chunk->chunk);
    const char *params[] = {snap, part, no};
    return aud_host->db_query(
        ctx, "SELECT " AUD_FOLLOWER_COLS AUD_CHUNK_FROM " ORDER BY sf.position DESC", 3, params);
}

/* A whole number in PostgreSQL's text form as a double (NAN when NULL);
 * the hot path of reading a million followers: no strtod. */
static double whole(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return NAN;
    const char *s = PQgetvalue(res, row, col);
    bool neg = *s == '-';
    s += neg;
    int64_t v = 0;
    int digits = 0;
    for (; *s >= '0' && *s <= '9' && digits < 18; s++, digits++)
        v = v * 10 + (*s - '0');
    if (*s || digits == 0) /* not a plain integer: the slow, general way */
        return aud_num(res, row, col);
    return neg ? -(double)v : (double)v;
}

static const char *presence(const PGresult *res, int row, int col)
{
    int f = aud_flag(res, row, col);
    return f < 0 ? NULL : f ? "x" : "";
}

void aud_profile_from_row(const PGresult *res, int row, double observed_at, aud_profile_t *p)
{
    aud_profile_init(p);
    p->handle = PQgetisnull(res, row, AUD_COL_HANDLE) ? NULL : PQgetvalue(res, row, AUD_COL_HANDLE);
    p->name = presence(res, row, AUD_COL_HAS_NAME);
    p->bio = presence(res, row, AUD_COL_HAS_BIO);
    p->url = presence(res, row, AUD_COL_HAS_URL);
    p->location = presence(res, row, AUD_COL_HAS_LOCATION);
    p->followers = whole(res, row, AUD_COL_FOLLOWERS);
    p->following = whole(res, row, AUD_COL_FOLLOWING);
    p->posts = whole(res, row, AUD_COL_POSTS);
    p->likes = whole(res, row, AUD_COL_LIKES);
    p->listed = whole(res, row, AUD_COL_LISTED);
    p->created_at = whole(res, row, AUD_COL_CREATED);
    p->last_post_at = whole(res, row, AUD_COL_LAST_POST);
    p->default_avatar = aud_flag(res, row, AUD_COL_DEFAULT_AVATAR);
    p->verified = aud_flag(res, row, AUD_COL_VERIFIED);
    p->observed_at = observed_at;
}

/* ---------------------------------------------------------------- buffers */

static bool grow(aud_buf_t *b, size_t need)
{
    if (b->oom)
        return false;
    if (b->len + need + 1 <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + need + 1)
        cap *= 2;
    char *s = realloc(b->s, cap);
    if (!s) {
        b->oom = true;
        return false;
    }
    b->s = s;
    b->cap = cap;
    return true;
}

void aud_buf_put(aud_buf_t *b, const char *s, size_t n)
{
    if (!grow(b, n))
        return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void aud_buf_puts(aud_buf_t *b, const char *s)
{
    aud_buf_put(b, s, strlen(s));
}

void aud_buf_printf(aud_buf_t *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        aud_buf_put(b, small, (size_t)n);
        return;
    }
    if (!grow(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void aud_buf_free(aud_buf_t *b)
{
    free(b->s);
    memset(b, 0, sizeof *b);
}

void aud_buf_json_str(aud_buf_t *b, const char *s)
{
    const unsigned char *run = (const unsigned char *)s, *p = run;
    for (; *p; p++) {
        if (*p != '"' && *p != '\\' && *p >= 0x20)
            continue;
        aud_buf_put(b, (const char *)run, (size_t)(p - run));
        if (*p < 0x20) {
            aud_buf_printf(b, "\\u%04x", *p);
        } else {
            char esc[2] = {'\\', (char)*p};
            aud_buf_put(b, esc, 2);
        }
        run = p + 1;
    }
    aud_buf_put(b, (const char *)run, (size_t)(p - run));
}

void aud_buf_i64(aud_buf_t *b, int64_t v)
{
    char tmp[24];
    int n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        tmp[sizeof tmp - 1 - n++] = '-';
    aud_buf_put(b, tmp + sizeof tmp - n, (size_t)n);
}

void aud_buf_fixed4(aud_buf_t *b, double v)
{
    if (!(v >= 0))
        v = 0;
    int64_t q = (int64_t)(v * 10000 + 0.5);
    char frac[5] = {(char)('0' + q / 1000 % 10), (char)('0' + q / 100 % 10),
                    (char)('0' + q / 10 % 10), (char)('0' + q % 10), 0};
    aud_buf_i64(b, q / 10000);
    aud_buf_put(b, ".", 1);
    aud_buf_put(b, frac, 4);
}

void aud_buf_csv_field(aud_buf_t *b, const char *s)
{
    aud_buf_put(b, "\"", 1);
    if (s && (*s == '=' || *s == '+' || *s == '-' || *s == '@' || *s == '\t' || *s == '\r'))
        aud_buf_put(b, "'", 1);
    for (const char *p = s ? s : ""; *p; p++) {
        if (*p == '"')
            aud_buf_put(b, "\"\"", 2);
        else
            aud_buf_put(b, p, 1);
    }
    aud_buf_put(b, "\"", 1);
}

void aud_reasons_json(aud_buf_t *b, const aud_verdict_t *v)
{
    if (v->nreasons == 0) {
        aud_buf_put(b, "[]", 2);
        return;
    }
    aud_buf_put(b, "[", 1);
    for (int i = 0; i < v->nreasons; i++) {
        aud_buf_puts(b, i ? ",{\"code\":\"" : "{\"code\":\"");
        aud_buf_puts(b, aud_reason_names[v->reasons[i].code]);
        aud_buf_puts(b, "\",\"text\":\"");
        aud_buf_json_str(b, v->reasons[i].text);
        aud_buf_puts(b, "\"}");
    }
    aud_buf_put(b, "]", 1);
}

const char *aud_band(double fake_share, const char **range)
{
    static const struct {
        double below;
        const char *name, *range;
    } bands[] = {
        {0.10, "normal", "0-10%"},    {0.20, "elevated", "10-20%"},     {0.50, "caution", "20-50%"},
        {0.70, "red_flag", "50-70%"}, {2.00, "mostly_fake", "70-100%"},
    };
    size_t i = 0;
    while (i + 1 < sizeof bands / sizeof *bands && !(fake_share < bands[i].below))
        i++;
    if (range)
        *range = bands[i].range;
    return bands[i].name;
}
