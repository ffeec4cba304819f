/*
 * server.h — tarn's server module: configuration, the per-core workers
 * (one io_uring + one libmicrohttpd daemon each), S3 routing, the operation
 * handlers, XML bodies and S3 error responses. The only module that knows
 * HTTP. Prefix: srv_. main.c is a thin caller of this header.
 */
#ifndef TARN_SERVER_H
#define TARN_SERVER_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SRV_MAX_DISKS 64
/* A Unix socket address holds a path of at most this many bytes with its
 * NUL (sockaddr_un.sun_path on Linux). */
#define SRV_ADMIN_SOCKET_MAX 108

typedef struct srv_config {
    char config_file[PATH_MAX];   /* "" when none */
    char listen_host[256];        /* default 127.0.0.1 */
    int listen_port;              /* default 9000; 0 = any free port */
    char data_dir[PATH_MAX];      /* --data: DIR/disk1..N + DIR/meta */
    char meta_dir[PATH_MAX];
    char *disks[SRV_MAX_DISKS];   /* heap strings, owned by the config */
    int n_disks;
    int ec_k, ec_m;               /* default 4+2 */
    int workers;                  /* 0 = one per core */
    char access_key[129];
    char secret_key[129];
    int creds_from_data_dir;      /* 1: loaded or generated under data_dir */
    char region[64];              /* default us-east-1 */
    char domain[256];             /* virtual-host style base domain, "" = off */
    int idle_timeout;             /* seconds an idle connection lives */
    int header_timeout;           /* seconds to receive a request's headers */
    int max_connections;          /* across all workers */
    int conn_memory_kib;          /* per-connection buffer, KiB */
    int log_level;                /* TARN_LOG_* */
    int multipart_expiry_hours;   /* abandoned multipart uploads are removed after this */
    int64_t heal_interval_sec;    /* background heal pass period, 0 = no healer */
    int heal_rate_mib_s;          /* heal/scrub rate limit, MiB/s */
    int64_t scrub_interval_sec;   /* background scrub period, 0 = off */
    int read_cache_mib;           /* read cache of small objects, MiB, 0 = off */
    /* The admin commands' Unix socket. Default DATA/admin.sock, or
     * META.sock without --data; "" when that default is too long for a
     * socket address (the server then runs without one). */
    char admin_socket[SRV_ADMIN_SOCKET_MAX];
} srv_config;

/*
 * Fill cfg from, in rising priority: the embedded defaults, the config file
 * (--config FILE or TARN_CONFIG), TARN_* environment variables, then flags
 * in argv (argv[0] is the subcommand name "server"). Resolves the disk list
 * and the credentials (generating and storing a pair under the data dir
 * when none is configured). On a bad flag or value, writes one line to
 * *err_out (static buffer) and returns -1; 0 on success.
 * Not thread-safe; call once at start-up. Free with srv_config_free.
 */
int srv_config_load(srv_config *cfg, int argc, char **argv, const char **err_out);
/* The same without the credentials (left empty, nothing generated): for
 * the admin commands that do not sign anything. */
int srv_config_load_storage(srv_config *cfg, int argc, char **argv, const char **err_out);
void srv_config_free(srv_config *cfg);
/* The flags and settings, for `tarn server --help`. */
void srv_config_usage(FILE *out);

/*
 * Run the server until SIGTERM or SIGINT: open storage, start the workers,
 * print the listening line, stop gracefully. Returns the process exit
 * status (0 after a clean stop, 1 when start-up failed, with the reason
 * logged). Blocks the calling thread.
 */
int srv_run(const srv_config *cfg);

/* ---- Admin subcommands (admin.c) ------------------------------------------
 * `tarn disks`, `tarn status`, `tarn heal`, `tarn scrub` and `tarn
 * rebuild-meta` take the flags of `tarn server` (--data, --disks, --meta,
 * --ec, --config, --admin-socket). disks, status, heal and scrub first ask
 * a running server through its admin socket (admin_sock.c); when nothing
 * answers there (or with --offline), disks inspects the folders and heal
 * and scrub open the store themselves, which needs the server stopped;
 * status then fails. rebuild-meta always works offline.
 * Run subcommand argv[0]. Returns the exit status: 0, 1 (something
 * unrecoverable, or quorum lost for disks and status), 2 (usage, no server
 * for status, or the store cannot be opened). */
int srv_admin_main(int argc, char **argv);
/* 1 if name is one of the admin subcommands. */
int srv_admin_is_command(const char *name);

#endif
