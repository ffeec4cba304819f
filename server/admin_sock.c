/*
 * admin_sock.c — the running server's admin socket. `tarn disks`, `tarn
 * status`, `tarn heal` and `tarn scrub` ask the server here instead of
 * opening the store themselves, which a running server holds locked
 * (protocol in internal.h; the reports are admin_report.c's).
 *
 * One thread, never a worker, accepts a connection, reads its one command
 * line (bounded in length and time, so a silent client holds it up for at
 * most SRV_ADMIN_READ_TIMEOUT_MS), answers and closes. It touches no
 * worker's ring: the reports read the store's thread-safe views. A heal or
 * scrub waits for a whole pass of the healer, which may take hours, so
 * each of those gets a thread of its own (a few at most) and the admin
 * thread goes on answering disks and status. Stopping: an eventfd wakes
 * the admin thread, stor_heal_bg_interrupt wakes the pass waiters, and the
 * admin thread joins them before it ends; the store closes after that.
 */
#include "server/internal.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define PASS_SLOTS 4        /* heal/scrub requests waiting at once */
#define SEND_TIMEOUT_SEC 5  /* a client that does not read its answer */
#define DRAIN_MAX 65536     /* request bytes beyond the line, discarded */
#define BACKLOG 16

_Static_assert(sizeof(((struct sockaddr_un *)0)->sun_path) == SRV_ADMIN_SOCKET_MAX,
               "SRV_ADMIN_SOCKET_MAX is sun_path's size");

enum { CMD_DISKS, CMD_STATUS, CMD_HEAL, CMD_SCRUB };
static const char *const cmd_names[] = {"disks", "status", "heal", "scrub"};

typedef struct pass_slot {
    struct srv_admin *a;
    pthread_t thread;
    int fd;
    int scrub;
    int used;     /* a thread was started and not joined yet (admin thread only) */
    int finished; /* under a->mu */
} pass_slot;

struct srv_admin {
    const srv_config *cfg;
    stor *store;
    int listen_fd, stop_fd;
    dev_t dev;   /* the socket file bound: removed at the end only if */
    ino_t ino;   /* it is still ours */
    int64_t started;
    pthread_t thread;
    pthread_mutex_t mu;
    pass_slot pass[PASS_SLOTS];
};

/* ---- Answers ---------------------------------------------------------------- */

static void send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* the client left or does not read: nothing to do */
        p += w;
        n -= (size_t)w;
    }
}

/* Send out and the "exit N" line, then close fd. Unread request bytes are
 * discarded first: closing a Unix socket with some queued makes the
 * client's read fail (ECONNRESET) once it has read the answer. */
static void answer(int fd, tarn_buf *out, int status)
{
    static const char oom[] = "error: out of memory\nexit 2\n";
    if (tarn_buf_printf(out, "exit %d\n", status))
        send_all(fd, oom, sizeof(oom) - 1);
    else
        send_all(fd, out->data, out->len);
    tarn_buf_free(out);
    char buf[4096];
    size_t drained = 0;
    ssize_t r;
    while (drained < DRAIN_MAX && (r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        drained += (size_t)r;
    close(fd);
}

static void answer_error(int fd, const char *fmt, const char *arg)
{
    tarn_buf out = {0};
    tarn_buf_appends(&out, "error: ");
    tarn_buf_printf(&out, fmt, arg);
    tarn_buf_appends(&out, "\n");
    answer(fd, &out, 2);
}

/* ---- Heal and scrub: one thread per waiting request --------------------------- */

static void *pass_main(void *arg)
{
    pass_slot *p = arg;
    const char *cmd = cmd_names[p->scrub ? CMD_SCRUB : CMD_HEAL];
    stor_heal_stats st;
    int rc = stor_heal_bg_run(p->a->store, p->scrub, &st);
    tarn_buf out = {0};
    int status = srv__report_heal(&out, cmd, rc, &st);
    answer(p->fd, &out, status);
    pthread_mutex_lock(&p->a->mu);
    p->finished = 1;
    pthread_mutex_unlock(&p->a->mu);
    return NULL;
}

/* Join the pass threads that finished (all: every one, waiting). */
static void passes_reap(struct srv_admin *a, int all)
{
    for (int i = 0; i < PASS_SLOTS; i++) {
        pass_slot *p = &a->pass[i];
        if (!p->used)
            continue;
        pthread_mutex_lock(&a->mu);
        int finished = p->finished;
        pthread_mutex_unlock(&a->mu);
        if (finished || all) {
            pthread_join(p->thread, NULL);
            p->used = 0;
        }
    }
}

/* Hand fd to a pass thread, which answers it once the pass has run. */
static void pass_start(struct srv_admin *a, int fd, int scrub)
{
    passes_reap(a, 0);
    for (int i = 0; i < PASS_SLOTS; i++) {
        pass_slot *p = &a->pass[i];
        if (p->used)
            continue;
        *p = (pass_slot){.a = a, .fd = fd, .scrub = scrub};
        if (pthread_create(&p->thread, NULL, pass_main, p) != 0)
            break;
        p->used = 1;
        TARN_INFO("admin: %s pass asked for", cmd_names[scrub ? CMD_SCRUB : CMD_HEAL]);
        return;
    }
    answer_error(fd, "%s", "too many heal and scrub requests waiting; try again later");
}

/* ---- Requests ------------------------------------------------------------------ */

/* Read the command line into line[cap] (NUL-terminated, without its
 * newline; the end of input also ends it). 0; 1 with *why to answer; -1
 * when there is nobody to answer (client gone) or the server stops. */
static int read_line(struct srv_admin *a, int fd, char *line, size_t cap, const char **why)
{
    size_t n = 0;
    uint64_t deadline = tarn_mono_ns() + (uint64_t)SRV_ADMIN_READ_TIMEOUT_MS * 1000000ull;
    for (;;) {
        uint64_t now = tarn_mono_ns();
        if (now >= deadline) {
            *why = "no command line within the time allowed";
            return 1;
        }
        struct pollfd pf[2] = {{.fd = fd, .events = POLLIN}, {.fd = a->stop_fd, .events = POLLIN}};
        int r = poll(pf, 2, (int)((deadline - now) / 1000000) + 1);
        if ((r < 0 && errno != EINTR) || pf[1].revents)
            return -1;
        if (r <= 0)
            continue;
        ssize_t got = recv(fd, line + n, cap - 1 - n, 0);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got <= 0) {
            line[n] = '\0';
            return n > 0 ? 0 : -1;
        }
        char *nl = memchr(line + n, '\n', (size_t)got);
        n += (size_t)got;
        line[n] = '\0';
        if (nl) {
            *nl = '\0';
            return 0;
        }
        if (n >= cap - 1) {
            *why = "command line too long";
            return 1;
        }
    }
}

/* The command named by line (surrounding blanks ignored), or -1. */
static int command_parse(char *line)
{
    char *p = line + strspn(line, " \t");
    size_t n = strlen(p);
    while (n > 0 && strchr(" \t\r", p[n - 1]))
        p[--n] = '\0';
    for (size_t i = 0; i < sizeof(cmd_names) / sizeof(cmd_names[0]); i++)
        if (!strcmp(p, cmd_names[i]))
            return (int)i;
    return -1;
}

/* line as it may be shown back: printable ASCII, at most 40 bytes. */
static void printable(const char *line, char *out, size_t cap)
{
    size_t i = 0;
    for (; line[i] && i + 1 < cap && i < 40; i++)
        out[i] = line[i] >= 0x20 && line[i] < 0x7f ? line[i] : '?';
    out[i] = '\0';
}

static void serve(struct srv_admin *a, int fd)
{
    struct timeval tv = {.tv_sec = SEND_TIMEOUT_SEC};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    char line[SRV_ADMIN_LINE_MAX + 1], shown[48];
    const char *why = NULL;
    int rc = read_line(a, fd, line, sizeof(line), &why);
    if (rc < 0) {
        close(fd);
        return;
    }
    if (rc > 0) {
        answer_error(fd, "%s", why);
        return;
    }
    int cmd = command_parse(line);
    tarn_buf out = {0};
    switch (cmd) {
    case CMD_DISKS:
        answer(fd, &out, srv__report_disks(&out, a->cfg, a->store));
        return;
    case CMD_STATUS:
        answer(fd, &out, srv__report_status(&out, a->cfg, a->store, a->started));
        return;
    case CMD_HEAL:
    case CMD_SCRUB:
        pass_start(a, fd, cmd == CMD_SCRUB);
        return;
    default:
        printable(line, shown, sizeof(shown));
        answer_error(fd, "unknown command '%s' (disks, status, heal or scrub)", shown);
    }
}

static void *admin_main(void *arg)
{
    struct srv_admin *a = arg;
    for (;;) {
        struct pollfd pf[2] = {{.fd = a->listen_fd, .events = POLLIN},
                               {.fd = a->stop_fd, .events = POLLIN}};
        int r = poll(pf, 2, -1);
        if (pf[1].revents || (r < 0 && errno != EINTR))
            break;
        int fd = r > 0 ? accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC) : -1;
        if (fd >= 0)
            serve(a, fd);
        else if (r > 0 && errno != EAGAIN && errno != EINTR)
            poll(NULL, 0, 100); /* out of descriptors: do not spin */
        passes_reap(a, 0);
    }
    passes_reap(a, 1); /* srv__admin_stop has interrupted their waits */
    return NULL;
}

/* ---- The socket file -------------------------------------------------------------- */

static void socket_addr(const char *path, struct sockaddr_un *sa)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    snprintf(sa->sun_path, sizeof(sa->sun_path), "%s", path);
}

/* Make way for our socket at path: 0 when it is free (a socket file that
 * nothing answers on, left by a killed server, is removed); -1 (logged)
 * when a live server answers there or path is not a socket. */
static int path_claim(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) {
        if (errno == ENOENT)
            return 0;
        TARN_ERROR("admin socket %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        TARN_ERROR("admin socket %s: exists and is not a socket", path);
        return -1;
    }
    struct sockaddr_un sa;
    socket_addr(path, &sa);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int err = fd < 0 ? errno : connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ? errno : 0;
    if (fd >= 0)
        close(fd);
    if ((err == ECONNREFUSED || err == ENOENT) && (unlink(path) == 0 || errno == ENOENT)) {
        TARN_INFO("admin socket %s: removed the stale socket file of a stopped server", path);
        return 0;
    }
    if (err == 0 || err == EAGAIN)
        TARN_ERROR("admin socket %s: another tarn server answers there (stop it, or give "
                   "this one another admin_socket)", path);
    else
        TARN_ERROR("admin socket %s: %s", path, strerror(err ? err : errno));
    return -1;
}

/* Bind and listen. The mode is set before listen(): until then a connect
 * is refused, so nobody else connects while the file has umask's mode. */
static int listen_on(struct srv_admin *a, const char *path)
{
    struct sockaddr_un sa;
    struct stat st;
    socket_addr(path, &sa);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        TARN_ERROR("admin socket %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    if (chmod(path, 0600) != 0 || lstat(path, &st) != 0 || listen(fd, BACKLOG) != 0) {
        TARN_ERROR("admin socket %s: %s", path, strerror(errno));
        unlink(path);
        close(fd);
        return -1;
    }
    a->listen_fd = fd;
    a->dev = st.st_dev;
    a->ino = st.st_ino;
    return 0;
}

static void admin_free(struct srv_admin *a)
{
    struct stat st;
    if (a->listen_fd >= 0) {
        close(a->listen_fd);
        if (lstat(a->cfg->admin_socket, &st) == 0 && st.st_dev == a->dev && st.st_ino == a->ino)
            unlink(a->cfg->admin_socket);
    }
    if (a->stop_fd >= 0)
        close(a->stop_fd);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

int srv__admin_start(const srv_config *cfg, stor *s, srv_admin **out)
{
    *out = NULL;
    if (!cfg->admin_socket[0]) {
        TARN_WARN("no admin socket: the default path is too long for a socket address "
                  "(set admin_socket); tarn status, heal and scrub cannot reach this server");
        return 0;
    }
    struct srv_admin *a = calloc(1, sizeof(*a));
    if (!a) {
        TARN_ERROR("admin socket: out of memory");
        return -1;
    }
    a->cfg = cfg;
    a->store = s;
    a->listen_fd = -1;
    a->started = tarn_now_unix();
    pthread_mutex_init(&a->mu, NULL);
    a->stop_fd = eventfd(0, EFD_CLOEXEC);
    int rc = a->stop_fd < 0 ? -1 : path_claim(cfg->admin_socket); /* path_claim logs */
    if (!rc)
        rc = listen_on(a, cfg->admin_socket);
    if (a->stop_fd < 0 || (!rc && pthread_create(&a->thread, NULL, admin_main, a) != 0)) {
        TARN_ERROR("admin socket %s: cannot start its thread", cfg->admin_socket);
        rc = -1;
    }
    if (rc) {
        admin_free(a);
        return -1;
    }
    TARN_INFO("admin socket %s (tarn disks, status, heal, scrub)", cfg->admin_socket);
    *out = a;
    return 0;
}

void srv__admin_stop(srv_admin *a)
{
    if (!a)
        return;
    uint64_t one = 1;
    if (write(a->stop_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
        TARN_WARN("admin socket: cannot signal stop: %s", strerror(errno));
    stor_heal_bg_interrupt(a->store);
    pthread_join(a->thread, NULL);
    admin_free(a);
}
