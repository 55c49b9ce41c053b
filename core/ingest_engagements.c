/*
 * Who engaged with which post.
 *
 *   POST /v1/accounts/{account_id}/engagements   bulk (JSON, NDJSON, CSV)
 *   GET  /v1/accounts/{account_id}/engagements?post_id=&kind=&since=&until=&limit=&cursor=
 *
 * A row names the post (post_external_id: the platform's id, or post_id:
 * realreach's), the kind (like, comment, share, mention, reply; favorite,
 * retweet, repost and quote are read as like and share), when (occurred_at,
 * optional), the comment's text and id, and the profile: a nested object
 * under "profile", "user", "from", "author" or "owner" in any shape the
 * follower routes accept, columns prefixed "profile_" in CSV, or just an
 * author_id / username. Engagers become profiles like followers do.
 *
 * A row naming a post the account does not have is invalid. An engagement
 * is one (post, profile, kind, comment id, time): sent again it is not
 * stored twice; twice in one request it is reported as a duplicate.
 */
#include "ingest.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(...) ((const char *const[]){__VA_ARGS__, NULL})
#define TENANT "realreach.current_tenant()"
#define STAGE "pg_temp.rr_stage_engagements"

static const char *const *const E_POST_EXT =
    N("post_external_id", "post", "media_id", "tweet_id", "video_id");
static const char *const *const E_POST_ID = N("post_id");
static const char *const *const E_KIND = N("kind", "type", "engagement");
static const char *const *const E_TIME =
    N("occurred_at", "created_at", "timestamp", "time", "create_time", "created_time");
static const char *const *const E_TEXT = N("text", "message", "comment");
static const char *const *const E_EXT = N("external_id", "comment_id", "id");
static const char *const *const E_AUTHOR_ID = N("author_id", "user_id", "from_id");
static const char *const *const E_AUTHOR_HANDLE = N("username", "screen_name", "author_username");

static const char *const *const P_ANY =
    N("id", "external_id", "handle", "username", "screen_name", "id_str");
static const char *const profile_keys[] = {"profile", "user", "from", "author", "owner", NULL};

static const struct {
    const char *in, *out;
} kinds[] = {
    {"like", "like"},        {"likes", "like"},      {"favorite", "like"},
    {"favourite", "like"},   {"reaction", "like"},   {"comment", "comment"},
    {"comments", "comment"}, {"reply", "reply"},     {"replied_to", "reply"},
    {"share", "share"},      {"shares", "share"},    {"retweet", "share"},
    {"retweeted", "share"},  {"repost", "share"},    {"quote", "share"},
    {"quoted", "share"},     {"mention", "mention"}, {"mentions", "mention"},
};

static const char SQL_STAGE[] =
    "CREATE TEMP TABLE rr_stage_engagements (row_no bigint NOT NULL,"
    " post_external_id text COLLATE \"C\", post_id bigint, kind text NOT NULL,"
    " occurred_at timestamptz, eng_text text, eng_external_id text COLLATE "
    "\"C\", " RR_PROFILE_STAGE_COLUMNS ", dup boolean NOT NULL DEFAULT false, resolved_post bigint)"
    " ON COMMIT DROP";
static const char SQL_COPY[] =
    "COPY " STAGE " (row_no, post_external_id, post_id, kind, occurred_at, eng_text,"
    " eng_external_id, " RR_PROFILE_STAGE_NAMES ") FROM STDIN";

static const char SQL_RESOLVE_EXT[] =
    "UPDATE " STAGE " s SET resolved_post = p.id FROM realreach.posts p"
    " WHERE p.tenant_id = " TENANT " AND p.account_id = $1 AND s.post_external_id IS NOT NULL"
    "   AND p.external_id = s.post_external_id";
static const char SQL_RESOLVE_ID[] =
    "UPDATE " STAGE " s SET resolved_post = p.id FROM realreach.posts p"
    " WHERE p.tenant_id = " TENANT " AND p.account_id = $1 AND s.resolved_post IS NULL"
    "   AND s.post_id IS NOT NULL AND p.id = s.post_id";
static const char SQL_UNKNOWN_POSTS[] =
    "SELECT row_no, CASE WHEN post_external_id IS NULL THEN 'post_id' ELSE 'post_external_id' END,"
    " 'no such post of this account (store the post first)', count(*) OVER ()"
    "  FROM " STAGE " WHERE resolved_post IS NULL AND $1::bigint > 0 ORDER BY row_no LIMIT 20";
static const char SQL_UNKNOWN_DELETE[] =
    "DELETE FROM " STAGE " WHERE resolved_post IS NULL AND $1::bigint > 0";

static const char SQL_DUPS[] =
    "WITH d AS (SELECT resolved_post, external_id, kind, COALESCE(eng_external_id, '') AS e,"
    "                  COALESCE(occurred_at, '-infinity') AS t, min(row_no) AS first_row"
    "             FROM " STAGE " GROUP BY 1, 2, 3, 4, 5 HAVING count(*) > 1),"
    " u AS (UPDATE " STAGE " s SET dup = true FROM d"
    "        WHERE s.resolved_post = d.resolved_post AND s.external_id = d.external_id"
    "          AND s.kind = d.kind AND COALESCE(s.eng_external_id, '') = d.e"
    "          AND COALESCE(s.occurred_at, '-infinity') = d.t AND s.row_no > d.first_row"
    "        RETURNING s.row_no, d.first_row, s.kind || ' by ' || s.external_id AS k)"
    " SELECT row_no, first_row, k, count(*) OVER () FROM u ORDER BY row_no LIMIT 20";

/* One row per engager: the most informative, latest observation. */
static const char SQL_PROFILES[] =
    "INSERT INTO pg_temp.rr_stage_profiles (row_no, " RR_PROFILE_STAGE_NAMES ", orig_id)"
    " SELECT DISTINCT ON (external_id) row_no, " RR_PROFILE_STAGE_NAMES ", external_id"
    "   FROM " STAGE " WHERE NOT dup"
    "  ORDER BY external_id, bare, observed_at DESC NULLS LAST, row_no";

static const char SQL_INSERT[] =
    "WITH ins AS ("
    " INSERT INTO realreach.engagements (tenant_id, post_id, profile_id, kind, occurred_at, text,"
    "   external_id)"
    " SELECT " TENANT ", e.resolved_post, sp.profile_id, e.kind, e.occurred_at, e.eng_text,"
    "   e.eng_external_id"
    "   FROM " STAGE " e"
    "   JOIN pg_temp.rr_stage_profiles sp ON sp.orig_id = e.external_id"
    "  WHERE NOT e.dup AND $1::text IS NOT NULL"
    " ON CONFLICT (tenant_id, post_id, profile_id, kind, COALESCE(external_id, ''),"
    "   COALESCE(occurred_at, '-infinity'::timestamptz)) DO NOTHING"
    " RETURNING post_id)"
    " SELECT count(*), count(DISTINCT post_id) FROM ins";

typedef struct eng_scratch {
    rr_profile_row_t profile;
} eng_scratch_t;

static const char *map_kind(const char *s, size_t len)
{
    char low[24];
    if (len == 0 || len >= sizeof low)
        return NULL;
    for (size_t i = 0; i < len; i++)
        low[i] = (char)tolower((unsigned char)s[i]);
    low[len] = '\0';
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (!strcmp(kinds[i].in, low))
            return kinds[i].out;
    return NULL;
}

static bool engagement_row(rr_bulk_t *b, const rr_source_t *src, int64_t row, void *ud)
{
    eng_scratch_t *sc = ud;
    if (src->id_only)
        return rr_bulk_error(b, row, NULL, "must be an object");
    const char *why = NULL;
    char numbuf[32];

    /* the post */
    const char *post_ext = NULL;
    size_t post_ext_len = 0;
    rr_val_t v = rr_src_get(src, E_POST_EXT);
    int rc = rr_val_text(&v, 100, &post_ext, &post_ext_len, numbuf, &why);
    if (rc < 0)
        return rr_bulk_error(b, row, v.name, "%s", why);
    char post_ext_buf[32];
    if (rc > 0 && post_ext == numbuf) {
        memcpy(post_ext_buf, numbuf, post_ext_len + 1);
        post_ext = post_ext_buf;
    }
    int64_t post_id = 0;
    bool has_post_id = false;
    if (rc <= 0 || post_ext_len == 0) {
        post_ext = NULL;
        v = rr_src_get(src, E_POST_ID);
        if ((rc = rr_val_count(&v, &post_id, &why)) < 0 || (rc > 0 && post_id == 0))
            return rr_bulk_error(b, row, v.name, "must be a realreach post id");
        if (rc == 0)
            return rr_bulk_error(b, row, "post_external_id",
                                 "is required (or post_id, realreach's id of the post)");
        has_post_id = true;
    }

    /* what and when */
    v = rr_src_get(src, E_KIND);
    if (v.kind != RR_V_STR || v.len == 0)
        return rr_bulk_error(b, row, v.name ? v.name : "kind",
                             "is required: like, comment, share, mention or reply");
    const char *kind = map_kind(v.s, v.len);
    if (!kind)
        return rr_bulk_error(b, row, v.name, "must be like, comment, share, mention or reply");
    int64_t at = 0;
    v = rr_src_get(src, E_TIME);
    if ((rc = rr_val_time(&v, &at, &why)) < 0)
        return rr_bulk_error(b, row, v.name, "%s", why);
    bool has_at = rc > 0;
    const char *text = NULL;
    size_t text_len = 0;
    v = rr_src_get(src, E_TEXT);
    if (rr_val_text(&v, 10000, &text, &text_len, NULL, &why) < 0)
        return rr_bulk_error(b, row, v.name, "%s", why);
    const char *ext = NULL;
    size_t ext_len = 0;
    char extbuf[32];
    v = rr_src_get(src, E_EXT);
    if ((rc = rr_val_text(&v, 100, &ext, &ext_len, extbuf, &why)) < 0)
        return rr_bulk_error(b, row, v.name, "%s", why);

    /* who: a nested profile, prefixed columns, or an author id / username */
    rr_source_t ps;
    memset(&ps, 0, sizeof ps);
    json_t *tmp = NULL;
    for (const char *const *k = profile_keys; src->obj && *k && !ps.obj; k++) {
        json_t *o = json_object_get(src->obj, *k);
        if (json_is_object(o))
            ps.obj = o;
    }
    if (!ps.obj) {
        ps = *src;
        ps.prefix = "profile_";
        if (!rr_src_has(&ps, P_ANY)) {
            ps.prefix = NULL;
            rr_val_t a = rr_src_get(src, E_AUTHOR_ID);
            rr_val_t h = rr_src_get(src, E_AUTHOR_HANDLE);
            const char *as = NULL, *hs = NULL;
            size_t al = 0, hl = 0;
            char abuf[32];
            if (rr_val_text(&a, 100, &as, &al, abuf, &why) < 0)
                return rr_bulk_error(b, row, a.name, "%s", why);
            if (rr_val_text(&h, 100, &hs, &hl, NULL, &why) < 0)
                return rr_bulk_error(b, row, h.name, "%s", why);
            if (!as && !hs)
                return rr_bulk_error(b, row, "profile",
                                     "is required: a profile object, profile_* columns, "
                                     "author_id or username");
            tmp = json_object();
            if (as)
                json_object_set_new(tmp, "id", json_stringn(as, al));
            if (hs)
                json_object_set_new(tmp, "username", json_stringn(hs, hl));
            memset(&ps, 0, sizeof ps);
            ps.obj = tmp;
        }
    }
    const char *field = NULL;
    bool ok = rr_profile_normalise(&ps, b->platform, &sc->profile, &field, &why);
    if (!ok) {
        json_decref(tmp);
        return rr_bulk_error(b, row, field ? field : "profile", "profile: %s",
                             why ? why : "is invalid");
    }
    rr_copy_int(&b->copy, row);
    rr_copy_text(&b->copy, post_ext, post_ext_len);
    rr_copy_opt_int(&b->copy, has_post_id, post_id);
    rr_copy_str(&b->copy, kind);
    rr_copy_opt_time(&b->copy, has_at, at);
    rr_copy_text(&b->copy, text, text_len);
    rr_copy_text(&b->copy, ext, ext_len);
    rr_profile_copy(&b->copy, &sc->profile);
    rr_copy_row_end(&b->copy);
    if (sc->profile.external_id[0] == '@')
        b->handle_keyed++;
    json_decref(tmp);
    return true;
}

static rr_rc_t engagements_post(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    rr_account_ref_t acct;
    rr_rc_t rc = rr_account_load(ctx, &acct);
    if (rc != RR_OK)
        return rc;
    rr_bulk_t b;
    if ((rc = rr_bulk_init(&b, ctx, &acct)) != RR_OK)
        return rc;
    eng_scratch_t *sc = malloc(sizeof *sc);
    if (!sc) {
        rr_bulk_cleanup(&b);
        return RR_ERROR;
    }
    const char *p[1] = {acct.id_text};
    b.stage_all = true; /* the checks after staging need every row */
    rc = rr_bulk_stream(&b, SQL_STAGE, SQL_COPY, engagement_row, sc);
    free(sc);
    if (rc == RR_OK)
        rc = rr_bulk_tune(&b, "ANALYZE " STAGE);
    if (rc == RR_OK)
        rc = rr_bulk_exec(ctx, SQL_RESOLVE_EXT, 1, p);
    if (rc == RR_OK)
        rc = rr_bulk_exec(ctx, SQL_RESOLVE_ID, 1, p);
    if (rc == RR_OK)
        rc = rr_bulk_sql_errors(&b, SQL_UNKNOWN_POSTS, SQL_UNKNOWN_DELETE, 1, p);
    if (rc == RR_OK && rr_bulk_refused(&b))
        rc = RR_INVALID;
    if (rc == RR_OK)
        rc = rr_bulk_sql_dups(&b, SQL_DUPS, 0, NULL);
    int64_t created = 0, updated = 0, stored = 0, posts = 0;
    if (rc == RR_OK && b.valid > 0) {
        rc = rr_bulk_exec(ctx, RR_STAGE_PROFILES_CREATE, 0, NULL);
        if (rc == RR_OK)
            rc = rr_bulk_exec(ctx, SQL_PROFILES, 0, NULL);
        if (rc == RR_OK)
            rc = rr_profiles_link(&b);
        if (rc == RR_OK)
            rc = rr_profiles_upsert(&b, b.now_us, &created, &updated);
        if (rc == RR_OK) {
            const char *q[1] = {acct.platform};
            PGresult *r = rr_db_query(ctx, SQL_INSERT, 1, q);
            if (!r) {
                rc = RR_DB_ERROR;
            } else {
                stored = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
                posts = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
                PQclear(r);
            }
        }
    }
    if (rc != RR_OK) {
        rr_bulk_cleanup(&b);
        return rc;
    }
    int64_t accepted = b.valid - b.duplicates;
    json_t *body = rr_bulk_counts(&b, accepted);
    json_object_set_new(body, "engagements",
                        json_pack("{s:I,s:I}", "created", (json_int_t)stored, "already_stored",
                                  (json_int_t)(accepted - stored)));
    json_object_set_new(
        body, "profiles",
        json_pack("{s:I,s:I}", "created", (json_int_t)created, "updated", (json_int_t)updated));
    if (stored > 0) {
        json_t *ev = json_pack("{s:I,s:I,s:I}", "account_id", (json_int_t)acct.id, "engagements",
                               (json_int_t)stored, "posts", (json_int_t)posts);
        rc = rr_event_emit(ctx, "engagements.stored", ev);
        json_decref(ev);
    }
    rr_bulk_cleanup(&b);
    if (rc != RR_OK) {
        json_decref(body);
        return rc;
    }
    return rr_respond_json(ctx, 201, body);
}

static const char *const kind_names[] = {"like", "comment", "share", "mention", "reply", NULL};

static rr_rc_t engagements_list(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    rr_account_ref_t acct;
    rr_page_t page;
    rr_rc_t rc = rr_account_load(ctx, &acct);
    if (rc != RR_OK)
        return rc;
    if (rr_page_begin(ctx, &page) != RR_OK)
        return RR_INVALID;
    const char *kind;
    if (rr_query_one_of(ctx, "kind", kind_names, &kind) != RR_OK)
        return RR_INVALID;
    const char *post = rr_ctx_query(ctx, "post_id");
    if (post) {
        char *end;
        long long v = strtoll(post, &end, 10);
        if (!*post || *end || v <= 0)
            return rr_problem(ctx, 400, "invalid-parameter", "post_id",
                              "post_id must be a post id");
    }
    bool has_since, has_until;
    int64_t since, until;
    if (rr_query_time(ctx, "since", &has_since, &since) != RR_OK ||
        rr_query_time(ctx, "until", &has_until, &until) != RR_OK)
        return RR_INVALID;
    char ts[32], tu[32];
    rr_time_format(since, ts);
    rr_time_format(until, tu);
    const char *p[7] = {acct.id_text, rr_i64(ctx, page.after_id), rr_i64(ctx, page.limit + 1), post,
                        kind,         has_since ? ts : NULL,      has_until ? tu : NULL};
    PGresult *r = rr_db_query(
        ctx,
        "SELECT e.id, e.post_id, po.external_id AS post_external_id, e.kind,"
        " realreach.iso(e.occurred_at) AS occurred_at, e.text, e.external_id,"
        " e.profile_id, pr.external_id AS profile_external_id, pr.handle AS profile_handle,"
        " pr.name AS profile_name, realreach.iso(e.created_at) AS created_at"
        "  FROM realreach.engagements e"
        "  JOIN realreach.posts po ON po.tenant_id = e.tenant_id AND po.id = e.post_id"
        "  JOIN realreach.profiles pr ON pr.tenant_id = e.tenant_id AND pr.id = e.profile_id"
        " WHERE e.tenant_id = " TENANT " AND po.account_id = $1 AND e.id > $2"
        "   AND ($4::bigint IS NULL OR e.post_id = $4::bigint) AND ($5::text IS NULL OR e.kind = "
        "$5)"
        "   AND ($6::timestamptz IS NULL OR e.occurred_at >= $6::timestamptz)"
        "   AND ($7::timestamptz IS NULL OR e.occurred_at < $7::timestamptz)"
        " ORDER BY e.id LIMIT $3",
        7, p);
    if (!r)
        return RR_DB_ERROR;
    return rr_page_respond_rows(ctx, &page, r);
}

#define ENGAGEMENT_SCHEMA                                                                          \
    "{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},\"post_id\":{\"type\":"    \
    "\"integer\"},"                                                                                \
    "\"post_external_id\":{\"type\":\"string\"},"                                                  \
    "\"kind\":{\"enum\":[\"like\",\"comment\",\"share\",\"mention\",\"reply\"]},"                  \
    "\"occurred_at\":{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"},"                   \
    "\"text\":{\"type\":[\"string\",\"null\"]},\"external_id\":{\"type\":[\"string\",\"null\"]},"  \
    "\"profile_id\":{\"type\":\"integer\"},\"profile_external_id\":{\"type\":\"string\"},"         \
    "\"profile_handle\":{\"type\":[\"string\",\"null\"]},\"profile_name\":{\"type\":[\"string\","  \
    "\"null\"]},"                                                                                  \
    "\"created_at\":{\"type\":\"string\",\"format\":\"date-time\"}}}"

void rr_routes_engagements_register(void)
{
    static const rr_route_def_t defs[] = {
        {sizeof(rr_route_def_t), "POST", "/v1/accounts/{account_id}/engagements", RR_SCOPE_WRITE,
         engagements_post, NULL,
         "Store who engaged with which post (like, comment, share, mention, reply)",
         RR_INGEST_BODY("Engagements {post_external_id | post_id, kind, occurred_at, text, "
                        "external_id, profile: {...}}"),
         "{\"type\":\"object\",\"properties\":{" RR_INGEST_COUNTS_PROPS
         ",\"engagements\":{\"type\":\"object\"},\"profiles\":{\"type\":\"object\"}}}",
         RR_ROUTE_STREAM_BODY | RR_ROUTE_IDEMPOTENT},
        {sizeof(rr_route_def_t), "GET", "/v1/accounts/{account_id}/engagements", RR_SCOPE_READ,
         engagements_list, NULL,
         "List engagements with the account's posts (filters: post_id, kind, since, until)", NULL,
         RR_INGEST_PAGE_OF(ENGAGEMENT_SCHEMA), 0},
    };
    for (size_t i = 0; i < sizeof defs / sizeof *defs; i++)
        rr_router_add(&defs[i], "core");
}
