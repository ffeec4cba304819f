/*
 * testlib.c — shared by the storage unit tests (#included, not built on its
 * own): CHECK, a throwaway directory per test under /tmp, opening a store
 * on it, and running an asynchronous storage call to completion the way a
 * worker would (wait for the waker's eventfd, read it, drain).
 */
#include "storage/internal.h"

#include <ftw.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tests/unit/check.h"

#define T_DISKS 6 /* what topen uses */
#define T_MAXD 16 /* directories prepared */

typedef struct tdir {
    char root[64];
    char meta[128];
    char disk[T_MAXD][128];
    const char *disks[T_MAXD];
} tdir;

static void tdir_init(tdir *t)
{
    strcpy(t->root, "/tmp/tarn-stor-XXXXXX");
    if (!mkdtemp(t->root)) {
        perror("mkdtemp");
        exit(77); /* no scratch space: skip rather than fail */
    }
    /* A local copy: GCC's -Wrestrict cannot tell t->root from t->disk[i]. */
    char root[sizeof(t->root)];
    memcpy(root, t->root, sizeof(root));
    snprintf(t->meta, sizeof(t->meta), "%s/meta", root);
    for (int i = 0; i < T_MAXD; i++) {
        snprintf(t->disk[i], sizeof(t->disk[i]), "%s/disk%d", root, i);
        t->disks[i] = t->disk[i];
    }
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st, (void)flag, (void)f;
    return remove(path);
}

static void rm_rf(const char *path) { nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static void tdir_free(tdir *t) { rm_rf(t->root); }

static stor_config tconfig(tdir *t)
{
    stor_config c = {.meta_dir = t->meta, .disk_dirs = t->disks, .n_disks = T_DISKS,
                     .k = 4, .m = 2};
    return c;
}

static stor *topen(tdir *t)
{
    stor_config c = tconfig(t);
    stor *s = NULL;
    const char *detail = NULL;
    int rc = stor_open(&c, &s, &detail);
    if (rc) {
        fprintf(stderr, "stor_open: %s: %s\n", tarn_err_name(rc), detail ? detail : "-");
        exit(1);
    }
    return s;
}

/* ---- Waiting for completions like a worker ---------------------------- */

typedef struct tdone {
    int called;
    int rc;
    pthread_t thread;
} tdone;

static void tdone_fn(void *arg, int rc)
{
    tdone *d = arg;
    d->called++;
    d->rc = rc;
    d->thread = pthread_self();
}

/* Block on the eventfd until *called, draining as a worker would. */
static void twait(stor_waker *w, const int *called, int want)
{
    while (*called < want) {
        struct pollfd p = {.fd = stor_waker_fd(w), .events = POLLIN};
        if (poll(&p, 1, 10000) != 1) {
            fprintf(stderr, "timed out waiting for a completion\n");
            exit(1);
        }
        uint64_t v;
        if (read(stor_waker_fd(w), &v, sizeof(v)) == sizeof(v))
            stor_waker_drain(w);
    }
}

static int tcreate(stor *s, stor_waker *w, const char *name, const char *owner)
{
    stor_bucket b = {.created = 0};
    snprintf(b.name, sizeof(b.name), "%s", name);
    snprintf(b.owner, sizeof(b.owner), "%s", owner);
    tdone d = {0};
    int rc = stor_bucket_create(s, w, &b, tdone_fn, &d);
    if (rc)
        return rc;
    twait(w, &d.called, 1);
    return d.rc;
}

static int tdelete(stor *s, stor_waker *w, const char *name)
{
    tdone d = {0};
    int rc = stor_bucket_delete(s, w, name, tdone_fn, &d);
    if (rc)
        return rc;
    twait(w, &d.called, 1);
    return d.rc;
}
