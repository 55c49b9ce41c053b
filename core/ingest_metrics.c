/*
 * An account's count series: followers / following / posts at timestamps.
 *
 *   POST /v1/accounts/{account_id}/metrics   bulk points (JSON, NDJSON, CSV)
 *   GET  /v1/accounts/{account_id}/metrics?from=&to=&bucket=hour|day|week|none
 *
 * A point is keyed by its time: sending it again is idempotent (the same
 * values change nothing; a count missing from the new point keeps the
 * stored one). Two points with the same time in one request are reported
 * as duplicates; the first is kept. A bucket shows the last value of each
 * count observed in it and the change of followers since the bucket before.
 */
#include "ingest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N(...) ((const char *const[]){__VA_ARGS__, NULL})
#define TENANT "realreach.current_tenant()"
#define STAGE "pg_temp.rr_stage_metrics"

static const char *const *const M_OBSERVED =
    N("observed_at", "date", "time", "timestamp", "end_time", "day");
static const char *const *const M_FOLLOWERS =
    N("followers", "followers_count", "follower_count", "public_metrics.followers_count", "fans");
static const char *const *const M_FOLLOWING = N("following", "following_count", "friends_count",
                                                "follows_count", "public_metrics.following_count");
static const char *const *const M_POSTS =
    N("posts", "posts_count", "statuses_count", "media_count", "tweet_count", "video_count",
      "public_metrics.tweet_count");

static const char SQL_STAGE[] =
    "CREATE TEMP TABLE rr_stage_metrics (row_no bigint NOT NULL, observed_at timestamptz NOT NULL,"
    " followers bigint, following bigint, posts bigint, dup boolean NOT NULL DEFAULT false)"
    " ON COMMIT DROP";
static const char SQL_COPY[] =
    "COPY " STAGE " (row_no, observed_at, followers, following, posts) FROM STDIN";

static const char SQL_DUPS[] =
    "WITH d AS (SELECT observed_at, min(row_no) AS first_row FROM " STAGE
    "            GROUP BY observed_at HAVING count(*) > 1),"
    " u AS (UPDATE " STAGE " s SET dup = true FROM d"
    "        WHERE s.observed_at = d.observed_at AND s.row_no > d.first_row"
    "        RETURNING s.row_no, d.first_row, s.observed_at)"
    " SELECT row_no, first_row, realreach.iso(observed_at), count(*) OVER () FROM u"
    "  ORDER BY row_no LIMIT 20";

static const char SQL_MERGE[] =
    "WITH up AS ("
    " INSERT INTO realreach.account_metrics AS m (tenant_id, account_id, observed_at, followers,"
    "   following, posts)"
    " SELECT " TENANT ", $1, observed_at, followers, following, posts FROM " STAGE "  WHERE NOT dup"
    " ON CONFLICT (tenant_id, account_id, observed_at) DO UPDATE SET"
    "   followers = COALESCE(EXCLUDED.followers, m.followers),"
    "   following = COALESCE(EXCLUDED.following, m.following),"
    "   posts = COALESCE(EXCLUDED.posts, m.posts)"
    " WHERE (m.followers, m.following, m.posts) IS DISTINCT FROM"
    "   (COALESCE(EXCLUDED.followers, m.followers), COALESCE(EXCLUDED.following, m.following),"
    "    COALESCE(EXCLUDED.posts, m.posts))"
    " RETURNING (xmax = 0) AS created)"
    " SELECT (SELECT count(*) FILTER (WHERE created) FROM up),"
    "        (SELECT count(*) FILTER (WHERE NOT created) FROM up),"
    "        (SELECT realreach.iso(min(observed_at)) FROM " STAGE " WHERE NOT dup),"
    "        (SELECT realreach.iso(max(observed_at)) FROM " STAGE " WHERE NOT dup)";

static bool metric_row(rr_bulk_t *b, const rr_source_t *src, int64_t row, void *ud)
{
    (void)ud;
    if (src->id_only)
        return rr_bulk_error(b, row, NULL, "must be an object");
    const char *why = NULL;
    rr_val_t v = rr_src_get(src, M_OBSERVED);
    int64_t at;
    int rc = rr_val_time(&v, &at, &why);
    if (rc < 0)
        return rr_bulk_error(b, row, v.name, "%s", why);
    if (rc == 0)
        return rr_bulk_error(b, row, "observed_at", "is required");
    if (at > b->now_us + 86400LL * 1000000)
        return rr_bulk_error(b, row, v.name, "is in the future");
    int64_t counts[3];
    bool has[3];
    const char *const *const names[3] = {M_FOLLOWERS, M_FOLLOWING, M_POSTS};
    for (int i = 0; i < 3; i++) {
        v = rr_src_get(src, names[i]);
        rc = rr_val_count(&v, &counts[i], &why);
        if (rc < 0)
            return rr_bulk_error(b, row, v.name, "%s", why);
        has[i] = rc > 0;
    }
    if (!has[0] && !has[1] && !has[2])
        return rr_bulk_error(b, row, "followers",
                             "a point needs at least one of followers, following, posts");
    rr_copy_int(&b->copy, row);
    rr_copy_opt_time(&b->copy, true, at);
    for (int i = 0; i < 3; i++)
        rr_copy_opt_int(&b->copy, has[i], counts[i]);
    rr_copy_row_end(&b->copy);
    return true;
}

static rr_rc_t metrics_post(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    rr_account_ref_t acct;
    rr_rc_t rc = rr_account_load(ctx, &acct);
    if (rc != RR_OK)
        return rc;
    rr_bulk_t b;
    if ((rc = rr_bulk_init(&b, ctx, &acct)) != RR_OK)
        return rc;
    rc = rr_bulk_stream(&b, SQL_STAGE, SQL_COPY, metric_row, NULL);
    if (rc == RR_OK && rr_bulk_refused(&b))
        rc = RR_INVALID;
    if (rc == RR_OK)
        rc = rr_bulk_tune(&b, "ANALYZE " STAGE);
    if (rc == RR_OK)
        rc = rr_bulk_sql_dups(&b, SQL_DUPS, 0, NULL);
    if (rc != RR_OK) {
        rr_bulk_cleanup(&b);
        return rc;
    }
    const char *p[1] = {acct.id_text};
    PGresult *r = rr_db_query(ctx, SQL_MERGE, 1, p);
    if (!r) {
        rr_bulk_cleanup(&b);
        return RR_DB_ERROR;
    }
    int64_t created = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    int64_t updated = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    int64_t accepted = b.valid - b.duplicates;
    json_t *body = rr_bulk_counts(&b, accepted);
    json_object_set_new(body, "points",
                        json_pack("{s:I,s:I,s:I}", "created", (json_int_t)created, "updated",
                                  (json_int_t)updated, "unchanged",
                                  (json_int_t)(accepted - created - updated)));
    if (accepted > 0) {
        json_t *ev =
            json_pack("{s:I,s:I,s:s,s:s}", "account_id", (json_int_t)acct.id, "points",
                      (json_int_t)accepted, "from", PQgetvalue(r, 0, 2), "to", PQgetvalue(r, 0, 3));
        rc = rr_event_emit(ctx, "metrics.stored", ev);
        json_decref(ev);
    }
    PQclear(r);
    rr_bulk_cleanup(&b);
    if (rc != RR_OK) {
        json_decref(body);
        return rc;
    }
    return rr_respond_json(ctx, 201, body);
}

/* ------------------------------------------------------------------ GET */

#define MAX_BUCKETS 10000

static rr_rc_t metrics_get(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    rr_account_ref_t acct;
    rr_rc_t rc = rr_account_load(ctx, &acct);
    if (rc != RR_OK)
        return rc;
    bool has_from, has_to;
    int64_t from, to;
    if (rr_query_time(ctx, "from", &has_from, &from) != RR_OK ||
        rr_query_time(ctx, "to", &has_to, &to) != RR_OK)
        return RR_INVALID;
    if (!has_to)
        to = rr_time_now_us() + 1;
    if (!has_from)
        from = to - 366LL * 86400 * 1000000;
    if (from >= to)
        return rr_problem(ctx, 400, "invalid-parameter", "from", "from must be before to");
    const char *bucket = rr_ctx_query(ctx, "bucket");
    int64_t width;
    if (!bucket || !strcmp(bucket, "day"))
        bucket = "day", width = 86400;
    else if (!strcmp(bucket, "hour"))
        width = 3600;
    else if (!strcmp(bucket, "week"))
        width = 7 * 86400;
    else if (!strcmp(bucket, "none"))
        width = 0;
    else
        return rr_problem(ctx, 400, "invalid-parameter", "bucket",
                          "bucket must be hour, day, week or none");
    if (width && (to - from) / 1000000 / width > MAX_BUCKETS)
        return rr_problem(ctx, 400, "invalid-parameter", "bucket",
                          "more than %d %s buckets: narrow from/to or use a wider bucket",
                          MAX_BUCKETS, bucket);
    char tf[32], tt[32];
    rr_time_format(from, tf);
    rr_time_format(to, tt);
    const char *p[4] = {acct.id_text, tf, tt, bucket};
    PGresult *r;
    if (width) {
        r = rr_db_query(
            ctx,
            "SELECT realreach.iso(b) AS bucket_start, realreach.iso(last_at) AS observed_at,"
            " followers, followers - lag(followers) OVER (ORDER BY b) AS followers_change,"
            " following, posts, points"
            " FROM (SELECT date_trunc($4, observed_at, 'UTC') AS b, max(observed_at) AS last_at,"
            "   (array_agg(followers ORDER BY observed_at DESC) FILTER (WHERE followers IS NOT "
            "NULL))[1] AS followers,"
            "   (array_agg(following ORDER BY observed_at DESC) FILTER (WHERE following IS NOT "
            "NULL))[1] AS following,"
            "   (array_agg(posts ORDER BY observed_at DESC) FILTER (WHERE posts IS NOT NULL))[1] "
            "AS posts,"
            "   count(*) AS points"
            "   FROM realreach.account_metrics"
            "  WHERE tenant_id = " TENANT " AND account_id = $1"
            "    AND observed_at >= $2::timestamptz AND observed_at < $3::timestamptz"
            "  GROUP BY 1) x ORDER BY b",
            4, p);
    } else {
        r = rr_db_query(
            ctx,
            "SELECT realreach.iso(observed_at) AS observed_at, followers, following, posts"
            "  FROM realreach.account_metrics"
            " WHERE tenant_id = " TENANT " AND account_id = $1"
            "   AND observed_at >= $2::timestamptz AND observed_at < $3::timestamptz"
            " ORDER BY observed_at LIMIT " RR_STR(MAX_BUCKETS) " + 1",
            3, p);
    }
    if (!r)
        return RR_DB_ERROR;
    if (PQntuples(r) > MAX_BUCKETS) {
        PQclear(r);
        return rr_problem(ctx, 400, "invalid-parameter", "from",
                          "more than %d points: narrow from/to or use a bucket", MAX_BUCKETS);
    }
    rr_time_format_ms(from, tf);
    rr_time_format_ms(to, tt);
    json_t *body = json_pack("{s:s,s:s,s:s,s:o}", "bucket", width ? bucket : "none", "from", tf,
                             "to", tt, "items", rr_rows_json(r));
    PQclear(r);
    return rr_respond_json(ctx, 200, body);
}

#define POINT_SCHEMA                                                                               \
    "{\"type\":\"object\",\"properties\":{\"bucket_start\":{\"type\":\"string\",\"format\":"       \
    "\"date-time\"},"                                                                              \
    "\"observed_at\":{\"type\":\"string\",\"format\":\"date-time\"},"                              \
    "\"followers\":{\"type\":[\"integer\",\"null\"]},\"followers_change\":{\"type\":[\"integer\"," \
    "\"null\"]},"                                                                                  \
    "\"following\":{\"type\":[\"integer\",\"null\"]},\"posts\":{\"type\":[\"integer\",\"null\"]}," \
    "\"points\":{\"type\":\"integer\"}}}"

void rr_routes_metrics_register(void)
{
    static const rr_route_def_t defs[] = {
        {sizeof(rr_route_def_t), "POST", "/v1/accounts/{account_id}/metrics", RR_SCOPE_WRITE,
         metrics_post, NULL,
         "Store follower/following/post counts at timestamps (repeated points are idempotent)",
         RR_INGEST_BODY("Points {observed_at, followers, following, posts}"),
         "{\"type\":\"object\",\"properties\":{" RR_INGEST_COUNTS_PROPS
         ",\"points\":{\"type\":\"object\"}}}",
         RR_ROUTE_STREAM_BODY | RR_ROUTE_IDEMPOTENT},
        {sizeof(rr_route_def_t), "GET", "/v1/accounts/{account_id}/metrics", RR_SCOPE_READ,
         metrics_get, NULL,
         "An account's counts over ?from=&to= by ?bucket=hour|day|week (last value per bucket) or "
         "none",
         NULL,
         "{\"type\":\"object\",\"properties\":{\"bucket\":{\"type\":\"string\"},\"from\":{\"type\":"
         "\"string\"},"
         "\"to\":{\"type\":\"string\"},\"items\":{\"type\":\"array\",\"items\":" POINT_SCHEMA "}}}",
         0},
    };
    for (size_t i = 0; i < sizeof defs / sizeof *defs; i++)
        rr_router_add(&defs[i], "core");
}
