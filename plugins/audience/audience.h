/*
 * audience plugin — declarations shared by its files (not an API: only
 * include/realreach/plugin.h is).
 *
 *   audience.c   descriptor, init(): routes, job kind, hooks, migrations
 *   audits.c     POST/GET audits, the audit job (stream, score, COPY)
 *   verdicts.c   followers of an audit, removal.csv, compare
 *   anomalies.c  burst detection against the database; ingest hooks; GET
 *   util.c       account visibility, numbers from results, JSON/CSV text
 *   scoring.h    the pure scoring core (features, model, verdict, rules,
 *                bursts) shared with tools/audience
 */
#ifndef AUDIENCE_H
#define AUDIENCE_H

#include <realreach/plugin.h>

#include "scoring.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

extern const rr_host_api_t *aud_host;

#define AUD_JOB_AUDIT "audience.audit"
#define AUD_EVENT_FOLLOWERS "followers.stored"
#define AUD_EVENT_METRICS "metrics.stored"

/* A burst's newcomers scored at most (a larger cohort is sampled evenly). */
#define AUD_COHORT_MAX 20000
/* removal.csv rows per response (then a Link: rel="next"). */
#define AUD_CSV_MAX 50000

/* ---- util.c */
/* The {account_id} path parameter, visible to this key (the host's
 * account_load: 404 when it is not this tenant's or cannot be an id, 403
 * when the key is restricted to another client of the tenant). */
rr_rc_t aud_account_param(rr_ctx_t *ctx, int64_t *account_id);
/* A path parameter id of an audit of account_id: 404 when it is not one. */
rr_rc_t aud_audit_param(rr_ctx_t *ctx, const char *name, int64_t account_id, int64_t *audit_id,
                        bool *done);
/* Cell as a number; NAN when NULL or not a number. */
double aud_num(const PGresult *res, int row, int col);
int64_t aud_int(const PGresult *res, int row, int col); /* 0 when NULL */
/* Cell as a flag: 1, 0, or -1 when NULL. */
int aud_flag(const PGresult *res, int row, int col);
/* The SELECT list that reads followers (sf: snapshot_followers, p:
 * profiles) as aud_profile_from_row() wants them. Text fields travel as
 * presence flags (NULL when unknown): the model needs only whether a name,
 * bio, link or location is there, and a million bios are not worth the
 * bytes (a field of only white space counts as present here: ingest trims
 * platform text). Times travel as whole Unix seconds. Likes count only when they are likes given (X
 * favourites), what the model was trained on. */
#define AUD_FOLLOWER_COLS                                                                          \
    "sf.position, sf.profile_id, p.handle,"                                                        \
    " p.name <> '', p.bio <> '', p.url <> '', p.location <> '',"                                   \
    " p.followers_count, p.following_count, p.posts_count,"                                        \
    " CASE WHEN p.likes_kind IS DISTINCT FROM 'received' THEN p.likes_count END,"                  \
    " p.listed_count, date_part('epoch', p.platform_created_at)::int8,"                            \
    " date_part('epoch', p.last_post_at)::int8, p.default_avatar, p.verified"
/* The members of snapshots through the core's view (complete snapshots
 * only; position is computed, so a filter on it reads the whole snapshot:
 * fine for a burst's cohort, not for a scan). */
#define AUD_FOLLOWER_JOIN                                                                          \
    " FROM realreach.snapshot_followers sf"                                                        \
    " JOIN realreach.profiles p"                                                                   \
    "   ON p.tenant_id = realreach.current_tenant() AND p.id = sf.profile_id"
/* One stored chunk of a snapshot ($1 snapshot, $2 part, $3 chunk): how
 * scans read, up to 10,000 members per round trip, oldest first (ORDER BY
 * sf.position DESC). */
#define AUD_CHUNK_FROM                                                                             \
    " FROM realreach.snapshot_chunks c"                                                            \
    " CROSS JOIN LATERAL (SELECT c.first_position + u.ord - 1 AS position,"                        \
    "        u.profile_id FROM unnest(c.profile_ids) WITH ORDINALITY"                              \
    "        AS u (profile_id, ord)) sf"                                                           \
    " JOIN realreach.profiles p"                                                                   \
    "   ON p.tenant_id = realreach.current_tenant() AND p.id = sf.profile_id"                      \
    " WHERE c.tenant_id = realreach.current_tenant() AND c.snapshot_id = $1::bigint"               \
    "   AND c.part = $2::int AND c.chunk = $3::int"

/* The chunks of a snapshot, oldest members first (a snapshot of n members
 * has about n / 10,000: bounded, small). */
typedef struct aud_chunk {
    int part, chunk;
} aud_chunk_t;
rr_rc_t aud_snapshot_chunks(rr_ctx_t *ctx, int64_t snapshot_id, aud_chunk_t **chunks, size_t *n);
/* Reads one chunk's members as AUD_FOLLOWER_COLS rows, oldest first. */
PGresult *aud_chunk_read(rr_ctx_t *ctx, int64_t snapshot_id, const aud_chunk_t *chunk);

/* The columns of AUD_FOLLOWER_COLS. */
enum {
    AUD_COL_POSITION,
    AUD_COL_PROFILE,
    AUD_COL_HANDLE,
    AUD_COL_HAS_NAME,
    AUD_COL_HAS_BIO,
    AUD_COL_HAS_URL,
    AUD_COL_HAS_LOCATION,
    AUD_COL_FOLLOWERS,
    AUD_COL_FOLLOWING,
    AUD_COL_POSTS,
    AUD_COL_LIKES,
    AUD_COL_LISTED,
    AUD_COL_CREATED,
    AUD_COL_LAST_POST,
    AUD_COL_DEFAULT_AVATAR,
    AUD_COL_VERIFIED,
    AUD_NCOLS
};
void aud_profile_from_row(const PGresult *res, int row, double observed_at, aud_profile_t *p);

/* A growing byte buffer (malloc, not the arena: a job's arena lives until
 * the job ends, so per-batch text must not go there). */
typedef struct aud_buf {
    char *s;
    size_t len, cap;
    bool oom;
} aud_buf_t;
void aud_buf_put(aud_buf_t *b, const char *s, size_t n);
void aud_buf_puts(aud_buf_t *b, const char *s);
void aud_buf_printf(aud_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void aud_buf_free(aud_buf_t *b);
void aud_buf_i64(aud_buf_t *b, int64_t v);
void aud_buf_fixed4(aud_buf_t *b, double v); /* "0.1234": 4 decimals, v >= 0 */
/* s as the inside of a JSON string (quotes, backslashes, controls escaped). */
void aud_buf_json_str(aud_buf_t *b, const char *s);
/* A CSV field, always quoted; a leading = + - @ (a spreadsheet formula) is
 * defused with a leading apostrophe. */
void aud_buf_csv_field(aud_buf_t *b, const char *s);
/* The verdict's reasons as JSON: [{"code": "...", "text": "..."}, ...]. */
void aud_reasons_json(aud_buf_t *b, const aud_verdict_t *v);

/* Reading band of an account's fake share: "normal" (0-10 %), "elevated"
 * (10-20 %), "caution" (20-50 %), "red_flag" (50-70 %), "mostly_fake". */
const char *aud_band(double fake_share, const char **range);

/* ---- audits.c */
rr_rc_t aud_audits_post(rr_ctx_t *ctx, void *ud);
rr_rc_t aud_audits_list(rr_ctx_t *ctx, void *ud);
rr_rc_t aud_audit_get(rr_ctx_t *ctx, void *ud);
rr_rc_t aud_audit_job(rr_ctx_t *ctx, json_t *payload, json_t **result, void *ud);
/* An audit as the API shows it: SELECT AUD_AUDIT_COLS AUD_AUDIT_FROM ...,
 * then aud_audit_json() on a row (new reference, or NULL). The state is the
 * job's until the audit is done (queued, running, failed with its error). */
#define AUD_AUDIT_COLS                                                                             \
    "a.id, a.account_id, a.snapshot_id,"                                                           \
    " CASE WHEN a.state = 'done' THEN 'done' ELSE COALESCE(j.state, 'queued') END AS state,"       \
    " a.model_version, realreach.iso(a.observed_at) AS observed_at,"                               \
    " realreach.iso(a.created_at) AS created_at, realreach.iso(a.finished_at) AS finished_at,"     \
    " a.job_id, CASE WHEN a.state <> 'done' THEN j.error END AS error,"                            \
    " a.followers, a.fake, a.suspicious, a.inactive, a.genuine, a.mass_followers,"                 \
    " a.low_confidence, a.genuine_mass, a.top_reasons::text AS top_reasons, a.duration_ms"
#define AUD_AUDIT_FROM                                                                             \
    " FROM realreach.audience_audits a"                                                            \
    " LEFT JOIN realreach.jobs j ON j.tenant_id = realreach.current_tenant()"                      \
    "  AND j.id = a.job_id"
json_t *aud_audit_json(const PGresult *res, int row);

/* ---- verdicts.c */
rr_rc_t aud_followers_list(rr_ctx_t *ctx, void *ud);
rr_rc_t aud_removal_csv(rr_ctx_t *ctx, void *ud);
rr_rc_t aud_audit_compare(rr_ctx_t *ctx, void *ud);

/* ---- anomalies.c */
rr_rc_t aud_anomalies_list(rr_ctx_t *ctx, void *ud);
rr_rc_t aud_ingest_hook(rr_ctx_t *ctx, const char *event, json_t *payload, void *ud);
/* Runs burst detection for the account: the count series with a cohort
 * check of each burst against the snapshots, or, where no series exists,
 * the follow order of snapshot_id (0: the latest complete one). An audit
 * passes the follow-order scan it made of its snapshot (finished), so the
 * snapshot is not read twice; NULL reads it. *found: anomalies stored. */
rr_rc_t aud_detect(rr_ctx_t *ctx, int64_t account_id, int64_t snapshot_id, aud_order_t *order,
                   int *found);

#endif /* AUDIENCE_H */
