/*
 * internal.h — what the files of storage/ share and nothing outside it
 * includes (STYLE.md §2): the stor struct, the RocksDB key schema
 * (docs/metadata.md is the prose version; keep the two in step), the value
 * record codec, and the commit thread's operation interface on which every
 * write (buckets now; versions, heads, uploads later) is built.
 */
#ifndef TARN_STORAGE_INTERNAL_H
#define TARN_STORAGE_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include <rocksdb/c.h>

#include "storage.h"

/* ---- Limits ------------------------------------------------------------- */

#define STOR_MAX_DISKS 64
#define STOR_MAX_SHARDS 16       /* k + m */
#define STOR_BUCKET_MAX 63       /* S3 bucket-name limit */
#define STOR_OBJKEY_MAX 1024     /* S3 object-key limit, bytes of UTF-8 */
#define STOR_UPLOADID_MAX 128
/* Longest key of the schema: "p/" bucket \0 key \0 uploadid \0 part(4). */
#define STOR_KEY_MAX (2 + STOR_BUCKET_MAX + 1 + STOR_OBJKEY_MAX + 1 + STOR_UPLOADID_MAX + 1 + 8)

/* Schema version written to "s/schema". Bump only for changes an older
 * binary would misread; new record fields need no bump (unknown tags are
 * skipped). Opening a store with a newer schema is refused. */
#define STOR_SCHEMA_VERSION 1

/* ---- The key schema (docs/metadata.md) ---------------------------------
 * One byte names the family, then '/', then the family's parts. Bucket names
 * never contain NUL, and object keys with a NUL are refused, so NUL is a
 * safe separator that also sorts first: all of a key's entries come before
 * those of any longer key that shares its prefix, so RocksDB's bytewise
 * order is S3's listing order (keys ascending by UTF-8 bytes).
 *
 *   s/<name>                                 system values (deployment, schema)
 *   b/<bucket>                               bucket record
 *   o/<bucket>\0<key>                        object head (the key's latest state)
 *   v/<bucket>\0<key>\0<~seq: 8 BE>          version log entry, newest first
 *   u/<bucket>\0<key>\0<uploadid>            multipart upload in progress
 *   p/<bucket>\0<key>\0<uploadid>\0<part: 4 BE>   uploaded part
 *   g/<seq: 8 BE>                            garbage: shards to delete (GC queue)
 *   d/<data id: 32 hex>                      data id -> its version (committed data)
 *   c/<access key>                           credentials
 */
#define STOR_FAM_SYSTEM 's'
#define STOR_FAM_BUCKET 'b'
#define STOR_FAM_HEAD 'o'
#define STOR_FAM_VERSION 'v'
#define STOR_FAM_UPLOAD 'u'
#define STOR_FAM_PART 'p'
#define STOR_FAM_GARBAGE 'g'
#define STOR_FAM_CRED 'c'
#define STOR_FAM_DATA 'd'

#define STOR_SYS_DEPLOYMENT "deployment" /* 32 lower-case hex chars */
#define STOR_SYS_SCHEMA "schema"         /* decimal STOR_SCHEMA_VERSION */
#define STOR_SYS_SEQ "seq"               /* last sequence number handed out (8 BE) */

typedef struct stor_key {
    size_t len;
    int err; /* sticky: first failure of any append (too long) */
    char buf[STOR_KEY_MAX];
} stor_key;

/* Builders. Each starts k afresh and returns 0, or TARN_E_KEY_TOO_LONG when
 * a part overflows its limit, or TARN_E_INVALID_ARGUMENT for a NUL byte in
 * an object key or upload id. Keys may hold any other bytes (keylen). */
int stor__key_system(stor_key *k, const char *name);
int stor__key_bucket(stor_key *k, const char *bucket);
/* "<fam>/<bucket>\0": the prefix of every fam entry of one bucket
 * (fam = STOR_FAM_HEAD, _VERSION, _UPLOAD, _PART). */
int stor__key_bucket_prefix(stor_key *k, char fam, const char *bucket);
int stor__key_head(stor_key *k, const char *bucket, const char *key, size_t keylen);
/* "v/<bucket>\0<key>\0": the prefix of one key's version log. */
int stor__key_version_prefix(stor_key *k, const char *bucket, const char *key,
                             size_t keylen);
/* seq grows with every commit; stored inverted so the newest sorts first. */
int stor__key_version(stor_key *k, const char *bucket, const char *key, size_t keylen,
                      uint64_t seq);
int stor__key_upload(stor_key *k, const char *bucket, const char *key, size_t keylen,
                     const char *uploadid);
int stor__key_part(stor_key *k, const char *bucket, const char *key, size_t keylen,
                   const char *uploadid, uint32_t part);
/* "g/<seq: 8 BE>": one entry of the GC queue. */
int stor__key_garbage(stor_key *k, uint64_t seq);
/* "d/<data_id>": marks a data id as committed. data_id is 1..32 chars
 * without NUL (else TARN_E_INVALID_ARGUMENT). */
int stor__key_data(stor_key *k, const char *data_id);
/* Big-endian helpers for the fixed-width key parts. */
void stor__be64_put(unsigned char *p, uint64_t v);
uint64_t stor__be64_get(const unsigned char *p);

/* ---- Value records (docs/metadata.md "Values") --------------------------
 * A value is one version byte (STOR_REC_VERSION) and then fields, each
 * varint(tag) varint(length) payload. Integers are varint payloads
 * (signed ones zigzag-coded). Readers skip tags they do not know, so fields
 * can be added without a schema bump. */
#define STOR_REC_VERSION 1

int stor__rec_begin(tarn_buf *b);
int stor__rec_u64(tarn_buf *b, unsigned tag, uint64_t v);
int stor__rec_i64(tarn_buf *b, unsigned tag, int64_t v);
int stor__rec_bytes(tarn_buf *b, unsigned tag, const void *p, size_t n);
int stor__rec_str(tarn_buf *b, unsigned tag, const char *s);

typedef struct stor_rec_reader {
    const unsigned char *p, *end;
} stor_rec_reader;

typedef struct stor_rec_field {
    unsigned tag;
    const unsigned char *p;
    size_t n;
} stor_rec_field;

/* 0, or TARN_E_CORRUPT for an empty value or an unknown version byte. */
int stor__rec_open(stor_rec_reader *r, const void *data, size_t len);
/* 1 and *f filled, 0 at the end, TARN_E_CORRUPT on a truncated field. */
int stor__rec_next(stor_rec_reader *r, stor_rec_field *f);
/* Decode an integer field. 0 or TARN_E_CORRUPT. */
int stor__rec_field_u64(const stor_rec_field *f, uint64_t *v);
int stor__rec_field_i64(const stor_rec_field *f, int64_t *v);
/* Copy a string field into out[cap] (NUL-terminated). TARN_E_CORRUPT if it
 * does not fit or holds a NUL. */
int stor__rec_field_str(const stor_rec_field *f, char *out, size_t cap);

/* A name/value pair field (user metadata): varint(name length) name value.
 * Both may hold any bytes. */
int stor__rec_pair(tarn_buf *b, unsigned tag, const char *name, size_t nlen,
                   const char *value, size_t vlen);
/* Split a pair field. 0 or TARN_E_CORRUPT. */
int stor__rec_field_pair(const stor_rec_field *f, const unsigned char **name, size_t *nlen,
                         const unsigned char **value, size_t *vlen);

/* Bucket record tags. */
enum { STOR_BT_OWNER = 1, STOR_BT_LOCATION = 2, STOR_BT_CREATED = 3 };
int stor__bucket_encode(tarn_buf *b, const stor_bucket *bk);
int stor__bucket_decode(const void *data, size_t len, const char *name, stor_bucket *out);

/* ---- Version records (object_meta.c; docs/metadata.md) ------------------
 * One record format serves the version log entry (v/), the head (o/, a
 * copy of the newest entry, so GET and LIST need one read) and, with only
 * the layout tags, the GC queue (g/). Tags 1-31 describe the version,
 * 32-47 its layout. */
enum {
    STOR_VT_ID = 1,          /* internal version id, 32 hex */
    STOR_VT_SEQ = 2,         /* the commit's sequence number (names the v/ key) */
    STOR_VT_NULL_ID = 3,     /* 1: S3 shows the version id as "null" */
    STOR_VT_SIZE = 4,
    STOR_VT_MTIME = 5,       /* unix milliseconds, signed */
    STOR_VT_ETAG = 6,
    STOR_VT_CTYPE = 7,       /* content headers, 7..12 */
    STOR_VT_CENCODING = 8,
    STOR_VT_CDISPOSITION = 9,
    STOR_VT_CLANGUAGE = 10,
    STOR_VT_CACHE_CONTROL = 11,
    STOR_VT_EXPIRES = 12,
    STOR_VT_META = 13,       /* repeated pair: one per user metadata entry */
    STOR_VT_DELETE_MARKER = 14,
    STOR_VT_CHECKSUM = 16,   /* 16 + enum stor_checksum_alg, 16..20 */
    STOR_VT_L_K = 32,
    STOR_VT_L_M = 33,
    STOR_VT_L_BLOCK = 34,
    STOR_VT_L_SIZE = 35,
    STOR_VT_L_DATA_ID = 36,
    STOR_VT_L_DISKS = 37,    /* k+m bytes: shard i is on disk byte[i] */
    STOR_VT_L_PARTS = 38,    /* multipart: packed parts table (STOR_PART_ENTRY each) */
    STOR_VT_L_MANIFEST = 39, /* multipart: the manifest's shard set (one entry) */
};

/* Upload records ("u/", multipart.c): the version tags above for the
 * object-to-be (content headers 7-12, user metadata 13), plus these. */
enum {
    STOR_UT_INITIATED = 64,  /* unix milliseconds */
    STOR_UT_OWNER = 65,      /* access key of the initiator */
    STOR_UT_CK_ALG = 66,     /* 1 + enum stor_checksum_alg (absent: none) */
    STOR_UT_CK_FULL = 67,    /* 1: FULL_OBJECT checksum, absent: COMPOSITE */
};

/* The identity storage stamps on a version at commit. */
typedef struct stor_vinfo {
    uint64_t seq;
    char id[33];  /* internal id (32 hex), unique in the store */
    int null_id;  /* S3 shows "null" (unversioned bucket) */
} stor_vinfo;

struct stor_layout; /* object_internal.h */

/* Encode everything of o and l except the identity and mtime (those are
 * appended by stor__version_stamp on the commit thread). Starts b afresh.
 * 0 or TARN_E_NOMEM. */
int stor__version_encode(tarn_buf *b, const stor_object *o, const struct stor_layout *l);
/* Append the identity and mtime fields to an encoded record. */
int stor__version_stamp(tarn_buf *b, const stor_vinfo *vi, int64_t mtime_ms);
/* Decode a version record. o (strings in a; version_id is "null" or the
 * internal id), l and vi may each be NULL. 0, TARN_E_CORRUPT (malformed,
 * never reads past len), TARN_E_NOMEM. */
int stor__version_decode(const void *data, size_t len, tarn_arena *a, stor_object *o,
                         struct stor_layout *l, stor_vinfo *vi);
/* Append only the layout tags (a g/ record is stor__rec_begin + these). */
int stor__layout_encode(tarn_buf *b, const struct stor_layout *l);

/* "d/" record tags: which version owns a data id (for the start-up sweep
 * and a metadata rebuild from the disks). */
enum { STOR_DT_BUCKET = 1, STOR_DT_KEY = 2, STOR_DT_ID = 3, STOR_DT_SEQ = 4,
       STOR_DT_UPLOAD = 5, STOR_DT_PART = 6 /* a part not yet completed */ };

/* ---- The store ---------------------------------------------------------- */

typedef struct stor_op stor_op;

/* ---- The read cache (cache.c) --------------------------------------------
 * Small objects' bytes by data id (ids are never reused and their bytes
 * never change, so entries need no invalidation). Thread-safe; locks are
 * held only for map and LRU operations. */

/* Largest object whose bytes are cached (plain objects only). */
#define STOR_CACHE_OBJECT_MAX (256u << 10)

typedef struct stor_cache stor_cache;
/* An immutable cached object, refcounted: valid while the reader that got
 * it from stor__cache_get has not called stor__cache_entry_unref, even if
 * it was evicted or dropped meanwhile. */
typedef struct stor_cache_entry stor_cache_entry;

/* A cache of at most budget bytes (entries and their bookkeeping), split
 * evenly over its shards. budget 0: *out = NULL, the cache is off (every
 * call below accepts NULL). 0 or TARN_E_NOMEM. */
int stor__cache_create(size_t budget, stor_cache **out);
/* Free c and its entries (readers must have released theirs). */
void stor__cache_destroy(stor_cache *c);
/* The entry of data_id with a reference for the caller, or NULL. */
stor_cache_entry *stor__cache_get(stor_cache *c, const char *data_id);
/* Cache a copy of len verified bytes under data_id, evicting the least
 * recently used entries of its shard to make room. 0 (also when the id is
 * already cached), TARN_E_INVAL (off, empty, over STOR_CACHE_OBJECT_MAX or
 * over a shard's budget), TARN_E_NOMEM. */
int stor__cache_put(stor_cache *c, const char *data_id, const void *bytes, size_t len);
/* Forget data_id (GC removed its files); readers holding it keep it. */
void stor__cache_drop(stor_cache *c, const char *data_id);
const unsigned char *stor__cache_entry_data(const stor_cache_entry *e, size_t *len);
/* Release a reference (NULL: nothing). */
void stor__cache_entry_unref(stor_cache_entry *e);

struct stor {
    rocksdb_t *db;
    rocksdb_options_t *opts;
    rocksdb_cache_t *cache;
    rocksdb_readoptions_t *ropts;
    rocksdb_writeoptions_t *wopts_sync;
    char deployment[33];
    int n_disks, k, m;
    char **disk_dirs; /* copies, n_disks */

    /* Commit queue, guarded by mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    stor_op *q_head, *q_tail;
    int closing; /* no new submissions; the thread drains and exits */
    int paused;  /* test hook: hold queued ops (stor__commit_pause) */
    int thread_started;
    pthread_t thread;
    rocksdb_writebatch_wi_t *wb; /* owned by the commit thread */
    /* Statistics, under mu. */
    uint64_t n_batches, n_ops;

    /* Version sequence (object_meta.c): only the commit thread touches
     * these; seq is loaded from "s/seq" on first use. */
    uint64_t seq;
    int seq_loaded;
    int gc_queued; /* the current batch queued garbage: kick GC after it */

    /* Held data ids (gc.c), guarded by hold_mu. */
    pthread_mutex_t hold_mu;
    struct stor_hold **holds;   /* STOR_HOLD_BUCKETS chains */
    unsigned hold_lost;         /* holds not recorded (no memory) */

    /* The GC thread (gc.c), guarded by gc_mu. */
    pthread_mutex_t gc_mu;
    pthread_cond_t gc_cv;
    int gc_inited, gc_started, gc_stop, gc_kick, gc_deferred;
    pthread_t gc_thread;
    pthread_mutex_t gc_run_mu; /* one GC pass at a time */
    /* Test hook: called instead of stor__data_remove (gc_run_mu). */
    void (*gc_remove)(stor *s, const struct stor_layout *l);
    /* Abandoned multipart uploads (multipart.c): the GC thread aborts
     * those older than mp_expiry_sec every so often (gc_mu). */
    int64_t mp_expiry_sec;
    uint64_t mp_next_expire_ns;

    /* The background healer (heal_bg.c); NULL when off. */
    struct stor_heal_bg *hbg;
    /* The disks as the data path sees them, and fault counters (health.c). */
    struct stor_health *health;
    /* Small objects' bytes (cache.c); NULL when off. */
    stor_cache *rcache;
};

/* ---- Commit thread -------------------------------------------------------
 * An operation is a struct that begins with stor_op. The commit thread
 * takes every queued op, runs each one's apply() against a transaction view
 * (the DB plus what earlier ops of the same batch wrote), writes all of
 * them in one synced batch, then completes each: through its waker (the
 * waker's drain runs done(arg, rc) and then release(op)), or, with no
 * waker, by waking the thread blocked in stor__commit_wait. */

typedef struct stor_txn {
    stor *s;
    rocksdb_writebatch_wi_t *wb;
} stor_txn;

struct stor_sync; /* a blocked waiter (commit.c) */

struct stor_op {
    stor_op *next;
    /* Check and build, on the commit thread. Return 0 to keep the writes
     * made through t, or an error (its writes are dropped). */
    int (*apply)(stor_txn *t, stor_op *op);
    void (*release)(stor_op *op); /* frees op; NULL means free(op) */
    stor_waker *waker;
    stor_done_fn done;
    void *arg;
    struct stor_sync *sync;
    int rc;
};

/* Queue op (heap-allocated, set up by the caller) for w/done/arg. On 0 the
 * store owns op until its completion is drained; on an error
 * (TARN_E_SERVICE_UNAVAILABLE while closing) the caller still owns it. */
int stor__commit_submit(stor *s, stor_op *op, stor_waker *w, stor_done_fn done, void *arg);
/* Queue op and block until it committed; returns its rc. op stays the
 * caller's (it may live on the stack). Not for worker threads. */
int stor__commit_wait(stor *s, stor_op *op);
int stor__commit_start(stor *s);
/* Refuse new ops, run the queued ones, join the thread. */
void stor__commit_stop(stor *s);
/* Test hook: while paused the thread leaves queued ops alone (closing
 * overrides it), so a test can build a batch of known contents. */
void stor__commit_pause(stor *s, int paused);
void stor__commit_stats(stor *s, uint64_t *batches, uint64_t *ops);

/* ---- GC (gc.c) -----------------------------------------------------------
 * Replaced and deleted versions leave a "g/" entry (their layout) in the
 * same batch that unlinks them. The GC thread removes their shard files
 * (stor__data_remove) unless a reader holds the data id or the id is
 * referenced again, then deletes the entry. It never runs on a worker. */

/* Set up the hold table and start the GC thread (from commit start, after
 * the commit thread runs). 0 or TARN_E_NOMEM. */
int stor__gc_start(stor *s);
/* Stop and join the GC thread, free the hold table. Safe when never
 * started. Call while the commit thread still runs. */
void stor__gc_stop(stor *s);
/* Wake the GC thread (new garbage, or a hold released). Thread-safe. */
void stor__gc_kick(stor *s);
/* One GC pass over the queue, on the calling thread (the GC thread, or a
 * test). Returns how many entries were left for later (held ids), or
 * TARN_E_IO. */
int stor__gc_step(stor *s);
/* Test hook: route removals to fn (NULL: stor__data_remove again). */
void stor__gc_set_remove(stor *s, void (*fn)(stor *s, const struct stor_layout *l));
/* 1 if a reader holds data_id. Thread-safe. */
int stor__data_held(stor *s, const char *data_id);

/* Waker side used by the commit thread: append op, bump the eventfd. */
void stor__waker_post(stor_waker *w, stor_op *op);

/* Transaction view for apply(). get: 0 with *val (free with rocksdb_free),
 * TARN_E_NOT_FOUND, TARN_E_IO. */
int stor__txn_get(stor_txn *t, const stor_key *k, char **val, size_t *len);
/* 1 if any key starting with prefix exists, 0 if none, TARN_E_IO. */
int stor__txn_prefix_exists(stor_txn *t, const stor_key *prefix);
void stor__txn_put(stor_txn *t, const stor_key *k, const void *val, size_t len);
void stor__txn_delete(stor_txn *t, const stor_key *k);

/* ---- Raw writes for tests and later layers ------------------------------
 * Synchronous (stor__commit_wait). They skip every check except that the
 * bucket name and key are well-formed; the value is stored as given. */
int stor__raw_put(stor *s, const stor_key *k, const void *val, size_t len);
int stor__raw_delete(stor *s, const stor_key *k);
int stor__object_head_put_raw(stor *s, const char *bucket, const char *key, size_t keylen,
                              const void *val, size_t len);
int stor__upload_put_raw(stor *s, const char *bucket, const char *key, size_t keylen,
                         const char *uploadid);

/* ---- Disk format files (format.c) ---------------------------------------- */

#define STOR_FORMAT_FILE ".tarn-format"
#define STOR_FORMAT_TMP ".tarn-format.tmp"

typedef struct stor_format {
    int version;
    char deployment[33];
    int index, disks, k, m;
} stor_format;

/* Read dir/.tarn-format. 0, TARN_E_NOT_FOUND (no file), TARN_E_CORRUPT
 * (unparsable or missing fields), TARN_E_IO. */
int stor__format_read(const char *dir, stor_format *f);
/* Write it atomically (tmp, fsync, rename, fsync dir). 0 or TARN_E_IO. */
int stor__format_write(const char *dir, const stor_format *f);
/* Create missing disk directories and check each one's format file against
 * s->deployment; is_new[i] = 1 for an empty disk without one (to format).
 * fresh_db: the index has no deployment yet, so no disk may carry a format
 * file. 0, or TARN_E_INVAL / TARN_E_IO with *detail naming the disk. */
int stor__disks_inspect(stor *s, int fresh_db, unsigned char *is_new, const char **detail);
/* Write the format file of every disk with is_new[i]. 0 or TARN_E_IO. */
int stor__disks_format(stor *s, const unsigned char *is_new, const char **detail);

/* mkdir -p with mode 0755. 0 or TARN_E_IO. */
int stor__mkdirs(const char *path);
/* Set the calling thread's detail buffer (printf) and return it. */
const char *stor__detail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- The data path (ioctx.c, placement.c, put.c, get.c, sweep.c) ---------
 * docs/storage-io.md. A stor_ioctx belongs to one worker: its ring, its
 * waker, its coders, a pool of aligned stripe buffers, and its own view of
 * which disks are usable (set by failed opens/writes, cleared by a re-check
 * at most every STOR_DISK_RECHECK_NS). Nothing here is thread-safe. */

struct io_uring_sqe;
typedef struct erc_coder erc_coder;

#define STOR_DISK_RECHECK_NS 5000000000ull
#define STOR_BLOCK_MAX (1u << 20)  /* block size of large objects */
#define STOR_PUT_STRIPES 4         /* stripe buffers per put: 1 filling + 3 writing */
#define STOR_GET_STRIPES 3         /* stripes a get reads ahead */

enum { STOR_DIR_TMP, STOR_DIR_DATA };

/* An SQE of io's ring; submits to make room when the queue is full. Never
 * NULL for a ring that works (NULL only if submitting fails). */
struct io_uring_sqe *stor__io_sqe(stor_ioctx *io);
stor *stor__io_store(const stor_ioctx *io);
stor_waker *stor__io_waker(const stor_ioctx *io);
/* The worker's coder for (k, m), created on first use; NULL if impossible. */
erc_coder *stor__io_coder(stor_ioctx *io, int k, int m);
/* A 4096-aligned buffer of bytes (pooled by size) or NULL; return it with
 * the same size. Counted: see stor__io_stats. */
void *stor__io_buf_get(stor_ioctx *io, size_t bytes);
void stor__io_buf_put(stor_ioctx *io, void *buf, size_t bytes);
/* The cached descriptor of <disk>/tmp or <disk>/data, -1 if unusable. */
int stor__io_dirfd(stor_ioctx *io, int disk, int which);
/* 1 if disk is believed usable for writes (re-checks a bad one whose last
 * check is older than STOR_DISK_RECHECK_NS). */
int stor__io_disk_usable(stor_ioctx *io, int disk);
/* A write-side failure (open, write, fsync) on disk: mark it unusable. */
void stor__io_disk_failed(stor_ioctx *io, int disk, const char *what, int err);
/* A shard a put commits without (put.c: not written): log, count as
 * dropped (stor_counters), heal later. */
void stor__io_heal_note(stor_ioctx *io, const char *data_id, int shard, const char *why);
/* A read met a missing, unreadable or bad shard or block and decodes
 * around it (get.c): log, count (stor_counters), heal later. */
void stor__io_read_bad(stor_ioctx *io, const char *data_id, int shard, const char *why);

typedef struct stor_io_stats {
    uint64_t bufs_live, bufs_peak;  /* buffers allocated (in use + pooled) */
    uint64_t bufs_used, bufs_used_peak; /* handed out now / at most */
    uint64_t heal_events;           /* shards read around or left unwritten */
    uint64_t shards_dropped;        /* put shards lost to a failed disk */
} stor_io_stats;
void stor__io_stats(const stor_ioctx *io, stor_io_stats *out);
void stor__io_stats_reset_peak(stor_ioctx *io);
void stor__io_count_dropped(stor_ioctx *io);

/* Choose disks for the k+m shards of a new object (placement.c): disk[i]
 * for shard i, usable disks first in an order rotated by a hash of
 * bucket/key; *unusable gets the shard mask placed on unusable disks.
 * 0, or TARN_E_SERVICE_UNAVAILABLE when fewer than k disks are usable. */
int stor__place(stor_ioctx *io, const char *bucket, const char *key, size_t key_len, int k,
                int m, uint8_t *disk, uint32_t *unusable);
/* Block size for an object of size bytes over k data shards. */
uint32_t stor__block_size(uint64_t size, int k);
/* "xx/<data_id>": a shard's path under <disk>/data (out: 36 bytes). */
void stor__data_relpath(const char *data_id, char *out);

/* The start-up sweep (sweep.c): create tmp/ and data/ on every disk, move
 * referenced tmp/ files into data/, delete the rest. Called by stor_open
 * once the index is readable. 0, or TARN_E_IO with *detail. */
int stor__sweep(stor *s, const char **detail);

/* Walk it from where it stands over the keys that start with base[0..blen)
 * and then prefix[0..plen), calling visit with each key less base, and its
 * value; visit moves the iterator itself (next or seek) and returns 0 to go
 * on, 1 to stop, or an error. 0, visit's error, or TARN_E_IO (what names
 * the scan in the log). list.c. */
int stor__iter_scan(rocksdb_iterator_t *it, const char *base, size_t blen, const char *prefix,
                    size_t plen,
                    int (*visit)(void *ctx, const char *k, size_t klen, const char *v,
                                size_t vlen),
                    void *ctx, const char *what);

/* ---- The disks as the data path sees them; fault counters (health.c) -----
 * Each worker's stor_ioctx keeps its own view of which disks it may write
 * to and reports every change here; the last report wins (a disk a worker
 * found unusable is offline until a worker's re-check finds it usable).
 * All thread-safe. */

/* Allocate s->health, every disk online since now (stor_open). 0 or
 * TARN_E_NOMEM. */
int stor__health_create(stor *s);
/* Free it (stor_close; safe when never created). */
void stor__health_destroy(stor *s);
/* Disk went unusable (why: what failed, with the errno text), or usable
 * again. Only a change is recorded and logged. */
void stor__health_disk_down(stor *s, int disk, const char *why);
void stor__health_disk_up(stor *s, int disk);
void stor__health_count_read_bad(stor *s);
void stor__health_count_put_dropped(stor *s);
/* Check one disk folder as stor_disks_status does (index: its position;
 * deployment NULL: any), writing a probe file into tmp/ or (write_probe
 * 0) only asking access(2). heal.c. */
void stor__disk_check(const char *dir, int index, const char *deployment, int write_probe,
                      stor_disk_status *out);
/* The disk watch (cfg->disk_watch_sec; stor_open after the sweep, stopped
 * first thing in stor_close). 0 or TARN_E_NOMEM. */
int stor__health_watch_start(stor *s, const stor_config *cfg);
void stor__health_watch_stop(stor *s);

/* ---- Heal walks (heal.c) and the background healer (heal_bg.c) ----------- */

typedef struct stor_heal_walk {
    int live;   /* a running store: hold each data id, heal only referenced
                 * ones, re-check before the rename, write only to disks
                 * that carry their format file */
    int verify; /* read and verify every block (scrub); 0: headers only */
    /* Called with bytes verified (pass 1) or rebuilt (pass 2); may sleep
     * for the rate limit; nonzero stops the walk. NULL: no limit. */
    int (*pace)(void *arg, uint64_t bytes);
    void *arg;
} stor_heal_walk;

/* stor_heal with options (w NULL: offline, verify everything). */
int stor__heal_walk(stor *s, const stor_heal_walk *w, stor_heal_stats *st);
/* Heal the shard set of one committed data id (found through "d/<id>":
 * a version's, or an uploaded part's of an upload in progress).
 * 0, TARN_E_NOT_FOUND (not committed),
 * TARN_E_IO, TARN_E_NOMEM. */
int stor__heal_data(stor *s, const stor_heal_walk *w, const char *data_id,
                    stor_heal_stats *st);
/* Start the healer thread when cfg asks for it (stor_open, after the
 * sweep). 0 or TARN_E_NOMEM. */
int stor__heal_bg_start(stor *s, const stor_config *cfg);
/* Stop and join it (stor_close, before the commit thread stops). */
void stor__heal_bg_stop(stor *s);
/* Queue data_id for a heal soon (any thread; a no-op when off). */
void stor__heal_bg_note(stor *s, const char *data_id);

#endif
