/*
 * Service routes: health, readiness, metrics, the OpenAPI document and the
 * plugin list. Also registers the core's API routes (clients, keys, jobs).
 */
#include "rr.h"

#include <stdlib.h>
#include <string.h>

static rr_rc_t healthz(rr_ctx_t *ctx, void *ud)
{
    (void)ud; /* no database: answers whether this worker can serve at all */
    return rr_respond_json(ctx, 200, json_pack("{s:s}", "status", "ok"));
}

static rr_rc_t readyz(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    char state[6];
    PGresult *r = rr_db_exec_plain(ctx->db, "SELECT 1", 0, NULL, state);
    if (!r) {
        rr_header_set(ctx, "Retry-After", "1");
        return rr_problem(ctx, 503, "unavailable", NULL, "the database is not reachable");
    }
    PQclear(r);
    return rr_respond_json(ctx, 200, json_pack("{s:s,s:s}", "status", "ready", "database", "ok"));
}

static rr_rc_t metrics(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    size_t len = 0;
    char *text = rr_metrics_render(ctx->arena, &len);
    if (!text)
        return RR_ERROR;
    return rr_respond_raw(ctx, 200, "text/plain; version=0.0.4", text, len);
}

static rr_rc_t openapi(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    json_t *doc = rr_openapi_document();
    return doc ? rr_respond_json(ctx, 200, doc) : RR_ERROR;
}

static rr_rc_t plugins_list(rr_ctx_t *ctx, void *ud)
{
    (void)ud;
    json_t *items = json_array();
    for (size_t i = 0; i < rr_plugins_count(); i++) {
        rr_plugin_t *p = rr_plugin_at(i);
        if (!p->loaded)
            continue;
        json_t *routes = json_array();
        for (size_t k = 0; k < rr_router_count(); k++) {
            const rr_route_t *r = rr_router_at(k);
            if (!strcmp(r->plugin, p->desc->name))
                json_array_append_new(routes, json_pack("{s:s,s:s}", "method", r->method, "path", r->path));
        }
        json_array_append_new(items, json_pack("{s:s,s:s,s:s?,s:s,s:o}", "name", p->desc->name, "version",
                                               p->desc->version, "description", p->desc->description,
                                               "abi", RR_STR(RR_ABI_MAJOR) "." RR_STR(RR_ABI_MINOR),
                                               "routes", routes));
    }
    return rr_respond_json(ctx, 200, json_pack("{s:o}", "items", items));
}

#define PROBLEM_REF "{\"$ref\":\"#/components/schemas/Problem\"}"

void rr_routes_core_register(void)
{
    static const rr_route_def_t defs[] = {
        {sizeof(rr_route_def_t), "GET", "/healthz", RR_SCOPE_PUBLIC, healthz, NULL,
         "Liveness: the service answers (no database access)", NULL,
         "{\"type\":\"object\",\"properties\":{\"status\":{\"type\":\"string\"}}}", 0},
        {sizeof(rr_route_def_t), "GET", "/readyz", RR_SCOPE_PUBLIC, readyz, NULL,
         "Readiness: the database is reachable", NULL,
         "{\"type\":\"object\",\"properties\":{\"status\":{\"type\":\"string\"},\"database\":{\"type\":\"string\"}}}", 0},
        {sizeof(rr_route_def_t), "GET", "/metrics", RR_SCOPE_PUBLIC, metrics, NULL,
         "Prometheus metrics of this host", NULL, NULL, 0},
        {sizeof(rr_route_def_t), "GET", "/v1/openapi.json", RR_SCOPE_PUBLIC, openapi, NULL,
         "This OpenAPI 3.1 document", NULL, "{\"type\":\"object\"}", 0},
        {sizeof(rr_route_def_t), "GET", "/v1/plugins", RR_SCOPE_READ, plugins_list, NULL,
         "Loaded plugins with their versions and routes", NULL,
         "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}}}}", 0},
    };
    for (size_t i = 0; i < sizeof defs / sizeof *defs; i++)
        rr_router_add(&defs[i], "core");
    rr_routes_clients_register();
    rr_routes_keys_register();
    rr_routes_jobs_register();
    rr_routes_ingest_register();
}
