/*
 * Configuration: defaults, then a `key = value` file named by
 * REALREACH_CONFIG, then environment variables (REALREACH_<KEY>), so a
 * container can override any file setting. The README's configuration table
 * is the one list of these settings.
 */
#include "rr.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

rr_config_t rr_cfg = {
    .socket = "/run/realreach/realreach.sock",
    .workers = 0,
    .job_runners = 1,
    .request_timeout = 30,
    .bulk_timeout = 3600,
    .key_cache_ttl = 5,
    .max_body = 64u * 1024 * 1024,
    .max_json_body = 1024u * 1024,
    .max_stream_body = 4ull << 30,
    .max_json_depth = 32,
    .rate_limit = 0,
    .rate_burst = 0,
    .log_level = RR_LOG_INFO,
};

static int parse_int(const char *key, const char *v, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < min || n > max) {
        fprintf(stderr, "realreach: %s must be an integer in [%ld, %ld], got '%s'\n", key, min,
                max, v);
        return -1;
    }
    *out = n;
    return 0;
}

static int set_key(const char *key, const char *value)
{
    long n;
    if (!strcmp(key, "DB"))
        rr_cfg.db = strdup(value);
    else if (!strcmp(key, "ADMIN_DB"))
        rr_cfg.admin_db = strdup(value);
    else if (!strcmp(key, "SOCKET"))
        rr_cfg.socket = strdup(value);
    else if (!strcmp(key, "PLUGINS"))
        rr_cfg.plugins = strdup(value);
    else if (!strcmp(key, "PIDFILE"))
        rr_cfg.pidfile = strdup(value);
    else if (!strcmp(key, "WORKERS")) {
        if (parse_int(key, value, 1, 256, &n)) return -1;
        rr_cfg.workers = (int)n;
    } else if (!strcmp(key, "JOB_RUNNERS")) {
        if (parse_int(key, value, 0, 64, &n)) return -1;
        rr_cfg.job_runners = (int)n;
    } else if (!strcmp(key, "REQUEST_TIMEOUT")) {
        if (parse_int(key, value, 1, 3600, &n)) return -1;
        rr_cfg.request_timeout = (int)n;
    } else if (!strcmp(key, "BULK_TIMEOUT")) {
        if (parse_int(key, value, 1, 86400, &n)) return -1;
        rr_cfg.bulk_timeout = (int)n;
    } else if (!strcmp(key, "KEY_CACHE_TTL")) {
        if (parse_int(key, value, 0, 3600, &n)) return -1;
        rr_cfg.key_cache_ttl = (int)n;
    } else if (!strcmp(key, "MAX_BODY")) {
        if (parse_int(key, value, 1024, 1L << 34, &n)) return -1;
        rr_cfg.max_body = (size_t)n;
    } else if (!strcmp(key, "MAX_JSON_BODY")) {
        if (parse_int(key, value, 1024, 1L << 30, &n)) return -1;
        rr_cfg.max_json_body = (size_t)n;
    } else if (!strcmp(key, "MAX_STREAM_BODY")) {
        if (parse_int(key, value, 1024, 1L << 40, &n)) return -1;
        rr_cfg.max_stream_body = (unsigned long long)n;
    } else if (!strcmp(key, "MAX_JSON_DEPTH")) {
        if (parse_int(key, value, 2, 1000, &n)) return -1;
        rr_cfg.max_json_depth = (int)n;
    } else if (!strcmp(key, "RATE_LIMIT")) {
        if (parse_int(key, value, 0, 1000000, &n)) return -1;
        rr_cfg.rate_limit = (int)n;
    } else if (!strcmp(key, "RATE_BURST")) {
        if (parse_int(key, value, 0, 1000000, &n)) return -1;
        rr_cfg.rate_burst = (int)n;
    } else if (!strcmp(key, "LOG_LEVEL")) {
        if (!strcmp(value, "debug")) rr_cfg.log_level = RR_LOG_DEBUG;
        else if (!strcmp(value, "info")) rr_cfg.log_level = RR_LOG_INFO;
        else if (!strcmp(value, "warn")) rr_cfg.log_level = RR_LOG_WARN;
        else if (!strcmp(value, "error")) rr_cfg.log_level = RR_LOG_ERROR;
        else {
            fprintf(stderr, "realreach: LOG_LEVEL must be debug|info|warn|error\n");
            return -1;
        }
    } else {
        fprintf(stderr, "realreach: unknown setting '%s'\n", key);
        return -1;
    }
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int load_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "realreach: cannot read config %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            fprintf(stderr, "realreach: %s:%d: expected key = value\n", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1);
        for (char *p = k; *p; p++)
            *p = (char)toupper((unsigned char)*p);
        if (set_key(k, v)) {
            fprintf(stderr, "realreach: in %s:%d\n", path, lineno);
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

int rr_config_load(void)
{
    const char *file = getenv("REALREACH_CONFIG");
    if (file && *file && load_file(file))
        return -1;
    static const char *keys[] = {"DB", "ADMIN_DB", "SOCKET", "PLUGINS", "PIDFILE", "WORKERS",
                                 "JOB_RUNNERS", "REQUEST_TIMEOUT", "BULK_TIMEOUT", "KEY_CACHE_TTL", "MAX_BODY",
                                 "MAX_JSON_BODY", "MAX_STREAM_BODY", "MAX_JSON_DEPTH", "RATE_LIMIT", "RATE_BURST",
                                 "LOG_LEVEL"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char name[64];
        snprintf(name, sizeof name, "REALREACH_%s", keys[i]);
        const char *v = getenv(name);
        if (v && *v && set_key(keys[i], v))
            return -1;
    }
    if (rr_cfg.workers == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        rr_cfg.workers = (int)(cores > 0 ? 2 * cores : 4);
    }
    if (rr_cfg.rate_limit > 0 && rr_cfg.rate_burst == 0)
        rr_cfg.rate_burst = 2 * rr_cfg.rate_limit;
    return 0;
}
