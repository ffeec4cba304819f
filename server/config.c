/*
 * config.c — tarn's settings: embedded defaults, then conf file (INI, read
 * with inih), then TARN_* environment variables, then command-line flags.
 * One table names every setting once with its section, flag and variable,
 * so the three sources cannot drift apart. conf/tarn.conf documents them.
 */
#include "server/internal.h"
#include "server/internal.h"

#include <errno.h>
#include <ini.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char err_line[PATH_MAX + 256];

typedef int (*setting_set_fn)(srv_config *cfg, const char *value);

struct setting {
    const char *section; /* in the conf file */
    const char *name;    /* key in the file; flag is --name with '_' → '-' */
    const char *env;     /* environment variable */
    setting_set_fn set;
    const char *help;
};

static int copy_str(char *dst, size_t cap, const char *value)
{
    size_t n = strlen(value);
    if (n >= cap)
        return -1;
    memcpy(dst, value, n + 1);
    return 0;
}

static int parse_int(const char *value, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || end == value || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int set_listen(srv_config *cfg, const char *v)
{
    const char *colon = strrchr(v, ':');
    if (!colon || colon == v)
        return -1;
    size_t hlen = (size_t)(colon - v);
    if (v[0] == '[' && hlen >= 2 && v[hlen - 1] == ']') { /* [::1]:9000 */
        v++;
        hlen -= 2;
    }
    if (hlen >= sizeof(cfg->listen_host))
        return -1;
    memcpy(cfg->listen_host, v, hlen);
    cfg->listen_host[hlen] = '\0';
    return parse_int(colon + 1, 0, 65535, &cfg->listen_port);
}

static int set_data(srv_config *cfg, const char *v)
{
    return *v ? copy_str(cfg->data_dir, sizeof(cfg->data_dir), v) : -1;
}

static int set_meta(srv_config *cfg, const char *v)
{
    return copy_str(cfg->meta_dir, sizeof(cfg->meta_dir), v);
}

static void disks_clear(srv_config *cfg)
{
    for (int i = 0; i < cfg->n_disks; i++)
        free(cfg->disks[i]);
    cfg->n_disks = 0;
}

static int set_disks(srv_config *cfg, const char *v)
{
    disks_clear(cfg);
    const char *p = v;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 0 || n >= PATH_MAX || cfg->n_disks == SRV_MAX_DISKS)
            return -1;
        cfg->disks[cfg->n_disks] = strndup(p, n);
        if (!cfg->disks[cfg->n_disks])
            return -1;
        cfg->n_disks++;
        p += n + (comma ? 1 : 0);
        if (comma && !*p)
            return -1; /* trailing comma */
    }
    return cfg->n_disks ? 0 : -1;
}

static int set_ec(srv_config *cfg, const char *v)
{
    int k, m, used = 0;
    if (sscanf(v, "%d+%d%n", &k, &m, &used) != 2 || v[used] || k < 1 || m < 1 || m > k ||
        k + m > 16)
        return -1;
    cfg->ec_k = k;
    cfg->ec_m = m;
    return 0;
}

static int set_workers(srv_config *cfg, const char *v) { return parse_int(v, 0, 256, &cfg->workers); }
static int set_access(srv_config *cfg, const char *v)
{
    return copy_str(cfg->access_key, sizeof(cfg->access_key), v);
}
static int set_secret(srv_config *cfg, const char *v)
{
    return copy_str(cfg->secret_key, sizeof(cfg->secret_key), v);
}
static int set_region(srv_config *cfg, const char *v)
{
    return *v ? copy_str(cfg->region, sizeof(cfg->region), v) : -1;
}
static int set_domain(srv_config *cfg, const char *v)
{
    return copy_str(cfg->domain, sizeof(cfg->domain), v);
}
static int set_idle(srv_config *cfg, const char *v)
{
    return parse_int(v, 1, 86400, &cfg->idle_timeout);
}
static int set_header_timeout(srv_config *cfg, const char *v)
{
    return parse_int(v, 1, 3600, &cfg->header_timeout);
}
static int set_maxconn(srv_config *cfg, const char *v)
{
    return parse_int(v, 1, 1000000, &cfg->max_connections);
}
static int set_connmem(srv_config *cfg, const char *v)
{
    return parse_int(v, 32, 65536, &cfg->conn_memory_kib);
}

static int set_mp_expiry(srv_config *cfg, const char *v)
{
    return parse_int(v, 1, 24 * 3650, &cfg->multipart_expiry_hours);
}

/* A duration: seconds, or with a suffix s, m, h, d ("1h", "7d"). */
static int parse_duration(const char *value, int64_t lo, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(value, &end, 10);
    int64_t mul = 1;
    if (errno || end == value || v < 0)
        return -1;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        mul = 60, end++;
    else if (*end == 'h')
        mul = 3600, end++;
    else if (*end == 'd')
        mul = 86400, end++;
    if (*end || v > 3650LL * 86400 / mul || (v > 0 && v * mul < lo))
        return -1;
    *out = (int64_t)v * mul;
    return 0;
}
static int set_heal_interval(srv_config *cfg, const char *v)
{
    return parse_duration(v, 1, &cfg->heal_interval_sec);
}
static int set_scrub_interval(srv_config *cfg, const char *v)
{
    return parse_duration(v, 1, &cfg->scrub_interval_sec);
}
static int set_heal_rate(srv_config *cfg, const char *v)
{
    return parse_int(v, 1, 1 << 20, &cfg->heal_rate_mib_s);
}
static int set_read_cache(srv_config *cfg, const char *v)
{
    return parse_int(v, 0, 1 << 20, &cfg->read_cache_mib);
}

static int set_admin_socket(srv_config *cfg, const char *v)
{
    return *v ? copy_str(cfg->admin_socket, sizeof(cfg->admin_socket), v) : -1;
}

static int set_log_level(srv_config *cfg, const char *v)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(v, names[i]) == 0) {
            cfg->log_level = i;
            return 0;
        }
    }
    return -1;
}

static const struct setting settings[] = {
    {"server", "listen", "TARN_LISTEN", set_listen, "HOST:PORT to listen on"},
    {"server", "workers", "TARN_WORKERS", set_workers, "worker threads, 0 = one per core"},
    {"server", "region", "TARN_REGION", set_region, "region name reported to clients"},
    {"server", "domain", "TARN_DOMAIN", set_domain, "base domain for virtual-host style"},
    {"server", "idle_timeout", "TARN_IDLE_TIMEOUT", set_idle, "seconds before an idle connection is closed"},
    {"server", "header_timeout", "TARN_HEADER_TIMEOUT", set_header_timeout,
     "seconds a client has to send a request's headers"},
    {"server", "max_connections", "TARN_MAX_CONNECTIONS", set_maxconn, "open connections at most"},
    {"server", "connection_memory_kib", "TARN_CONNECTION_MEMORY_KIB", set_connmem,
     "buffer per connection in KiB (bounds the header section)"},
    {"server", "log_level", "TARN_LOG_LEVEL", set_log_level, "error, warn, info or debug"},
    {"server", "admin_socket", "TARN_ADMIN_SOCKET", set_admin_socket,
     "Unix socket of tarn disks/status/heal/scrub (default DATA/admin.sock; at most 107 bytes)"},
    {"storage", "data", "TARN_DATA", set_data, "DIR: disks DIR/disk1..6 and metadata DIR/meta"},
    {"storage", "disks", "TARN_DISKS", set_disks, "D1,D2,...: explicit disk directories"},
    {"storage", "meta", "TARN_META", set_meta, "metadata (RocksDB) directory"},
    {"storage", "ec", "TARN_EC", set_ec, "erasure coding K+M"},
    {"storage", "multipart_expiry_hours", "TARN_MULTIPART_EXPIRY_HOURS", set_mp_expiry,
     "hours after which an unfinished multipart upload is removed"},
    {"storage", "heal_interval", "TARN_HEAL_INTERVAL", set_heal_interval,
     "background heal pass every N seconds (or 30m, 1h, 1d); 0 = no background healer"},
    {"storage", "heal_rate_mib_s", "TARN_HEAL_RATE_MIB_S", set_heal_rate,
     "MiB/s the background heal rebuilds and the scrub verifies, at most"},
    {"storage", "scrub_interval", "TARN_SCRUB_INTERVAL", set_scrub_interval,
     "background scrub (verify every block) every N seconds (or 12h, 7d); 0 = off"},
    {"storage", "read_cache_mib", "TARN_READ_CACHE_MIB", set_read_cache,
     "MiB of memory caching small objects' bytes for GETs; 0 = off"},
    {"credentials", "access_key", "TARN_ACCESS_KEY", set_access, "access key id"},
    {"credentials", "secret_key", "TARN_SECRET_KEY", set_secret, "secret access key"},
};
#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

static int apply(srv_config *cfg, const struct setting *s, const char *value, const char *from)
{
    if (!*value && from[0] != '-')
        return 0; /* "name =" in the file or an empty variable: keep the default */
    if (s->set(cfg, value) == 0)
        return 0;
    snprintf(err_line, sizeof(err_line), "tarn: invalid value for %s (from %s): '%.200s'",
             s->name, from, value);
    return -1;
}

struct ini_ctx {
    srv_config *cfg;
    int failed;
};

static int config_ini_line(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *ctx = user;
    for (size_t i = 0; i < N_SETTINGS; i++) {
        if (strcmp(settings[i].section, section) == 0 && strcmp(settings[i].name, name) == 0) {
            if (apply(ctx->cfg, &settings[i], value, ctx->cfg->config_file))
                ctx->failed = 1;
            return !ctx->failed;
        }
    }
    snprintf(err_line, sizeof(err_line), "tarn: %s: unknown setting [%s] %s",
             ctx->cfg->config_file, section, name);
    ctx->failed = 1;
    return 0;
}

static int load_file(srv_config *cfg)
{
    struct ini_ctx ctx = {cfg, 0};
    struct stat st;
    if (stat(cfg->config_file, &st) == 0 && !S_ISREG(st.st_mode)) {
        snprintf(err_line, sizeof(err_line), "tarn: config file %s is not a regular file",
                 cfg->config_file);
        return -1;
    }
    int rc = ini_parse(cfg->config_file, config_ini_line, &ctx);
    if (ctx.failed)
        return -1;
    if (rc < 0) {
        snprintf(err_line, sizeof(err_line), "tarn: cannot read config file %s: %s",
                 cfg->config_file, strerror(errno));
        return -1;
    }
    if (rc > 0) {
        snprintf(err_line, sizeof(err_line), "tarn: %s:%d: syntax error", cfg->config_file, rc);
        return -1;
    }
    return 0;
}

static int load_env(srv_config *cfg)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const char *v = getenv(settings[i].env);
        if (v && *v && apply(cfg, &settings[i], v, settings[i].env))
            return -1;
    }
    return 0;
}

/* Matches "--name" (or "--name=value") against a setting's flag form. */
static int flag_matches(const char *arg, const char *name, const char **inline_value)
{
    size_t i = 0;
    for (; name[i]; i++) {
        char want = name[i] == '_' ? '-' : name[i];
        if (arg[i] != want)
            return 0;
    }
    if (arg[i] == '=') {
        *inline_value = arg + i + 1;
        return 1;
    }
    *inline_value = NULL;
    return arg[i] == '\0';
}

static const struct setting *flag_lookup(const char *arg, const char **inline_value)
{
    for (size_t i = 0; i < N_SETTINGS; i++)
        if (flag_matches(arg, settings[i].name, inline_value))
            return &settings[i];
    return NULL;
}

/* First pass: only --config, so the file is read before the other flags
 * override it. */
static int find_config_flag(srv_config *cfg, int argc, char **argv)
{
    const char *path = getenv("TARN_CONFIG");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            path = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            path = argv[i] + 9;
    }
    if (path && copy_str(cfg->config_file, sizeof(cfg->config_file), path)) {
        snprintf(err_line, sizeof(err_line), "tarn: config path too long");
        return -1;
    }
    return 0;
}

static int load_flags(srv_config *cfg, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *value;
        if (strcmp(arg, "--config") == 0) {
            i++;
            continue;
        }
        if (strncmp(arg, "--config=", 9) == 0)
            continue;
        const struct setting *s = strncmp(arg, "--", 2) ? NULL : flag_lookup(arg + 2, &value);
        if (!s) {
            snprintf(err_line, sizeof(err_line),
                     "tarn: unknown option '%.200s' (see tarn server --help)", arg);
            return -1;
        }
        if (!value) {
            if (i + 1 >= argc) {
                snprintf(err_line, sizeof(err_line), "tarn: option '%s' needs a value", arg);
                return -1;
            }
            value = argv[++i];
        }
        if (apply(cfg, s, value, arg))
            return -1;
    }
    return 0;
}

static void config_defaults(srv_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    strcpy(cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 9000;
    cfg->ec_k = 4;
    cfg->ec_m = 2;
    strcpy(cfg->region, "us-east-1");
    cfg->idle_timeout = 30;
    cfg->header_timeout = 15;
    cfg->max_connections = 8192;
    cfg->conn_memory_kib = 256;
    cfg->log_level = TARN_LOG_INFO;
    cfg->multipart_expiry_hours = 24 * 7;
    cfg->heal_interval_sec = 3600;
    cfg->heal_rate_mib_s = 64;
    cfg->scrub_interval_sec = 7 * 24 * 3600;
    cfg->read_cache_mib = 64;
}

/* --data DIR (default ./data when no --disks) means DIR/disk1..N, DIR/meta. */
static int resolve_disks(srv_config *cfg)
{
    if (cfg->n_disks == 0) {
        if (!cfg->data_dir[0])
            strcpy(cfg->data_dir, "./data");
        int n = cfg->ec_k + cfg->ec_m < 6 ? 6 : cfg->ec_k + cfg->ec_m;
        for (int i = 0; i < n; i++) {
            char path[PATH_MAX + 16];
            snprintf(path, sizeof(path), "%s/disk%d", cfg->data_dir, i + 1);
            if (!(cfg->disks[i] = strdup(path)))
                return -1;
            cfg->n_disks++;
        }
    }
    if (!cfg->meta_dir[0]) {
        if (!cfg->data_dir[0]) {
            snprintf(err_line, sizeof(err_line), "tarn: --disks needs --meta (or --data)");
            return -1;
        }
        snprintf(cfg->meta_dir, sizeof(cfg->meta_dir), "%.*s/meta", PATH_MAX - 8, cfg->data_dir);
    }
    if (cfg->ec_k + cfg->ec_m > cfg->n_disks) {
        snprintf(err_line, sizeof(err_line), "tarn: --ec %d+%d needs %d disks, have %d",
                 cfg->ec_k, cfg->ec_m, cfg->ec_k + cfg->ec_m, cfg->n_disks);
        return -1;
    }
    return 0;
}

/* DATA/admin.sock, or META.sock (beside the metadata folder) without a data
 * directory; left "" (no admin socket) when that does not fit a socket
 * address: an explicit admin_socket is then needed. */
static void resolve_admin_socket(srv_config *cfg)
{
    if (cfg->admin_socket[0])
        return;
    char path[PATH_MAX + 16];
    if (cfg->data_dir[0]) {
        snprintf(path, sizeof(path), "%s/admin.sock", cfg->data_dir);
    } else {
        size_t n = strlen(cfg->meta_dir);
        while (n > 1 && cfg->meta_dir[n - 1] == '/')
            n--;
        snprintf(path, sizeof(path), "%.*s.sock", (int)n, cfg->meta_dir);
    }
    if (copy_str(cfg->admin_socket, sizeof(cfg->admin_socket), path))
        cfg->admin_socket[0] = '\0';
}

int srv_config_load_storage(srv_config *cfg, int argc, char **argv, const char **err_out)
{
    config_defaults(cfg);
    *err_out = err_line;
    if (find_config_flag(cfg, argc, argv))
        return -1;
    if (cfg->config_file[0] && load_file(cfg))
        return -1;
    if (load_env(cfg) || load_flags(cfg, argc, argv) || resolve_disks(cfg))
        return -1;
    resolve_admin_socket(cfg);
    return 0;
}

int srv_config_load(srv_config *cfg, int argc, char **argv, const char **err_out)
{
    if (srv_config_load_storage(cfg, argc, argv, err_out))
        return -1;
    return srv__credentials_resolve(cfg, err_line, sizeof(err_line)) ? -1 : 0;
}

void srv_config_free(srv_config *cfg)
{
    disks_clear(cfg);
}

void srv_config_usage(FILE *out)
{
    fprintf(out, "usage: tarn server [--config FILE] [--OPTION VALUE ...]\n\n"
                 "Each option is also a setting in the config file (INI: [section] name = value)\n"
                 "and an environment variable. Priority: flag > environment > file > default.\n\n");
    for (size_t i = 0; i < N_SETTINGS; i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s", settings[i].name);
        for (char *p = flag; *p; p++)
            if (*p == '_')
                *p = '-';
        fprintf(out, "  %-26s [%s] %-22s $%-26s %s\n", flag, settings[i].section,
                settings[i].name, settings[i].env, settings[i].help);
    }
}

stor_config srv__stor_config(const srv_config *cfg)
{
    stor_config sc = {.meta_dir = cfg->meta_dir,
                      .disk_dirs = (const char *const *)cfg->disks,
                      .n_disks = cfg->n_disks,
                      .k = cfg->ec_k,
                      .m = cfg->ec_m,
                      .multipart_expiry_sec = (int64_t)cfg->multipart_expiry_hours * 3600};
    return sc;
}
