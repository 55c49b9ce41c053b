/*
 * audience plugin — burst detection against the database: the ingest hooks
 * ("followers.stored", "metrics.stored") and the audit job call
 * aud_detect(); GET /v1/accounts/{account_id}/anomalies lists what it found.
 *
 * With a count series (account_metrics), each abnormal jump
 * (aud_bursts_detect) gets a cohort check: the followers who arrived in
 * the jump window are found in the first complete snapshot observed after
 * it — by the follow date where the source gives one, else by follow order
 * (position 0 is the newest: the window's arrivals sit between the counts
 * at its end and at its start, counted back from the snapshot's size), and
 * without the members of a snapshot taken before the window when there is
 * one — then scored one by one (sampled evenly above AUD_COHORT_MAX) and
 * compared with the snapshot's other followers. Without a series, the
 * snapshot's follow order against account creation times is searched for
 * bands of fakes (aud_order_*).
 *
 * Verdicts: likely_purchase (newcomers mostly fake and far above the rest:
 * bought, or an attack — anyone can buy followers for someone else),
 * likely_organic (newcomers about as genuine as the rest: a giveaway, a
 * shout-out, ads), unclear (no snapshot after the jump, too few newcomers,
 * or in between). Each anomaly carries its evidence in words.
 */
#include "audience.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SERIES 5000 /* points read; the detector looks at three years */
#define MAX_BURSTS 32
#define BASELINE_SAMPLE 5000

typedef struct anomaly {
    const char *source;
    double start, end;
    double gained, expected, excess, z; /* z: NAN when none */
    int64_t snapshot_id;                /* 0: none */
    int64_t newcomers, scored, fakes;   /* -1: not checked */
    const char *verdict;
    json_t *evidence; /* array of strings, owned */
} anomaly_t;

static void say(json_t *evidence, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(json_t *evidence, const char *fmt, ...)
{
    char text[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    json_array_append_new(evidence, json_string(text));
}

static const char *day_of(char buf[32], double t)
{
    time_t s = (time_t)t;
    struct tm tm;
    if (isnan(t) || !gmtime_r(&s, &tm)) {
        snprintf(buf, 32, "?");
        return buf;
    }
    strftime(buf, 32, "%Y-%m-%d", &tm);
    return buf;
}

static rr_rc_t store(rr_ctx_t *ctx, int64_t account_id, const anomaly_t *a)
{
    char acc[24], start[40], end[40], gained[32], expected[32], excess[32], z[32], snap[24],
        newcomers[24], scored[24], fakes[24], share[32];
    snprintf(acc, sizeof acc, "%lld", (long long)account_id);
    snprintf(start, sizeof start, "%.6f", a->start);
    snprintf(end, sizeof end, "%.6f", a->end);
    snprintf(gained, sizeof gained, "%.0f", a->gained);
    snprintf(expected, sizeof expected, "%.0f", a->expected);
    snprintf(excess, sizeof excess, "%.0f", a->excess);
    snprintf(z, sizeof z, "%.2f", a->z);
    snprintf(snap, sizeof snap, "%lld", (long long)a->snapshot_id);
    snprintf(newcomers, sizeof newcomers, "%lld", (long long)a->newcomers);
    snprintf(scored, sizeof scored, "%lld", (long long)a->scored);
    snprintf(fakes, sizeof fakes, "%lld", (long long)a->fakes);
    bool checked = a->scored > 0;
    snprintf(share, sizeof share, "%.4f", checked ? (double)a->fakes / (double)a->scored : 0.0);
    char *evidence = json_dumps(a->evidence, JSON_COMPACT);
    if (!evidence)
        return RR_ERROR;
    const char *params[] = {acc,
                            a->source,
                            start,
                            end,
                            gained,
                            expected,
                            excess,
                            isnan(a->z) ? NULL : z,
                            a->snapshot_id ? snap : NULL,
                            a->newcomers >= 0 ? newcomers : NULL,
                            checked ? scored : NULL,
                            checked ? fakes : NULL,
                            checked ? share : NULL,
                            a->verdict,
                            evidence,
                            aud_model.version};
    /* A later run that could not check the cohort keeps an earlier check. */
    PGresult *res = aud_host->db_query(
        ctx,
        "INSERT INTO realreach.audience_anomalies AS o"
        " (tenant_id, account_id, source, window_start, window_end, gained, expected, excess, z,"
        "  snapshot_id, newcomers, newcomers_scored, newcomers_fake, fake_share, verdict,"
        "  evidence, model_version)"
        " VALUES (realreach.current_tenant(), $1::bigint, $2::text, to_timestamp($3::float8),"
        "  to_timestamp($4::float8), $5::bigint, $6::bigint, $7::bigint, $8::float8,"
        "  $9::bigint, $10::bigint, $11::bigint, $12::bigint, $13::real, $14::text,"
        "  $15::jsonb, $16::text)"
        " ON CONFLICT (tenant_id, account_id, source, window_start) DO UPDATE SET"
        "  window_end = EXCLUDED.window_end, gained = EXCLUDED.gained,"
        "  expected = EXCLUDED.expected, excess = EXCLUDED.excess, z = EXCLUDED.z,"
        "  snapshot_id = CASE WHEN EXCLUDED.newcomers_scored IS NULL AND o.newcomers_scored IS NOT "
        "NULL"
        "                THEN o.snapshot_id ELSE EXCLUDED.snapshot_id END,"
        "  newcomers = CASE WHEN EXCLUDED.newcomers_scored IS NULL AND o.newcomers_scored IS NOT "
        "NULL"
        "              THEN o.newcomers ELSE EXCLUDED.newcomers END,"
        "  newcomers_fake = CASE WHEN EXCLUDED.newcomers_scored IS NULL AND o.newcomers_scored IS "
        "NOT NULL"
        "                   THEN o.newcomers_fake ELSE EXCLUDED.newcomers_fake END,"
        "  fake_share = CASE WHEN EXCLUDED.newcomers_scored IS NULL AND o.newcomers_scored IS NOT "
        "NULL"
        "               THEN o.fake_share ELSE EXCLUDED.fake_share END,"
        "  verdict = CASE WHEN EXCLUDED.newcomers_scored IS NULL AND o.newcomers_scored IS NOT NULL"
        "            THEN o.verdict ELSE EXCLUDED.verdict END,"
        "  evidence = CASE WHEN EXCLUDED.newcomers_scored IS NULL AND o.newcomers_scored IS NOT "
        "NULL"
        "             THEN o.evidence ELSE EXCLUDED.evidence END,"
        "  model_version = CASE WHEN EXCLUDED.newcomers_scored IS NULL AND o.newcomers_scored IS "
        "NOT NULL"
        "                  THEN o.model_version ELSE EXCLUDED.model_version END,"
        "  newcomers_scored = COALESCE(EXCLUDED.newcomers_scored, o.newcomers_scored),"
        "  updated_at = now()"
        " WHERE o.tenant_id = realreach.current_tenant()"
        " RETURNING id",
        16, params);
    free(evidence);
    if (!res)
        return RR_DB_ERROR;
    PQclear(res);
    return RR_OK;
}

/* ------------------------------------------------------ the cohort check */

typedef struct snapshot {
    int64_t id;
    double observed_at;
    int64_t size;
} snapshot_t;

/* The first complete snapshot observed at or after t (after = true), or the
 * last one observed at or before t. found: false when there is none. */
static rr_rc_t find_snapshot(rr_ctx_t *ctx, int64_t account_id, double t, bool after, snapshot_t *s,
                             bool *found)
{
    char acc[24], at[40];
    snprintf(acc, sizeof acc, "%lld", (long long)account_id);
    snprintf(at, sizeof at, "%.6f", t);
    const char *params[] = {acc, at};
    PGresult *res = aud_host->db_query(
        ctx,
        after ? "SELECT id, extract(epoch FROM observed_at)::float8, followers"
                "  FROM realreach.follower_snapshots"
                " WHERE tenant_id = realreach.current_tenant() AND account_id = $1::bigint"
                "   AND state = 'complete' AND observed_at >= to_timestamp($2::float8)"
                " ORDER BY observed_at, id LIMIT 1"
              : "SELECT id, extract(epoch FROM observed_at)::float8, followers"
                "  FROM realreach.follower_snapshots"
                " WHERE tenant_id = realreach.current_tenant() AND account_id = $1::bigint"
                "   AND state = 'complete' AND observed_at <= to_timestamp($2::float8)"
                " ORDER BY observed_at DESC, id DESC LIMIT 1",
        2, params);
    if (!res)
        return RR_DB_ERROR;
    *found = PQntuples(res) == 1;
    if (*found) {
        s->id = aud_int(res, 0, 0);
        s->observed_at = aud_num(res, 0, 1);
        s->size = aud_int(res, 0, 2);
    }
    PQclear(res);
    return RR_OK;
}

/* The series' count at t (linear between points; the nearest end outside). */
static double count_at(const aud_point_t *pts, size_t n, double t)
{
    if (n == 0)
        return NAN;
    if (t <= pts[0].t)
        return pts[0].followers;
    for (size_t i = 1; i < n; i++)
        if (t <= pts[i].t) {
            double span = pts[i].t - pts[i - 1].t;
            double f = span > 0 ? (t - pts[i - 1].t) / span : 1;
            return pts[i - 1].followers + f * (pts[i].followers - pts[i - 1].followers);
        }
    return pts[n - 1].followers;
}

/* The cohort's condition on sf (snapshot_followers of snapshot $1): either
 * the follow date in [$2, $3], or the position in [$4, $5); and not in the
 * earlier snapshot $6 (when not NULL). */
#define COHORT_WHERE                                                                               \
    " sf.tenant_id = realreach.current_tenant() AND sf.snapshot_id = $1::bigint"                   \
    " AND CASE WHEN $2::float8 IS NOT NULL"                                                        \
    "          THEN sf.followed_at BETWEEN to_timestamp($2::float8) AND to_timestamp($3::float8)"  \
    "          ELSE sf.position >= $4::bigint AND sf.position < $5::bigint END"                    \
    " AND ($6::bigint IS NULL OR NOT EXISTS (SELECT 1 FROM realreach.snapshot_followers o"         \
    "      WHERE o.tenant_id = realreach.current_tenant() AND o.snapshot_id = $6::bigint"          \
    "        AND o.profile_id = sf.profile_id))"

/* Scores the rows of res (AUD_FOLLOWER_COLS); adds to *n and *fakes. */
static void score_rows(const PGresult *res, double observed_at, int64_t *n, int64_t *fakes)
{
    for (int i = 0; i < PQntuples(res); i++) {
        aud_profile_t p;
        aud_profile_from_row(res, i, observed_at, &p);
        *n += 1;
        *fakes += aud_classify(&aud_model, &p, NULL, NULL) == AUD_FAKE;
    }
}

static rr_rc_t check_cohort(rr_ctx_t *ctx, int64_t account_id, const aud_point_t *pts, size_t npts,
                            const aud_burst_t *b, anomaly_t *a)
{
    char x[32], y[32];
    snapshot_t s, prev;
    bool found, has_prev;
    rr_rc_t rc = find_snapshot(ctx, account_id, b->end, true, &s, &found);
    if (rc != RR_OK)
        return rc;
    if (!found) {
        say(a->evidence, "no complete follower snapshot after the jump yet: the newcomers "
                         "could not be checked (the check runs when one is stored)");
        return RR_OK;
    }
    if ((rc = find_snapshot(ctx, account_id, b->start, false, &prev, &has_prev)) != RR_OK)
        return rc;
    a->snapshot_id = s.id;

    char snap[24], f_from[40], f_to[40], lo_s[24], hi_s[24], prev_s[24];
    snprintf(snap, sizeof snap, "%lld", (long long)s.id);
    snprintf(prev_s, sizeof prev_s, "%lld", (long long)prev.id);
    /* does this snapshot say when each follow happened? */
    const char *p1[] = {snap};
    PGresult *res = aud_host->db_query(ctx,
                                       "SELECT count(followed_at) FROM realreach.snapshot_followers"
                                       " WHERE tenant_id = realreach.current_tenant()"
                                       "   AND snapshot_id = $1::bigint",
                                       1, p1);
    if (!res)
        return RR_DB_ERROR;
    bool by_date = aud_int(res, 0, 0) > 0;
    PQclear(res);

    int64_t lo = 0, hi = 0;
    snprintf(f_from, sizeof f_from, "%.6f", b->start);
    snprintf(f_to, sizeof f_to, "%.6f", b->end);
    if (!by_date) {
        /* count back from the snapshot: arrivals after the window's end
         * sit above it, the window's own below them */
        double at_s =
            s.observed_at <= pts[npts - 1].t ? count_at(pts, npts, s.observed_at) : (double)s.size;
        double top = at_s - b->followers_after, bottom = at_s - b->followers_before;
        lo = top < 0 ? 0 : (int64_t)llround(top);
        hi = bottom < 0 ? 0 : (int64_t)llround(bottom);
        if (hi > s.size)
            hi = s.size;
        if (lo > hi)
            lo = hi;
    }
    snprintf(lo_s, sizeof lo_s, "%lld", (long long)lo);
    snprintf(hi_s, sizeof hi_s, "%lld", (long long)hi);
    const char *cp[] = {snap, by_date ? f_from : NULL, f_to, lo_s, hi_s, has_prev ? prev_s : NULL};

    res = aud_host->db_query(
        ctx, "SELECT count(*) FROM realreach.snapshot_followers sf WHERE" COHORT_WHERE, 6, cp);
    if (!res)
        return RR_DB_ERROR;
    a->newcomers = aud_int(res, 0, 0);
    PQclear(res);

    char stride[24], limit[16];
    snprintf(stride, sizeof stride, "%lld",
             (long long)(a->newcomers > AUD_COHORT_MAX
                             ? (a->newcomers + AUD_COHORT_MAX - 1) / AUD_COHORT_MAX
                             : 1));
    snprintf(limit, sizeof limit, "%d", AUD_COHORT_MAX);
    const char *sp[] = {snap, by_date ? f_from : NULL,  f_to,   lo_s,
                        hi_s, has_prev ? prev_s : NULL, stride, limit};
    res = aud_host->db_query(ctx,
                             "SELECT " AUD_FOLLOWER_COLS AUD_FOLLOWER_JOIN " WHERE" COHORT_WHERE
                             " AND sf.position % $7::bigint = 0 LIMIT $8::int",
                             8, sp);
    if (!res)
        return RR_DB_ERROR;
    int64_t scored = 0, fakes = 0;
    score_rows(res, s.observed_at, &scored, &fakes);
    PQclear(res);
    a->scored = scored;
    a->fakes = fakes;

    /* the rest of the snapshot, sampled, as the baseline */
    int64_t rest = s.size - a->newcomers;
    snprintf(
        stride, sizeof stride, "%lld",
        (long long)(rest > BASELINE_SAMPLE ? (rest + BASELINE_SAMPLE - 1) / BASELINE_SAMPLE : 1));
    snprintf(limit, sizeof limit, "%d", BASELINE_SAMPLE);
    res = aud_host->db_query(ctx,
                             "SELECT " AUD_FOLLOWER_COLS AUD_FOLLOWER_JOIN
                             " WHERE sf.tenant_id = realreach.current_tenant()"
                             "   AND sf.snapshot_id = $1::bigint AND NOT (" COHORT_WHERE ")"
                             "   AND sf.position % $7::bigint = 0 LIMIT $8::int",
                             8, sp);
    if (!res)
        return RR_DB_ERROR;
    int64_t base_n = 0, base_fakes = 0;
    score_rows(res, s.observed_at, &base_n, &base_fakes);
    PQclear(res);

    double share = scored ? (double)fakes / (double)scored : 0;
    double base = base_n ? (double)base_fakes / (double)base_n : 0;
    if (by_date)
        say(a->evidence, "newcomers found by follow date in snapshot %lld (observed %s): %lld",
            (long long)s.id, day_of(x, s.observed_at), (long long)a->newcomers);
    else
        say(a->evidence,
            "newcomers found by follow order in snapshot %lld (observed %s): positions %lld-%lld%s",
            (long long)s.id, day_of(x, s.observed_at), (long long)lo,
            (long long)(hi > 0 ? hi - 1 : 0),
            has_prev ? ", without the members of the snapshot before the jump" : "");
    if (scored == 0) {
        say(a->evidence, "no newcomers could be found in the snapshot");
        a->verdict = "unclear";
        return RR_OK;
    }
    say(a->evidence, "%.0f%% of %s newcomers scored fake, against %.0f%% of %s other followers",
        share * 100, aud_fmt_count(x, sizeof x, (double)scored), base * 100,
        aud_fmt_count(y, sizeof y, (double)base_n));
    if (scored < 20)
        a->verdict = "unclear";
    else if (share >= 0.5 && share >= base + 0.25)
        a->verdict = "likely_purchase";
    else if (share < 0.25 || share <= base + 0.1)
        a->verdict = "likely_organic";
    else
        a->verdict = "unclear";
    if (!strcmp(a->verdict, "likely_purchase"))
        say(a->evidence, "mostly fake newcomers: bought followers (or an attack: anyone can buy "
                         "followers for someone else's account)");
    else if (!strcmp(a->verdict, "likely_organic"))
        say(a->evidence, "the newcomers look like the rest of the audience: an organic cause "
                         "(giveaway, shout-out, ads) is likely");
    return RR_OK;
}

/* ----------------------------------------------------------- follow order */

/* Reads the snapshot's followers oldest first and classifies them. */
static rr_rc_t scan_order(rr_ctx_t *ctx, int64_t snapshot_id, double observed_at, aud_order_t *o)
{
    aud_chunk_t *chunks;
    size_t nchunks;
    rr_rc_t rc = aud_snapshot_chunks(ctx, snapshot_id, &chunks, &nchunks);
    for (size_t k = 0; rc == RR_OK && k < nchunks; k++) {
        PGresult *res = aud_chunk_read(ctx, snapshot_id, &chunks[k]);
        if (!res) {
            rc = RR_DB_ERROR;
            break;
        }
        for (int i = 0; i < PQntuples(res); i++) {
            aud_profile_t p;
            aud_profile_from_row(res, i, observed_at, &p);
            aud_order_add(o, aud_int(res, i, AUD_COL_POSITION), p.created_at,
                          aud_classify(&aud_model, &p, NULL, NULL) == AUD_FAKE);
        }
        PQclear(res);
    }
    free(chunks);
    return rc;
}

static rr_rc_t store_order(rr_ctx_t *ctx, int64_t account_id, const snapshot_t *s,
                           const aud_order_t *o, int *found)
{
    char x[32], y[32], z[32];
    for (int i = 0; i < o->nsegs; i++) {
        const aud_order_segment_t *g = &o->segs[i];
        double when = !isnan(g->newest_not_before) ? g->newest_not_before : g->not_before;
        if (isnan(when))
            continue; /* no creation dates: nothing dates the band */
        anomaly_t a = {.source = "follow_order",
                       .start = when,
                       .end = s->observed_at,
                       .gained = (double)g->size,
                       .expected = 0,
                       .excess = (double)g->size,
                       .z = NAN,
                       .snapshot_id = s->id,
                       .newcomers = g->size,
                       .scored = g->size,
                       .fakes = g->fakes,
                       .evidence = json_array()};
        if (!a.evidence)
            return RR_ERROR;
        double share = g->size ? (double)g->fakes / (double)g->size : 0;
        bool packed = !isnan(g->created_iqr_days) && !isnan(g->baseline_iqr_days) &&
                      g->created_iqr_days * 2 < g->baseline_iqr_days;
        a.verdict = share >= 0.7 || packed ? "likely_purchase" : "unclear";
        say(a.evidence, "no follower count series: found in the follow order of snapshot %lld",
            (long long)s->id);
        say(a.evidence,
            "%s followers at positions %lld-%lld: %.0f%% scored fake, against %.0f%% "
            "in the list's typical stretch",
            aud_fmt_count(x, sizeof x, (double)g->size), (long long)g->last_pos,
            (long long)g->first_pos, share * 100, g->baseline_fake_share * 100);
        say(a.evidence, "they followed after %s (the newest account creation before them)",
            day_of(y, when));
        if (!isnan(g->created_iqr_days)) {
            char spread[32];
            if (g->created_iqr_days < 1)
                snprintf(spread, sizeof spread, "the same day");
            else
                aud_fmt_days(spread, sizeof spread, g->created_iqr_days);
            say(a.evidence,
                "their accounts were created around %s, the middle half of them "
                "within %s (in the list's typical stretch: %.0f days)",
                day_of(z, g->created_median), spread, g->baseline_iqr_days);
        }
        rr_rc_t rc = store(ctx, account_id, &a);
        json_decref(a.evidence);
        if (rc != RR_OK)
            return rc;
        (*found)++;
    }
    return RR_OK;
}

/* ------------------------------------------------------------- detection */

rr_rc_t aud_detect(rr_ctx_t *ctx, int64_t account_id, int64_t snapshot_id, aud_order_t *order,
                   int *found)
{
    *found = 0;
    char acc[24], max[16];
    snprintf(acc, sizeof acc, "%lld", (long long)account_id);
    snprintf(max, sizeof max, "%d", MAX_SERIES);
    const char *params[] = {acc, max};
    PGresult *res = aud_host->db_query(
        ctx,
        "SELECT extract(epoch FROM observed_at)::float8, followers"
        "  FROM realreach.account_metrics"
        " WHERE tenant_id = realreach.current_tenant() AND account_id = $1::bigint"
        "   AND followers IS NOT NULL"
        " ORDER BY observed_at DESC LIMIT $2::int",
        2, params);
    if (!res)
        return RR_DB_ERROR;
    int n = PQntuples(res);
    aud_point_t *pts = malloc((size_t)(n > 0 ? n : 1) * sizeof *pts);
    if (!pts) {
        PQclear(res);
        return RR_ERROR;
    }
    for (int i = 0; i < n; i++) /* oldest first */
        pts[n - 1 - i] = (aud_point_t){aud_num(res, i, 0), aud_num(res, i, 1)};
    PQclear(res);

    aud_burst_t bursts[MAX_BURSTS];
    int nb = aud_bursts_detect(pts, (size_t)n, bursts, MAX_BURSTS);
    rr_rc_t rc = RR_OK;
    if (nb >= 0) {
        /* follow-order findings stand in for a missing series only: the
         * series and its cohort checks replace them */
        const char *dp[] = {acc};
        res = aud_host->db_query(ctx,
                                 "DELETE FROM realreach.audience_anomalies"
                                 " WHERE tenant_id = realreach.current_tenant()"
                                 "   AND account_id = $1::bigint AND source = 'follow_order'"
                                 " RETURNING id",
                                 1, dp);
        if (!res) {
            free(pts);
            return RR_DB_ERROR;
        }
        PQclear(res);
        for (int i = 0; i < nb && i < MAX_BURSTS && rc == RR_OK; i++) {
            const aud_burst_t *b = &bursts[i];
            char x[32], y[32], w[32], v[32];
            anomaly_t a = {.source = "series",
                           .start = b->start,
                           .end = b->end,
                           .gained = b->gained,
                           .expected = b->expected,
                           .excess = b->excess,
                           .z = b->z,
                           .newcomers = -1,
                           .scored = -1,
                           .fakes = -1,
                           .verdict = "unclear",
                           .evidence = json_array()};
            if (!a.evidence) {
                rc = RR_ERROR;
                break;
            }
            say(a.evidence,
                "gained %s followers between %s and %s where about %s were expected "
                "(robust z = %.1f)",
                aud_fmt_count(x, sizeof x, b->gained), day_of(y, b->start), day_of(w, b->end),
                aud_fmt_count(v, sizeof v, b->expected), b->z);
            double per_day = b->excess / (b->days > 0 ? b->days : 1);
            if (per_day > 5000)
                say(a.evidence,
                    "%s more a day than expected: beyond the ~5,000 a day that "
                    "giveaways, shout-outs and ads rarely exceed",
                    aud_fmt_count(x, sizeof x, per_day));
            double r = round(b->excess / 1000) * 1000;
            if (r >= 1000 && fabs(b->excess - r) <= 0.03 * r)
                say(a.evidence, "a round-number jump (about %s): the sizes followers are sold in",
                    aud_fmt_count(x, sizeof x, r));
            rc = check_cohort(ctx, account_id, pts, (size_t)n, b, &a);
            if (rc == RR_OK)
                rc = store(ctx, account_id, &a);
            json_decref(a.evidence);
            if (rc == RR_OK)
                (*found)++;
        }
        free(pts);
        return rc;
    }
    free(pts);

    /* no usable series: the follow order of the snapshot */
    snapshot_t s;
    const char *sp[] = {acc, NULL};
    char snap[24];
    if (snapshot_id) {
        snprintf(snap, sizeof snap, "%lld", (long long)snapshot_id);
        sp[1] = snap;
    }
    res = aud_host->db_query(ctx,
                             "SELECT id, extract(epoch FROM observed_at)::float8, followers"
                             "  FROM realreach.follower_snapshots"
                             " WHERE tenant_id = realreach.current_tenant()"
                             "   AND account_id = $1::bigint AND state = 'complete'"
                             "   AND ($2::bigint IS NULL OR id = $2::bigint)"
                             " ORDER BY observed_at DESC, id DESC LIMIT 1",
                             2, sp);
    if (!res)
        return RR_DB_ERROR;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return RR_OK; /* nothing to look at yet */
    }
    s.id = aud_int(res, 0, 0);
    s.observed_at = aud_num(res, 0, 1);
    s.size = aud_int(res, 0, 2);
    PQclear(res);
    if (order)
        return store_order(ctx, account_id, &s, order, found);
    aud_order_t *o = malloc(sizeof *o);
    if (!o)
        return RR_ERROR;
    aud_order_init(o);
    rc = scan_order(ctx, s.id, s.observed_at, o);
    if (rc == RR_OK && aud_order_finish(o) < 0)
        rc = RR_ERROR;
    if (rc == RR_OK)
        rc = store_order(ctx, account_id, &s, o, found);
    aud_order_free(o);
    free(o);
    return rc;
}

/* ------------------------------------------------------------------ hooks */

/* "followers.stored" / "metrics.stored", payload {"account_id": n,
 * "snapshot_id": n?}: finds new bursts without anyone asking. A payload
 * this plugin cannot read is logged and skipped (retrying would not fix it). */
rr_rc_t aud_ingest_hook(rr_ctx_t *ctx, const char *event, json_t *payload, void *ud)
{
    (void)ud;
    json_t *acc = json_object_get(payload, "account_id");
    json_t *snap = json_object_get(payload, "snapshot_id");
    if (!json_is_integer(acc) || json_integer_value(acc) <= 0 ||
        (snap && !json_is_null(snap) &&
         (!json_is_integer(snap) || json_integer_value(snap) <= 0))) {
        aud_host->log(ctx, RR_LOG_WARN, "audience: %s payload without a usable account_id", event);
        return RR_OK;
    }
    int64_t account_id = json_integer_value(acc);
    int64_t snapshot_id = json_is_integer(snap) ? json_integer_value(snap) : 0;
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)account_id);
    const char *params[] = {id};
    PGresult *res = aud_host->db_query(ctx,
                                       "SELECT 1 FROM realreach.accounts"
                                       " WHERE tenant_id = realreach.current_tenant()"
                                       "   AND id = $1::bigint",
                                       1, params);
    if (!res)
        return RR_DB_ERROR;
    int exists = PQntuples(res);
    PQclear(res);
    if (!exists)
        return RR_OK; /* deleted since: nothing to watch */
    int found = 0;
    rr_rc_t rc = aud_detect(ctx, account_id, snapshot_id, NULL, &found);
    if (rc == RR_OK && found)
        aud_host->log(ctx, RR_LOG_INFO, "audience: %s for account %lld: %d anomalies", event,
                      (long long)account_id, found);
    return rc;
}

/* ------------------------------------------------------------------ route */

/* GET /v1/accounts/{account_id}/anomalies?limit=&cursor= */
rr_rc_t aud_anomalies_list(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    int64_t account_id;
    rr_rc_t rc = aud_account_param(ctx, &account_id);
    if (rc != RR_OK)
        return rc;
    rr_page_t page;
    if ((rc = aud_host->page_begin(ctx, &page)) != RR_OK)
        return rc;
    char acc[24], after[24], limit[16];
    snprintf(acc, sizeof acc, "%lld", (long long)account_id);
    snprintf(after, sizeof after, "%lld", (long long)page.after_id);
    snprintf(limit, sizeof limit, "%d", page.limit + 1);
    const char *params[] = {acc, after, limit};
    PGresult *res = aud_host->db_query(
        ctx,
        "SELECT id, account_id, source, realreach.iso(window_start) AS window_start,"
        " realreach.iso(window_end) AS window_end, gained, expected, excess,"
        " round(z::numeric, 2)::float8 AS z, snapshot_id, newcomers, newcomers_scored,"
        " newcomers_fake, round(fake_share::numeric, 4)::float8 AS fake_share, verdict,"
        " evidence, model_version, realreach.iso(detected_at) AS detected_at,"
        " realreach.iso(updated_at) AS updated_at"
        "  FROM realreach.audience_anomalies"
        " WHERE tenant_id = realreach.current_tenant() AND account_id = $1::bigint"
        "   AND id > $2::bigint"
        " ORDER BY id LIMIT $3::int",
        3, params);
    if (!res)
        return RR_DB_ERROR;
    return aud_host->page_respond_rows(ctx, &page, res);
}
