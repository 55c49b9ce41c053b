/*
 * tools/audience — reads the cresci-2015 CSV files (RFC 4180: every field
 * quoted, quotes doubled, newlines allowed inside quotes) into profiles.
 *
 * Column use (the data README's rules): counts, created_at, the crawl time
 * `updated` (the observation time: an account's age is measured then),
 * default_profile_image, name, screen_name, description, url, location,
 * verified. Never `dataset` (the label's source), nor any colour, theme,
 * banner, background, time zone or language field.
 */
#include "data.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

double aud_parse_time(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    char wd[4], mon[4];
    int off = 0;
    if (sscanf(s, "%3s %3s %d %d:%d:%d %d %d", wd, mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
               &tm.tm_sec, &off, &tm.tm_year) == 8) {
        int m = -1;
        for (int i = 0; i < 12; i++)
            if (!strcmp(mon, months[i]))
                m = i;
        if (m < 0)
            return NAN;
        tm.tm_mon = m;
        tm.tm_year -= 1900;
        int sign = off < 0 ? -1 : 1;
        off *= sign;
        double t = (double)timegm(&tm);
        return t - sign * ((off / 100) * 3600.0 + (off % 100) * 60.0);
    }
    if (sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) == 6) {
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        return (double)timegm(&tm);
    }
    return NAN;
}

/* ------------------------------------------------------------ CSV parser */

typedef struct csv_row {
    char **f;
    size_t n, cap;
} csv_row_t;

/* Reads one record from *pp (advancing it); fields are new strings.
 * Returns 1 with a record, 0 at the end. */
static int csv_next(const char **pp, const char *end, csv_row_t *row)
{
    const char *p = *pp;
    row->n = 0;
    if (p >= end)
        return 0;
    for (;;) {
        size_t cap = 64, len = 0;
        char *field = malloc(cap);
        if (!field)
            return -1;
        if (p < end && *p == '"') {
            p++;
            while (p < end) {
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        p += 2;
                        field[len++] = '"';
                    } else {
                        p++;
                        break;
                    }
                } else {
                    field[len++] = *p++;
                }
                if (len + 1 >= cap) {
                    char *g = realloc(field, cap *= 2);
                    if (!g) {
                        free(field);
                        return -1;
                    }
                    field = g;
                }
            }
        }
        while (p < end && *p != ',' && *p != '\n' && *p != '\r') {
            field[len++] = *p++;
            if (len + 1 >= cap) {
                char *g = realloc(field, cap *= 2);
                if (!g) {
                    free(field);
                    return -1;
                }
                field = g;
            }
        }
        field[len] = '\0';
        if (row->n == row->cap) {
            size_t c = row->cap ? row->cap * 2 : 40;
            char **g = realloc(row->f, c * sizeof *g);
            if (!g) {
                free(field);
                return -1;
            }
            row->f = g;
            row->cap = c;
        }
        row->f[row->n++] = field;
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '\r')
            p++;
        if (p < end && *p == '\n')
            p++;
        *pp = p;
        return 1;
    }
}

static void csv_row_clear(csv_row_t *row)
{
    for (size_t i = 0; i < row->n; i++)
        free(row->f[i]);
    row->n = 0;
}

/* ------------------------------------------------------------- data set */

static const char *keep(aud_set_t *set, const char *s)
{
    if (set->nstrings == set->capstrings) {
        size_t c = set->capstrings ? set->capstrings * 2 : 1024;
        char **g = realloc(set->strings, c * sizeof *g);
        if (!g)
            return NULL;
        set->strings = g;
        set->capstrings = c;
    }
    char *copy = strdup(s);
    if (copy)
        set->strings[set->nstrings++] = copy;
    return copy;
}

static double count_of(const char *s)
{
    if (!s || !*s || !strcmp(s, "NULL"))
        return NAN;
    char *end;
    double v = strtod(s, &end);
    return *end ? NAN : v;
}

long aud_set_load_csv(aud_set_t *set, const char *path, int label)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", path);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)size + 1);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(buf);
        fprintf(stderr, "cannot read %s\n", path);
        return -1;
    }
    fclose(f);
    buf[size] = '\0';

    const char *p = buf, *end = buf + size;
    csv_row_t row = {0};
    enum {
        C_NAME,
        C_HANDLE,
        C_POSTS,
        C_FOLLOWERS,
        C_FOLLOWING,
        C_LIKES,
        C_LISTED,
        C_CREATED,
        C_URL,
        C_LOCATION,
        C_AVATAR,
        C_VERIFIED,
        C_BIO,
        C_UPDATED,
        C_N
    };
    static const char *const wanted[C_N] = {
        "name",          "screen_name",      "statuses_count",        "followers_count",
        "friends_count", "favourites_count", "listed_count",          "created_at",
        "url",           "location",         "default_profile_image", "verified",
        "description",   "updated"};
    int col[C_N];
    long rows = -1;
    if (csv_next(&p, end, &row) != 1)
        goto out;
    for (int c = 0; c < C_N; c++) {
        col[c] = -1;
        for (size_t i = 0; i < row.n; i++)
            if (!strcmp(row.f[i], wanted[c]))
                col[c] = (int)i;
        if (col[c] < 0) {
            fprintf(stderr, "%s: no column %s\n", path, wanted[c]);
            goto out;
        }
    }
    size_t ncols = row.n;
    csv_row_clear(&row);
    rows = 0;
    int rc;
    while ((rc = csv_next(&p, end, &row)) == 1) {
        if (row.n == 1 && !row.f[0][0]) { /* blank line */
            csv_row_clear(&row);
            continue;
        }
        if (row.n != ncols) {
            fprintf(stderr, "%s: record %ld has %zu fields, not %zu\n", path, rows + 1, row.n,
                    ncols);
            rows = -1;
            goto out;
        }
        if (set->n == set->cap) {
            size_t c = set->cap ? set->cap * 2 : 1024;
            aud_sample_t *g = realloc(set->s, c * sizeof *g);
            if (!g) {
                rows = -1;
                goto out;
            }
            set->s = g;
            set->cap = c;
        }
        aud_sample_t *s = &set->s[set->n++];
        aud_profile_init(&s->p);
        s->label = label;
        char **v = row.f;
        s->p.followers = count_of(v[col[C_FOLLOWERS]]);
        s->p.following = count_of(v[col[C_FOLLOWING]]);
        s->p.posts = count_of(v[col[C_POSTS]]);
        s->p.likes = count_of(v[col[C_LIKES]]);
        s->p.listed = count_of(v[col[C_LISTED]]);
        s->p.created_at = aud_parse_time(v[col[C_CREATED]]);
        s->p.observed_at = aud_parse_time(v[col[C_UPDATED]]);
        /* booleans are "1" or empty in this export: empty is false */
        s->p.default_avatar = !strcmp(v[col[C_AVATAR]], "1");
        s->p.verified = !strcmp(v[col[C_VERIFIED]], "1");
        /* texts: an empty field is a known empty field */
        s->p.handle = keep(set, v[col[C_HANDLE]]);
        s->p.name = keep(set, v[col[C_NAME]]);
        s->p.bio = keep(set, v[col[C_BIO]]);
        s->p.url = keep(set, strcmp(v[col[C_URL]], "NULL") ? v[col[C_URL]] : "");
        s->p.location = keep(set, v[col[C_LOCATION]]);
        csv_row_clear(&row);
        rows++;
    }
    if (rc < 0)
        rows = -1;
out:
    csv_row_clear(&row);
    free(row.f);
    free(buf);
    return rows;
}

void aud_set_free(aud_set_t *set)
{
    for (size_t i = 0; i < set->nstrings; i++)
        free(set->strings[i]);
    free(set->strings);
    free(set->s);
    memset(set, 0, sizeof *set);
}

int aud_set_load_args(aud_set_t *set, int argc, char **argv, int *next)
{
    int i = 1;
    long total[2] = {0, 0};
    for (; i + 1 < argc; i += 2) {
        int label;
        if (!strcmp(argv[i], "--genuine"))
            label = 0;
        else if (!strcmp(argv[i], "--fake"))
            label = 1;
        else
            break;
        long n = aud_set_load_csv(set, argv[i + 1], label);
        if (n < 0)
            return -1;
        total[label] += n;
    }
    if (next)
        *next = i;
    if (!total[0] || !total[1]) {
        fprintf(stderr, "need at least one --genuine FILE and one --fake FILE with rows\n");
        return -1;
    }
    return 0;
}
