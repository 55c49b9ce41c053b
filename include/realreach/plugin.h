/*
 * realreach plugin API — the only header a plugin includes.
 *
 * A plugin is a shared object that exports one function, rr_plugin_describe(),
 * returning a descriptor (use the RR_PLUGIN macro). The host checks every
 * field of the descriptor before it calls anything, then calls init() with the
 * host API: a table of function pointers. A plugin never links against host
 * symbols; it links only against the libraries whose objects cross the
 * boundary (jansson for JSON, libpq for query results).
 *
 * Compatibility rules (checked by the loader, which names the failing field):
 *   - magic equals RR_PLUGIN_MAGIC;
 *   - abi_major equals the host's; abi_minor is at most the host's (the host
 *     table only ever grows at the end, so an older plugin sees a prefix of it);
 *   - size is at least the descriptor size of ABI 1.0;
 *   - build_signature equals the host's (pointer width, jansson and libpq ABI).
 *
 * Ownership is stated on every function: "borrowed" means valid until the
 * handler returns; "stolen" means the host takes the reference.
 */
#ifndef REALREACH_PLUGIN_H
#define REALREACH_PLUGIN_H

#include <jansson.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RR_PLUGIN_MAGIC 0x52525047u /* "RRPG" */
#define RR_ABI_MAJOR 1
/* 1.1: account_load() and rr_account_t. */
#define RR_ABI_MINOR 1

#define RR_STR_(x) #x
#define RR_STR(x) RR_STR_(x)
/* What must be identical between host and plugin for objects to cross. */
#define RR_BUILD_SIGNATURE                                                     \
    "rr1;ptr=" RR_STR(__SIZEOF_POINTER__) ";jansson=" RR_STR(                  \
        JANSSON_MAJOR_VERSION) ";libpq=5"

/* Return codes shared by host functions and plugin callbacks. */
typedef enum rr_rc {
    RR_OK = 0,        /* done; for a handler: a response (maybe a problem) is set */
    RR_ERROR = -1,    /* internal error: the host answers 500 and rolls back */
    RR_DB_ERROR = -2, /* a query failed: the host maps its SQLSTATE (503, 409...) */
    RR_INVALID = -3,  /* input rejected: a problem response is already set */
} rr_rc_t;

/* Scopes are ordered: a key with a higher scope satisfies a lower one. */
typedef enum rr_scope {
    RR_SCOPE_PUBLIC = 0, /* no key needed (health, OpenAPI) */
    RR_SCOPE_READ = 1,
    RR_SCOPE_WRITE = 2,
    RR_SCOPE_ADMIN = 3,
} rr_scope_t;

typedef enum rr_log_level {
    RR_LOG_DEBUG = 0,
    RR_LOG_INFO = 1,
    RR_LOG_WARN = 2,
    RR_LOG_ERROR = 3,
} rr_log_level_t;

typedef struct rr_ctx rr_ctx_t;       /* one request or one job; opaque */
typedef struct rr_plugin rr_plugin_t; /* the host's record of a plugin; opaque */

typedef rr_rc_t (*rr_handler_fn)(rr_ctx_t *ctx, void *user_data);

/* A job handler runs in a job runner inside the job's tenant transaction.
 * payload: borrowed. *result: set to a new reference (stolen) or left NULL.
 * Return RR_OK to commit and mark the job done; RR_INVALID (its payload can
 * never work) rolls back and fails the job for good; anything else rolls
 * back and retries the job with backoff until its attempts are used up. */
typedef rr_rc_t (*rr_job_fn)(rr_ctx_t *ctx, json_t *payload, json_t **result,
                             void *user_data);

/* An ingest hook runs after the data it announces was committed, in a job
 * runner, inside the tenant's transaction. payload: borrowed. */
typedef rr_rc_t (*rr_hook_fn)(rr_ctx_t *ctx, const char *event,
                              json_t *payload, void *user_data);

/* A report section: params borrowed, *section set to a new reference. */
typedef rr_rc_t (*rr_section_fn)(rr_ctx_t *ctx, json_t *params,
                                 json_t **section, void *user_data);

/* Route flags. */
#define RR_ROUTE_IDEMPOTENT 0x1u /* a creating POST: honours Idempotency-Key */
/* The body is not read up front: the handler streams it with body_read()
 * (bulk ingest), up to REALREACH_MAX_STREAM_BODY bytes. */
#define RR_ROUTE_STREAM_BODY 0x2u
/* A GET runs each query in its own read-only implicit transaction (one round
 * trip, no BEGIN/COMMIT). This flag gives a GET one real transaction instead:
 * for cursors, or several reads that must see one snapshot. */
#define RR_ROUTE_TRANSACTION 0x4u

typedef struct rr_route_def {
    size_t size;          /* sizeof(rr_route_def_t) */
    const char *method;   /* "GET", "POST", "PATCH", "PUT", "DELETE" */
    const char *path;     /* template: "/v1/accounts/{account_id}/audits" */
    rr_scope_t scope;     /* scope the key needs */
    rr_handler_fn handler;
    void *user_data;      /* borrowed for the life of the process */
    const char *summary;  /* OpenAPI summary; required */
    const char *request_schema;  /* OpenAPI schema (JSON text) of the body, or NULL */
    const char *response_schema; /* OpenAPI schema (JSON text) of a 2xx body, or NULL */
    unsigned flags;              /* RR_ROUTE_* */
    int status; /* the success status, for OpenAPI (200, 201, 202, 204);
                 * 0 = by method: 201 for an idempotent POST, 204 for
                 * DELETE, else 200 */
} rr_route_def_t;

/* Field description for rr_host_api.json_check(). */
typedef enum rr_field_type {
    RR_FT_STRING,
    RR_FT_INT,    /* JSON integer within int64 */
    RR_FT_NUMBER, /* integer or real */
    RR_FT_BOOL,
    RR_FT_TIME,   /* ISO 8601 string with a time zone */
    RR_FT_OBJECT,
    RR_FT_ARRAY,
} rr_field_type_t;

#define RR_F_REQUIRED 0x1u
#define RR_F_NULLABLE 0x2u
#define RR_F_READONLY 0x4u /* present in responses; refused in bodies */

typedef struct rr_field {
    const char *name;
    rr_field_type_t type;
    unsigned flags;
    size_t max_len;            /* strings: max bytes; arrays: max items; 0 = default */
    const char *const *one_of; /* strings: NULL-terminated allowed values, or NULL */
} rr_field_t;

/* Cursor pagination state, filled by page_begin(). */
typedef struct rr_page {
    int limit;        /* 1..200, default 50 */
    int64_t after_id; /* keyset: rows with id > after_id (0 = from the start) */
} rr_page_t;

/* An account as account_load() gives it: the tenant's, and visible to the
 * request's key. The plugin owns the struct (usually on its stack); the host
 * fills it only on RR_OK. Frozen within ABI major 1: whatever else a plugin
 * may one day need of an account comes with a new function, never in a
 * longer struct (the host writes all of it). */
typedef struct rr_account {
    int64_t id;
    int64_t client_id;  /* the agency's client the account belongs to */
    char platform[16];  /* "x", "instagram", "tiktok", "facebook", "youtube",
                         * "linkedin"; NUL-terminated */
    const char *handle; /* arena memory: valid until the request ends */
} rr_account_t;

/*
 * The host API. Append-only: new functions go at the end and bump
 * RR_ABI_MINOR; nothing is ever removed or reordered within a major.
 */
typedef struct rr_host_api {
    size_t size; /* sizeof(rr_host_api_t) of the host */
    uint32_t abi_major;
    uint32_t abi_minor;

    /* ---- registration: only inside init(); afterwards they return RR_ERROR */
    rr_rc_t (*route_add)(rr_plugin_t *self, const rr_route_def_t *def);
    rr_rc_t (*job_kind_add)(rr_plugin_t *self, const char *kind, rr_job_fn fn,
                            void *user_data);
    /* event: "followers.stored", "metrics.stored", "posts.stored", ... */
    rr_rc_t (*hook_add)(rr_plugin_t *self, const char *event, rr_hook_fn fn,
                        void *user_data);
    rr_rc_t (*report_section_add)(rr_plugin_t *self, const char *name,
                                  rr_section_fn fn, void *user_data);
    /* name: unique within the plugin, applied in name order; sql: borrowed for
     * the life of the process (a string literal or embedded file). */
    rr_rc_t (*migration_add)(rr_plugin_t *self, const char *name,
                             const char *sql);

    /* ---- request (all strings borrowed until the handler returns) */
    const char *(*req_method)(rr_ctx_t *ctx);
    const char *(*req_path)(rr_ctx_t *ctx);
    const char *(*req_param)(rr_ctx_t *ctx, const char *name); /* path */
    const char *(*req_query)(rr_ctx_t *ctx, const char *name); /* first value */
    const char *(*req_header)(rr_ctx_t *ctx, const char *name); /* "Content-Type" */
    const char *(*req_body)(rr_ctx_t *ctx, size_t *len);
    /* The body parsed as a JSON object under the size and depth limits;
     * borrowed. NULL with a 400/415 problem set when it is not one. */
    json_t *(*req_json)(rr_ctx_t *ctx);
    /* A path parameter as a positive id; RR_INVALID with a 404 problem set
     * when it is not one (an id that cannot exist is simply not found). */
    rr_rc_t (*param_id)(rr_ctx_t *ctx, const char *name, int64_t *out);

    /* ---- identity */
    int64_t (*tenant_id)(rr_ctx_t *ctx);
    /* 0 when the key may see every client, else the one client it may see. */
    int64_t (*key_client_id)(rr_ctx_t *ctx);

    /* ---- response */
    rr_rc_t (*respond_json)(rr_ctx_t *ctx, int status, json_t *body /* stolen */);
    rr_rc_t (*respond_raw)(rr_ctx_t *ctx, int status, const char *content_type,
                           const char *body, size_t len /* copied */);
    rr_rc_t (*header_set)(rr_ctx_t *ctx, const char *name, const char *value);
    /* Sets an application/problem+json response. kind: the stable last part
     * of the type URI ("validation", "not-found", ...). field may be NULL.
     * Returns RR_INVALID so that `return host->problem(...)` reads well. */
    rr_rc_t (*problem)(rr_ctx_t *ctx, int status, const char *kind,
                       const char *field, const char *fmt, ...)
        __attribute__((format(printf, 5, 6)));

    /* ---- validation: checks obj against fields (unknown, read-only, missing,
     * wrong type, too long, not one of). RR_OK, or RR_INVALID with a 422
     * problem naming the field. */
    rr_rc_t (*json_check)(rr_ctx_t *ctx, json_t *obj, const rr_field_t *fields,
                          size_t nfields);

    /* ---- database: runs inside the request's tenant transaction, which
     * commits only if the response is 2xx/3xx (a GET without
     * RR_ROUTE_TRANSACTION: each query alone, read-only). Parameters are text; NULL
     * entries are SQL NULL. Returns a result the caller PQclear()s, or NULL
     * on error (return RR_DB_ERROR and the host maps it). */
    PGresult *(*db_query)(rr_ctx_t *ctx, const char *sql, int nparams,
                          const char *const *params);

    /* ---- pagination (?limit=&cursor=) */
    rr_rc_t (*page_begin)(rr_ctx_t *ctx, rr_page_t *page);
    /* Answers 200 {"items": items, "next_cursor": ...}. items: stolen.
     * last_id: id of the last item when more may follow, else 0. */
    rr_rc_t (*page_respond)(rr_ctx_t *ctx, const rr_page_t *page,
                            json_t *items, int64_t last_id);

    /* ---- jobs: enqueued in the current transaction (so it exists only if
     * the request commits). payload: borrowed. */
    rr_rc_t (*job_enqueue)(rr_ctx_t *ctx, const char *kind, json_t *payload,
                           int64_t *job_id);
    /* Answers 202 Accepted with Location: /v1/jobs/{id} and the job. */
    rr_rc_t (*respond_job_accepted)(rr_ctx_t *ctx, int64_t job_id);
    /* Announces an ingest event; hooks run after this transaction commits. */
    rr_rc_t (*event_emit)(rr_ctx_t *ctx, const char *event, json_t *payload);

    /* ---- memory and logging (arena memory lives until the request ends) */
    void *(*alloc)(rr_ctx_t *ctx, size_t size);
    char *(*sprintf)(rr_ctx_t *ctx, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
    void (*log)(rr_ctx_t *ctx, rr_log_level_t level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /* ---- query results as JSON: one object per row, keyed by column name;
     * integers, booleans, numbers and json/jsonb columns keep their types,
     * NULL is null. New references (caller owns). */
    json_t *(*row_json)(const PGresult *res, int row);
    json_t *(*rows_json)(const PGresult *res); /* array of row_json */

    /* The usual list answer in one call: res holds up to page->limit + 1
     * rows selected with `id > page->after_id ORDER BY id LIMIT limit + 1`
     * and an "id" column; the extra row only signals that more follow.
     * res: stolen (the host PQclear()s it). */
    rr_rc_t (*page_respond_rows)(rr_ctx_t *ctx, const rr_page_t *page,
                                 PGresult *res);

    /* In a job: which attempt this is (1 = first); 0 in a request. */
    int (*job_attempt)(rr_ctx_t *ctx);

    /* ---- streaming (routes flagged RR_ROUTE_STREAM_BODY): reads up to cap
     * bytes of the body; returns the count, 0 at its end, -1 when the body
     * ended before its Content-Length. */
    long (*body_read)(rr_ctx_t *ctx, char *buf, size_t cap);
    /* COPY ... FROM STDIN inside the tenant transaction: begin with the
     * COPY statement, put data (text or CSV as the statement says), end.
     * RR_DB_ERROR on failure (a bad row aborts the COPY). */
    rr_rc_t (*copy_begin)(rr_ctx_t *ctx, const char *copy_sql);
    rr_rc_t (*copy_put)(rr_ctx_t *ctx, const char *data, size_t len);
    rr_rc_t (*copy_end)(rr_ctx_t *ctx, int64_t *rows);

    /* ---- accounts (ABI 1.1) */
    /* The account named by the path parameter `param` (e.g. "account_id"),
     * loaded and authorised exactly as the core's own account routes do it,
     * in one query inside the request's transaction. RR_OK with *out
     * filled; RR_INVALID with a 404 problem when the parameter is not a
     * positive id or the tenant has no such account (another tenant's
     * account is no such account), or with a 403 problem when the key is
     * restricted to another client of the tenant; RR_DB_ERROR when the
     * query failed; RR_ERROR when out of memory. For request handlers:
     * jobs have no path parameters. */
    rr_rc_t (*account_load)(rr_ctx_t *ctx, const char *param, rr_account_t *out);
} rr_host_api_t;

typedef struct rr_plugin_desc {
    size_t size; /* sizeof(rr_plugin_desc_t) */
    uint32_t magic;
    uint32_t abi_major;
    uint32_t abi_minor;
    const char *build_signature;
    const char *name;
    const char *version;
    const char *description;
    /* Register everything here. host: borrowed for the life of the process. */
    rr_rc_t (*init)(rr_plugin_t *self, const rr_host_api_t *host);
    void (*fini)(rr_plugin_t *self); /* may be NULL */
} rr_plugin_desc_t;

typedef const rr_plugin_desc_t *(*rr_plugin_describe_fn)(void);

#define RR_PLUGIN_EXPORT __attribute__((visibility("default")))

/* Declares the plugin's descriptor function. */
#define RR_PLUGIN(name_, version_, description_, init_, fini_)                 \
    RR_PLUGIN_EXPORT const rr_plugin_desc_t *rr_plugin_describe(void);         \
    const rr_plugin_desc_t *rr_plugin_describe(void)                           \
    {                                                                          \
        static const rr_plugin_desc_t desc = {                                 \
            sizeof(rr_plugin_desc_t), RR_PLUGIN_MAGIC, RR_ABI_MAJOR,           \
            RR_ABI_MINOR, RR_BUILD_SIGNATURE, name_, version_,                 \
            description_, init_, fini_};                                       \
        return &desc;                                                          \
    }

#ifdef __cplusplus
}
#endif
#endif /* REALREACH_PLUGIN_H */
