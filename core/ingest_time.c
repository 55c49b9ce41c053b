/*
 * Timestamps as the platforms write them (shared/reference/formats.md):
 * X v1.1's "Wed Oct 10 20:19:24 +0000 2018", ISO 8601 with or without
 * milliseconds and with any of Z, +0000, +00:00 or no zone (UTC), Unix
 * seconds (Instagram exports, TikTok) and milliseconds, and the time inside
 * an X snowflake id. Everything becomes microseconds since the epoch, UTC;
 * no libc time zone state is touched (timegm and strptime depend on the
 * locale and TZ).
 */
#include "ingest.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define US_PER_S 1000000LL

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t yy = (int64_t)yoe + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned month_days(int64_t y, unsigned m)
{
    static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : days[m - 1];
}

static bool make_time(int64_t y, unsigned mo, unsigned d, unsigned h, unsigned mi, unsigned s,
                      int64_t frac_us, int offset_s, int64_t *us)
{
    if (y < 1900 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 ||
        mi > 59 || s > 60)
        return false;
    int64_t secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset_s;
    *us = secs * US_PER_S + frac_us;
    return true;
}

/* n digits at p as a number; false unless all are digits. */
static bool digits(const char *p, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    *out = v;
    return true;
}

/* Z | z | ±HH | ±HHMM | ±HH:MM at p (len bytes, nothing may follow). */
static bool parse_zone(const char *p, size_t len, int *offset_s)
{
    if (len == 0) {
        *offset_s = 0;
        return true;
    }
    if (len == 1 && (*p == 'Z' || *p == 'z')) {
        *offset_s = 0;
        return true;
    }
    if (*p != '+' && *p != '-')
        return false;
    int sign = *p == '-' ? -1 : 1;
    unsigned hh, mm = 0;
    if (len == 3) {
        if (!digits(p + 1, 2, &hh))
            return false;
    } else if (len == 5) {
        if (!digits(p + 1, 2, &hh) || !digits(p + 3, 2, &mm))
            return false;
    } else if (len == 6 && p[3] == ':') {
        if (!digits(p + 1, 2, &hh) || !digits(p + 4, 2, &mm))
            return false;
    } else {
        return false;
    }
    if (hh > 23 || mm > 59)
        return false;
    *offset_s = sign * (int)(hh * 3600 + mm * 60);
    return true;
}

/* YYYY-MM-DD[(T| )HH:MM[:SS[.f+]]][zone] */
static bool parse_iso(const char *s, size_t len, int64_t *us)
{
    unsigned y, mo, d, h = 0, mi = 0, sec = 0;
    if (len < 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) || !digits(s + 5, 2, &mo) ||
        !digits(s + 8, 2, &d))
        return false;
    size_t i = 10;
    int64_t frac = 0;
    if (i < len && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
        i++;
        if (i + 5 > len || s[i + 2] != ':' || !digits(s + i, 2, &h) || !digits(s + i + 3, 2, &mi))
            return false;
        i += 5;
        if (i < len && s[i] == ':') {
            if (i + 3 > len || !digits(s + i + 1, 2, &sec))
                return false;
            i += 3;
            if (i < len && (s[i] == '.' || s[i] == ',')) {
                i++;
                size_t start = i;
                int64_t scale = 100000;
                while (i < len && s[i] >= '0' && s[i] <= '9') {
                    frac += (s[i] - '0') * scale;
                    scale /= 10;
                    i++;
                }
                if (i == start)
                    return false;
            }
        }
    }
    int off;
    if (!parse_zone(s + i, len - i, &off))
        return false;
    return make_time(y, mo, d, h, mi, sec, frac, off, us);
}

static int month_of(const char *p)
{
    static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
    for (int m = 0; m < 12; m++)
        if (!strncmp(p, names + 3 * m, 3))
            return m + 1;
    return 0;
}

/* "Wed Oct 10 20:19:24 +0000 2018" */
static bool parse_x(const char *s, size_t len, int64_t *us)
{
    if (len != 30 || s[3] != ' ' || s[7] != ' ' || s[10] != ' ' || s[13] != ':' || s[16] != ':' ||
        s[19] != ' ' || s[25] != ' ')
        return false;
    int mo = month_of(s + 4);
    unsigned d, h, mi, sec, y;
    int off;
    if (!mo || !digits(s + 8, 2, &d) || !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) ||
        !digits(s + 17, 2, &sec) || !parse_zone(s + 20, 5, &off) || !digits(s + 26, 4, &y))
        return false;
    return make_time(y, (unsigned)mo, d, h, mi, sec, 0, off, us);
}

bool rr_time_from_unix(long long v, int64_t *us)
{
    if (v < 0)
        return false;
    /* ms from 12 digits on; bound before multiplying (v * 1000 overflows
     * int64 from 9223372036854776 on: found by tests/fuzz) */
    if (v >= 100000000000LL && v > 253402300799999LL) /* past 9999-12-31 */
        return false;
    int64_t t = v >= 100000000000LL ? v * 1000 : v * US_PER_S;
    if (t > 253402300799LL * US_PER_S) /* 9999-12-31 */
        return false;
    *us = t;
    return true;
}

bool rr_time_parse(const char *s, size_t len, int64_t *us)
{
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len == 0)
        return false;
    bool all_digits = len <= 16;
    for (size_t i = 0; i < len && all_digits; i++)
        all_digits = s[i] >= '0' && s[i] <= '9';
    if (all_digits && len != 8) { /* 8 digits would be a YYYYMMDD date: not accepted */
        long long v = 0;
        for (size_t i = 0; i < len; i++)
            v = v * 10 + (s[i] - '0');
        return rr_time_from_unix(v, us);
    }
    if (s[0] >= '0' && s[0] <= '9')
        return parse_iso(s, len, us);
    return parse_x(s, len, us);
}

static void put2(char *o, unsigned v)
{
    o[0] = (char)('0' + v / 10 % 10);
    o[1] = (char)('0' + v % 10);
}

void rr_time_format(int64_t us, char out[32])
{
    int64_t secs = us >= 0 ? us / US_PER_S : (us - (US_PER_S - 1)) / US_PER_S;
    int64_t frac = us - secs * US_PER_S;
    int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
    int64_t rem = secs - days * 86400;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999)
        y = y < 0 ? 0 : 9999;
    /* "YYYY-MM-DDTHH:MM:SS.ffffffZ" by hand: snprintf was a tenth of a
     * worker's time in bulk ingest */
    put2(out, (unsigned)(y / 100));
    put2(out + 2, (unsigned)(y % 100));
    out[4] = '-';
    put2(out + 5, m);
    out[7] = '-';
    put2(out + 8, d);
    out[10] = 'T';
    put2(out + 11, (unsigned)(rem / 3600));
    out[13] = ':';
    put2(out + 14, (unsigned)(rem / 60 % 60));
    out[16] = ':';
    put2(out + 17, (unsigned)(rem % 60));
    out[19] = '.';
    unsigned f = (unsigned)frac;
    put2(out + 20, f / 10000);
    put2(out + 22, f / 100 % 100);
    put2(out + 24, f % 100);
    out[26] = 'Z';
    out[27] = '\0';
}

void rr_time_format_ms(int64_t us, char out[32])
{
    rr_time_format(us, out);
    memcpy(out + 23, "Z", 2); /* "...SS.mmm" + "Z" */
}

int64_t rr_time_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * US_PER_S + ts.tv_nsec / 1000;
}

bool rr_time_from_snowflake(const char *id, int64_t *us)
{
    unsigned long long v = 0;
    if (!id || !*id)
        return false;
    for (const char *p = id; *p; p++) {
        if (*p < '0' || *p > '9' || v > (~0ULL - 9) / 10)
            return false;
        v = v * 10 + (unsigned long long)(*p - '0');
    }
    /* snowflakes began in November 2010 with ids around 2.9e16 */
    if (v < 27000000000000000ULL)
        return false;
    long long ms = (long long)(v >> 22) + 1288834974657LL;
    *us = ms * 1000;
    return true;
}
