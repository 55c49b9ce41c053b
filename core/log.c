/*
 * Structured logging: one JSON object per line on stderr. Free-form messages
 * carry level, role and pid; request lines carry request id, tenant, key id
 * (the public part only — secrets never reach a log), route, status and µs.
 */
#include "rr.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *log_role = "main";

void rr_log_set_role(const char *role) { log_role = role; }

size_t rr_json_escape(char *buf, size_t cap, const char *s)
{
    size_t o = 0;
    if (cap == 0)
        return 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 7 < cap; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            buf[o++] = '\\';
            buf[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(buf + o, cap - o, "\\u%04x", c);
        } else {
            buf[o++] = (char)c;
        }
    }
    buf[o] = '\0';
    return o;
}

static void timestamp(char *buf, size_t cap)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03dZ", (int)(tv.tv_usec / 1000));
}

static const char *level_name(rr_log_level_t l)
{
    switch (l) {
    case RR_LOG_DEBUG: return "debug";
    case RR_LOG_INFO: return "info";
    case RR_LOG_WARN: return "warn";
    default: return "error";
    }
}

void rr_vlog(rr_log_level_t level, const char *fmt, va_list ap)
{
    if ((int)level < rr_cfg.log_level)
        return;
    char msg[1024], esc[2048], ts[40];
    vsnprintf(msg, sizeof msg, fmt, ap);
    rr_json_escape(esc, sizeof esc, msg);
    timestamp(ts, sizeof ts);
    /* one write() per line so lines from many processes never interleave */
    char line[2300];
    int n = snprintf(line, sizeof line,
                     "{\"ts\":\"%s\",\"level\":\"%s\",\"role\":\"%s\",\"pid\":%d,\"msg\":\"%s\"}\n",
                     ts, level_name(level), log_role, (int)getpid(), esc);
    if (n > 0)
        (void)!write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

void rr_log(rr_log_level_t level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rr_vlog(level, fmt, ap);
    va_end(ap);
}

void rr_log_request(const char *request_id, int64_t tenant_id, const char *key_id,
                    const char *method, const char *route, int status, long long micros)
{
    if (RR_LOG_INFO < rr_cfg.log_level)
        return;
    char ts[40], r[300], k[80], m[40], id[80];
    timestamp(ts, sizeof ts);
    rr_json_escape(r, sizeof r, route ? route : "-");
    rr_json_escape(k, sizeof k, key_id ? key_id : "");
    rr_json_escape(m, sizeof m, method ? method : "");
    rr_json_escape(id, sizeof id, request_id ? request_id : "");
    char line[768];
    int n = snprintf(line, sizeof line,
                     "{\"ts\":\"%s\",\"level\":\"info\",\"role\":\"%s\",\"pid\":%d,\"msg\":\"request\","
                     "\"request_id\":\"%s\",\"tenant\":%lld,\"key\":\"%s\",\"method\":\"%s\","
                     "\"route\":\"%s\",\"status\":%d,\"us\":%lld}\n",
                     ts, log_role, (int)getpid(), id, (long long)tenant_id, k, m, r, status,
                     micros);
    if (n > 0)
        (void)!write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
