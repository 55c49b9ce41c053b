/*
 * The OpenAPI 3.1 document, generated from the router's table: every route
 * registered by the core or a plugin appears with its summary, parameters,
 * scope, request and response schemas, so the document cannot drift from what
 * the service serves (tests/api checks both directions).
 */
#include "rr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static json_t *schema_or(const char *text, const char *fallback)
{
    json_t *s = text ? json_loads(text, 0, NULL) : NULL;
    return s ? s : (fallback ? json_loads(fallback, 0, NULL) : NULL);
}

static json_t *problem_schema(void)
{
    return json_loads(
        "{\"type\":\"object\",\"required\":[\"type\",\"title\",\"status\"],\"properties\":{"
        "\"type\":{\"type\":\"string\",\"format\":\"uri\"},\"title\":{\"type\":\"string\"},"
        "\"status\":{\"type\":\"integer\"},\"detail\":{\"type\":\"string\"},"
        "\"field\":{\"type\":\"string\"},\"request_id\":{\"type\":\"string\"},"
        "\"errors\":{\"type\":\"array\",\"items\":{\"type\":\"object\"}}}}",
        0, NULL);
}

static json_t *problem_response(const char *description)
{
    return json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", description, "content",
                     "application/problem+json", "schema", "$ref", "#/components/schemas/Problem");
}

static const char *success_status(const rr_route_t *r)
{
    static char buf[8];
    if (r->status >= 200 && r->status < 300) {
        snprintf(buf, sizeof buf, "%d", r->status);
        return buf;
    }
    if (!strcmp(r->method, "DELETE"))
        return "204";
    if (!strcmp(r->method, "POST"))
        return (r->flags & RR_ROUTE_IDEMPOTENT) ? "201" : "200";
    return "200";
}

json_t *rr_openapi_document(void)
{
    json_t *paths = json_object();
    for (size_t i = 0; i < rr_router_count(); i++) {
        const rr_route_t *r = rr_router_at(i);
        json_t *item = json_object_get(paths, r->path);
        if (!item) {
            item = json_object();
            json_object_set_new(paths, r->path, item);
        }
        json_t *op = json_object();
        json_object_set_new(op, "summary", json_string(r->summary));
        char opid[256];
        size_t o = 0;
        for (const char *p = r->method; *p && o < sizeof opid - 1; p++)
            opid[o++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        for (const char *p = r->path; *p && o < sizeof opid - 1; p++)
            opid[o++] = (*p == '/' || *p == '{' || *p == '}' || *p == '.') ? '_' : *p;
        opid[o] = '\0';
        json_object_set_new(op, "operationId", json_string(opid));
        json_object_set_new(op, "tags", json_pack("[s]", r->plugin));
        json_object_set_new(op, "x-realreach-scope", json_string(rr_scope_name(r->scope)));
        if (r->scope != RR_SCOPE_PUBLIC)
            json_object_set_new(op, "security", json_pack("[{s:[]}]", "bearer"));
        else
            json_object_set_new(op, "security", json_array());
        json_t *params = json_array();
        for (int k = 0; k < r->nsegments; k++) {
            const char *seg = r->segments[k];
            size_t n = strlen(seg);
            if (n > 2 && seg[0] == '{') {
                char name[96];
                snprintf(name, sizeof name, "%.*s", (int)(n - 2), seg + 1);
                bool is_id = n > 5 && !strcmp(seg + n - 4, "_id}");
                json_array_append_new(
                    params, json_pack("{s:s,s:s,s:b,s:o}", "name", name, "in", "path", "required", 1,
                                      "schema",
                                      is_id ? json_pack("{s:s,s:i}", "type", "integer", "minimum", 1)
                                            : json_pack("{s:s}", "type", "string")));
            }
        }
        if (r->flags & RR_ROUTE_IDEMPOTENT)
            json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:{s:s,s:i}}", "name", "Idempotency-Key",
                                                    "in", "header", "required", 0, "schema", "type",
                                                    "string", "maxLength", 255));
        json_object_set_new(op, "parameters", params);
        if (r->request_schema) {
            json_object_set_new(op, "requestBody",
                                json_pack("{s:b,s:{s:{s:o}}}", "required", 1, "content",
                                          "application/json", "schema",
                                          schema_or(r->request_schema, "{\"type\":\"object\"}")));
        }
        json_t *responses = json_object();
        json_t *ok = json_pack("{s:s}", "description", "Success");
        json_t *rs = schema_or(r->response_schema, NULL);
        if (rs && strcmp(success_status(r), "204"))
            json_object_set_new(ok, "content", json_pack("{s:{s:o}}", "application/json", "schema", rs));
        else if (rs)
            json_decref(rs);
        json_object_set_new(responses, success_status(r), ok);
        if (r->scope != RR_SCOPE_PUBLIC) {
            json_object_set_new(responses, "401", problem_response("Missing, invalid, revoked or expired key"));
            json_object_set_new(responses, "403", problem_response("The key's scope or client restriction forbids this"));
            json_object_set_new(responses, "429", problem_response("Rate limit exceeded"));
        }
        if (r->nsegments && strchr(r->path, '{'))
            json_object_set_new(responses, "404", problem_response("No such object for this tenant"));
        if (r->request_schema)
            json_object_set_new(responses, "422", problem_response("The body failed validation"));
        json_object_set_new(responses, "503", problem_response("The database is unavailable; retry"));
        json_object_set_new(op, "responses", responses);
        char method[16];
        size_t m = 0;
        for (const char *p = r->method; *p && m < sizeof method - 1; p++)
            method[m++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
        method[m] = '\0';
        json_object_set_new(item, method, op);
    }
    json_t *doc = json_pack(
        "{s:s,s:{s:s,s:s,s:s},s:o,s:{s:{s:o},s:{s:{s:s,s:s}}}}", "openapi", "3.1.0", "info", "title",
        "realreach API", "version", "1", "description",
        "Audience analytics for social-media agencies. Errors are RFC 9457 problem details; "
        "lists page with ?limit= and ?cursor=.",
        "paths", paths, "components", "schemas", "Problem", problem_schema(), "securitySchemes",
        "bearer", "type", "http", "scheme", "bearer");
    return doc;
}
