/*
 * Raw FastCGI records into the request loop: the input is the byte stream a
 * peer writes on one connection to the worker's socket. The harness listens
 * on a unix socket (non-blocking, like the worker's; in the abstract namespace,
 * so that a crash leaves no socket file behind), connects,
 * writes the input, shuts its side down, then runs what the worker's loop
 * runs: FCGX_Accept_r + rr_worker_serve (core/worker.c) until libfcgi has no
 * further request on that connection (at most 16). The database is down
 * (a handle that never connects): requests that need it must answer 503.
 * Every core route is registered; shared memory (metrics, scoreboard) is
 * mapped, as in a worker.
 *
 * Oracle besides ASan/UBSan: a thread reads everything written back and
 * checks each response's FastCGI records and HTTP head: "Status: NNN ...",
 * header lines "Name: value" with no bare CR or LF (no response splitting),
 * a blank line ending the head; and a /metrics answer's Prometheus text
 * (request methods become label values: none may forge a sample).
 *
 * The known libfcgi bug (CVE-2025-23016, half-fixed in Debian 12's
 * 2.4.2-2+deb12u1): a name-value pair whose nameLen + valueLen + 2
 * overflows int makes libfcgi's ReadParams call malloc with a negative int
 * converted to size_t; the result is NULL and libfcgi's Malloc assertion
 * aborts the process. Our code cannot guard against it: libfcgi reads and
 * parses the PARAMS records inside FCGX_Accept_r (and management records
 * inside any read of the body), before rr_worker_serve sees anything.
 * Deployment contains it (0660 unix socket, respawned workers; see
 * shared/design/reliability.md). So that the fuzzer can go on looking for
 * other bugs, this harness recognises that exact call — malloc from inside
 * libfcgi with a size of 2^63 or more, which only that overflow produces —
 * and answers it with a buffer larger than any input instead of NULL; libfcgi
 * then fails the short read and drops the connection, which is what the
 * upstream fix (fcgi2 2.4.7) does. Such inputs are counted, reported at
 * exit, and kept out of the corpus. FUZZ_FCGI_REAL_ABORT=1 turns this off
 * (the input then aborts as in production).
 *
 * A second libfcgi bug, found by this harness: ProcessManagementRecord
 * answers FCGI_GET_VALUES by sprintf-ing each known name (FCGI_MAX_CONNS,
 * FCGI_MAX_REQS, FCGI_MPXS_CONNS) into a 64-byte stack buffer without a
 * bound; a record naming them 4 times or more overflows it ("*** stack
 * smashing detected ***", the worker aborts; a long list also sends stack
 * bytes back). nginx never sends management records; a socket peer can.
 * The names must stand whole inside one record, so an input holding them
 * fewer than 4 times in all cannot reach it: inputs holding them 4 times or
 * more are skipped before they are sent (counted, kept out of the corpus).
 */
#include "fuzz_common.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcgiapp.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_REQUESTS 16
#define OUT_CAP (1u << 20)
#define ABSORB_SIZE (256u * 1024) /* > any input (-max_len is 32 KiB) */

/* ------------------------------------------------------------- libfcgi bug */

void *__interceptor_malloc(size_t size); /* ASan's; `malloc` & co. are weak aliases */
void *__interceptor_calloc(size_t n, size_t size);
void *__interceptor_realloc(void *p, size_t size);
void __interceptor_free(void *p);
void *malloc(size_t size);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t size);
void free(void *p);

static uintptr_t fcgi_lo, fcgi_hi; /* libfcgi's mapped text */
static unsigned long absorbed;     /* inputs that hit the overflow */
static unsigned long get_values_skipped;
static unsigned long leaks_reclaimed;
static int absorbed_now;
static int real_abort;

#define FROM_FCGI(ra) ((uintptr_t)(ra) >= fcgi_lo && (uintptr_t)(ra) < fcgi_hi)

/* What libfcgi allocates during one input: once its request is freed and its
 * connection closed nothing of it may stay, except what it leaks (48 bytes
 * per management record of an unknown type: ProcessManagementRecord frees
 * its parameter list only for FCGI_GET_VALUES). The harness frees those
 * leftovers after each input, so that libFuzzer's leak check (run whenever
 * an input ends with more mallocs than frees, and given up after 1000 runs)
 * stays for our code. Open addressing; the lock guards against free() from
 * other threads (libFuzzer's). */
#define TRACK_SLOTS (1u << 16)
#define TOMB ((void *)1)
static void *tracked[TRACK_SLOTS];
static unsigned ntracked;
static int track_lock;

static size_t slot_of(void *p)
{
    return ((uintptr_t)p >> 4) * 2654435761u % TRACK_SLOTS;
}

static void track_add(void *p)
{
    if (!p)
        return;
    while (__atomic_exchange_n(&track_lock, 1, __ATOMIC_ACQUIRE))
        ;
    if (ntracked < TRACK_SLOTS / 2) {
        size_t i = slot_of(p);
        while (tracked[i] && tracked[i] != TOMB)
            i = (i + 1) % TRACK_SLOTS;
        tracked[i] = p;
        ntracked++;
    }
    __atomic_store_n(&track_lock, 0, __ATOMIC_RELEASE);
}

static void track_del(void *p)
{
    if (!p || !__atomic_load_n(&ntracked, __ATOMIC_RELAXED))
        return;
    while (__atomic_exchange_n(&track_lock, 1, __ATOMIC_ACQUIRE))
        ;
    for (size_t i = slot_of(p); tracked[i]; i = (i + 1) % TRACK_SLOTS) {
        if (tracked[i] == p) {
            tracked[i] = TOMB;
            ntracked--;
            break;
        }
    }
    __atomic_store_n(&track_lock, 0, __ATOMIC_RELEASE);
}

/* after an input: free what libfcgi left (free_them), forget everything */
static void track_reclaim(int free_them)
{
    while (__atomic_exchange_n(&track_lock, 1, __ATOMIC_ACQUIRE))
        ;
    if (ntracked) {
        for (size_t i = 0; i < TRACK_SLOTS; i++) {
            if (tracked[i] && tracked[i] != TOMB && free_them) {
                __interceptor_free(tracked[i]);
                leaks_reclaimed++;
            }
            tracked[i] = NULL;
        }
    } else {
        memset(tracked, 0, sizeof tracked); /* tombstones */
    }
    ntracked = 0;
    __atomic_store_n(&track_lock, 0, __ATOMIC_RELEASE);
}

void *malloc(size_t size)
{
    void *ra = __builtin_return_address(0);
    if (!FROM_FCGI(ra))
        return __interceptor_malloc(size);
    if (size > ABSORB_SIZE && !real_abort) {
        /* Only ReadParams asks libfcgi's Malloc for more than a few KiB
         * (nameLen + valueLen + 2), and it then reads at most what the
         * stream holds, which is less than the input: ABSORB_SIZE bytes
         * always suffice. Sizes of 2^63 and more are the int overflow (in
         * production: NULL, assertion, abort); smaller ones are honest
         * claims that the input cannot back (in production: lazily mapped,
         * then the short read drops the connection), capped here only
         * because ASan would poison gigabytes of shadow on free, 1000
         * times slower. */
        if (size >= ((size_t)1 << 63))
            absorbed_now = 1;
        size = ABSORB_SIZE;
    }
    void *p = __interceptor_malloc(size);
    track_add(p);
    return p;
}

void *calloc(size_t n, size_t size)
{
    void *p = __interceptor_calloc(n, size);
    if (FROM_FCGI(__builtin_return_address(0)))
        track_add(p);
    return p;
}

void *realloc(void *old, size_t size)
{
    if (!FROM_FCGI(__builtin_return_address(0)))
        return __interceptor_realloc(old, size);
    void *p = __interceptor_realloc(old, size);
    if (p) {
        track_del(old);
        track_add(p);
    }
    return p;
}

void free(void *p)
{
    track_del(p);
    __interceptor_free(p);
}

static int find_fcgi(struct dl_phdr_info *info, size_t sz, void *arg)
{
    (void)sz, (void)arg;
    if (!info->dlpi_name || !strstr(info->dlpi_name, "libfcgi.so"))
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
            uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
            if (!fcgi_lo || lo < fcgi_lo)
                fcgi_lo = lo;
            if (lo + ph->p_memsz > fcgi_hi)
                fcgi_hi = lo + ph->p_memsz;
        }
    }
    return 1;
}

/* ----------------------------------------------------- what comes back */

/* One drain thread for the whole run (a thread per input costs more than
 * the input): told the client socket of each input, it reads until EOF. */
typedef struct drain {
    int fd;
    unsigned char *buf;
    size_t len;
    int overflow;
    sem_t go, done;
} drain_t;

static drain_t drain;

static void *drain_main(void *arg)
{
    drain_t *d = arg;
    static unsigned char tmp[16384];
    for (;;) {
        while (sem_wait(&d->go) != 0)
            ;
        for (;;) {
            ssize_t n = read(d->fd, tmp, sizeof tmp);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            if (d->len + (size_t)n > OUT_CAP) {
                d->overflow = 1;
                continue;
            }
            memcpy(d->buf + d->len, tmp, (size_t)n);
            d->len += (size_t)n;
        }
        sem_post(&d->done);
    }
    return NULL;
}

/* The HTTP head a response starts with: "Status: NNN reason", then
 * "Name: value" lines, then an empty line; CRLF everywhere, no bare CR/LF. */
static void check_head(const unsigned char *s, size_t n)
{
    FUZZ_CHECK(n >= 12 && !memcmp(s, "Status: ", 8));
    FUZZ_CHECK(s[8] >= '1' && s[8] <= '5' && s[9] >= '0' && s[9] <= '9' && s[10] >= '0' &&
               s[10] <= '9' && s[11] == ' ');
    size_t i = 0;
    for (;;) {
        size_t start = i;
        while (i < n && s[i] != '\r' && s[i] != '\n')
            i++;
        FUZZ_CHECK(i + 1 < n && s[i] == '\r' && s[i + 1] == '\n'); /* CRLF, head complete */
        if (i == start)
            break; /* the blank line */
        const unsigned char *colon = memchr(s + start, ':', i - start);
        FUZZ_CHECK(colon && colon > s + start && colon + 1 < s + i && colon[1] == ' ');
        i += 2;
    }
}

/* The Prometheus text of /metrics: comments, or
 * name{label="value",...} number — label values escaped, one sample a line
 * (a label value holding a quote, backslash or newline would forge
 * samples). */
static void check_metrics(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        const unsigned char *line = s + i;
        const unsigned char *nl = memchr(line, '\n', n - i);
        size_t len = nl ? (size_t)(nl - line) : n - i;
        i += len + 1;
        if (len == 0 || line[0] == '#')
            continue;
        size_t k = 0;
        while (k < len && ((line[k] >= 'a' && line[k] <= 'z') || line[k] == '_'))
            k++;
        FUZZ_CHECK(k > 0);
        if (k < len && line[k] == '{') {
            k++;
            while (k < len && line[k] != '}') {
                while (k < len && ((line[k] >= 'a' && line[k] <= 'z') || line[k] == '_'))
                    k++;
                FUZZ_CHECK(k + 1 < len && line[k] == '=' && line[k + 1] == '"');
                k += 2;
                while (k < len && line[k] != '"') {
                    FUZZ_CHECK(line[k] != '\\'); /* we never escape: none may need it */
                    k++;
                }
                FUZZ_CHECK(k < len);
                k++;
                if (k < len && line[k] == ',')
                    k++;
            }
            FUZZ_CHECK(k < len);
            k++;
        }
        FUZZ_CHECK(k < len && line[k] == ' ');
        for (k++; k < len; k++)
            FUZZ_CHECK((line[k] >= '0' && line[k] <= '9') || line[k] == '.' || line[k] == 'e' ||
                       line[k] == '+' || line[k] == '-');
    }
}

/* Response records: STDOUT content per request id, checked when that
 * request's END_REQUEST arrives. A cut stream (the harness's cap) is not
 * checked past the cut. */
static void check_output(const unsigned char *b, size_t n)
{
    static unsigned char out[OUT_CAP];
    size_t olen = 0;
    int oid = -1;
    size_t i = 0;
    while (i + 8 <= n) {
        const unsigned char *h = b + i;
        FUZZ_CHECK(h[0] == 1); /* version */
        int type = h[1], id = h[2] << 8 | h[3];
        size_t clen = (size_t)(h[4] << 8 | h[5]), plen = h[6];
        if (i + 8 + clen + plen > n)
            break;
        const unsigned char *c = h + 8;
        switch (type) {
        case 6: /* FCGI_STDOUT */
            if (oid != id)
                olen = 0, oid = id;
            memcpy(out + olen, c, clen);
            olen += clen;
            break;
        case 3: /* FCGI_END_REQUEST */
            FUZZ_CHECK(clen == 8);
            if (oid == id && olen) {
                check_head(out, olen);
                const unsigned char *body = memmem(out, olen, "\r\n\r\n", 4);
                if (memmem(out, body ? (size_t)(body - out) : olen, "version=0.0.4", 13))
                    check_metrics(body + 4, olen - (size_t)(body + 4 - out));
            }
            if (oid == id)
                olen = 0, oid = -1;
            break;
        case 7:  /* FCGI_STDERR: nothing of ours writes there */
        case 10: /* FCGI_GET_VALUES_RESULT */
        case 11: /* FCGI_UNKNOWN_TYPE */ break;
        default: FUZZ_CHECK(!"unexpected record type in the response");
        }
        i += 8 + clen + plen;
    }
}

/* Backstop for libfcgi leaks the reclaiming above would miss: leaks whose
 * stack passes through libfcgi are not reported; ours stay checked. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libfcgi.so\n";
}

/* ------------------------------------------------------------ the listener */

static struct sockaddr_un sock_addr; /* abstract: sun_path[0] == '\0' */
static socklen_t sock_len;
static int listen_fd = -1;
static FCGX_Request req;
static rr_arena_t *arena;

static void at_exit(void)
{
    if (get_values_skipped)
        fprintf(stderr,
                "fuzz_fcgi: %lu input(s) naming FCGI_GET_VALUES variables 4+ times skipped "
                "(libfcgi stack overflow, not ours)\n",
                get_values_skipped);
    if (leaks_reclaimed)
        fprintf(stderr, "fuzz_fcgi: %lu block(s) leaked by libfcgi freed by the harness\n",
                leaks_reclaimed);
    if (absorbed)
        fprintf(stderr,
                "fuzz_fcgi: the libfcgi nameLen+valueLen overflow "
                "(CVE-2025-23016, not ours) in %lu execution(s): absorbed, not kept\n",
                absorbed);
}

static void setup(void)
{
    fuzz_init();
    real_abort = getenv("FUZZ_FCGI_REAL_ABORT") && *getenv("FUZZ_FCGI_REAL_ABORT") == '1';
    dl_iterate_phdr(find_fcgi, NULL);
    if (!fcgi_lo) {
        fprintf(stderr, "fuzz_fcgi: libfcgi.so is not mapped\n");
        abort();
    }
    signal(SIGPIPE, SIG_IGN); /* as the worker does */
    /* a claimed Content-Length is allocated before the body is read: keep
     * it small so that the fuzzer stays fast (the code path is the same) */
    rr_cfg.max_body = 1u << 20;
    atexit(at_exit);
    sock_addr.sun_family = AF_UNIX;
    int n = snprintf(sock_addr.sun_path + 1, sizeof sock_addr.sun_path - 1,
                     "realreach-fuzz-fcgi-%d", (int)getpid());
    sock_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
    listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sock_addr, sock_len) ||
        listen(listen_fd, 16))
        abort();
    /* the master's socket is non-blocking: FCGX_Accept_r returns -EAGAIN
     * when no connection waits, instead of blocking */
    fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
    if (FCGX_Init() != 0 || FCGX_InitRequest(&req, listen_fd, 0) != 0)
        abort();
    arena = rr_arena_new();
    (void)fuzz_db_down();
    pthread_t th;
    if (sem_init(&drain.go, 0, 0) || sem_init(&drain.done, 0, 0) ||
        pthread_create(&th, NULL, drain_main, &drain))
        abort();
    pthread_detach(th);
    track_reclaim(0); /* what FCGX_Init allocated lives on */
}

/* How often the FCGI_GET_VALUES names libfcgi answers occur in the input. */
static int get_values_names(const uint8_t *data, size_t size)
{
    static const char *const names[] = {"FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS"};
    int n = 0;
    for (size_t k = 0; k < 3; k++) {
        size_t len = strlen(names[k]);
        const uint8_t *p = data, *end = data + size;
        while ((p = memmem(p, (size_t)(end - p), names[k], len)) != NULL) {
            n++;
            p += len;
        }
    }
    return n;
}

/* ---------------------------------------------------------------- target */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (listen_fd < 0)
        setup();
    absorbed_now = 0;
    if (size > ABSORB_SIZE / 2)
        return -1; /* the malloc cap above needs inputs smaller than it */
    if (get_values_names(data, size) >= 4 && !real_abort) {
        get_values_skipped++;
        return -1; /* the libfcgi GET_VALUES overflow: see the top */
    }

    int c = socket(AF_UNIX, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (struct sockaddr *)&sock_addr, sock_len))
        abort();
    /* the whole input fits the socket buffer (-max_len is 32 KiB) */
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(c, data + off, size - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            abort();
        off += (size_t)n;
    }
    shutdown(c, SHUT_WR);

    static unsigned char outbuf[OUT_CAP];
    drain.fd = c;
    drain.buf = outbuf;
    drain.len = 0;
    drain.overflow = 0;
    sem_post(&drain.go);

    for (int i = 0; i < MAX_REQUESTS; i++) {
        int rc = FCGX_Accept_r(&req);
        if (rc < 0) /* -EAGAIN: the connection is done, no other waits */
            break;
        rr_worker_serve(&req, arena, fuzz_db_down(), 0);
    }
    /* a kept-alive connection still open after MAX_REQUESTS */
    if (req.ipcFd >= 0)
        FCGX_Free(&req, 1);

    while (sem_wait(&drain.done) != 0)
        ;
    close(c);
    track_reclaim(1);             /* libfcgi's leaks, see track_add */
    if (getenv("FUZZ_FCGI_DUMP")) /* what came back, for debugging a seed */
        fwrite(drain.buf, 1, drain.len, stderr);
    if (!drain.overflow)
        check_output(drain.buf, drain.len);
    if (absorbed_now) {
        absorbed++;
        return -1; /* the libfcgi bug: not worth keeping in the corpus */
    }
    return 0;
}
