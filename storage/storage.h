/*
 * storage.h — tarn's storage module: the metadata index in RocksDB (buckets
 * now; per-key version logs, multipart and placement later), the disk set
 * with its format files, and the commit thread that makes synced RocksDB
 * writes without blocking a worker. Prefix: stor_.
 *
 * Threading: reads (stor_bucket_get, stor_bucket_list) run on the calling
 * thread (RocksDB reads are served from its block cache). Every write goes
 * to the one commit thread, which serialises check-and-write operations,
 * group-commits them with one synced write, and hands each result back to
 * the thread that asked through that thread's stor_waker.
 */
#ifndef TARN_STORAGE_H
#define TARN_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/common.h"

typedef struct stor stor;

typedef struct stor_config {
    const char *meta_dir;          /* RocksDB directory (created) */
    const char *const *disk_dirs;  /* n_disks directories (created) */
    int n_disks;
    int k, m;                      /* erasure coding; k+m <= n_disks */
} stor_config;

/*
 * Open the store: create missing directories, open RocksDB, check or
 * write each disk's format file (deployment id + index; a disk from
 * another deployment or in the wrong position is refused with
 * TARN_E_INVAL and *detail saying which), start the commit thread.
 * Returns 0, TARN_E_INVAL (bad config / foreign disk), TARN_E_IO,
 * TARN_E_CORRUPT (unreadable system values in the index), TARN_E_NOMEM.
 * *detail (may be NULL) explains errors; it points to static or
 * thread-local storage, valid until this thread's next stor_open.
 */
int stor_open(const stor_config *cfg, stor **out, const char **detail);
/* Stop the commit thread after it drains, flush and close RocksDB. */
void stor_close(stor *s);

/* ---- Wakers: completions back to the asking thread --------------------- */

typedef struct stor_waker stor_waker;
typedef void (*stor_done_fn)(void *arg, int rc);

/* One per worker thread: an eventfd plus a locked completion list. */
int stor_waker_create(stor_waker **out);
/* Only once every operation submitted with w has completed (drained, or the
 * store closed); completions still undrained are dropped, done not called. */
void stor_waker_destroy(stor_waker *w);
/* The eventfd to watch for readability (the worker's ring reads it). */
int stor_waker_fd(const stor_waker *w);
/* Run, on the calling thread, every completion queued for this waker
 * (calls done(arg, rc)). Call after the eventfd became readable and its
 * 8-byte counter was read. Returns how many ran. */
int stor_waker_drain(stor_waker *w);

/* ---- Buckets ------------------------------------------------------------ */

typedef struct stor_bucket {
    char name[64];
    char owner[129];     /* access key of the creator */
    char location[32];   /* LocationConstraint given at create, "" if none */
    int64_t created;     /* unix seconds */
} stor_bucket;

/* Bucket-name rules of S3 general purpose buckets (3-63 chars, [a-z0-9.-],
 * begins and ends with a letter or digit, no "..", not an IP address, no
 * xn-- / sthree- prefix, no -s3alias / --ol-s3 suffix). 1 if valid. */
int stor_bucket_name_valid(const char *name);

/* Read a bucket. 0, TARN_E_NO_SUCH_BUCKET, TARN_E_IO. Thread-safe. */
int stor_bucket_get(stor *s, const char *name, stor_bucket *out);

/* All buckets in name order, heap array the caller frees with free().
 * 0, TARN_E_NOMEM, TARN_E_IO. Thread-safe. */
int stor_bucket_list(stor *s, stor_bucket **out, size_t *count);

/*
 * Create a bucket, durably. Asynchronous: done(arg, rc) runs later on the
 * thread that drains w, with rc = 0, TARN_E_BUCKET_ALREADY_OWNED (same
 * owner), TARN_E_BUCKET_ALREADY_EXISTS (other owner), TARN_E_IO.
 * The name must already be valid. Returns 0 if queued, TARN_E_NOMEM, or
 * TARN_E_SERVICE_UNAVAILABLE while closing (done is then not called);
 * a caller bug (invalid name, owner/location not NUL-terminated within
 * their arrays) gets TARN_E_INVALID_BUCKET_NAME / TARN_E_INVALID_ARGUMENT.
 * created == 0 means now.
 */
int stor_bucket_create(stor *s, stor_waker *w, const stor_bucket *b, stor_done_fn done,
                       void *arg);

/* Delete a bucket, durably. Asynchronous as above; rc = 0,
 * TARN_E_NO_SUCH_BUCKET, TARN_E_BUCKET_NOT_EMPTY (any object or
 * multipart upload in it), TARN_E_IO. */
int stor_bucket_delete(stor *s, stor_waker *w, const char *name, stor_done_fn done,
                       void *arg);

#endif
