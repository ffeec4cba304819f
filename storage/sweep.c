/*
 * sweep.c — shard files outside the worker loops: removing a data id's
 * files (GC, called on the GC thread) and the start-up sweep of tmp/.
 *
 * A put's files live in <disk>/tmp/ until its version is committed, and are
 * renamed into <disk>/data/<id[0:2]>/ afterwards. A crash between those
 * points leaves files in tmp/: if the index references their data id
 * ("d/<id>", written in the commit batch) the put committed and the sweep
 * finishes its rename; otherwise the put never committed and the files are
 * garbage. Both are plain syscalls: this runs once at stor_open, before any
 * worker exists, and on the GC thread, never on a worker.
 */
#include "storage/object_internal.h"

#include "erasure/erasure.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int stor__is_data_id(const char *name)
{
    if (strlen(name) != 32)
        return 0;
    for (int i = 0; i < 32; i++)
        if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
            return 0;
    return 1;
}

int stor__read_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

int stor__shard_header_read(int fd, unsigned char **hbuf, erc_shard_header *h)
{
    unsigned char fixed[ERC_SHARD_FIXED_LEN];
    uint32_t clen = 0;
    *hbuf = NULL;
    if (stor__read_full(fd, fixed, sizeof(fixed), 0) ||
        erc_shard_header_peek(fixed, sizeof(fixed), NULL, &clen) || !(*hbuf = malloc(clen)))
        return -1;
    if (stor__read_full(fd, *hbuf, clen, 0) || erc_shard_header_decode(*hbuf, clen, h)) {
        free(*hbuf);
        *hbuf = NULL;
        return -1;
    }
    return 0;
}

int stor__shard_header_fits(const erc_shard_header *h, const stor_layout *l,
                            const erc_layout *el, int index)
{
    return h->k == l->k && h->m == l->m && h->index == index &&
           h->block_size == l->block_size && h->object_size == l->size &&
           h->stripes == el->stripes && h->version_id_len == 32 &&
           !memcmp(h->version_id, l->data_id, 32);
}

void stor__data_remove(stor *s, const stor_layout *layout)
{
    char rel[36], path[4096];
    stor__data_relpath(layout->data_id, rel);
    int n = layout->k + layout->m;
    for (int i = 0; i < n && i < STOR_MAX_SHARDS; i++) {
        if (layout->disk[i] >= s->n_disks)
            continue;
        /* tmp/ first: a put's rename into data/ landing between the two
         * unlinks would otherwise leave an orphan in data/. */
        const char *d = s->disk_dirs[layout->disk[i]];
        snprintf(path, sizeof(path), "%s/tmp/%s", d, layout->data_id);
        if (unlink(path) && errno != ENOENT)
            TARN_WARN("storage: cannot remove %s: %s", path, strerror(errno));
        snprintf(path, sizeof(path), "%s/data/%s", d, rel);
        if (unlink(path) && errno != ENOENT)
            TARN_WARN("storage: cannot remove %s: %s", path, strerror(errno));
    }
}

void stor__disks_sync(stor *s, uint64_t disk_mask)
{
    dev_t synced[64];
    int n_synced = 0;
    for (int i = 0; i < s->n_disks && i < 64; i++) {
        if (!(disk_mask >> i & 1))
            continue;
        int fd = open(s->disk_dirs[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st)) {
            if (fd >= 0)
                close(fd);
            continue; /* a lost disk: nothing of it to make durable */
        }
        int seen = 0;
        for (int j = 0; j < n_synced; j++)
            seen |= synced[j] == st.st_dev;
        if (!seen) {
            if (syncfs(fd))
                TARN_WARN("storage: syncfs %s: %s", s->disk_dirs[i], strerror(errno));
            synced[n_synced++] = st.st_dev;
        }
        close(fd);
    }
}

/* Move a committed tmp/ file into data/, durably enough: the rename is in
 * the file system's journal; if it is lost, the next sweep does it again. */
static void sweep_adopt(int tmpfd, int datafd, const char *id)
{
    char rel[36];
    stor__data_relpath(id, rel);
    char xx[3] = {id[0], id[1], 0};
    if (mkdirat(datafd, xx, 0755) && errno != EEXIST)
        TARN_WARN("storage: sweep: cannot create data/%s: %s", xx, strerror(errno));
    if (renameat(tmpfd, id, datafd, rel))
        TARN_WARN("storage: sweep: cannot move tmp/%s into data/: %s", id, strerror(errno));
}

static int sweep_disk(stor *s, int i, int *adopted, int *removed)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/tmp", s->disk_dirs[i]);
    int tmpfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    snprintf(path, sizeof(path), "%s/data", s->disk_dirs[i]);
    int datafd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int dupfd = tmpfd >= 0 ? dup(tmpfd) : -1;
    DIR *dir = dupfd >= 0 ? fdopendir(dupfd) : NULL;
    int rc = tmpfd >= 0 && datafd >= 0 && dir ? 0 : TARN_E_IO;
    for (struct dirent *e; !rc && (e = readdir(dir));) {
        if (e->d_name[0] == '.')
            continue;
        int ref = stor__is_data_id(e->d_name) ? stor__data_referenced(s, e->d_name) : 0;
        if (ref < 0)
            continue; /* cannot tell: leave it for the next start */
        if (ref) {
            sweep_adopt(tmpfd, datafd, e->d_name);
            ++*adopted;
        } else if (unlinkat(tmpfd, e->d_name, 0) == 0)
            ++*removed;
    }
    if (!rc && (*adopted || *removed) && (fsync(tmpfd) || fsync(datafd)))
        rc = TARN_E_IO;
    if (dir)
        closedir(dir);
    else if (dupfd >= 0)
        close(dupfd);
    if (tmpfd >= 0)
        close(tmpfd);
    if (datafd >= 0)
        close(datafd);
    return rc;
}

int stor__sweep(stor *s, const char **detail)
{
    (void)detail; /* a disk that cannot be swept is written around, not fatal */
    char path[4096];
    for (int i = 0; i < s->n_disks; i++) {
        int adopted = 0, removed = 0;
        int rc = 0;
        static const char *const sub[] = {"tmp", "data"};
        for (int j = 0; j < 2 && !rc; j++) {
            snprintf(path, sizeof(path), "%s/%s", s->disk_dirs[i], sub[j]);
            rc = stor__mkdirs(path);
        }
        if (!rc)
            rc = sweep_disk(s, i, &adopted, &removed);
        if (rc) { /* the workers find the disk unusable and write around it */
            TARN_WARN("storage: disk %s: cannot sweep tmp/: %s", s->disk_dirs[i],
                      strerror(errno));
            continue;
        }
        if (adopted || removed)
            TARN_INFO("storage: disk %s: sweep moved %d committed shard files into data/, "
                      "removed %d uncommitted ones", s->disk_dirs[i], adopted, removed);
    }
    return 0;
}
