/*
 * store.c — opening and closing the store: the configuration check, the
 * RocksDB instance and its tuning, the system values ("s/...") that tie
 * the index to its disks, and the commit thread's lifetime.
 */
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>

#define BLOCK_CACHE_BYTES (64u << 20)
/* Bounded so a large index cannot exhaust the process's descriptors,
 * which the shard files and client sockets need. */
#define MAX_OPEN_FILES 1024

const char *stor__detail(const char *fmt, ...)
{
    /* Thread-local: valid until the next failing stor_open on this thread,
     * and stor_open's callers (start-up, tests) read it right away. */
    static _Thread_local char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    return buf;
}

int stor__mkdirs(const char *path)
{
    char tmp[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(tmp))
        return TARN_E_IO;
    memcpy(tmp, path, n + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            return TARN_E_IO;
        *p = '/';
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
        return TARN_E_IO;
    struct stat st;
    return stat(tmp, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : TARN_E_IO;
}

static int config_check(const stor_config *cfg, const char **detail)
{
    if (!cfg->meta_dir || !cfg->meta_dir[0]) {
        *detail = "no metadata directory given";
        return TARN_E_INVAL;
    }
    if (cfg->n_disks < 1 || cfg->n_disks > STOR_MAX_DISKS || !cfg->disk_dirs) {
        *detail = stor__detail("%d disks: between 1 and %d are supported", cfg->n_disks,
                               STOR_MAX_DISKS);
        return TARN_E_INVAL;
    }
    /* Parity is required (m >= 1): with m = 0 one bad block loses data. */
    if (cfg->m < 1 || cfg->k < cfg->m || cfg->k > STOR_MAX_SHARDS ||
        cfg->k + cfg->m > STOR_MAX_SHARDS ||
        cfg->k + cfg->m > cfg->n_disks) {
        *detail = stor__detail("erasure coding %d+%d on %d disks: need 1 <= m <= k, "
                               "k+m <= %d and k+m <= disks",
                               cfg->k, cfg->m, cfg->n_disks, STOR_MAX_SHARDS);
        return TARN_E_INVAL;
    }
    for (int i = 0; i < cfg->n_disks; i++) {
        if (!cfg->disk_dirs[i] || !cfg->disk_dirs[i][0]) {
            *detail = stor__detail("disk %d has no directory", i);
            return TARN_E_INVAL;
        }
    }
    return 0;
}

static int db_open(stor *s, const char *dir, const char **detail)
{
    s->opts = rocksdb_options_create();
    s->cache = rocksdb_cache_create_lru(BLOCK_CACHE_BYTES);
    rocksdb_block_based_table_options_t *t = rocksdb_block_based_options_create();
    rocksdb_block_based_options_set_block_cache(t, s->cache);
    /* Whole-key bloom filters: most point reads (a head, a bucket) are
     * answered without touching a data block, and misses cost nothing. */
    rocksdb_block_based_options_set_filter_policy(t, rocksdb_filterpolicy_create_bloom_full(10));
    rocksdb_block_based_options_set_cache_index_and_filter_blocks(t, 1);
    rocksdb_block_based_options_set_pin_l0_filter_and_index_blocks_in_cache(t, 1);
    rocksdb_options_set_block_based_table_factory(s->opts, t);
    rocksdb_block_based_options_destroy(t);
    rocksdb_options_set_create_if_missing(s->opts, 1);
    rocksdb_options_set_max_open_files(s->opts, MAX_OPEN_FILES);
    rocksdb_options_increase_parallelism(s->opts, 2);
    rocksdb_options_set_keep_log_file_num(s->opts, 4);
    char *err = NULL;
    s->db = rocksdb_open(s->opts, dir, &err);
    if (err) {
        *detail = stor__detail("metadata %s: %s", dir, err);
        rocksdb_free(err);
        return TARN_E_IO;
    }
    s->ropts = rocksdb_readoptions_create();
    s->wopts_sync = rocksdb_writeoptions_create();
    /* Every commit reaches the disk before anyone is told it happened. */
    rocksdb_writeoptions_set_sync(s->wopts_sync, 1);
    return 0;
}

static int sys_get(stor *s, const char *name, char *out, size_t cap)
{
    stor_key k;
    stor__key_system(&k, name);
    char *err = NULL;
    size_t len;
    char *v = rocksdb_get(s->db, s->ropts, k.buf, k.len, &len, &err);
    if (err) {
        rocksdb_free(err);
        return TARN_E_IO;
    }
    if (!v)
        return TARN_E_NOT_FOUND;
    int rc = len < cap ? 0 : TARN_E_CORRUPT;
    if (!rc) {
        memcpy(out, v, len);
        out[len] = 0;
    }
    rocksdb_free(v);
    return rc;
}

/* A new index: a fresh deployment id and the schema version. */
static int sys_create(stor *s, const char **detail)
{
    unsigned char rnd[16];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        *detail = "no randomness for the deployment id";
        return TARN_E_IO;
    }
    tarn_hex(rnd, sizeof(rnd), s->deployment);
    char schema[16];
    snprintf(schema, sizeof(schema), "%d", STOR_SCHEMA_VERSION);
    stor_key k;
    int rc = stor__key_system(&k, STOR_SYS_SCHEMA);
    if (!rc)
        rc = stor__raw_put(s, &k, schema, strlen(schema));
    if (!rc)
        rc = stor__key_system(&k, STOR_SYS_DEPLOYMENT);
    if (!rc)
        rc = stor__raw_put(s, &k, s->deployment, 32);
    if (rc)
        *detail = "cannot write the deployment id";
    return rc;
}

/* Load the deployment id; *fresh when the index has none yet. */
static int sys_load(stor *s, int *fresh, const char **detail)
{
    char schema[16];
    int rc = sys_get(s, STOR_SYS_DEPLOYMENT, s->deployment, sizeof(s->deployment));
    *fresh = rc == TARN_E_NOT_FOUND;
    if (*fresh)
        return 0;
    if (rc == 0 && strlen(s->deployment) != 32)
        rc = TARN_E_CORRUPT;
    if (rc == 0)
        rc = sys_get(s, STOR_SYS_SCHEMA, schema, sizeof(schema));
    if (rc) {
        *detail = "cannot read the deployment id from the metadata index";
        return rc == TARN_E_IO ? TARN_E_IO : TARN_E_CORRUPT;
    }
    if (atoi(schema) > STOR_SCHEMA_VERSION) {
        *detail = stor__detail("metadata schema %s is newer than this binary's %d", schema,
                               STOR_SCHEMA_VERSION);
        return TARN_E_INVAL;
    }
    return 0;
}

/* Tie index and disks together. Every disk is inspected before anything is
 * written, so a refused open changes nothing; the deployment id is synced
 * before any disk is formatted, so a crash in between leaves unformatted
 * empty disks, which the next open formats. */
static int deployment_bind(stor *s, const char **detail)
{
    unsigned char is_new[STOR_MAX_DISKS];
    int fresh = 0;
    int rc = sys_load(s, &fresh, detail);
    if (!rc)
        rc = stor__disks_inspect(s, fresh, is_new, detail);
    if (!rc && fresh)
        rc = sys_create(s, detail);
    if (!rc)
        rc = stor__disks_format(s, is_new, detail);
    return rc;
}

static int store_init(stor *s, const stor_config *cfg)
{
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->n_disks = cfg->n_disks;
    s->k = cfg->k;
    s->m = cfg->m;
    s->mp_expiry_sec = cfg->multipart_expiry_sec;
    s->disk_dirs = calloc((size_t)cfg->n_disks, sizeof(char *));
    if (!s->disk_dirs || stor__health_create(s) ||
        stor__cache_create(cfg->read_cache_bytes, &s->rcache))
        return TARN_E_NOMEM;
    for (int i = 0; i < cfg->n_disks; i++)
        if (!(s->disk_dirs[i] = strdup(cfg->disk_dirs[i])))
            return TARN_E_NOMEM;
    return 0;
}

int stor_open(const stor_config *cfg, stor **out, const char **detail)
{
    const char *dummy;
    if (!detail)
        detail = &dummy;
    *detail = NULL;
    *out = NULL;
    int rc = config_check(cfg, detail);
    if (rc)
        return rc;
    stor *s = calloc(1, sizeof(*s));
    if (!s)
        return TARN_E_NOMEM;
    rc = store_init(s, cfg);
    if (!rc && stor__mkdirs(cfg->meta_dir)) {
        *detail = stor__detail("cannot create %s: %s", cfg->meta_dir, strerror(errno));
        rc = TARN_E_IO;
    }
    if (!rc)
        rc = db_open(s, cfg->meta_dir, detail);
    if (!rc)
        rc = stor__commit_start(s);
    if (!rc)
        rc = deployment_bind(s, detail);
    if (!rc)
        rc = stor__sweep(s, detail); /* tmp/ left by a crash: finish or remove */
    if (!rc && (rc = stor__heal_bg_start(s, cfg)) != 0)
        *detail = "cannot start the background healer";
    if (!rc && (rc = stor__health_watch_start(s, cfg)) != 0)
        *detail = "cannot start the disk watch";
    if (rc) {
        if (!*detail)
            *detail = tarn_err_name(rc);
        stor_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

void stor_close(stor *s)
{
    if (!s)
        return;
    stor__health_watch_stop(s);
    stor__heal_bg_stop(s); /* it uses holds (GC) and the index */
    stor__commit_stop(s);
    if (s->db)
        rocksdb_close(s->db); /* every commit is already in the synced WAL */
    if (s->ropts)
        rocksdb_readoptions_destroy(s->ropts);
    if (s->wopts_sync)
        rocksdb_writeoptions_destroy(s->wopts_sync);
    if (s->opts)
        rocksdb_options_destroy(s->opts);
    if (s->cache)
        rocksdb_cache_destroy(s->cache);
    for (int i = 0; s->disk_dirs && i < s->n_disks; i++)
        free(s->disk_dirs[i]);
    free(s->disk_dirs);
    stor__health_destroy(s);
    stor__cache_destroy(s->rcache);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
