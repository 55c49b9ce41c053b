/*
 * audience plugin — the field's published rule sets, as baselines for the
 * evaluation (tools/audience/eval) and for comparison in reports. Each is
 * implemented with its published thresholds (shared/reference/metrics.md);
 * a clause needing data a profile does not carry is not satisfied, and an
 * unknown input is never read as zero.
 */
#include "scoring.h"

#include <math.h>

static double age_days(const aud_profile_t *p)
{
    if (isnan(p->created_at) || isnan(p->observed_at))
        return NAN;
    double d = (p->observed_at - p->created_at) / 86400.0;
    return d < 0 ? 0 : d;
}

static bool has_text(const char *s)
{
    for (; s && *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return true;
    return false;
}

aud_sp_result_t aud_rule_statuspeople(const aud_profile_t *p)
{
    double fo = p->followers, fi = p->following, posts = p->posts, age = age_days(p);
    if (isnan(fo) || isnan(fi))
        return AUD_SP_NOT_TESTED;
    /* not tested */
    if (fi == 0 && fo > 50)
        return AUD_SP_NOT_TESTED;
    if (fi < 50)
        return AUD_SP_NOT_TESTED;
    double r = fo / fi * 100.0;
    if (!isnan(age) && (age <= 45 || (age <= 90 && r >= 10)))
        return AUD_SP_NOT_TESTED;

    if (r < 20) {
        bool fake = (!isnan(posts) && posts == 0) || fo == 0 || r <= 2 || (fi >= 1000 && fo <= 100);
        /* r < 10 with no URL and no likes */
        if (!fake && r < 10 && p->url && !has_text(p->url) && !isnan(p->likes) && p->likes == 0)
            fake = true;
        /* "<= 0.5 posts a day and the last post has no link": the last
         * post's text is not profile data, so this clause never holds */
        if (fake)
            return AUD_SP_FAKE;
    }
    double per_day = isnan(age) || isnan(posts) ? NAN : posts / (age < 1 ? 1 : age);
    if (!isnan(posts) && fo < 20 && fi < 20 && posts < 20)
        return AUD_SP_INACTIVE;
    if (!isnan(per_day) && per_day <= 0.1)
        return AUD_SP_INACTIVE;
    if (!isnan(p->last_post_at) && !isnan(p->observed_at) &&
        (p->observed_at - p->last_post_at) / 86400.0 >= 90)
        return AUD_SP_INACTIVE;
    return AUD_SP_GOOD;
}

int aud_rule_camisani(const aud_profile_t *p, int *points)
{
    int s = 0;
#define CC_RULE(known, hit)                                                                        \
    do {                                                                                           \
        if (known)                                                                                 \
            s += (hit) ? 1 : -1;                                                                   \
    } while (0)
    CC_RULE(p->name != NULL, has_text(p->name));
    CC_RULE(p->default_avatar >= 0, p->default_avatar == 0);
    CC_RULE(p->location != NULL, has_text(p->location));
    CC_RULE(p->bio != NULL, has_text(p->bio));
    CC_RULE(!isnan(p->followers), p->followers >= 30);
    CC_RULE(!isnan(p->listed), p->listed > 0);
    CC_RULE(!isnan(p->posts), p->posts >= 50);
    CC_RULE(p->url != NULL, has_text(p->url));
    CC_RULE(!isnan(p->followers) && !isnan(p->following), 2 * p->followers >= p->following);
#undef CC_RULE
    if (points)
        *points = s;
    return s < -4 ? 1 : s > 0 ? -1 : 0;
}

int aud_rule_followers30(const aud_profile_t *p)
{
    if (isnan(p->followers))
        return -1;
    return p->followers < 30 ? 1 : 0;
}
