/*
 * replay.c — main() for a fuzz target built without libFuzzer: runs
 * LLVMFuzzerTestOneInput once per file. With no arguments it replays the
 * target's seed corpus tests/fuzz/corpus/<name>/ and its crash reproducers
 * tests/fuzz/crashes/<name>/ (regression tests once fixed); arguments are
 * files or directories to replay instead. Built by the Makefile into
 * $(BUILD)/tests/unit/fuzz/replay_<name>, so `make unit` / `make test`
 * run it and `make check` / `make fuzz-smoke` run it under ASan+UBSan.
 * Exit 0 when every input ran (a finding aborts through the sanitizers or
 * __builtin_trap), 1 when there was nothing to replay or a file was
 * unreadable.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

#ifndef FUZZ_NAME
#error "build with -DFUZZ_NAME='\"<target>\"' -DFUZZ_DIR='\"<repo>/tests/fuzz\"'"
#endif

static int run_file(const char *path)
{
    FILE *fp = fopen(path, "rb");
    struct stat st;
    if (!fp || fstat(fileno(fp), &st) != 0) {
        fprintf(stderr, "replay %s: cannot read %s\n", FUZZ_NAME, path);
        if (fp)
            fclose(fp);
        return -1;
    }
    /* Exact size (never 0 bytes: keep the pointer valid), so ASan sees a
     * read past the input's end. */
    uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    size_t n = buf ? fread(buf, 1, (size_t)st.st_size, fp) : 0;
    fclose(fp);
    if (!buf || n != (size_t)st.st_size) {
        free(buf);
        fprintf(stderr, "replay %s: cannot read %s\n", FUZZ_NAME, path);
        return -1;
    }
    fprintf(stderr, "  %s\n", path); /* names the input a sanitizer aborts on */
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 1;
}

/* Replay a file, or every regular file of a directory. Returns the
 * number of inputs run, -1 on a read error; 0 for a missing path when
 * optional. */
static int run_path(const char *path, int optional)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (!optional)
            fprintf(stderr, "replay %s: no such file or directory: %s\n", FUZZ_NAME, path);
        return optional ? 0 : -1;
    }
    if (!S_ISDIR(st.st_mode))
        return run_file(path);
    DIR *d = opendir(path);
    int count = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        char file[4096];
        if (e->d_name[0] == '.')
            continue;
        snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
        int rc = run_file(file);
        if (rc < 0) {
            count = -1;
            break;
        }
        count += rc;
    }
    if (d)
        closedir(d);
    return d ? count : -1;
}

int main(int argc, char **argv)
{
    int total = 0, rc = 0;
    if (argc > 1) {
        for (int i = 1; i < argc && rc >= 0; i++)
            total += (rc = run_path(argv[i], 0)) > 0 ? rc : 0;
    } else {
        rc = run_path(FUZZ_DIR "/corpus/" FUZZ_NAME, 0);
        total = rc > 0 ? rc : 0;
        int crashes = rc >= 0 ? run_path(FUZZ_DIR "/crashes/" FUZZ_NAME, 1) : 0;
        rc = crashes < 0 ? crashes : rc;
        total += crashes > 0 ? crashes : 0;
    }
    printf("replay %s: %d inputs\n", FUZZ_NAME, total);
    return rc < 0 || total == 0 ? 1 : 0;
}
