/*
 * format.c — each disk's identity file, ".tarn-format": which deployment
 * the disk belongs to and which position it holds. Shard placement names
 * disks by position, so a disk moved to another slot, or one from another
 * deployment, would silently serve wrong shards; open refuses both.
 *
 * The file is a few key = value lines (read with inih) so an operator can
 * read it with cat. "disks", "k" and "m" record the layout at the time the
 * disk was formatted; they are informational (every object version records
 * its own layout), only "deployment" and "index" are checked.
 */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#define FORMAT_VERSION 1

static int hex32(const char *s)
{
    if (strlen(s) != 32)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

static int parse_int(const char *v, int *out)
{
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < 0 || n > 1000000)
        return 0;
    *out = (int)n;
    return 1;
}

/* inih callback: 1 to go on, 0 marks the line as an error. */
static int format_field(void *user, const char *section, const char *name, const char *value)
{
    stor_format *f = user;
    if (section[0])
        return 1; /* sections are reserved for later use */
    if (strcmp(name, "deployment") == 0) {
        if (!hex32(value))
            return 0;
        memcpy(f->deployment, value, 33);
        return 1;
    }
    if (strcmp(name, "version") == 0)
        return parse_int(value, &f->version);
    if (strcmp(name, "index") == 0)
        return parse_int(value, &f->index);
    if (strcmp(name, "disks") == 0)
        return parse_int(value, &f->disks);
    if (strcmp(name, "k") == 0)
        return parse_int(value, &f->k);
    if (strcmp(name, "m") == 0)
        return parse_int(value, &f->m);
    return 1; /* a field from a newer binary */
}

int stor__format_read(const char *dir, stor_format *f)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, STOR_FORMAT_FILE);
    FILE *fp = fopen(path, "re");
    if (!fp)
        return errno == ENOENT ? TARN_E_NOT_FOUND : TARN_E_IO;
    memset(f, 0, sizeof(*f));
    f->index = -1;
    int rc = ini_parse_file(fp, format_field, f);
    fclose(fp);
    if (rc != 0 || !f->deployment[0] || f->index < 0 || f->version < 1)
        return TARN_E_CORRUPT;
    return 0;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int stor__format_write(const char *dir, const stor_format *f)
{
    char tmp[4096], path[4096], text[512];
    snprintf(tmp, sizeof(tmp), "%s/%s", dir, STOR_FORMAT_TMP);
    snprintf(path, sizeof(path), "%s/%s", dir, STOR_FORMAT_FILE);
    int n = snprintf(text, sizeof(text),
                     "# tarn disk identity; do not edit or copy to another disk\n"
                     "version = %d\ndeployment = %s\nindex = %d\ndisks = %d\nk = %d\nm = %d\n",
                     FORMAT_VERSION, f->deployment, f->index, f->disks, f->k, f->m);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return TARN_E_IO;
    /* Data durable before the rename, the rename durable before we report
     * success: after a crash the file is either absent or whole. */
    int bad = write_all(fd, text, (size_t)n) || fsync(fd);
    bad |= close(fd) != 0;
    if (bad || rename(tmp, path) != 0 || fsync_dir(dir) != 0) {
        unlink(tmp);
        return TARN_E_IO;
    }
    return 0;
}

/* 1 if dir holds nothing but what a fresh filesystem or an interrupted
 * format leaves behind, 0 if it holds anything else, -1 on error. */
static int dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d))) {
        const char *n = e->d_name;
        if (strcmp(n, ".") && strcmp(n, "..") && strcmp(n, "lost+found") &&
            strcmp(n, STOR_FORMAT_TMP))
            empty = 0;
    }
    closedir(d);
    return empty;
}

/* The same directory twice (or through a symlink) would hold two
 * positions' shards in one place and lose both when it fails. */
static int disks_distinct(stor *s, const char **detail)
{
    struct stat st[STOR_MAX_DISKS];
    for (int i = 0; i < s->n_disks; i++) {
        if (stat(s->disk_dirs[i], &st[i]) != 0) {
            *detail = stor__detail("disk %d (%s): %s", i, s->disk_dirs[i], strerror(errno));
            return TARN_E_IO;
        }
        for (int j = 0; j < i; j++) {
            if (st[i].st_dev == st[j].st_dev && st[i].st_ino == st[j].st_ino) {
                *detail = stor__detail("disk %d (%s) is the same directory as disk %d (%s)",
                                       i, s->disk_dirs[i], j, s->disk_dirs[j]);
                return TARN_E_INVAL;
            }
        }
    }
    return 0;
}

/* Inspect disk i: 0 if it is ours and in place, 1 if it is new and empty
 * (to be formatted), else an error with *detail. */
static int disk_inspect(stor *s, int i, int fresh_db, const char **detail)
{
    const char *dir = s->disk_dirs[i];
    stor_format f;
    int rc = stor__format_read(dir, &f);
    if (rc == TARN_E_NOT_FOUND) {
        int empty = dir_is_empty(dir);
        if (empty == 1)
            return 1;
        *detail = stor__detail("disk %d (%s) has no %s but is not empty; refusing to "
                               "format it", i, dir, STOR_FORMAT_FILE);
        return empty < 0 ? TARN_E_IO : TARN_E_INVAL;
    }
    if (rc) {
        *detail = stor__detail("disk %d (%s): unreadable %s", i, dir, STOR_FORMAT_FILE);
        return rc == TARN_E_IO ? TARN_E_IO : TARN_E_INVAL;
    }
    if (fresh_db) {
        /* Its data is indexed in a metadata directory we do not have.
         * Starting afresh would later sweep its shards as garbage. */
        *detail = stor__detail("disk %d (%s) belongs to deployment %s, but the metadata "
                               "index is new: restore the metadata directory", i, dir,
                               f.deployment);
        return TARN_E_INVAL;
    }
    if (strcmp(f.deployment, s->deployment) != 0) {
        *detail = stor__detail("disk %d (%s) belongs to another deployment (%s, not %s)", i,
                               dir, f.deployment, s->deployment);
        return TARN_E_INVAL;
    }
    if (f.index != i) {
        *detail = stor__detail("disk %d (%s) is disk %d of this deployment: wrong position",
                               i, dir, f.index);
        return TARN_E_INVAL;
    }
    return 0;
}

/* A disk that cannot be created or read is skipped (is_new = 2) as long
 * as no more than m are: the running server writes around up to m unusable
 * disks, so a restart must not turn that into an outage. A disk that is
 * readable but belongs elsewhere (other deployment, other position) is
 * always refused. */
static int disk_unusable(stor *s, int i, int *n_bad, unsigned char *is_new, const char **detail)
{
    is_new[i] = 2;
    if (++*n_bad > s->m) {
        *detail = stor__detail("more than %d disks unusable; disk %d (%s): %s", s->m, i,
                               s->disk_dirs[i], strerror(errno));
        return TARN_E_IO;
    }
    TARN_WARN("storage: disk %d (%s) is not usable (%s); continuing without it", i,
              s->disk_dirs[i], strerror(errno));
    return 0;
}

int stor__disks_inspect(stor *s, int fresh_db, unsigned char *is_new, const char **detail)
{
    int n_bad = 0, rc = 0;
    for (int i = 0; !rc && i < s->n_disks; i++) {
        is_new[i] = 0;
        if (stor__mkdirs(s->disk_dirs[i]))
            rc = disk_unusable(s, i, &n_bad, is_new, detail);
    }
    if (!rc)
        rc = disks_distinct(s, detail);
    for (int i = 0; !rc && i < s->n_disks; i++) {
        if (is_new[i] == 2)
            continue;
        rc = disk_inspect(s, i, fresh_db, detail);
        if (rc == TARN_E_IO)
            rc = disk_unusable(s, i, &n_bad, is_new, detail);
        else
            is_new[i] = rc == 1;
        rc = rc == 1 ? 0 : rc;
    }
    return rc;
}

int stor__disks_format(stor *s, const unsigned char *is_new, const char **detail)
{
    for (int i = 0; i < s->n_disks; i++) {
        if (is_new[i] != 1)
            continue;
        stor_format f = {.version = FORMAT_VERSION, .index = i, .disks = s->n_disks,
                         .k = s->k, .m = s->m};
        memcpy(f.deployment, s->deployment, sizeof(f.deployment));
        if (stor__format_write(s->disk_dirs[i], &f)) {
            *detail = stor__detail("cannot write %s on disk %d (%s): %s", STOR_FORMAT_FILE, i,
                                   s->disk_dirs[i], strerror(errno));
            return TARN_E_IO;
        }
        TARN_INFO("storage: formatted disk %d (%s) for deployment %s", i, s->disk_dirs[i],
                  s->deployment);
    }
    return 0;
}
