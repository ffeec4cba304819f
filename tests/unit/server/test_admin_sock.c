/*
 * test_admin_sock.c — the admin socket (server/admin_sock.c) on a real
 * store in a throwaway directory: each command's answer and "exit N" line,
 * malformed and over-long lines, a silent client (the next one is answered
 * once the read times out), the socket file's mode, a live server on the
 * path refusing a second one, a stale socket file replaced, a path that is
 * not a socket refused, and the file removed at stop.
 */
#include "server/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "tests/unit/check.h"

#define N_DISKS 6

static char root[] = "/tmp/tarn-test-admin-XXXXXX";
static char disk_dirs[N_DISKS][128];
static char meta_dir[128];

static int sock_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Send req (may be NULL: nothing, a silent client) and read the answer until the server
 * closes; *ms gets how long that took. Heap string, caller frees. */
static char *ask(const char *path, const char *req, size_t req_len, uint64_t *ms)
{
    int fd = sock_connect(path);
    CHECK(fd >= 0);
    if (fd < 0)
        return strdup("");
    uint64_t t0 = tarn_mono_ns();
    if (req)
        CHECK(send(fd, req, req_len, MSG_NOSIGNAL) == (ssize_t)req_len);
    if (req && (req_len == 0 || req[req_len - 1] != '\n'))
        shutdown(fd, SHUT_WR); /* no newline: the end of input ends the line */
    tarn_buf b = {0};
    char chunk[4096];
    ssize_t r;
    while ((r = recv(fd, chunk, sizeof(chunk), 0)) > 0)
        tarn_buf_append(&b, chunk, (size_t)r);
    close(fd);
    if (ms)
        *ms = (tarn_mono_ns() - t0) / 1000000;
    tarn_buf_appends(&b, "");
    return b.data ? b.data : strdup("");
}

/* The answer ends with "exit <status>\n" and contains needle. */
static void expect(const char *path, const char *req, const char *needle, int status)
{
    char *a = ask(path, req, strlen(req), NULL);
    char tail[32];
    snprintf(tail, sizeof(tail), "exit %d\n", status);
    size_t n = strlen(a), t = strlen(tail);
    if (!strstr(a, needle) || n < t || strcmp(a + n - t, tail)) {
        fprintf(stderr, "request %.40s: want '%s' and '%s', got:\n%s\n", req, needle, tail, a);
        failures++;
    }
    free(a);
}

static void test_commands(const char *path)
{
    expect(path, "status\n", "counters since start:", 0);
    expect(path, "status\n", "read_bad", 0);
    expect(path, "disks\n", "6 of 6 disks online (erasure coding 4+2: quorum holds)", 0);
    expect(path, "  disks \r\n", "server: online since", 0);
    expect(path, "heal\n", "heal: 0 objects", 0);
    expect(path, "scrub", "scrub: 0 objects", 0); /* the end of input ends the line */
    expect(path, "bogus\n", "error: unknown command 'bogus'", 2);
    expect(path, "heal now\n", "error: unknown command", 2);
    expect(path, "\n", "error: unknown command ''", 2);
    expect(path, "\x01\xfe\n", "error: unknown command '?" "?'", 2);
    char big[1000];
    memset(big, 'a', sizeof(big) - 2);
    big[sizeof(big) - 2] = '\n';
    big[sizeof(big) - 1] = '\0';
    expect(path, big, "error: command line too long", 2);
    char edge[SRV_ADMIN_LINE_MAX + 1]; /* blanks, "disks\n": exactly the limit */
    memset(edge, ' ', SRV_ADMIN_LINE_MAX);
    memcpy(edge + SRV_ADMIN_LINE_MAX - 6, "disks\n", 6);
    edge[SRV_ADMIN_LINE_MAX] = '\0';
    CHECK(strlen(edge) == SRV_ADMIN_LINE_MAX);
    expect(path, edge, "quorum holds", 0);
}

/* A client that connects and says nothing holds the thread up for the
 * read timeout at most, and is told so. */
static void test_silent_client(const char *path)
{
    int silent = sock_connect(path);
    CHECK(silent >= 0);
    uint64_t ms = 0;
    char *a = ask(path, "disks\n", 6, &ms);
    CHECK(strstr(a, "exit 0\n") != NULL);
    CHECK(ms < SRV_ADMIN_READ_TIMEOUT_MS + 2000);
    free(a);
    char buf[256];
    ssize_t r = recv(silent, buf, sizeof(buf) - 1, 0);
    buf[r > 0 ? r : 0] = '\0';
    CHECK(strstr(buf, "error: no command line") && strstr(buf, "exit 2\n"));
    close(silent);
}

static void config_init(srv_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->n_disks = N_DISKS;
    for (int i = 0; i < N_DISKS; i++)
        cfg->disks[i] = disk_dirs[i];
    snprintf(cfg->meta_dir, sizeof(cfg->meta_dir), "%s", meta_dir);
    cfg->ec_k = 4;
    cfg->ec_m = 2;
    snprintf(cfg->admin_socket, sizeof(cfg->admin_socket), "%s/admin.sock", root);
}

static stor *store_open(void)
{
    const char *dirs[N_DISKS];
    for (int i = 0; i < N_DISKS; i++)
        dirs[i] = disk_dirs[i];
    stor_config sc = {.meta_dir = meta_dir, .disk_dirs = dirs, .n_disks = N_DISKS, .k = 4,
                      .m = 2, .heal_on_demand = 1};
    stor *s = NULL;
    int rc = stor_open(&sc, &s, NULL);
    if (rc) {
        fprintf(stderr, "stor_open: %s\n", tarn_err_name(rc));
        exit(1);
    }
    return s;
}

/* Another server on the path, a stale socket file, a file in the way. */
static void test_path_claims(const srv_config *cfg, stor *s, srv_admin *live)
{
    srv_admin *second = NULL;
    CHECK(srv__admin_start(cfg, s, &second) == -1 && !second);
    srv__admin_stop(live);
    struct stat st;
    CHECK(lstat(cfg->admin_socket, &st) != 0 && errno == ENOENT);

    /* A socket file nobody listens on: what a SIGKILLed server leaves. */
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cfg->admin_socket);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    close(fd);
    CHECK(lstat(cfg->admin_socket, &st) == 0 && S_ISSOCK(st.st_mode));
    srv_admin *again = NULL;
    CHECK(srv__admin_start(cfg, s, &again) == 0 && again);
    expect(cfg->admin_socket, "disks\n", "quorum holds", 0);
    srv__admin_stop(again);

    FILE *f = fopen(cfg->admin_socket, "w");
    CHECK(f != NULL);
    if (f)
        fclose(f);
    CHECK(srv__admin_start(cfg, s, &again) == -1);
    CHECK(lstat(cfg->admin_socket, &st) == 0 && S_ISREG(st.st_mode)); /* left alone */
    unlink(cfg->admin_socket);
}

int main(void)
{
    if (!mkdtemp(root))
        return 77;
    for (int i = 0; i < N_DISKS; i++)
        snprintf(disk_dirs[i], sizeof(disk_dirs[i]), "%s/disk%d", root, i + 1);
    snprintf(meta_dir, sizeof(meta_dir), "%s/meta", root);
    srv_config cfg;
    config_init(&cfg);
    stor *s = store_open();
    srv_admin *a = NULL;
    CHECK(srv__admin_start(&cfg, s, &a) == 0 && a);
    struct stat st;
    CHECK(lstat(cfg.admin_socket, &st) == 0 && S_ISSOCK(st.st_mode));
    CHECK((st.st_mode & 0777) == 0600);
    test_commands(cfg.admin_socket);
    test_silent_client(cfg.admin_socket);
    test_path_claims(&cfg, s, a);
    stor_close(s);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    TEST_EXIT("test_admin_sock");
}
