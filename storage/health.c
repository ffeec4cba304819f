/*
 * health.c — the running store's view of its disks and its fault counters
 * (issue 5: "the server reports the disk as offline", bitrot "is logged and
 * counted"), for the admin interface (stor_disk_runtime, stor_counters_get).
 *
 * Every worker's stor_ioctx keeps its own view of which disks it may write
 * to, without locks (ioctx.c). It reports each change of that view here:
 * a disk goes down when a worker's open, write or sync on it fails (or it
 * is unusable when the worker starts), and up when a worker's re-check
 * finds it usable again. The last report wins, and only a change is logged,
 * so a disk lost under N workers is logged once, not N times. Reads and
 * puts count what they decoded around or dropped. One mutex guards it all:
 * reports are rare (a failure, a bad block), never per request.
 *
 * The disk watch (stor_config.disk_watch_sec) adds what no request would
 * notice: every few seconds one thread checks each folder without writing
 * to it (stor__disk_check) and reports a disk that became unusable as
 * offline. It brings back online only disks it took offline itself; one a
 * worker found unusable comes back through that worker's re-check.
 */
#include "storage/internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { UP = 0, DOWN_BY_IO, DOWN_BY_WATCH };

typedef struct disk_health {
    int down;       /* UP, or who took it down */
    int64_t since;  /* unix seconds of the last change, or of stor_open */
    char why[128];  /* why it went down */
} disk_health;

struct stor_health {
    pthread_mutex_t mu;
    disk_health disk[STOR_MAX_DISKS];
    uint64_t read_bad, put_dropped;
    /* The disk watch, under mu. */
    pthread_t watch;
    pthread_cond_t watch_cv; /* CLOCK_MONOTONIC */
    int watch_started, watch_stop, watch_sec;
};

int stor__health_create(stor *s)
{
    struct stor_health *h = calloc(1, sizeof(*h));
    if (!h)
        return TARN_E_NOMEM;
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->watch_cv, &ca);
    pthread_condattr_destroy(&ca);
    int64_t now = (int64_t)time(NULL);
    for (int i = 0; i < STOR_MAX_DISKS; i++)
        h->disk[i].since = now;
    s->health = h;
    return 0;
}

void stor__health_destroy(stor *s)
{
    struct stor_health *h = s->health;
    if (!h)
        return;
    pthread_cond_destroy(&h->watch_cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
    s->health = NULL;
}

/* A worker's report takes over one of the watch's, with its reason (the
 * worker's re-check then decides when it is back). */
static void mark_down(stor *s, int disk, const char *why, int by)
{
    struct stor_health *h = s->health;
    if (!h || disk < 0 || disk >= s->n_disks)
        return;
    pthread_mutex_lock(&h->mu);
    disk_health *d = &h->disk[disk];
    int changed = d->down == UP;
    if (changed)
        d->since = (int64_t)time(NULL);
    if (changed || (by == DOWN_BY_IO && d->down == DOWN_BY_WATCH)) {
        d->down = by;
        snprintf(d->why, sizeof(d->why), "%s", why); /* what the data path met wins */
    }
    pthread_mutex_unlock(&h->mu);
    if (changed && by == DOWN_BY_IO)
        TARN_WARN("storage: disk %s offline: %s; not used for writes until it recovers",
                  s->disk_dirs[disk], why);
    else if (changed)
        TARN_WARN("storage: disk %s offline: %s (found by the disk watch)", s->disk_dirs[disk],
                  why);
}

void stor__health_disk_down(stor *s, int disk, const char *why)
{
    mark_down(s, disk, why, DOWN_BY_IO);
}

static void mark_up(stor *s, int disk, int only_by)
{
    struct stor_health *h = s->health;
    if (!h || disk < 0 || disk >= s->n_disks)
        return;
    pthread_mutex_lock(&h->mu);
    disk_health *d = &h->disk[disk];
    int changed = d->down != UP && (!only_by || d->down == only_by);
    int64_t was = d->since, now = (int64_t)time(NULL);
    if (changed) {
        d->down = 0;
        d->since = now;
    }
    pthread_mutex_unlock(&h->mu);
    if (changed)
        TARN_INFO("storage: disk %s online again (offline for %lld s)", s->disk_dirs[disk],
                  (long long)(now - was));
}

void stor__health_disk_up(stor *s, int disk) { mark_up(s, disk, 0); }

/* ---- The disk watch ------------------------------------------------------------ */

static void watch_round(stor *s)
{
    for (int i = 0; i < s->n_disks; i++) {
        stor_disk_status st;
        stor__disk_check(s->disk_dirs[i], i, s->deployment, 0, &st);
        if (st.online)
            mark_up(s, i, DOWN_BY_WATCH);
        else
            mark_down(s, i, st.why, DOWN_BY_WATCH);
    }
}

static void *watch_main(void *arg)
{
    stor *s = arg;
    struct stor_health *h = s->health;
    pthread_mutex_lock(&h->mu);
    while (!h->watch_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += h->watch_sec;
        while (!h->watch_stop &&
               pthread_cond_timedwait(&h->watch_cv, &h->mu, &ts) != ETIMEDOUT) {
        }
        if (h->watch_stop)
            break;
        pthread_mutex_unlock(&h->mu);
        watch_round(s);
        pthread_mutex_lock(&h->mu);
    }
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

int stor__health_watch_start(stor *s, const stor_config *cfg)
{
    struct stor_health *h = s->health;
    if (!h || cfg->disk_watch_sec <= 0)
        return 0;
    h->watch_sec = cfg->disk_watch_sec;
    if (pthread_create(&h->watch, NULL, watch_main, s) != 0)
        return TARN_E_NOMEM;
    h->watch_started = 1;
    return 0;
}

void stor__health_watch_stop(stor *s)
{
    struct stor_health *h = s->health;
    if (!h || !h->watch_started)
        return;
    pthread_mutex_lock(&h->mu);
    h->watch_stop = 1;
    pthread_cond_signal(&h->watch_cv);
    pthread_mutex_unlock(&h->mu);
    pthread_join(h->watch, NULL);
    h->watch_started = 0;
}

void stor__health_count_read_bad(stor *s)
{
    struct stor_health *h = s->health;
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->read_bad++;
    pthread_mutex_unlock(&h->mu);
}

void stor__health_count_put_dropped(stor *s)
{
    struct stor_health *h = s->health;
    if (!h)
        return;
    pthread_mutex_lock(&h->mu);
    h->put_dropped++;
    pthread_mutex_unlock(&h->mu);
}

int stor_disk_runtime(stor *s, int i, stor_disk_status *out)
{
    struct stor_health *h = s->health;
    memset(out, 0, sizeof(*out));
    if (!h || i < 0 || i >= s->n_disks)
        return TARN_E_INVAL;
    pthread_mutex_lock(&h->mu);
    const disk_health *d = &h->disk[i];
    out->online = !d->down;
    out->since = d->since;
    snprintf(out->why, sizeof(out->why), "%s", d->down ? d->why : "ok");
    pthread_mutex_unlock(&h->mu);
    return 0;
}

void stor_counters_get(stor *s, stor_counters *out)
{
    struct stor_health *h = s->health;
    memset(out, 0, sizeof(*out));
    if (h) {
        pthread_mutex_lock(&h->mu);
        out->read_bad = h->read_bad;
        out->put_dropped = h->put_dropped;
        pthread_mutex_unlock(&h->mu);
    }
    stor_heal_bg_stats_get(s, &out->heal);
}
