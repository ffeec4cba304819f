/*
 * admin_report.c — the text of `tarn disks`, `tarn status`, `tarn heal` and
 * `tarn scrub`, written the same way whether a running server answers
 * through its admin socket (admin_sock.c) or the command works on the
 * folders itself (admin.c), so scripts see one format. Each report appends
 * lines to a buffer and returns the command's exit status; lines starting
 * with "error: " are meant for stderr.
 */
#include "server/internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "storage/storage.h"

/* The server's view of disk i: "server: online since T; " or "server:
 * offline since T: why; ". 1 if online. */
static int runtime_text(stor *s, int i, char *buf, size_t cap)
{
    stor_disk_status rt;
    char when[32];
    if (stor_disk_runtime(s, i, &rt)) {
        snprintf(buf, cap, "server: unknown; ");
        return 0;
    }
    srv_xml_time(rt.since, when);
    snprintf(buf, cap, "server: %s since %s%s%s; folder: ", rt.online ? "online" : "offline",
             when, rt.online ? "" : ": ", rt.online ? "" : rt.why);
    return rt.online;
}

int srv__report_disks(tarn_buf *out, const srv_config *cfg, stor *s)
{
    stor_disk_status folder[SRV_MAX_DISKS];
    memset(folder, 0, sizeof(folder));
    stor_disks_status((const char *const *)cfg->disks, cfg->n_disks, folder);
    int online = 0;
    for (int i = 0; i < cfg->n_disks; i++) {
        char server[256] = "";
        int up = folder[i].online;
        if (s && !runtime_text(s, i, server, sizeof(server)))
            up = 0;
        tarn_buf_printf(out, "disk %d  %-7s  %s  %s%s\n", i + 1, up ? "online" : "offline",
                        cfg->disks[i], server, folder[i].why);
        online += up;
    }
    int holds = cfg->n_disks - online <= cfg->ec_m;
    tarn_buf_printf(out, "%d of %d disks online (erasure coding %d+%d: %s)\n", online,
                    cfg->n_disks, cfg->ec_k, cfg->ec_m, holds ? "quorum holds" : "QUORUM LOST");
    return holds ? 0 : 1;
}

int srv__report_heal(tarn_buf *out, const char *cmd, int rc, const stor_heal_stats *st)
{
    tarn_buf_printf(out,
                    "%s: %" PRIu64 " objects (%" PRIu64 " shard sets, %" PRIu64 " shards, %" PRIu64
                    " blocks) checked; %" PRIu64 " bad blocks, %" PRIu64
                    " shards missing or damaged, %" PRIu64 " shards rebuilt, %" PRIu64
                    " unrecoverable, %" PRIu64 " write errors\n",
                    cmd, st->objects, st->sets, st->shards_checked, st->blocks_checked,
                    st->blocks_bad, st->shards_bad, st->shards_rebuilt, st->unrecoverable,
                    st->write_errors);
    if (rc == TARN_E_SERVICE_UNAVAILABLE) {
        tarn_buf_printf(out, "error: %s: the server is stopping; the pass did not finish\n", cmd);
        return 2;
    }
    if (rc) {
        tarn_buf_printf(out, "error: %s: %s\n", cmd, tarn_err_name(rc));
        return 2;
    }
    return st->unrecoverable || st->write_errors ? 1 : 0;
}

static void counter(tarn_buf *out, const char *name, uint64_t v, const char *what)
{
    tarn_buf_printf(out, "  %-15s %12" PRIu64 "  %s\n", name, v, what);
}

int srv__report_status(tarn_buf *out, const srv_config *cfg, stor *s, int64_t started)
{
    char when[32];
    srv_xml_time(started, when);
    tarn_buf_printf(out, "tarn server: pid %ld, up since %s (%lld s), admin socket %s\n",
                    (long)getpid(), when, (long long)(tarn_now_unix() - started),
                    cfg->admin_socket);
    int status = srv__report_disks(out, cfg, s);
    stor_counters c;
    stor_counters_get(s, &c);
    tarn_buf_appends(out, "counters since start:\n");
    counter(out, "read_bad", c.read_bad,
            "bad blocks and missing shards that reads decoded around");
    counter(out, "put_dropped", c.put_dropped, "shards that puts could not write");
    counter(out, "healed", c.heal.healed, "shard files the healer rebuilt");
    counter(out, "unrecoverable", c.heal.unrecoverable, "shard sets the healer could not rebuild");
    counter(out, "scrubbed_bytes", c.heal.scrubbed_bytes, "block bytes scrub passes verified");
    counter(out, "queued", c.heal.queued, "objects reads and puts noted for the healer");
    counter(out, "heal_passes", c.heal.heal_passes, "heal passes completed");
    counter(out, "scrub_passes", c.heal.scrub_passes, "scrub passes completed");
    return status;
}
