/*
 * Bulk ingest of platform data — internal declarations shared by the
 * core/ingest_*.c files (and their unit tests). Nothing here is plugin API.
 *
 * The pipeline, for every bulk route:
 *
 *   body ──rr_reader──▶ record parser ──▶ normaliser ──▶ COPY binary ─▶ TEMP staging table
 *         (bounded      (JSON array,      (platform      (rr_copybuf)     (ON COMMIT DROP,
 *          window)       NDJSON, CSV,      objects and                     tenant tx)
 *                        id lists)         CSV columns                          │
 *                                          to one row)                          ▼
 *                                                             set-wise SQL merge into the tables
 *
 * Memory is bounded whatever the body size: the reader keeps at most one
 * record (REALREACH_MAX_JSON_BODY) plus one read chunk, one record's JSON is
 * alive at a time, the COPY buffer is flushed at a fixed size, and only the
 * first RR_INGEST_MAX_ERRORS errors and duplicates are kept, and duplicate
 * keys are found with a fixed-size filter (rr_keyset_t). Everything
 * proportional to the row count (exact duplicate checks, profile ids,
 * ordering) happens in PostgreSQL.
 *
 * Files: ingest_parse.c (reader, record parsers), ingest_jrec.c (flat JSON
 * records), ingest_fields.c (lookup, conversions), ingest_time.c,
 * ingest_profile.c (the profile normaliser), ingest_copy.c, ingest_keyset.c,
 * ingest_bulk.c (the bulk request), ingest_merge.c (profiles), and one file
 * per route family: ingest_followers.c, ingest_metrics.c, ingest_posts.c,
 * ingest_engagements.c.
 */
#ifndef RR_INGEST_H
#define RR_INGEST_H

#include "rr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RR_INGEST_MAX_ERRORS 20 /* errors and duplicates listed in an answer */
#define RR_INGEST_CHUNK 10000   /* snapshot members per realreach.snapshot_chunks row */
#define RR_INGEST_READ 65536    /* bytes asked of the body per read */
/* COPY data is handed to libpq in pieces this large. Small enough to fit
 * the socket's send buffer (~208 KiB on Linux) whole, so the worker goes
 * back to parsing while PostgreSQL reads; at 256 KiB the worker waited in
 * send() for the server each time and the two ran in turn instead of side
 * by side (1M profiles: COPY phase 8.0 s at 256 KiB, 4.5 s at 64 KiB). */
#define RR_INGEST_COPY_FLUSH (64 * 1024)

/* ------------------------------------------------------------ timestamps */
/* Parses the platforms' timestamp forms into microseconds since the Unix
 * epoch (UTC):
 *   X v1.1            "Wed Oct 10 20:19:24 +0000 2018"
 *   ISO 8601          "2013-12-14T04:35:55.000Z", "2019-04-05T07:56:32+0000",
 *                     "...+00:00", "2015-02-14 10:54:49" (no zone: UTC),
 *                     "2025-01-02" (midnight UTC)
 *   Unix time         "1732727703" (seconds; 13+ digits: milliseconds)
 * Returns false for anything else or a date out of 1900..9999. */
bool rr_time_parse(const char *s, size_t len, int64_t *us);
/* Unix seconds (or milliseconds when >= 1e11) as from a JSON number. */
bool rr_time_from_unix(long long v, int64_t *us);
/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" (28 bytes + NUL). */
void rr_time_format(int64_t us, char out[32]);
/* "YYYY-MM-DDTHH:MM:SS.mmmZ", as the API shows times. */
void rr_time_format_ms(int64_t us, char out[32]);
int64_t rr_time_now_us(void);
/* Time encoded in an X snowflake id (tweets and users since Nov 2010), or
 * false when the id predates snowflakes. */
bool rr_time_from_snowflake(const char *id, int64_t *us);

/* ---------------------------------------------------------------- reader */
/* Reads like rr_body_read: count, 0 at the end, -1 when the body was cut. */
typedef long (*rr_read_fn)(void *src, char *buf, size_t cap);

typedef struct rr_reader {
    rr_read_fn read;
    void *src;
    char *buf; /* malloc'd window [0, len); consumed up to pos */
    size_t cap, len, pos;
    size_t max_record; /* a record longer than this is refused, not buffered */
    uint64_t consumed; /* bytes dropped from the front of the window so far */
    bool eof;
    bool cut; /* the body ended before its Content-Length */
} rr_reader_t;

bool rr_reader_init(rr_reader_t *r, rr_read_fn fn, void *src, size_t max_record);
void rr_reader_free(rr_reader_t *r);

/* ----------------------------------------------------------- JSON records */
/* One JSON value validated and flattened: every value at its path ("a.b.0"),
 * found by rr_jrec_get (core/ingest_jrec.c). */
#define RR_JREC_INDEX 256
typedef struct rr_jentry {
    const char *path;
    uint32_t hash;
    uint16_t path_len;
    uint8_t type;   /* rr_vkind_t */
    char container; /* '{' or '[' for RR_V_OTHER */
    bool escaped;   /* a string with escapes: read it with rr_jrec_text */
    const char *s;  /* string: the raw bytes between the quotes */
    uint32_t len;
    long long i;
    double d;
    bool b;
    const char *dec; /* decoded text, once asked for */
    uint32_t dec_len;
} rr_jentry_t;

typedef struct rr_jrec {
    rr_jentry_t *e;
    int n, cap;
    char *paths;
    size_t plen, pcap;
    char *scratch; /* decoded strings */
    size_t slen, scap;
    rr_jentry_t root; /* the value itself (type RR_V_OTHER for a container) */
    int root_members;
    uint16_t index[RR_JREC_INDEX];
    bool indexed;
} rr_jrec_t;

void rr_jrec_init(rr_jrec_t *j);
void rr_jrec_free(rr_jrec_t *j);
/* text must stay alive while the record is used. false with err set. */
bool rr_jrec_parse(rr_jrec_t *j, const char *text, size_t len, int max_depth, char *err,
                   size_t errcap);
rr_jentry_t *rr_jrec_get(rr_jrec_t *j, const char *path, size_t plen);
/* The same with the path's hash (rr_jrec_hash) already known. */
rr_jentry_t *rr_jrec_get_hashed(rr_jrec_t *j, const char *path, size_t plen, uint32_t hash);
uint32_t rr_jrec_hash(const char *path, size_t n);
const char *rr_jrec_text(rr_jrec_t *j, rr_jentry_t *e, size_t *len);

/* --------------------------------------------------------------- records */
typedef enum rr_body_format {
    RR_BODY_JSON,   /* one JSON document: an array, or an envelope holding one */
    RR_BODY_NDJSON, /* one JSON value per line */
    RR_BODY_CSV,    /* RFC 4180 with a header row */
    RR_BODY_IDS,    /* one id (or @handle) per line */
} rr_body_format_t;

typedef enum rr_rec_rc {
    RR_REC_OK,    /* a record */
    RR_REC_BAD,   /* a record that cannot be read (error text set); go on */
    RR_REC_END,   /* no more records */
    RR_REC_FATAL, /* the body cannot be read further (error text set) */
} rr_rec_rc_t;

typedef struct rr_record {
    int64_t row;     /* 1-based record number (CSV: data rows after the header) */
    json_t *json;    /* JSON/NDJSON: the value (owned by the parser until next) */
    rr_jrec_t *jrec; /* the same, from a parser made with flat = true */
    char **fields;   /* CSV: NUL-terminated fields (owned by the parser) */
    size_t *lens;
    int nfields;
    const char *text; /* IDS: the line, trimmed */
    size_t text_len;
    char error[200];
} rr_record_t;

typedef struct rr_parser rr_parser_t;
/* flat: JSON records come as rr_jrec_t (fast; for profiles) instead of
 * jansson values. */
rr_parser_t *rr_parser_new(rr_body_format_t fmt, rr_reader_t *rd, int max_depth, bool flat);
void rr_parser_free(rr_parser_t *p);
rr_rec_rc_t rr_parser_next(rr_parser_t *p, rr_record_t *rec);
/* CSV: the header's fields (after the first rr_parser_next), else NULL. */
char **rr_parser_header(rr_parser_t *p, int *n);

/* ---------------------------------------------------------------- values */
typedef enum rr_vkind {
    RR_V_ABSENT, /* no such key / column */
    RR_V_NULL,   /* JSON null, or a CSV NULL token (NULL, \N) */
    RR_V_STR,
    RR_V_INT,
    RR_V_REAL,
    RR_V_BOOL,
    RR_V_OTHER, /* an object or array */
} rr_vkind_t;

typedef struct rr_val {
    rr_vkind_t kind;
    const char *s; /* RR_V_STR (not always NUL-terminated: use len) */
    size_t len;
    long long i;
    double d;
    bool b;
    bool csv;         /* came from a CSV cell (text typed) */
    const char *name; /* the key or column it was found under */
    json_t *json;     /* RR_V_OTHER */
} rr_val_t;

/* Where a normaliser reads a record's fields from: a JSON object, or a CSV
 * row with its header. prefix (optional) is prepended to every name looked
 * up ("profile_" for an engagement's flat profile columns). */
typedef struct rr_source {
    json_t *obj;
    rr_jrec_t *jrec; /* a flat JSON record (instead of obj) */
    char **fields;
    size_t *lens;
    int nfields;
    char **header;
    int nheader;
    const char *prefix;
    bool id_only; /* a bare id or @handle (id lists, JSON scalars): one column "id" */
} rr_source_t;

/* The first of names (NULL-terminated) present in src. Names may be paths
 * into a JSON object ("public_metrics.followers_count",
 * "string_list_data.0.value"); in a CSV header they match literally.
 * The names must be string constants: their hashes are cached by address. */
rr_val_t rr_src_get(const rr_source_t *src, const char *const *names);
bool rr_src_has(const rr_source_t *src, const char *const *names);
/* A record that is only {"follower": {...}} (X archive), {"following":
 * {...}}, {"node": {...}} or {"user": {...}}: the source of the inner object. */
rr_source_t rr_src_unwrap(const rr_source_t *src);
/* Forgets the CSV column lookups of the previous body (call per body). */
void rr_src_cache_reset(void);

/* ------------------------------------------------------------ conversion */
/* Each returns 0 = NULL/absent (out untouched), 1 = a value, -1 = invalid
 * (why set to a short reason). */
int rr_val_text(const rr_val_t *v, size_t max, const char **s, size_t *len, char *numbuf,
                const char **why);
int rr_val_count(const rr_val_t *v, int64_t *out, const char **why);
int rr_val_bool(const rr_val_t *v, bool *out, const char **why);
int rr_val_time(const rr_val_t *v, int64_t *us, const char **why);
/* Valid UTF-8 without NUL (what PostgreSQL text accepts). */
bool rr_utf8_valid(const char *s, size_t len);

/* ---------------------------------------------------------- COPY binary */
/* Rows go to PostgreSQL in COPY's binary format ("WITH (FORMAT binary)",
 * RR_COPY_BINARY): the server then parses no text (numbers, booleans and
 * timestamps arrive as their binary values; text needs no escaping). Every
 * integer column of a staging table is bigint, every time timestamptz. */
#define RR_COPY_BINARY " WITH (FORMAT binary)"

typedef struct rr_copybuf {
    rr_ctx_t *ctx; /* NULL in unit tests: data accumulates */
    char *buf;
    size_t len, cap;
    bool failed;  /* a copy_put failed: the COPY is broken */
    bool started; /* the file header was written */
    size_t row;   /* offset of the current row's field count */
    int fields;   /* fields written to the current row */
} rr_copybuf_t;

bool rr_copybuf_init(rr_copybuf_t *c, rr_ctx_t *ctx);
void rr_copybuf_free(rr_copybuf_t *c);
void rr_copy_text(rr_copybuf_t *c, const char *s, size_t len); /* s NULL: NULL */
void rr_copy_str(rr_copybuf_t *c, const char *s);              /* NUL-terminated or NULL */
void rr_copy_int(rr_copybuf_t *c, int64_t v);                  /* a bigint */
void rr_copy_int4(rr_copybuf_t *c, int32_t v);                 /* an integer */
void rr_copy_opt_int(rr_copybuf_t *c, bool present, int64_t v);
void rr_copy_opt_bool(rr_copybuf_t *c, bool present, bool v);
void rr_copy_opt_time(rr_copybuf_t *c, bool present, int64_t us); /* a timestamptz */
void rr_copy_null(rr_copybuf_t *c);
/* Where a row begins (for rr_copy_row_abort); call before its first field. */
size_t rr_copy_row_begin(rr_copybuf_t *c);
void rr_copy_row_end(rr_copybuf_t *c);
/* Drops what was written since row_start (a row found invalid late). */
void rr_copy_row_abort(rr_copybuf_t *c, size_t row_start);
rr_rc_t rr_copybuf_flush(rr_copybuf_t *c);
/* The file trailer; then flush and end the COPY. */
void rr_copy_finish(rr_copybuf_t *c);

/* --------------------------------------------------------------- profiles */
/* One platform user as every analysis reads it. Text fields point into the
 * record (or into scratch); has_* flags mark what the source gave. */
typedef struct rr_profile_row {
    const char *external_id;
    size_t external_id_len;
    const char *handle;
    size_t handle_len;
    const char *name;
    size_t name_len;
    const char *bio;
    size_t bio_len;
    const char *url;
    size_t url_len;
    const char *location;
    size_t location_len;
    const char *lang;
    size_t lang_len;
    bool has_created, has_followers, has_following, has_posts, has_likes, has_listed;
    bool has_default_avatar, has_verified, has_protected, has_last_post, has_observed;
    bool has_followed_at;
    int64_t created_at, followers, following, posts, likes, listed;
    bool default_avatar, verified, protected_;
    int64_t last_post_at, observed_at, followed_at;
    const char *likes_kind; /* "given", "received" or NULL */
    bool bare;              /* nothing known but the id (and handle) */
    /* scratch for ids made from numbers, '@'+handle keys and repaired text */
    char idbuf[128];
    char scratch[1024];
} rr_profile_row_t;

/* Normalises one record (X v1.1 / v2 user, X archive follower entry,
 * Instagram profile or export entry, TikTok user, canonical or CSV columns)
 * for the account's platform. An id_only source is an id, or a handle when
 * it starts with '@' or is not all digits. Returns true, or false with
 * *field and *why set. */
bool rr_profile_normalise(const rr_source_t *src, const char *platform, rr_profile_row_t *p,
                          const char **field, const char **why);
/* The COPY columns rr_profile_copy writes, for the staging tables. */
#define RR_PROFILE_STAGE_COLUMNS                                                                   \
    "external_id text COLLATE \"C\", handle text, name text, bio text, url text, location text, "  \
    "lang text, platform_created_at timestamptz, followers_count bigint, following_count bigint, " \
    "posts_count bigint, likes_count bigint, listed_count bigint, likes_kind text, "               \
    "default_avatar boolean, verified boolean, protected boolean, last_post_at timestamptz, "      \
    "observed_at timestamptz, followed_at timestamptz, bare boolean"
#define RR_PROFILE_STAGE_NAMES                                                                     \
    "external_id, handle, name, bio, url, location, lang, platform_created_at, followers_count, "  \
    "following_count, posts_count, likes_count, listed_count, likes_kind, default_avatar, "        \
    "verified, protected, last_post_at, observed_at, followed_at, bare"
void rr_profile_copy(rr_copybuf_t *c, const rr_profile_row_t *p);
/* Default-avatar detection from an image URL (X's sticky default images and
 * the egg, Instagram's anonymous picture). */
bool rr_avatar_is_default(const char *url, size_t len);

/* ------------------------------------------------------- duplicate keys */
typedef struct rr_keyset {
    uint64_t *bits; /* blocked Bloom filter, nblocks x 64 bytes */
    size_t nblocks;
    char *cand; /* keys maybe seen before, as a PostgreSQL array literal */
    size_t cand_len, cand_cap;
    int64_t ncand;
    bool overflow; /* too many candidates: check the whole request */
} rr_keyset_t;

/* Sized for a body of body_len bytes. false when memory ran out. */
bool rr_keyset_init(rr_keyset_t *ks, unsigned long long body_len);
void rr_keyset_free(rr_keyset_t *ks);
void rr_keyset_add(rr_keyset_t *ks, const char *key, size_t len);
/* The candidates as "{...}" (valid until the next add). */
const char *rr_keyset_candidates(rr_keyset_t *ks);

/* ------------------------------------------------------------ bulk runs */
typedef struct rr_bulk rr_bulk_t;

/* Called once per record. Writes the row's COPY line (rr_copy_*) into
 * b->copy and returns true, or calls rr_bulk_error() and returns false
 * (having written nothing). A JSON scalar (an id) arrives as an id_only
 * source. */
typedef bool (*rr_bulk_row_fn)(rr_bulk_t *b, const rr_source_t *src, int64_t row, void *ud);

struct rr_bulk {
    rr_ctx_t *ctx;
    bool skip;      /* ?on_error=skip */
    bool stage_all; /* keep staging valid rows after an error (checks in SQL follow) */
    rr_body_format_t format;
    const char *platform; /* the account's */
    int64_t account_id;
    int64_t received; /* records read */
    int64_t valid;    /* records staged */
    int64_t rejected; /* records refused (C-side and SQL-side checks) */
    int64_t duplicates;
    int64_t handle_keyed; /* staged profiles keyed by '@handle' */
    rr_keyset_t keys;     /* followers: external ids seen (duplicate candidates) */
    bool use_keys;
    int64_t linked;       /* '@handle' rows linked to known ids */
    bool staged_resolved; /* rows were staged with known profiles' ids */
    bool any_observed;    /* some row carried its own observation time */
    int64_t max_observed; /* the latest of those */
    bool any_followed;    /* some row carried a follow time (followers) */
    json_t *errors;       /* first RR_INGEST_MAX_ERRORS {row, field, reason} */
    json_t *dups;         /* first RR_INGEST_MAX_ERRORS {row, first_row, key} */
    rr_copybuf_t copy;
    bool copy_open;
    int64_t now_us; /* the request's time (default observation time) */
};

/* Starts a bulk request into the account acct (loaded with rr_account_load;
 * it must outlive b): reads on_error and the body format (Content-Type,
 * ?format=). RR_OK, or a 400/415 problem set with b already cleaned up. */
rr_rc_t rr_bulk_init(rr_bulk_t *b, rr_ctx_t *ctx, const rr_account_ref_t *acct);
void rr_bulk_cleanup(rr_bulk_t *b);
/* Records a refused row (first errors kept). Returns false for convenience. */
bool rr_bulk_error(rr_bulk_t *b, int64_t row, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Creates the staging table (create_sql, unless NULL) and streams the body through fn
 * into `copy_sql` (a COPY ... FROM STDIN). RR_OK, RR_INVALID (400 problem:
 * the body is unreadable) or RR_DB_ERROR. */
rr_rc_t rr_bulk_stream(rr_bulk_t *b, const char *create_sql, const char *copy_sql,
                       rr_bulk_row_fn fn, void *ud);
/* The same with flat JSON records (rows read through rr_src_get only). */
rr_rc_t rr_bulk_stream_flat(rr_bulk_t *b, const char *create_sql, const char *copy_sql,
                            rr_bulk_row_fn fn, void *ud);
/* Rows found invalid by a query over the staging table: sql returns (row_no,
 * field, reason) ordered by row_no; all of them count as rejected, the first
 * are listed. With on_error=skip they are then removed by delete_sql. */
rr_rc_t rr_bulk_sql_errors(rr_bulk_t *b, const char *sql, const char *delete_sql, int n,
                           const char *const *params);
/* Duplicates found by a query returning (row_no, first_row, key); listed and
 * counted; the staging rows are flagged by the query itself. */
rr_rc_t rr_bulk_sql_dups(rr_bulk_t *b, const char *sql, int n, const char *const *params);
/* true when the request must be refused: a 422 problem with the counts and
 * the errors is set (nothing is written: the transaction rolls back). */
bool rr_bulk_refused(rr_bulk_t *b);
/* The counts object every bulk answer carries (new reference). */
json_t *rr_bulk_counts(rr_bulk_t *b, int64_t accepted);
/* For a large request: raises work_mem for this transaction (the set-wise
 * merge then sorts and hashes in memory) and runs analyze_sql (ANALYZE of
 * the staging table, which has no statistics otherwise). */
rr_rc_t rr_bulk_tune(rr_bulk_t *b, const char *analyze_sql);
/* Runs a statement that returns nothing of interest. */
rr_rc_t rr_bulk_exec(rr_ctx_t *ctx, const char *sql, int n, const char *const *params);

/* ----------------------------------------------------- profile merging */
/* pg_temp.rr_stage_profiles: a request's profiles (followers COPY straight
 * into it; engagements fill it from their own staging table). orig_id is the
 * key the request used, before '@handle' keys were linked to known ids.
 * profile_id is drawn from the profiles' id sequence as rows arrive, so a
 * new profile's id is known before it is inserted (the membership needs no
 * join back); a row naming a known profile gets that profile's id instead
 * (existing). */
#define RR_STAGE_PROFILES_CREATE                                                                   \
    "CREATE TEMP TABLE rr_stage_profiles (row_no bigint NOT NULL, " RR_PROFILE_STAGE_COLUMNS       \
    ", dup boolean NOT NULL DEFAULT false, orig_id text COLLATE \"C\","                            \
    " profile_id bigint NOT NULL DEFAULT nextval('realreach.profiles_id_seq'),"                    \
    " existing boolean NOT NULL DEFAULT false) ON COMMIT DROP"

/* Takes the tenant's per-platform profile lock, held to the commit:
 * concurrent ingests would otherwise deadlock on each other's new profiles,
 * or both find a key new and one fail on inserting it. Whoever looks keys
 * up in profiles before rr_profiles_link takes it first. */
rr_rc_t rr_profiles_lock(rr_bulk_t *b);
/* Takes the tenant's per-platform profile lock (concurrent ingests would
 * otherwise deadlock on each other's new profiles), then links '@handle'
 * rows to profiles known by id with that handle, and moves '@handle'
 * placeholders to the real ids this request names. */
rr_rc_t rr_profiles_link(rr_bulk_t *b);
/* Up to this many staged rows a merge looks profiles up by index, one probe
 * a row, rather than trusting the planner's estimate of a tenant's size
 * (ingest_merge.c). */
#define RR_MERGE_PROBE_MAX 50000
/* Flags and reports every staged row naming a profile an earlier row named
 * (a snapshot's merge, when its requests reported duplicates or linking
 * moved a key). */
rr_rc_t rr_profiles_dups(rr_bulk_t *b);
/* Upserts the staged profiles (not flagged dup): newer observations win
 * field by field, NULL never overwrites, older ones only fill NULLs.
 * default_observed_us: the observation time of rows that carry none. */
rr_rc_t rr_profiles_upsert(rr_bulk_t *b, int64_t default_observed_us, int64_t *created,
                           int64_t *updated);

/* A profile as list answers show it (a: the table alias). */
#define RR_PROFILE_JSON_COLS(a)                                                                    \
    a ".id AS profile_id, " a ".external_id, " a ".handle, " a ".name, " a ".bio, " a ".url, " a   \
      ".location, " a ".lang, realreach.iso(" a ".platform_created_at) AS platform_created_at, " a \
      ".followers_count, " a ".following_count, " a ".posts_count, " a ".likes_count, " a          \
      ".listed_count, " a ".likes_kind, " a ".default_avatar, " a ".verified, " a ".protected, "   \
      "realreach.iso(" a ".last_post_at) AS last_post_at, realreach.iso(" a                        \
      ".observed_at) AS observed_at"

/* OpenAPI pieces shared by the ingest routes. */
#define RR_INGEST_COUNTS_PROPS                                                                     \
    "\"received\":{\"type\":\"integer\"},\"accepted\":{\"type\":\"integer\"},"                     \
    "\"rejected\":{\"type\":\"integer\"},\"duplicates\":{\"type\":\"integer\"},"                   \
    "\"errors\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"               \
    "\"row\":{\"type\":\"integer\"},\"field\":{\"type\":[\"string\",\"null\"]},"                   \
    "\"reason\":{\"type\":\"string\"}}}},"                                                         \
    "\"duplicate_rows\":{\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{"       \
    "\"row\":{\"type\":\"integer\"},\"first_row\":{\"type\":\"integer\"},\"key\":{\"type\":"       \
    "\"string\"}}}}"
#define RR_INGEST_PAGE_OF(item)                                                                    \
    "{\"type\":\"object\",\"properties\":{\"items\":{\"type\":\"array\",\"items\":" item           \
    "},\"next_cursor\":{\"type\":[\"string\",\"null\"]}}}"
#define RR_INGEST_BODY(what)                                                                       \
    "{\"type\":\"array\",\"description\":\"" what " as a JSON array (or a platform API answer "    \
    "holding one), NDJSON (application/x-ndjson) or CSV with a header (text/csv); "                \
    "?on_error=skip stores the valid rows\",\"items\":{\"type\":\"object\"}}"

/* --------------------------------------------------------------- helpers */
/* An optional ISO 8601 query parameter; 400 when malformed. */
rr_rc_t rr_query_time(rr_ctx_t *ctx, const char *name, bool *present, int64_t *us);
const char *rr_i64(rr_ctx_t *ctx, int64_t v); /* arena decimal text */

void rr_routes_followers_register(void);
/* The job that merges a snapshot's intake into profiles and membership
 * (ingest_snapshot_merge.c); registered with the followers routes. */
#define RR_SNAPSHOT_MERGE_KIND "followers.merge"
void rr_snapshot_merge_register(void);
/* A follower snapshot as answers show it (realreach.follower_snapshots). */
#define RR_SNAPSHOT_COLS                                                                           \
    "id, account_id, realreach.iso(observed_at) AS observed_at,"                                   \
    " realreach.snapshot_state(state, expires_at, merge_job_id) AS state, parts, received,"        \
    " rejected, duplicates, followers, realreach.iso(created_at) AS created_at,"                   \
    " realreach.iso(completed_at) AS completed_at,"                                                \
    " CASE WHEN state = 'open' THEN realreach.iso(expires_at) END AS expires_at, merge_job_id"
/* Merges the 'merging' snapshot snapshot_id of the tenant in ctx's open
 * transaction and completes it; *result: what the job records (followers,
 * duplicates, profiles created and updated), or a "skipped" note when the
 * snapshot is gone or already merged. *snapshot (when not NULL): the
 * completed snapshot's row (RR_SNAPSHOT_COLS), NULL when it was skipped. */
rr_rc_t rr_snapshot_merge(rr_ctx_t *ctx, int64_t snapshot_id, json_t **result, PGresult **snapshot);
/* A list of up to this many accepted rows is merged by the request that
 * takes it in (201, complete); a longer one by a job (202, merging). At
 * this size the merge adds tens of milliseconds to the request, and a
 * runner would merge a stream of small lists more slowly than the workers
 * take them in. */
#define RR_INLINE_MERGE_MAX 10000
void rr_routes_metrics_register(void);
void rr_routes_posts_register(void);
void rr_routes_engagements_register(void);

#endif /* RR_INGEST_H */
