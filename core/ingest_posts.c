/*
 * An account's posts and their metrics over time.
 *
 *   POST /v1/accounts/{account_id}/posts                 bulk posts (JSON, NDJSON, CSV)
 *   GET  /v1/accounts/{account_id}/posts?since=&until=&type=&limit=&cursor=
 *   GET  /v1/accounts/{account_id}/posts/{post_id}       with every metrics observation
 *
 * A post is keyed by its platform id: ingesting it again updates what the
 * new row reports (published time, type, text, URL) and adds its metrics as
 * one more observation at observed_at (default: the request's time), so the
 * series shows how engagement accrued. The same post at the same
 * observed_at twice in one request is a duplicate (the first is kept).
 *
 * Accepted shapes besides the canonical fields: X v2 posts (public_metrics,
 * non_public_metrics), X v1.1 and archive tweets ({"tweet": {...}}, counts as
 * strings), Instagram media (media_type/media_product_type, like_count,
 * comments_count, permalink, inline insights), TikTok videos (create_time,
 * video_description, share_url, *_count), Facebook posts (message,
 * permalink_url, created_time, likes.summary.total_count).
 */
#include "ingest.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define N(...) ((const char *const[]){__VA_ARGS__, NULL})
#define TENANT "realreach.current_tenant()"
#define STAGE "pg_temp.rr_stage_posts"

static const char *const *const P_ID = N("id_str", "id", "external_id", "media_id", "video_id");
static const char *const *const P_PUBLISHED =
    N("published_at", "created_at", "timestamp", "create_time", "created_time", "taken_at", "date");
static const char *const *const P_PRODUCT = N("media_product_type");
static const char *const *const P_TYPE = N("type", "media_type");
static const char *const *const P_TEXT =
    N("text", "full_text", "caption", "video_description", "message", "description", "title");
static const char *const *const P_URL = N("url", "permalink", "share_url", "permalink_url", "link");
static const char *const *const P_OBSERVED = N("observed_at", "metrics_observed_at", "fetched_at");

enum { M_LIKES, M_COMMENTS, M_SHARES, M_SAVES, M_IMPRESSIONS, M_REACH, M_VIEWS, M_CLICKS, M_N };
static const char *const metric_names[M_N] = {"likes",       "comments", "shares", "saves",
                                              "impressions", "reach",    "views",  "clicks"};
static const char *const *const metric_aliases[M_N] = {
    N("likes.summary.total_count", "likes", "like_count", "public_metrics.like_count",
      "favorite_count", "likes_count", "digg_count"),
    N("comments.summary.total_count", "comments", "comments_count", "comment_count", "reply_count",
      "public_metrics.reply_count"),
    N("shares.count", "shares", "share_count", "shares_count", "retweet_count",
      "public_metrics.retweet_count", "reposts"),
    N("saves", "saved", "save_count", "bookmark_count", "public_metrics.bookmark_count",
      "collect_count"),
    N("impressions", "impression_count", "public_metrics.impression_count",
      "non_public_metrics.impression_count", "organic_metrics.impression_count"),
    N("reach"),
    N("views", "view_count", "video_views", "plays", "play_count"),
    N("clicks", "url_link_clicks", "non_public_metrics.url_link_clicks", "post_clicks",
      "link_clicks"),
};
/* X counts quotes apart from retweets: both are shares */
static const char *const *const P_QUOTES = N("quote_count", "public_metrics.quote_count");
/* Instagram insights names → metric */
static const struct {
    const char *name;
    int metric;
} insight_names[] = {
    {"likes", M_LIKES},
    {"comments", M_COMMENTS},
    {"shares", M_SHARES},
    {"saved", M_SAVES},
    {"impressions", M_IMPRESSIONS},
    {"reach", M_REACH},
    {"views", M_VIEWS},
    {"plays", M_VIEWS},
    {"post_clicks", M_CLICKS},
};

static const struct {
    const char *in, *out;
} type_map[] = {
    {"text", "text"},         {"tweet", "text"},
    {"status", "text"},       {"image", "image"},
    {"photo", "image"},       {"video", "video"},
    {"carousel", "carousel"}, {"carousel_album", "carousel"},
    {"album", "carousel"},    {"reel", "reel"},
    {"reels", "reel"},        {"clip", "reel"},
    {"story", "story"},       {"link", "link"},
    {"other", "other"},
};

static const char SQL_STAGE[] =
    "CREATE TEMP TABLE rr_stage_posts (row_no bigint NOT NULL, external_id text COLLATE \"C\" NOT "
    "NULL,"
    " published_at timestamptz, type text, text text, url text, observed_at timestamptz NOT NULL,"
    " likes bigint, comments bigint, shares bigint, saves bigint, impressions bigint, reach bigint,"
    " views bigint, clicks bigint, has_metrics boolean NOT NULL, dup boolean NOT NULL DEFAULT "
    "false)"
    " ON COMMIT DROP";
static const char SQL_COPY[] =
    "COPY " STAGE " (row_no, external_id, published_at, type, text, url, observed_at, likes,"
    " comments, shares, saves, impressions, reach, views, clicks, has_metrics) FROM STDIN";

static const char SQL_DUPS[] =
    "WITH d AS (SELECT external_id, observed_at, min(row_no) AS first_row FROM " STAGE
    "            GROUP BY external_id, observed_at HAVING count(*) > 1),"
    " u AS (UPDATE " STAGE " s SET dup = true FROM d"
    "        WHERE s.external_id = d.external_id AND s.observed_at = d.observed_at"
    "          AND s.row_no > d.first_row"
    "        RETURNING s.row_no, d.first_row, s.external_id)"
    " SELECT row_no, first_row, external_id, count(*) OVER () FROM u ORDER BY row_no LIMIT 20";

#define NEW_WITHOUT_TIME                                                                           \
    " FROM " STAGE " s WHERE s.published_at IS NULL AND NOT EXISTS (SELECT 1 FROM " STAGE " o"     \
    "   WHERE o.external_id = s.external_id AND o.published_at IS NOT NULL)"                       \
    " AND NOT EXISTS (SELECT 1 FROM realreach.posts p WHERE p.tenant_id = " TENANT                 \
    "   AND p.account_id = $1 AND p.external_id = s.external_id)"
static const char SQL_LATE_ERRORS[] =
    "SELECT s.row_no, 'published_at', 'is required for a post not stored before', count(*) OVER "
    "()" NEW_WITHOUT_TIME " ORDER BY s.row_no LIMIT 20";
static const char SQL_LATE_DELETE[] = "DELETE" NEW_WITHOUT_TIME;

/* What the latest observation of a post in the request says, field by field
 * (a field it leaves out comes from an earlier row). */
#define LATEST(f)                                                                                  \
    "(array_agg(" #f " ORDER BY observed_at DESC, row_no DESC) FILTER (WHERE " #f                  \
    " IS NOT NULL))[1]"
static const char SQL_POSTS[] =
    "WITH up AS ("
    " INSERT INTO realreach.posts AS p (tenant_id, account_id, external_id, published_at, type, "
    "text, url)"
    " SELECT " TENANT ", $1, s.external_id, COALESCE(s.published_at, old.published_at), s.type,"
    "   s.text, s.url"
    "   FROM (SELECT external_id, " LATEST(published_at) " AS published_at, " LATEST(
        type) "   AS type, " LATEST(text) " AS text, " LATEST(url) " AS url"
                                                                   "           FROM " STAGE
                                                                   " WHERE NOT dup GROUP BY "
                                                                   "external_id) s"
                                                                   "   LEFT JOIN realreach.posts "
                                                                   "old ON old.tenant_id = " TENANT
                                                                   " AND old.account_id = $1"
                                                                   "                               "
                                                                   " AND old.external_id = "
                                                                   "s.external_id"
                                                                   /* (a NOT NULL column is checked
                                                                    * before ON CONFLICT is: a post
                                                                    * sent again without its time
                                                                    * takes the stored one) */
                                                                   " ON CONFLICT (tenant_id, "
                                                                   "account_id, external_id) DO "
                                                                   "UPDATE SET"
                                                                   "   published_at = "
                                                                   "COALESCE(EXCLUDED.published_at,"
                                                                   " p.published_at),"
                                                                   "   type = "
                                                                   "COALESCE(EXCLUDED.type, "
                                                                   "p.type), text = "
                                                                   "COALESCE(EXCLUDED.text, "
                                                                   "p.text),"
                                                                   "   url = "
                                                                   "COALESCE(EXCLUDED.url, p.url), "
                                                                   "updated_at = now()"
                                                                   " RETURNING (xmax = 0) AS "
                                                                   "created)"
                                                                   " SELECT count(*) FILTER (WHERE "
                                                                   "created), count(*) FILTER "
                                                                   "(WHERE NOT created) FROM up";

#define KEEP(f) #f " = COALESCE(EXCLUDED." #f ", m." #f ")"
static const char SQL_METRICS[] =
    "INSERT INTO realreach.post_metrics AS m (tenant_id, post_id, observed_at, likes, comments,"
    "   shares, saves, impressions, reach, views, clicks)"
    " SELECT " TENANT ", p.id, s.observed_at, s.likes, s.comments, s.shares, s.saves,"
    "   s.impressions, s.reach, s.views, s.clicks"
    "   FROM " STAGE " s JOIN realreach.posts p ON p.tenant_id = " TENANT " AND p.account_id = $1"
    "                                         AND p.external_id = s.external_id"
    "  WHERE NOT s.dup AND s.has_metrics"
    " ON CONFLICT (tenant_id, post_id, observed_at) DO UPDATE SET " KEEP(likes) ", " KEEP(comments) ", " KEEP(
        shares) ", " KEEP(saves) ", " KEEP(impressions) ", " KEEP(reach) ", " KEEP(views) ", " KEEP(clicks);

static json_t *unwrap(json_t *obj)
{
    if (json_object_size(obj) == 1) {
        json_t *in = json_object_get(obj, "tweet"); /* X archive tweets.js */
        if (json_is_object(in))
            return in;
    }
    return obj;
}

static const char *map_type(const char *s, size_t len)
{
    char low[32];
    if (len == 0 || len >= sizeof low)
        return NULL;
    for (size_t i = 0; i < len; i++)
        low[i] = (char)tolower((unsigned char)s[i]);
    low[len] = '\0';
    for (size_t i = 0; i < sizeof type_map / sizeof *type_map; i++)
        if (!strcmp(type_map[i].in, low))
            return type_map[i].out;
    return NULL;
}

static bool post_row(rr_bulk_t *b, const rr_source_t *src_in, int64_t row, void *ud)
{
    (void)ud;
    if (src_in->id_only)
        return rr_bulk_error(b, row, NULL, "must be an object");
    rr_source_t srcv = *src_in;
    if (srcv.obj)
        srcv.obj = unwrap(srcv.obj);
    const rr_source_t *src = &srcv;
    const char *why = NULL, *s;
    size_t len;
    char numbuf[32];

    rr_val_t v = rr_src_get(src, P_ID);
    int rc = rr_val_text(&v, 100, &s, &len, numbuf, &why);
    if (rc < 0)
        return rr_bulk_error(b, row, v.name, "%s", why);
    if (rc == 0 || len == 0)
        return rr_bulk_error(b, row, "external_id", "is required (the platform's post id)");
    const char *ext = s;
    size_t ext_len = len;
    char extbuf[32];
    if (ext == numbuf) { /* numbuf is reused below */
        memcpy(extbuf, numbuf, len + 1);
        ext = extbuf;
    }

    int64_t published = 0, observed = b->now_us;
    v = rr_src_get(src, P_PUBLISHED);
    if ((rc = rr_val_time(&v, &published, &why)) < 0)
        return rr_bulk_error(b, row, v.name, "%s", why);
    bool has_published = rc > 0;
    v = rr_src_get(src, P_OBSERVED);
    if ((rc = rr_val_time(&v, &observed, &why)) < 0)
        return rr_bulk_error(b, row, v.name, "%s", why);
    if (rc == 0)
        observed = b->now_us;
    if (observed > b->now_us + 86400LL * 1000000)
        return rr_bulk_error(b, row, v.name ? v.name : "observed_at", "is in the future");

    const char *type = NULL;
    v = rr_src_get(src, P_PRODUCT);
    if (v.kind == RR_V_STR && (type = map_type(v.s, v.len)) != NULL && strcmp(type, "reel") &&
        strcmp(type, "story"))
        type = NULL; /* FEED / AD: the media type says more */
    if (!type) {
        v = rr_src_get(src, P_TYPE);
        if (v.kind == RR_V_STR && v.len) {
            type = map_type(v.s, v.len);
            if (!type)
                return rr_bulk_error(b, row, v.name,
                                     "must be text, image, video, carousel, reel, story, link "
                                     "or other");
        } else if (v.kind != RR_V_ABSENT && v.kind != RR_V_NULL && !(v.kind == RR_V_STR)) {
            return rr_bulk_error(b, row, v.name, "must be a string");
        }
    }

    const char *text = NULL, *url = NULL;
    size_t text_len = 0, url_len = 0;
    v = rr_src_get(src, P_TEXT);
    if (rr_val_text(&v, 10000, &text, &text_len, NULL, &why) < 0)
        return rr_bulk_error(b, row, v.name, "%s", why);
    v = rr_src_get(src, P_URL);
    if (rr_val_text(&v, 2000, &url, &url_len, NULL, &why) < 0)
        return rr_bulk_error(b, row, v.name, "%s", why);

    int64_t m[M_N];
    bool has[M_N], any = false;
    for (int i = 0; i < M_N; i++) {
        v = rr_src_get(src, metric_aliases[i]);
        if ((rc = rr_val_count(&v, &m[i], &why)) < 0)
            return rr_bulk_error(b, row, v.name ? v.name : metric_names[i], "%s", why);
        has[i] = rc > 0;
    }
    int64_t quotes;
    v = rr_src_get(src, P_QUOTES);
    if ((rc = rr_val_count(&v, &quotes, &why)) < 0)
        return rr_bulk_error(b, row, v.name, "%s", why);
    if (rc > 0 && has[M_SHARES])
        m[M_SHARES] += quotes;
    /* Instagram insights inline: {"insights": {"data": [{"name", "values": [{"value"}]}]}} */
    json_t *ins = src->obj ? json_object_get(json_object_get(src->obj, "insights"), "data") : NULL;
    size_t i;
    json_t *item;
    json_array_foreach(ins, i, item)
    {
        const char *name = json_string_value(json_object_get(item, "name"));
        json_t *val = json_object_get(json_array_get(json_object_get(item, "values"), 0), "value");
        for (size_t k = 0; name && k < sizeof insight_names / sizeof *insight_names; k++)
            if (!strcmp(insight_names[k].name, name) && json_is_integer(val) &&
                json_integer_value(val) >= 0 && !has[insight_names[k].metric]) {
                has[insight_names[k].metric] = true;
                m[insight_names[k].metric] = json_integer_value(val);
            }
    }
    for (int k = 0; k < M_N; k++)
        any |= has[k];

    rr_copy_int(&b->copy, row);
    rr_copy_text(&b->copy, ext, ext_len);
    rr_copy_opt_time(&b->copy, has_published, published);
    rr_copy_str(&b->copy, type);
    rr_copy_text(&b->copy, text, text_len);
    rr_copy_text(&b->copy, url, url_len);
    rr_copy_opt_time(&b->copy, true, observed);
    for (int k = 0; k < M_N; k++)
        rr_copy_opt_int(&b->copy, has[k], m[k]);
    rr_copy_opt_bool(&b->copy, true, any);
    rr_copy_row_end(&b->copy);
    return true;
}

static rr_rc_t posts_post(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    rr_account_ref_t acct;
    rr_rc_t rc = rr_account_load(ctx, &acct);
    if (rc != RR_OK)
        return rc;
    rr_bulk_t b;
    if ((rc = rr_bulk_init(&b, ctx, &acct)) != RR_OK)
        return rc;
    b.stage_all = true; /* the checks after staging need every row */
    const char *p[1] = {acct.id_text};
    rc = rr_bulk_stream(&b, SQL_STAGE, SQL_COPY, post_row, NULL);
    if (rc == RR_OK)
        rc = rr_bulk_tune(&b, "ANALYZE " STAGE);
    if (rc == RR_OK)
        rc = rr_bulk_sql_dups(&b, SQL_DUPS, 0, NULL);
    if (rc == RR_OK)
        rc = rr_bulk_sql_errors(&b, SQL_LATE_ERRORS, SQL_LATE_DELETE, 1, p);
    if (rc == RR_OK && rr_bulk_refused(&b))
        rc = RR_INVALID;
    if (rc != RR_OK) {
        rr_bulk_cleanup(&b);
        return rc;
    }
    PGresult *r = rr_db_query(ctx, SQL_POSTS, 1, p);
    if (!r) {
        rr_bulk_cleanup(&b);
        return RR_DB_ERROR;
    }
    int64_t created = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    int64_t updated = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    PQclear(r);
    r = rr_db_query(ctx, SQL_METRICS, 1, p);
    if (!r) {
        rr_bulk_cleanup(&b);
        return RR_DB_ERROR;
    }
    int64_t observations = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    int64_t accepted = b.valid - b.duplicates;
    json_t *body = rr_bulk_counts(&b, accepted);
    json_object_set_new(body, "posts",
                        json_pack("{s:I,s:I,s:I}", "created", (json_int_t)created, "updated",
                                  (json_int_t)updated, "observations", (json_int_t)observations));
    if (accepted > 0) {
        json_t *ev = json_pack("{s:I,s:I,s:I,s:I}", "account_id", (json_int_t)acct.id, "created",
                               (json_int_t)created, "updated", (json_int_t)updated, "observations",
                               (json_int_t)observations);
        rc = rr_event_emit(ctx, "posts.stored", ev);
        json_decref(ev);
    }
    rr_bulk_cleanup(&b);
    if (rc != RR_OK) {
        json_decref(body);
        return rc;
    }
    return rr_respond_json(ctx, 201, body);
}

/* ------------------------------------------------------------------ GET */

#define POST_COLS                                                                                  \
    "p.id, p.external_id, realreach.iso(p.published_at) AS published_at, p.type, p.text, p.url,"   \
    " realreach.iso(p.created_at) AS created_at, realreach.iso(p.updated_at) AS updated_at"
#define METRIC_JSON(m)                                                                             \
    "jsonb_build_object('observed_at', realreach.iso(" m ".observed_at), 'likes', " m ".likes,"    \
    " 'comments', " m ".comments, 'shares', " m ".shares, 'saves', " m ".saves,"                   \
    " 'impressions', " m ".impressions, 'reach', " m ".reach, 'views', " m ".views,"               \
    " 'clicks', " m ".clicks)"

static const char *const post_types[] = {"text",  "image", "video", "carousel", "reel",
                                         "story", "link",  "other", NULL};

static rr_rc_t posts_list(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    rr_account_ref_t acct;
    rr_page_t page;
    rr_rc_t rc = rr_account_load(ctx, &acct);
    if (rc != RR_OK)
        return rc;
    if (rr_page_begin(ctx, &page) != RR_OK)
        return RR_INVALID;
    bool has_since, has_until;
    int64_t since, until;
    if (rr_query_time(ctx, "since", &has_since, &since) != RR_OK ||
        rr_query_time(ctx, "until", &has_until, &until) != RR_OK)
        return RR_INVALID;
    const char *type;
    if (rr_query_one_of(ctx, "type", post_types, &type) != RR_OK)
        return RR_INVALID;
    char ts[32], tu[32];
    rr_time_format(since, ts);
    rr_time_format(until, tu);
    const char *p[6] = {
        acct.id_text,          rr_i64(ctx, page.after_id), rr_i64(ctx, page.limit + 1),
        has_since ? ts : NULL, has_until ? tu : NULL,      type};
    PGresult *r = rr_db_query(
        ctx,
        "SELECT " POST_COLS ", CASE WHEN m.observed_at IS NULL THEN NULL ELSE " METRIC_JSON(
            "m") " END AS metrics"
                 "  FROM realreach.posts p"
                 "  LEFT JOIN LATERAL (SELECT * FROM realreach.post_metrics pm"
                 "                      WHERE pm.tenant_id = p.tenant_id AND pm.post_id = p.id"
                 "                      ORDER BY pm.observed_at DESC LIMIT 1) m ON true"
                 " WHERE p.tenant_id = " TENANT " AND p.account_id = $1 AND p.id > $2"
                 "   AND ($4::timestamptz IS NULL OR p.published_at >= $4::timestamptz)"
                 "   AND ($5::timestamptz IS NULL OR p.published_at < $5::timestamptz)"
                 "   AND ($6::text IS NULL OR p.type = $6)"
                 " ORDER BY p.id LIMIT $3",
        6, p);
    if (!r)
        return RR_DB_ERROR;
    return rr_page_respond_rows(ctx, &page, r);
}

static rr_rc_t posts_get(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    rr_account_ref_t acct;
    int64_t pid;
    rr_rc_t rc = rr_account_load(ctx, &acct);
    if (rc != RR_OK)
        return rc;
    if (rr_host_api.param_id(ctx, "post_id", &pid) != RR_OK)
        return RR_INVALID;
    const char *p[2] = {acct.id_text, rr_i64(ctx, pid)};
    PGresult *r = rr_db_query(
        ctx,
        "SELECT " POST_COLS ", COALESCE((SELECT jsonb_agg(" METRIC_JSON(
            "m") " ORDER BY m.observed_at) FROM realreach.post_metrics m"
                 "   WHERE m.tenant_id = p.tenant_id AND m.post_id = p.id), '[]'::jsonb) AS metrics"
                 "  FROM realreach.posts p WHERE p.tenant_id = " TENANT
                 " AND p.account_id = $1 AND p.id = $2",
        2, p);
    if (!r)
        return RR_DB_ERROR;
    if (PQntuples(r) == 0) {
        PQclear(r);
        return rr_problem(ctx, 404, "not-found", "post_id", "no such post");
    }
    json_t *post = rr_row_json(r, 0);
    PQclear(r);
    return rr_respond_json(ctx, 200, post);
}

#define METRICS_SCHEMA                                                                             \
    "{\"type\":[\"object\",\"null\"],\"properties\":{\"observed_at\":{\"type\":\"string\","        \
    "\"format\":\"date-time\"},"                                                                   \
    "\"likes\":{\"type\":[\"integer\",\"null\"]},\"comments\":{\"type\":[\"integer\",\"null\"]},"  \
    "\"shares\":{\"type\":[\"integer\",\"null\"]},\"saves\":{\"type\":[\"integer\",\"null\"]},"    \
    "\"impressions\":{\"type\":[\"integer\",\"null\"]},\"reach\":{\"type\":[\"integer\",\"null\"]" \
    "},"                                                                                           \
    "\"views\":{\"type\":[\"integer\",\"null\"]},\"clicks\":{\"type\":[\"integer\",\"null\"]}}}"
#define POST_PROPS                                                                                 \
    "\"id\":{\"type\":\"integer\"},\"external_id\":{\"type\":\"string\"},"                         \
    "\"published_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                             \
    "\"type\":{\"type\":[\"string\",\"null\"]},\"text\":{\"type\":[\"string\",\"null\"]},"         \
    "\"url\":{\"type\":[\"string\",\"null\"]},\"created_at\":{\"type\":\"string\"},"               \
    "\"updated_at\":{\"type\":\"string\"}"

void rr_routes_posts_register(void)
{
    static const rr_route_def_t defs[] = {
        {sizeof(rr_route_def_t), "POST", "/v1/accounts/{account_id}/posts", RR_SCOPE_WRITE,
         posts_post, NULL,
         "Store posts with their metrics (a post sent again updates it and adds an observation)",
         RR_INGEST_BODY("Posts {external_id, published_at, type, text, url, likes, comments, "
                        "shares, saves, impressions, reach, views, clicks, observed_at}"),
         "{\"type\":\"object\",\"properties\":{" RR_INGEST_COUNTS_PROPS
         ",\"posts\":{\"type\":\"object\"}}}",
         RR_ROUTE_STREAM_BODY | RR_ROUTE_IDEMPOTENT},
        {sizeof(rr_route_def_t), "GET", "/v1/accounts/{account_id}/posts", RR_SCOPE_READ,
         posts_list, NULL,
         "List an account's posts with their latest metrics (filters: since, until, type)", NULL,
         RR_INGEST_PAGE_OF("{\"type\":\"object\",\"properties\":{" POST_PROPS
                           ",\"metrics\":" METRICS_SCHEMA "}}"),
         0},
        {sizeof(rr_route_def_t), "GET", "/v1/accounts/{account_id}/posts/{post_id}", RR_SCOPE_READ,
         posts_get, NULL, "Read a post with every observation of its metrics", NULL,
         "{\"type\":\"object\",\"properties\":{" POST_PROPS
         ",\"metrics\":{\"type\":\"array\",\"items\":" METRICS_SCHEMA "}}}",
         0},
    };
    for (size_t i = 0; i < sizeof defs / sizeof *defs; i++)
        rr_router_add(&defs[i], "core");
}
