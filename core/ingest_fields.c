/*
 * Field access and typed conversion for the normalisers: one lookup over a
 * JSON object (with paths into nested objects and arrays) or a CSV row (by
 * header name), and the conversions to text, count, boolean and time with
 * the reasons a row is refused. The rules that make "unknown" differ from
 * "zero" live here:
 *   - an absent key or column, JSON null, and the CSV tokens NULL and \N are
 *     unknown (SQL NULL);
 *   - an empty CSV cell is unknown for counts and times, "" for text, and
 *     false for booleans (flattened exports, the cresci-2015 files among
 *     them, write nothing for false);
 *   - counts are whole numbers >= 0, given as JSON integers, integral reals
 *     (pandas writes 12.0) or digit strings (X archives and *_str twins).
 */
#include "ingest.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool rr_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned char c = *p;
        if (c < 0x80) {
            if (c == 0)
                return false;
            p++;
            continue;
        }
        int n;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF)
            n = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF)
            n = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4)
            n = 3, cp = c & 0x07;
        else
            return false;
        if (end - p <= n)
            return false;
        for (int i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)))
            return false;
        p += n + 1;
    }
    return true;
}

/* Characters (code points) of valid UTF-8: what PostgreSQL's length() counts. */
static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

static rr_val_t val_of_json(json_t *v)
{
    rr_val_t out = {0};
    if (!v) {
        out.kind = RR_V_ABSENT;
        return out;
    }
    switch (json_typeof(v)) {
    case JSON_NULL: out.kind = RR_V_NULL; break;
    case JSON_STRING:
        out.kind = RR_V_STR;
        out.s = json_string_value(v);
        out.len = json_string_length(v);
        break;
    case JSON_INTEGER:
        out.kind = RR_V_INT;
        out.i = json_integer_value(v);
        break;
    case JSON_REAL:
        out.kind = RR_V_REAL;
        out.d = json_real_value(v);
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        out.kind = RR_V_BOOL;
        out.b = json_is_true(v);
        break;
    default:
        out.kind = RR_V_OTHER;
        out.json = v;
        break;
    }
    return out;
}

/* name may be a path: "a.b.0.c" (numeric segments index arrays). */
static json_t *json_path(json_t *obj, const char *name)
{
    if (!strchr(name, '.'))
        return json_object_get(obj, name);
    char seg[64];
    const char *p = name;
    json_t *cur = obj;
    while (cur && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n >= sizeof seg)
            return NULL;
        memcpy(seg, p, n);
        seg[n] = '\0';
        if (json_is_object(cur)) {
            cur = json_object_get(cur, seg);
        } else if (json_is_array(cur) && n > 0 && isdigit((unsigned char)seg[0])) {
            cur = json_array_get(cur, (size_t)strtoul(seg, NULL, 10));
        } else {
            return NULL;
        }
        p += n + (dot ? 1 : 0);
    }
    return cur;
}

static int csv_column(const rr_source_t *src, const char *name)
{
    char full[96];
    if (src->prefix) {
        snprintf(full, sizeof full, "%s%s", src->prefix, name);
        name = full;
    }
    for (int i = 0; i < src->nheader; i++)
        if (!strcmp(src->header[i], name))
            return i;
    return -1;
}

/* CSV lookups cost a header search; each (names, prefix) pair is resolved
 * once per body and remembered here (the header does not change). */
#define COLCACHE 256
static struct {
    char **header;
    const char *const *names;
    const char *prefix;
    int col;
} colcache[COLCACHE];

void rr_src_cache_reset(void)
{
    memset(colcache, 0, sizeof colcache);
}

static int csv_lookup(const rr_source_t *src, const char *const *names)
{
    size_t h = (((uintptr_t)names >> 3) ^ ((uintptr_t)src->prefix >> 3)) % COLCACHE;
    for (size_t probe = 0; probe < COLCACHE; probe++) {
        size_t i = (h + probe) % COLCACHE;
        if (colcache[i].header == src->header && colcache[i].names == names &&
            colcache[i].prefix == src->prefix)
            return colcache[i].col;
        if (colcache[i].header != src->header) {
            int col = -1;
            for (const char *const *n = names; *n && col < 0; n++)
                col = csv_column(src, *n);
            colcache[i].header = src->header;
            colcache[i].names = names;
            colcache[i].prefix = src->prefix;
            colcache[i].col = col;
            return col;
        }
    }
    int col = -1;
    for (const char *const *n = names; *n && col < 0; n++)
        col = csv_column(src, *n);
    return col;
}

static rr_val_t val_of_entry(rr_jrec_t *j, rr_jentry_t *e)
{
    rr_val_t out = {0};
    out.kind = (rr_vkind_t)e->type;
    switch (out.kind) {
    case RR_V_STR: out.s = rr_jrec_text(j, e, &out.len); break;
    case RR_V_INT: out.i = e->i; break;
    case RR_V_REAL: out.d = e->d; break;
    case RR_V_BOOL: out.b = e->b; break;
    default: break;
    }
    return out;
}

/* A record lookup names a field by one of a few dozen constant strings
 * (the aliases of core/ingest_profile.c and friends), a million records a
 * request: their lengths and hashes are kept here, keyed by the string's
 * address, instead of being computed again for every record. Per thread:
 * nothing is shared. */
typedef struct name_hash {
    const char *name;
    uint32_t len, hash;
} name_hash_t;

static const name_hash_t *name_hash_of(const char *name)
{
    static _Thread_local name_hash_t cache[512];
    name_hash_t *c = &cache[((uintptr_t)name >> 3) % 512];
    if (c->name != name) {
        size_t len = strlen(name);
        c->name = name;
        c->len = (uint32_t)len;
        c->hash = rr_jrec_hash(name, len);
    }
    return c;
}

rr_val_t rr_src_get(const rr_source_t *src, const char *const *names)
{
    rr_val_t out = {0};
    out.kind = RR_V_ABSENT;
    if (src->jrec) {
        char full[128];
        for (const char *const *n = names; *n; n++) {
            rr_jentry_t *e;
            if (src->prefix) {
                int w = snprintf(full, sizeof full, "%s%s", src->prefix, *n);
                if (w < 0 || (size_t)w >= sizeof full)
                    continue;
                e = rr_jrec_get(src->jrec, full, (size_t)w);
            } else {
                const name_hash_t *h = name_hash_of(*n);
                e = rr_jrec_get_hashed(src->jrec, *n, h->len, h->hash);
            }
            if (e) {
                out = val_of_entry(src->jrec, e);
                out.name = *n;
                return out;
            }
        }
        return out;
    }
    if (src->obj) {
        char full[96];
        for (const char *const *n = names; *n; n++) {
            const char *name = *n;
            if (src->prefix) {
                snprintf(full, sizeof full, "%s%s", src->prefix, name);
                name = full;
            }
            json_t *v = json_path(src->obj, name);
            if (v) {
                out = val_of_json(v);
                out.name = *n;
                return out;
            }
        }
        return out;
    }
    if (!src->header)
        return out;
    int col = csv_lookup(src, names);
    if (col < 0 || col >= src->nfields)
        return out;
    const char *s = src->fields[col];
    size_t len = src->lens[col];
    out.csv = true;
    out.name = src->header[col];
    if ((len == 4 && !memcmp(s, "NULL", 4)) || (len == 2 && !memcmp(s, "\\N", 2))) {
        out.kind = RR_V_NULL;
        return out;
    }
    out.kind = RR_V_STR;
    out.s = s;
    out.len = len;
    return out;
}

rr_source_t rr_src_unwrap(const rr_source_t *src)
{
    static const char *const wrappers[] = {"follower", "following", "node", "user", NULL};
    static const char *const prefixes[] = {"follower.", "following.", "node.", "user.", NULL};
    rr_source_t out = *src;
    if (src->obj && json_is_object(src->obj) && json_object_size(src->obj) == 1) {
        for (int i = 0; wrappers[i]; i++) {
            json_t *in = json_object_get(src->obj, wrappers[i]);
            if (json_is_object(in)) {
                out.obj = in;
                break;
            }
        }
    } else if (src->jrec && !src->prefix && src->jrec->root_members == 1) {
        for (int i = 0; wrappers[i]; i++) {
            rr_jentry_t *e = rr_jrec_get(src->jrec, wrappers[i], strlen(wrappers[i]));
            if (e && e->type == RR_V_OTHER && e->container == '{') {
                out.prefix = prefixes[i];
                break;
            }
        }
    }
    return out;
}

bool rr_src_has(const rr_source_t *src, const char *const *names)
{
    rr_val_t v = rr_src_get(src, names);
    return v.kind != RR_V_ABSENT && v.kind != RR_V_NULL;
}

int rr_val_text(const rr_val_t *v, size_t max, const char **s, size_t *len, char *numbuf,
                const char **why)
{
    switch (v->kind) {
    case RR_V_ABSENT:
    case RR_V_NULL: return 0;
    case RR_V_INT:
        if (!numbuf)
            break;
        snprintf(numbuf, 24, "%lld", v->i);
        *s = numbuf;
        *len = strlen(numbuf);
        return 1;
    case RR_V_STR:
        if (v->csv && !rr_utf8_valid(v->s, v->len)) {
            *why = "is not valid UTF-8 (or holds a NUL byte)";
            return -1;
        }
        if (!v->csv && memchr(v->s, '\0', v->len)) {
            *why = "holds a NUL character";
            return -1;
        }
        if (utf8_chars(v->s, v->len) > max) {
            *why = "is too long";
            return -1;
        }
        *s = v->s;
        *len = v->len;
        return 1;
    default: break;
    }
    *why = "must be a string";
    return -1;
}

static bool parse_digits(const char *s, size_t len, int64_t *out)
{
    while (len && isspace((unsigned char)*s))
        s++, len--;
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    if (len == 0 || len > 19)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        if (v > (INT64_MAX - (s[i] - '0')) / 10)
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int rr_val_count(const rr_val_t *v, int64_t *out, const char **why)
{
    switch (v->kind) {
    case RR_V_ABSENT:
    case RR_V_NULL: return 0;
    case RR_V_INT:
        if (v->i < 0) {
            *why = "must not be negative";
            return -1;
        }
        *out = v->i;
        return 1;
    case RR_V_REAL:
        if (v->d < 0) {
            *why = "must not be negative";
            return -1;
        }
        if (v->d != floor(v->d) || v->d > 9.2e18) {
            *why = "must be a whole number";
            return -1;
        }
        *out = (int64_t)v->d;
        return 1;
    case RR_V_STR: {
        const char *s = v->s;
        size_t len = v->len;
        while (len && isspace((unsigned char)*s))
            s++, len--;
        if (len == 0)
            return 0; /* an empty cell: not reported */
        if (parse_digits(s, len, out))
            return 1;
        /* "12.0" from a float column */
        char buf[40];
        if (len < sizeof buf) {
            memcpy(buf, s, len);
            buf[len] = '\0';
            char *end;
            errno = 0;
            double d = strtod(buf, &end);
            while (*end && isspace((unsigned char)*end))
                end++;
            if (!errno && !*end && end != buf && isfinite(d)) {
                if (d < 0) {
                    *why = "must not be negative";
                    return -1;
                }
                if (d == floor(d) && d <= 9.2e18) {
                    *out = (int64_t)d;
                    return 1;
                }
            }
        }
        *why = "must be a whole number >= 0";
        return -1;
    }
    default: *why = "must be a whole number >= 0"; return -1;
    }
}

int rr_val_bool(const rr_val_t *v, bool *out, const char **why)
{
    static const char *const yes[] = {"1", "true", "t", "yes", "y", NULL};
    static const char *const no[] = {"0", "false", "f", "no", "n", NULL};
    switch (v->kind) {
    case RR_V_ABSENT:
    case RR_V_NULL: return 0;
    case RR_V_BOOL: *out = v->b; return 1;
    case RR_V_INT:
        if (v->i == 0 || v->i == 1) {
            *out = v->i == 1;
            return 1;
        }
        break;
    case RR_V_STR: {
        const char *s = v->s;
        size_t len = v->len;
        while (len && isspace((unsigned char)*s))
            s++, len--;
        while (len && isspace((unsigned char)s[len - 1]))
            len--;
        if (len == 0) {
            if (v->csv) {
                *out = false;
                return 1;
            }
            return 0;
        }
        for (const char *const *w = yes; *w; w++)
            if (strlen(*w) == len && !strncasecmp(*w, s, len)) {
                *out = true;
                return 1;
            }
        for (const char *const *w = no; *w; w++)
            if (strlen(*w) == len && !strncasecmp(*w, s, len)) {
                *out = false;
                return 1;
            }
        break;
    }
    default: break;
    }
    *why = "must be a boolean";
    return -1;
}

int rr_val_time(const rr_val_t *v, int64_t *us, const char **why)
{
    switch (v->kind) {
    case RR_V_ABSENT:
    case RR_V_NULL: return 0;
    case RR_V_INT:
        if (rr_time_from_unix(v->i, us))
            return 1;
        break;
    case RR_V_REAL:
        if (v->d >= 0 && v->d < 253402300800.0) {
            *us = (int64_t)(v->d * 1e6);
            return 1;
        }
        break;
    case RR_V_STR: {
        size_t len = v->len;
        const char *s = v->s;
        while (len && isspace((unsigned char)*s))
            s++, len--;
        if (len == 0)
            return 0;
        if (rr_time_parse(s, len, us))
            return 1;
        break;
    }
    default: break;
    }
    *why = "must be a time (ISO 8601, the X format or Unix seconds)";
    return -1;
}
