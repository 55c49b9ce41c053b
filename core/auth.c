/*
 * Request authentication: `Authorization: Bearer rr_<public id>_<secret>`.
 *
 * The key is looked up by its public id through realreach.key_lookup() (a
 * SECURITY DEFINER function: no tenant is known yet, and the service role
 * cannot read api_keys across tenants itself), and SHA-256 of the presented
 * key is compared with the stored digest in constant time.
 *
 * Successful lookups are cached per process for rr_cfg.key_cache_ttl seconds,
 * which bounds how long a revocation takes to reach a worker. The cache keeps
 * the digest and re-checks it on every hit (a cached public id proves nothing
 * about the secret), and keeps the key's expiry instant so that expiry is
 * exact even inside the TTL. Failures are never cached: a flood of bad keys
 * cannot evict good entries, and a key fixed in the database works at once.
 *
 * Only the public id ever reaches a log line.
 */
#include "rr.h"

#include <limits.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RR_KEY_CACHE_SLOTS 256 /* power of two: slot = hash & (n - 1) */
#define RR_KEY_BUF 128         /* longer than any well-formed key */

#define MSG_INVALID "the API key is not valid"
#define MSG_IN_URL "send the key in the Authorization header, never in the URL"

/* Whoever answers "unknown public id" and "wrong secret" differently tells an
 * attacker which public ids exist: both get MSG_INVALID. "revoked" and
 * "expired" are told only after the secret matched. */
static const char lookup_sql[] =
    "SELECT key_id, tenant_id, digest, scope, client_id, expired, revoked, expires_in,"
    " rate_limit FROM realreach.key_lookup($1)";

typedef struct key_cache_entry {
    char public_id[32]; /* "" = empty slot */
    unsigned char digest[32];
    rr_key_info_t info;
    long long valid_until_ms; /* monotonic: look the key up again after this */
    long long expires_ms;     /* monotonic instant the key expires; LLONG_MAX = never */
} key_cache_entry_t;

static key_cache_entry_t key_cache[RR_KEY_CACHE_SLOTS];

/* ------------------------------------------------------------ problems */

static rr_rc_t deny(rr_ctx_t *ctx, const char *challenge, const char *detail)
{
    rr_rc_t rc = rr_problem(ctx, 401, "unauthorized", NULL, "%s", detail);
    rr_header_set(ctx, "WWW-Authenticate", challenge);
    return rc;
}

#define CHALLENGE_NONE "Bearer"
#define CHALLENGE_TOKEN "Bearer error=\"invalid_token\""
#define CHALLENGE_REQUEST "Bearer error=\"invalid_request\""

/* ------------------------------------------------------- key in the URL */

static bool is_b62(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* True if s contains something shaped like a key: rr_, 8..24 base62 (the
 * public id range the schema allows), '_', 20+ base62. Looser than
 * rr_key_parse on purpose: a truncated or mangled key in a URL is still a
 * leaked secret that must not be accepted silently. */
static bool contains_key(const char *s)
{
    for (const char *p = s; (p = strstr(p, "rr_")) != NULL; p++) {
        const char *q = p + 3;
        size_t n = 0;
        while (is_b62(q[n]))
            n++;
        if (n < 8 || n > 24 || q[n] != '_')
            continue;
        q += n + 1;
        n = 0;
        while (is_b62(q[n]))
            n++;
        if (n >= 20)
            return true;
    }
    return false;
}

static bool key_in_url(rr_ctx_t *ctx)
{
    static const char *const names[] = {"api_key", "apikey", "key", "access_token"};
    for (int i = 0; i < ctx->nquery; i++) {
        for (size_t k = 0; k < sizeof names / sizeof *names; k++)
            if (!strcasecmp(ctx->query[i].name, names[k]))
                return true;
        if (contains_key(ctx->query[i].value) || contains_key(ctx->query[i].name))
            return true;
    }
    /* the raw string too: the parsed list is capped and skips bad escapes */
    return ctx->query_string && contains_key(ctx->query_string);
}

/* ------------------------------------------------------------- header */

/* Copies the token of "Bearer <token>" (scheme case-insensitive, RFC 9110
 * 11.1) into out. False when the header is not a Bearer credential or the
 * token cannot be a key. */
static bool bearer_token(const char *h, char *out, size_t cap)
{
    while (*h == ' ' || *h == '\t')
        h++;
    if (strncasecmp(h, "Bearer", 6) || (h[6] != ' ' && h[6] != '\t'))
        return false;
    h += 6;
    while (*h == ' ' || *h == '\t')
        h++;
    size_t n = strlen(h);
    while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
        n--;
    if (n == 0 || n >= cap)
        return false;
    memcpy(out, h, n);
    out[n] = '\0';
    return true;
}

/* -------------------------------------------------------------- cache */

static key_cache_entry_t *cache_slot(const char *public_id)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)public_id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return &key_cache[h & (RR_KEY_CACHE_SLOTS - 1)];
}

static void cache_clear(key_cache_entry_t *e) { memset(e, 0, sizeof *e); }

/* ------------------------------------------------------------- lookup */

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* bytea in text form: "\x" and 64 hex digits. */
static bool parse_digest(const char *s, unsigned char out[32])
{
    if (strlen(s) != 66 || s[0] != '\\' || s[1] != 'x')
        return false;
    for (int i = 0; i < 32; i++) {
        int hi = hexval((unsigned char)s[2 + 2 * i]), lo = hexval((unsigned char)s[3 + 2 * i]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

static rr_rc_t lookup_failed(rr_ctx_t *ctx, const char *state)
{
    snprintf(ctx->sqlstate, sizeof ctx->sqlstate, "%s", state && *state ? state : "08006");
    if (!ctx->db || !rr_db_ok(ctx->db))
        ctx->db_lost = true;
    ctx->db_error = "API key lookup failed";
    return rr_problem_from_db(ctx);
}

static void accept_key(rr_ctx_t *ctx, const rr_key_info_t *info)
{
    ctx->key = *info;
    ctx->tenant_id = info->tenant_id;
}

rr_rc_t rr_auth_request(rr_ctx_t *ctx)
{
    if (key_in_url(ctx))
        return deny(ctx, CHALLENGE_REQUEST, MSG_IN_URL);

    const char *header = rr_ctx_header(ctx, "Authorization");
    if (!header || !*header)
        return deny(ctx, CHALLENGE_NONE,
                    "an API key is required: send it as Authorization: Bearer <key>");

    char key[RR_KEY_BUF], public_id[32];
    bool shaped = bearer_token(header, key, sizeof key) && rr_key_parse(key, public_id, NULL);
    if (!shaped) {
        OPENSSL_cleanse(key, sizeof key);
        return deny(ctx, CHALLENGE_TOKEN, MSG_INVALID);
    }
    unsigned char digest[32];
    rr_key_digest(key, digest);
    OPENSSL_cleanse(key, sizeof key);

    long long now = rr_now_ms();
    key_cache_entry_t *slot = rr_cfg.key_cache_ttl > 0 ? cache_slot(public_id) : NULL;
    if (slot && !strcmp(slot->public_id, public_id) && now < slot->valid_until_ms) {
        if (CRYPTO_memcmp(slot->digest, digest, sizeof digest) != 0)
            return deny(ctx, CHALLENGE_TOKEN, MSG_INVALID);
        if (now >= slot->expires_ms) {
            cache_clear(slot);
            rr_log(RR_LOG_INFO, "auth: key %s has expired", public_id);
            return deny(ctx, CHALLENGE_TOKEN, "the API key has expired");
        }
        accept_key(ctx, &slot->info);
        return RR_OK;
    }

    if (!ctx->db)
        return lookup_failed(ctx, "08006");
    const char *params[1] = {public_id};
    char state[6];
    PGresult *r = rr_db_exec_plain(ctx->db, lookup_sql, 1, params, state);
    if (!r)
        return lookup_failed(ctx, state);

    static const unsigned char nothing[32];
    if (PQntuples(r) != 1) {
        /* same work as a wrong secret, so timing tells no more than the text */
        (void)CRYPTO_memcmp(nothing, digest, sizeof digest);
        PQclear(r);
        rr_log(RR_LOG_DEBUG, "auth: unknown key %s", public_id);
        return deny(ctx, CHALLENGE_TOKEN, MSG_INVALID);
    }

    unsigned char stored[32];
    rr_key_info_t info;
    memset(&info, 0, sizeof info);
    snprintf(info.public_id, sizeof info.public_id, "%s", public_id);
    info.key_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    info.tenant_id = strtoll(PQgetvalue(r, 0, 1), NULL, 10);
    bool digest_ok = parse_digest(PQgetvalue(r, 0, 2), stored);
    bool scope_ok = rr_scope_parse(PQgetvalue(r, 0, 3), &info.scope) == 0;
    info.client_id = PQgetisnull(r, 0, 4) ? 0 : strtoll(PQgetvalue(r, 0, 4), NULL, 10);
    bool expired = !strcmp(PQgetvalue(r, 0, 5), "t");
    bool revoked = !strcmp(PQgetvalue(r, 0, 6), "t");
    bool has_expiry = !PQgetisnull(r, 0, 7);
    double expires_in = has_expiry ? strtod(PQgetvalue(r, 0, 7), NULL) : 0;
    info.rate_limit = PQgetisnull(r, 0, 8) ? 0 : atoi(PQgetvalue(r, 0, 8));
    PQclear(r);

    if (!digest_ok || !scope_ok) {
        rr_log(RR_LOG_ERROR, "auth: key %s has a malformed stored digest or scope", public_id);
        return deny(ctx, CHALLENGE_TOKEN, MSG_INVALID);
    }
    if (CRYPTO_memcmp(stored, digest, sizeof digest) != 0) {
        rr_log(RR_LOG_DEBUG, "auth: wrong secret for key %s", public_id);
        return deny(ctx, CHALLENGE_TOKEN, MSG_INVALID);
    }
    if (revoked) {
        rr_log(RR_LOG_INFO, "auth: revoked key %s used", public_id);
        return deny(ctx, CHALLENGE_TOKEN, "the API key has been revoked");
    }
    if (expired) {
        rr_log(RR_LOG_INFO, "auth: key %s has expired", public_id);
        return deny(ctx, CHALLENGE_TOKEN, "the API key has expired");
    }

    if (slot) {
        cache_clear(slot);
        snprintf(slot->public_id, sizeof slot->public_id, "%s", public_id);
        memcpy(slot->digest, stored, sizeof stored);
        slot->info = info;
        slot->valid_until_ms = now + 1000LL * rr_cfg.key_cache_ttl;
        /* The database says how far away expiry is, not when: the worker's
         * monotonic clock then needs no agreement with the server's clock. */
        if (!has_expiry)
            slot->expires_ms = LLONG_MAX;
        else if (expires_in > 1e12) /* past year 30000: never, and no overflow */
            slot->expires_ms = LLONG_MAX;
        else
            slot->expires_ms = now + (long long)(expires_in * 1000.0);
    }
    accept_key(ctx, &info);
    return RR_OK;
}
