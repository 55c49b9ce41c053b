/*
 * Internal declarations shared by the core's modules. Plugins never see this
 * file: their whole view of the host is include/realreach/plugin.h.
 */
#ifndef RR_CORE_H
#define RR_CORE_H

#include <realreach/plugin.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RR_PROBLEM_BASE "https://realreach.dev/problems/"

/* ---------------------------------------------------------------- arena */
typedef struct rr_arena rr_arena_t;
rr_arena_t *rr_arena_new(void);
void *rr_arena_alloc(rr_arena_t *a, size_t size);
char *rr_arena_strdup(rr_arena_t *a, const char *s);
char *rr_arena_strndup(rr_arena_t *a, const char *s, size_t n);
char *rr_arena_vsprintf(rr_arena_t *a, const char *fmt, va_list ap);
char *rr_arena_sprintf(rr_arena_t *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void rr_arena_reset(rr_arena_t *a); /* frees all but the first block */
void rr_arena_free(rr_arena_t *a);

/* --------------------------------------------------------------- config */
typedef struct rr_config {
    const char *db;        /* REALREACH_DB: service role conninfo */
    const char *admin_db;  /* REALREACH_ADMIN_DB: owner conninfo (migrate, CLI) */
    const char *socket;    /* REALREACH_SOCKET */
    const char *plugins;   /* REALREACH_PLUGINS: dirs and .so files, ':'-separated */
    const char *pidfile;   /* REALREACH_PIDFILE */
    int workers;           /* REALREACH_WORKERS (default 2 x cores) */
    int job_runners;       /* REALREACH_JOB_RUNNERS (default 1) */
    int request_timeout;   /* REALREACH_REQUEST_TIMEOUT seconds (default 30) */
    int bulk_timeout;      /* REALREACH_BULK_TIMEOUT seconds for streamed bulk routes (default 3600) */
    int key_cache_ttl;     /* REALREACH_KEY_CACHE_TTL seconds (default 5) */
    size_t max_body;       /* REALREACH_MAX_BODY bytes (default 64 MiB) */
    size_t max_json_body;  /* REALREACH_MAX_JSON_BODY bytes (default 1 MiB) */
    unsigned long long max_stream_body; /* REALREACH_MAX_STREAM_BODY (default 4 GiB) */
    int max_json_depth;    /* REALREACH_MAX_JSON_DEPTH (default 32) */
    int rate_limit;        /* REALREACH_RATE_LIMIT requests/s per key (0 = off) */
    int rate_burst;        /* REALREACH_RATE_BURST (default 2 x rate) */
    int log_level;         /* REALREACH_LOG_LEVEL debug|info|warn|error */
} rr_config_t;

extern rr_config_t rr_cfg;
int rr_config_load(void); /* file named by REALREACH_CONFIG, then env */

/* ------------------------------------------------------------------ log */
void rr_log(rr_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void rr_vlog(rr_log_level_t level, const char *fmt, va_list ap);
void rr_log_set_role(const char *role); /* "master", "worker", "runner" */
/* One structured line per request. */
void rr_log_request(const char *request_id, int64_t tenant_id,
                    const char *key_id, const char *method, const char *route,
                    int status, long long micros);
/* Appends s to buf as JSON string contents (no quotes); returns bytes used. */
size_t rr_json_escape(char *buf, size_t cap, const char *s);

/* ------------------------------------------------------------- key/value */
typedef struct rr_kv {
    const char *name;
    const char *value;
} rr_kv_t;

/* ----------------------------------------------------------------- router */
typedef struct rr_route {
    const char *method;
    const char *path;  /* template */
    char **segments;   /* split template; "{x}" segments are parameters */
    int nsegments;
    rr_scope_t scope;
    rr_handler_fn handler;
    void *user_data;
    const char *summary;
    const char *request_schema;
    const char *response_schema;
    unsigned flags;
    int status;         /* documented success status (0 = by method) */
    const char *plugin; /* "core" or the plugin's name */
} rr_route_t;

typedef enum rr_match {
    RR_MATCH_OK,
    RR_MATCH_NO_PATH,
    RR_MATCH_NO_METHOD,
} rr_match_t;

rr_rc_t rr_router_add(const rr_route_def_t *def, const char *plugin);
/* params: arena array of up to 8 kv pairs filled on a match. */
rr_match_t rr_router_match(const char *method, const char *path,
                           rr_arena_t *arena, const rr_route_t **route,
                           rr_kv_t *params, int *nparams, const char **allow);
size_t rr_router_count(void);
const rr_route_t *rr_router_at(size_t i);
void rr_router_reset(void);
#define RR_MAX_PATH_PARAMS 8

/* -------------------------------------------------------------- database */
typedef struct rr_db rr_db_t;
rr_db_t *rr_db_open(const char *conninfo); /* never NULL; may be disconnected */
void rr_db_close(rr_db_t *db);
bool rr_db_ensure(rr_db_t *db); /* reconnects if needed; false if unavailable */
bool rr_db_ok(const rr_db_t *db);
PGconn *rr_db_conn(rr_db_t *db);

/* --------------------------------------------------------------- request */
typedef struct rr_key_info {
    char public_id[32];
    int64_t key_id;
    int64_t tenant_id;
    int64_t client_id; /* 0 = all clients */
    rr_scope_t scope;
    int rate_limit;    /* requests/s for this key; 0 = REALREACH_RATE_LIMIT */
} rr_key_info_t;

typedef struct rr_header {
    const char *name;
    const char *value;
    struct rr_header *next;
} rr_header_t;

struct rr_ctx {
    rr_arena_t *arena;
    bool is_job;
    const char *request_id;

    /* request */
    const char *method;
    const char *path;
    const char *query_string;
    rr_kv_t *query;
    int nquery;
    const char *bad_query; /* a parameter that did not decode (bad escape, NUL) */
    rr_kv_t *headers; /* request headers, names lower-case with '-' */
    int nheaders;
    rr_kv_t params[RR_MAX_PATH_PARAMS];
    int nparams;
    char *body;
    size_t body_len;
    char *body_heap; /* owned: body when it outgrew its arena start (or NULL) */
    /* streamed bodies (RR_ROUTE_STREAM_BODY) */
    void *body_stream;            /* FCGX_Stream *, NULL when not streaming */
    unsigned long long body_left; /* bytes of Content-Length not read yet */
    void *body_hash;              /* EVP_MD_CTX * over what was read (Idempotency-Key) */
    bool body_short;              /* the body ended early */
    json_t *body_json; /* owned; freed at the end of the request */
    const rr_route_t *route;

    /* identity */
    rr_key_info_t key;
    int64_t tenant_id;

    /* response */
    int status;
    const char *content_type;
    char *resp_body; /* arena */
    size_t resp_len;
    rr_header_t *resp_headers;
    bool responded;
    const char *idem_body; /* stored for Idempotency-Key replay instead of
                            * resp_body (a secret shown once is not kept) */

    /* database */
    rr_db_t *db;
    int64_t tx_tenant;  /* tenant the pending/open transaction is for */
    bool tx_pending;    /* BEGIN + set_config queued, not yet sent */
    bool tx_reads;      /* no transaction: each query alone, read-only, tenant set */
    bool tx_open;
    char sqlstate[6];
    const char *db_error; /* arena copy of the last error message */
    bool db_lost;         /* the connection broke during this request */

    int job_attempt; /* 1-based attempt number in a job; 0 in a request */

    /* events to announce after commit */
    json_t *events; /* owned array or NULL */
};

void rr_ctx_init(rr_ctx_t *ctx, rr_arena_t *arena, rr_db_t *db);
void rr_ctx_cleanup(rr_ctx_t *ctx);
const char *rr_ctx_header(rr_ctx_t *ctx, const char *name);
const char *rr_ctx_query(rr_ctx_t *ctx, const char *name);
/* Is s one of allowed (NULL-terminated)? */
bool rr_one_of(const char *s, const char *const *allowed);
/* The query parameter name, which may be absent or one of allowed: RR_OK
 * with *value (NULL when absent), or RR_INVALID with a 400 problem naming
 * the parameter and listing the allowed values. */
rr_rc_t rr_query_one_of(rr_ctx_t *ctx, const char *name, const char *const *allowed,
                        const char **value);
void rr_ctx_parse_query(rr_ctx_t *ctx, const char *qs);

/* ------------------------------------------------------------- responses */
rr_rc_t rr_respond_json(rr_ctx_t *ctx, int status, json_t *body);
rr_rc_t rr_respond_raw(rr_ctx_t *ctx, int status, const char *ctype,
                       const char *body, size_t len);
rr_rc_t rr_header_set(rr_ctx_t *ctx, const char *name, const char *value);
rr_rc_t rr_problem(rr_ctx_t *ctx, int status, const char *kind,
                   const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
rr_rc_t rr_vproblem(rr_ctx_t *ctx, int status, const char *kind,
                    const char *field, const char *fmt, va_list ap);
/* Adds "errors": [...] (stolen) to the problem already set. */
void rr_problem_add_errors(rr_ctx_t *ctx, json_t *errors);
/* The status/kind a failed query maps to (503 for a lost database ...). */
rr_rc_t rr_problem_from_db(rr_ctx_t *ctx);

/* ------------------------------------------------------------------ json */
json_t *rr_req_json(rr_ctx_t *ctx);
rr_rc_t rr_json_check(rr_ctx_t *ctx, json_t *obj, const rr_field_t *fields,
                      size_t n);
/* -1 if text nests deeper than limit (stops at the first level over), else 0. */
int rr_json_depth_exceeds(const char *text, size_t len, int limit);
bool rr_time_valid(const char *s);

/* Rows as JSON (typed by column OID); new references. */
json_t *rr_row_json(const PGresult *res, int row);
json_t *rr_rows_json(const PGresult *res);

/* ------------------------------------------------------------ tenant tx */
void rr_tx_begin(rr_ctx_t *ctx, int64_t tenant_id); /* queued, sent lazily */
/* Reads only: every query is sent as set_config + query + Sync, one implicit
 * read-only transaction each (one round trip; nothing to commit). */
void rr_tx_begin_reads(rr_ctx_t *ctx, int64_t tenant_id);
rr_rc_t rr_tx_end(rr_ctx_t *ctx, bool commit);        /* RR_DB_ERROR if COMMIT failed */
PGresult *rr_db_query(rr_ctx_t *ctx, const char *sql, int n,
                      const char *const *params);
/* Streaming body and COPY FROM STDIN (plugin.h explains them). */
long rr_body_read(rr_ctx_t *ctx, char *buf, size_t cap);
void rr_body_drain(rr_ctx_t *ctx);
rr_rc_t rr_copy_begin(rr_ctx_t *ctx, const char *copy_sql);
rr_rc_t rr_copy_put(rr_ctx_t *ctx, const char *data, size_t len);
rr_rc_t rr_copy_end(rr_ctx_t *ctx, int64_t *rows);
/* Sends a queued BEGIN + set_config now (before a COPY). */
rr_rc_t rr_tx_start_now(rr_ctx_t *ctx);
/* Outside any tenant (admin CLI, readiness): plain query on a connection. */
PGresult *rr_db_exec_plain(rr_db_t *db, const char *sql, int n,
                           const char *const *params, char sqlstate[6]);

/* ---------------------------------------------------------------- auth */
/* Authenticates ctx from its Authorization header; RR_OK or a 401/503
 * problem set (RR_INVALID). */
rr_rc_t rr_auth_request(rr_ctx_t *ctx);
/* key format helpers (also used by the CLI and /v1/keys) */
int rr_key_generate(char *out, size_t cap, char public_id[32]); /* 0 ok */
bool rr_key_parse(const char *key, char public_id[32], const char **secret);
void rr_key_digest(const char *key, unsigned char out[32]);
const char *rr_scope_name(rr_scope_t s);
int rr_scope_parse(const char *s, rr_scope_t *out);

/* ------------------------------------------------------------ pagination */
rr_rc_t rr_page_begin(rr_ctx_t *ctx, rr_page_t *page);
rr_rc_t rr_page_respond(rr_ctx_t *ctx, const rr_page_t *page, json_t *items,
                        int64_t last_id);
rr_rc_t rr_page_respond_rows(rr_ctx_t *ctx, const rr_page_t *page, PGresult *res);
/* The same, each row shown by row_json (a route's own object form, e.g. a
 * job's) instead of rr_row_json. res: up to limit + 1 rows in id order with
 * an "id" column; stolen. */
typedef json_t *(*rr_row_json_fn)(const PGresult *res, int row);
rr_rc_t rr_page_respond_rows_as(rr_ctx_t *ctx, const rr_page_t *page, PGresult *res,
                                rr_row_json_fn row_json);

/* --------------------------------------------------------------- plugins */
struct rr_plugin {
    char *path;
    const rr_plugin_desc_t *desc;
    void *handle;
    bool in_init; /* registration allowed only while true */
    bool loaded;
    char error[256];
};
extern const rr_host_api_t rr_host_api;
/* Loads every plugin named by spec (dirs and files). Returns the number of
 * refused plugins; details in each record. */
int rr_plugins_load(const char *spec, bool run_init);
size_t rr_plugins_count(void);
rr_plugin_t *rr_plugin_at(size_t i);
/* Checks a descriptor against the host; NULL if fine, else a message naming
 * the field (static buffer). */
const char *rr_plugin_check_desc(const rr_plugin_desc_t *d);

typedef struct rr_migration {
    const char *owner; /* "core" or the plugin's name */
    const char *name;
    const char *sql;
} rr_migration_t;
rr_rc_t rr_migration_register(const char *owner, const char *name,
                              const char *sql);
size_t rr_migrations_count(void);
const rr_migration_t *rr_migration_at(size_t i);

typedef struct rr_job_kind {
    const char *kind;
    rr_job_fn fn;
    void *user_data;
    const char *plugin;
} rr_job_kind_t;
rr_rc_t rr_job_kind_register(const char *kind, rr_job_fn fn, void *ud,
                             const char *plugin);
const rr_job_kind_t *rr_job_kind_find(const char *kind);
size_t rr_job_kinds_count(void);
const rr_job_kind_t *rr_job_kind_at(size_t i);

typedef struct rr_hook {
    const char *event;
    rr_hook_fn fn;
    void *user_data;
    const char *plugin;
} rr_hook_t;
rr_rc_t rr_hook_register(const char *event, rr_hook_fn fn, void *ud,
                         const char *plugin);
size_t rr_hooks_count(void);
const rr_hook_t *rr_hook_at(size_t i);

typedef struct rr_section {
    const char *name;
    rr_section_fn fn;
    void *user_data;
    const char *plugin;
} rr_section_t;
rr_rc_t rr_section_register(const char *name, rr_section_fn fn, void *ud,
                            const char *plugin);
size_t rr_sections_count(void);
const rr_section_t *rr_section_at(size_t i);

/* ------------------------------------------------------------------ jobs */
rr_rc_t rr_job_enqueue(rr_ctx_t *ctx, const char *kind, json_t *payload,
                       int64_t *job_id);
rr_rc_t rr_respond_job_accepted(rr_ctx_t *ctx, int64_t job_id);
rr_rc_t rr_event_emit(rr_ctx_t *ctx, const char *event, json_t *payload);
/* Enqueues the events collected in ctx as hook jobs (inside the tx). */
rr_rc_t rr_events_flush(rr_ctx_t *ctx);
int rr_runner_main(int slot); /* job runner process body */
json_t *rr_job_to_json(const PGresult *res, int row);
/* SELECT list over realreach.jobs that rr_job_to_json() reads (jobs.c). */
extern const char rr_job_columns[];

/* ---------------------------------------------------------- scoreboard */
typedef enum rr_proc_kind { RR_PROC_WORKER = 1, RR_PROC_RUNNER = 2 } rr_proc_kind_t;
int rr_scoreboard_init(int nslots);
int rr_scoreboard_slots(void);
void rr_scoreboard_claim(int slot, pid_t pid, rr_proc_kind_t kind, int generation);
void rr_scoreboard_release(int slot);
void rr_scoreboard_busy(int slot, const char *route, const char *request_id);
void rr_scoreboard_idle(int slot);
/* The request in slot streams a bulk body: it gets REALREACH_BULK_TIMEOUT. */
void rr_scoreboard_bulk(int slot);
/* Master: returns the pid of slot i and how long it has been busy (ms, or
 * -1 if idle); route copied into buf. */
pid_t rr_scoreboard_peek(int slot, long long *busy_ms, char *route, size_t cap,
                         rr_proc_kind_t *kind, int *generation);
long long rr_now_ms(void);      /* monotonic */
long long rr_now_us(void);      /* monotonic */

/* ---------------------------------------------------------------- metrics */
void rr_metrics_observe(const char *method, const char *route, int status,
                        long long micros);
void rr_metrics_count_restart(void);
void rr_metrics_count_job(const char *outcome); /* "done", "retry", "failed" */
char *rr_metrics_render(rr_arena_t *a, size_t *len);

/* ------------------------------------------------------------ rate limit */
/* true if allowed; else *retry_after set (seconds). remaining for headers. */
bool rr_ratelimit_take(const char *key_id, int rate, int burst, int *remaining,
                       int *retry_after);

/* ----------------------------------------------------------- idempotency */
/* Before the handler: RR_OK to run it (lock held), or a response set. */
rr_rc_t rr_idem_begin(rr_ctx_t *ctx, const char *key, bool *replayed);
/* After a successful handler, inside the tx: stores the answer. */
rr_rc_t rr_idem_store(rr_ctx_t *ctx, const char *key);

/* ---------------------------------------------------------------- routes */
void rr_routes_core_register(void);    /* health, metrics, openapi, plugins */
void rr_routes_clients_register(void); /* clients and accounts */
void rr_routes_keys_register(void);
void rr_routes_jobs_register(void);
void rr_routes_ingest_register(void); /* platform data in (core/ingest_*.c) */
/* 403 problem (RR_INVALID) when the key is restricted to another client. */
rr_rc_t rr_client_allowed(rr_ctx_t *ctx, int64_t client_id);

/* The {account_id} of a request, loaded once for every route under an
 * account: 404 when the tenant has no such account, 403 when the key is
 * restricted to another client. rr_account_load_param() reads the path
 * parameter named param instead (plugins: host->account_load). */
typedef struct rr_account_ref {
    int64_t id;
    char id_text[24];
    int64_t client_id;
    char platform[16];
    const char *handle; /* arena */
} rr_account_ref_t;
rr_rc_t rr_account_load(rr_ctx_t *ctx, rr_account_ref_t *acct);
rr_rc_t rr_account_load_param(rr_ctx_t *ctx, const char *param, rr_account_ref_t *acct);
json_t *rr_openapi_document(void);

/* --------------------------------------------------------------- process */
int rr_serve(void);
int rr_worker_main(int listen_fd, int slot, int generation);
/* One accepted request, start to finish (handle, answer, FCGX_Finish_r, count,
 * log, arena reset): the accept loop's body, exposed for the fuzz harness. */
struct FCGX_Request;
void rr_worker_serve(struct FCGX_Request *req, rr_arena_t *arena, rr_db_t *db, int slot);
int rr_migrate_main(int argc, char **argv);
int rr_cli_tenant(int argc, char **argv);
int rr_cli_key(int argc, char **argv);
int rr_cli_plugins(int argc, char **argv);
extern volatile int rr_shutdown_requested;

/* Exit code that tells the master not to respawn (nginx uses 2 too). */
#define RR_EXIT_FATAL 2

/* Embedded SQL files (generated by tools/embed). */
typedef struct rr_embedded_file {
    const char *name;
    const char *data;
} rr_embedded_file_t;
extern const rr_embedded_file_t rr_core_sql[];
extern const size_t rr_core_sql_count;

#endif /* RR_CORE_H */
