/*
 * Admin subcommands: `realreach tenant ...`, `realreach key ...` and
 * `realreach plugins`. Each is called like a main(): argv[0] is the
 * subcommand's own name ("tenant", "key", "plugins").
 *
 * Tenant and key commands connect with REALREACH_ADMIN_DB (the schema owner).
 * Tenant tables force row-level security even on their owner, so every
 * change runs in a transaction that first sets realreach.tenant_id with
 * set_config(..., true) — transaction-local, like the service's own.
 * Output meant for scripts (a new tenant id, a new key) is alone on stdout;
 * everything else goes to stderr. A new key is printed once and never
 * stored: only its SHA-256 is.
 */
#include "rr.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RR_KEY_TEXT 128

/* ------------------------------------------------------------- options */

typedef struct opt {
    const char *name; /* "--tenant" */
    const char *value;
} opt_t;

/* Parses `--name VALUE` and `--name=VALUE` for the names listed in opts.
 * Returns false (and says why) on anything else. */
static bool parse_opts(int argc, char **argv, int first, opt_t *opts, size_t nopts,
                       const char *cmd)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a) : strlen(a);
        opt_t *o = NULL;
        for (size_t k = 0; k < nopts; k++)
            if (strlen(opts[k].name) == len && !strncmp(opts[k].name, a, len))
                o = &opts[k];
        if (!o) {
            fprintf(stderr, "realreach %s: unknown argument '%s'\n", cmd, a);
            return false;
        }
        if (eq)
            o->value = eq + 1;
        else if (i + 1 < argc)
            o->value = argv[++i];
        else {
            fprintf(stderr, "realreach %s: %s needs a value\n", cmd, o->name);
            return false;
        }
    }
    return true;
}

static bool parse_id(const char *s, long long *out)
{
    if (!s || !*s || *s == '+' || *s == '-' || *s == ' ')
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end || v <= 0)
        return false;
    *out = v;
    return true;
}

/* Prints a database value on one line of a table: NULL as "-", control
 * characters (a tab or newline in a name would break the columns) as '?'. */
static void print_cell(const PGresult *r, int row, int col, bool last)
{
    if (PQgetisnull(r, row, col))
        fputs("-", stdout);
    else
        for (const char *p = PQgetvalue(r, row, col); *p; p++)
            putchar((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p);
    putchar(last ? '\n' : '\t');
}

/* ------------------------------------------------------------ database */

static PGconn *admin_connect(const char *cmd)
{
    if (!rr_cfg.admin_db || !*rr_cfg.admin_db) {
        fprintf(stderr, "realreach %s: REALREACH_ADMIN_DB (the owner's conninfo) is not set\n",
                cmd);
        return NULL;
    }
    PGconn *c = PQconnectdb(rr_cfg.admin_db);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "realreach %s: cannot connect: %s", cmd, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    return c;
}

/* One parameterised statement; NULL (error printed) on failure. */
static PGresult *q(PGconn *c, const char *cmd, const char *sql, int n, const char *const *p)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fprintf(stderr, "realreach %s: %s", cmd, PQerrorMessage(c));
        PQclear(r);
        return NULL;
    }
    return r;
}

static bool q_ok(PGconn *c, const char *cmd, const char *sql, int n, const char *const *p)
{
    PGresult *r = q(c, cmd, sql, n, p);
    PQclear(r);
    return r != NULL;
}

/* BEGIN and set the tenant for this transaction only. */
static bool begin_tenant(PGconn *c, const char *cmd, const char *tenant)
{
    const char *p[1] = {tenant};
    return q_ok(c, cmd, "BEGIN", 0, NULL) &&
           q_ok(c, cmd, "SELECT set_config('realreach.tenant_id', $1, true)", 1, p);
}

static bool commit(PGconn *c, const char *cmd)
{
    PGresult *r = q(c, cmd, "COMMIT", 0, NULL);
    bool ok = r && !strcmp(PQcmdStatus(r), "COMMIT");
    if (r && !ok)
        fprintf(stderr, "realreach %s: the transaction was rolled back\n", cmd);
    PQclear(r);
    return ok;
}

/* True if the tenant exists (asked inside its own transaction). */
static bool tenant_exists(PGconn *c, const char *cmd, const char *tenant, bool *exists)
{
    const char *p[1] = {tenant};
    PGresult *r = q(c, cmd, "SELECT 1 FROM realreach.tenants WHERE id = $1", 1, p);
    if (!r)
        return false;
    *exists = PQntuples(r) == 1;
    PQclear(r);
    return true;
}

/* -------------------------------------------------------------- tenant */

static const char tenant_usage[] =
    "usage: realreach tenant create --name NAME   (prints the new tenant id)\n"
    "       realreach tenant list\n";

static int tenant_create(int argc, char **argv)
{
    opt_t opts[] = {{"--name", NULL}};
    if (!parse_opts(argc, argv, 2, opts, 1, "tenant create") || !opts[0].value) {
        fputs(tenant_usage, stderr);
        return 2;
    }
    const char *name = opts[0].value;
    if (!*name || strlen(name) > 200) {
        fprintf(stderr, "realreach tenant create: --name must be 1 to 200 bytes\n");
        return 1;
    }
    PGconn *c = admin_connect("tenant create");
    if (!c)
        return 1;
    int rc = 1;
    /* The row must pass the tenants policy (id = current tenant), so its id
     * is drawn first and set as the tenant before the INSERT. */
    PGresult *r = NULL;
    if (!q_ok(c, "tenant create", "BEGIN", 0, NULL) ||
        !(r = q(c, "tenant create",
                "SELECT nextval(pg_get_serial_sequence('realreach.tenants', 'id'))", 0, NULL)))
        goto out;
    char id[24];
    snprintf(id, sizeof id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    const char *set[1] = {id};
    const char *ins[2] = {id, name};
    if (!q_ok(c, "tenant create", "SELECT set_config('realreach.tenant_id', $1, true)", 1, set) ||
        !q_ok(c, "tenant create",
              "INSERT INTO realreach.tenants (id, name) OVERRIDING SYSTEM VALUE"
              " VALUES ($1, $2)",
              2, ins) ||
        !commit(c, "tenant create"))
        goto out;
    printf("%s\n", id);
    rc = 0;
out:
    PQfinish(c);
    return rc;
}

static int tenant_list(int argc, char **argv)
{
    (void)argv;
    if (argc > 2) {
        fputs(tenant_usage, stderr);
        return 2;
    }
    PGconn *c = admin_connect("tenant list");
    if (!c)
        return 1;
    /* Across tenants: only a role that bypasses RLS (the superuser that runs
     * migrations) sees them all. */
    PGresult *r = q(c, "tenant list",
                    "SELECT id, name, realreach.iso(created_at) FROM realreach.tenants ORDER BY id",
                    0, NULL);
    if (r) {
        printf("id\tname\tcreated\n");
        for (int i = 0; i < PQntuples(r); i++)
            for (int k = 0; k < 3; k++)
                print_cell(r, i, k, k == 2);
        PQclear(r);
    }
    PQfinish(c);
    return r ? 0 : 1;
}

int rr_cli_tenant(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "create"))
        return tenant_create(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "list"))
        return tenant_list(argc, argv);
    fputs(tenant_usage, stderr);
    return 2;
}

/* ----------------------------------------------------------------- key */

static const char key_usage[] =
    "usage: realreach key create --tenant ID --scopes read|write|admin[,...]\n"
    "                            [--client ID] [--name TEXT] [--expires ISO8601]\n"
    "                            [--rate-limit REQUESTS_PER_SECOND]\n"
    "         prints the new key once; only its SHA-256 is stored\n"
    "       realreach key revoke --tenant ID --key PUBLIC_ID|ID\n"
    "       realreach key list --tenant ID\n";

/* "read,write" -> the highest of them. */
static bool parse_scopes(const char *list, rr_scope_t *out)
{
    char buf[128];
    if (strlen(list) >= sizeof buf)
        return false;
    snprintf(buf, sizeof buf, "%s", list);
    rr_scope_t best = RR_SCOPE_PUBLIC;
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        char *e = t + strlen(t);
        while (e > t && e[-1] == ' ')
            *--e = '\0';
        rr_scope_t s;
        if (rr_scope_parse(t, &s)) {
            fprintf(stderr, "realreach key create: unknown scope '%s' (read, write or admin)\n",
                    t);
            return false;
        }
        if (s > best)
            best = s;
    }
    if (best == RR_SCOPE_PUBLIC) {
        fprintf(stderr, "realreach key create: --scopes names no scope\n");
        return false;
    }
    *out = best;
    return true;
}

static int key_create(int argc, char **argv)
{
    const char *cmd = "key create";
    opt_t opts[] = {{"--tenant", NULL}, {"--scopes", NULL},  {"--client", NULL},
                    {"--name", NULL},   {"--expires", NULL}, {"--rate-limit", NULL}};
    if (!parse_opts(argc, argv, 2, opts, 6, cmd) || !opts[0].value || !opts[1].value) {
        fputs(key_usage, stderr);
        return 2;
    }
    const char *tenant = opts[0].value, *client = opts[2].value, *name = opts[3].value,
               *expires = opts[4].value, *rate = opts[5].value;
    long long id;
    rr_scope_t scope;
    if (!parse_id(tenant, &id)) {
        fprintf(stderr, "realreach %s: --tenant must be a tenant id\n", cmd);
        return 1;
    }
    if (!parse_scopes(opts[1].value, &scope))
        return 1;
    if (client && !parse_id(client, &id)) {
        fprintf(stderr, "realreach %s: --client must be a client id\n", cmd);
        return 1;
    }
    if (name && strlen(name) > 200) {
        fprintf(stderr, "realreach %s: --name may be at most 200 bytes\n", cmd);
        return 1;
    }
    /* per-key rate limits are the operator's to set (here), not the
     * tenant's: the API shows them but refuses them in a body */
    if (rate && (!parse_id(rate, &id) || id > 100000)) {
        fprintf(stderr, "realreach %s: --rate-limit must be 1 to 100000 requests/s\n", cmd);
        return 1;
    }
    if (expires && !rr_time_valid(expires)) {
        fprintf(stderr,
                "realreach %s: --expires must be an ISO 8601 date-time with a time zone, "
                "e.g. 2030-01-31T00:00:00Z\n",
                cmd);
        return 1;
    }

    PGconn *c = admin_connect(cmd);
    if (!c)
        return 1;
    int rc = 1;
    char key[RR_KEY_TEXT], public_id[32];
    key[0] = '\0';
    bool exists;
    if (!begin_tenant(c, cmd, tenant) || !tenant_exists(c, cmd, tenant, &exists))
        goto out;
    if (!exists) {
        fprintf(stderr, "realreach %s: no tenant %s\n", cmd, tenant);
        goto out;
    }
    if (client) {
        const char *p[1] = {client};
        PGresult *r = q(c, cmd,
                        "SELECT 1 FROM realreach.clients"
                        " WHERE tenant_id = realreach.current_tenant() AND id = $1",
                        1, p);
        if (!r)
            goto out;
        bool found = PQntuples(r) == 1;
        PQclear(r);
        if (!found) {
            fprintf(stderr, "realreach %s: tenant %s has no client %s\n", cmd, tenant, client);
            goto out;
        }
    }
    if (expires) {
        /* a date that passed the format check can still be impossible
         * (February 30th): ask PostgreSQL, inside a savepoint so that a
         * failed cast does not abort the transaction */
        const char *p[1] = {expires};
        if (!q_ok(c, cmd, "SAVEPOINT expires_check", 0, NULL))
            goto out;
        PGresult *r = PQexecParams(c, "SELECT $1::timestamptz > now()", 1, NULL, p, NULL, NULL, 0);
        bool valid = PQresultStatus(r) == PGRES_TUPLES_OK;
        bool future = valid && !strcmp(PQgetvalue(r, 0, 0), "t");
        PQclear(r);
        if (!valid) {
            fprintf(stderr, "realreach %s: --expires '%s' is not a valid date-time\n", cmd,
                    expires);
            goto out;
        }
        if (!future) {
            fprintf(stderr, "realreach %s: --expires is in the past\n", cmd);
            goto out;
        }
        if (!q_ok(c, cmd, "RELEASE SAVEPOINT expires_check", 0, NULL))
            goto out;
    }
    if (rr_key_generate(key, sizeof key, public_id)) {
        fprintf(stderr, "realreach %s: the random generator failed\n", cmd);
        goto out;
    }
    unsigned char digest[32];
    char hex[65];
    rr_key_digest(key, digest);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", digest[i]);
    const char *p[7] = {public_id, hex, name, rr_scope_name(scope), client, expires, rate};
    PGresult *r = q(c, cmd,
                    "INSERT INTO realreach.api_keys (tenant_id, public_id, digest, name, scope,"
                    " client_id, expires_at, rate_limit)"
                    " VALUES (realreach.current_tenant(), $1, decode($2, 'hex'), $3, $4,"
                    " $5::bigint, $6::timestamptz, $7::integer) RETURNING id",
                    7, p);
    if (!r)
        goto out;
    char key_id[24];
    snprintf(key_id, sizeof key_id, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (!commit(c, cmd))
        goto out;
    printf("%s\n", key);
    fprintf(stderr, "key %s (id %s, scope %s) created for tenant %s; it is shown only now\n",
            public_id, key_id, rr_scope_name(scope), tenant);
    rc = 0;
out:
    memset(key, 0, sizeof key);
    PQfinish(c); /* an open transaction is rolled back */
    return rc;
}

static int key_revoke(int argc, char **argv)
{
    const char *cmd = "key revoke";
    opt_t opts[] = {{"--tenant", NULL}, {"--key", NULL}};
    if (!parse_opts(argc, argv, 2, opts, 2, cmd) || !opts[0].value || !opts[1].value) {
        fputs(key_usage, stderr);
        return 2;
    }
    const char *tenant = opts[0].value, *which = opts[1].value;
    long long n;
    if (!parse_id(tenant, &n)) {
        fprintf(stderr, "realreach %s: --tenant must be a tenant id\n", cmd);
        return 1;
    }
    /* --key: a numeric id, a public id, or (pasted by mistake) a whole key.
     * Digits alone are an id, so one argument never matches two keys (a
     * public id of twelve digits, odds 1 in 3e9, is revoked by its id). */
    char public_id[32] = "";
    const char *key_id = NULL;
    size_t len = strlen(which);
    bool public_shape =
        len >= 8 && len <= 24 &&
        strspn(which, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") == len;
    if (parse_id(which, &n))
        key_id = which;
    else if (public_shape)
        snprintf(public_id, sizeof public_id, "%s", which);
    else if (!rr_key_parse(which, public_id, NULL)) {
        fprintf(stderr, "realreach %s: --key must be a key's id or public id\n", cmd);
        return 1;
    }
    PGconn *c = admin_connect(cmd);
    if (!c)
        return 1;
    int rc = 1;
    const char *p[2] = {public_id[0] ? public_id : NULL, key_id};
    PGresult *r = NULL;
    if (!begin_tenant(c, cmd, tenant) ||
        !(r = q(c, cmd,
                "UPDATE realreach.api_keys SET revoked_at = coalesce(revoked_at, now())"
                " WHERE tenant_id = realreach.current_tenant()"
                "   AND (public_id = $1 OR id = $2::bigint)"
                " RETURNING id, public_id, realreach.iso(revoked_at)",
                2, p)))
        goto out;
    if (PQntuples(r) != 1) {
        fprintf(stderr, "realreach %s: tenant %s has no key %s\n", cmd, tenant, which);
        goto out;
    }
    if (!commit(c, cmd))
        goto out;
    printf("revoked key %s (id %s) at %s\n", PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 0),
           PQgetvalue(r, 0, 2));
    rc = 0;
out:
    PQclear(r);
    PQfinish(c);
    return rc;
}

static int key_list(int argc, char **argv)
{
    const char *cmd = "key list";
    opt_t opts[] = {{"--tenant", NULL}};
    if (!parse_opts(argc, argv, 2, opts, 1, cmd) || !opts[0].value) {
        fputs(key_usage, stderr);
        return 2;
    }
    long long n;
    if (!parse_id(opts[0].value, &n)) {
        fprintf(stderr, "realreach %s: --tenant must be a tenant id\n", cmd);
        return 1;
    }
    PGconn *c = admin_connect(cmd);
    if (!c)
        return 1;
    int rc = 1;
    bool exists;
    PGresult *r = NULL;
    if (!begin_tenant(c, cmd, opts[0].value) || !tenant_exists(c, cmd, opts[0].value, &exists))
        goto out;
    if (!exists) {
        fprintf(stderr, "realreach %s: no tenant %s\n", cmd, opts[0].value);
        goto out;
    }
    /* never the digest: it is not secret on its own, but nothing needs it */
    r = q(c, cmd,
          "SELECT id, public_id, scope, client_id, rate_limit, name, realreach.iso(created_at),"
          " realreach.iso(expires_at), realreach.iso(revoked_at)"
          " FROM realreach.api_keys WHERE tenant_id = realreach.current_tenant() ORDER BY id",
          0, NULL);
    if (!r || !commit(c, cmd))
        goto out;
    printf("id\tpublic_id\tscope\tclient\trate_limit\tname\tcreated\texpires\trevoked\n");
    for (int i = 0; i < PQntuples(r); i++)
        for (int k = 0; k < 9; k++)
            print_cell(r, i, k, k == 8);
    rc = 0;
out:
    PQclear(r);
    PQfinish(c);
    return rc;
}

int rr_cli_key(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "create"))
        return key_create(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "revoke"))
        return key_revoke(argc, argv);
    if (argc >= 2 && !strcmp(argv[1], "list"))
        return key_list(argc, argv);
    fputs(key_usage, stderr);
    return 2;
}

/* ------------------------------------------------------------- plugins */

int rr_cli_plugins(int argc, char **argv)
{
    opt_t opts[] = {{"--path", NULL}};
    if (!parse_opts(argc, argv, 1, opts, 1, "plugins")) {
        fputs("usage: realreach plugins [--path DIR_OR_SO[:...]]\n"
              "  loads and checks every plugin (default REALREACH_PLUGINS) without running it\n",
              stderr);
        return 2;
    }
    const char *spec = opts[0].value ? opts[0].value : rr_cfg.plugins;
    if (!spec || !*spec) {
        fprintf(stderr, "realreach plugins: no plugins configured (REALREACH_PLUGINS or --path)\n");
        return 0;
    }
    /* false: check only. init() would register routes and migrations, which
     * a listing must not do. */
    int refused = rr_plugins_load(spec, false);
    bool any_bad = refused > 0;
    printf("name\tversion\tabi\tpath\tstatus\n");
    for (size_t i = 0; i < rr_plugins_count(); i++) {
        const rr_plugin_t *p = rr_plugin_at(i);
        if (p->loaded && p->desc) {
            printf("%s\t%s\t%u.%u\t%s\tok\n", p->desc->name, p->desc->version,
                   p->desc->abi_major, p->desc->abi_minor, p->path);
        } else {
            /* a refused descriptor is not trusted: none of its fields is read */
            printf("-\t-\t-\t%s\t%s\n", p->path, p->error[0] ? p->error : "refused");
            any_bad = true;
        }
    }
    if (refused > 0 && rr_plugins_count() == 0)
        fprintf(stderr, "realreach plugins: nothing could be loaded from '%s'\n", spec);
    return any_bad ? 1 : 0;
}
