/*
 * One normaliser from every profile shape agencies have to the profile row:
 * X API v1.1 and v2 users, X archive follower/following entries, Instagram
 * profile objects (Graph API, web/scraper form) and "Download your
 * information" entries, TikTok users, flattened CSV (the cresci-2015 research
 * files among them) and bare ids. Each field is looked up under the names
 * the platforms use (formats.md); the first present wins. What no source
 * gave stays NULL.
 *
 * Decisions:
 *   - external_id is the platform's id; handle-only sources (Instagram
 *     exports, TikTok follower lists, "@name" lines) get '@' + lower(handle)
 *     and are linked to a profile known by id at merge time;
 *   - a text field sent as JSON null is stored as "" (the platform says "not
 *     set": X v1.1 sends "url": null for no URL), except lang, which X always
 *     sends as null (deprecated): unknown;
 *   - default_avatar comes from the platform's flag, else from the image URL
 *     (X's /sticky/default_profile_images/ and the egg, Instagram's anonymous
 *     picture); an empty image URL means no picture;
 *   - last_post_at comes from the latest post's time, else (X) from the
 *     snowflake id of the most recent post;
 *   - likes_count counts likes given on X and likes received on TikTok.
 */
#include "ingest.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define N(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *const *const F_ID =
    N("id_str", "id", "pk", "pk_id", "user_id", "userid", "accountId", "open_id", "external_id");
static const char *const *const F_HANDLE =
    N("screen_name", "username", "handle", "unique_id", "user_name", "login");
static const char *const *const F_NAME = N("name", "full_name", "display_name", "nickname");
static const char *const *const F_BIO =
    N("description", "biography", "bio", "bio_description", "signature");
static const char *const *const F_URL_EXPANDED = N("entities.url.urls.0.expanded_url");
static const char *const *const F_URL = N("url", "website", "external_url", "bio_url");
static const char *const *const F_LOCATION = N("location");
static const char *const *const F_LANG = N("lang", "language");
static const char *const *const F_CREATED =
    N("created_at", "platform_created_at", "account_created_at", "joined_at");
static const char *const *const F_FOLLOWERS =
    N("followers_count", "public_metrics.followers_count", "follower_count",
      "edge_followed_by.count", "followers_count_str");
static const char *const *const F_FOLLOWING =
    N("friends_count", "following_count", "public_metrics.following_count", "follows_count",
      "edge_follow.count", "friends_count_str");
static const char *const *const F_POSTS =
    N("statuses_count", "posts_count", "public_metrics.tweet_count", "public_metrics.post_count",
      "tweet_count", "media_count", "video_count", "edge_owner_to_timeline_media.count",
      "statuses_count_str");
static const char *const *const F_LIKES =
    N("favourites_count", "favorites_count", "likes_count", "public_metrics.like_count",
      "like_count", "heart_count");
static const char *const *const F_LISTED = N("listed_count", "public_metrics.listed_count");
static const char *const *const F_LIKES_KIND = N("likes_kind");
static const char *const *const F_DEFAULT_FLAG =
    N("default_profile_image", "default_avatar", "has_anonymous_profile_picture");
static const char *const *const F_HAS_PICTURE =
    N("has_profile_pic", "has_profile_picture", "has_profile_image", "has_avatar");
static const char *const *const F_AVATAR_URL =
    N("profile_image_url_https", "profile_image_url", "profile_pic_url", "profile_pic_url_hd",
      "profile_picture_url", "avatar_url", "avatar_url_100", "avatar_large_url");
static const char *const *const F_VERIFIED = N("verified", "is_verified");
static const char *const *const F_VERIFIED_TYPE = N("verified_type");
static const char *const *const F_PROTECTED = N("protected", "is_private", "private");
static const char *const *const F_LAST_POST =
    N("last_post_at", "status.created_at", "last_tweet_at", "latest_post_at");
static const char *const *const F_LAST_POST_ID =
    N("most_recent_tweet_id", "most_recent_post_id", "status.id_str");
static const char *const *const F_OBSERVED =
    N("observed_at", "updated", "crawled_at", "fetched_at", "retrieved_at");
static const char *const *const F_FOLLOWED = N("followed_at", "follow_time", "followed_on");
static const char *const *const F_USER_LINK = N("userLink");
/* Instagram "Download your information" entries */
static const char *const *const F_IGX = N("string_list_data");
static const char *const *const F_IGX_VALUE = N("string_list_data.0.value");
static const char *const *const F_IGX_HREF = N("string_list_data.0.href");
static const char *const *const F_IGX_TIME = N("string_list_data.0.timestamp");
static const char *const *const F_IGX_TITLE = N("title");

bool rr_avatar_is_default(const char *url, size_t len)
{
    static const char *const marks[] = {
        "/sticky/default_profile_images/", /* X today */
        "/default_profile_",               /* X's older eggs: default_profile_2_normal.png */
        "44884218_345707102882519_2446069589734326272_n", /* Instagram's anonymous picture */
        "YW5vbnltb3VzX3Byb2ZpbGVfcGlj",                   /* ig_cache_key "anonymous_profile_pic" */
        NULL};
    if (len == 0)
        return true; /* no picture at all */
    for (const char *const *m = marks; *m; m++) {
        size_t ml = strlen(*m);
        for (size_t i = 0; i + ml <= len; i++)
            if (url[i] == (*m)[0] && !memcmp(url + i, *m, ml))
                return true;
    }
    return false;
}

static bool fail(const char **field, const char **why, const char *f, const char *w)
{
    *field = f;
    *why = w;
    return false;
}

/* A text field: 1 set, 0 absent, -1 invalid. JSON null → "" when
 * null_is_empty. */
static int text_field(const rr_source_t *src, const char *const *names, size_t max,
                      bool null_is_empty, const char **s, size_t *len, const char **field,
                      const char **why)
{
    rr_val_t v = rr_src_get(src, names);
    if (v.kind == RR_V_NULL && null_is_empty && !v.csv) {
        *s = "";
        *len = 0;
        return 1;
    }
    int rc = rr_val_text(&v, max, s, len, NULL, why);
    if (rc < 0)
        *field = v.name;
    return rc;
}

static int count_field(const rr_source_t *src, const char *const *names, int64_t *out,
                       const char **field, const char **why)
{
    rr_val_t v = rr_src_get(src, names);
    int rc = rr_val_count(&v, out, why);
    if (rc < 0)
        *field = v.name;
    return rc;
}

static int bool_field(const rr_source_t *src, const char *const *names, bool *out,
                      const char **field, const char **why)
{
    rr_val_t v = rr_src_get(src, names);
    int rc = rr_val_bool(&v, out, why);
    if (rc < 0)
        *field = v.name;
    return rc;
}

static int time_field(const rr_source_t *src, const char *const *names, int64_t *out,
                      const char **field, const char **why)
{
    rr_val_t v = rr_src_get(src, names);
    int rc = rr_val_time(&v, out, why);
    if (rc < 0)
        *field = v.name;
    return rc;
}

static bool all_digits(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* "https://www.instagram.com/_u/ana.r/?hl=en" → "ana.r" */
static bool handle_from_href(const char *href, size_t len, const char **h, size_t *hlen)
{
    const char *q = memchr(href, '?', len);
    if (q)
        len = (size_t)(q - href);
    while (len && href[len - 1] == '/')
        len--;
    size_t start = len;
    while (start && href[start - 1] != '/')
        start--;
    if (start == len)
        return false;
    *h = href + start;
    *hlen = len - start;
    return true;
}

/* "https://twitter.com/intent/user?user_id=123" → "123" */
static bool id_from_user_link(const char *link, size_t len, const char **id, size_t *idlen)
{
    const char *k = NULL;
    for (size_t i = 0; i + 8 <= len; i++)
        if (!memcmp(link + i, "user_id=", 8)) {
            k = link + i + 8;
            break;
        }
    if (!k)
        return false;
    size_t n = 0;
    while (k + n < link + len && k[n] >= '0' && k[n] <= '9')
        n++;
    if (n == 0)
        return false;
    *id = k;
    *idlen = n;
    return true;
}

static bool set_handle_key(rr_profile_row_t *p, const char *h, size_t len, const char **field,
                           const char **why)
{
    while (len && *h == '@')
        h++, len--;
    if (len == 0)
        return fail(field, why, "handle", "is empty");
    if (len > 99)
        return fail(field, why, "handle", "is too long");
    if (!rr_utf8_valid(h, len))
        return fail(field, why, "handle", "is not valid UTF-8");
    p->handle = h;
    p->handle_len = len;
    p->idbuf[0] = '@';
    for (size_t i = 0; i < len; i++)
        p->idbuf[i + 1] = (char)tolower((unsigned char)h[i]);
    p->idbuf[len + 1] = '\0';
    p->external_id = p->idbuf;
    p->external_id_len = len + 1;
    return true;
}

bool rr_profile_normalise(const rr_source_t *src_in, const char *platform, rr_profile_row_t *p,
                          const char **field, const char **why)
{
    memset(p, 0, offsetof(rr_profile_row_t, idbuf));
    p->idbuf[0] = '\0';
    rr_source_t srcv = rr_src_unwrap(src_in);
    const rr_source_t *src = &srcv;

    /* ---- identity */
    if (src->id_only) {
        rr_val_t v = rr_src_get(src, N("id"));
        const char *s = NULL;
        size_t len = 0;
        if (rr_val_text(&v, 100, &s, &len, p->scratch, why) <= 0)
            return fail(field, why, "id", "must be an id or @handle");
        while (len && isspace((unsigned char)*s))
            s++, len--;
        while (len && isspace((unsigned char)s[len - 1]))
            len--;
        if (len == 0)
            return fail(field, why, "id", "is empty");
        if (s[0] == '@' || !all_digits(s, len)) {
            if (!set_handle_key(p, s, len, field, why))
                return false;
            p->bare = true;
            return true;
        }
        if (len > 100)
            return fail(field, why, "id", "is too long");
        memcpy(p->idbuf, s, len);
        p->idbuf[len] = '\0';
        p->external_id = p->idbuf;
        p->external_id_len = len;
        p->bare = true;
        return true;
    }

    const char *s;
    size_t len;
    int rc;
    if ((src->obj || src->jrec) && rr_src_get(src, F_IGX).kind != RR_V_ABSENT) {
        /* an Instagram export entry: a username and a follow time */
        rr_val_t v = rr_src_get(src, F_IGX_VALUE);
        if (v.kind != RR_V_STR || v.len == 0) {
            rr_val_t t = rr_src_get(src, F_IGX_TITLE);
            v = t.kind == RR_V_STR && t.len ? t : (rr_val_t){.kind = RR_V_ABSENT};
        }
        if (v.kind != RR_V_STR) {
            rr_val_t h = rr_src_get(src, F_IGX_HREF);
            const char *hs;
            size_t hl;
            if (h.kind == RR_V_STR && handle_from_href(h.s, h.len, &hs, &hl)) {
                v.kind = RR_V_STR;
                v.s = hs;
                v.len = hl;
            }
        }
        if (v.kind != RR_V_STR)
            return fail(field, why, "string_list_data", "holds no username");
        if (!set_handle_key(p, v.s, v.len, field, why))
            return false;
        rc = time_field(src, F_IGX_TIME, &p->followed_at, field, why);
        if (rc < 0)
            return false;
        p->has_followed_at = rc > 0;
        p->bare = true;
        return true;
    }

    rr_val_t idv = rr_src_get(src, F_ID);
    rc = rr_val_text(&idv, 100, &s, &len, p->scratch, why);
    if (rc < 0)
        return fail(field, why, idv.name, *why);
    if (rc > 0) {
        while (len && isspace((unsigned char)*s))
            s++, len--;
        while (len && isspace((unsigned char)s[len - 1]))
            len--;
    }
    if (rc == 0 || len == 0) {
        rr_val_t link = rr_src_get(src, F_USER_LINK);
        if (link.kind == RR_V_STR && id_from_user_link(link.s, link.len, &s, &len))
            rc = 1;
        else
            rc = 0;
    }
    if (rc > 0) {
        if (len > 100)
            return fail(field, why, idv.name ? idv.name : "id", "is too long");
        memcpy(p->idbuf, s, len);
        p->idbuf[len] = '\0';
        p->external_id = p->idbuf;
        p->external_id_len = len;
    }
    rc = text_field(src, F_HANDLE, 100, false, &s, &len, field, why);
    if (rc < 0)
        return false;
    if (rc > 0) {
        while (len && *s == '@')
            s++, len--;
        if (len) {
            p->handle = s;
            p->handle_len = len;
        }
    }
    if (!p->external_id) {
        if (!p->handle)
            return fail(field, why, "id", "is missing (give the platform's id or a handle)");
        if (!set_handle_key(p, p->handle, p->handle_len, field, why))
            return false;
    }

    /* ---- text */
    if (text_field(src, F_NAME, 200, true, &p->name, &p->name_len, field, why) < 0 ||
        text_field(src, F_BIO, 2000, true, &p->bio, &p->bio_len, field, why) < 0 ||
        text_field(src, F_LOCATION, 200, true, &p->location, &p->location_len, field, why) < 0)
        return false;
    rc = text_field(src, F_URL_EXPANDED, 2000, false, &p->url, &p->url_len, field, why);
    if (rc < 0)
        return false;
    if (rc == 0 || p->url_len == 0) {
        if (text_field(src, F_URL, 2000, true, &p->url, &p->url_len, field, why) < 0)
            return false;
    }
    rc = text_field(src, F_LANG, 20, false, &p->lang, &p->lang_len, field, why);
    if (rc < 0)
        return false;
    if (p->lang && p->lang_len == 0)
        p->lang = NULL;

    /* ---- counts */
    if ((rc = count_field(src, F_FOLLOWERS, &p->followers, field, why)) < 0)
        return false;
    p->has_followers = rc > 0;
    if ((rc = count_field(src, F_FOLLOWING, &p->following, field, why)) < 0)
        return false;
    p->has_following = rc > 0;
    if ((rc = count_field(src, F_POSTS, &p->posts, field, why)) < 0)
        return false;
    p->has_posts = rc > 0;
    if ((rc = count_field(src, F_LIKES, &p->likes, field, why)) < 0)
        return false;
    p->has_likes = rc > 0;
    if ((rc = count_field(src, F_LISTED, &p->listed, field, why)) < 0)
        return false;
    p->has_listed = rc > 0;
    if (p->has_likes) {
        rr_val_t k = rr_src_get(src, F_LIKES_KIND);
        if (k.kind == RR_V_STR && k.len) {
            if (k.len == 5 && !memcmp(k.s, "given", 5))
                p->likes_kind = "given";
            else if (k.len == 8 && !memcmp(k.s, "received", 8))
                p->likes_kind = "received";
            else
                return fail(field, why, k.name, "must be given or received");
        } else if (!strcmp(platform, "x")) {
            p->likes_kind = "given";
        } else if (!strcmp(platform, "tiktok")) {
            p->likes_kind = "received";
        }
    }

    /* ---- times */
    if ((rc = time_field(src, F_CREATED, &p->created_at, field, why)) < 0)
        return false;
    p->has_created = rc > 0;
    if ((rc = time_field(src, F_LAST_POST, &p->last_post_at, field, why)) < 0)
        return false;
    p->has_last_post = rc > 0;
    if (!p->has_last_post && !strcmp(platform, "x")) {
        rr_val_t v = rr_src_get(src, F_LAST_POST_ID);
        char idb[24];
        const char *is;
        size_t il;
        if (rr_val_text(&v, 30, &is, &il, idb, why) > 0 && il < sizeof idb) {
            char z[24];
            memcpy(z, is, il);
            z[il] = '\0';
            p->has_last_post = rr_time_from_snowflake(z, &p->last_post_at);
        }
    }
    if ((rc = time_field(src, F_OBSERVED, &p->observed_at, field, why)) < 0)
        return false;
    p->has_observed = rc > 0;
    if (p->has_observed && p->observed_at > rr_time_now_us() + 86400LL * 1000000)
        return fail(field, why, "observed_at", "is in the future");
    if ((rc = time_field(src, F_FOLLOWED, &p->followed_at, field, why)) < 0)
        return false;
    p->has_followed_at = rc > 0;

    /* ---- flags */
    if ((rc = bool_field(src, F_DEFAULT_FLAG, &p->default_avatar, field, why)) < 0)
        return false;
    p->has_default_avatar = rc > 0;
    if (!p->has_default_avatar) {
        bool has_pic;
        if ((rc = bool_field(src, F_HAS_PICTURE, &has_pic, field, why)) < 0)
            return false;
        if (rc > 0) {
            p->has_default_avatar = true;
            p->default_avatar = !has_pic;
        }
    }
    if (!p->has_default_avatar) {
        rr_val_t v = rr_src_get(src, F_AVATAR_URL);
        if (v.kind == RR_V_STR) {
            p->has_default_avatar = true;
            p->default_avatar = rr_avatar_is_default(v.s, v.len);
        }
    }
    if ((rc = bool_field(src, F_VERIFIED, &p->verified, field, why)) < 0)
        return false;
    p->has_verified = rc > 0;
    if (!p->has_verified) {
        rr_val_t v = rr_src_get(src, F_VERIFIED_TYPE);
        if (v.kind == RR_V_STR && v.len) {
            p->has_verified = true;
            p->verified = !(v.len == 4 && !strncasecmp(v.s, "none", 4));
        }
    }
    if ((rc = bool_field(src, F_PROTECTED, &p->protected_, field, why)) < 0)
        return false;
    p->has_protected = rc > 0;

    p->bare =
        !(p->name || p->bio || p->url || p->location || p->lang || p->has_created ||
          p->has_followers || p->has_following || p->has_posts || p->has_likes || p->has_listed ||
          p->has_default_avatar || p->has_verified || p->has_protected || p->has_last_post);
    return true;
}

void rr_profile_copy(rr_copybuf_t *c, const rr_profile_row_t *p)
{
    rr_copy_text(c, p->external_id, p->external_id_len);
    rr_copy_text(c, p->handle, p->handle_len);
    rr_copy_text(c, p->name, p->name_len);
    rr_copy_text(c, p->bio, p->bio_len);
    rr_copy_text(c, p->url, p->url_len);
    rr_copy_text(c, p->location, p->location_len);
    rr_copy_text(c, p->lang, p->lang_len);
    rr_copy_opt_time(c, p->has_created, p->created_at);
    rr_copy_opt_int(c, p->has_followers, p->followers);
    rr_copy_opt_int(c, p->has_following, p->following);
    rr_copy_opt_int(c, p->has_posts, p->posts);
    rr_copy_opt_int(c, p->has_likes, p->likes);
    rr_copy_opt_int(c, p->has_listed, p->listed);
    rr_copy_str(c, p->likes_kind);
    rr_copy_opt_bool(c, p->has_default_avatar, p->default_avatar);
    rr_copy_opt_bool(c, p->has_verified, p->verified);
    rr_copy_opt_bool(c, p->has_protected, p->protected_);
    rr_copy_opt_time(c, p->has_last_post, p->last_post_at);
    rr_copy_opt_time(c, p->has_observed, p->observed_at);
    rr_copy_opt_time(c, p->has_followed_at, p->followed_at);
    rr_copy_opt_bool(c, true, p->bare);
}
