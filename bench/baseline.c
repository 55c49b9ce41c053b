/*
 * bench/baseline — the floor realreach's GET /v1/clients/{id} is measured
 * against: a bare libfcgi program doing the same lookup with one prepared
 * statement and answering the row as JSON (jansson). No auth, no tenancy, no
 * logging, no metrics; one libpq connection per process, as a role that
 * bypasses row-level security (the cluster superuser), so no tenant is set.
 *
 *   baseline SOCKET NPROC CONNINFO
 *
 * Opens SOCKET (unix, mode 0660, backlog 1024 as realreach), forks NPROC
 * single-threaded processes that each block in FCGX_Accept_r, and waits.
 * SIGTERM/SIGINT stop the children and remove the socket. Only
 * `GET /v1/clients/<id>` is answered (200 with the row, 404 without one);
 * anything else is 404.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcgiapp.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_PROCS 256
#define LOOKUP_SQL "SELECT id, name, notes, created_at, updated_at FROM realreach.clients WHERE id = $1"

static volatile sig_atomic_t stop_requested;
static pid_t children[MAX_PROCS];
static int nchildren;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static PGconn *connect_db(const char *conninfo)
{
    PGconn *c = PQconnectdb(conninfo);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "baseline: cannot connect: %s", PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PGresult *r = PQprepare(c, "lookup", LOOKUP_SQL, 1, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        fprintf(stderr, "baseline: prepare failed: %s", PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(c);
        return NULL;
    }
    PQclear(r);
    return c;
}

static void respond(FCGX_Request *req, int status, const char *body, size_t len)
{
    FCGX_FPrintF(req->out, "Status: %d %s\r\nContent-Type: application/json\r\n\r\n", status,
                 status == 200 ? "OK" : status == 404 ? "Not Found" : "Internal Server Error");
    FCGX_PutStr(body, (int)len, req->out);
}

static json_t *col_string(const PGresult *r, int col)
{
    if (PQgetisnull(r, 0, col))
        return json_null();
    return json_stringn(PQgetvalue(r, 0, col), (size_t)PQgetlength(r, 0, col));
}

static void serve_one(FCGX_Request *req, PGconn **conn, const char *conninfo)
{
    static const char not_found[] = "{\"status\":404,\"title\":\"Not Found\"}";
    static const char failed[] = "{\"status\":500,\"title\":\"Internal Server Error\"}";
    static const char prefix[] = "/v1/clients/";
    const char *uri = FCGX_GetParam("REQUEST_URI", req->envp);
    if (!uri || strncmp(uri, prefix, sizeof prefix - 1)) {
        respond(req, 404, not_found, sizeof not_found - 1);
        return;
    }
    const char *id = uri + sizeof prefix - 1;
    size_t n = strspn(id, "0123456789");
    if (n == 0 || n > 18 || (id[n] && id[n] != '?')) {
        respond(req, 404, not_found, sizeof not_found - 1);
        return;
    }
    char idbuf[20];
    memcpy(idbuf, id, n);
    idbuf[n] = '\0';

    if (!*conn || PQstatus(*conn) != CONNECTION_OK) {
        if (*conn)
            PQfinish(*conn);
        *conn = connect_db(conninfo);
        if (!*conn) {
            respond(req, 500, failed, sizeof failed - 1);
            return;
        }
    }
    const char *params[1] = {idbuf};
    PGresult *r = PQexecPrepared(*conn, "lookup", 1, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        PQclear(r);
        respond(req, 500, failed, sizeof failed - 1);
        return;
    }
    if (PQntuples(r) == 0) {
        PQclear(r);
        respond(req, 404, not_found, sizeof not_found - 1);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(strtoll(PQgetvalue(r, 0, 0), NULL, 10)));
    json_object_set_new(o, "name", col_string(r, 1));
    json_object_set_new(o, "notes", col_string(r, 2));
    json_object_set_new(o, "created_at", col_string(r, 3));
    json_object_set_new(o, "updated_at", col_string(r, 4));
    PQclear(r);
    char *text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!text) {
        respond(req, 500, failed, sizeof failed - 1);
        return;
    }
    respond(req, 200, text, strlen(text));
    free(text);
}

static int child_main(int fd, const char *conninfo)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGPIPE, SIG_IGN);
    PGconn *conn = connect_db(conninfo);
    if (!conn)
        return 1;
    FCGX_Request req;
    if (FCGX_InitRequest(&req, fd, 0) != 0)
        return 1;
    while (FCGX_Accept_r(&req) >= 0) {
        serve_one(&req, &conn, conninfo);
        FCGX_Finish_r(&req);
    }
    PQfinish(conn);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: %s SOCKET NPROC CONNINFO\n", argv[0]);
        return 2;
    }
    const char *path = argv[1], *conninfo = argv[3];
    int nproc = atoi(argv[2]);
    if (nproc < 1 || nproc > MAX_PROCS) {
        fprintf(stderr, "baseline: NPROC must be 1..%d\n", MAX_PROCS);
        return 2;
    }
    /* fail fast (bad conninfo, missing table) before opening the socket */
    PGconn *probe = connect_db(conninfo);
    if (!probe)
        return 1;
    PQfinish(probe);

    if (FCGX_Init() != 0) {
        fprintf(stderr, "baseline: FCGX_Init failed\n");
        return 1;
    }
    unlink(path);
    mode_t old = umask(0117);
    int fd = FCGX_OpenSocket(path, 1024);
    umask(old);
    if (fd < 0) {
        fprintf(stderr, "baseline: cannot open socket %s\n", path);
        return 1;
    }
    chmod(path, 0660);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    for (int i = 0; i < nproc; i++) {
        pid_t p = fork();
        if (p < 0) {
            perror("baseline: fork");
            stop_requested = 1;
            break;
        }
        if (p == 0)
            _exit(child_main(fd, conninfo));
        children[nchildren++] = p;
    }
    /* Wait for a signal or for any child to exit (a child that fails is a
     * broken benchmark, not something to respawn). */
    while (!stop_requested) {
        int st;
        pid_t p = waitpid(-1, &st, 0);
        if (p > 0) {
            fprintf(stderr, "baseline: process %d exited (status %d); stopping\n", (int)p, st);
            for (int i = 0; i < nchildren; i++)
                if (children[i] == p)
                    children[i] = 0;
            break;
        }
        if (p < 0 && errno == ECHILD)
            break;
    }
    for (int i = 0; i < nchildren; i++)
        if (children[i] > 0)
            kill(children[i], SIGTERM);
    while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
        ;
    unlink(path);
    return 0;
}
