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
 */
#include "storage/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct disk_health {
    int down;
    int64_t since;  /* unix seconds of the last change, or of stor_open */
    char why[128];  /* why it went down */
} disk_health;

struct stor_health {
    pthread_mutex_t mu;
    disk_health disk[STOR_MAX_DISKS];
    uint64_t read_bad, put_dropped;
};

int stor__health_create(stor *s)
{
    struct stor_health *h = calloc(1, sizeof(*h));
    if (!h)
        return TARN_E_NOMEM;
    pthread_mutex_init(&h->mu, NULL);
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
    pthread_mutex_destroy(&h->mu);
    free(h);
    s->health = NULL;
}

void stor__health_disk_down(stor *s, int disk, const char *why)
{
    struct stor_health *h = s->health;
    if (!h || disk < 0 || disk >= s->n_disks)
        return;
    pthread_mutex_lock(&h->mu);
    disk_health *d = &h->disk[disk];
    int changed = !d->down;
    if (changed) {
        d->down = 1;
        d->since = (int64_t)time(NULL);
        snprintf(d->why, sizeof(d->why), "%s", why);
    }
    pthread_mutex_unlock(&h->mu);
    if (changed)
        TARN_WARN("storage: disk %s offline: %s; not used for writes until it recovers",
                  s->disk_dirs[disk], why);
}

void stor__health_disk_up(stor *s, int disk)
{
    struct stor_health *h = s->health;
    if (!h || disk < 0 || disk >= s->n_disks)
        return;
    pthread_mutex_lock(&h->mu);
    disk_health *d = &h->disk[disk];
    int changed = d->down;
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
