/*
 * put_ceiling.c — the PUT ceiling of issue 3's benchmark: a plain program
 * writing what a k+m erasure-coded PUT writes, with the same durability.
 *
 * T threads (= the load tool's connections), each in a closed loop for S
 * seconds. One "put" of SIZE bytes: in each of k+m folders DIR/disk1..,
 * create a new file and write ceil(SIZE / k) bytes (so SIZE × (k+m)/k in
 * all), in writes of at most 1 MiB from one pre-filled buffer; then
 * fdatasync every file and fsync every folder (the new directory entries),
 * which is when the put counts as acknowledged; then close and unlink them
 * (tarn's GC unlinks overwritten versions too). Files are written one after
 * the other, then synced one after the other.
 *
 *   --mode buffered   plain write(2) into the page cache, then fdatasync
 *   --mode direct     O_DIRECT from a 4096-aligned buffer, each file's length
 *                     rounded up to 4096 (so a 4 KiB put writes 6 × 4 KiB
 *                     instead of 6 × 1 KiB), then fdatasync
 *
 *   put_ceiling --dir D --size 4K|1M|64M --threads T --seconds S
 *               --mode buffered|direct [--k 4 --m 2]
 *
 * Prints one line (mib_s counts object bytes, SIZE per put):
 *   mode=direct size=N threads=T seconds=S ops=N ops_s=R mib_s=M p50_ms=A
 *   p99_ms=B cpu_s=C
 * Only puts finished before the deadline count. Exit 0 ok, 2 bad arguments,
 * 1 on an I/O error (printed).
 */
#include "tests/bench/load_common.h"

#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>

#define CHUNK (1u << 20)
#define ALIGN 4096
#define MAX_SHARDS 16

struct opts {
    const char *dir, *mode;
    uint64_t size;
    int threads, k, m;
    double seconds;
};

struct worker {
    const struct opts *o;
    pthread_t tid;
    int id, direct, failed;
    int dirfd[MAX_SHARDS], fd[MAX_SHARDS];
    unsigned char *buf;
    size_t shard_len, buf_len;
    double deadline;
    uint64_t ops, seq;
    struct lc_hist hist;
};

static int fail(const char *what, const char *name)
{
    fprintf(stderr, "put_ceiling: %s %s: %s\n", what, name, strerror(errno));
    return -1;
}

/* Create shard file i of this put and write its bytes. */
static int shard_write(struct worker *w, int i, const char *name)
{
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | (w->direct ? O_DIRECT : 0);
    w->fd[i] = openat(w->dirfd[i], name, flags, 0644);
    if (w->fd[i] < 0)
        return fail("open", name);
    for (size_t off = 0; off < w->shard_len;) {
        size_t n = w->shard_len - off < w->buf_len ? w->shard_len - off : w->buf_len;
        ssize_t r = write(w->fd[i], w->buf, n);
        if (r <= 0)
            return fail("write", name);
        off += (size_t)r;
    }
    return 0;
}

/* The durable point: every file's data, then every folder's new entry. */
static int shards_sync(struct worker *w, int shards)
{
    for (int i = 0; i < shards; i++)
        if (fdatasync(w->fd[i]) < 0)
            return fail("fdatasync", "shard");
    for (int i = 0; i < shards; i++)
        if (fsync(w->dirfd[i]) < 0)
            return fail("fsync", "folder");
    return 0;
}

static void shards_drop(struct worker *w, int shards, const char *name)
{
    for (int i = 0; i < shards; i++) {
        if (w->fd[i] >= 0)
            close(w->fd[i]);
        w->fd[i] = -1;
        unlinkat(w->dirfd[i], name, 0);
    }
}

static int put_once(struct worker *w)
{
    char name[64];
    int shards = w->o->k + w->o->m, rc = 0;
    snprintf(name, sizeof name, "t%d-%llu", w->id, (unsigned long long)w->seq++);
    double t0 = lc_now();
    for (int i = 0; i < shards && !rc; i++)
        rc = shard_write(w, i, name);
    if (!rc)
        rc = shards_sync(w, shards);
    double t1 = lc_now();
    shards_drop(w, shards, name);
    if (!rc && t1 <= w->deadline) {
        w->ops++;
        lc_hist_add(&w->hist, t1 - t0);
    }
    return rc;
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    while (lc_now() < w->deadline)
        if (put_once(w) < 0) {
            w->failed = 1;
            break;
        }
    return NULL;
}

/* Open (creating) DIR/disk1..k+m. */
static int folders_open(const struct opts *o, int *dirfd)
{
    if (mkdir(o->dir, 0755) < 0 && errno != EEXIST)
        return fail("mkdir", o->dir);
    for (int i = 0; i < o->k + o->m; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/disk%d", o->dir, i + 1);
        if (mkdir(path, 0755) < 0 && errno != EEXIST)
            return fail("mkdir", path);
        dirfd[i] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd[i] < 0)
            return fail("open", path);
    }
    return 0;
}

static int worker_init(struct worker *w, const struct opts *o, int id, const int *dirfd)
{
    memset(w, 0, sizeof *w);
    w->o = o;
    w->id = id;
    w->direct = strcmp(o->mode, "direct") == 0;
    w->shard_len = (size_t)((o->size + (uint64_t)o->k - 1) / (uint64_t)o->k);
    if (w->direct)
        w->shard_len = (w->shard_len + ALIGN - 1) / ALIGN * ALIGN;
    w->buf_len = w->shard_len < CHUNK ? w->shard_len : CHUNK;
    for (int i = 0; i < o->k + o->m; i++) {
        w->dirfd[i] = dirfd[i];
        w->fd[i] = -1;
    }
    if (posix_memalign((void **)&w->buf, ALIGN, w->buf_len))
        return -1;
    for (size_t i = 0; i < w->buf_len; i++)
        w->buf[i] = (unsigned char)(i * 131 + (size_t)id * 7 + 1);
    return 0;
}

static int opts_parse(int argc, char **argv, struct opts *o)
{
    const struct lc_opt table[] = {
        {"--dir", LC_STR, &o->dir},         {"--mode", LC_STR, &o->mode},
        {"--size", LC_U64, &o->size},       {"--threads", LC_INT, &o->threads},
        {"--seconds", LC_DBL, &o->seconds}, {"--k", LC_INT, &o->k},
        {"--m", LC_INT, &o->m},             {NULL, LC_STR, NULL},
    };
    if (lc_parse_args(argc, argv, table) < 0 || !o->dir || !o->size)
        return -1;
    if (strcmp(o->mode, "buffered") && strcmp(o->mode, "direct"))
        return -1;
    if (o->threads <= 0 || o->threads > 1024 || o->seconds <= 0)
        return -1;
    return o->k < 1 || o->m < 0 || o->k + o->m > MAX_SHARDS ? -1 : 0;
}

static void report(const struct opts *o, struct worker *ws, double el)
{
    struct lc_hist h = {{0}};
    uint64_t ops = 0;
    for (int t = 0; t < o->threads; t++) {
        ops += ws[t].ops;
        lc_hist_merge(&h, &ws[t].hist);
    }
    double mib = (double)ops * (double)o->size / (1024.0 * 1024.0);
    printf("mode=%s size=%llu threads=%d seconds=%.2f ops=%llu ops_s=%.1f mib_s=%.1f "
           "p50_ms=%.2f p99_ms=%.2f cpu_s=%.2f\n",
           o->mode, (unsigned long long)o->size, o->threads, el, (unsigned long long)ops,
           (double)ops / el, mib / el, lc_hist_ms(&h, 0.5), lc_hist_ms(&h, 0.99),
           lc_cpu_seconds());
}

/* Run the workers to the deadline. Number of failed workers, or -1. */
static int run(const struct opts *o, struct worker *ws, const int *dirfd)
{
    double deadline = lc_now() + o->seconds;
    int failed = 0;
    for (int t = 0; t < o->threads; t++) {
        if (worker_init(&ws[t], o, t, dirfd) < 0)
            return -1;
        ws[t].deadline = deadline;
        if (pthread_create(&ws[t].tid, NULL, worker_main, &ws[t]))
            return -1;
    }
    for (int t = 0; t < o->threads; t++) {
        pthread_join(ws[t].tid, NULL);
        failed += ws[t].failed;
        free(ws[t].buf);
    }
    return failed;
}

int main(int argc, char **argv)
{
    struct opts o = {.mode = "", .threads = 1, .k = 4, .m = 2, .seconds = 10};
    int dirfd[MAX_SHARDS];
    if (opts_parse(argc, argv, &o) < 0) {
        fprintf(stderr, "usage: put_ceiling --dir D --size N[K|M|G] --threads T --seconds S "
                        "--mode buffered|direct [--k 4 --m 2]\n");
        return 2;
    }
    if (folders_open(&o, dirfd) < 0)
        return 1;
    struct worker *ws = calloc((size_t)o.threads, sizeof *ws);
    if (!ws)
        return 1;
    double t0 = lc_now();
    int failed = run(&o, ws, dirfd);
    if (failed < 0) {
        fprintf(stderr, "put_ceiling: cannot start the workers\n");
        return 1;
    }
    report(&o, ws, lc_now() - t0 < o.seconds ? lc_now() - t0 : o.seconds);
    free(ws);
    for (int i = 0; i < o.k + o.m; i++)
        close(dirfd[i]);
    return failed ? 1 : 0;
}
