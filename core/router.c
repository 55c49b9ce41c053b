/*
 * The router: method + path template ("/v1/clients/{client_id}") to handler.
 * Templates are split into segments once at registration; matching walks the
 * table (a few dozen routes: a linear scan beats any structure here) and
 * prefers literal segments over parameters, so /v1/keys/current would win
 * over /v1/keys/{key_id}.
 */
#include "rr.h"

#include <stdlib.h>
#include <string.h>

#define RR_MAX_ROUTES 256
#define RR_MAX_SEGMENTS 12

static rr_route_t routes[RR_MAX_ROUTES];
static size_t nroutes;

static int split(const char *path, char **segs, int max)
{
    int n = 0;
    const char *p = path;
    if (*p != '/')
        return -1;
    while (*p == '/') {
        p++;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0) {
            if (!e)
                return n; /* a trailing '/' ends the path */
            goto fail;    /* "//" is malformed */
        }
        if (n == max || !(segs[n] = strndup(p, len)))
            goto fail;
        n++;
        p += len;
    }
    return n;
fail:
    while (n > 0)
        free(segs[--n]);
    return -1;
}

static bool is_param(const char *seg) { return seg[0] == '{' && seg[strlen(seg) - 1] == '}'; }

rr_rc_t rr_router_add(const rr_route_def_t *def, const char *plugin)
{
    if (nroutes == RR_MAX_ROUTES || !def->method || !def->path || !def->handler ||
        !def->summary || !*def->summary)
        return RR_ERROR;
    char *segs[RR_MAX_SEGMENTS];
    int n = split(def->path, segs, RR_MAX_SEGMENTS);
    if (n < 0)
        return RR_ERROR;
    for (size_t i = 0; i < nroutes; i++) {
        if (!strcmp(routes[i].method, def->method) && !strcmp(routes[i].path, def->path)) {
            for (int k = 0; k < n; k++)
                free(segs[k]);
            return RR_ERROR; /* duplicate route */
        }
    }
    rr_route_t *r = &routes[nroutes];
    r->method = strdup(def->method);
    r->path = strdup(def->path);
    r->segments = malloc(sizeof(char *) * (size_t)(n ? n : 1));
    if (!r->method || !r->path || !r->segments)
        return RR_ERROR;
    memcpy(r->segments, segs, sizeof(char *) * (size_t)n);
    r->nsegments = n;
    r->scope = def->scope;
    r->handler = def->handler;
    r->user_data = def->user_data;
    r->summary = def->summary;
    r->request_schema = def->request_schema;
    r->response_schema = def->response_schema;
    r->flags = def->flags;
    r->status = def->status;
    r->plugin = plugin;
    nroutes++;
    return RR_OK;
}

/* Matches path segments against a route; fills params. Score counts literal
 * segments so the most specific route wins. */
static int match_route(const rr_route_t *r, char **segs, int n, rr_kv_t *params, int *np)
{
    if (r->nsegments != n)
        return -1;
    int score = 0, k = 0;
    for (int i = 0; i < n; i++) {
        const char *t = r->segments[i];
        if (is_param(t)) {
            if (k < RR_MAX_PATH_PARAMS) {
                params[k].name = t; /* "{name}": stripped below */
                params[k].value = segs[i];
                k++;
            }
        } else if (strcmp(t, segs[i])) {
            return -1;
        } else {
            score++;
        }
    }
    *np = k;
    return score;
}

rr_match_t rr_router_match(const char *method, const char *path, rr_arena_t *arena,
                           const rr_route_t **route, rr_kv_t *params, int *nparams,
                           const char **allow)
{
    char *segs[RR_MAX_SEGMENTS + 1];
    int n = 0;
    const char *p = path;
    *route = NULL;
    *allow = NULL;
    if (*p != '/')
        return RR_MATCH_NO_PATH;
    while (*p == '/') {
        p++;
        const char *e = strchr(p, '/');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == 0) {
            if (e)
                return RR_MATCH_NO_PATH;
            break;
        }
        if (n == RR_MAX_SEGMENTS)
            return RR_MATCH_NO_PATH;
        segs[n++] = rr_arena_strndup(arena, p, len);
        p += len;
    }
    int best = -1;
    const rr_route_t *best_route = NULL;
    rr_kv_t tmp[RR_MAX_PATH_PARAMS];
    int ntmp = 0;
    char *allowed = NULL;
    for (size_t i = 0; i < nroutes; i++) {
        int np = 0;
        int s = match_route(&routes[i], segs, n, tmp, &np);
        if (s < 0)
            continue;
        if (strcmp(routes[i].method, method)) {
            allowed = allowed ? rr_arena_sprintf(arena, "%s, %s", allowed, routes[i].method)
                              : rr_arena_strdup(arena, routes[i].method);
            continue;
        }
        if (s > best) {
            best = s;
            best_route = &routes[i];
            memcpy(params, tmp, sizeof(rr_kv_t) * (size_t)np);
            ntmp = np;
        }
    }
    if (!best_route) {
        *allow = allowed;
        return allowed ? RR_MATCH_NO_METHOD : RR_MATCH_NO_PATH;
    }
    for (int i = 0; i < ntmp; i++) {
        size_t len = strlen(params[i].name);
        params[i].name = rr_arena_strndup(arena, params[i].name + 1, len - 2);
    }
    *nparams = ntmp;
    *route = best_route;
    return RR_MATCH_OK;
}

size_t rr_router_count(void) { return nroutes; }
const rr_route_t *rr_router_at(size_t i) { return i < nroutes ? &routes[i] : NULL; }

void rr_router_reset(void)
{
    for (size_t i = 0; i < nroutes; i++) {
        for (int k = 0; k < routes[i].nsegments; k++)
            free(routes[i].segments[k]);
        free(routes[i].segments);
        free((char *)routes[i].method);
        free((char *)routes[i].path);
    }
    nroutes = 0;
}
