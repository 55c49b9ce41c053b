/*
 * Record parsers over a streamed body: one JSON document (a top-level array,
 * an API envelope such as {"users":[...]}/{"data":[...]}, or an X archive
 * file "window.YTD.follower.part0 = [...]"), NDJSON, CSV with a header, and
 * plain id lists. They hand out one record at a time from a bounded window
 * (rr_reader_t): a record longer than the limit is skipped and reported,
 * never buffered, so memory does not grow with the body.
 *
 * CSV fields lose NUL bytes (PostgreSQL text cannot hold them; the
 * cresci-2015 files have a description padded with them).
 *
 * The JSON document parser does not parse the document: it scans bytes
 * (strings, escapes, nesting) only to find where each element of the record
 * array begins and ends, then hands that element alone to jansson under the
 * depth limit. A malformed element is one bad record; the scan goes on.
 */
#include "ingest.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RR_CSV_MAX_FIELDS 512

/* ---------------------------------------------------------------- reader */

bool rr_reader_init(rr_reader_t *r, rr_read_fn fn, void *src, size_t max_record)
{
    memset(r, 0, sizeof *r);
    r->read = fn;
    r->src = src;
    r->max_record = max_record;
    r->cap = 2 * RR_INGEST_READ;
    r->buf = malloc(r->cap);
    return r->buf != NULL;
}

void rr_reader_free(rr_reader_t *r)
{
    free(r->buf);
    r->buf = NULL;
}

/* Drops the consumed front of the window and reads once more. Returns the
 * bytes added; 0 at the end of the body (or when memory ran out). */
static long reader_more(rr_reader_t *r)
{
    if (r->eof)
        return 0;
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->consumed += r->pos;
        r->pos = 0;
    }
    if (r->cap - r->len < RR_INGEST_READ) {
        size_t ncap = r->cap * 2;
        while (ncap - r->len < RR_INGEST_READ)
            ncap *= 2;
        char *nb = realloc(r->buf, ncap);
        if (!nb) {
            r->eof = r->cut = true;
            return 0;
        }
        r->buf = nb;
        r->cap = ncap;
    }
    long n = r->read(r->src, r->buf + r->len, r->cap - r->len);
    if (n <= 0) {
        r->eof = true;
        r->cut = n < 0;
        return 0;
    }
    r->len += (size_t)n;
    return n;
}

/* Byte at offset off from the window's front, reading as needed; -1 at the
 * end of the body. */
static int byte_at(rr_reader_t *r, size_t off)
{
    while (r->pos + off >= r->len)
        if (reader_more(r) == 0)
            return -1;
    return (unsigned char)r->buf[r->pos + off];
}

/* ---------------------------------------------------------------- parser */

typedef enum json_state {
    J_PROLOG, /* before the document */
    J_ARRAY,  /* inside the record array */
    J_DONE,
} json_state_t;

struct rr_parser {
    rr_body_format_t fmt;
    rr_reader_t *rd;
    int max_depth;
    int64_t row;
    bool started; /* IDS: past the first line */
    bool bom_done;
    json_t *json; /* the current record's value */
    bool flat;    /* records as rr_jrec_t */
    rr_jrec_t jrec;
    /* JSON document */
    json_state_t jstate;
    size_t off; /* scan offset from rd->pos */
    int nelem;
    /* CSV */
    char delim;
    char **header;
    int nheader;
    char *rec; /* unquoted fields of the current record */
    size_t rec_cap;
    char *fields[RR_CSV_MAX_FIELDS];
    size_t lens[RR_CSV_MAX_FIELDS];
};

rr_parser_t *rr_parser_new(rr_body_format_t fmt, rr_reader_t *rd, int max_depth, bool flat)
{
    rr_parser_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->flat = flat;
    rr_jrec_init(&p->jrec);
    p->fmt = fmt;
    p->rd = rd;
    p->max_depth = max_depth;
    p->delim = ',';
    return p;
}

void rr_parser_free(rr_parser_t *p)
{
    if (!p)
        return;
    json_decref(p->json);
    rr_jrec_free(&p->jrec);
    for (int i = 0; i < p->nheader; i++)
        free(p->header[i]);
    free(p->header);
    free(p->rec);
    free(p);
}

char **rr_parser_header(rr_parser_t *p, int *n)
{
    *n = p->nheader;
    return p->header;
}

static void skip_bom(rr_parser_t *p)
{
    rr_reader_t *r = p->rd;
    if (byte_at(r, 0) == 0xEF && byte_at(r, 1) == 0xBB && byte_at(r, 2) == 0xBF)
        r->pos += 3;
}

static void set_error(rr_record_t *rec, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_error(rr_record_t *rec, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rec->error, sizeof rec->error, fmt, ap);
    va_end(ap);
}

/* Parses text as one JSON value under the depth limit into p->json. */
static bool parse_value(rr_parser_t *p, const char *text, size_t len, rr_record_t *rec)
{
    if (p->flat) {
        if (!rr_jrec_parse(&p->jrec, text, len, p->max_depth, rec->error, sizeof rec->error))
            return false;
        rec->jrec = &p->jrec;
        return true;
    }
    if (rr_json_depth_exceeds(text, len, p->max_depth)) {
        set_error(rec, "nested deeper than %d levels", p->max_depth);
        return false;
    }
    json_error_t err;
    p->json = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
    if (!p->json) {
        set_error(rec, "malformed JSON at column %d: %s", err.column, err.text);
        return false;
    }
    rec->json = p->json;
    return true;
}

/* ----------------------------------------------------------------- lines */

/* The next line (without its newline) at rd->pos, consumed. *too_long when
 * it was longer than the limit (then it was skipped). RR_REC_END when none. */
static rr_rec_rc_t next_line(rr_parser_t *p, const char **line, size_t *len, bool *too_long)
{
    rr_reader_t *r = p->rd;
    size_t scanned = 0;
    *too_long = false;
    for (;;) {
        char *start = r->buf + r->pos;
        size_t avail = r->len - r->pos;
        char *nl = scanned < avail ? memchr(start + scanned, '\n', avail - scanned) : NULL;
        if (nl) {
            *line = start;
            *len = (size_t)(nl - start);
            r->pos += *len + 1;
            return RR_REC_OK;
        }
        scanned = avail;
        if (avail > r->max_record) { /* drop what we have, find the line's end */
            *too_long = true;
            r->pos = r->len;
            scanned = 0;
        }
        if (reader_more(r) == 0) {
            avail = r->len - r->pos;
            if (avail == 0 && !*too_long)
                return RR_REC_END;
            *line = r->buf + r->pos;
            *len = avail;
            r->pos = r->len;
            return RR_REC_OK;
        }
    }
}

static void trim(const char **s, size_t *len)
{
    while (*len && isspace((unsigned char)**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len && isspace((unsigned char)(*s)[*len - 1]))
        (*len)--;
}

static rr_rec_rc_t ndjson_next(rr_parser_t *p, rr_record_t *rec)
{
    for (;;) {
        const char *line;
        size_t len;
        bool too_long;
        if (next_line(p, &line, &len, &too_long) == RR_REC_END)
            return RR_REC_END;
        if (!too_long) {
            trim(&line, &len);
            if (len == 0)
                continue; /* blank lines separate nothing */
        }
        rec->row = ++p->row;
        if (too_long) {
            set_error(rec, "record longer than %zu bytes", p->rd->max_record);
            return RR_REC_BAD;
        }
        return parse_value(p, line, len, rec) ? RR_REC_OK : RR_REC_BAD;
    }
}

/* One id or @handle per line; '#' starts a comment line; a first line that
 * is a column name ("id", "username", ...) is a header. */
static rr_rec_rc_t ids_next(rr_parser_t *p, rr_record_t *rec)
{
    static const char *const headers[] = {"id",     "user_id",     "id_str",      "username",
                                          "handle", "screen_name", "external_id", NULL};
    for (;;) {
        const char *line;
        size_t len;
        bool too_long;
        if (next_line(p, &line, &len, &too_long) == RR_REC_END)
            return RR_REC_END;
        if (!too_long) {
            trim(&line, &len);
            if (len == 0 || line[0] == '#')
                continue;
            if (p->row == 0 && !p->started) {
                p->started = true;
                bool is_header = false;
                for (const char *const *h = headers; *h; h++)
                    if (strlen(*h) == len && !strncasecmp(*h, line, len))
                        is_header = true;
                if (is_header)
                    continue;
            }
        }
        p->started = true;
        rec->row = ++p->row;
        if (too_long) {
            set_error(rec, "line longer than %zu bytes", p->rd->max_record);
            return RR_REC_BAD;
        }
        rec->text = line;
        rec->text_len = len;
        return RR_REC_OK;
    }
}

/* ------------------------------------------------------------------ JSON */

static bool is_ws(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int skip_ws(rr_parser_t *p)
{
    int c;
    while ((c = byte_at(p->rd, p->off)) >= 0 && is_ws(c))
        p->off++;
    return c;
}

/* Moves the window's front to the scan offset (what is before is done). */
static void drop_scanned(rr_parser_t *p)
{
    p->rd->pos += p->off;
    p->off = 0;
}

/* Scans one JSON value starting at p->off (no leading space). On return
 * p->off is just past it. Returns 1, or 0 when the body ended inside it.
 * keep: the value must stay in the window (it will be parsed); once it is
 * longer than the record limit *too_long is set and it is discarded as it
 * is scanned. */
static int scan_value(rr_parser_t *p, bool keep, bool *too_long)
{
    rr_reader_t *r = p->rd;
    int depth = 0;
    bool in_str = false, esc = false;
    int first = byte_at(r, p->off);
    if (first < 0)
        return 0;
    bool scalar = first != '{' && first != '[' && first != '"';
    if (too_long)
        *too_long = false;
    for (;;) {
        const char *b = r->buf + r->pos;
        size_t avail = r->len - r->pos;
        for (size_t i = p->off; i < avail; i++) {
            char c = b[i];
            if (in_str) {
                if (esc)
                    esc = false;
                else if (c == '\\')
                    esc = true;
                else if (c == '"') {
                    in_str = false;
                    if (depth == 0) {
                        p->off = i + 1;
                        return 1;
                    }
                }
                continue;
            }
            if (scalar) {
                if (c == ',' || c == ']' || c == '}' || is_ws(c)) {
                    p->off = i;
                    return 1;
                }
                continue;
            }
            switch (c) {
            case '"': in_str = true; break;
            case '{':
            case '[': depth++; break;
            case '}':
            case ']':
                if (--depth == 0) {
                    p->off = i + 1;
                    return 1;
                }
                break;
            default: break;
            }
        }
        p->off = avail;
        if (keep && p->off > r->max_record) {
            keep = false;
            if (too_long)
                *too_long = true;
        }
        if (!keep)
            drop_scanned(p);
        if (reader_more(r) == 0)
            return scalar && r->len - r->pos == p->off && !r->cut ? 1 : 0;
    }
}

/* Reads a JSON string key at p->off into key (truncated to cap-1); p->off
 * ends after the closing quote. Escapes are kept as written (no record key
 * needs them). Returns false when the body ended or it is not a string. */
static bool read_key(rr_parser_t *p, char *key, size_t cap)
{
    if (byte_at(p->rd, p->off) != '"')
        return false;
    p->off++;
    size_t n = 0;
    bool esc = false;
    for (;;) {
        int c = byte_at(p->rd, p->off);
        if (c < 0)
            return false;
        p->off++;
        if (esc) {
            esc = false;
        } else if (c == '\\') {
            esc = true;
        } else if (c == '"') {
            break;
        }
        if (n + 1 < cap)
            key[n++] = (char)c;
    }
    key[n] = '\0';
    return true;
}

static bool in_list(const char *key, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(key, *list))
            return true;
    return false;
}

/* Keys whose array value holds the records, and keys whose object value is
 * searched further, as the platforms' API answers and exports nest them. */
static const char *const record_keys[] = {"data",
                                          "users",
                                          "ids",
                                          "relationships_followers",
                                          "relationships_following",
                                          "followers",
                                          "following",
                                          "user_followers",
                                          "user_following",
                                          "items",
                                          "records",
                                          "results",
                                          "posts",
                                          "media",
                                          "videos",
                                          "tweets",
                                          "metrics",
                                          "values",
                                          "engagements",
                                          "comments",
                                          "likes",
                                          "profiles",
                                          NULL};
static const char *const descend_keys[] = {"data",   "business_discovery", "media",
                                           "result", "response",           NULL};

/* Searches the object starting at p->off for the record array. Returns 1
 * when positioned on the array's first byte ('['), 0 when the object holds
 * none (p->off after it), -1 when the body ended or is malformed. */
static int find_array(rr_parser_t *p, int level, bool keep)
{
    p->off++; /* '{' */
    for (;;) {
        int c = skip_ws(p);
        if (c == '}') {
            p->off++;
            return 0;
        }
        if (c == ',') {
            p->off++;
            continue;
        }
        char key[64];
        if (!read_key(p, key, sizeof key))
            return -1;
        if (skip_ws(p) != ':')
            return -1;
        p->off++;
        c = skip_ws(p);
        if (c < 0)
            return -1;
        if (c == '[' && in_list(key, record_keys))
            return 1;
        if (c == '{' && level < 4 && in_list(key, descend_keys)) {
            int found = find_array(p, level + 1, keep);
            if (found != 0)
                return found;
            continue;
        }
        bool long_value;
        if (!scan_value(p, keep, &long_value))
            return -1;
    }
}

/* Positions the parser on the first element of the record array. A single
 * object that holds no array is one record. */
static rr_rec_rc_t json_prolog(rr_parser_t *p, rr_record_t *rec)
{
    rr_reader_t *r = p->rd;
    int c = skip_ws(p);
    if (c < 0) {
        p->jstate = J_DONE;
        return RR_REC_END;
    }
    if (c != '[' && c != '{') { /* "window.YTD.follower.part0 = [" */
        size_t limit = 4096;
        while (c >= 0 && c != '=' && p->off < limit)
            c = byte_at(r, ++p->off);
        if (c != '=') {
            set_error(rec, "the body is not a JSON array, object or X archive file");
            return RR_REC_FATAL;
        }
        p->off++;
        c = skip_ws(p);
    }
    drop_scanned(p);
    if (c == '{') {
        uint64_t start = r->consumed + r->pos;
        int found = find_array(p, 0, true);
        if (found < 0) {
            set_error(rec, "malformed JSON document (at byte %llu)",
                      (unsigned long long)(r->consumed + r->pos + p->off));
            return RR_REC_FATAL;
        }
        if (found == 0) { /* one object: one record, if it is still whole */
            p->jstate = J_DONE;
            if (r->consumed + r->pos != start || p->off > r->max_record) {
                set_error(rec, "the JSON object holds no list of records");
                return RR_REC_FATAL;
            }
            rec->row = ++p->row;
            size_t len = p->off;
            drop_scanned(p);
            return parse_value(p, r->buf + r->pos - len, len, rec) ? RR_REC_OK : RR_REC_BAD;
        }
    } else if (c != '[') {
        set_error(rec, "the body is not a JSON array or object");
        return RR_REC_FATAL;
    }
    p->off++; /* '[' */
    drop_scanned(p);
    p->jstate = J_ARRAY;
    return RR_REC_END; /* "no record yet": the caller goes on to the elements */
}

static rr_rec_rc_t json_next(rr_parser_t *p, rr_record_t *rec)
{
    rr_reader_t *r = p->rd;
    if (p->jstate == J_PROLOG) {
        rr_rec_rc_t rc = json_prolog(p, rec);
        if (rc != RR_REC_END || p->jstate != J_ARRAY)
            return rc;
    }
    if (p->jstate == J_DONE)
        return RR_REC_END;
    int c = skip_ws(p);
    if (p->nelem > 0) {
        if (c == ',') {
            p->off++;
            c = skip_ws(p);
        } else if (c != ']') {
            p->jstate = J_DONE;
            set_error(rec,
                      c < 0 ? "the JSON array is not closed"
                            : "expected ',' or ']' after element %d",
                      p->nelem);
            return RR_REC_FATAL;
        }
    }
    if (c == ']') {
        p->jstate = J_DONE;
        p->off++;
        drop_scanned(p);
        return RR_REC_END;
    }
    if (c < 0) {
        p->jstate = J_DONE;
        set_error(rec, "the JSON array is not closed");
        return RR_REC_FATAL;
    }
    drop_scanned(p);
    bool too_long = false;
    if (!scan_value(p, true, &too_long)) {
        p->jstate = J_DONE;
        set_error(rec, "the body ended inside element %d", p->nelem + 1);
        return RR_REC_FATAL;
    }
    p->nelem++;
    rec->row = ++p->row;
    if (too_long) {
        drop_scanned(p);
        set_error(rec, "record longer than %zu bytes", r->max_record);
        return RR_REC_BAD;
    }
    size_t len = p->off;
    drop_scanned(p);
    return parse_value(p, r->buf + r->pos - len, len, rec) ? RR_REC_OK : RR_REC_BAD;
}

/* ------------------------------------------------------------------- CSV */

/* Finds the end of the record at rd->pos (quote-aware). Returns the length
 * of its text (without the newline), sets *next to the bytes to consume;
 * -1 at the end of the body, -2 when it is longer than the limit (then it
 * was skipped and consumed). */
static long csv_span(rr_parser_t *p, size_t *next, bool *unterminated)
{
    rr_reader_t *r = p->rd;
    bool in_q = false, skipping = false;
    size_t i = 0;
    *unterminated = false;
    for (;;) {
        const char *b = r->buf + r->pos;
        size_t avail = r->len - r->pos;
        for (; i < avail; i++) {
            char c = b[i];
            if (c == '"')
                in_q = !in_q;
            else if (c == '\n' && !in_q) {
                if (skipping) {
                    r->pos += i + 1;
                    return -2;
                }
                *next = i + 1;
                return (long)i;
            }
        }
        if (i > r->max_record || skipping) {
            skipping = true;
            r->pos += i;
            i = 0;
        }
        if (reader_more(r) == 0) {
            avail = r->len - r->pos;
            if (skipping) {
                r->pos = r->len;
                return -2;
            }
            if (avail == 0)
                return -1;
            *unterminated = in_q;
            *next = avail;
            return (long)avail;
        }
    }
}

/* Splits text[0, len) into p->fields (unquoting). Returns the field count,
 * or -1 when there are too many. */
static int csv_split(rr_parser_t *p, const char *text, size_t len)
{
    if (len && text[len - 1] == '\r')
        len--;
    if (p->rec_cap < len + 1) {
        size_t cap = len + 1 < 4096 ? 4096 : len + 1;
        char *nr = realloc(p->rec, cap);
        if (!nr)
            return -1;
        p->rec = nr;
        p->rec_cap = cap;
    }
    char *out = p->rec;
    int n = 0;
    size_t i = 0;
    for (;;) {
        if (n == RR_CSV_MAX_FIELDS)
            return -1;
        char *f = out;
        bool quoted = i < len && text[i] == '"';
        if (quoted) {
            i++;
            while (i < len) {
                if (text[i] == '"') {
                    if (i + 1 < len && text[i + 1] == '"') {
                        *out++ = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                if (text[i] != '\0') /* PostgreSQL text cannot hold NUL: dropped */
                    *out++ = text[i];
                i++;
            }
        }
        /* unquoted text (or text after a closing quote, kept as is) */
        for (; i < len && text[i] != p->delim; i++)
            if (text[i] != '\0')
                *out++ = text[i];
        p->fields[n] = f;
        p->lens[n] = (size_t)(out - f);
        *out++ = '\0';
        n++;
        if (i >= len)
            break;
        i++; /* delimiter */
    }
    return n;
}

/* The delimiter of a header line: the most frequent of , ; TAB outside
 * quotes (',' when none). */
static char csv_delimiter(const char *text, size_t len)
{
    size_t comma = 0, semi = 0, tab = 0;
    bool in_q = false;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '"')
            in_q = !in_q;
        else if (!in_q)
            comma += text[i] == ',', semi += text[i] == ';', tab += text[i] == '\t';
    }
    if (tab > comma && tab >= semi)
        return '\t';
    if (semi > comma)
        return ';';
    return ',';
}

static rr_rec_rc_t csv_next(rr_parser_t *p, rr_record_t *rec)
{
    rr_reader_t *r = p->rd;
    for (;;) {
        size_t next = 0;
        bool unterminated;
        long span = csv_span(p, &next, &unterminated);
        if (span == -1)
            return RR_REC_END;
        if (span == -2) {
            if (!p->header) {
                set_error(rec, "the CSV header is longer than %zu bytes", r->max_record);
                return RR_REC_FATAL;
            }
            rec->row = ++p->row;
            set_error(rec, "record longer than %zu bytes", r->max_record);
            return RR_REC_BAD;
        }
        const char *text = r->buf + r->pos;
        size_t tlen = (size_t)span;
        bool blank = tlen == 0 || (tlen == 1 && text[0] == '\r');
        if (blank) {
            r->pos += next;
            continue;
        }
        if (!p->header) {
            p->delim = csv_delimiter(text, tlen);
            int n = csv_split(p, text, tlen);
            r->pos += next;
            if (n < 0) {
                set_error(rec, "the CSV header has more than %d columns", RR_CSV_MAX_FIELDS);
                return RR_REC_FATAL;
            }
            p->header = calloc((size_t)n, sizeof(char *));
            if (!p->header) {
                set_error(rec, "out of memory");
                return RR_REC_FATAL;
            }
            p->nheader = n;
            for (int i = 0; i < n; i++) {
                const char *h = p->fields[i];
                size_t hl = p->lens[i];
                trim(&h, &hl);
                p->header[i] = strndup(h, hl);
                if (!p->header[i]) {
                    set_error(rec, "out of memory");
                    return RR_REC_FATAL;
                }
                for (char *c = p->header[i]; *c; c++)
                    *c = (char)tolower((unsigned char)*c);
            }
            continue;
        }
        rec->row = ++p->row;
        if (unterminated) {
            r->pos += next;
            set_error(rec, "unterminated quoted field");
            return RR_REC_BAD;
        }
        int n = csv_split(p, text, tlen);
        r->pos += next;
        if (n < 0) {
            set_error(rec, "more than %d columns", RR_CSV_MAX_FIELDS);
            return RR_REC_BAD;
        }
        if (n > p->nheader) {
            set_error(rec, "%d columns, the header has %d", n, p->nheader);
            return RR_REC_BAD;
        }
        rec->fields = p->fields;
        rec->lens = p->lens;
        rec->nfields = n;
        return RR_REC_OK;
    }
}

/* ---------------------------------------------------------------- public */

rr_rec_rc_t rr_parser_next(rr_parser_t *p, rr_record_t *rec)
{
    json_decref(p->json);
    p->json = NULL;
    rec->json = NULL;
    rec->jrec = NULL;
    rec->fields = NULL;
    rec->nfields = 0;
    rec->text = NULL;
    rec->error[0] = '\0';
    if (!p->bom_done) {
        skip_bom(p);
        p->bom_done = true;
    }
    switch (p->fmt) {
    case RR_BODY_JSON: return json_next(p, rec);
    case RR_BODY_NDJSON: return ndjson_next(p, rec);
    case RR_BODY_CSV: return csv_next(p, rec);
    default: return ids_next(p, rec);
    }
}
