/*
 * Unit tests of the burst detectors on synthetic data: a count series with
 * a strong weekly pattern, noise and a 5K jump; gaps in the series; series
 * too short to judge; and the follow-order detector on a list with a band
 * of bought followers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scoring.h"

#define DAY 86400.0
#define T0 1700006400.0 /* 2023-11-15 00:00 UTC, a Wednesday */

static uint64_t rng = 12345;
static double noise(double amplitude)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return ((double)(rng % 20001) / 10000.0 - 1.0) * amplitude;
}

/* days of daily observations at noon: weekdays +100, weekends +600 (the
 * weekly pattern a plain median/MAD would flag every Saturday), +-30 noise,
 * a jump of `jump` on day jump_day (0 = none). */
static size_t series(aud_point_t *pts, int days, int jump_day, double jump)
{
    double followers = 20000;
    rng = 12345;
    for (int d = 0; d < days; d++) {
        if (d > 0) {
            int wd = (d + 2) % 7; /* T0 is a Wednesday: 0 = Monday */
            followers += (wd >= 5 ? 600 : 100) + noise(30);
            if (d == jump_day)
                followers += jump;
        }
        pts[d].t = T0 + d * DAY + 12 * 3600;
        pts[d].followers = round(followers);
    }
    return (size_t)days;
}

static void test_a_5k_jump_over_a_weekly_pattern(void **state)
{
    (void)state;
    aud_point_t pts[70];
    size_t n = series(pts, 70, 40, 5000);
    aud_burst_t b[8];
    int found = aud_bursts_detect(pts, n, b, 8);
    assert_int_equal(found, 1);
    assert_true(b[0].start == pts[39].t && b[0].end == pts[40].t);
    assert_int_equal(b[0].days, 1);
    assert_true(fabs(b[0].excess - 5000) < 200); /* the jump, not the weekday's own growth */
    assert_true(b[0].gained > 5000);
    assert_true(b[0].z > AUD_BURST_Z);
    assert_true(b[0].followers_before == pts[39].followers);
    assert_true(b[0].followers_after == pts[40].followers);
}

static void test_the_weekly_pattern_alone_is_not_a_burst(void **state)
{
    (void)state;
    aud_point_t pts[70];
    size_t n = series(pts, 70, 0, 0);
    aud_burst_t b[8];
    assert_int_equal(aud_bursts_detect(pts, n, b, 8), 0);
}

static void test_a_jump_on_a_weekend_is_still_found(void **state)
{
    (void)state;
    aud_point_t pts[70];
    size_t n = series(pts, 70, 45, 5000); /* day 45: a Saturday */
    aud_burst_t b[8];
    int found = aud_bursts_detect(pts, n, b, 8);
    assert_int_equal(found, 1);
    assert_true(b[0].end == pts[45].t);
    assert_true(fabs(b[0].excess - 5000) < 300);
}

static void test_small_jumps_are_not_bursts(void **state)
{
    (void)state;
    /* a jump far above the noise but under 1 % of the followers */
    aud_point_t pts[70];
    size_t n = series(pts, 70, 40, 150);
    aud_burst_t b[8];
    assert_int_equal(aud_bursts_detect(pts, n, b, 8), 0);
}

static void test_gaps_spread_and_date_the_window(void **state)
{
    (void)state;
    aud_point_t pts[70], kept[70];
    size_t n = series(pts, 70, 40, 5000), m = 0;
    for (size_t i = 0; i < n; i++)
        if (i < 38 || i > 41 || i == 41) /* days 38-40 not observed */
            kept[m++] = pts[i];
    aud_burst_t b[8];
    int found = aud_bursts_detect(kept, m, b, 8);
    assert_int_equal(found, 1);
    assert_true(b[0].start == pts[37].t && b[0].end == pts[41].t);
    assert_int_equal(b[0].days, 4);
    assert_true(fabs(b[0].excess - 5000) < 400);
}

static void test_several_points_a_day(void **state)
{
    (void)state;
    aud_point_t pts[140];
    aud_point_t daily[70];
    size_t n = series(daily, 70, 30, 5000);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        pts[m++] = (aud_point_t){daily[i].t - 6 * 3600, daily[i].followers - 10};
        pts[m++] = daily[i];
    }
    aud_burst_t b[8];
    int found = aud_bursts_detect(pts, m, b, 8);
    assert_int_equal(found, 1);
    assert_true(b[0].end == daily[30].t);
}

static void test_too_short_a_series_is_not_judged(void **state)
{
    (void)state;
    aud_point_t pts[8];
    size_t n = series(pts, 8, 5, 5000); /* 7 daily deltas */
    aud_burst_t b[2];
    assert_int_equal(aud_bursts_detect(pts, n, b, 2), -1);
    assert_int_equal(aud_bursts_detect(pts, 1, b, 2), -1);
    assert_int_equal(aud_bursts_detect(pts, 0, b, 2), -1);
    /* nine points: eight deltas, enough for a plain median/MAD test (too
     * few for a weekly pattern: that needs three weeks) */
    aud_point_t more[9];
    for (int d = 0; d < 9; d++) {
        more[d].t = T0 + d * DAY;
        more[d].followers = 20000 + 100.0 * d + noise(30) + (d >= 6 ? 5000 : 0);
    }
    int found = aud_bursts_detect(more, 9, b, 2);
    assert_int_equal(found, 1);
    assert_true(b[0].end == more[6].t);
}

static void test_a_flat_series_with_a_jump(void **state)
{
    (void)state;
    /* every day exactly +50: the MAD is 0, the scale falls back */
    aud_point_t pts[30];
    for (int d = 0; d < 30; d++) {
        pts[d].t = T0 + d * DAY;
        pts[d].followers = 1000 + 50.0 * d + (d >= 20 ? 2000 : 0);
    }
    aud_burst_t b[4];
    int found = aud_bursts_detect(pts, 30, b, 4);
    assert_int_equal(found, 1);
    assert_true(b[0].end == pts[20].t);
    assert_true(fabs(b[0].excess - 2000) < 1);
}

static void test_more_bursts_than_room(void **state)
{
    (void)state;
    aud_point_t pts[120];
    for (int d = 0; d < 120; d++) {
        pts[d].t = T0 + d * DAY;
        pts[d].followers = 50000 + 100.0 * d + (d / 20) * 8000.0;
    }
    aud_burst_t b[2];
    int found = aud_bursts_detect(pts, 120, b, 2);
    assert_int_equal(found, 5);
    assert_true(b[0].end == pts[20].t && b[1].end == pts[40].t);
}

/* ----------------------------------------------------------- follow order */

static void test_follow_order_finds_a_band_of_fakes(void **state)
{
    (void)state;
    aud_order_t *o = malloc(sizeof *o);
    assert_non_null(o);
    aud_order_init(o);
    /* 10,000 followers oldest first; positions 6,000..4,001 (2,000
     * followers) were bought: fresh accounts, 90 % fake */
    int64_t n = 10000;
    for (int64_t pos = n - 1; pos >= 0; pos--) {
        bool batch = pos <= 6000 && pos > 4000;
        double created;
        bool fake;
        int64_t k = n - 1 - pos; /* follow order */
        if (batch) {
            created = T0 - 60 * DAY + (double)(k % 20) * 3600; /* within a day */
            fake = k % 10 != 0;
        } else {
            created = T0 - 3000 * DAY + (double)((k * 7919) % 2500) * DAY;
            fake = k % 25 == 0; /* 4 % */
        }
        aud_order_add(o, pos, created, fake);
    }
    int segs = aud_order_finish(o);
    assert_int_equal(segs, 1);
    const aud_order_segment_t *s = &o->segs[0];
    assert_true(s->size >= 1800 && s->size <= 2200);
    assert_true(s->first_pos <= 6200 && s->first_pos >= 5800);
    assert_true(s->last_pos >= 3800 && s->last_pos <= 4200);
    assert_true((double)s->fakes / (double)s->size > 0.8);
    assert_true(s->baseline_fake_share < 0.1);
    assert_true(s->newest_not_before >= T0 - 60 * DAY);
    assert_true(s->created_iqr_days < 2 && s->baseline_iqr_days > 100);
    aud_order_free(o);
    free(o);
}

static void test_follow_order_of_an_organic_list(void **state)
{
    (void)state;
    aud_order_t *o = malloc(sizeof *o);
    assert_non_null(o);
    aud_order_init(o);
    for (int64_t pos = 4999; pos >= 0; pos--)
        aud_order_add(o, pos, NAN, pos % 9 == 0); /* no creation dates, 11 % fake */
    assert_int_equal(aud_order_finish(o), 0);
    aud_order_free(o);
    aud_order_init(o);
    assert_int_equal(aud_order_finish(o), 0); /* empty list */
    aud_order_free(o);
    free(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_5k_jump_over_a_weekly_pattern),
        cmocka_unit_test(test_the_weekly_pattern_alone_is_not_a_burst),
        cmocka_unit_test(test_a_jump_on_a_weekend_is_still_found),
        cmocka_unit_test(test_small_jumps_are_not_bursts),
        cmocka_unit_test(test_gaps_spread_and_date_the_window),
        cmocka_unit_test(test_several_points_a_day),
        cmocka_unit_test(test_too_short_a_series_is_not_judged),
        cmocka_unit_test(test_a_flat_series_with_a_jump),
        cmocka_unit_test(test_more_bursts_than_room),
        cmocka_unit_test(test_follow_order_finds_a_band_of_fakes),
        cmocka_unit_test(test_follow_order_of_an_organic_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
