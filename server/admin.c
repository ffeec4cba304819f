/*
 * admin.c — `tarn heal`, `tarn scrub`, `tarn disks`, `tarn rebuild-meta`: offline maintenance
 * on the store of a stopped server (heal and scrub open RocksDB, which a
 * running server holds locked). They take the storage flags of
 * `tarn server` through srv_config_load. docs/durability.md.
 */

#include <inttypes.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

#include "common/common.h"
#include "server/server.h"
#include "storage/storage.h"

int srv_admin_is_command(const char *name)
{
    return !strcmp(name, "heal") || !strcmp(name, "scrub") || !strcmp(name, "disks") ||
           !strcmp(name, "rebuild-meta");
}

static void usage(FILE *out, const char *cmd)
{
    if (!strcmp(cmd, "rebuild-meta"))
        fprintf(out, "usage: tarn rebuild-meta --data DIR (or --disks D1,... --meta DIR) [--force]\n"
                     "  With the server stopped: rebuild the metadata index (buckets, keys,\n"
                     "  versions, metadata, ETags) from the shard headers on the disks;\n"
                     "  multipart objects from the manifest their completion wrote. Parts of\n"
                     "  uploads never completed are counted and left on disk. Refuses if the\n"
                     "  meta folder exists and is not empty; --force moves it aside to\n"
                     "  <meta>.old-<unix time> first. Buckets are owned by the configured\n"
                     "  access key. Exit 0 when every object found was rebuilt (parts of\n"
                     "  uncompleted uploads do not count), 1 when some were skipped, 2 on errors.\n");
    else if (!strcmp(cmd, "disks"))
        fprintf(out, "usage: tarn disks --data DIR (or --disks D1,... --meta DIR)\n"
                     "  Print every disk folder as online or offline (and why). Safe while\n"
                     "  the server runs. Exit 0 while the quorum holds (at most m offline), 1 if not.\n");
    else
        fprintf(out,
                "usage: tarn %s --data DIR (or --disks D1,... --meta DIR, --ec K+M)\n"
                "  With the server stopped: check every shard of every object version\n"
                "  (headers and every block's checksum) and rebuild missing or damaged\n"
                "  shard files from the others. Exit 0 when everything is whole or was\n"
                "  rebuilt, 1 when something could not be, 2 on errors.\n",
                cmd);
}

static int run_disks(const srv_config *cfg)
{
    stor_disk_status st[SRV_MAX_DISKS];
    int online = stor_disks_status((const char *const *)cfg->disks, cfg->n_disks, st);
    for (int i = 0; i < cfg->n_disks; i++)
        printf("disk %d  %-7s  %s  %s\n", i + 1, st[i].online ? "online" : "offline",
               cfg->disks[i], st[i].why);
    printf("%d of %d disks online (erasure coding %d+%d: %s)\n", online, cfg->n_disks,
           cfg->ec_k, cfg->ec_m,
           cfg->n_disks - online <= cfg->ec_m ? "quorum holds" : "QUORUM LOST");
    return cfg->n_disks - online <= cfg->ec_m ? 0 : 1;
}

static int run_heal(const srv_config *cfg, const char *cmd)
{
    stor_config sc = {.meta_dir = cfg->meta_dir,
                      .disk_dirs = (const char *const *)cfg->disks,
                      .n_disks = cfg->n_disks,
                      .k = cfg->ec_k,
                      .m = cfg->ec_m,
                      .multipart_expiry_sec = (int64_t)cfg->multipart_expiry_hours * 3600};
    const char *detail = NULL;
    stor *s = NULL;
    int rc = stor_open(&sc, &s, &detail);
    if (rc) {
        fprintf(stderr, "tarn %s: cannot open storage: %s (%s)%s\n", cmd, detail ? detail : "",
                tarn_err_name(rc),
                " — is a server running on it? heal and scrub run with the server stopped");
        return 2;
    }
    stor_heal_stats st;
    rc = stor_heal(s, &st);
    stor_close(s);
    printf("%s: %" PRIu64 " objects (%" PRIu64 " shard sets, %" PRIu64 " shards, %" PRIu64
           " blocks) checked; %" PRIu64 " bad blocks, %" PRIu64 " shards missing or damaged, %"
           PRIu64 " shards rebuilt, %" PRIu64 " unrecoverable, %" PRIu64 " write errors\n",
           cmd, st.objects, st.sets, st.shards_checked, st.blocks_checked, st.blocks_bad,
           st.shards_bad, st.shards_rebuilt, st.unrecoverable, st.write_errors);
    if (rc) {
        fprintf(stderr, "tarn %s: %s\n", cmd, tarn_err_name(rc));
        return 2;
    }
    return st.unrecoverable || st.write_errors ? 1 : 0;
}

static int run_rebuild(const srv_config *cfg, int force)
{
    struct stat sb;
    if (stat(cfg->meta_dir, &sb) == 0 && force) {
        char old[sizeof(cfg->meta_dir) + 32];
        snprintf(old, sizeof(old), "%s.old-%lld", cfg->meta_dir, (long long)time(NULL));
        if (rename(cfg->meta_dir, old)) {
            fprintf(stderr, "tarn rebuild-meta: cannot move %s aside: %s\n", cfg->meta_dir,
                    strerror(errno));
            return 2;
        }
        printf("rebuild-meta: moved %s to %s\n", cfg->meta_dir, old);
    }
    stor_config sc = {.meta_dir = cfg->meta_dir,
                      .disk_dirs = (const char *const *)cfg->disks,
                      .n_disks = cfg->n_disks,
                      .k = cfg->ec_k,
                      .m = cfg->ec_m,
                      .multipart_expiry_sec = (int64_t)cfg->multipart_expiry_hours * 3600};
    stor_rebuild_stats st;
    const char *detail = NULL;
    int rc = stor_rebuild_meta(&sc, cfg->access_key, &st, &detail);
    if (rc) {
        fprintf(stderr, "tarn rebuild-meta: %s (%s)%s\n", detail ? detail : "",
                tarn_err_name(rc),
                detail && strstr(detail, "not empty") ? " — --force moves it aside" : "");
        return 2;
    }
    printf("rebuild-meta: %" PRIu64 " shard files read (%" PRIu64 " usable, %" PRIu64
           " skipped); %" PRIu64 " data ids: %" PRIu64 " buckets, %" PRIu64
           " objects rebuilt (%" PRIu64 " multipart, from manifests), %" PRIu64
           " older versions queued for GC, %" PRIu64 " with fewer than k shards, %" PRIu64
           " parts of uncompleted uploads, not rebuilt\n",
           st.files, st.shards, st.bad, st.sets, st.buckets, st.objects, st.multipart,
           st.superseded, st.too_few, st.parts_uncompleted);
    /* Parts of uploads never completed are no lost object: their upload
     * record is gone with the index, so no client can complete them. */
    return st.bad || st.too_few ? 1 : 0;
}

int srv_admin_main(int argc, char **argv)
{
    const char *cmd = argv[0];
    int force = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(cmd, "rebuild-meta") && !strcmp(argv[i], "--force")) {
            force = 1; /* ours, not a config flag: drop it */
            memmove(&argv[i], &argv[i + 1], (size_t)(argc - i) * sizeof(*argv));
            argc--;
            i--;
            continue;
        }
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout, cmd);
            return 0;
        }
        if (!strcmp(argv[i], "--endpoint") || !strncmp(argv[i], "--endpoint=", 11)) {
            fprintf(stderr, "tarn %s: --endpoint is not supported: the admin commands work "
                            "on the data directory (--data) with the server stopped\n",
                    cmd);
            return 2;
        }
    }
    srv_config cfg;
    const char *err = NULL;
    if (srv_config_load(&cfg, argc, argv, &err)) {
        fprintf(stderr, "%s\n", err);
        usage(stderr, cmd);
        srv_config_free(&cfg);
        return 2;
    }
    tarn_log_level = cfg.log_level;
    int status = !strcmp(cmd, "disks")          ? run_disks(&cfg)
                 : !strcmp(cmd, "rebuild-meta") ? run_rebuild(&cfg, force)
                                                : run_heal(&cfg, cmd);
    srv_config_free(&cfg);
    return status;
}
