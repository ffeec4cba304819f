/*
 * main.c — the tarn binary: picks the subcommand and hands over to the
 * server module. Kept thin on purpose (STYLE.md §1).
 */
#include <libxml/parser.h>
#include <stdio.h>
#include <string.h>

#include "common/common.h"
#include "server/server.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: tarn server [options]   run the S3 server (tarn server --help)\n"
                 "       tarn heal|scrub [--data DIR]   rebuild missing or damaged shards (asks the\n"
                 "                                      running server; offline when none answers)\n"
                 "       tarn disks [--data DIR]        disks online/offline (server's view and folders)\n"
                 "       tarn status [--data DIR]       the running server's disks and fault counters\n"
                 "       tarn rebuild-meta [--data DIR] [--force]   rebuild the lost metadata\n"
                 "                                      index from the shard headers (server stopped)\n"
                 "       tarn version\n");
}

static int cmd_server(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            srv_config_usage(stdout);
            return 0;
        }
    }
    srv_config cfg;
    const char *err = NULL;
    if (srv_config_load(&cfg, argc, argv, &err)) {
        fprintf(stderr, "%s\n", err);
        srv_config_free(&cfg);
        return 2;
    }
    tarn_log_level = cfg.log_level;
    xmlInitParser(); /* once, before any thread uses libxml2 */
    int status = srv_run(&cfg);
    xmlCleanupParser();
    srv_config_free(&cfg);
    return status;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "server"))
        return cmd_server(argc - 1, argv + 1);
    if (srv_admin_is_command(argv[1]))
        return srv_admin_main(argc - 1, argv + 1);
    if (!strcmp(argv[1], "version")) {
        printf("tarn 0.1.0\n");
        return 0;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    fprintf(stderr, "tarn: unknown command '%s' (try: tarn server --help)\n", argv[1]);
    return 2;
}
