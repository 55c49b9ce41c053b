/*
 * ingestkit — a test-only plugin for tests/api/test_ingest*.py. Never
 * shipped. It registers a hook on each ingest event ("followers.stored",
 * "metrics.stored", "posts.stored", "engagements.stored") that writes one
 * log line, "ingestkit hook <event> <payload as JSON>", so a test can see
 * that the core called the hooks after the ingest committed, and with what.
 * The line is written before the hook job's transaction ends: it shows the
 * call even if another plugin's hook for the same event fails the job.
 */
#include <realreach/plugin.h>

#include <stdlib.h>

static const rr_host_api_t *host;

static rr_rc_t on_ingest(rr_ctx_t *ctx, const char *event, json_t *payload, void *ud)
{
    (void)ud;
    char *text = json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    host->log(ctx, RR_LOG_INFO, "ingestkit hook %s %s", event, text ? text : "null");
    free(text);
    return RR_OK;
}

static rr_rc_t ingestkit_init(rr_plugin_t *self, const rr_host_api_t *h)
{
    static const char *const events[] = {"followers.stored", "metrics.stored", "posts.stored",
                                         "engagements.stored"};
    host = h;
    for (size_t i = 0; i < sizeof events / sizeof *events; i++)
        if (h->hook_add(self, events[i], on_ingest, NULL) != RR_OK)
            return RR_ERROR;
    return RR_OK;
}

RR_PLUGIN("ingestkit", "1.0.0", "Test only: logs every ingest hook call", ingestkit_init, NULL)
