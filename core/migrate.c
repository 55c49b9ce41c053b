/*
 * `realreach migrate [--status]`: applies the core's embedded SQL files, then
 * each plugin's registered migrations, each in its own transaction, recorded
 * in public.realreach_migrations with a SHA-256 checksum of its text.
 *
 * A recorded migration whose text changed is an error that names it: running
 * it again could destroy data, and skipping it silently would leave the
 * schema different from what the code expects. Concurrent migrators (several
 * hosts starting at once) serialise on an advisory lock.
 *
 * After migrating it checks what row-level security depends on: the service
 * role is not superuser, has no BYPASSRLS, owns no (and is no member of an
 * owner of any) relation in schema realreach, and every table there has RLS
 * enabled and forced.
 *
 * Migration SQL is trusted text shipped inside the binary or a plugin, and a
 * file holds many statements: it runs through PQexec (simple query protocol).
 * Everything else here is parameterised.
 */
#include "rr.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "RRMG": one constant for every realreach migrator on a database */
#define RR_MIGRATE_LOCK "1381125447"
#define RR_MAX_MIGRATIONS 1024

typedef struct mig {
    const char *owner;
    const char *name;
    const char *sql;
    char checksum[65];
    bool applied;
    bool changed; /* recorded with another checksum */
    char applied_at[40];
} mig_t;

static void checksum_hex(const char *text, char out[65])
{
    unsigned char d[32];
    unsigned int len = 0;
    if (EVP_Digest(text, strlen(text), d, &len, EVP_sha256(), NULL) != 1)
        memset(d, 0, sizeof d);
    for (int i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static PGresult *run(PGconn *c, const char *sql, int n, const char *const *params)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        fprintf(stderr, "realreach migrate: %s", PQerrorMessage(c));
        PQclear(r);
        return NULL;
    }
    return r;
}

static bool run_ok(PGconn *c, const char *sql, int n, const char *const *params)
{
    PGresult *r = run(c, sql, n, params);
    PQclear(r);
    return r != NULL;
}

/* Core files first (already in name order: tools/embed gets them sorted),
 * then each plugin's, grouped by plugin in load order and in name order
 * within a plugin. Load order is the order of REALREACH_PLUGINS and name order
 * within a directory, so a plugin that builds on another's tables is listed
 * after it. */
static int cmp_name(const void *a, const void *b)
{
    const mig_t *x = a, *y = b;
    return strcmp(x->name, y->name);
}

static int too_many(void)
{
    fprintf(stderr, "realreach migrate: more than %d migrations\n", RR_MAX_MIGRATIONS);
    return -1;
}

static int collect(mig_t *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < rr_core_sql_count; i++) {
        if (n == cap)
            return too_many();
        out[n++] = (mig_t){.owner = "core", .name = rr_core_sql[i].name, .sql = rr_core_sql[i].data};
    }
    size_t total = rr_migrations_count();
    bool *taken = calloc(total ? total : 1, sizeof *taken);
    if (!taken)
        return -1;
    for (size_t i = 0; i < total; i++) {
        if (taken[i])
            continue;
        const char *owner = rr_migration_at(i)->owner;
        if (!strcmp(owner, "core")) {
            fprintf(stderr, "realreach migrate: a plugin named 'core' cannot add migrations\n");
            free(taken);
            return -1;
        }
        size_t first = n;
        for (size_t j = i; j < total; j++) {
            const rr_migration_t *m = rr_migration_at(j);
            if (taken[j] || strcmp(m->owner, owner))
                continue;
            if (n == cap) {
                free(taken);
                return too_many();
            }
            taken[j] = true;
            out[n++] = (mig_t){.owner = m->owner, .name = m->name, .sql = m->sql};
        }
        qsort(out + first, n - first, sizeof *out, cmp_name);
    }
    free(taken);
    for (size_t i = 0; i < n; i++)
        checksum_hex(out[i].sql, out[i].checksum);
    return (int)n;
}

/* Marks which migrations are recorded; a recorded one whose text changed is
 * an error naming it. With `unknown`, also returns (caller PQclear()s) the
 * recorded rows, so that those this build does not know (a plugin no longer
 * loaded) can be listed: they are left alone. */
static int match_recorded(PGconn *c, mig_t *m, int n, PGresult **unknown)
{
    PGresult *r = run(c,
                      "SELECT owner, name, checksum,"
                      " to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
                      " FROM public.realreach_migrations ORDER BY applied_at, owner, name",
                      0, NULL);
    if (!r)
        return -1;
    int changed = 0;
    for (int row = 0; row < PQntuples(r); row++) {
        const char *owner = PQgetvalue(r, row, 0), *name = PQgetvalue(r, row, 1);
        mig_t *found = NULL;
        for (int i = 0; i < n && !found; i++)
            if (!strcmp(m[i].owner, owner) && !strcmp(m[i].name, name))
                found = &m[i];
        if (!found)
            continue;
        found->applied = true;
        snprintf(found->applied_at, sizeof found->applied_at, "%s", PQgetvalue(r, row, 3));
        if (strcmp(found->checksum, PQgetvalue(r, row, 2))) {
            fprintf(stderr,
                    "realreach migrate: %s/%s was changed after it was applied (recorded "
                    "checksum %.12s..., now %.12s...); restore its text and add a new "
                    "migration instead\n",
                    owner, name, PQgetvalue(r, row, 2), found->checksum);
            found->changed = true;
            changed++;
        }
    }
    if (unknown)
        *unknown = r;
    else
        PQclear(r);
    return changed ? -1 : 0;
}

static bool known(const mig_t *m, int n, const char *owner, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(m[i].owner, owner) && !strcmp(m[i].name, name))
            return true;
    return false;
}

static bool apply_one(PGconn *c, const mig_t *m)
{
    if (!run_ok(c, "BEGIN", 0, NULL))
        return false;
    PGresult *r = PQexec(c, m->sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        fprintf(stderr, "realreach migrate: %s/%s failed: %s", m->owner, m->name,
                PQerrorMessage(c));
        PQclear(r);
        PQclear(PQexec(c, "ROLLBACK"));
        return false;
    }
    PQclear(r);
    /* a migration must not end the transaction itself: its record and its
     * effects commit together or not at all */
    if (PQtransactionStatus(c) != PQTRANS_INTRANS) {
        fprintf(stderr, "realreach migrate: %s/%s ended the transaction itself (COMMIT or "
                        "ROLLBACK inside a migration is not allowed)\n",
                m->owner, m->name);
        PQclear(PQexec(c, "ROLLBACK"));
        return false;
    }
    const char *p[3] = {m->owner, m->name, m->checksum};
    if (!run_ok(c,
                "INSERT INTO public.realreach_migrations (owner, name, checksum, applied_at)"
                " VALUES ($1, $2, $3, now())",
                3, p)) {
        PQclear(PQexec(c, "ROLLBACK"));
        return false;
    }
    PGresult *cr = PQexec(c, "COMMIT");
    bool ok = PQresultStatus(cr) == PGRES_COMMAND_OK && !strcmp(PQcmdStatus(cr), "COMMIT");
    if (!ok)
        fprintf(stderr, "realreach migrate: %s/%s: COMMIT failed: %s", m->owner, m->name,
                PQerrorMessage(c));
    PQclear(cr);
    return ok;
}

/* What row-level security relies on (see the file comment). Prints every
 * problem found, then fails if there was any. */
static bool verify_roles(PGconn *c)
{
    int bad = 0;
    PGresult *r = run(c, "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1", 1,
                      (const char *const[]){"realreach_app"});
    if (!r)
        return false;
    if (PQntuples(r) != 1) {
        fprintf(stderr, "realreach migrate: role realreach_app does not exist\n");
        bad++;
    } else {
        if (!strcmp(PQgetvalue(r, 0, 0), "t")) {
            fprintf(stderr, "realreach migrate: DANGER: role realreach_app is a superuser: "
                            "row-level security does not apply to it\n");
            bad++;
        }
        if (!strcmp(PQgetvalue(r, 0, 1), "t")) {
            fprintf(stderr, "realreach migrate: DANGER: role realreach_app has BYPASSRLS: "
                            "row-level security does not apply to it\n");
            bad++;
        }
    }
    PQclear(r);
    if (bad)
        return false;

    /* owners bypass RLS unless it is forced, and can ALTER or DROP their
     * tables: the app role may neither own one nor inherit an owner's rights */
    r = run(c,
            "SELECT c.relname, pg_get_userbyid(c.relowner)"
            "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'realreach' AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')"
            "   AND pg_has_role($1, c.relowner, 'MEMBER')"
            " ORDER BY 1",
            1, (const char *const[]){"realreach_app"});
    if (!r)
        return false;
    for (int i = 0; i < PQntuples(r); i++, bad++)
        fprintf(stderr, "realreach migrate: DANGER: realreach_app owns (or is a member of "
                        "the owner %s of) realreach.%s\n",
                PQgetvalue(r, i, 1), PQgetvalue(r, i, 0));
    PQclear(r);

    r = run(c,
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity"
            "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'realreach' AND c.relkind IN ('r', 'p')"
            "   AND NOT (c.relrowsecurity AND c.relforcerowsecurity)"
            /* the one other shape allowed (COPY cannot target an RLS table):
             * write-only for the service, every row pinned by a CHECK */
            "   AND NOT (NOT has_table_privilege('realreach_app', c.oid,"
            "                                    'SELECT, UPDATE, DELETE, TRUNCATE')"
            "            AND EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid"
            "                          AND k.contype = 'c' AND pg_get_constraintdef(k.oid)"
            "                          LIKE '%(tenant_id = realreach.current_tenant())%'))"
            " ORDER BY 1",
            0, NULL);
    if (!r)
        return false;
    for (int i = 0; i < PQntuples(r); i++, bad++)
        fprintf(stderr, "realreach migrate: DANGER: table realreach.%s lacks %s ROW LEVEL "
                        "SECURITY (and is not write-only with a tenant CHECK)\n",
                PQgetvalue(r, i, 0), strcmp(PQgetvalue(r, i, 1), "t") ? "ENABLE" : "FORCE");
    PQclear(r);
    return bad == 0;
}

static bool table_exists(PGconn *c, bool *exists)
{
    PGresult *r = run(c, "SELECT to_regclass('public.realreach_migrations') IS NOT NULL", 0, NULL);
    if (!r)
        return false;
    *exists = !strcmp(PQgetvalue(r, 0, 0), "t");
    PQclear(r);
    return true;
}

static bool plugins_ready(void)
{
    if (rr_plugins_count() == 0 && rr_cfg.plugins && *rr_cfg.plugins)
        rr_plugins_load(rr_cfg.plugins, true);
    bool ok = true;
    for (size_t i = 0; i < rr_plugins_count(); i++) {
        const rr_plugin_t *p = rr_plugin_at(i);
        if (!p->loaded) {
            /* its migrations are unknown: applying the rest could leave the
             * schema half-way between two versions */
            fprintf(stderr, "realreach migrate: plugin %s: %s\n", p->path, p->error);
            ok = false;
        }
    }
    return ok;
}

static int status(PGconn *c, mig_t *m, int n)
{
    bool exists;
    if (!table_exists(c, &exists))
        return 1;
    PGresult *rows = NULL;
    int rc = exists && match_recorded(c, m, n, &rows) ? 1 : 0;
    int pending = 0;
    for (int i = 0; i < n; i++) {
        if (m[i].applied)
            printf("%s  %s  %s/%s\n", m[i].changed ? "CHANGED!" : "applied ", m[i].applied_at,
                   m[i].owner, m[i].name);
        else {
            printf("pending   %-20s  %s/%s\n", "-", m[i].owner, m[i].name);
            pending++;
        }
    }
    for (int row = 0; rows && row < PQntuples(rows); row++)
        if (!known(m, n, PQgetvalue(rows, row, 0), PQgetvalue(rows, row, 1)))
            printf("applied   %s  %s/%s  (not in this build)\n", PQgetvalue(rows, row, 3),
                   PQgetvalue(rows, row, 0), PQgetvalue(rows, row, 1));
    PQclear(rows);
    printf("%d pending\n", pending);
    return rc;
}

static int migrate(PGconn *c, mig_t *m, int n)
{
    const char *lock[1] = {RR_MIGRATE_LOCK};
    if (!run_ok(c, "SELECT pg_advisory_lock($1::bigint)", 1, lock))
        return 1;
    /* not a tenant table: it lives in public, outside RLS and the app's reach */
    if (!run_ok(c,
                "CREATE TABLE IF NOT EXISTS public.realreach_migrations ("
                " owner text NOT NULL, name text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now(),"
                " PRIMARY KEY (owner, name))",
                0, NULL) ||
        match_recorded(c, m, n, NULL))
        return 1;
    int applied = 0;
    for (int i = 0; i < n; i++) {
        if (m[i].applied)
            continue;
        if (!apply_one(c, &m[i]))
            return 1;
        printf("applied %s/%s\n", m[i].owner, m[i].name);
        fflush(stdout);
        applied++;
    }
    run_ok(c, "SELECT pg_advisory_unlock($1::bigint)", 1, lock);
    if (!verify_roles(c))
        return 1;
    printf("%d applied, %d already up to date\n", applied, n - applied);
    return 0;
}

int rr_migrate_main(int argc, char **argv)
{
    bool want_status = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--status"))
            want_status = true;
        else {
            fprintf(stderr, "usage: realreach migrate [--status]\n"
                            "  applies the core's and the plugins' pending migrations using\n"
                            "  REALREACH_ADMIN_DB; --status lists applied and pending ones\n");
            return 2;
        }
    }
    if (!rr_cfg.admin_db || !*rr_cfg.admin_db) {
        fprintf(stderr, "realreach migrate: REALREACH_ADMIN_DB (the owner's conninfo) is not set\n");
        return 1;
    }
    if (!plugins_ready())
        return 1;

    static mig_t m[RR_MAX_MIGRATIONS];
    int n = collect(m, RR_MAX_MIGRATIONS);
    if (n < 0)
        return 1;

    PGconn *c = PQconnectdb(rr_cfg.admin_db);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "realreach migrate: cannot connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return 1;
    }
    /* NOTICEs such as "already exists, skipping" are noise here */
    PQclear(PQexec(c, "SET client_min_messages = warning"));
    int rc = want_status ? status(c, m, n) : migrate(c, m, n);
    PQfinish(c); /* also releases the advisory lock on an early return */
    return rc;
}
