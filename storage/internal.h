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

#define STOR_SYS_DEPLOYMENT "deployment" /* 32 lower-case hex chars */
#define STOR_SYS_SCHEMA "schema"         /* decimal STOR_SCHEMA_VERSION */
#define STOR_SYS_SEQ "seq"               /* reserved: last version sequence */

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

/* Bucket record tags. */
enum { STOR_BT_OWNER = 1, STOR_BT_LOCATION = 2, STOR_BT_CREATED = 3 };
int stor__bucket_encode(tarn_buf *b, const stor_bucket *bk);
int stor__bucket_decode(const void *data, size_t len, const char *name, stor_bucket *out);

/* ---- The store ---------------------------------------------------------- */

typedef struct stor_op stor_op;

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

#endif
