/* Unit tests for server/config.c: defaults, file, environment, flags and
 * their priority, and every kind of bad value. */
#include "server/internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tests/unit/check.h"


static srv_config cfg;
static const char *err;

static int load(int argc, const char **argv)
{
    srv_config_free(&cfg);
    return srv_config_load(&cfg, argc, (char **)argv, &err);
}

static void test_defaults_and_flags(const char *dir)
{
    char data[512];
    snprintf(data, sizeof(data), "%s/d", dir);
    setenv("TARN_ACCESS_KEY", "AKTEST", 1);
    setenv("TARN_SECRET_KEY", "secretsecret", 1);
    const char *a1[] = {"server", "--data", data};
    CHECK(load(3, a1) == 0);
    CHECK(strcmp(cfg.listen_host, "127.0.0.1") == 0 && cfg.listen_port == 9000);
    CHECK(cfg.ec_k == 4 && cfg.ec_m == 2 && cfg.n_disks == 6);
    CHECK(strstr(cfg.disks[5], "/d/disk6") != NULL && strstr(cfg.meta_dir, "/d/meta") != NULL);
    CHECK(strcmp(cfg.access_key, "AKTEST") == 0 && !cfg.creds_from_data_dir);
    const char *a2[] = {"server", "--listen=[::1]:0", "--ec", "8+4", "--data", data,
                        "--workers", "3", "--idle-timeout", "5", "--log-level", "debug"};
    CHECK(load(12, a2) == 0);
    CHECK(strcmp(cfg.listen_host, "::1") == 0 && cfg.listen_port == 0);
    CHECK(cfg.ec_k == 8 && cfg.n_disks == 12 && cfg.workers == 3 && cfg.idle_timeout == 5);
    CHECK(cfg.log_level == TARN_LOG_DEBUG);
    CHECK(cfg.multipart_expiry_hours == 168); /* default: a week */
    const char *a4[] = {"server", "--data", data, "--multipart-expiry-hours", "2"};
    CHECK(load(5, a4) == 0 && cfg.multipart_expiry_hours == 2);
    const char *a5[] = {"server", "--data", data, "--multipart-expiry-hours", "0"};
    CHECK(load(5, a5) == -1);
    CHECK(load(3, a1) == 0 && cfg.read_cache_mib == 64); /* default */
    const char *a6[] = {"server", "--data", data, "--read-cache-mib", "0"};
    CHECK(load(5, a6) == 0 && cfg.read_cache_mib == 0); /* 0: off */
    const char *a7[] = {"server", "--data", data, "--read-cache-mib", "-1"};
    CHECK(load(5, a7) == -1);
    const char *a3[] = {"server", "--disks", "/x/a,/x/b,/x/c", "--meta", "/x/m", "--ec", "2+1"};
    CHECK(load(7, a3) == 0);
    CHECK(cfg.n_disks == 3 && strcmp(cfg.disks[2], "/x/c") == 0);
}

/* The admin socket: DATA/admin.sock, META.sock without --data, a flag or
 * variable overrides; a default too long for a socket address is "" (the
 * server then has none), an explicit one too long is refused. */
static void test_admin_socket(const char *dir)
{
    char data[512], want[600];
    snprintf(data, sizeof(data), "%s/d", dir);
    const char *a1[] = {"server", "--data", data};
    CHECK(load(3, a1) == 0);
    snprintf(want, sizeof(want), "%s/admin.sock", data);
    CHECK(strcmp(cfg.admin_socket, want) == 0);
    const char *a2[] = {"server", "--disks", "/x/a,/x/b,/x/c", "--meta", "/x/m/", "--ec", "2+1"};
    CHECK(load(7, a2) == 0 && strcmp(cfg.admin_socket, "/x/m.sock") == 0);
    setenv("TARN_ADMIN_SOCKET", "/run/tarn/env.sock", 1);
    CHECK(load(3, a1) == 0 && strcmp(cfg.admin_socket, "/run/tarn/env.sock") == 0);
    const char *a3[] = {"server", "--data", data, "--admin-socket", "/run/tarn/flag.sock"};
    CHECK(load(5, a3) == 0 && strcmp(cfg.admin_socket, "/run/tarn/flag.sock") == 0);
    unsetenv("TARN_ADMIN_SOCKET");
    char longdir[300];
    memset(longdir, 'x', sizeof(longdir) - 1);
    longdir[0] = '/';
    longdir[sizeof(longdir) - 1] = '\0';
    const char *a4[] = {"server", "--data", longdir};
    CHECK(load(3, a4) == 0 && cfg.admin_socket[0] == '\0');
    const char *a5[] = {"server", "--data", data, "--admin-socket", longdir};
    CHECK(load(5, a5) == -1 && strstr(err, "admin_socket"));
    const char *a6[] = {"server", "--data", data, "--admin-socket", ""};
    CHECK(load(5, a6) == -1 && strstr(err, "admin_socket"));
}

static void expect_bad(int argc, const char **argv, const char *needle)
{
    if (load(argc, argv) != -1 || !strstr(err, needle)) {
        fprintf(stderr, "  expected failure mentioning '%s', got: %s\n", needle,
                err ? err : "(success)");
        failures++;
    }
    CHECK(strchr(err, '\n') == NULL); /* one line */
}

static void test_bad_values(void)
{
    const char *b1[] = {"server", "--bogus", "1"};
    expect_bad(3, b1, "unknown option");
    const char *b2[] = {"server", "--ec", "2+3"};
    expect_bad(3, b2, "ec");
    const char *b3[] = {"server", "--ec", "4+2x"};
    expect_bad(3, b3, "ec");
    const char *b4[] = {"server", "--listen", "nohostport"};
    expect_bad(3, b4, "listen");
    const char *b5[] = {"server", "--listen", "1.2.3.4:70000"};
    expect_bad(3, b5, "listen");
    const char *b6[] = {"server", "--workers"};
    expect_bad(2, b6, "needs a value");
    const char *b7[] = {"server", "--disks", "/a,/b", "--meta", "/m"};
    expect_bad(5, b7, "needs 6 disks");
    const char *b8[] = {"server", "--disks", "/a,,/b", "--meta", "/m"};
    expect_bad(5, b8, "disks");
    const char *b9[] = {"server", "--disks", "/a,/b,/c,/d,/e,/f"};
    expect_bad(3, b9, "--meta");
    const char *b10[] = {"server", "--config", "/nonexistent/tarn.conf"};
    expect_bad(3, b10, "cannot read config file");
    const char *b11[] = {"server", "--log-level", "loud"};
    expect_bad(3, b11, "log_level");
    const char *b12[] = {"server", "positional"};
    expect_bad(2, b12, "unknown option");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_file_and_priority(const char *dir)
{
    char conf[512], data[512];
    snprintf(conf, sizeof(conf), "%s/tarn.conf", dir);
    snprintf(data, sizeof(data), "%s/d", dir);
    write_file(conf, "[server]\nlisten = 0.0.0.0:9100\nregion = eu-west-1\nworkers = 2\n"
                     "[storage]\nec = 3+1\nread_cache_mib = 8\n");
    setenv("TARN_WORKERS", "5", 1);
    const char *a[] = {"server", "--config", conf, "--data", data, "--listen", "127.0.0.1:9200"};
    CHECK(load(7, a) == 0);
    CHECK(cfg.listen_port == 9200);            /* flag beats file */
    CHECK(cfg.workers == 5);                   /* environment beats file */
    CHECK(strcmp(cfg.region, "eu-west-1") == 0 && cfg.ec_k == 3); /* file beats default */
    CHECK(cfg.read_cache_mib == 8);
    setenv("TARN_READ_CACHE_MIB", "16", 1);
    CHECK(load(7, a) == 0 && cfg.read_cache_mib == 16);
    unsetenv("TARN_READ_CACHE_MIB");
    unsetenv("TARN_WORKERS");
    write_file(conf, "[server]\nlisten_typo = 1\n");
    const char *b[] = {"server", "--config", conf};
    expect_bad(3, b, "unknown setting");
    write_file(conf, "[server]\nworkers = many\n");
    expect_bad(3, b, "workers");
    write_file(conf, "this is not ini\n");
    expect_bad(3, b, "syntax error");
}

static void test_generated_credentials(const char *dir)
{
    char data[512], path[600];
    snprintf(data, sizeof(data), "%s/gen", dir);
    snprintf(path, sizeof(path), "%s/credentials", data);
    unsetenv("TARN_ACCESS_KEY");
    unsetenv("TARN_SECRET_KEY");
    const char *a[] = {"server", "--data", data};
    CHECK(load(3, a) == 0);
    CHECK(cfg.creds_from_data_dir && strlen(cfg.access_key) == 20 && strlen(cfg.secret_key) == 40);
    CHECK(access(path, R_OK) == 0);
    char first[129];
    snprintf(first, sizeof(first), "%s", cfg.secret_key);
    CHECK(load(3, a) == 0); /* a restart reads the same pair back */
    CHECK(strcmp(first, cfg.secret_key) == 0);
    setenv("TARN_ACCESS_KEY", "ONLYACCESS", 1);
    expect_bad(3, a, "both");
    unsetenv("TARN_ACCESS_KEY");
    const char *b[] = {"server", "--disks", "/a,/b,/c,/d,/e,/f", "--meta", "/m"};
    expect_bad(5, b, "no credentials");
}

int main(void)
{
    char dir[] = "/tmp/tarn-test-config-XXXXXX";
    if (!mkdtemp(dir))
        return 77;
    test_defaults_and_flags(dir);
    test_admin_socket(dir);
    test_bad_values();
    test_file_and_priority(dir);
    test_generated_credentials(dir);
    srv_config_free(&cfg);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    if (failures)
        fprintf(stderr, "test_config: %d failure(s)\n", failures);
    return failures ? 1 : 0;
}
