/*
 * Merging staged profiles (pg_temp.rr_stage_profiles) into
 * realreach.profiles, set-wise: a follower snapshot's, staged from its
 * intake by the "followers.merge" job (ingest_snapshot_merge.c), and an
 * engagements request's, staged by the request itself.
 *
 * The merge rule, per field: an observation at least as recent as the
 * stored one overwrites the field unless it did not report it (NULL never
 * overwrites); an older observation only fills fields still unknown. A
 * bare row (an id from an id-only list) creates a bare profile or leaves
 * the known one alone. observed_at follows the newest observation merged.
 *
 * Handle-only sources key profiles by '@' + lower(handle). Such a row is
 * linked to the profile known by id with that handle (the most recently
 * observed one, handles being reusable); and a '@handle' placeholder is
 * moved to the real id as soon as a request names both, so the profile's
 * row, and every snapshot and engagement pointing at it, is kept.
 */
#include "ingest.h"

#include <stdlib.h>
#include <string.h>

#define STAGE "pg_temp.rr_stage_profiles"
#define TENANT "realreach.current_tenant()"

/* Serialises the profile merges of one tenant and platform: two concurrent
 * ingests inserting the same new profiles in different orders would
 * otherwise deadlock (and one of them fail). Held to the commit. */
#define SQL_LOCK                                                                                   \
    "SELECT pg_advisory_xact_lock(hashtextextended('realreach.profiles:' || " TENANT               \
    " || ':' || $1, 0))"

/* '@handle' rows → the id of the profile known with that handle. Two forms:
 * where the partial handle index exists (the planner must see the
 * platform), and a hash join elsewhere. */
#define SQL_LINK_BODY(platform_cond)                                                               \
    "UPDATE " STAGE " s SET external_id = m.external_id,"                                          \
    "       orig_id = COALESCE(s.orig_id, s.external_id),"                                         \
    "       existing = false, profile_id = nextval('realreach.profiles_id_seq')"                   \
    "  FROM (SELECT DISTINCT ON (lower(p.handle)) lower(p.handle) AS h, p.external_id"             \
    "          FROM realreach.profiles p"                                                          \
    "         WHERE p.tenant_id = " TENANT " AND p.platform = $1 " platform_cond                   \
    "           AND lower(p.handle) IN (SELECT substr(external_id, 2) FROM " STAGE                 \
    "                                    WHERE external_id LIKE '@%')"                             \
    "           AND p.external_id NOT LIKE '@%'"                                                   \
    "         ORDER BY lower(p.handle), p.observed_at DESC NULLS LAST, p.id DESC) m"               \
    " WHERE s.external_id LIKE '@%' AND substr(s.external_id, 2) = m.h"
static const char SQL_LINK_INDEXED[] = SQL_LINK_BODY("AND p.platform IN ('instagram', 'tiktok')");
static const char SQL_LINK_HASHED[] = SQL_LINK_BODY("");

/* Does the tenant hold '@handle' placeholders on this platform? (external_id
 * is COLLATE "C": the range is an index range.) */
static const char SQL_HAS_PLACEHOLDERS[] =
    "SELECT 1 FROM realreach.profiles WHERE tenant_id = " TENANT " AND platform = $1"
    " AND external_id >= '@' AND external_id < 'A' LIMIT 1";

static const char SQL_UPGRADE[] =
    "UPDATE realreach.profiles p SET external_id = s.external_id, updated_at = now()"
    "  FROM (SELECT DISTINCT ON (lower(handle)) lower(handle) AS h, external_id FROM " STAGE
    "         WHERE handle IS NOT NULL AND external_id NOT LIKE '@%' AND NOT dup"
    "         ORDER BY lower(handle), row_no) s"
    " WHERE p.tenant_id = " TENANT " AND p.platform = $1 AND p.external_id = '@' || s.h"
    "   AND NOT EXISTS (SELECT 1 FROM realreach.profiles q WHERE q.tenant_id = p.tenant_id"
    "                      AND q.platform = p.platform AND q.external_id = s.external_id)";

/* Every staged row naming a key an earlier row named: flagged, and the
 * first listed. */
static const char SQL_DUPS[] =
    "WITH d AS (SELECT external_id, min(row_no) AS first_row FROM " STAGE
    "            GROUP BY external_id HAVING count(*) > 1),"
    " u AS (UPDATE " STAGE " s SET dup = true FROM d"
    "        WHERE s.external_id = d.external_id AND s.row_no > d.first_row"
    "        RETURNING s.row_no, d.first_row, s.external_id)"
    " SELECT row_no, first_row, external_id, count(*) OVER () FROM u ORDER BY row_no LIMIT 20";

/* Rows naming a profile the tenant has: take its id. Rows already resolved
 * when they were staged (a snapshot's merge looks its keys up as it stages
 * them, sparing this UPDATE a rewrite of every staged row) are skipped; a
 * key changed by linking is looked up again (linking clears existing). */
#define SQL_RESOLVE_OF(bound)                                                                      \
    "UPDATE " STAGE " s SET profile_id = p.id, existing = true FROM realreach.profiles p"          \
    " WHERE p.tenant_id = " TENANT " AND p.platform = $1 AND p.external_id = s.external_id"        \
    "   AND NOT s.dup AND NOT s.existing" bound
static const char SQL_RESOLVE[] = SQL_RESOLVE_OF("");
static const char SQL_RESOLVE_FEW[] =
    SQL_RESOLVE_OF(" AND p.external_id = ANY (ARRAY(SELECT external_id FROM " STAGE
                   " WHERE NOT dup AND NOT existing))");

/* clang-format would fold the field list below into one line */
/* clang-format off */
#define NEWER "(s.obs IS NOT NULL AND (p.observed_at IS NULL OR s.obs >= p.observed_at))"
#define MERGE(f)                                                                                   \
    #f " = CASE WHEN " NEWER " THEN COALESCE(s." #f ", p." #f ") ELSE COALESCE(p." #f ", s." #f    \
       ") END"

/* Known profiles: merged field by field (see the top of this file). A bare
 * row changes nothing but a missing handle. */
#define SQL_UPDATE_OF(bound)                                                                       \
    "UPDATE realreach.profiles p SET " MERGE(handle) ", " MERGE(name) ", " MERGE(bio) ", "          \
    MERGE(url) ", " MERGE(location) ", " MERGE(lang) ", " MERGE(platform_created_at) ", "          \
    MERGE(followers_count) ", " MERGE(following_count) ", " MERGE(posts_count) ", "                \
    MERGE(likes_count) ", " MERGE(listed_count) ", " MERGE(likes_kind) ", "                        \
    MERGE(default_avatar) ", " MERGE(verified) ", " MERGE(protected) ", " MERGE(last_post_at) ","  \
    " observed_at = CASE WHEN " NEWER " THEN s.obs ELSE p.observed_at END, updated_at = now()"     \
    "  FROM (SELECT *, CASE WHEN bare THEN NULL ELSE COALESCE(observed_at, $2::timestamptz) END"   \
    "               AS obs"                                                                        \
    "          FROM " STAGE " WHERE existing AND NOT dup) s"                                       \
    " WHERE p.tenant_id = " TENANT " AND p.id = s.profile_id AND p.platform = $1"                  \
    "   AND (s.obs IS NOT NULL OR (p.handle IS NULL AND s.handle IS NOT NULL))" bound
/* clang-format on */
static const char SQL_UPDATE[] = SQL_UPDATE_OF("");
static const char SQL_UPDATE_FEW[] = SQL_UPDATE_OF(
    " AND p.id = ANY (ARRAY(SELECT profile_id FROM " STAGE " WHERE existing AND NOT dup))");

/* Up to RR_MERGE_PROBE_MAX staged rows (ingest.h), the joins with profiles
 * name the staged keys or ids outright (the *_FEW forms), so profiles is
 * read through its indexes, a probe per staged row. Left to itself the
 * planner takes its row count for one tenant from statistics that lag
 * behind a tenant whose profiles just arrived; on "about one row" it read
 * every profile of the tenant for each merge (a list of 300 against a
 * tenant of 300,000 profiles: 0.4-1 s a merge, where the probes take
 * milliseconds). Above it the join is the planner's: probing most of a
 * tenant costs more than reading it. */

/* New profiles, with the ids drawn when they were staged, in staging (that
 * is id) order: the primary key then grows at its right edge. A snapshot's
 * merge stages its rows sorted by key, so the key index grows in order too
 * (1M new profiles: this INSERT 6.6-6.9 s, against 11.4 s in the
 * platform's order, which puts every key at a random place in the index).
 * No ON CONFLICT: under the lock nobody else adds this platform's profiles
 * for the tenant (its speculative insertion doubled the cost); a writer that
 * does not take the lock makes this fail with a unique violation (409,
 * retry), never a duplicate profile. */
static const char SQL_INSERT[] =
    "INSERT INTO realreach.profiles (id, tenant_id, platform, external_id, handle, name, bio, url,"
    "   location, lang, platform_created_at, followers_count, following_count, posts_count,"
    "   likes_count, listed_count, likes_kind, default_avatar, verified, protected, last_post_at,"
    "   observed_at) OVERRIDING SYSTEM VALUE"
    " SELECT profile_id, " TENANT ", $1, external_id, handle, name, bio, url, location, lang,"
    "   platform_created_at, followers_count, following_count, posts_count, likes_count,"
    "   listed_count, likes_kind, default_avatar, verified, protected, last_post_at,"
    "   CASE WHEN bare THEN NULL ELSE COALESCE(observed_at, $2::timestamptz) END"
    "   FROM " STAGE " WHERE NOT existing AND NOT dup";

rr_rc_t rr_profiles_lock(rr_bulk_t *b)
{
    const char *p[1] = {b->platform};
    return rr_bulk_exec(b->ctx, SQL_LOCK, 1, p) == RR_OK ? RR_OK : RR_DB_ERROR;
}

rr_rc_t rr_profiles_link(rr_bulk_t *b)
{
    const char *p[1] = {b->platform};
    if (rr_profiles_lock(b) != RR_OK)
        return RR_DB_ERROR;
    if (b->handle_keyed > 0) {
        bool indexed = !strcmp(b->platform, "instagram") || !strcmp(b->platform, "tiktok");
        PGresult *r = rr_db_query(b->ctx, indexed ? SQL_LINK_INDEXED : SQL_LINK_HASHED, 1, p);
        if (!r)
            return RR_DB_ERROR;
        b->linked = strtoll(PQcmdTuples(r), NULL, 10);
        PQclear(r);
    }
    return RR_OK;
}

rr_rc_t rr_profiles_dups(rr_bulk_t *b)
{
    return rr_bulk_sql_dups(b, SQL_DUPS, 0, NULL);
}

rr_rc_t rr_profiles_upsert(rr_bulk_t *b, int64_t default_observed_us, int64_t *created,
                           int64_t *updated)
{
    const char *p[2] = {b->platform, NULL};
    PGresult *r = rr_db_query(b->ctx, SQL_HAS_PLACEHOLDERS, 1, p);
    if (!r)
        return RR_DB_ERROR;
    bool placeholders = PQntuples(r) > 0;
    PQclear(r);
    if (placeholders && rr_bulk_exec(b->ctx, SQL_UPGRADE, 1, p) != RR_OK)
        return RR_DB_ERROR;
    /* rows staged with their ids stay right unless a key moved */
    bool resolved = b->staged_resolved && b->linked == 0 && !placeholders;
    bool few = b->valid <= RR_MERGE_PROBE_MAX;
    if (!resolved && rr_bulk_exec(b->ctx, few ? SQL_RESOLVE_FEW : SQL_RESOLVE, 1, p) != RR_OK)
        return RR_DB_ERROR;
    char t[32];
    rr_time_format(default_observed_us, t);
    p[1] = t;
    r = rr_db_query(b->ctx, few ? SQL_UPDATE_FEW : SQL_UPDATE, 2, p);
    if (!r)
        return RR_DB_ERROR;
    *updated = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    r = rr_db_query(b->ctx, SQL_INSERT, 2, p);
    if (!r)
        return RR_DB_ERROR;
    *created = strtoll(PQcmdTuples(r), NULL, 10);
    PQclear(r);
    return RR_OK;
}
