/* replay.c — runs the fuzz target over saved inputs without libFuzzer.
 *
 * Why it exists: the corpus in tests/fuzz/corpus (seeds plus every input
 * that once crashed or was interesting) is replayed by ctest in every build,
 * gcc included, so a regression in the loaders shows up without a fuzzing
 * toolchain. Arguments are files or directories (not recursive); exits
 * non-zero if nothing could be read. A crash is the failure signal.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: cannot open\n", path);
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) break;
        uint8_t *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int err = ferror(f) || !buf;
    fclose(f);
    if (err) {
        fprintf(stderr, "replay: %s: read failed\n", path);
        free(buf);
        return -1;
    }
    LLVMFuzzerTestOneInput(buf, len);
    free(buf);
    return 0;
}

int main(int argc, char **argv) {
    size_t ran = 0, failed = 0;
    for (int a = 1; a < argc; a++) {
        struct stat st;
        if (stat(argv[a], &st) != 0) {
            fprintf(stderr, "replay: %s: not found\n", argv[a]);
            failed++;
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (replay_file(argv[a]) == 0) ran++; else failed++;
            continue;
        }
        DIR *d = opendir(argv[a]);
        if (!d) {
            failed++;
            continue;
        }
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.') continue;
            size_t n = strlen(argv[a]) + strlen(e->d_name) + 2;
            char *p = malloc(n);
            if (!p) continue;
            snprintf(p, n, "%s/%s", argv[a], e->d_name);
            if (replay_file(p) == 0) ran++; else failed++;
            free(p);
        }
        closedir(d);
    }
    printf("replay: %zu inputs ran, %zu unreadable\n", ran, failed);
    return ran == 0 || failed ? 1 : 0;
}
