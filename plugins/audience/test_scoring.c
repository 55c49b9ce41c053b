/*
 * Unit tests of the audience scoring core: features, the model's handling
 * of unknown fields, the verdict (class, confidence, reasons in words), the
 * inactive rules and the field's baseline rule sets. Pure functions: no
 * host, no database.
 *
 * Run: make unit            (or under ASan: make unit SAN=1)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "scoring.h"

#define DAY 86400.0
#define OBSERVED 1700000000.0 /* 2023-11-14 */

/* A plain person: years old, posts, followers about as many as followed. */
static aud_profile_t person(void)
{
    aud_profile_t p;
    aud_profile_init(&p);
    p.followers = 420;
    p.following = 380;
    p.posts = 2500;
    p.likes = 900;
    p.listed = 4;
    p.created_at = OBSERVED - 6 * 365 * DAY;
    p.observed_at = OBSERVED;
    p.last_post_at = OBSERVED - 2 * DAY;
    p.default_avatar = 0;
    p.verified = 0;
    p.handle = "maria_rossi";
    p.name = "Maria Rossi";
    p.bio = "Teacher, runner, Milan";
    p.url = "https://example.org";
    p.location = "Milano";
    return p;
}

/* A bought follower: young, follows hundreds, followed by a handful, silent. */
static aud_profile_t bought(void)
{
    aud_profile_t p = person();
    p.followers = 12;
    p.following = 3400;
    p.posts = 0;
    p.likes = 0;
    p.listed = 0;
    p.created_at = OBSERVED - 40 * DAY;
    p.last_post_at = NAN;
    p.default_avatar = 1;
    p.handle = "jdk83749201";
    p.bio = "";
    p.url = "";
    p.location = "";
    return p;
}

static bool has_reason(const aud_verdict_t *v, aud_reason_code_t code, const char *text)
{
    for (int i = 0; i < v->nreasons; i++)
        if (v->reasons[i].code == code && (!text || strstr(v->reasons[i].text, text)))
            return true;
    return false;
}

/* ------------------------------------------------------------- features */

static void test_features_of_a_complete_profile(void **state)
{
    (void)state;
    aud_profile_t p = person();
    float x[AUD_NF];
    aud_features(&p, x);
    assert_true(fabs(x[AUD_F_FOLLOWERS] - log1p(420)) < 1e-5);
    assert_true(fabs(x[AUD_F_RATIO] - log(381.0 / 421.0)) < 1e-5);
    assert_true(fabs(x[AUD_F_AGE] - log1p(6 * 365)) < 1e-4);
    assert_true(fabs(x[AUD_F_POSTS_PER_DAY] - log1p(2500.0 / (6 * 365))) < 1e-5);
    assert_true(x[AUD_F_DEFAULT_AVATAR] == 0.0f);
    assert_true(x[AUD_F_HAS_NAME] == 1.0f && x[AUD_F_HAS_BIO] == 1.0f);
    assert_true(x[AUD_F_HAS_URL] == 1.0f && x[AUD_F_HAS_LOCATION] == 1.0f);
    assert_true(x[AUD_F_HANDLE_LEN] == 11.0f && x[AUD_F_HANDLE_DIGITS] == 0.0f);
    for (int f = 0; f < AUD_NF; f++)
        assert_false(isnan(x[f]));
}

static void test_unknown_fields_are_never_zero(void **state)
{
    (void)state;
    aud_profile_t p;
    aud_profile_init(&p);
    float x[AUD_NF];
    aud_features(&p, x);
    for (int f = 0; f < AUD_NF; f++)
        assert_true(isnan(x[f]));
    /* one count unknown: the ratio and the rates that need it too */
    p = person();
    p.followers = NAN;
    aud_features(&p, x);
    assert_true(isnan(x[AUD_F_FOLLOWERS]) && isnan(x[AUD_F_RATIO]));
    assert_false(isnan(x[AUD_F_FOLLOWING]));
    /* no creation date: no age, no rates */
    p = person();
    p.created_at = NAN;
    aud_features(&p, x);
    assert_true(isnan(x[AUD_F_AGE]) && isnan(x[AUD_F_POSTS_PER_DAY]) &&
                isnan(x[AUD_F_FOLLOW_PER_DAY]));
    /* a known empty field is known: "" is not NULL */
    p = person();
    p.bio = "  \n";
    p.url = NULL;
    aud_features(&p, x);
    assert_true(x[AUD_F_HAS_BIO] == 0.0f);
    assert_true(isnan(x[AUD_F_HAS_URL]));
}

static void test_age_is_measured_at_observation(void **state)
{
    (void)state;
    aud_profile_t p = person();
    p.created_at = OBSERVED - 10 * DAY;
    float x[AUD_NF];
    aud_features(&p, x);
    assert_true(fabs(x[AUD_F_AGE] - log1p(10)) < 1e-5);
    p.observed_at = OBSERVED + 390 * DAY; /* the same account, observed later */
    aud_features(&p, x);
    assert_true(fabs(x[AUD_F_AGE] - log1p(400)) < 1e-4);
    /* clocks that disagree make a new account, not a negative age */
    p.created_at = p.observed_at + DAY;
    aud_features(&p, x);
    assert_true(x[AUD_F_AGE] == 0.0f);
}

static void test_handle_shape(void **state)
{
    (void)state;
    aud_profile_t p = person();
    float x[AUD_NF];
    p.handle = "@ab12c345";
    aud_features(&p, x);
    assert_true(x[AUD_F_HANDLE_LEN] == 8.0f && x[AUD_F_HANDLE_DIGITS] == 5.0f);
    p.handle = "j\xc3\xb6rg"; /* "jörg": characters, not bytes */
    aud_features(&p, x);
    assert_true(x[AUD_F_HANDLE_LEN] == 4.0f);
    p.handle = "";
    aud_features(&p, x);
    assert_true(isnan(x[AUD_F_HANDLE_LEN]));
}

/* ---------------------------------------------------------------- model */

static void test_model_separates_people_from_bought_followers(void **state)
{
    (void)state;
    aud_profile_t p = person(), b = bought();
    double sp, sb, cp, cb;
    assert_int_equal(aud_classify(&aud_model, &p, &sp, &cp), AUD_GENUINE);
    assert_int_equal(aud_classify(&aud_model, &b, &sb, &cb), AUD_FAKE);
    assert_true(sp < 0.2 && sb > 0.8);
    assert_true(cp > 0.99 && cb > 0.99);
    assert_non_null(aud_model.version);
    assert_true(!strncmp(aud_model.version, "gbt-", 4));
}

static void test_model_is_monotone_where_constrained(void **state)
{
    (void)state;
    /* more followers can only lower the score; a worse ratio only raise it */
    aud_profile_t p = bought();
    double prev = 2;
    for (double f = 0; f <= 5000; f = f * 2 + 1) {
        p.followers = f;
        p.following = 3400;
        float x[AUD_NF];
        aud_features(&p, x);
        x[AUD_F_RATIO] = 0; /* hold the ratio: followers alone */
        double s = aud_sigmoid(aud_model_margin(&aud_model, x));
        assert_true(s <= prev + 1e-9);
        prev = s;
    }
    p = person();
    prev = -1;
    for (double r = -3; r <= 6; r += 0.25) {
        float x[AUD_NF];
        aud_features(&p, x);
        x[AUD_F_RATIO] = (float)r;
        double s = aud_sigmoid(aud_model_margin(&aud_model, x));
        assert_true(s >= prev - 1e-9);
        prev = s;
    }
}

static void test_flat_trees_score_like_the_trees(void **state)
{
    (void)state;
    assert_non_null(aud_model.flat);
    aud_model_t slow = aud_model;
    slow.flat = NULL;
    uint64_t s = 99;
    for (int i = 0; i < 20000; i++) {
        float x[AUD_NF];
        for (int f = 0; f < AUD_NF; f++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            x[f] = (float)((s >> 33) % 1200) / 100.0f - 2.0f; /* -2 .. 10 */
        }
        assert_true(fabs(aud_model_margin(&aud_model, x) - aud_model_margin(&slow, x)) < 1e-4);
        double a[AUD_NF], b[AUD_NF];
        aud_model_contrib(&aud_model, x, a);
        aud_model_contrib(&slow, x, b);
        for (int f = 0; f < AUD_NF; f++)
            assert_true(fabs(a[f] - b[f]) < 1e-4);
    }
}

static void test_contributions_add_up_to_the_margin(void **state)
{
    (void)state;
    aud_profile_t profiles[3] = {person(), bought(), bought()};
    profiles[2].created_at = NAN; /* unknown features walk both ways */
    profiles[2].posts = NAN;
    double roots = aud_model.base_margin;
    for (int t = 0; t < aud_model.ntrees; t++)
        roots += aud_model.nodes[aud_model.roots[t]].value;
    for (int i = 0; i < 3; i++) {
        float x[AUD_NF];
        double c[AUD_NF], sum = roots;
        aud_features(&profiles[i], x);
        aud_model_contrib(&aud_model, x, c);
        for (int f = 0; f < AUD_NF; f++) {
            sum += c[f];
            if (isnan(x[f]))
                assert_true(c[f] == 0); /* nothing is credited to an unknown */
        }
        assert_true(fabs(sum - aud_model_margin(&aud_model, x)) < 1e-3);
    }
}

static void test_unknown_features_lower_confidence_not_the_score(void **state)
{
    (void)state;
    aud_profile_t p;
    aud_profile_init(&p);
    double s, c;
    /* nothing known: the training prior, no confidence, never fake */
    aud_class_t cls = aud_classify(&aud_model, &p, &s, &c);
    assert_true(c == 0);
    assert_true(cls != AUD_FAKE);
    assert_true(fabs(s - aud_sigmoid(aud_model.base_margin +
                                     /* expected tree outputs */ 0)) < 0.5);
    /* only the counts unknown: confidence drops by their importance */
    p = bought();
    p.followers = NAN;
    p.following = NAN;
    aud_classify(&aud_model, &p, &s, &c);
    double lost = aud_model.importance[AUD_F_FOLLOWERS] + aud_model.importance[AUD_F_FOLLOWING] +
                  aud_model.importance[AUD_F_RATIO] + aud_model.importance[AUD_F_FOLLOW_PER_DAY];
    assert_true(fabs(c - (1 - lost)) < 1e-4);
}

/* -------------------------------------------------------------- verdict */

static void test_fake_verdict_reads_like_a_person_wrote_it(void **state)
{
    (void)state;
    aud_profile_t b = bought();
    aud_verdict_t v;
    aud_judge(&aud_model, &b, &v);
    assert_int_equal(v.cls, AUD_FAKE);
    assert_true(v.score >= AUD_FAKE_SCORE && v.score <= 1);
    assert_true(v.mass); /* following 3,400 > 1,500 */
    assert_true(v.nreasons >= 2);
    assert_true(has_reason(&v, AUD_R_RATIO, "following 3,400 while followed by 12"));
    assert_true(has_reason(&v, AUD_R_MASS_FOLLOWER, "mass follower: following 3,400 accounts"));
    assert_false(has_reason(&v, AUD_R_MISSING_DATA, NULL));
    for (int i = 0; i < v.nreasons; i++) {
        assert_true(strlen(v.reasons[i].text) > 5);
        assert_non_null(aud_reason_names[v.reasons[i].code]);
    }
}

static void test_genuine_verdict_has_no_warning_reasons(void **state)
{
    (void)state;
    aud_profile_t p = person();
    aud_verdict_t v;
    aud_judge(&aud_model, &p, &v);
    assert_int_equal(v.cls, AUD_GENUINE);
    assert_int_equal(v.nreasons, 0);
    assert_false(v.mass);
    assert_true(v.confidence > 0.99);
}

static void test_inactive_rules(void **state)
{
    (void)state;
    aud_profile_t p = person();
    aud_verdict_t v;
    p.last_post_at = OBSERVED - 800 * DAY;
    aud_judge(&aud_model, &p, &v);
    assert_int_equal(v.cls, AUD_INACTIVE);
    assert_true(has_reason(&v, AUD_R_NO_RECENT_POSTS, "no posts in 2 years"));

    p.last_post_at = OBSERVED - 100 * DAY;
    aud_judge(&aud_model, &p, &v);
    assert_int_equal(v.cls, AUD_INACTIVE);
    assert_true(has_reason(&v, AUD_R_NO_RECENT_POSTS, "no posts in 3 months"));

    p.last_post_at = OBSERVED - 89 * DAY; /* just recent enough */
    aud_judge(&aud_model, &p, &v);
    assert_int_equal(v.cls, AUD_GENUINE);

    /* last post unknown: almost nothing posted over a long life */
    p = person();
    p.last_post_at = NAN;
    p.posts = 5;
    p.followers = 900;
    p.following = 300;
    aud_judge(&aud_model, &p, &v);
    if (v.cls != AUD_FAKE && v.cls != AUD_SUSPICIOUS) {
        assert_int_equal(v.cls, AUD_INACTIVE);
        assert_true(has_reason(&v, AUD_R_LOW_ACTIVITY, "only 5 posts in 6 years"));
    }
}

static void test_warning_signs_join_the_reasons(void **state)
{
    (void)state;
    aud_profile_t b = bought();
    b.created_at = OBSERVED - 400 * DAY;
    aud_verdict_t v;
    aud_judge(&aud_model, &b, &v);
    assert_int_equal(v.cls, AUD_FAKE);
    assert_true(has_reason(&v, AUD_R_DEFAULT_AVATAR, "default avatar after 400 days"));
    assert_true(has_reason(&v, AUD_R_NEVER_POSTED, "never posted in 1 year"));
    assert_true(has_reason(&v, AUD_R_NO_BIO, "no bio"));
    assert_true(has_reason(&v, AUD_R_MASS_FOLLOWER, NULL));
    /* each code once */
    for (int i = 0; i < v.nreasons; i++)
        for (int j = i + 1; j < v.nreasons; j++)
            assert_int_not_equal(v.reasons[i].code, v.reasons[j].code);
}

static void test_formatting(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(aud_fmt_count(buf, sizeof buf, 3400), "3,400");
    assert_string_equal(aud_fmt_count(buf, sizeof buf, 12), "12");
    assert_string_equal(aud_fmt_count(buf, sizeof buf, 1234567), "1,234,567");
    assert_string_equal(aud_fmt_count(buf, sizeof buf, NAN), "?");
    assert_string_equal(aud_fmt_days(buf, sizeof buf, 800), "2 years");
    assert_string_equal(aud_fmt_days(buf, sizeof buf, 400), "1 year");
    assert_string_equal(aud_fmt_days(buf, sizeof buf, 150), "5 months");
    assert_string_equal(aud_fmt_days(buf, sizeof buf, 1), "1 day");
    assert_string_equal(aud_fmt_days(buf, sizeof buf, 12.7), "12 days");
}

static void test_missing_fields_make_suspicious_not_fake(void **state)
{
    (void)state;
    /* a bought follower whose counts we were not told: the rest still
     * looks bad, but too little is known to call it fake */
    aud_profile_t b = bought();
    b.followers = NAN;
    b.following = NAN;
    aud_verdict_t v;
    aud_judge(&aud_model, &b, &v);
    assert_true(v.confidence < AUD_MIN_CONFIDENCE);
    assert_true(v.cls != AUD_FAKE);
    assert_false(v.mass); /* an unknown following count is not > 1,500 */
    assert_true(has_reason(&v, AUD_R_MISSING_DATA, "unknown: followers, following"));
}

static void test_verified_is_never_fake(void **state)
{
    (void)state;
    aud_profile_t b = bought();
    b.verified = 1;
    double s;
    aud_class_t c = aud_classify(&aud_model, &b, &s, NULL);
    assert_true(s > 0.5);
    assert_true(c == AUD_INACTIVE || c == AUD_GENUINE);
}

static void test_class_names(void **state)
{
    (void)state;
    assert_int_equal(aud_class_parse("fake"), AUD_FAKE);
    assert_int_equal(aud_class_parse("suspicious"), AUD_SUSPICIOUS);
    assert_int_equal(aud_class_parse("inactive"), AUD_INACTIVE);
    assert_int_equal(aud_class_parse("genuine"), AUD_GENUINE);
    assert_int_equal(aud_class_parse("Fake"), -1);
    assert_int_equal(aud_class_parse(""), -1);
    assert_int_equal(aud_class_parse(NULL), -1);
    for (int r = 0; r < AUD_NREASONS; r++)
        assert_non_null(aud_reason_names[r]);
    for (int f = 0; f < AUD_NF; f++)
        assert_non_null(aud_feature_names[f]);
}

/* ----------------------------------------------------------- rule sets */

static void test_statuspeople_rules(void **state)
{
    (void)state;
    aud_profile_t p = person();
    assert_int_equal(aud_rule_statuspeople(&p), AUD_SP_GOOD);
    aud_profile_t b = bought();
    b.created_at = OBSERVED - 400 * DAY;
    assert_int_equal(aud_rule_statuspeople(&b), AUD_SP_FAKE); /* no posts, r < 20 */
    /* not tested: following < 50; young with a good ratio; younger than 45 days */
    p.following = 49;
    assert_int_equal(aud_rule_statuspeople(&p), AUD_SP_NOT_TESTED);
    b.created_at = OBSERVED - 40 * DAY;
    assert_int_equal(aud_rule_statuspeople(&b), AUD_SP_NOT_TESTED);
    /* inactive: <= 0.1 posts a day */
    p = person();
    p.posts = 100;
    assert_int_equal(aud_rule_statuspeople(&p), AUD_SP_INACTIVE);
    /* unknown counts: not tested, never read as 0 */
    p = person();
    p.followers = NAN;
    assert_int_equal(aud_rule_statuspeople(&p), AUD_SP_NOT_TESTED);
    /* following >= 1000 and followers <= 100 */
    p = person();
    p.followers = 90;
    p.following = 1200;
    assert_int_equal(aud_rule_statuspeople(&p), AUD_SP_FAKE);
}

static void test_camisani_rules(void **state)
{
    (void)state;
    int points;
    aud_profile_t p = person();
    assert_int_equal(aud_rule_camisani(&p, &points), -1);
    assert_int_equal(points, 9);
    aud_profile_t b = bought();
    b.name = "";
    assert_int_equal(aud_rule_camisani(&b, &points), 1);
    assert_int_equal(points, -9);
    aud_profile_t u;
    aud_profile_init(&u); /* nothing known: neither hit nor miss */
    assert_int_equal(aud_rule_camisani(&u, &points), 0);
    assert_int_equal(points, 0);
}

static void test_followers30_rule(void **state)
{
    (void)state;
    aud_profile_t p = person();
    assert_int_equal(aud_rule_followers30(&p), 0);
    p.followers = 29;
    assert_int_equal(aud_rule_followers30(&p), 1);
    p.followers = NAN;
    assert_int_equal(aud_rule_followers30(&p), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_features_of_a_complete_profile),
        cmocka_unit_test(test_unknown_fields_are_never_zero),
        cmocka_unit_test(test_age_is_measured_at_observation),
        cmocka_unit_test(test_handle_shape),
        cmocka_unit_test(test_model_separates_people_from_bought_followers),
        cmocka_unit_test(test_model_is_monotone_where_constrained),
        cmocka_unit_test(test_flat_trees_score_like_the_trees),
        cmocka_unit_test(test_contributions_add_up_to_the_margin),
        cmocka_unit_test(test_unknown_features_lower_confidence_not_the_score),
        cmocka_unit_test(test_fake_verdict_reads_like_a_person_wrote_it),
        cmocka_unit_test(test_genuine_verdict_has_no_warning_reasons),
        cmocka_unit_test(test_inactive_rules),
        cmocka_unit_test(test_warning_signs_join_the_reasons),
        cmocka_unit_test(test_formatting),
        cmocka_unit_test(test_missing_fields_make_suspicious_not_fake),
        cmocka_unit_test(test_verified_is_never_fake),
        cmocka_unit_test(test_class_names),
        cmocka_unit_test(test_statuspeople_rules),
        cmocka_unit_test(test_camisani_rules),
        cmocka_unit_test(test_followers30_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
