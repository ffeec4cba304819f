/*
 * object_internal.h — the seam inside storage/ between the metadata side
 * of objects (version records, version log commits, listing, GC queue:
 * object_meta.c, list.c, gc.c) and the data path (io contexts, placement,
 * shard files, put/get pipelines: ioctx.c, placement.c, put.c, get.c,
 * sweep.c). Not included outside storage/.
 */
#ifndef TARN_STORAGE_OBJECT_INTERNAL_H
#define TARN_STORAGE_OBJECT_INTERNAL_H

#include "storage/internal.h"
#include "storage/storage.h"

#define STOR_MAX_SHARDS 16

/* Where a version's bytes are: stored inside its version record. */
typedef struct stor_layout {
    uint8_t k, m;
    uint32_t block_size;             /* bytes per shard block (multiple of 4096) */
    uint64_t size;                   /* object size */
    char data_id[33];                /* 32 hex: names the shard files */
    uint8_t disk[STOR_MAX_SHARDS];   /* shard i lives on disk disk[i] */
} stor_layout;

/* Commit a version on the commit thread: write its record (meta + layout)
 * to the key's version log, move the head, and (unversioned bucket) queue
 * the replaced version's shards for GC — all in the group-commit batch.
 * Fills out->version_id and out->mtime_ms before done(arg, rc) runs on the
 * worker draining w. rc: 0, TARN_E_NO_SUCH_BUCKET, TARN_E_IO. meta's
 * strings are copied before this returns. */
int stor__version_commit(stor *s, stor_waker *w, const char *bucket, const char *key,
                         size_t key_len, const stor_object *meta, const stor_layout *layout,
                         stor_object *out, stor_done_fn done, void *arg);

/* Read a version record with its layout (strings in a). 0,
 * TARN_E_NO_SUCH_BUCKET, TARN_E_NO_SUCH_KEY, TARN_E_IO. */
int stor__version_get(stor *s, tarn_arena *a, const char *bucket, const char *key,
                      size_t key_len, const char *version_id, stor_object *obj,
                      stor_layout *layout);

/* Readers hold a data id while they read it; GC removes the shard files
 * of a replaced version only when no reader holds it. Thread-safe. */
void stor__data_hold(stor *s, const char *data_id);
void stor__data_release(stor *s, const char *data_id);

/* Shard files. A put writes <disk>/tmp/<data_id> (header last), fdatasyncs
 * each file and fsyncs each tmp/ directory, then commits the version; the
 * commit batch also writes "d/<data_id>" (see stor__data_referenced).
 * After the commit the files are renamed to
 * <disk>/data/<id[0:2]>/<data_id>; readers look there, then in tmp/. At
 * start-up the sweep renames referenced tmp/ files and deletes the rest,
 * so a crash at any point leaves either a committed, readable version or
 * garbage that is removed. */

/* 1 if the data id belongs to a committed version (its "d/" key exists),
 * 0 if not, negative on error. Thread-safe. */
int stor__data_referenced(stor *s, const char *data_id);

/* Remove the shard files of a data id from its disks (GC, abort). */
void stor__data_remove(stor *s, const stor_layout *layout);

/* The disk directories and the deployment's k, m (from stor_open). */
int stor__disk_count(const stor *s);
const char *stor__disk_path(const stor *s, int index);
void stor__ec(const stor *s, int *k, int *m);

#endif
