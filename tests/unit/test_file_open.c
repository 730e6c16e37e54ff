/* test_file_open.c -- unit tests of worker/file_open.c on a directory tree made here: openat2's RESOLVE_BENEATH and RESOLVE_NO_SYMLINKS as kiln_file_at() uses them, and the O_NOFOLLOW walk used without openat2 (absolute paths, "..", links inside and outside, trailing slashes). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_open.h"
#include "unit.h"

static int root;

/* What opening rel gives: "ok" (a descriptor of `kind` 'f' or 'd'), or
 * the errno's name among those the tests expect. */
static const char *open_as(const char *rel, unsigned flags, int walk)
{
    static char s[32];
    struct stat st;
    int fd = walk ? file_open_walk(root, rel) : file_open_at(root, rel, flags);

    if (fd < 0) {
        snprintf(s, sizeof s, "%s", errno == EXDEV ? "EXDEV" : errno == ELOOP ? "ELOOP"
                                    : errno == ENOTDIR ? "ENOTDIR" : errno == ENOENT ? "ENOENT"
                                    : "other");
        return s;
    }
    fstat(fd, &st);
    close(fd);
    return S_ISDIR(st.st_mode) ? "dir" : "file";
}

static void make_tree(char *dir)
{
    char p[512];

    CHECK(mkdtemp(dir) != NULL, "a temporary directory");
    snprintf(p, sizeof p, "%s/root", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/root/sub", dir);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/root/sub/f.txt", dir);
    close(open(p, O_CREAT | O_WRONLY, 0644));
    snprintf(p, sizeof p, "%s/secret", dir);
    close(open(p, O_CREAT | O_WRONLY, 0644));
    snprintf(p, sizeof p, "%s/root/in", dir);
    CHECK(symlink("sub/f.txt", p) == 0, "a link inside");
    snprintf(p, sizeof p, "%s/root/out", dir);
    CHECK(symlink("../secret", p) == 0, "a relative link out");
    snprintf(p, sizeof p, "%s/root/abs", dir);
    CHECK(symlink("/etc", p) == 0, "an absolute link");
    snprintf(p, sizeof p, "%s/root/subln", dir);
    CHECK(symlink("sub", p) == 0, "a link to a directory inside");
    snprintf(p, sizeof p, "%s/root", dir);
    root = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
    CHECK(root >= 0, "the root opened");
}

#define SAME(rel, flags, walk, want) \
    CHECK_STR(open_as(rel, flags, walk), want, "%s \"%s\" flags %u", walk ? "walk" : "openat2", rel, flags)

int main(void)
{
    char dir[] = "/tmp/kiln-file-open.XXXXXX", cmd[64];
    const unsigned B = FILE_OPEN_BENEATH, N = FILE_OPEN_NO_SYMLINKS;

    make_tree(dir);
    /* openat2 (this kernel has it: Linux 5.6 and later) */
    SAME("sub/f.txt", B, 0, "file");
    SAME("sub/", B, 0, "dir");
    SAME("sub/f.txt/", B, 0, "ENOTDIR");
    SAME("in", B, 0, "file");
    SAME("subln/f.txt", B, 0, "file");
    SAME("out", B, 0, "EXDEV");
    SAME("abs/passwd", B, 0, "EXDEV");
    SAME("../secret", B, 0, "EXDEV");
    SAME("sub/../sub/f.txt", B, 0, "file");
    SAME("/etc/passwd", B, 0, "EXDEV");
    SAME("in", B | N, 0, "ELOOP");
    SAME("subln/f.txt", B | N, 0, "ELOOP");
    SAME("sub/f.txt", B | N, 0, "file");
    SAME("out", 0, 0, "file");
    SAME("missing", B, 0, "ENOENT");
    CHECK(!file_open_walking(), "openat2 is used");
    /* the walk */
    SAME("sub/f.txt", 0, 1, "file");
    SAME("./sub//f.txt", 0, 1, "file");
    SAME("sub/", 0, 1, "dir");
    SAME("", 0, 1, "dir");
    SAME("sub/.", 0, 1, "dir");
    SAME("sub/f.txt/", 0, 1, "ENOTDIR");
    SAME("in", 0, 1, "ELOOP");
    SAME("subln/f.txt", 0, 1, "ENOTDIR");
    SAME("out", 0, 1, "ELOOP");
    SAME("abs/passwd", 0, 1, "ENOTDIR");
    SAME("../secret", 0, 1, "EXDEV");
    SAME("sub/../sub/f.txt", 0, 1, "EXDEV");
    SAME("/etc/passwd", 0, 1, "EXDEV");
    SAME("missing/x", 0, 1, "ENOENT");
    close(root);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0, "the tree removed");
    return unit_done();
}
