/*
 * API key format, generation and hashing, and scope names.
 *
 * A key is `rr_<public id>_<secret>`: the public id (12 base62 chars) names
 * the key in lookups, lists and logs; the secret is 32 bytes from the CSPRNG,
 * base62 encoded. Only SHA-256 of the whole key is stored, so a database dump
 * reveals no usable key, and the digest check needs no salt: the secret alone
 * carries 256 bits, far beyond any guessing.
 */
#include "rr.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#define RR_KEY_PREFIX "rr_"
#define RR_KEY_PREFIX_LEN 3
#define RR_KEY_PUBLIC_LEN 12
#define RR_KEY_SECRET_BYTES 32
/* 62^43 > 2^256: 43 digits hold any 32-byte value; generated secrets are
 * always exactly this long (zero-padded). Longer secrets are accepted so a
 * future generator can grow them without breaking parsers. */
#define RR_KEY_SECRET_MIN 43
#define RR_KEY_SECRET_MAX 86

static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static bool is_b62(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* Uniform base62 characters: bytes >= 248 (= 4 * 62) are rejected so that
 * every character is equally likely (byte % 62 alone would favour 0..7). */
static int random_b62(char *out, size_t n)
{
    unsigned char buf[32];
    size_t o = 0;
    while (o < n) {
        if (RAND_bytes(buf, sizeof buf) != 1)
            return -1;
        for (size_t i = 0; i < sizeof buf && o < n; i++)
            if (buf[i] < 248)
                out[o++] = b62[buf[i] % 62];
    }
    OPENSSL_cleanse(buf, sizeof buf);
    return 0;
}

/* Big-endian bytes -> exactly `digits` base62 characters (zero-padded), by
 * repeated division of the byte string by 62. `bytes` is consumed. */
static void bytes_to_b62(unsigned char *bytes, size_t nbytes, char *out, size_t digits)
{
    for (size_t d = digits; d-- > 0;) {
        unsigned rem = 0;
        for (size_t i = 0; i < nbytes; i++) {
            unsigned cur = (rem << 8) | bytes[i];
            bytes[i] = (unsigned char)(cur / 62);
            rem = cur % 62;
        }
        out[d] = b62[rem];
    }
}

int rr_key_generate(char *out, size_t cap, char public_id[32])
{
    size_t len = RR_KEY_PREFIX_LEN + RR_KEY_PUBLIC_LEN + 1 + RR_KEY_SECRET_MIN;
    if (!out || cap < len + 1)
        return -1;
    char pub[RR_KEY_PUBLIC_LEN];
    unsigned char secret[RR_KEY_SECRET_BYTES];
    if (random_b62(pub, sizeof pub) || RAND_bytes(secret, sizeof secret) != 1) {
        OPENSSL_cleanse(secret, sizeof secret);
        return -1;
    }
    char *p = out;
    memcpy(p, RR_KEY_PREFIX, RR_KEY_PREFIX_LEN);
    p += RR_KEY_PREFIX_LEN;
    memcpy(p, pub, sizeof pub);
    p += sizeof pub;
    *p++ = '_';
    bytes_to_b62(secret, sizeof secret, p, RR_KEY_SECRET_MIN);
    p += RR_KEY_SECRET_MIN;
    *p = '\0';
    OPENSSL_cleanse(secret, sizeof secret);
    if (public_id) {
        memcpy(public_id, pub, sizeof pub);
        public_id[sizeof pub] = '\0';
    }
    return 0;
}

bool rr_key_parse(const char *key, char public_id[32], const char **secret)
{
    if (!key || strncmp(key, RR_KEY_PREFIX, RR_KEY_PREFIX_LEN))
        return false;
    const char *pub = key + RR_KEY_PREFIX_LEN;
    for (int i = 0; i < RR_KEY_PUBLIC_LEN; i++)
        if (!is_b62(pub[i])) /* also stops at the terminating NUL */
            return false;
    if (pub[RR_KEY_PUBLIC_LEN] != '_')
        return false;
    const char *sec = pub + RR_KEY_PUBLIC_LEN + 1;
    size_t n = 0;
    while (n <= RR_KEY_SECRET_MAX && is_b62(sec[n]))
        n++;
    if (sec[n] != '\0' || n < RR_KEY_SECRET_MIN || n > RR_KEY_SECRET_MAX)
        return false;
    if (public_id) {
        memcpy(public_id, pub, RR_KEY_PUBLIC_LEN);
        public_id[RR_KEY_PUBLIC_LEN] = '\0';
    }
    if (secret)
        *secret = sec;
    return true;
}

void rr_key_digest(const char *key, unsigned char out[32])
{
    /* fetched once: OpenSSL 3 looks the algorithm up again on every
     * EVP_sha256() use, a visible share of a request's CPU */
    static EVP_MD *sha256;
    if (!sha256)
        sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    unsigned int len = 0;
    /* EVP_Digest fails only when memory is exhausted; an all-zero digest
     * then matches no stored key (no SHA-256 output is all zero in practice). */
    if (!sha256 || EVP_Digest(key, strlen(key), out, &len, sha256, NULL) != 1 || len != 32)
        memset(out, 0, 32);
}

const char *rr_scope_name(rr_scope_t s)
{
    switch (s) {
    case RR_SCOPE_PUBLIC: return "public";
    case RR_SCOPE_READ: return "read";
    case RR_SCOPE_WRITE: return "write";
    case RR_SCOPE_ADMIN: return "admin";
    }
    return "unknown";
}

int rr_scope_parse(const char *s, rr_scope_t *out)
{
    /* "public" is not a key scope: it only marks routes that need no key */
    static const struct {
        const char *name;
        rr_scope_t scope;
    } names[] = {{"read", RR_SCOPE_READ}, {"write", RR_SCOPE_WRITE}, {"admin", RR_SCOPE_ADMIN}};
    if (!s)
        return -1;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (!strcmp(s, names[i].name)) {
            if (out)
                *out = names[i].scope;
            return 0;
        }
    }
    return -1;
}
