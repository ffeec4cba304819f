/*
 * loop.c — the workers: one thread per core, each owning one io_uring and
 * one libmicrohttpd daemon in external epoll mode, all listening on one
 * port with SO_REUSEPORT (DESIGN.md "The event loop"). The ring is the
 * only place a worker waits: a one-shot poll on the daemon's epoll fd, a
 * read on the storage waker's eventfd, a read on the stop eventfd, and the
 * timeout MHD asks for. Also here: per-connection header deadlines (MHD
 * 0.9.75 only knows idle timeouts, which a slow sender keeps resetting)
 * and the graceful stop.
 */
#include "server/internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum ring_tag { TAG_DAEMON_POLL = 1, TAG_WAKER = 2, TAG_STOP = 3 };

#define DRAIN_SECONDS 10 /* graceful stop: longest wait for in-flight requests */
#define SWEEP_INTERVAL_NS 250000000ull

/* Per-connection bookkeeping (MHD's socket context). */
typedef struct srv_conn {
    struct srv_conn *prev, *next;
    struct MHD_Connection *conn;
    uint64_t waiting_since_ns; /* when it began waiting for a request's headers */
    int awaiting_headers;
} srv_conn;

struct srv_worker {
    int index;
    const srv_shared *shared;
    struct MHD_Daemon *daemon;
    int epoll_fd;
    struct io_uring ring;
    int ring_ready;
    stor_waker *waker;
    stor_ioctx *io;    /* storage's data path on this worker's ring */
    int stop_fd;
    uint64_t waker_buf, stop_buf;
    int poll_armed;
    int stopping;      /* stop requested: quiesced, draining */
    uint64_t stop_deadline_ns;
    uint64_t next_sweep_ns;
    srv_conn *conns;   /* all open connections */
    srv_request *suspended;
    pthread_t thread;
};

const srv_shared *srv__worker_shared(const srv_worker *w) { return w->shared; }
stor_waker *srv__worker_waker(const srv_worker *w) { return w->waker; }
stor_ioctx *srv__worker_ioctx(const srv_worker *w) { return w->io; }
int srv__worker_index(const srv_worker *w) { return w->index; }
int srv__worker_stopping(const srv_worker *w) { return w->stopping; }

void srv__worker_suspended_add(srv_worker *w, srv_request *r)
{
    r->prev_suspended = NULL;
    r->next_suspended = w->suspended;
    if (w->suspended)
        w->suspended->prev_suspended = r;
    w->suspended = r;
}

void srv__worker_suspended_remove(srv_worker *w, srv_request *r)
{
    if (r->prev_suspended)
        r->prev_suspended->next_suspended = r->next_suspended;
    else if (w->suspended == r)
        w->suspended = r->next_suspended;
    if (r->next_suspended)
        r->next_suspended->prev_suspended = r->prev_suspended;
    r->next_suspended = r->prev_suspended = NULL;
}

/* ---- Connection bookkeeping --------------------------------------------- */

void srv__conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode toe)
{
    srv_worker *w = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        srv_conn *c = calloc(1, sizeof(*c));
        if (!c)
            return; /* untracked: only the idle timeout guards it */
        c->conn = conn;
        c->awaiting_headers = 1;
        c->waiting_since_ns = tarn_mono_ns();
        c->next = w->conns;
        if (w->conns)
            w->conns->prev = c;
        w->conns = c;
        *socket_context = c;
        return;
    }
    srv_conn *c = *socket_context;
    if (!c)
        return;
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
    *socket_context = NULL;
}

static srv_conn *conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? (srv_conn *)ci->socket_context : NULL;
}

void srv__conn_headers_done(srv_worker *w, struct MHD_Connection *conn)
{
    (void)w;
    srv_conn *c = conn_of(conn);
    if (c)
        c->awaiting_headers = 0;
}

void srv__conn_request_done(srv_worker *w, struct MHD_Connection *conn)
{
    (void)w;
    srv_conn *c = conn_of(conn);
    if (c) {
        c->awaiting_headers = 1;
        c->waiting_since_ns = tarn_mono_ns();
    }
}

/* Shut down the socket; MHD sees the error on its next run and closes the
 * connection through its normal path (there is no API to close one). */
static void conn_cut(srv_conn *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci)
        shutdown(ci->connect_fd, SHUT_RDWR);
    c->awaiting_headers = 0;
}

/* Close connections that took too long to send a request's headers, and,
 * while stopping, every connection that is between requests. */
static void conns_sweep(srv_worker *w, uint64_t now)
{
    uint64_t limit = (uint64_t)w->shared->cfg->header_timeout * 1000000000ull;
    for (srv_conn *c = w->conns; c; c = c->next) {
        if (!c->awaiting_headers)
            continue;
        if (w->stopping || now - c->waiting_since_ns > limit) {
            TARN_DEBUG("worker %d: closing connection (%s)", w->index,
                       w->stopping ? "stopping" : "header timeout");
            conn_cut(c);
        }
    }
}

/* ---- The ring ------------------------------------------------------------ */

static int ring_read(srv_worker *w, int fd, uint64_t *buf, enum ring_tag tag)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    if (!sqe)
        return -1;
    io_uring_prep_read(sqe, fd, buf, sizeof(*buf), 0);
    io_uring_sqe_set_data64(sqe, tag);
    return 0;
}

static int ring_arm_daemon_poll(srv_worker *w)
{
    if (w->poll_armed)
        return 0;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    if (!sqe)
        return -1;
    /* One-shot, re-armed after each MHD_run: a multishot poll on an epoll
     * fd that stays readable would not fire again (DESIGN.md). */
    io_uring_prep_poll_add(sqe, w->epoll_fd, POLLIN);
    io_uring_sqe_set_data64(sqe, TAG_DAEMON_POLL);
    w->poll_armed = 1;
    return 0;
}

/* Run MHD until it has nothing it already knows of (timeout != 0). */
static void daemon_run(srv_worker *w)
{
    MHD_UNSIGNED_LONG_LONG t = 0;
    for (int i = 0; i < 64; i++) {
        MHD_run(w->daemon);
        if (MHD_get_timeout(w->daemon, &t) != MHD_YES || t != 0)
            return;
    }
}

static long long wait_timeout_ms(srv_worker *w)
{
    MHD_UNSIGNED_LONG_LONG t;
    long long ms = 250; /* at least 4 sweeps a second for header deadlines */
    if (MHD_get_timeout(w->daemon, &t) == MHD_YES && (long long)t < ms)
        ms = (long long)t;
    return ms;
}

static void worker_begin_stop(srv_worker *w)
{
    if (w->stopping)
        return;
    w->stopping = 1;
    w->stop_deadline_ns = tarn_mono_ns() + DRAIN_SECONDS * 1000000000ull;
    /* Close our listen socket: the kernel hands queued connections to the
     * other SO_REUSEPORT listeners while they still run. */
    MHD_socket lfd = MHD_quiesce_daemon(w->daemon);
    if (lfd != MHD_INVALID_SOCKET)
        close(lfd);
}

static void handle_cqe(srv_worker *w, struct io_uring_cqe *cqe)
{
    switch (io_uring_cqe_get_data64(cqe)) {
    case TAG_DAEMON_POLL:
        w->poll_armed = 0;
        break;
    case TAG_WAKER:
        stor_waker_drain(w->waker); /* completions resume their requests */
        ring_read(w, stor_waker_fd(w->waker), &w->waker_buf, TAG_WAKER);
        break;
    case TAG_STOP:
        worker_begin_stop(w);
        break;
    default:
        if (cqe->user_data >= TARN_IOREQ_MIN_PTR) { /* storage's shard I/O */
            tarn_ioreq *req = (tarn_ioreq *)(uintptr_t)cqe->user_data;
            req->done(req, cqe->res);
        }
        break;
    }
}

static int worker_drained(srv_worker *w, uint64_t now)
{
    if (!w->stopping)
        return 0;
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(w->daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
    return (di && di->num_connections == 0 && !w->suspended) || now > w->stop_deadline_ns;
}

static void worker_wait(srv_worker *w)
{
    struct io_uring_cqe *cqe;
    long long ms = wait_timeout_ms(w);
    struct __kernel_timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000};
    int rc = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
    if (rc < 0 && rc != -ETIME && rc != -EINTR)
        TARN_WARN("worker %d: io_uring wait: %s", w->index, strerror(-rc));
    unsigned head, n = 0;
    io_uring_for_each_cqe(&w->ring, head, cqe)
    {
        handle_cqe(w, cqe);
        n++;
    }
    io_uring_cq_advance(&w->ring, n);
}

static void *worker_main(void *arg)
{
    srv_worker *w = arg;
    ring_read(w, stor_waker_fd(w->waker), &w->waker_buf, TAG_WAKER);
    ring_read(w, w->stop_fd, &w->stop_buf, TAG_STOP);
    for (;;) {
        daemon_run(w);
        uint64_t now = tarn_mono_ns();
        if (now >= w->next_sweep_ns || w->stopping) {
            conns_sweep(w, now);
            w->next_sweep_ns = now + SWEEP_INTERVAL_NS;
        }
        if (worker_drained(w, now))
            break;
        ring_arm_daemon_poll(w);
        worker_wait(w);
    }
    /* MHD_stop_daemon aborts with suspended connections: resume them all. */
    while (w->suspended) {
        srv_request *r = w->suspended;
        srv_respond_error(r, TARN_E_SERVICE_UNAVAILABLE, "The server is shutting down.");
        srv_request_resume(r);
    }
    return NULL;
}

/* ---- Creating and stopping workers ---------------------------------------- */

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512];
    vsnprintf(line, sizeof(line), fmt, ap);
    size_t n = strlen(line);
    while (n && line[n - 1] == '\n')
        line[--n] = '\0';
    TARN_DEBUG("http: %s", line);
}

static int resolve_listen(const srv_config *cfg, int port, struct sockaddr_storage *ss)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICSERV | AI_PASSIVE};
    struct addrinfo *res;
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    if (getaddrinfo(cfg->listen_host, portstr, &hints, &res) != 0)
        return -1;
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static struct MHD_Daemon *daemon_start(srv_worker *w, int port, int n_workers)
{
    const srv_config *cfg = w->shared->cfg;
    struct sockaddr_storage ss;
    if (resolve_listen(cfg, port, &ss)) {
        TARN_ERROR("cannot resolve listen address %s", cfg->listen_host);
        return NULL;
    }
    unsigned limit = (unsigned)(cfg->max_connections / n_workers) + 1;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
                     MHD_USE_TURBO;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    return MHD_start_daemon(
        flags, 0, NULL, NULL, srv__http_access, w,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL, /* first, or MHD complains */
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        MHD_OPTION_CONNECTION_LIMIT, limit,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->idle_timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->conn_memory_kib * 1024,
        MHD_OPTION_URI_LOG_CALLBACK, srv__http_uri_log, w,
        MHD_OPTION_NOTIFY_COMPLETED, srv__http_completed, w,
        MHD_OPTION_NOTIFY_CONNECTION, srv__conn_notify, w,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
        /* Strict: HTTP/1.1 without Host, spaces in header names → 400. */
        MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
        MHD_OPTION_END);
}

static void worker_free(srv_worker *w)
{
    if (w->daemon)
        MHD_stop_daemon(w->daemon);
    if (w->io)
        stor_ioctx_destroy(w->io);
    if (w->ring_ready)
        io_uring_queue_exit(&w->ring);
    if (w->waker)
        stor_waker_destroy(w->waker);
    if (w->stop_fd >= 0)
        close(w->stop_fd);
}

static int worker_init(srv_worker *w, int index, const srv_shared *shared, int port,
                       int n_workers)
{
    memset(w, 0, sizeof(*w));
    w->index = index;
    w->shared = shared;
    w->stop_fd = eventfd(0, EFD_CLOEXEC);
    if (w->stop_fd < 0 || stor_waker_create(&w->waker))
        return -1;
    int rc = io_uring_queue_init(256, &w->ring, 0);
    if (rc < 0) {
        TARN_ERROR("io_uring_queue_init: %s", strerror(-rc));
        return -1;
    }
    w->ring_ready = 1;
    unsigned iowq[2] = {4, 4}; /* bound the kernel's helper threads */
    io_uring_register_iowq_max_workers(&w->ring, iowq);
    if (stor_ioctx_create(shared->store, &w->ring, w->waker, &w->io))
        return -1;
    w->daemon = daemon_start(w, port, n_workers);
    if (!w->daemon) {
        TARN_ERROR("cannot listen on %s:%d: %s", shared->cfg->listen_host, port,
                   strerror(errno));
        return -1;
    }
    w->epoll_fd = MHD_get_daemon_info(w->daemon, MHD_DAEMON_INFO_EPOLL_FD)->epoll_fd;
    return 0;
}

static int bound_port(srv_worker *w)
{
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(w->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return di ? di->port : -1;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static void print_banner(const srv_config *cfg, int port)
{
    const char *host = cfg->listen_host;
    int v6 = strchr(host, ':') != NULL;
    printf("tarn: S3 endpoint http://%s%s%s:%d, %d+%d erasure coding over %d disks, "
           "metadata in %s\n",
           v6 ? "[" : "", host, v6 ? "]" : "", port, cfg->ec_k, cfg->ec_m, cfg->n_disks,
           cfg->meta_dir);
    printf("  access key: %s\n", cfg->access_key);
    if (cfg->creds_from_data_dir)
        printf("  secret key: %s   (kept in %s/credentials)\n", cfg->secret_key, cfg->data_dir);
    printf("  try: AWS_ACCESS_KEY_ID=%s AWS_SECRET_ACCESS_KEY=<secret key> "
           "aws --endpoint-url http://%s%s%s:%d s3 mb s3://photos\n",
           cfg->access_key, v6 ? "[" : "", host, v6 ? "]" : "", port);
    if (cfg->admin_socket[0])
        printf("  admin: tarn status|disks|heal|scrub --admin-socket %s\n", cfg->admin_socket);
    printf("tarn listening on http://%s%s%s:%d\n", v6 ? "[" : "", host, v6 ? "]" : "", port);
    fflush(stdout);
}

static int wait_for_stop_signal(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    sigwait(&set, &sig);
    return sig;
}

static int workers_start(srv_worker *ws, int n, const srv_shared *shared)
{
    int port = shared->cfg->listen_port;
    for (int i = 0; i < n; i++) {
        if (worker_init(&ws[i], i, shared, port, n))
            return -1;
        if (i == 0)
            port = bound_port(&ws[0]); /* port 0: the others share the one chosen */
    }
    for (int i = 0; i < n; i++)
        if (pthread_create(&ws[i].thread, NULL, worker_main, &ws[i]))
            return -1;
    return port;
}

static void workers_stop(srv_worker *ws, int n)
{
    uint64_t one = 1;
    for (int i = 0; i < n; i++)
        if (ws[i].thread && write(ws[i].stop_fd, &one, sizeof(one)) < 0)
            TARN_WARN("worker %d: cannot signal stop", i);
    for (int i = 0; i < n; i++)
        if (ws[i].thread)
            pthread_join(ws[i].thread, NULL);
}

static int worker_count(const srv_config *cfg)
{
    if (cfg->workers > 0)
        return cfg->workers;
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

static int open_store(const srv_config *cfg, stor **out)
{
    stor_config sc = srv__stor_config(cfg);
    sc.heal_interval_sec = cfg->heal_interval_sec;
    sc.scrub_interval_sec = cfg->scrub_interval_sec;
    sc.heal_rate_mib_s = cfg->heal_rate_mib_s;
    sc.read_cache_bytes = (size_t)cfg->read_cache_mib << 20;
    sc.heal_on_demand = 1; /* tarn heal/scrub through the admin socket */
    sc.disk_watch_sec = 5;
    const char *detail = NULL;
    int rc = stor_open(&sc, out, &detail);
    if (rc)
        TARN_ERROR("cannot open storage: %s (%s)", detail ? detail : "", tarn_err_name(rc));
    return rc;
}

int srv_run(const srv_config *cfg)
{
    srv_shared shared = {.cfg = cfg};
    srv_admin *admin = NULL;
    srv_worker *ws = NULL;
    int n = worker_count(cfg), status = 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL); /* every thread inherits this */
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    if (auth_creds_create(&shared.creds) ||
        auth_creds_add(shared.creds, cfg->access_key, cfg->secret_key)) {
        TARN_ERROR("invalid credentials (access key: 3-128 of A-Z a-z 0-9 . _ -; secret: 8-128)");
        goto out;
    }
    if (open_store(cfg, &shared.store) || srv__admin_start(cfg, shared.store, &admin))
        goto out;
    ws = calloc((size_t)n, sizeof(*ws));
    for (int i = 0; ws && i < n; i++)
        ws[i].stop_fd = -1;
    int port = ws ? workers_start(ws, n, &shared) : -1;
    if (port >= 0) {
        print_banner(cfg, port);
        int sig = wait_for_stop_signal();
        TARN_INFO("signal %d: stopping (finishing in-flight requests)", sig);
        status = 0;
    }
    /* The admin thread first: it may wait on a heal pass, which the store's
     * close would otherwise have to cut short under it. */
    srv__admin_stop(admin);
    workers_stop(ws, ws ? n : 0);
out:
    /* Storage first: its commit thread may still post completions to the
     * workers' wakers, which must outlive it. */
    if (shared.store)
        stor_close(shared.store);
    for (int i = 0; ws && i < n; i++)
        worker_free(&ws[i]);
    free(ws);
    auth_creds_destroy(shared.creds);
    if (status == 0)
        TARN_INFO("stopped cleanly");
    return status;
}
