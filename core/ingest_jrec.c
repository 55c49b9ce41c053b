/*
 * A JSON record parser for the hot path (follower profiles: a million
 * objects a request). It validates one JSON value fully (grammar, string
 * escapes, UTF-8, depth, integer range) but builds no tree: it records every
 * value at a path ("public_metrics.followers_count", "string_list_data.0.value")
 * in a flat table with a small hash index, and decodes an escaped string
 * only when a normaliser asks for it. That is what the normalisers need
 * (look up a handful of paths), at a fraction of the cost of building and
 * freeing a jansson object per record, which was most of a worker's time.
 *
 * A key seen twice in one object: the first is kept (what the lookups see).
 */
#include "ingest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PATH 192
#define MAX_SEGMENTS 6

#define FNV_BASIS 2166136261u

/* FNV-1a, continued from h: a path's hash is built segment by segment as
 * the parser descends, so no path is hashed twice. */
static uint32_t fnv_more(uint32_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

uint32_t rr_jrec_hash(const char *path, size_t n)
{
    return fnv_more(FNV_BASIS, path, n);
}

void rr_jrec_init(rr_jrec_t *j)
{
    memset(j, 0, sizeof *j);
}

void rr_jrec_free(rr_jrec_t *j)
{
    free(j->e);
    free(j->paths);
    free(j->scratch);
    memset(j, 0, sizeof *j);
}

typedef struct jp {
    rr_jrec_t *j;
    const char *start, *s, *end;
    int max_depth;
    char *err;
    size_t errcap;
    char path[MAX_PATH];
    size_t plen;
    uint32_t phash; /* rr_jrec_hash of path[0..plen) */
    bool record; /* path not too long: values are recorded */
    int segments;
} jp_t;

static bool fail(jp_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(jp_t *p, const char *fmt, ...)
{
    if (p->err && p->err[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        char msg[160];
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        snprintf(p->err, p->errcap, "malformed JSON at column %ld: %s", (long)(p->s - p->start) + 1,
                 msg);
    }
    return false;
}

static void ws(jp_t *p)
{
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r'))
        p->s++;
}

static rr_jentry_t *add_entry(jp_t *p, int type)
{
    rr_jrec_t *j = p->j;
    if (!p->record || p->plen == 0)
        return NULL;
    if (j->n == j->cap) {
        int cap = j->cap ? j->cap * 2 : 64;
        if (cap > 65536)
            return NULL;
        rr_jentry_t *e = realloc(j->e, (size_t)cap * sizeof *e);
        if (!e)
            return NULL;
        j->e = e;
        j->cap = cap;
    }
    if (j->plen + p->plen > j->pcap) {
        size_t cap = j->pcap ? j->pcap : 1024;
        while (cap < j->plen + p->plen)
            cap *= 2;
        char *np = realloc(j->paths, cap);
        if (!np)
            return NULL;
        /* entries point into paths: re-base them */
        for (int i = 0; i < j->n; i++)
            j->e[i].path = np + (j->e[i].path - j->paths);
        j->paths = np;
        j->pcap = cap;
    }
    rr_jentry_t *e = &j->e[j->n++];
    memset(e, 0, sizeof *e);
    memcpy(j->paths + j->plen, p->path, p->plen);
    e->path = j->paths + j->plen;
    e->path_len = (uint16_t)p->plen;
    e->hash = p->phash;
    e->type = (uint8_t)type;
    j->plen += p->plen;
    return e;
}

/* Bytes a string scan must stop at: 1 = quote, backslash or a control
 * character; 2 = a byte of a multi-byte UTF-8 sequence (validated once per
 * run, and only for runs that hold one: most strings are plain ASCII). */
static const unsigned char STR_STOP[256] = {
    [0x00 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 2,
};

/* A string at p->s (a quote); sets raw and rawlen to the bytes between the quotes
 * and *escaped when they hold escapes. Validates escapes and UTF-8. */
static bool string(jp_t *p, const char **raw, size_t *rawlen, bool *escaped)
{
    const char *s = ++p->s;
    *escaped = false;
    const char *run = s;
    bool multibyte = false; /* the current run holds a byte >= 0x80 */
    while (p->s < p->end) {
        unsigned char c = (unsigned char)*p->s;
        unsigned char stop = STR_STOP[c];
        if (!stop) {
            p->s++;
            continue;
        }
        if (stop == 2) {
            multibyte = true;
            p->s++;
            continue;
        }
        if (c == '"') {
            if (multibyte && !rr_utf8_valid(run, (size_t)(p->s - run)))
                return fail(p, "invalid UTF-8 in a string");
            *raw = s;
            *rawlen = (size_t)(p->s - s);
            p->s++;
            return true;
        }
        if (c < 0x20)
            return fail(p, "control character in a string");
        if (c == '\\') {
            if (multibyte && !rr_utf8_valid(run, (size_t)(p->s - run)))
                return fail(p, "invalid UTF-8 in a string");
            multibyte = false;
            *escaped = true;
            if (p->s + 1 >= p->end)
                break;
            char e = p->s[1];
            if (e == 'u') {
                if (p->end - p->s < 6)
                    return fail(p, "short \\u escape");
                unsigned v = 0;
                for (int i = 2; i < 6; i++) {
                    char h = p->s[i];
                    v <<= 4;
                    if (h >= '0' && h <= '9')
                        v |= (unsigned)(h - '0');
                    else if (h >= 'a' && h <= 'f')
                        v |= (unsigned)(h - 'a' + 10);
                    else if (h >= 'A' && h <= 'F')
                        v |= (unsigned)(h - 'A' + 10);
                    else
                        return fail(p, "invalid \\u escape");
                }
                if (v == 0)
                    return fail(p, "\\u0000 is not allowed");
                if (v >= 0xDC00 && v <= 0xDFFF)
                    return fail(p, "lone surrogate in a \\u escape");
                p->s += 6;
                if (v >= 0xD800 && v <= 0xDBFF) {
                    if (p->end - p->s < 6 || p->s[0] != '\\' || p->s[1] != 'u')
                        return fail(p, "lone surrogate in a \\u escape");
                    unsigned lo = 0;
                    for (int i = 2; i < 6; i++) {
                        char h = p->s[i];
                        lo <<= 4;
                        if (h >= '0' && h <= '9')
                            lo |= (unsigned)(h - '0');
                        else if (h >= 'a' && h <= 'f')
                            lo |= (unsigned)(h - 'a' + 10);
                        else if (h >= 'A' && h <= 'F')
                            lo |= (unsigned)(h - 'A' + 10);
                        else
                            return fail(p, "invalid \\u escape");
                    }
                    if (lo < 0xDC00 || lo > 0xDFFF)
                        return fail(p, "lone surrogate in a \\u escape");
                    p->s += 6;
                }
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' ||
                       e == 'r' || e == 't') {
                p->s += 2;
            } else {
                return fail(p, "invalid escape");
            }
            run = p->s;
            continue;
        }
        p->s++;
    }
    return fail(p, "unterminated string");
}

static bool number(jp_t *p, rr_jentry_t *e)
{
    const char *s = p->s;
    bool real = false;
    if (p->s < p->end && *p->s == '-')
        p->s++;
    if (p->s >= p->end)
        return fail(p, "invalid number");
    if (*p->s == '0') {
        p->s++;
    } else if (*p->s >= '1' && *p->s <= '9') {
        while (p->s < p->end && *p->s >= '0' && *p->s <= '9')
            p->s++;
    } else {
        return fail(p, "invalid token");
    }
    if (p->s < p->end && *p->s == '.') {
        real = true;
        p->s++;
        if (p->s >= p->end || *p->s < '0' || *p->s > '9')
            return fail(p, "invalid number");
        while (p->s < p->end && *p->s >= '0' && *p->s <= '9')
            p->s++;
    }
    if (p->s < p->end && (*p->s == 'e' || *p->s == 'E')) {
        real = true;
        p->s++;
        if (p->s < p->end && (*p->s == '+' || *p->s == '-'))
            p->s++;
        if (p->s >= p->end || *p->s < '0' || *p->s > '9')
            return fail(p, "invalid number");
        while (p->s < p->end && *p->s >= '0' && *p->s <= '9')
            p->s++;
    }
    size_t n = (size_t)(p->s - s);
    if (!real && n <= 18) {
        /* up to 18 digits cannot overflow an int64: no strtoll, no copy */
        const char *d = s;
        bool neg = *d == '-';
        long long v = 0;
        for (d += neg; d < p->s; d++)
            v = v * 10 + (*d - '0');
        if (e) {
            e->type = RR_V_INT;
            e->i = neg ? -v : v;
        }
        return true;
    }
    char buf[64];
    if (n >= sizeof buf)
        return fail(p, "number too long");
    memcpy(buf, s, n);
    buf[n] = '\0';
    errno = 0;
    if (!real) {
        long long v = strtoll(buf, NULL, 10);
        if (errno)
            return fail(p, "too big integer");
        if (e) {
            e->type = RR_V_INT;
            e->i = v;
        }
    } else {
        double d = strtod(buf, NULL);
        if (errno == ERANGE && (d > 1 || d < -1))
            return fail(p, "real number overflow");
        if (e) {
            e->type = RR_V_REAL;
            e->d = d;
        }
    }
    return true;
}

static bool literal(jp_t *p, const char *word, size_t n)
{
    if ((size_t)(p->end - p->s) < n || memcmp(p->s, word, n))
        return fail(p, "invalid token");
    p->s += n;
    return true;
}

/* Appends a segment to the current path; returns the previous length (and
 * hash in *old_hash). */
static size_t push(jp_t *p, const char *seg, size_t n, bool *was_record, uint32_t *old_hash)
{
    size_t old = p->plen;
    *was_record = p->record;
    *old_hash = p->phash;
    if (!p->record)
        return old;
    size_t need = p->plen + (p->plen ? 1 : 0) + n;
    /* an empty key would add nothing to the path: its value (and all below
     * it) would pass for its parent's, or for the record itself at the top
     * ({"":2} read as the id 2); no lookup names it, so it is not recorded */
    if (n == 0 || need > MAX_PATH || p->segments + 1 > MAX_SEGMENTS) {
        p->record = false;
        return old;
    }
    uint32_t h = p->phash;
    char *o = p->path + p->plen;
    if (p->plen) {
        *o++ = '.';
        h = (h ^ (unsigned char)'.') * 16777619u;
    }
    /* copy and hash in one pass: keys are a few bytes, where memcpy's
     * set-up (an inlined rep movs) cost more than the copy */
    for (size_t i = 0; i < n; i++) {
        o[i] = seg[i];
        h = (h ^ (unsigned char)seg[i]) * 16777619u;
    }
    p->plen = (size_t)(o - p->path) + n;
    p->phash = h;
    p->segments++;
    return old;
}

static void pop(jp_t *p, size_t old, bool was_record, uint32_t old_hash)
{
    if (p->record && p->plen != old)
        p->segments--;
    p->plen = old;
    p->phash = old_hash;
    p->record = was_record;
}

/* Decodes an escaped key into buf (keys are short; a long one is cut). */
static size_t decode_into(const char *raw, size_t n, char *buf, size_t cap);

static bool value(jp_t *p, int depth)
{
    ws(p);
    if (p->s >= p->end)
        return fail(p, "unexpected end of input");
    char c = *p->s;
    if (c == '{' || c == '[') {
        if (depth >= p->max_depth)
            return fail(p, "nested deeper than %d levels", p->max_depth);
        rr_jentry_t *e = add_entry(p, RR_V_OTHER);
        if (e)
            e->container = c;
        bool obj = c == '{';
        int *count = depth == 0 ? &p->j->root_members : NULL;
        p->s++;
        ws(p);
        if (p->s < p->end && *p->s == (obj ? '}' : ']')) {
            p->s++;
            return true;
        }
        int idx = 0;
        for (;;) {
            char seg[MAX_PATH];
            const char *segp = seg; /* the key's bytes: in the text unless decoded */
            size_t slen;
            if (obj) {
                ws(p);
                if (p->s >= p->end || *p->s != '"')
                    return fail(p, "string or '}' expected");
                const char *raw;
                size_t rawlen;
                bool esc;
                if (!string(p, &raw, &rawlen, &esc))
                    return false;
                if (esc) {
                    slen = decode_into(raw, rawlen, seg, sizeof seg);
                } else {
                    segp = raw; /* push() copies it into the path */
                    slen = rawlen < sizeof seg ? rawlen : sizeof seg;
                }
                ws(p);
                if (p->s >= p->end || *p->s != ':')
                    return fail(p, "':' expected");
                p->s++;
            } else if (idx < 10) {
                seg[0] = (char)('0' + idx);
                slen = 1;
            } else {
                slen = (size_t)snprintf(seg, sizeof seg, "%d", idx);
            }
            bool was;
            uint32_t old_hash;
            size_t old = push(p, segp, slen, &was, &old_hash);
            bool ok = value(p, depth + 1);
            pop(p, old, was, old_hash);
            if (!ok)
                return false;
            if (count)
                (*count)++;
            idx++;
            ws(p);
            if (p->s < p->end && *p->s == ',') {
                p->s++;
                continue;
            }
            if (p->s < p->end && *p->s == (obj ? '}' : ']')) {
                p->s++;
                return true;
            }
            return fail(p, obj ? "',' or '}' expected" : "',' or ']' expected");
        }
    }
    rr_jentry_t *e = depth ? add_entry(p, RR_V_NULL) : &p->j->root;
    if (c == '"') {
        const char *raw;
        size_t rawlen;
        bool esc;
        if (!string(p, &raw, &rawlen, &esc))
            return false;
        if (e) {
            e->type = RR_V_STR;
            e->s = raw;
            e->len = (uint32_t)rawlen;
            e->escaped = esc;
        }
        return true;
    }
    if (c == 't' || c == 'f') {
        if (!literal(p, c == 't' ? "true" : "false", c == 't' ? 4 : 5))
            return false;
        if (e) {
            e->type = RR_V_BOOL;
            e->b = c == 't';
        }
        return true;
    }
    if (c == 'n') {
        if (e)
            e->type = RR_V_NULL;
        return literal(p, "null", 4);
    }
    return number(p, e);
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

static unsigned hex4(const char *s)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char h = s[i];
        v = (v << 4) | (unsigned)(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
    }
    return v;
}

/* Decodes raw (validated by string()) into out; returns the length. out
 * needs rawlen bytes at most (every escape is at least as long as what it
 * stands for). */
static size_t decode(const char *raw, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (raw[i] != '\\') {
            out[o++] = raw[i];
            continue;
        }
        char e = raw[++i];
        switch (e) {
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            unsigned cp = hex4(raw + i + 1);
            i += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                unsigned lo = hex4(raw + i + 3);
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            }
            o += put_utf8(out + o, cp);
            break;
        }
        default: out[o++] = e; break;
        }
    }
    return o;
}

static size_t decode_into(const char *raw, size_t n, char *buf, size_t cap)
{
    char tmp[MAX_PATH * 2];
    if (n > sizeof tmp)
        n = sizeof tmp;
    /* a cut escape would decode garbage: cut at a backslash-free point */
    size_t len = decode(raw, n, tmp);
    if (len > cap)
        len = cap;
    memcpy(buf, tmp, len);
    return len;
}

bool rr_jrec_parse(rr_jrec_t *j, const char *text, size_t len, int max_depth, char *err,
                   size_t errcap)
{
    j->n = 0;
    j->plen = 0;
    j->slen = 0;
    j->root_members = 0;
    memset(&j->root, 0, sizeof j->root);
    memset(j->index, 0xff, sizeof j->index);
    if (j->scap < len + 1) {
        char *s = realloc(j->scratch, len + 1);
        if (!s) {
            snprintf(err, errcap, "out of memory");
            return false;
        }
        j->scratch = s;
        j->scap = len + 1;
    }
    jp_t p = {.j = j,
              .start = text,
              .s = text,
              .end = text + len,
              .max_depth = max_depth,
              .err = err,
              .errcap = errcap,
              .phash = FNV_BASIS,
              .record = true};
    err[0] = '\0';
    ws(&p);
    if (p.s < p.end && *p.s == '{')
        j->root.type = RR_V_OTHER, j->root.container = '{';
    else if (p.s < p.end && *p.s == '[')
        j->root.type = RR_V_OTHER, j->root.container = '[';
    if (!value(&p, 0))
        return false;
    ws(&p);
    if (p.s != p.end)
        return fail(&p, "end of file expected");
    if (j->n <= RR_JREC_INDEX * 3 / 4) {
        for (int i = 0; i < j->n; i++) {
            unsigned h = j->e[i].hash % RR_JREC_INDEX;
            while (j->index[h] != 0xffff) {
                /* the first of equal paths wins */
                h = (h + 1) % RR_JREC_INDEX;
            }
            j->index[h] = (uint16_t)i;
        }
        j->indexed = true;
    } else {
        j->indexed = false;
    }
    return true;
}

rr_jentry_t *rr_jrec_get(rr_jrec_t *j, const char *path, size_t plen)
{
    return rr_jrec_get_hashed(j, path, plen, rr_jrec_hash(path, plen));
}

rr_jentry_t *rr_jrec_get_hashed(rr_jrec_t *j, const char *path, size_t plen, uint32_t hash)
{
    if (j->indexed) {
        unsigned h = hash % RR_JREC_INDEX;
        rr_jentry_t *found = NULL;
        while (j->index[h] != 0xffff) {
            rr_jentry_t *e = &j->e[j->index[h]];
            if (e->hash == hash && e->path_len == plen && !memcmp(e->path, path, plen))
                if (!found || e < found)
                    found = e;
            h = (h + 1) % RR_JREC_INDEX;
        }
        return found;
    }
    for (int i = 0; i < j->n; i++) {
        rr_jentry_t *e = &j->e[i];
        if (e->hash == hash && e->path_len == plen && !memcmp(e->path, path, plen))
            return e;
    }
    return NULL;
}

const char *rr_jrec_text(rr_jrec_t *j, rr_jentry_t *e, size_t *len)
{
    if (!e->escaped) {
        *len = e->len;
        return e->s;
    }
    if (!e->dec) {
        /* decoded strings are never longer than the record: scratch fits */
        e->dec = j->scratch + j->slen;
        e->dec_len = (uint32_t)decode(e->s, e->len, j->scratch + j->slen);
        j->slen += e->dec_len;
    }
    *len = e->dec_len;
    return e->dec;
}
