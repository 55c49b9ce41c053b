/*
 * The plugin loader and the registries plugins fill during init (job kinds,
 * ingest hooks, report sections, migrations; routes live in router.c).
 *
 * Each plugin's descriptor is checked field by field before anything of the
 * plugin runs, and the refusal names the field. Plugins are loaded with
 * RTLD_NOW | RTLD_LOCAL (missing symbols fail at load, not mid-request; no
 * plugin's symbols leak into another's) and never dlclose()d in a live
 * process: handlers, strings and callbacks they registered stay referenced
 * for the life of the process. A new generation of workers (SIGHUP) loads
 * plugins afresh in fresh processes instead.
 */
#include "rr.h"

#include <dirent.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define RR_MAX_PLUGINS 64
#define RR_MAX_REG 256

static rr_plugin_t plugins[RR_MAX_PLUGINS];
static size_t nplugins;

static rr_migration_t migrations[RR_MAX_REG];
static size_t nmigrations;
static rr_job_kind_t job_kinds[RR_MAX_REG];
static size_t njob_kinds;
static rr_hook_t hooks[RR_MAX_REG];
static size_t nhooks;
static rr_section_t sections[RR_MAX_REG];
static size_t nsections;

/* The ABI 1.0 descriptor ends after fini: a plugin's descriptor may be larger
 * (a newer minor) but never smaller. */
#define RR_DESC_V1_0_SIZE (offsetof(rr_plugin_desc_t, fini) + sizeof(void (*)(void)))

const char *rr_plugin_check_desc(const rr_plugin_desc_t *d)
{
    static char msg[256];
    if (!d)
        return "rr_plugin_describe() returned NULL";
    if (d->size < RR_DESC_V1_0_SIZE) {
        snprintf(msg, sizeof msg, "field 'size': %zu is smaller than the ABI 1.0 descriptor (%zu)",
                 d->size, (size_t)RR_DESC_V1_0_SIZE);
        return msg;
    }
    if (d->magic != RR_PLUGIN_MAGIC) {
        snprintf(msg, sizeof msg, "field 'magic': 0x%08x, expected 0x%08x", d->magic,
                 RR_PLUGIN_MAGIC);
        return msg;
    }
    if (d->abi_major != RR_ABI_MAJOR) {
        snprintf(msg, sizeof msg, "field 'abi_major': plugin has %u, host has %u", d->abi_major,
                 (unsigned)RR_ABI_MAJOR);
        return msg;
    }
    if (d->abi_minor > RR_ABI_MINOR) {
        snprintf(msg, sizeof msg, "field 'abi_minor': plugin needs %u, host has only %u",
                 d->abi_minor, (unsigned)RR_ABI_MINOR);
        return msg;
    }
    if (!d->build_signature || strcmp(d->build_signature, RR_BUILD_SIGNATURE)) {
        snprintf(msg, sizeof msg, "field 'build_signature': plugin has '%s', host has '%s'",
                 d->build_signature ? d->build_signature : "(null)", RR_BUILD_SIGNATURE);
        return msg;
    }
    if (!d->name || !*d->name || strlen(d->name) > 64)
        return "field 'name': missing or longer than 64 bytes";
    for (const char *p = d->name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            return "field 'name': only a-z, 0-9, '_' and '-' are allowed";
    if (!d->version || !*d->version)
        return "field 'version': missing";
    if (!d->init)
        return "field 'init': missing";
    return NULL;
}

static bool name_taken(const char *name)
{
    for (size_t i = 0; i < nplugins; i++)
        if (plugins[i].loaded && !strcmp(plugins[i].desc->name, name))
            return true;
    return false;
}

static int load_one(const char *path, bool run_init)
{
    if (nplugins == RR_MAX_PLUGINS) {
        rr_log(RR_LOG_ERROR, "plugin %s: too many plugins (max %d)", path, RR_MAX_PLUGINS);
        return 1;
    }
    rr_plugin_t *p = &plugins[nplugins++];
    memset(p, 0, sizeof *p);
    p->path = strdup(path);
    p->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!p->handle) {
        snprintf(p->error, sizeof p->error, "cannot load: %s", dlerror());
        return 1;
    }
    rr_plugin_describe_fn describe;
    *(void **)&describe = dlsym(p->handle, "rr_plugin_describe");
    if (!describe) {
        snprintf(p->error, sizeof p->error, "no rr_plugin_describe() (declare it with RR_PLUGIN)");
        return 1;
    }
    const rr_plugin_desc_t *d = describe();
    const char *why = rr_plugin_check_desc(d);
    if (why) {
        snprintf(p->error, sizeof p->error, "refused: %s", why);
        return 1;
    }
    if (name_taken(d->name)) {
        snprintf(p->error, sizeof p->error, "refused: field 'name': '%s' is already loaded",
                 d->name);
        return 1;
    }
    p->desc = d;
    if (run_init) {
        p->in_init = true;
        rr_rc_t rc = d->init(p, &rr_host_api);
        p->in_init = false;
        if (rc != RR_OK) {
            snprintf(p->error, sizeof p->error, "init failed (%d)", (int)rc);
            return 1;
        }
    }
    p->loaded = true;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int load_dir(const char *dir, bool run_init)
{
    DIR *d = opendir(dir);
    if (!d) {
        rr_log(RR_LOG_ERROR, "plugin directory %s cannot be read", dir);
        return 1;
    }
    char *names[RR_MAX_PLUGINS] = {0};
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < RR_MAX_PLUGINS) {
        size_t len = strlen(e->d_name);
        if (len > 3 && !strcmp(e->d_name + len - 3, ".so") && e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp_str); /* load order is name order: predictable */
    int refused = 0;
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        refused += load_one(path, run_init);
        free(names[i]);
    }
    return refused;
}

int rr_plugins_load(const char *spec, bool run_init)
{
    if (!spec || !*spec)
        return 0;
    char *copy = strdup(spec), *save = NULL;
    int refused = 0;
    size_t first = nplugins; /* log only this call's refusals */
    for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
        struct stat st;
        if (stat(tok, &st) == 0 && S_ISDIR(st.st_mode))
            refused += load_dir(tok, run_init);
        else
            refused += load_one(tok, run_init);
    }
    free(copy);
    for (size_t i = first; i < nplugins; i++)
        if (!plugins[i].loaded)
            rr_log(RR_LOG_ERROR, "plugin %s: %s", plugins[i].path, plugins[i].error);
    return refused;
}

size_t rr_plugins_count(void) { return nplugins; }
rr_plugin_t *rr_plugin_at(size_t i) { return i < nplugins ? &plugins[i] : NULL; }

/* ---------------------------------------------------------- registries */

rr_rc_t rr_migration_register(const char *owner, const char *name, const char *sql)
{
    if (nmigrations == RR_MAX_REG || !name || !sql)
        return RR_ERROR;
    for (size_t i = 0; i < nmigrations; i++)
        if (!strcmp(migrations[i].owner, owner) && !strcmp(migrations[i].name, name))
            return RR_ERROR;
    migrations[nmigrations++] = (rr_migration_t){owner, name, sql};
    return RR_OK;
}
size_t rr_migrations_count(void) { return nmigrations; }
const rr_migration_t *rr_migration_at(size_t i) { return i < nmigrations ? &migrations[i] : NULL; }

rr_rc_t rr_job_kind_register(const char *kind, rr_job_fn fn, void *ud, const char *plugin)
{
    /* "hook" is the core's own kind: it dispatches ingest hooks */
    if (njob_kinds == RR_MAX_REG || !kind || !*kind || !fn || rr_job_kind_find(kind) ||
        !strcmp(kind, "hook"))
        return RR_ERROR;
    job_kinds[njob_kinds++] = (rr_job_kind_t){kind, fn, ud, plugin};
    return RR_OK;
}

const rr_job_kind_t *rr_job_kind_find(const char *kind)
{
    for (size_t i = 0; i < njob_kinds; i++)
        if (!strcmp(job_kinds[i].kind, kind))
            return &job_kinds[i];
    return NULL;
}

size_t rr_job_kinds_count(void) { return njob_kinds; }
const rr_job_kind_t *rr_job_kind_at(size_t i) { return i < njob_kinds ? &job_kinds[i] : NULL; }

rr_rc_t rr_hook_register(const char *event, rr_hook_fn fn, void *ud, const char *plugin)
{
    if (nhooks == RR_MAX_REG || !event || !*event || !fn)
        return RR_ERROR;
    hooks[nhooks++] = (rr_hook_t){event, fn, ud, plugin};
    return RR_OK;
}
size_t rr_hooks_count(void) { return nhooks; }
const rr_hook_t *rr_hook_at(size_t i) { return i < nhooks ? &hooks[i] : NULL; }

rr_rc_t rr_section_register(const char *name, rr_section_fn fn, void *ud, const char *plugin)
{
    if (nsections == RR_MAX_REG || !name || !*name || !fn)
        return RR_ERROR;
    for (size_t i = 0; i < nsections; i++)
        if (!strcmp(sections[i].name, name))
            return RR_ERROR;
    sections[nsections++] = (rr_section_t){name, fn, ud, plugin};
    return RR_OK;
}
size_t rr_sections_count(void) { return nsections; }
const rr_section_t *rr_section_at(size_t i) { return i < nsections ? &sections[i] : NULL; }
