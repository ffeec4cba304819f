/*
 * admin.c — `tarn disks`, `tarn status`, `tarn heal`, `tarn scrub`, `tarn
 * rebuild-meta`. The first four ask a running server through its admin
 * socket (admin_sock.c) and print its answer: the server holds the store
 * locked, and only it knows how its data path sees the disks. When nothing
 * answers there (no socket file, or nobody listening), or with --offline,
 * disks inspects the folders, heal and scrub open the store themselves
 * (so the server must be stopped), and status fails. rebuild-meta always
 * works on the stopped server's folders. They take the flags of `tarn
 * server` through srv_config_load. docs/durability.md.
 */

#include <inttypes.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/common.h"
#include "server/internal.h"
#include "server/server.h"
#include "storage/storage.h"

#define ANSWER_MAX (1u << 20)  /* a server's answer is a few KiB */
#define ANSWER_TIMEOUT_SEC 60  /* disks and status; heal and scrub wait for their pass */

int srv_admin_is_command(const char *name)
{
    return !strcmp(name, "heal") || !strcmp(name, "scrub") || !strcmp(name, "disks") ||
           !strcmp(name, "status") || !strcmp(name, "rebuild-meta");
}

static void usage(FILE *out, const char *cmd)
{
    if (!strcmp(cmd, "rebuild-meta"))
        fprintf(out, "usage: tarn rebuild-meta --data DIR (or --disks D1,... --meta DIR) [--force]\n"
                     "  With the server stopped: rebuild the metadata index (buckets, keys,\n"
                     "  versions, metadata, ETags) from the shard headers on the disks;\n"
                     "  multipart objects from the manifest their completion wrote. Parts of\n"
                     "  uploads never completed are counted and left on disk. Refuses if the\n"
                     "  meta folder exists and is not empty; --force moves it aside to\n"
                     "  <meta>.old-<unix time> first. Buckets are owned by the configured\n"
                     "  access key. Exit 0 when every object found was rebuilt (parts of\n"
                     "  uncompleted uploads do not count), 1 when some were skipped, 2 on errors.\n");
    else if (!strcmp(cmd, "disks"))
        fprintf(out, "usage: tarn disks [--data DIR (or --disks D1,... --meta DIR)] [--admin-socket PATH]\n"
                     "                  [--offline]\n"
                     "  Print every disk as online or offline and why: a running server's\n"
                     "  view (its data path's and a check of each folder), or with no server\n"
                     "  (or --offline) the folder check alone. Exit 0 while the quorum holds\n"
                     "  (at most m offline), 1 if not, 2 on errors.\n");
    else if (!strcmp(cmd, "status"))
        fprintf(out, "usage: tarn status [--data DIR (or --disks D1,... --meta DIR)] [--admin-socket PATH]\n"
                     "  Ask the running server for its disks (as tarn disks) and its counters\n"
                     "  since start: bad blocks reads decoded around, shards puts dropped,\n"
                     "  shards healed, unrecoverable sets, bytes scrubbed, heal and scrub passes.\n"
                     "  Exit 0 while the quorum holds, 1 if not, 2 when no server answers.\n");
    else
        fprintf(out,
                "usage: tarn %s [--data DIR (or --disks D1,... --meta DIR, --ec K+M)]\n"
                "                 [--admin-socket PATH] [--offline]\n"
                "  Check every shard of every object version and rebuild missing or\n"
                "  damaged shard files from the others: heal checks the headers (missing\n"
                "  shards, a replaced disk), scrub also every block's checksum (bitrot).\n"
                "  A running server does it (a pass of its healer, at heal_rate_mib_s)\n"
                "  and this waits for the pass. With no server answering on its admin\n"
                "  socket, or with --offline, the command opens the store itself (the\n"
                "  server must be stopped) and verifies every block either way.\n"
                "  Exit 0 when everything is whole or was rebuilt, 1 when something could\n"
                "  not be, 2 on errors.\n",
                cmd);
}

/* Print a report's lines, those starting with "error: " to stderr. */
static void print_lines(const char *p, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t len = nl ? (size_t)(nl - p) + 1 : n;
        int error = len >= 7 && !strncmp(p, "error: ", 7);
        if (error)
            fflush(stdout); /* keep the order of the lines */
        fwrite(p, 1, len, error ? stderr : stdout);
        if (!nl)
            fputc('\n', error ? stderr : stdout);
        p += len;
        n -= len;
    }
    fflush(stdout);
}

/* Print an offline report (b) and return its status. */
static int print_report(tarn_buf *b, int status)
{
    print_lines(b->data, b->len);
    tarn_buf_free(b);
    return status;
}

static int run_disks(const srv_config *cfg)
{
    tarn_buf b = {0};
    return print_report(&b, srv__report_disks(&b, cfg, NULL));
}

static int run_heal(const srv_config *cfg, const char *cmd)
{
    stor_config sc = srv__stor_config(cfg);
    const char *detail = NULL;
    stor *s = NULL;
    int rc = stor_open(&sc, &s, &detail);
    if (rc) {
        fprintf(stderr, "tarn %s: cannot open storage: %s (%s) — is a server running on it? "
                        "Working offline needs it stopped\n",
                cmd, detail ? detail : "", tarn_err_name(rc));
        return 2;
    }
    stor_heal_stats st;
    rc = stor_heal(s, &st);
    stor_close(s);
    tarn_buf b = {0};
    return print_report(&b, srv__report_heal(&b, cmd, rc, &st));
}

/* ---- Asking the running server ------------------------------------------------ */

enum { ASK_ANSWERED, ASK_NO_SERVER, ASK_FAILED };

/* The status in the answer's last line, "exit N", which is cut off; -1
 * when there is none (the server went away mid-answer). */
static int answer_status(tarn_buf *b)
{
    size_t end = b->len;
    while (end > 0 && b->data[end - 1] == '\n')
        end--;
    size_t start = end;
    while (start > 0 && b->data[start - 1] != '\n')
        start--;
    int status = -1, used = 0;
    if (end > start && sscanf(b->data + start, "exit %d%n", &status, &used) == 1 &&
        start + (size_t)used == end) {
        b->len = start;
        return status;
    }
    return -1;
}

/* Read everything the server sends until it closes (a reset after the
 * answer, as when it closed with bytes of ours unread, ends it too). */
static int answer_read(int fd, tarn_buf *b)
{
    char chunk[4096];
    for (;;) {
        ssize_t r = recv(fd, chunk, sizeof(chunk), 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 || (r < 0 && errno == ECONNRESET && b->len > 0))
            return 0;
        if (r < 0)
            return errno;
        if (b->len + (size_t)r > ANSWER_MAX || tarn_buf_append(b, chunk, (size_t)r))
            return ENOMEM;
    }
}

static int ask_connect(const char *path, const char *cmd)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return -err;
    }
    if (!strcmp(cmd, "disks") || !strcmp(cmd, "status")) {
        struct timeval tv = {.tv_sec = ANSWER_TIMEOUT_SEC};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    }
    return fd;
}

/* Send cmd to the server on path and print its answer; *status gets the
 * exit status it gave. ASK_NO_SERVER when nothing listens there. */
static int ask_server(const char *path, const char *cmd, int *status)
{
    *status = 2;
    if (!path[0])
        return ASK_NO_SERVER;
    int fd = ask_connect(path, cmd);
    if (fd == -ENOENT || fd == -ECONNREFUSED)
        return ASK_NO_SERVER;
    if (fd < 0) {
        fprintf(stderr, "tarn %s: cannot reach the server on %s: %s\n", cmd, path, strerror(-fd));
        return ASK_FAILED;
    }
    char line[64];
    int n = snprintf(line, sizeof(line), "%s\n", cmd);
    tarn_buf b = {0};
    int err = send(fd, line, (size_t)n, MSG_NOSIGNAL) == n ? answer_read(fd, &b) : errno;
    close(fd);
    int got = err ? -1 : answer_status(&b);
    print_lines(b.data, b.len);
    tarn_buf_free(&b);
    if (got < 0)
        fprintf(stderr, "tarn %s: no complete answer from the server on %s%s%s\n", cmd, path,
                err ? ": " : "", err ? strerror(err) : "");
    *status = got < 0 ? 2 : got;
    return got < 0 ? ASK_FAILED : ASK_ANSWERED;
}

/* disks, status, heal, scrub: the running server's answer, or offline. */
static int run_command(const srv_config *cfg, const char *cmd, int offline)
{
    int status = 2;
    if (!offline && ask_server(cfg->admin_socket, cmd, &status) != ASK_NO_SERVER)
        return status;
    if (!strcmp(cmd, "status") && offline) {
        fprintf(stderr, "tarn status: asks the running server; --offline does not apply\n");
        return 2;
    }
    if (!strcmp(cmd, "status")) {
        fprintf(stderr, "tarn status: no server is running (nothing answers on %s)\n",
                cfg->admin_socket[0] ? cfg->admin_socket : "its admin socket: none configured");
        return 2;
    }
    if (!offline)
        fprintf(stderr, "tarn %s: no server answers on %s: working on the folders directly\n",
                cmd, cfg->admin_socket[0] ? cfg->admin_socket : "an admin socket");
    return !strcmp(cmd, "disks") ? run_disks(cfg) : run_heal(cfg, cmd);
}

static int run_rebuild(const srv_config *cfg, int force)
{
    struct stat sb;
    if (stat(cfg->meta_dir, &sb) == 0 && force) {
        char old[sizeof(cfg->meta_dir) + 32];
        snprintf(old, sizeof(old), "%s.old-%lld", cfg->meta_dir, (long long)time(NULL));
        if (rename(cfg->meta_dir, old)) {
            fprintf(stderr, "tarn rebuild-meta: cannot move %s aside: %s\n", cfg->meta_dir,
                    strerror(errno));
            return 2;
        }
        printf("rebuild-meta: moved %s to %s\n", cfg->meta_dir, old);
    }
    stor_config sc = srv__stor_config(cfg);
    stor_rebuild_stats st;
    const char *detail = NULL;
    int rc = stor_rebuild_meta(&sc, cfg->access_key, &st, &detail);
    if (rc) {
        fprintf(stderr, "tarn rebuild-meta: %s (%s)%s\n", detail ? detail : "",
                tarn_err_name(rc),
                detail && strstr(detail, "not empty") ? " — --force moves it aside" : "");
        return 2;
    }
    printf("rebuild-meta: %" PRIu64 " shard files read (%" PRIu64 " usable, %" PRIu64
           " skipped); %" PRIu64 " data ids: %" PRIu64 " buckets, %" PRIu64
           " objects rebuilt (%" PRIu64 " multipart, from manifests), %" PRIu64
           " older versions queued for GC, %" PRIu64 " with fewer than k shards, %" PRIu64
           " parts of uncompleted uploads, not rebuilt\n",
           st.files, st.shards, st.bad, st.sets, st.buckets, st.objects, st.multipart,
           st.superseded, st.too_few, st.parts_uncompleted);
    /* Parts of uploads never completed are no lost object: their upload
     * record is gone with the index, so no client can complete them. */
    return st.bad || st.too_few ? 1 : 0;
}

int srv_admin_main(int argc, char **argv)
{
    const char *cmd = argv[0];
    int force = 0, offline = 0;
    for (int i = 1; i < argc; i++) {
        /* Our own flags, not config ones: take them out of argv. */
        int *own = !strcmp(cmd, "rebuild-meta") && !strcmp(argv[i], "--force") ? &force
                   : strcmp(cmd, "rebuild-meta") && !strcmp(argv[i], "--offline") ? &offline
                                                                                  : NULL;
        if (own) {
            *own = 1;
            memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
            argc--;
            i--;
            continue;
        }
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout, cmd);
            return 0;
        }
    }
    srv_config cfg;
    const char *err = NULL;
    /* Only rebuild-meta needs the access key (the owner of the buckets it
     * recreates); the others must not generate credentials as a side effect. */
    int loaded = !strcmp(cmd, "rebuild-meta") ? srv_config_load(&cfg, argc, argv, &err)
                                              : srv_config_load_storage(&cfg, argc, argv, &err);
    if (loaded) {
        fprintf(stderr, "%s\n", err);
        usage(stderr, cmd);
        srv_config_free(&cfg);
        return 2;
    }
    tarn_log_level = cfg.log_level;
    int status = !strcmp(cmd, "rebuild-meta") ? run_rebuild(&cfg, force)
                                              : run_command(&cfg, cmd, offline);
    srv_config_free(&cfg);
    return status;
}
