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
#include <sys/types.h>

#include "../common/common.h"

typedef struct stor stor;

typedef struct stor_config {
    const char *meta_dir;          /* RocksDB directory (created) */
    const char *const *disk_dirs;  /* n_disks directories (created) */
    int n_disks;
    int k, m;                      /* erasure coding; k+m <= n_disks */
    /* Multipart uploads not completed or aborted within this many seconds
     * are aborted by the GC thread (stor_multipart_expire); 0: 7 days. */
    int64_t multipart_expiry_sec;
    /* The background healer (heal_bg.c). heal_interval_sec: every this
     * many seconds it walks every version and rebuilds missing shards, and
     * it heals the objects degraded reads and puts noted soon after; 0: no
     * healer (the offline commands and tests leave it so). scrub_interval_sec:
     * every this many seconds it verifies every block and heals bad ones;
     * 0: no scrub. heal_rate_mib_s: rebuilt (heal) or verified (scrub)
     * bytes per second at most; 0: 64. heal_on_demand: start the healer
     * thread even when both intervals are 0, so stor_heal_bg_run can ask it
     * for passes (the server sets it; the offline commands do not). */
    int64_t heal_interval_sec;
    int64_t scrub_interval_sec;
    int heal_rate_mib_s;
    int heal_on_demand;
    /* disk_watch_sec: every this many seconds a thread checks every disk
     * folder (as stor_disks_status does) and reports one that became
     * unusable as offline even when no request touches it (and online
     * again once it is back, if the watch took it offline); 0: no watch
     * (the disks' state then changes only on I/O). The server sets it. */
    int disk_watch_sec;
    /* Bytes of memory for the read cache of small objects (cache.c,
     * docs/storage-io.md "The read cache"); 0: no cache. */
    size_t read_cache_bytes;
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

/* ---- Objects (issue 3) ---------------------------------------------------
 *
 * The data path runs on the worker's io_uring: every shard read, write and
 * fdatasync is an SQE whose user_data is a tarn_ioreq (common.h) that the
 * worker's loop completes. Metadata commits go through the commit thread
 * and come back through the waker. All callbacks below run on the worker
 * thread that owns the stor_ioctx.
 */

struct io_uring;
typedef struct stor_ioctx stor_ioctx;

/* One per worker: its ring (owned by the caller, must outlive the ctx)
 * and its waker. Not thread-safe: used only by that worker. */
int stor_ioctx_create(stor *s, struct io_uring *ring, stor_waker *w, stor_ioctx **out);
/* Only when no put or get created on it is still open. */
void stor_ioctx_destroy(stor_ioctx *io);

typedef struct stor_meta_pair {
    const char *name;  /* lower-case, without the "x-amz-meta-" prefix */
    const char *value;
} stor_meta_pair;

/* S3 checksum algorithms, in x-amz-checksum-* order. */
enum stor_checksum_alg {
    STOR_CK_CRC32, STOR_CK_CRC32C, STOR_CK_CRC64NVME, STOR_CK_SHA1, STOR_CK_SHA256,
    STOR_CK__COUNT
};

/* One version of an object as the version log holds it. Strings are in
 * the arena of whoever filled it (stor_object_get's arena, or the
 * server's for stor_put_finish); NULL or "" means absent. */
typedef struct stor_object {
    char version_id[33];     /* set by storage at commit; "null" when unversioned */
    uint64_t size;
    int64_t mtime_ms;        /* set by storage at commit (unix milliseconds) */
    char etag[80];           /* without quotes: 32 hex, or 32 hex "-N" */
    const char *content_type, *content_encoding, *content_disposition,
        *content_language, *cache_control, *expires;
    const stor_meta_pair *meta; /* user metadata */
    size_t n_meta;
    const char *checksum[STOR_CK__COUNT]; /* base64 values as S3 shows them */
    int delete_marker;
} stor_object;

/* Read the newest version (version_id NULL) or a given one. 0,
 * TARN_E_NO_SUCH_BUCKET, TARN_E_NO_SUCH_KEY (also when the newest is a
 * delete marker), TARN_E_IO. Thread-safe; strings in a. */
int stor_object_get(stor *s, tarn_arena *a, const char *bucket, const char *key, size_t key_len,
                    const char *version_id, stor_object *out);

/* Delete (unversioned bucket: remove the key; its shards are collected
 * once no reader holds them). Asynchronous through w like buckets; rc 0
 * also when the key did not exist; TARN_E_NO_SUCH_BUCKET. */
int stor_object_delete(stor *s, stor_waker *w, const char *bucket, const char *key,
                       size_t key_len, stor_done_fn done, void *arg);

/* ---- The write pipeline ---- */

typedef struct stor_put stor_put;

/* Start writing an object of exactly size bytes. Picks k+m disks, opens
 * the shard files (uncommitted). 0, TARN_E_NO_SUCH_BUCKET,
 * TARN_E_SERVICE_UNAVAILABLE (more than m disks unusable), TARN_E_IO.
 * Memory: a few stripes, whatever the size. */
int stor_put_begin(stor_ioctx *io, const char *bucket, const char *key, size_t key_len,
                   uint64_t size, stor_put **out);
/* Offer body bytes. Returns how many were taken (0..n). Fewer than n: the
 * stripe buffers are full; writable(arg) is called once when more can be
 * taken. Bytes beyond the declared size are refused (TARN_E_INVALID_ARGUMENT
 * through finish). Never blocks. */
size_t stor_put_write(stor_put *p, const void *data, size_t n, void (*writable)(void *arg),
                      void *arg);
/* All bytes given (else TARN_E_INCOMPLETE_BODY): write the last stripe, make
 * every shard durable, then commit meta (size, version id and mtime are
 * filled by storage) as the key's newest version in one atomic batch, and
 * call done(arg, rc): 0, TARN_E_SERVICE_UNAVAILABLE (quorum lost),
 * TARN_E_IO, TARN_E_NO_SUCH_BUCKET (deleted meanwhile). Nothing is visible
 * before the commit. meta's strings are copied before finish returns. */
int stor_put_finish(stor_put *p, const stor_object *meta, stor_done_fn done, void *arg);
/* After done: the committed version (version id, mtime). */
const stor_object *stor_put_result(const stor_put *p);
/* Abort (any time before done runs) or release (after). Aborting removes
 * the shard files. */
void stor_put_free(stor_put *p);

/* ---- The read pipeline ---- */

typedef struct stor_get stor_get;

/* Open the newest (or a given) version for reading bytes [first, last]
 * (inclusive; the caller has checked the range against obj->size). The
 * version's shards are held until stor_get_close, so GC cannot remove them
 * under a reader. obj is filled as by stor_object_get. 0 or
 * TARN_E_NO_SUCH_BUCKET, TARN_E_NO_SUCH_KEY, TARN_E_IO. */
int stor_get_open(stor_ioctx *io, tarn_arena *a, const char *bucket, const char *key,
                  size_t key_len, const char *version_id, stor_object *obj, stor_get **out);
int stor_get_range(stor_get *g, uint64_t first, uint64_t last);
/* Copy up to n of the next bytes into buf. Returns the count (> 0); 0 when
 * nothing is ready yet (ready(arg) is called once when it is); or
 * TARN_E_IO / TARN_E_CORRUPT when a stripe cannot be read or decoded even
 * with parity. Reads ahead a few stripes; verifies every block's checksum
 * and decodes around missing or bad shards. Returns 0 never after the end:
 * the caller stops at the range's length. */
ssize_t stor_get_read(stor_get *g, void *buf, size_t n, void (*ready)(void *arg), void *arg);
void stor_get_close(stor_get *g);

/* ---- Listing ---- */

typedef struct stor_list_params {
    const char *prefix;      /* "" or NULL: all */
    const char *delimiter;   /* "" or NULL: none */
    const char *after;       /* exclusive start (start-after, marker or a
                                continuation token's key); NULL: from the start */
    size_t after_len;
    int max_keys;            /* 0..1000; 0 returns nothing, truncated if any */
} stor_list_params;

typedef struct stor_list_entry {
    const char *key;         /* the key, or the common prefix (arena) */
    size_t key_len;
    int is_prefix;           /* 1: a CommonPrefixes entry */
    uint64_t size;
    int64_t mtime_ms;
    const char *etag;        /* without quotes */
} stor_list_entry;

typedef struct stor_list_result {
    stor_list_entry *entries; /* keys and prefixes merged in key order */
    size_t n;
    int truncated;
    const char *next_after;   /* last key or prefix returned, to resume */
    size_t next_after_len;
} stor_list_result;

/* List the newest non-deleted versions in S3 order (UTF-8 byte order).
 * Keys and common prefixes together count against max_keys, as in S3.
 * 0, TARN_E_NO_SUCH_BUCKET, TARN_E_IO. Thread-safe; results in a. */
int stor_object_list(stor *s, tarn_arena *a, const char *bucket, const stor_list_params *p,
                     stor_list_result *out);

/* ---- Multipart uploads (issue 4; docs/multipart.md) ----------------------
 *
 * An upload ("u/") holds what the object will carry (content headers, user
 * metadata, the checksum algorithm and type); each part is its own
 * erasure-coded shard set written by the put pipeline and committed as a
 * part record ("p/"). Complete stitches the parts into one version without
 * copying a byte: the version's layout is the list of the parts' layouts.
 * Reads (get, list) are thread-safe and run on the caller's thread; writes
 * are asynchronous through the commit thread like stor_object_delete.
 */

#define STOR_MP_MAX_PARTS 10000          /* S3: part numbers 1..10000 */
#define STOR_MP_MIN_PART (5ull << 20)    /* S3: every part but the last >= 5 MiB */
#define STOR_UPLOAD_ID_LEN 32            /* ours: 24 random bytes, base64url */

typedef struct stor_upload {
    char upload_id[STOR_UPLOAD_ID_LEN + 1];
    const char *key;          /* listing results only (arena) */
    size_t key_len;
    int64_t initiated_ms;     /* set by storage at create */
    char owner[129];          /* access key of the initiator */
    int checksum_alg;         /* enum stor_checksum_alg, or -1 for none */
    int checksum_full;        /* 1: FULL_OBJECT, 0: COMPOSITE */
    stor_object meta;         /* content headers and user metadata only */
} stor_upload;

/* Start an upload of bucket/key. u's owner, checksum and meta are stored
 * (copied before return); storage picks the upload id and writes it to
 * u_out->upload_id before returning 0 (u_out may be u). done(arg, rc):
 * 0, TARN_E_NO_SUCH_BUCKET, TARN_E_IO. Returns 0 if queued, TARN_E_NOMEM,
 * TARN_E_SERVICE_UNAVAILABLE while closing, TARN_E_KEY_TOO_LONG /
 * TARN_E_INVALID_ARGUMENT for a key storage cannot hold. */
int stor_multipart_create(stor *s, stor_waker *w, const char *bucket, const char *key,
                          size_t key_len, const stor_upload *u, stor_upload *u_out,
                          stor_done_fn done, void *arg);

/* Read an upload (strings in a). 0, TARN_E_NO_SUCH_UPLOAD (also for a
 * malformed upload id), TARN_E_NO_SUCH_BUCKET, TARN_E_IO. */
int stor_multipart_get(stor *s, tarn_arena *a, const char *bucket, const char *key,
                       size_t key_len, const char *upload_id, stor_upload *out);

/* Start writing part `part` (1..STOR_MP_MAX_PARTS, else
 * TARN_E_INVALID_ARGUMENT) of an upload: a put (stor_put_write,
 * stor_put_finish with meta's etag and checksums, stor_put_free) whose
 * commit stores the part instead of a version; uploading a part number
 * again replaces it (the old data goes to GC). Errors as stor_put_begin
 * plus TARN_E_NO_SUCH_UPLOAD (here, or through done when the upload was
 * completed or aborted meanwhile). */
int stor_part_begin(stor_ioctx *io, const char *bucket, const char *key, size_t key_len,
                    const char *upload_id, uint32_t part, uint64_t size, stor_put **out);

typedef struct stor_part {
    uint32_t number;
    uint64_t size;
    int64_t mtime_ms;
    char etag[80];                         /* 32 hex, no quotes */
    const char *checksum[STOR_CK__COUNT];  /* base64 as sent back, arena */
    char data_id[33];                      /* which upload of this number */
} stor_part;

typedef struct stor_part_list {
    stor_part *parts;         /* arena */
    size_t n;
    int truncated;            /* more parts after the last one returned */
} stor_part_list;

/* The parts of an upload with numbers > after, ascending, at most max
 * (0..STOR_MP_MAX_PARTS). 0, TARN_E_NO_SUCH_UPLOAD, TARN_E_NO_SUCH_BUCKET,
 * TARN_E_IO. Thread-safe; results in a. */
int stor_multipart_parts(stor *s, tarn_arena *a, const char *bucket, const char *key,
                         size_t key_len, const char *upload_id, uint32_t after, int max,
                         stor_part_list *out);

/* Complete an upload with parts[0..n) (ascending numbers, each naming the
 * data id the caller saw in stor_multipart_parts; S3's checks on ETags,
 * order and sizes are the caller's). meta is the version's metadata
 * (etag "<hex>-N", checksums, content headers; copied before return);
 * size is the parts' sum. Reads the part records once here (no disk I/O),
 * then writes the version record as the upload's manifest (a small shard
 * set through io's ring, like a put; docs/multipart.md), and once it is
 * durable one batch writes the version and head, moves every part's data
 * to it, deletes the upload and all its part records, and queues the data
 * of parts not named and of a replaced version for GC. Returns
 * TARN_E_INVALID_PART (a part missing or re-uploaded meanwhile),
 * TARN_E_INVALID_PART_ORDER, TARN_E_NO_SUCH_UPLOAD, TARN_E_NO_SUCH_BUCKET,
 * TARN_E_SERVICE_UNAVAILABLE (more than m disks unusable), TARN_E_IO,
 * TARN_E_NOMEM, or 0 if under way; then done(arg, rc) on io's worker: 0
 * (out->version_id, mtime_ms filled), TARN_E_NO_SUCH_UPLOAD,
 * TARN_E_INVALID_PART, TARN_E_NO_SUCH_BUCKET, TARN_E_SERVICE_UNAVAILABLE
 * (the manifest lost its write quorum), TARN_E_IO. On any error nothing
 * changed: the upload and its parts are as they were. */
int stor_multipart_complete(stor_ioctx *io, const char *bucket, const char *key,
                            size_t key_len, const char *upload_id, const stor_part *parts,
                            size_t n, const stor_object *meta, stor_object *out,
                            stor_done_fn done, void *arg);

/* Abort: delete the upload and its parts and queue their data for GC.
 * done(arg, rc): 0, TARN_E_NO_SUCH_UPLOAD, TARN_E_IO. */
int stor_multipart_abort(stor *s, stor_waker *w, const char *bucket, const char *key,
                         size_t key_len, const char *upload_id, stor_done_fn done, void *arg);

/* Abort, synchronously, every upload initiated before older_than_unix
 * (the GC thread calls it; never on a worker). Returns how many were
 * aborted, or TARN_E_IO. */
int stor_multipart_expire(stor *s, int64_t older_than_unix);

typedef struct stor_upload_list_params {
    const char *prefix, *delimiter;    /* "" or NULL: none */
    const char *key_marker;            /* NULL: from the start */
    size_t key_marker_len;
    const char *upload_id_marker;      /* only with key_marker */
    int max_uploads;                   /* 0..1000 */
} stor_upload_list_params;

typedef struct stor_upload_list {
    stor_upload *uploads;     /* key, key_len, upload_id, initiated_ms, owner (arena) */
    size_t n;
    const char **prefixes;    /* CommonPrefixes (arena) */
    size_t n_prefixes;
    int truncated;
    const char *next_key;     /* NextKeyMarker / NextUploadIdMarker */
    size_t next_key_len;
    const char *next_upload_id;
} stor_upload_list;

/* ListMultipartUploads: uploads in key order, then initiation order
 * (upload ids sort in that order for one key), after (key_marker,
 * upload_id_marker). 0, TARN_E_NO_SUCH_BUCKET, TARN_E_IO. Thread-safe. */
int stor_multipart_list(stor *s, tarn_arena *a, const char *bucket,
                        const stor_upload_list_params *p, stor_upload_list *out);

/* On an open get: the byte range of part `number` (S3 GetObject
 * partNumber: the number-th part of the completed object) and the parts
 * count (0 for an object not uploaded in parts, whose only part is 1).
 * 0 or TARN_E_INVALID_RANGE (no such part). */
int stor_get_part(stor_get *g, uint32_t number, uint64_t *first, uint64_t *last,
                  uint32_t *count);

/* ---- Heal and scrub (issue 5; docs/durability.md "Heal and scrub") -------
 * Offline: run with the server stopped, on the calling thread, with plain
 * blocking I/O. */

typedef struct stor_heal_stats {
    uint64_t objects;        /* versions with data checked */
    uint64_t sets;           /* shard sets checked (a version, or each part) */
    uint64_t shards_checked;
    uint64_t blocks_checked; /* blocks read and verified */
    uint64_t blocks_bad;     /* bad or short blocks in shards with a good header */
    uint64_t shards_bad;     /* shards missing, with a bad header, or with bad blocks */
    uint64_t shards_rebuilt; /* shard files rewritten */
    uint64_t unrecoverable;  /* shard sets that could not be rebuilt (or read) */
    uint64_t write_errors;   /* rebuilt shards that could not be written */
    uint64_t bytes_verified; /* block bytes read and verified */
} stor_heal_stats;

/* Walk every version (every part and the manifest of completed multipart
 * versions) and every uploaded part of the uploads in progress,
 * verify every header and every block of every shard, and rebuild each
 * missing or damaged shard file from k good ones into data/ on its disk
 * (durably: fdatasync, rename, fsync of the directories). Heal and scrub
 * are this one walk. 0, TARN_E_NOMEM, TARN_E_IO (reading the index); the
 * per-shard outcome is in *st. Not while a server runs on the store. */
int stor_heal(stor *s, stor_heal_stats *st);

/* The background healer's counters since the store opened (all zero when
 * it is off). Thread-safe. Healed and unrecoverable include the passes run
 * through stor_heal_bg_run. */
typedef struct stor_heal_bg_stats {
    uint64_t healed;          /* shard files rebuilt */
    uint64_t unrecoverable;   /* shard sets that could not be rebuilt */
    uint64_t scrubbed_bytes;  /* block bytes verified by scrub passes */
    uint64_t queued;          /* data ids noted by reads and puts */
    uint64_t heal_passes, scrub_passes; /* walks completed */
} stor_heal_bg_stats;
void stor_heal_bg_stats_get(stor *s, stor_heal_bg_stats *out);

/* Ask the healer thread of a running store for a pass now, a heal pass
 * (headers only: missing shards and bad headers are rebuilt) or with scrub
 * a scrub pass (every block verified), and block until a pass that began
 * after this call has ended; *out gets its counts. Several callers asking
 * for the same kind meanwhile share one pass. A pass already running (a
 * periodic one) is waited for first. Paced to heal_rate_mib_s like the
 * background passes. Returns the walk's result (0, TARN_E_IO,
 * TARN_E_NOMEM), TARN_E_INVAL when the store has no healer thread
 * (stor_config: no interval and no heal_on_demand), or
 * TARN_E_SERVICE_UNAVAILABLE when stor_heal_bg_interrupt or stor_close
 * ended the wait (*out then zero). Thread-safe; never on a worker. */
int stor_heal_bg_run(stor *s, int scrub, stor_heal_stats *out);
/* Make every stor_heal_bg_run waiting now, and every later call, return
 * TARN_E_SERVICE_UNAVAILABLE at once (the pass itself goes on until
 * stor_close stops it). For a graceful stop: interrupt, join the threads
 * that call stor_heal_bg_run, then stor_close. Thread-safe. */
void stor_heal_bg_interrupt(stor *s);

typedef struct stor_disk_status {
    int online;
    char why[160];           /* "ok", or why the disk is offline */
    int64_t since;           /* stor_disk_runtime only: unix seconds of the
                              * last change (or of stor_open); else unset */
} stor_disk_status;

/* The running store's own view of disk i (0 .. n_disks-1): offline from
 * the moment a worker's data path finds the disk unusable (a failed
 * open, write or sync of a shard, or unusable when the worker started;
 * why says which, with the errno text) until a worker's re-check (at most
 * every few seconds, when a put wants the disk) finds it usable again.
 * Both changes are logged. 0, or TARN_E_INVAL for no such disk.
 * Thread-safe. */
int stor_disk_runtime(stor *s, int i, stor_disk_status *out);

/* Fault counters since the store opened. Thread-safe. */
typedef struct stor_counters {
    uint64_t read_bad;       /* bad or short blocks, and missing or unreadable
                              * shards (once per read), that GETs met and
                              * decoded around */
    uint64_t put_dropped;    /* shards puts committed without (their disk
                              * failed or was known unusable) */
    stor_heal_bg_stats heal; /* the healer's, as stor_heal_bg_stats_get */
} stor_counters;
void stor_counters_get(stor *s, stor_counters *out);

/* Inspect disk folders without opening the store (safe while a server
 * runs): missing, not a directory, no or a foreign format file, tmp/ not
 * writable, data/ unusable. out[i] for dirs[i]; returns how many are
 * online. */
int stor_disks_status(const char *const *dirs, int n, stor_disk_status *out);

/* ---- Metadata rebuild (rebuild.c; docs/durability.md) ---------------------
 *
 * Every shard header's opaque meta blob (docs/erasure.md) carries what the
 * index would hold for the shard set: [u32 LE record length][record][zero
 * padding]. The record is the version record as stor__version_encode
 * writes it (the caller's meta and the layout, docs/metadata.md) plus the
 * STOR_SHARD_META_* fields below (tags the version decoder skips). The
 * blob fills the header's padding, at least STOR_SHARD_META_MIN bytes, so
 * its size is fixed when the put begins; a record that does not fit is
 * left out (length 0) and the shard set is not rebuildable. */
#define STOR_SHARD_META_MIN 3072
enum {
    STOR_SHARD_META_TIME = 80,   /* unix ms at finish (the version's mtime on rebuild) */
    STOR_SHARD_META_UPLOAD = 81, /* a multipart part: its upload id */
    STOR_SHARD_META_PART = 82,   /* ... and its part number */
    STOR_SHARD_META_MANIFEST = 83, /* 1: a CompleteMultipartUpload's manifest, whose
                                    * content is the completed version's record */
};

typedef struct stor_rebuild_stats {
    uint64_t files;          /* shard files looked at under data/ */
    uint64_t shards;         /* with a good header and a meta record */
    uint64_t bad;            /* unreadable, bad header, or no meta record */
    uint64_t sets;           /* distinct data ids */
    uint64_t buckets;        /* buckets recreated */
    uint64_t objects;        /* keys whose head was rebuilt */
    uint64_t superseded;     /* older data ids of a rebuilt key: queued for GC */
    uint64_t too_few;        /* data ids with fewer than k shards, and manifests
                              * with a part that has fewer: skipped */
    uint64_t manifests;      /* manifest data ids with >= k shards found */
    uint64_t multipart;      /* of objects: multipart ones rebuilt from a manifest */
    uint64_t parts_uncompleted; /* part data ids no rebuilt manifest names (their
                                 * upload was never completed): left on disk */
} stor_rebuild_stats;

/* Rebuild the metadata index of a store from its shard headers. cfg as
 * for stor_open; cfg->meta_dir must not exist or be empty. Creates it,
 * with the deployment id of the disks' format files, then reads every
 * <disk>/data/xx/<id> header (tmp/ is never committed data and is left
 * to the start-up sweep), groups the shards by data id and, for each id
 * with at least k good shards, recreates its bucket (owner: owner) and
 * commits its version as the key's head; when several ids claim one key,
 * the newest time wins and the others are queued for GC. A shard set
 * marked STOR_SHARD_META_MANIFEST is read (decoded around missing or bad
 * blocks) and its content, the completed version's record, recreates a
 * multipart object whose parts all have k shards; parts no rebuilt
 * manifest names (uploads never completed) are counted in
 * st->parts_uncompleted and left on disk. Offline; 0, TARN_E_INVAL
 * (*detail: meta dir not empty, no formatted disk, ...), TARN_E_IO,
 * TARN_E_NOMEM. */
int stor_rebuild_meta(const stor_config *cfg, const char *owner, stor_rebuild_stats *st,
                      const char **detail);

#endif
