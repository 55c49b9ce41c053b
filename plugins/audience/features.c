/*
 * audience plugin — profile signals as model features. Shared with the
 * trainer and the evaluation (tools/audience/), so training and scoring
 * can never compute a feature two ways.
 *
 * Only signals every platform still reports for any follower: counts,
 * account age at observation, default avatar, name/bio/URL/location
 * presence, handle shape. No colours or theme fields, nothing about how a
 * data set was collected.
 */
#include "scoring.h"

#include <math.h>
#include <string.h>

const char *const aud_feature_names[AUD_NF] = {
    [AUD_F_FOLLOWERS] = "log_followers",
    [AUD_F_FOLLOWING] = "log_following",
    [AUD_F_POSTS] = "log_posts",
    [AUD_F_LIKES] = "log_likes",
    [AUD_F_LISTED] = "log_listed",
    [AUD_F_RATIO] = "log_following_followers_ratio",
    [AUD_F_AGE] = "log_age_days",
    [AUD_F_POSTS_PER_DAY] = "log_posts_per_day",
    [AUD_F_FOLLOW_PER_DAY] = "log_following_per_day",
    [AUD_F_DEFAULT_AVATAR] = "default_avatar",
    [AUD_F_HAS_NAME] = "has_name",
    [AUD_F_HAS_BIO] = "has_bio",
    [AUD_F_HAS_URL] = "has_url",
    [AUD_F_HAS_LOCATION] = "has_location",
    [AUD_F_HANDLE_LEN] = "handle_length",
    [AUD_F_HANDLE_DIGITS] = "handle_digits",
};

/* Signs chosen from what the literature says of fake followers in general
 * (few followers, few posts, young, default avatar, empty profile, following
 * far more than followed, machine-made handles), not from this data set. */
const int aud_feature_monotone[AUD_NF] = {
    [AUD_F_FOLLOWERS] = -1,     [AUD_F_FOLLOWING] = 0,
    [AUD_F_POSTS] = -1,         [AUD_F_LIKES] = -1,
    [AUD_F_LISTED] = -1,        [AUD_F_RATIO] = +1,
    [AUD_F_AGE] = -1,           [AUD_F_POSTS_PER_DAY] = 0,
    [AUD_F_FOLLOW_PER_DAY] = 0, [AUD_F_DEFAULT_AVATAR] = +1,
    [AUD_F_HAS_NAME] = -1,      [AUD_F_HAS_BIO] = -1,
    [AUD_F_HAS_URL] = -1,       [AUD_F_HAS_LOCATION] = -1,
    [AUD_F_HANDLE_LEN] = 0,     [AUD_F_HANDLE_DIGITS] = +1,
};

void aud_profile_init(aud_profile_t *p)
{
    memset(p, 0, sizeof *p);
    p->followers = p->following = p->posts = p->likes = p->listed = NAN;
    p->created_at = p->observed_at = p->last_post_at = NAN;
    p->default_avatar = p->verified = -1;
}

static float log_count(double n)
{
    return isnan(n) ? NAN : (float)log1p(n < 0 ? 0 : n);
}

/* A text field that only holds white space counts as empty. */
static float present(const char *s)
{
    if (!s)
        return NAN;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return 1.0f;
    return 0.0f;
}

static float flag(int v)
{
    return v < 0 ? NAN : (float)(v != 0);
}

/* Characters (not bytes) of a UTF-8 handle, without a leading '@'. */
static void handle_shape(const char *h, float *len, float *digits)
{
    if (!h) {
        *len = *digits = NAN;
        return;
    }
    if (*h == '@')
        h++;
    int n = 0, d = 0;
    for (const unsigned char *s = (const unsigned char *)h; *s; s++) {
        if ((*s & 0xC0) != 0x80)
            n++;
        if (*s >= '0' && *s <= '9')
            d++;
    }
    if (n == 0) { /* an empty handle says nothing */
        *len = *digits = NAN;
        return;
    }
    *len = (float)n;
    *digits = (float)d;
}

void aud_features(const aud_profile_t *p, float x[AUD_NF])
{
    x[AUD_F_FOLLOWERS] = log_count(p->followers);
    x[AUD_F_FOLLOWING] = log_count(p->following);
    x[AUD_F_POSTS] = log_count(p->posts);
    x[AUD_F_LIKES] = log_count(p->likes);
    x[AUD_F_LISTED] = log_count(p->listed);
    x[AUD_F_RATIO] = isnan(p->followers) || isnan(p->following)
                         ? NAN
                         : (float)log((p->following + 1.0) / (p->followers + 1.0));

    double age = NAN;
    if (!isnan(p->created_at) && !isnan(p->observed_at)) {
        age = (p->observed_at - p->created_at) / 86400.0;
        if (age < 0) /* clocks disagree: a brand-new account */
            age = 0;
    }
    x[AUD_F_AGE] = isnan(age) ? NAN : (float)log1p(age);
    /* rates over at least one day: a day-old account has not had less */
    double days = isnan(age) ? NAN : (age < 1 ? 1 : age);
    x[AUD_F_POSTS_PER_DAY] = isnan(days) || isnan(p->posts) ? NAN : (float)log1p(p->posts / days);
    x[AUD_F_FOLLOW_PER_DAY] =
        isnan(days) || isnan(p->following) ? NAN : (float)log1p(p->following / days);

    x[AUD_F_DEFAULT_AVATAR] = flag(p->default_avatar);
    x[AUD_F_HAS_NAME] = present(p->name);
    x[AUD_F_HAS_BIO] = present(p->bio);
    x[AUD_F_HAS_URL] = present(p->url);
    x[AUD_F_HAS_LOCATION] = present(p->location);
    handle_shape(p->handle, &x[AUD_F_HANDLE_LEN], &x[AUD_F_HANDLE_DIGITS]);
}
