/*
 * audience plugin — one follower's verdict: class, score, confidence and
 * the reasons a person can read ("following 3,400 while followed by 12",
 * "no posts in 2 years", "default avatar after 400 days").
 *
 * Order of the decision:
 *   1. the model's score (P(fake)) and its confidence (share of the model's
 *      importance that was observed);
 *   2. fake when score >= AUD_FAKE_SCORE and confidence >=
 *      AUD_MIN_CONFIDENCE; suspicious when score >= AUD_SUSPICIOUS_SCORE,
 *      or when the score says fake but too little was known to say so;
 *      a verified account is never fake or suspicious;
 *   3. otherwise inactive by explicit rules (no post for AUD_INACTIVE_DAYS,
 *      never posted, almost no posts over the account's life);
 *   4. otherwise genuine.
 * Mass followers (following > 1,500) are flagged beside the class.
 * The reasons of a fake or suspicious follower are the features that pushed
 * its score up most (path attributions of the trees), in words.
 */
#include "scoring.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const aud_class_names[AUD_NCLASSES] = {"genuine", "inactive", "suspicious", "fake"};

const char *const aud_reason_names[AUD_NREASONS] = {
    [AUD_R_RATIO] = "following_ratio",
    [AUD_R_FEW_FOLLOWERS] = "few_followers",
    [AUD_R_NEVER_POSTED] = "never_posted",
    [AUD_R_FEW_POSTS] = "few_posts",
    [AUD_R_YOUNG] = "young_account",
    [AUD_R_DEFAULT_AVATAR] = "default_avatar",
    [AUD_R_NO_NAME] = "no_name",
    [AUD_R_NO_BIO] = "no_bio",
    [AUD_R_NO_URL] = "no_url",
    [AUD_R_NO_LOCATION] = "no_location",
    [AUD_R_HANDLE_DIGITS] = "handle_digits",
    [AUD_R_NO_LIKES] = "few_likes",
    [AUD_R_NOT_LISTED] = "not_listed",
    [AUD_R_FOLLOW_RATE] = "follow_rate",
    [AUD_R_POST_RATE] = "post_rate",
    [AUD_R_FOLLOWING_MANY] = "following_count",
    [AUD_R_HANDLE_SHAPE] = "handle_shape",
    [AUD_R_MASS_FOLLOWER] = "mass_follower",
    [AUD_R_NO_RECENT_POSTS] = "no_recent_posts",
    [AUD_R_LOW_ACTIVITY] = "low_activity",
    [AUD_R_MISSING_DATA] = "missing_data",
};

int aud_class_parse(const char *s)
{
    for (int i = 0; s && i < AUD_NCLASSES; i++)
        if (!strcmp(s, aud_class_names[i]))
            return i;
    return -1;
}

/* ------------------------------------------------------------ formatting */

char *aud_fmt_count(char *buf, size_t cap, double n)
{
    if (isnan(n)) {
        snprintf(buf, cap, "?");
        return buf;
    }
    char digits[32];
    snprintf(digits, sizeof digits, "%.0f", fabs(n));
    size_t len = strlen(digits), o = 0;
    if (n < 0 && o + 1 < cap)
        buf[o++] = '-';
    for (size_t i = 0; i < len && o + 1 < cap; i++) {
        if (i > 0 && (len - i) % 3 == 0 && o + 2 < cap)
            buf[o++] = ',';
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

char *aud_fmt_days(char *buf, size_t cap, double days)
{
    if (isnan(days) || days < 0)
        days = 0;
    long d = (long)floor(days);
    if (d >= 730)
        snprintf(buf, cap, "%ld years", d / 365);
    else if (d >= 365)
        snprintf(buf, cap, "1 year");
    else if (d >= 60)
        snprintf(buf, cap, "%ld months", d / 30);
    else
        snprintf(buf, cap, "%ld day%s", d, d == 1 ? "" : "s");
    return buf;
}

static bool present_text(const char *s)
{
    for (; s && *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return true;
    return false;
}

static double age_days(const aud_profile_t *p)
{
    if (isnan(p->created_at) || isnan(p->observed_at))
        return NAN;
    double d = (p->observed_at - p->created_at) / 86400.0;
    return d < 0 ? 0 : d;
}

static void add_reason(aud_verdict_t *v, aud_reason_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void add_reason(aud_verdict_t *v, aud_reason_code_t code, const char *fmt, ...)
{
    for (int i = 0; i < v->nreasons; i++)
        if (v->reasons[i].code == code)
            return;
    if (v->nreasons == AUD_MAX_REASONS)
        return;
    aud_reason_t *r = &v->reasons[v->nreasons++];
    r->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->text, sizeof r->text, fmt, ap);
    va_end(ap);
}

/* Puts the feature's reason in words; false when the profile gives nothing
 * to say about it (then the next feature is used). */
static bool feature_reason(aud_verdict_t *v, int f, const aud_profile_t *p)
{
    char a[32], b[32], c[32];
    double age = age_days(p);
    switch (f) {
    case AUD_F_RATIO:
        add_reason(v, AUD_R_RATIO, "following %s while followed by %s",
                   aud_fmt_count(a, sizeof a, p->following),
                   aud_fmt_count(b, sizeof b, p->followers));
        return true;
    case AUD_F_FOLLOWERS:
        add_reason(v, AUD_R_FEW_FOLLOWERS, "followed by only %s",
                   aud_fmt_count(a, sizeof a, p->followers));
        return true;
    case AUD_F_FOLLOWING:
        add_reason(v, AUD_R_FOLLOWING_MANY, "following %s accounts",
                   aud_fmt_count(a, sizeof a, p->following));
        return true;
    case AUD_F_POSTS:
    case AUD_F_POSTS_PER_DAY:
        if (p->posts == 0) {
            if (!isnan(age))
                add_reason(v, AUD_R_NEVER_POSTED, "never posted in %s",
                           aud_fmt_days(a, sizeof a, age));
            else
                add_reason(v, AUD_R_NEVER_POSTED, "never posted");
        } else if (f == AUD_F_POSTS_PER_DAY && !isnan(age) && p->posts / (age < 1 ? 1 : age) > 50) {
            add_reason(v, AUD_R_POST_RATE, "%s posts a day since creation",
                       aud_fmt_count(a, sizeof a, p->posts / (age < 1 ? 1 : age)));
        } else if (!isnan(age)) {
            add_reason(v, AUD_R_FEW_POSTS, "only %s posts in %s",
                       aud_fmt_count(a, sizeof a, p->posts), aud_fmt_days(b, sizeof b, age));
        } else {
            add_reason(v, AUD_R_FEW_POSTS, "only %s posts", aud_fmt_count(a, sizeof a, p->posts));
        }
        return true;
    case AUD_F_LIKES:
        if (p->likes == 0)
            add_reason(v, AUD_R_NO_LIKES, "has never liked a post");
        else
            add_reason(v, AUD_R_NO_LIKES, "liked only %s posts",
                       aud_fmt_count(a, sizeof a, p->likes));
        return true;
    case AUD_F_LISTED:
        if (p->listed == 0)
            add_reason(v, AUD_R_NOT_LISTED, "on nobody's lists");
        else
            add_reason(v, AUD_R_NOT_LISTED, "on only %s lists",
                       aud_fmt_count(a, sizeof a, p->listed));
        return true;
    case AUD_F_AGE:
        add_reason(v, AUD_R_YOUNG, "account %s old when observed", aud_fmt_days(a, sizeof a, age));
        return true;
    case AUD_F_FOLLOW_PER_DAY: {
        double rate = p->following / (age < 1 ? 1 : age);
        if (rate < 10)
            snprintf(c, sizeof c, "%.1f", rate);
        else
            aud_fmt_count(c, sizeof c, rate);
        add_reason(v, AUD_R_FOLLOW_RATE, "followed %s accounts in %s (%s a day)",
                   aud_fmt_count(a, sizeof a, p->following), aud_fmt_days(b, sizeof b, age), c);
        return true;
    }
    case AUD_F_DEFAULT_AVATAR:
        if (p->default_avatar != 1)
            return false;
        if (!isnan(age))
            add_reason(v, AUD_R_DEFAULT_AVATAR, "default avatar after %.0f days", floor(age));
        else
            add_reason(v, AUD_R_DEFAULT_AVATAR, "default avatar");
        return true;
    case AUD_F_HAS_NAME: add_reason(v, AUD_R_NO_NAME, "no display name"); return true;
    case AUD_F_HAS_BIO: add_reason(v, AUD_R_NO_BIO, "no bio"); return true;
    case AUD_F_HAS_URL: add_reason(v, AUD_R_NO_URL, "no link in the profile"); return true;
    case AUD_F_HAS_LOCATION: add_reason(v, AUD_R_NO_LOCATION, "no location"); return true;
    case AUD_F_HANDLE_DIGITS: {
        int d = 0;
        for (const char *s = p->handle; s && *s; s++)
            d += *s >= '0' && *s <= '9';
        add_reason(v, AUD_R_HANDLE_DIGITS, "handle with %d digits", d);
        return true;
    }
    case AUD_F_HANDLE_LEN:
        add_reason(v, AUD_R_HANDLE_SHAPE, "handle shaped like generated ones");
        return true;
    default: return false;
    }
}

/* The profile fields behind each unknown feature, for the missing-data
 * reason (only those that carry some of the model's importance). */
static void missing_reason(aud_verdict_t *v, const aud_model_t *m, const float x[AUD_NF])
{
    static const struct {
        int feature;
        const char *field;
    } fields[] = {
        {AUD_F_FOLLOWERS, "followers"},   {AUD_F_FOLLOWING, "following"},
        {AUD_F_POSTS, "posts"},           {AUD_F_AGE, "creation date"},
        {AUD_F_LIKES, "likes"},           {AUD_F_LISTED, "lists"},
        {AUD_F_DEFAULT_AVATAR, "avatar"}, {AUD_F_HAS_NAME, "name"},
        {AUD_F_HAS_BIO, "bio"},           {AUD_F_HAS_URL, "link"},
        {AUD_F_HAS_LOCATION, "location"}, {AUD_F_HANDLE_LEN, "handle"},
    };
    char list[80];
    size_t o = 0;
    int n = 0;
    list[0] = '\0';
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        int f = fields[i].feature;
        if (!isnan(x[f]) || m->importance[f] < 0.005)
            continue;
        int w = snprintf(list + o, sizeof list - o, "%s%s", n ? ", " : "", fields[i].field);
        if (w < 0 || (size_t)w >= sizeof list - o) {
            list[o] = '\0';
            break;
        }
        o += (size_t)w;
        n++;
    }
    if (n)
        add_reason(v, AUD_R_MISSING_DATA, "unknown: %s (confidence %.0f%%)", list,
                   v->confidence * 100);
}

/* ----------------------------------------------------------------- rules */

/* Inactive by explicit rules; writes the reason when one holds. */
static bool inactive_rule(const aud_profile_t *p, aud_verdict_t *v)
{
    char a[32], b[32];
    double age = age_days(p);
    if (!isnan(p->last_post_at) && !isnan(p->observed_at)) {
        double since = (p->observed_at - p->last_post_at) / 86400.0;
        if (since >= AUD_INACTIVE_DAYS) {
            if (v)
                add_reason(v, AUD_R_NO_RECENT_POSTS, "no posts in %s",
                           aud_fmt_days(a, sizeof a, since));
            return true;
        }
        return false; /* posted recently: whatever the totals say */
    }
    if (isnan(p->posts))
        return false;
    bool old_enough = isnan(age) || age >= 30;
    if (p->posts == 0 && old_enough) {
        if (v) {
            if (!isnan(age))
                add_reason(v, AUD_R_NEVER_POSTED, "never posted in %s",
                           aud_fmt_days(a, sizeof a, age));
            else
                add_reason(v, AUD_R_NEVER_POSTED, "never posted");
        }
        return true;
    }
    if (p->posts < 3 && old_enough) {
        if (v)
            add_reason(v, AUD_R_LOW_ACTIVITY, "only %s posts%s%s",
                       aud_fmt_count(a, sizeof a, p->posts), isnan(age) ? "" : " in ",
                       isnan(age) ? "" : aud_fmt_days(b, sizeof b, age));
        return true;
    }
    /* fewer than one post in 200 days over more than a year */
    if (!isnan(age) && age >= 365 && p->posts * 200 < age) {
        if (v)
            add_reason(v, AUD_R_LOW_ACTIVITY, "only %s posts in %s",
                       aud_fmt_count(a, sizeof a, p->posts), aud_fmt_days(b, sizeof b, age));
        return true;
    }
    return false;
}

/* The field's own warning signs (Socialbakers' list, profile part), added
 * to the model's reasons when they hold: what an agency expects to read. */
static void warning_signs(aud_verdict_t *v, const aud_profile_t *p)
{
    char a[32], b[32];
    double age = age_days(p);
    if (!isnan(p->followers) && !isnan(p->following) && p->following >= 50 * (p->followers + 1))
        add_reason(v, AUD_R_RATIO, "following %s while followed by %s",
                   aud_fmt_count(a, sizeof a, p->following),
                   aud_fmt_count(b, sizeof b, p->followers));
    if (p->posts == 0)
        feature_reason(v, AUD_F_POSTS, p);
    if (p->default_avatar == 1 && !isnan(age) && age >= 60)
        feature_reason(v, AUD_F_DEFAULT_AVATAR, p);
    if (p->bio && p->location && !present_text(p->bio) && !present_text(p->location) &&
        !isnan(p->following) && p->following > 100)
        add_reason(v, AUD_R_NO_BIO, "no bio and no location while following %s",
                   aud_fmt_count(a, sizeof a, p->following));
}

static aud_class_t decide(const aud_profile_t *p, double score, double confidence)
{
    if (p->verified != 1) {
        if (confidence >= AUD_MIN_CONFIDENCE) {
            if (score >= AUD_FAKE_SCORE)
                return AUD_FAKE;
            if (score >= AUD_SUSPICIOUS_SCORE)
                return AUD_SUSPICIOUS;
        } else if (score >= AUD_FAKE_SCORE) {
            return AUD_SUSPICIOUS;
        }
    }
    return inactive_rule(p, NULL) ? AUD_INACTIVE : AUD_GENUINE;
}

aud_class_t aud_classify(const aud_model_t *m, const aud_profile_t *p, double *score,
                         double *confidence)
{
    float x[AUD_NF];
    aud_features(p, x);
    double s = aud_sigmoid(aud_model_margin(m, x));
    double c = aud_model_confidence(m, x);
    if (score)
        *score = s;
    if (confidence)
        *confidence = c;
    return decide(p, s, c);
}

void aud_judge(const aud_model_t *m, const aud_profile_t *p, aud_verdict_t *v)
{
    float x[AUD_NF];
    aud_features(p, x);
    v->score = aud_sigmoid(aud_model_margin(m, x));
    v->confidence = aud_model_confidence(m, x);
    v->cls = decide(p, v->score, v->confidence);
    v->mass = !isnan(p->following) && p->following > AUD_MASS_FOLLOWING;
    v->nreasons = 0;

    if (v->cls == AUD_FAKE || v->cls == AUD_SUSPICIOUS) {
        double contrib[AUD_NF];
        aud_model_contrib(m, x, contrib);
        /* the features that pushed toward fake, strongest first: at least
         * one, then any that moved the margin by 0.1 or more */
        bool used[AUD_NF] = {false};
        for (int k = 0; k < 3; k++) {
            int best = -1;
            for (int f = 0; f < AUD_NF; f++)
                if (!used[f] && contrib[f] > 0 && (best < 0 || contrib[f] > contrib[best]))
                    best = f;
            if (best < 0 || (k > 0 && contrib[best] < 0.1))
                break;
            used[best] = true;
            if (!feature_reason(v, best, p))
                k--; /* nothing to say about it: try the next one */
        }
        warning_signs(v, p);
    } else if (v->cls == AUD_INACTIVE) {
        inactive_rule(p, v);
    }
    if (v->mass) {
        char a[32];
        add_reason(v, AUD_R_MASS_FOLLOWER, "mass follower: following %s accounts",
                   aud_fmt_count(a, sizeof a, p->following));
    }
    if (v->confidence < 1.0)
        missing_reason(v, m, x);
}
