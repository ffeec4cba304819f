/* Unit tests for storage/store.c and storage/format.c: the configuration
 * check, directory creation, the disks' format files, and refusing a disk
 * that is foreign, misplaced, non-empty or unreadable. */
#include "testlib.c"

#include <fcntl.h>
#include <sys/stat.h>

/* stor_open on t with n disks and k+m; returns rc, *detail copied. */
static int try_open(tdir *t, int n, int k, int m, char *detail, size_t cap)
{
    stor_config c = {.meta_dir = t->meta, .disk_dirs = t->disks, .n_disks = n, .k = k,
                     .m = m};
    stor *s = NULL;
    const char *d = NULL;
    int rc = stor_open(&c, &s, &d);
    snprintf(detail, cap, "%s", d ? d : "");
    if (rc == 0) {
        stor_close(s);
        if (d)
            snprintf(detail, cap, "detail set on success");
    } else if (s) {
        snprintf(detail, cap, "store returned on failure");
    }
    return rc;
}

static void test_bad_config(void)
{
    static const int cases[][3] = {
        /* n, k, m */
        {6, 0, 0}, {6, 4, 0}, {6, 1, 2}, {6, 4, 3}, {5, 4, 2}, {0, 1, 1}, {-1, 1, 1},
        {65, 4, 2}, {64, 9, 8}, {20, 10, 7},
    };
    tdir t;
    tdir_init(&t);
    char detail[512];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int rc = try_open(&t, cases[i][0], cases[i][1], cases[i][2], detail, sizeof(detail));
        if (rc != TARN_E_INVAL || !detail[0]) {
            fprintf(stderr, "config %d disks %d+%d: %s (%s)\n", cases[i][0], cases[i][1],
                    cases[i][2], tarn_err_name(rc), detail);
            failures++;
        }
    }
    /* Nothing was created for a refused configuration. */
    struct stat st;
    CHECK(stat(t.meta, &st) != 0);
    stor_config c = {.meta_dir = NULL, .disk_dirs = t.disks, .n_disks = 6, .k = 4, .m = 2};
    stor *s;
    const char *d;
    CHECK_RC(stor_open(&c, &s, &d), TARN_E_INVAL);
    /* Edge cases that are fine: 1+1 on 2 disks, 8+8 on 16 (k == m). */
    CHECK_RC(try_open(&t, 2, 1, 1, detail, sizeof(detail)), 0);
    tdir_free(&t);
    tdir_init(&t);
    CHECK_RC(try_open(&t, 16, 8, 8, detail, sizeof(detail)), 0);
    tdir_free(&t);
}

static void test_fresh_and_reopen(void)
{
    tdir t;
    tdir_init(&t);
    /* Nested directories that do not exist yet are created. */
    snprintf(t.meta, sizeof(t.meta), "%s/a/b/meta", t.root);
    snprintf(t.disk[0], sizeof(t.disk[0]), "%s/mnt/x/disk0", t.root);
    stor *s = topen(&t);
    char dep[33];
    memcpy(dep, s->deployment, sizeof(dep));
    CHECK(strlen(dep) == 32);
    stor_close(s);
    for (int i = 0; i < T_DISKS; i++) {
        stor_format f;
        CHECK_RC(stor__format_read(t.disk[i], &f), 0);
        CHECK(strcmp(f.deployment, dep) == 0);
        CHECK(f.index == i && f.disks == T_DISKS && f.k == 4 && f.m == 2 && f.version == 1);
        struct stat st;
        char tmp[256];
        snprintf(tmp, sizeof(tmp), "%s/%s", t.disk[i], STOR_FORMAT_TMP);
        CHECK(stat(tmp, &st) != 0);
        mode_t um = umask(0);
        umask(um);
        CHECK(stat(t.disk[i], &st) == 0 && (st.st_mode & 0777) == (0755 & ~um));
    }
    /* Reopen: same deployment, format files unchanged. */
    s = topen(&t);
    CHECK(strcmp(s->deployment, dep) == 0);
    stor_close(s);
    tdir_free(&t);
}

static void test_wrong_position(void)
{
    tdir t;
    tdir_init(&t);
    stor_close(topen(&t));
    /* Swap disks 1 and 3 in the configuration. */
    t.disks[1] = t.disk[3];
    t.disks[3] = t.disk[1];
    char detail[512];
    CHECK_RC(try_open(&t, T_DISKS, 4, 2, detail, sizeof(detail)), TARN_E_INVAL);
    CHECK(strstr(detail, t.disk[3]) && strstr(detail, "position"));
    /* The same directory twice. */
    t.disks[3] = t.disk[3];
    CHECK_RC(try_open(&t, T_DISKS, 4, 2, detail, sizeof(detail)), TARN_E_INVAL);
    CHECK(strstr(detail, "same directory"));
    t.disks[1] = t.disk[1];
    CHECK_RC(try_open(&t, T_DISKS, 4, 2, detail, sizeof(detail)), 0);
    tdir_free(&t);
}

static void test_foreign(void)
{
    tdir a, b;
    tdir_init(&a);
    tdir_init(&b);
    stor_close(topen(&a));
    stor_close(topen(&b));
    /* Disk 2 of deployment b shows up as disk 2 of deployment a. */
    a.disks[2] = b.disk[2];
    char detail[512];
    CHECK_RC(try_open(&a, T_DISKS, 4, 2, detail, sizeof(detail)), TARN_E_INVAL);
    CHECK(strstr(detail, b.disk[2]) && strstr(detail, "another deployment"));
    a.disks[2] = a.disk[2];

    /* A new metadata directory with disks formatted for another one. */
    snprintf(a.meta, sizeof(a.meta), "%s/meta2", a.root);
    CHECK_RC(try_open(&a, T_DISKS, 4, 2, detail, sizeof(detail)), TARN_E_INVAL);
    CHECK(strstr(detail, "metadata index is new"));
    /* ... and refusing it wrote no deployment id: still refused the same. */
    CHECK_RC(try_open(&a, T_DISKS, 4, 2, detail, sizeof(detail)), TARN_E_INVAL);
    CHECK(strstr(detail, "metadata index is new"));
    tdir_free(&a);
    tdir_free(&b);
}

static void write_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void test_new_disk(void)
{
    tdir t;
    tdir_init(&t);
    stor *s = topen(&t);
    char dep[33];
    memcpy(dep, s->deployment, sizeof(dep));
    stor_close(s);

    /* A replaced disk: empty (a fresh filesystem has lost+found). */
    rm_rf(t.disk[4]);
    mkdir(t.disk[4], 0755);
    char lf[256];
    snprintf(lf, sizeof(lf), "%s/lost+found", t.disk[4]);
    mkdir(lf, 0700);
    stor_close(topen(&t));
    stor_format f;
    CHECK_RC(stor__format_read(t.disk[4], &f), 0);
    CHECK(strcmp(f.deployment, dep) == 0 && f.index == 4);

    /* A missing disk directory is created and formatted too. */
    rm_rf(t.disk[5]);
    stor_close(topen(&t));
    CHECK_RC(stor__format_read(t.disk[5], &f), 0);
    CHECK(f.index == 5);

    /* Not empty and no format file: someone else's data, refused. */
    rm_rf(t.disk[0]);
    mkdir(t.disk[0], 0755);
    write_file(t.disk[0], "stranger.txt", "hello\n");
    char detail[512];
    CHECK_RC(try_open(&t, T_DISKS, 4, 2, detail, sizeof(detail)), TARN_E_INVAL);
    CHECK(strstr(detail, t.disk[0]) && strstr(detail, "not empty"));
    CHECK_RC(stor__format_read(t.disk[0], &f), TARN_E_NOT_FOUND);
    tdir_free(&t);
}

static void test_corrupt_format(void)
{
    tdir t;
    tdir_init(&t);
    stor_close(topen(&t));
    char detail[512];
    write_file(t.disk[1], STOR_FORMAT_FILE, "deployment = nothex\nindex = 1\n");
    CHECK_RC(try_open(&t, T_DISKS, 4, 2, detail, sizeof(detail)), TARN_E_INVAL);
    CHECK(strstr(detail, "unreadable"));
    write_file(t.disk[1], STOR_FORMAT_FILE, "version = 1\nindex = 1\n");
    CHECK_RC(try_open(&t, T_DISKS, 4, 2, detail, sizeof(detail)), TARN_E_INVAL);
    write_file(t.disk[1], STOR_FORMAT_FILE, "");
    CHECK_RC(try_open(&t, T_DISKS, 4, 2, detail, sizeof(detail)), TARN_E_INVAL);

    /* Unknown fields and sections from a newer binary are ignored. */
    stor_format f;
    CHECK_RC(stor__format_read(t.disk[2], &f), 0);
    char text[512];
    snprintf(text, sizeof(text),
             "version = 1\ndeployment = %s\nindex = 2\nfuture = yes\n[extra]\nindex = 9\n",
             f.deployment);
    write_file(t.disk[2], STOR_FORMAT_FILE, text);
    stor_format g;
    CHECK_RC(stor__format_read(t.disk[2], &g), 0);
    CHECK(g.index == 2 && strcmp(g.deployment, f.deployment) == 0);
    tdir_free(&t);
}

int main(void)
{
    tarn_log_level = TARN_LOG_WARN;
    test_bad_config();
    test_fresh_and_reopen();
    test_wrong_position();
    test_foreign();
    test_new_disk();
    test_corrupt_format();
    if (failures) {
        fprintf(stderr, "test_format: %d failures\n", failures);
        return 1;
    }
    printf("test_format: ok\n");
    return 0;
}
