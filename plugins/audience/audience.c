/*
 * audience plugin — how much of an account's audience is real: per-follower
 * verdicts (fake, suspicious, inactive, genuine) with a score, a confidence
 * and reasons a person can read; audits of follower snapshots with their
 * reading band, real reach and removal list; burst detection on the count
 * series and the snapshots. See README.md in this folder.
 *
 * Routes (every one under an account: 404 for another tenant's account,
 * 403 for a key restricted to another client):
 *   POST /v1/accounts/{account_id}/audits                          write  202: audit job
 *   GET  /v1/accounts/{account_id}/audits                          read   list (paged)
 *   GET  /v1/accounts/{account_id}/audits/{audit_id}               read   one, with its summary
 *   GET  /v1/accounts/{account_id}/audits/{audit_id}/followers     read   verdicts (paged, ?class=)
 *   GET  /v1/accounts/{account_id}/audits/{audit_id}/removal.csv   read   the removal list
 *   GET  /v1/accounts/{account_id}/audits/{audit_id}/compare/{other_audit_id}  read  what changed
 *   GET  /v1/accounts/{account_id}/anomalies                       read   bursts found (paged)
 * Job kind "audience.audit"; hooks on "followers.stored" and
 * "metrics.stored" (burst detection without anyone asking).
 */
#include "audience.h"

#include <stddef.h>

const rr_host_api_t *aud_host;

typedef struct {
    const char *name;
    const char *data;
} embedded_file_t;
extern const embedded_file_t audience_migrations[];
extern const size_t audience_migrations_count;

#define ID "{\"type\":\"integer\",\"minimum\":1}"
#define ID_OR_NULL "{\"type\":[\"integer\",\"null\"],\"minimum\":1}"
#define TIME "{\"type\":\"string\",\"format\":\"date-time\"}"
#define TIME_OR_NULL "{\"type\":[\"string\",\"null\"],\"format\":\"date-time\"}"
#define SHARE "{\"type\":\"number\",\"minimum\":0,\"maximum\":1}"
#define COUNT "{\"type\":\"integer\",\"minimum\":0}"
#define CLASS "{\"type\":\"string\",\"enum\":[\"fake\",\"suspicious\",\"inactive\",\"genuine\"]}"
#define REASONS                                                                                    \
    "{\"type\":\"array\",\"items\":{\"type\":\"object\",\"required\":[\"code\",\"text\"],"         \
    "\"properties\":{\"code\":{\"type\":\"string\"},\"text\":{\"type\":\"string\"}}}}"
#define CLASS_COUNT                                                                                \
    "{\"type\":\"object\",\"required\":[\"count\",\"share\"],\"properties\":{\"count\":" COUNT     \
    ",\"share\":" SHARE "}}"

#define AUDIT                                                                                      \
    "{\"type\":\"object\",\"required\":[\"id\",\"account_id\",\"state\",\"model_version\","        \
    "\"observed_at\",\"url\",\"summary\"],\"properties\":{"                                        \
    "\"id\":" ID ",\"account_id\":" ID ",\"snapshot_id\":" ID_OR_NULL ","                          \
    "\"state\":{\"type\":\"string\",\"enum\":[\"queued\",\"running\",\"done\",\"failed\"]},"       \
    "\"model_version\":{\"type\":\"string\"},\"observed_at\":" TIME ",\"created_at\":" TIME ","    \
    "\"finished_at\":" TIME_OR_NULL ",\"job_id\":" ID_OR_NULL ","                                  \
    "\"job_url\":{\"type\":[\"string\",\"null\"]},\"url\":{\"type\":\"string\"},"                  \
    "\"error\":{\"type\":[\"string\",\"null\"]},"                                                  \
    "\"summary\":{\"type\":[\"object\",\"null\"],\"properties\":{"                                 \
    "\"followers\":" COUNT ",\"classes\":{\"type\":\"object\",\"properties\":{"                    \
    "\"fake\":" CLASS_COUNT ",\"suspicious\":" CLASS_COUNT ",\"inactive\":" CLASS_COUNT            \
    ",\"genuine\":" CLASS_COUNT "}},\"fake_share\":" SHARE ",\"fake_or_suspicious_share\":" SHARE  \
    ",\"band\":{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"enum\":"       \
    "[\"normal\",\"elevated\",\"caution\",\"red_flag\",\"mostly_fake\"]},"                         \
    "\"range\":{\"type\":\"string\"},\"basis\":{\"type\":\"string\"}}},"                           \
    "\"real_reach\":" COUNT ",\"real_reach_excluding_mass\":" COUNT ","                            \
    "\"real_reach_formula\":{\"type\":\"string\"},\"mass_followers\":" CLASS_COUNT ","             \
    "\"low_confidence\":" COUNT ",\"top_reasons\":{\"type\":\"array\",\"items\":{\"type\":"        \
    "\"object\",\"properties\":{\"code\":{\"type\":\"string\"},\"count\":" COUNT ","               \
    "\"share\":" SHARE "}}},\"duration_ms\":" COUNT "}}}}"

#define PAGE(item)                                                                                 \
    "{\"type\":\"object\",\"required\":[\"items\",\"next_cursor\"],\"properties\":{"               \
    "\"items\":{\"type\":\"array\",\"items\":" item "},"                                           \
    "\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}"

#define VERDICT                                                                                    \
    "{\"type\":\"object\",\"required\":[\"position\",\"profile_id\",\"class\",\"score\","          \
    "\"confidence\",\"mass\",\"reasons\"],\"properties\":{\"position\":" COUNT ","                 \
    "\"profile_id\":" ID ",\"external_id\":{\"type\":[\"string\",\"null\"]},"                      \
    "\"handle\":{\"type\":[\"string\",\"null\"]},\"class\":" CLASS ",\"score\":" SHARE ","         \
    "\"confidence\":" SHARE ",\"mass\":{\"type\":\"boolean\"},\"reasons\":" REASONS "}}"

#define ANOMALY                                                                                    \
    "{\"type\":\"object\",\"required\":[\"id\",\"source\",\"window_start\",\"window_end\","        \
    "\"gained\",\"verdict\",\"evidence\"],\"properties\":{\"id\":" ID ",\"account_id\":" ID        \
    ",\"source\":{\"type\":\"string\",\"enum\":[\"series\",\"follow_order\"]},"                    \
    "\"window_start\":" TIME ",\"window_end\":" TIME ",\"gained\":{\"type\":\"integer\"},"         \
    "\"expected\":{\"type\":\"integer\"},\"excess\":{\"type\":\"integer\"},"                       \
    "\"z\":{\"type\":[\"number\",\"null\"]},\"snapshot_id\":" ID_OR_NULL ","                       \
    "\"newcomers\":{\"type\":[\"integer\",\"null\"]},"                                             \
    "\"newcomers_scored\":{\"type\":[\"integer\",\"null\"]},"                                      \
    "\"newcomers_fake\":{\"type\":[\"integer\",\"null\"]},"                                        \
    "\"fake_share\":{\"type\":[\"number\",\"null\"]},"                                             \
    "\"verdict\":{\"type\":\"string\",\"enum\":[\"likely_purchase\",\"likely_organic\","           \
    "\"unclear\"]},\"evidence\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"             \
    "\"model_version\":{\"type\":[\"string\",\"null\"]},\"detected_at\":" TIME ","                 \
    "\"updated_at\":" TIME "}}"

#define AUDIT_BRIEF                                                                                \
    "{\"type\":\"object\",\"properties\":{\"id\":" ID ",\"summary\":{\"type\":\"object\"}}}"
#define COMPARE                                                                                    \
    "{\"type\":\"object\",\"required\":[\"from\",\"to\",\"changes\",\"fake_share_change\","        \
    "\"new_fakes\"],\"properties\":{\"from\":" AUDIT_BRIEF ",\"to\":" AUDIT_BRIEF ","              \
    "\"followers_change\":{\"type\":\"integer\"},\"fake_share_change\":{\"type\":\"number\"},"     \
    "\"new_fakes\":" COUNT ",\"changes\":{\"type\":\"object\",\"properties\":{"                    \
    "\"new_followers\":" COUNT ",\"removed\":" COUNT ",\"new_fakes_new_followers\":" COUNT         \
    ",\"new_fakes_reclassified\":" COUNT ",\"removed_fakes\":" COUNT ",\"no_longer_fake\":" COUNT  \
    ",\"kept\":" COUNT "}},\"examples\":{\"type\":\"object\"}}}"

static const char audit_request[] =
    "{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{"
    "\"snapshot_id\":{\"type\":[\"integer\",\"null\"],\"minimum\":1,"
    "\"description\":\"the snapshot to audit (default: the latest complete one)\"}}}";

static const rr_route_def_t routes[] = {
    {
        .size = sizeof(rr_route_def_t),
        .method = "POST",
        .path = "/v1/accounts/{account_id}/audits",
        .scope = RR_SCOPE_WRITE,
        .handler = aud_audits_post,
        .summary = "Start an audience audit of a follower snapshot (default: the latest); "
                   "202 with the audit, whose state follows its job",
        .request_schema = audit_request,
        .response_schema = AUDIT,
        .flags = RR_ROUTE_IDEMPOTENT,
        .status = 202,
    },
    {
        .size = sizeof(rr_route_def_t),
        .method = "GET",
        .path = "/v1/accounts/{account_id}/audits",
        .scope = RR_SCOPE_READ,
        .handler = aud_audits_list,
        .summary = "List an account's audience audits, oldest first (paged)",
        .response_schema = PAGE(AUDIT),
    },
    {
        .size = sizeof(rr_route_def_t),
        .method = "GET",
        .path = "/v1/accounts/{account_id}/audits/{audit_id}",
        .scope = RR_SCOPE_READ,
        .handler = aud_audit_get,
        .summary = "One audience audit: counts and shares per class, real reach, mass "
                   "followers, most frequent reasons, reading band",
        .response_schema = AUDIT,
    },
    {
        .size = sizeof(rr_route_def_t),
        .method = "GET",
        .path = "/v1/accounts/{account_id}/audits/{audit_id}/followers",
        .scope = RR_SCOPE_READ,
        .handler = aud_followers_list,
        .summary = "An audit's per-follower verdicts in snapshot order (paged; ?class=fake,"
                   "suspicious and ?mass=true filter)",
        .response_schema = PAGE(VERDICT),
    },
    {
        .size = sizeof(rr_route_def_t),
        .method = "GET",
        .path = "/v1/accounts/{account_id}/audits/{audit_id}/removal.csv",
        .scope = RR_SCOPE_READ,
        .handler = aud_removal_csv,
        .summary = "The removal list as CSV: external id, handle, class, score, reasons "
                   "(?class=fake by default; ?after= pages, with a Link header)",
    },
    {
        .size = sizeof(rr_route_def_t),
        .method = "GET",
        .path = "/v1/accounts/{account_id}/audits/{audit_id}/compare/{other_audit_id}",
        .scope = RR_SCOPE_READ,
        .handler = aud_audit_compare,
        .summary = "What changed from one audit to another: new fakes, removed followers, "
                   "change of the fake share",
        .response_schema = COMPARE,
    },
    {
        .size = sizeof(rr_route_def_t),
        .method = "GET",
        .path = "/v1/accounts/{account_id}/anomalies",
        .scope = RR_SCOPE_READ,
        .handler = aud_anomalies_list,
        .summary = "Abnormal follower jumps found in the count series and the snapshots, with "
                   "the newcomers' fake share, a verdict and its evidence (paged)",
        .response_schema = PAGE(ANOMALY),
    },
};

static rr_rc_t audience_init(rr_plugin_t *self, const rr_host_api_t *host)
{
    aud_host = host;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (host->route_add(self, &routes[i]) != RR_OK)
            return RR_ERROR;
    if (host->job_kind_add(self, AUD_JOB_AUDIT, aud_audit_job, NULL) != RR_OK ||
        host->hook_add(self, AUD_EVENT_FOLLOWERS, aud_ingest_hook, NULL) != RR_OK ||
        host->hook_add(self, AUD_EVENT_METRICS, aud_ingest_hook, NULL) != RR_OK)
        return RR_ERROR;
    for (size_t i = 0; i < audience_migrations_count; i++)
        if (host->migration_add(self, audience_migrations[i].name, audience_migrations[i].data) !=
            RR_OK)
            return RR_ERROR;
    return RR_OK;
}

RR_PLUGIN("audience", "1.0.0",
          "Audience authenticity: fake-follower audits with reasons, burst detection, removal "
          "lists",
          audience_init, NULL)
