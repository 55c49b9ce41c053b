/*
 * The master (php-fpm / nginx style): opens the FastCGI socket, checks the
 * plugins once in a throw-away child (so the master itself never maps plugin
 * code and every new generation loads them afresh from disk), forks workers
 * and job runners, and supervises them:
 *   - a child that dies is logged with the route it was serving and
 *     respawned; a crash loop backs off; exit code RR_EXIT_FATAL is final;
 *   - a request that outlives REALREACH_REQUEST_TIMEOUT (+1 s, so nginx's
 *     504 goes out first) gets its worker killed and replaced;
 *   - SIGHUP starts a new generation, then asks the old one to finish its
 *     in-flight requests and exit;
 *   - SIGTERM/SIGINT: stop accepting, drain, exit.
 */
#include "shm.h"

#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t got_term, got_hup, got_chld;

static void on_signal(int sig)
{
    if (sig == SIGTERM || sig == SIGINT)
        got_term = 1;
    else if (sig == SIGHUP)
        got_hup = 1;
    else if (sig == SIGCHLD)
        got_chld = 1;
}

static int listen_fd = -1;
static int generation = 1;
static long long respawn_delay_ms = 0; /* crash-loop backoff */
static long long last_crash_ms = 0;
static int recent_crashes = 0;

/* Loads and initialises every plugin in a child; true if all load. */
static bool plugins_check(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        rr_log_set_role("plugin-check");
        rr_routes_core_register();
        int refused = rr_plugins_load(rr_cfg.plugins, true);
        _exit(refused ? RR_EXIT_FATAL : 0);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void child_signals_reset(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    sigaction(SIGCHLD, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
}

static void on_runner_term(int sig)
{
    (void)sig;
    rr_shutdown_requested = 1;
}

static pid_t spawn(int slot, rr_proc_kind_t kind)
{
    pid_t pid = fork();
    if (pid < 0) {
        rr_log(RR_LOG_ERROR, "fork failed: %s", strerror(errno));
        return -1;
    }
    if (pid > 0) {
        rr_scoreboard_claim(slot, pid, kind, generation);
        return pid;
    }
    child_signals_reset();
    rr_scoreboard_claim(slot, getpid(), kind, generation);
    rr_log_set_role(kind == RR_PROC_WORKER ? "worker" : "runner");
    /* core routes first: a plugin may not shadow them */
    rr_routes_core_register();
    if (rr_plugins_load(rr_cfg.plugins, true) != 0)
        _exit(RR_EXIT_FATAL);
    int rc;
    if (kind == RR_PROC_WORKER) {
        rc = rr_worker_main(listen_fd, slot, generation);
    } else {
        close(listen_fd);
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_runner_term;
        sa.sa_flags = SA_RESTART;
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        rc = rr_runner_main(slot);
    }
    _exit(rc);
}

static int free_slot(void)
{
    for (int i = 0; i < rr_shm->nslots; i++)
        if (!rr_shm->slots[i].pid)
            return i;
    return -1;
}

static void spawn_generation(void)
{
    for (int i = 0; i < rr_cfg.workers; i++) {
        int s = free_slot();
        if (s >= 0)
            spawn(s, RR_PROC_WORKER);
    }
    for (int i = 0; i < rr_cfg.job_runners; i++) {
        int s = free_slot();
        if (s >= 0)
            spawn(s, RR_PROC_RUNNER);
    }
}

static int count_alive(void)
{
    int n = 0;
    for (int i = 0; i < rr_shm->nslots; i++)
        if (rr_shm->slots[i].pid)
            n++;
    return n;
}

static int find_slot(pid_t pid)
{
    for (int i = 0; i < rr_shm->nslots; i++)
        if (rr_shm->slots[i].pid == pid)
            return i;
    return -1;
}

/* Pending respawns: slots whose child died, with the time they may restart. */
typedef struct pending {
    rr_proc_kind_t kind;
    long long at_ms;
} pending_t;
static pending_t pending[RR_MAX_SLOTS];
static int npending;

static int fatal_exits;

static void reap(bool stopping)
{
    int st;
    pid_t pid;
    while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
        int slot = find_slot(pid);
        if (slot < 0)
            continue;
        rr_slot_t *s = &rr_shm->slots[slot];
        char route[96];
        long long busy;
        rr_proc_kind_t kind;
        int gen;
        rr_scoreboard_peek(slot, &busy, route, sizeof route, &kind, &gen);
        bool clean = WIFEXITED(st) && WEXITSTATUS(st) == 0;
        bool fatal = WIFEXITED(st) && WEXITSTATUS(st) == RR_EXIT_FATAL;
        if (!clean) {
            if (WIFSIGNALED(st))
                rr_log(RR_LOG_ERROR, "%s %d died of signal %d while serving %s (request %s)",
                       kind == RR_PROC_WORKER ? "worker" : "runner", (int)pid, WTERMSIG(st),
                       busy >= 0 ? route : "nothing", busy >= 0 ? s->request_id : "-");
            else
                rr_log(RR_LOG_ERROR, "%s %d exited with status %d", kind == RR_PROC_WORKER ? "worker" : "runner",
                       (int)pid, WEXITSTATUS(st));
        }
        rr_scoreboard_release(slot);
        if (stopping || gen != generation || clean)
            continue;
        if (fatal) {
            fatal_exits++;
            continue; /* "do not respawn": a plugin failed to load, or worse */
        }
        long long now = rr_now_ms();
        /* the window grows with the delay, or a long backoff would reset itself */
        if (now - last_crash_ms < 10000 + respawn_delay_ms) {
            if (++recent_crashes > 5)
                respawn_delay_ms = respawn_delay_ms ? respawn_delay_ms * 2 : 500;
            if (respawn_delay_ms > 30000)
                respawn_delay_ms = 30000;
        } else {
            recent_crashes = 1;
            respawn_delay_ms = 0;
        }
        last_crash_ms = now;
        if (respawn_delay_ms)
            rr_log(RR_LOG_WARN, "crash loop: next respawn in %lld ms", respawn_delay_ms);
        rr_metrics_count_restart();
        if (npending < RR_MAX_SLOTS)
            pending[npending++] = (pending_t){kind, now + respawn_delay_ms};
    }
}

static int count_alive_workers(void)
{
    int n = 0;
    for (int i = 0; i < rr_shm->nslots; i++)
        if (rr_shm->slots[i].pid && rr_shm->slots[i].kind == RR_PROC_WORKER &&
            rr_shm->slots[i].generation == generation)
            n++;
    return n;
}

static void respawn_due(void)
{
    long long now = rr_now_ms();
    /* A crash loop on one route must not take the whole service down: one
     * worker always comes back at once, the others wait out the backoff. */
    if (count_alive_workers() == 0) {
        for (int i = 0; i < npending; i++) {
            if (pending[i].kind == RR_PROC_WORKER) {
                pending[i].at_ms = now;
                break;
            }
        }
    }
    for (int i = 0; i < npending;) {
        if (pending[i].at_ms <= now) {
            int s = free_slot();
            if (s >= 0)
                spawn(s, pending[i].kind);
            pending[i] = pending[--npending];
        } else {
            i++;
        }
    }
}

static void kill_stuck(void)
{
    for (int i = 0; i < rr_shm->nslots; i++) {
        /* +1 s: nginx's own timeout answers 504 first */
        int secs = rr_shm->slots[i].bulk ? rr_cfg.bulk_timeout : rr_cfg.request_timeout;
        long long limit = (long long)secs * 1000 + 1000;
        char route[96];
        long long busy;
        rr_proc_kind_t kind;
        pid_t pid = rr_scoreboard_peek(i, &busy, route, sizeof route, &kind, NULL);
        if (pid > 0 && kind == RR_PROC_WORKER && busy > limit && !rr_shm->slots[i].killed) {
            rr_log(RR_LOG_ERROR, "worker %d exceeded the %d s request limit on %s: killing it",
                   (int)pid, secs, route);
            rr_shm->slots[i].killed = 1; /* once; the slot keeps its route for the death log */
            kill(pid, SIGKILL);
        }
    }
}

static void signal_generation(int gen, int sig)
{
    for (int i = 0; i < rr_shm->nslots; i++)
        if (rr_shm->slots[i].pid > 0 && (gen < 0 || rr_shm->slots[i].generation == gen))
            kill(rr_shm->slots[i].pid, sig);
}

static int open_socket(void)
{
    /* a socket left by a crashed master would make bind() fail */
    unlink(rr_cfg.socket);
    mode_t old = umask(0117); /* created 0660: only the owner and its group (nginx) */
    int fd = FCGX_OpenSocket(rr_cfg.socket, 1024);
    umask(old);
    if (fd < 0) {
        rr_log(RR_LOG_ERROR, "cannot listen on %s: %s", rr_cfg.socket, strerror(errno));
        return -1;
    }
    chmod(rr_cfg.socket, 0660);
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    return fd;
}

int rr_serve(void)
{
    rr_log_set_role("master");
    if (!rr_cfg.db) {
        rr_log(RR_LOG_ERROR, "REALREACH_DB is not set");
        return 1;
    }
    int nslots = 2 * (rr_cfg.workers + rr_cfg.job_runners) + 4;
    if (nslots > RR_MAX_SLOTS || rr_scoreboard_init(nslots) != 0) {
        rr_log(RR_LOG_ERROR, "too many workers/runners for the scoreboard (%d)", RR_MAX_SLOTS);
        return 1;
    }
    if (!plugins_check()) {
        rr_log(RR_LOG_ERROR, "a plugin was refused; not starting (see the lines above)");
        return 1;
    }
    listen_fd = open_socket();
    if (listen_fd < 0)
        return 1;
    if (rr_cfg.pidfile) {
        FILE *f = fopen(rr_cfg.pidfile, "w");
        if (f) {
            fprintf(f, "%d\n", (int)getpid());
            fclose(f);
        }
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    rr_log(RR_LOG_INFO, "listening on %s with %d workers and %d job runners", rr_cfg.socket,
           rr_cfg.workers, rr_cfg.job_runners);
    spawn_generation();

    while (!got_term) {
        poll(NULL, 0, 100);
        got_chld = 0;
        reap(false);
        respawn_due();
        kill_stuck();
        if (fatal_exits > 0 && count_alive() == 0 && npending == 0) {
            rr_log(RR_LOG_ERROR, "every worker exited with a fatal error; stopping");
            break;
        }
        if (got_hup) {
            got_hup = 0;
            if (!plugins_check()) {
                rr_log(RR_LOG_ERROR, "reload refused: a plugin failed its check; keeping the running generation");
                continue;
            }
            int old = generation++;
            rr_log(RR_LOG_INFO, "reload: starting generation %d", generation);
            npending = 0;
            spawn_generation();
            signal_generation(old, SIGTERM); /* they finish in-flight requests */
        }
    }

    rr_log(RR_LOG_INFO, "stopping: draining workers");
    close(listen_fd);
    signal_generation(-1, SIGTERM);
    long long deadline = rr_now_ms() + (long long)rr_cfg.request_timeout * 1000 + 5000;
    while (count_alive() > 0 && rr_now_ms() < deadline) {
        poll(NULL, 0, 50);
        reap(true);
    }
    if (count_alive() > 0) {
        signal_generation(-1, SIGKILL);
        while (count_alive() > 0 && rr_now_ms() < deadline + 2000) {
            poll(NULL, 0, 50);
            reap(true);
        }
    }
    unlink(rr_cfg.socket);
    if (rr_cfg.pidfile)
        unlink(rr_cfg.pidfile);
    rr_log(RR_LOG_INFO, "stopped");
    return fatal_exits > 0 ? 1 : 0;
}
