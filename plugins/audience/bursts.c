/*
 * audience plugin — burst detection, the pure part (no database):
 *
 * 1. Count series (aud_bursts_detect): daily follower deltas, the weekly
 *    pattern removed (per-weekday medians, as the seasonal part of
 *    Seasonal-Hybrid ESD), a rolling-median trend removed, then a robust
 *    outlier test on the residuals (median/MAD modified z-score >= 3.5,
 *    Iglewicz & Hoaglin). Consecutive abnormal days form one window.
 * 2. Follow order (aud_order_*): where no series exists, the running
 *    maximum of creation times along follow order bounds when each follow
 *    happened (NYT "Follower Factory"); runs of followers whose share of
 *    model fakes stands far above the list's own are dated by that bound.
 */
#include "scoring.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DAY 86400.0
#define MAX_DAYS 1100        /* the series' last three years are enough */
#define TREND_HALF 7         /* rolling median over 15 days */
#define SEASONAL_MIN_DAYS 21 /* three of each weekday before a weekly pattern is fitted */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of v[0..n) (reorders v). */
static double median_inplace(double *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static int weekday(long day)
{
    return (int)(((day % 7) + 7 + 3) % 7);
} /* 0 = Monday */

int aud_bursts_detect(const aud_point_t *pts, size_t n, aud_burst_t *out, int max)
{
    if (n < 2)
        return -1;
    /* last observation of each UTC day, within the last MAX_DAYS days */
    long last_day = (long)floor(pts[n - 1].t / DAY);
    size_t first = 0;
    while (first < n && (long)floor(pts[first].t / DAY) < last_day - MAX_DAYS)
        first++;
    if (first > 0)
        first--; /* keep one point before the window: the first delta needs it */

    size_t cap = n - first;
    long *oday = malloc(cap * sizeof *oday);
    double *oval = malloc(cap * sizeof *oval), *otime = malloc(cap * sizeof *otime);
    double *delta = NULL, *work = NULL, *resid = NULL, *expect = NULL;
    int *group = NULL, found = -1;
    if (!oday || !oval || !otime)
        goto done;
    size_t m = 0;
    for (size_t i = first; i < n; i++) {
        if (isnan(pts[i].followers) || isnan(pts[i].t))
            continue;
        long d = (long)floor(pts[i].t / DAY);
        if (m > 0 && oday[m - 1] == d) {
            oval[m - 1] = pts[i].followers;
            otime[m - 1] = pts[i].t;
        } else {
            oday[m] = d;
            oval[m] = pts[i].followers;
            otime[m] = pts[i].t;
            m++;
        }
    }
    if (m < 2)
        goto done;
    long span = oday[m - 1] - oday[0];
    if (span > MAX_DAYS) /* cannot happen after the cut above; keeps the arrays bounded */
        span = MAX_DAYS;
    size_t D = (size_t)span;
    if (D < AUD_BURST_MIN_DAYS)
        goto done;
    delta = malloc(D * sizeof *delta);
    work = malloc(D * sizeof *work);
    resid = malloc(D * sizeof *resid);
    expect = malloc(D * sizeof *expect);
    group = malloc(D * sizeof *group);
    if (!delta || !work || !resid || !expect || !group)
        goto done;

    /* daily deltas; a gap of g days spreads its change evenly (group k is
     * the observation interval (k-1, k]) */
    long day0 = oday[m - 1] - (long)D;
    for (size_t k = 1; k < m; k++) {
        long g = oday[k] - oday[k - 1];
        double per = (oval[k] - oval[k - 1]) / (double)g;
        for (long j = oday[k - 1] + 1; j <= oday[k]; j++) {
            long idx = j - day0 - 1;
            if (idx < 0 || idx >= (long)D)
                continue;
            delta[idx] = per;
            group[idx] = (int)k;
        }
    }

    /* weekly pattern: per weekday, the median deviation from the overall median */
    memcpy(work, delta, D * sizeof *work);
    double overall = median_inplace(work, D);
    double seasonal[7] = {0};
    if (D >= SEASONAL_MIN_DAYS) {
        for (int w = 0; w < 7; w++) {
            size_t c = 0;
            for (size_t i = 0; i < D; i++)
                if (weekday(day0 + 1 + (long)i) == w)
                    work[c++] = delta[i] - overall;
            seasonal[w] = median_inplace(work, c);
        }
    }
    /* trend: rolling median of the deseasonalised deltas */
    double win[2 * TREND_HALF + 1];
    for (size_t i = 0; i < D; i++) {
        size_t lo = i >= TREND_HALF ? i - TREND_HALF : 0;
        size_t hi = i + TREND_HALF < D ? i + TREND_HALF : D - 1;
        size_t c = 0;
        for (size_t j = lo; j <= hi; j++)
            win[c++] = delta[j] - seasonal[weekday(day0 + 1 + (long)j)];
        double trend = median_inplace(win, c);
        expect[i] = trend + seasonal[weekday(day0 + 1 + (long)i)];
        resid[i] = delta[i] - expect[i];
    }
    /* robust scale of the residuals */
    memcpy(work, resid, D * sizeof *work);
    double rmed = median_inplace(work, D);
    for (size_t i = 0; i < D; i++)
        work[i] = fabs(resid[i] - rmed);
    double scale = 1.4826 * median_inplace(work, D);
    if (scale <= 0) { /* more than half the days exactly on the pattern */
        double s = 0;
        for (size_t i = 0; i < D; i++)
            s += fabs(resid[i] - rmed);
        scale = 1.2533 * s / (double)D;
    }
    if (scale < 1)
        scale = 1; /* follower counts are integers */

    /* abnormal days; an observation interval is abnormal as a whole */
    found = 0;
    size_t i = 0;
    while (i < D) {
        double z = (resid[i] - rmed) / scale;
        if (z < AUD_BURST_Z) {
            i++;
            continue;
        }
        /* extend back to the start of this interval, forward over every
         * following abnormal day or day of the same interval */
        size_t s = i;
        while (s > 0 && group[s - 1] == group[i])
            s--;
        size_t e = i;
        double zmax = z;
        for (;;) {
            if (e + 1 < D && group[e + 1] == group[e]) {
                e++;
                continue;
            }
            if (e + 1 < D && (resid[e + 1] - rmed) / scale >= AUD_BURST_Z) {
                e++;
                double ze = (resid[e] - rmed) / scale;
                if (ze > zmax)
                    zmax = ze;
                continue;
            }
            break;
        }
        double gained = 0, expected = 0;
        for (size_t j = s; j <= e; j++) {
            gained += delta[j];
            expected += expect[j];
        }
        int g0 = group[s], g1 = group[e];
        double before = oval[g0 - 1], after = oval[g1];
        double excess = gained - expected;
        double floor_abs = AUD_BURST_MIN_REL * before;
        if (floor_abs < AUD_BURST_MIN_ABS)
            floor_abs = AUD_BURST_MIN_ABS;
        if (excess >= floor_abs) {
            if (found < max) {
                aud_burst_t *b = &out[found];
                b->start = otime[g0 - 1];
                b->end = otime[g1];
                b->gained = after - before;
                b->expected = expected;
                b->excess = b->gained - expected;
                b->z = zmax;
                b->followers_before = before;
                b->followers_after = after;
                b->days = (int)(e - s + 1);
            }
            found++;
        }
        i = e + 1;
    }

done:
    free(oday);
    free(oval);
    free(otime);
    free(delta);
    free(work);
    free(resid);
    free(expect);
    free(group);
    return found;
}

/* ---------------------------------------------------------- follow order */

void aud_order_init(aud_order_t *o)
{
    memset(o, 0, sizeof *o);
    o->bound = NAN;
}

void aud_order_free(aud_order_t *o)
{
    free(o->wins);
    o->wins = NULL;
    o->nwins = o->cap = 0;
}

static void close_window(aud_order_t *o)
{
    aud_order_window_t *w = &o->cur;
    if (w->n == 0)
        return;
    size_t k = (size_t)w->known;
    if (k > 0) {
        qsort(o->created, k, sizeof *o->created, cmp_double);
        w->created_median =
            k % 2 ? o->created[k / 2] : (o->created[k / 2 - 1] + o->created[k / 2]) / 2;
        w->created_iqr_days =
            (o->created[(3 * k) / 4 < k ? (3 * k) / 4 : k - 1] - o->created[k / 4]) / DAY;
    } else {
        w->created_median = w->created_iqr_days = NAN;
    }
    if (o->nwins == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 64;
        aud_order_window_t *grown = realloc(o->wins, cap * sizeof *grown);
        if (!grown) {
            o->oom = true;
            memset(w, 0, sizeof *w);
            return;
        }
        o->wins = grown;
        o->cap = cap;
    }
    o->wins[o->nwins++] = *w;
    memset(w, 0, sizeof *w);
}

void aud_order_add(aud_order_t *o, int64_t position, double created_at, bool fake)
{
    aud_order_window_t *w = &o->cur;
    if (!isnan(created_at) && (isnan(o->bound) || created_at > o->bound))
        o->bound = created_at;
    if (w->n == 0)
        w->first_pos = position;
    w->last_pos = position;
    w->n++;
    w->fakes += fake;
    if (!isnan(created_at))
        o->created[w->known++] = created_at;
    w->bound = o->bound;
    if (w->n == AUD_ORDER_WINDOW)
        close_window(o);
}

int aud_order_finish(aud_order_t *o)
{
    close_window(o);
    o->nsegs = 0;
    if (o->oom)
        return -1;
    if (o->nwins == 0)
        return 0;
    double *shares = malloc(o->nwins * sizeof *shares);
    double *iqrs = malloc(o->nwins * sizeof *iqrs);
    if (!shares || !iqrs) {
        free(shares);
        free(iqrs);
        return -1;
    }
    size_t ns = 0, ni = 0;
    for (size_t i = 0; i < o->nwins; i++) {
        const aud_order_window_t *w = &o->wins[i];
        if (w->n * 4 < AUD_ORDER_WINDOW)
            continue; /* a short tail window is too noisy to judge */
        shares[ns++] = (double)w->fakes / (double)w->n;
        if (!isnan(w->created_iqr_days))
            iqrs[ni++] = w->created_iqr_days;
    }
    double base = median_inplace(shares, ns);
    double base_iqr = ni ? median_inplace(iqrs, ni) : NAN;
    free(shares);
    free(iqrs);
    double need = base + AUD_ORDER_MIN_LIFT;
    if (need < AUD_ORDER_MIN_FAKE_SHARE)
        need = AUD_ORDER_MIN_FAKE_SHARE;

    size_t i = 0;
    while (i < o->nwins && o->nsegs < AUD_ORDER_MAX_SEGMENTS) {
        const aud_order_window_t *w = &o->wins[i];
        bool hot = w->n * 4 >= AUD_ORDER_WINDOW && (double)w->fakes / (double)w->n >= need;
        if (!hot) {
            i++;
            continue;
        }
        aud_order_segment_t *s = &o->segs[o->nsegs++];
        memset(s, 0, sizeof *s);
        s->first_pos = w->first_pos;
        s->not_before = i > 0 ? o->wins[i - 1].bound : NAN;
        s->baseline_fake_share = base;
        s->baseline_iqr_days = base_iqr;
        double med_sum = 0, iqr_sum = 0;
        int med_n = 0;
        size_t j = i;
        for (; j < o->nwins; j++) {
            const aud_order_window_t *x = &o->wins[j];
            if (!(x->n * 4 >= AUD_ORDER_WINDOW && (double)x->fakes / (double)x->n >= need))
                break;
            s->last_pos = x->last_pos;
            s->size += x->n;
            s->fakes += x->fakes;
            s->newest_not_before = x->bound;
            if (!isnan(x->created_median)) {
                med_sum += x->created_median;
                iqr_sum += x->created_iqr_days;
                med_n++;
            }
        }
        s->created_median = med_n ? med_sum / med_n : NAN;
        s->created_iqr_days = med_n ? iqr_sum / med_n : NAN;
        i = j;
    }
    return o->nsegs;
}
