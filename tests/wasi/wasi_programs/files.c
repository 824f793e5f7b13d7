/* WASI file system: file I/O, directories, links and times inside a preopened directory
 * (argv[1], e.g. "/sandbox"), then escape attempts that must all fail. Each check
 * prints "ok NAME" or "FAIL NAME (detail)"; the exit status is the failure count. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>

static int failures;
static char path_buf[512];

static void check(int cond, const char *name, long detail) {
    if (cond) {
        printf("ok %s\n", name);
    } else {
        printf("FAIL %s (%ld)\n", name, detail);
        failures++;
    }
}

static const char *at(const char *root, const char *rel) {
    snprintf(path_buf, sizeof path_buf, "%s/%s", root, rel);
    return path_buf;
}

__attribute__((import_module("wasi_snapshot_preview1"), import_name("path_open")))
int32_t raw_path_open(int32_t fd, int32_t dirflags, int32_t path, int32_t path_len,
                      int32_t oflags, int64_t base, int64_t inheriting, int32_t fdflags,
                      int32_t fd_out);

/* path_open relative to the preopen, straight to the host: the errno, or 0. */
static int open_raw(int dirfd, const char *path, int follow, int oflags) {
    static int32_t fd;
    int err = raw_path_open(dirfd, follow ? __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW : 0,
                            (int32_t)(uintptr_t)path, (int32_t)strlen(path), oflags,
                            (int64_t)(__WASI_RIGHTS_FD_READ | __WASI_RIGHTS_FD_WRITE),
                            0, 0, (int32_t)(uintptr_t)&fd);
    if (err == 0) {
        __wasi_errno_t closed = __wasi_fd_close(fd);
        (void)closed;
    }
    return err;
}

static int has_entry(const char *dir, const char *name) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int found = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, name) == 0) found = 1;
    closedir(d);
    return found;
}

static void file_checks(const char *root) {
    char buf[64] = {0};
    int fd = open(at(root, "a.txt"), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    check(fd >= 0, "create", errno);
    check(write(fd, "hello world\n", 12) == 12, "write", errno);
    close(fd);

    fd = open(at(root, "a.txt"), O_RDWR);
    check(fd >= 0, "reopen read-write", errno);
    check(lseek(fd, 6, SEEK_SET) == 6, "seek set", errno);
    check(read(fd, buf, 5) == 5 && memcmp(buf, "world", 5) == 0, "read after seek", errno);
    check(lseek(fd, 0, SEEK_CUR) == 11, "tell", errno);
    check(lseek(fd, 0, SEEK_END) == 12, "seek end", errno);
    check(write(fd, "more", 4) == 4, "append by position", errno);
    struct stat st;
    check(fstat(fd, &st) == 0 && st.st_size == 16 && S_ISREG(st.st_mode), "fstat size", (long)st.st_size);
    check(pread(fd, buf, 5, 0) == 5 && memcmp(buf, "hello", 5) == 0, "pread", errno);
    check(pwrite(fd, "HELLO", 5, 0) == 5, "pwrite", errno);
    check(lseek(fd, 0, SEEK_CUR) == 16, "pread/pwrite keep the position", errno);
    check(ftruncate(fd, 8) == 0 && fstat(fd, &st) == 0 && st.st_size == 8, "ftruncate", errno);
    close(fd);

    check(stat(at(root, "a.txt"), &st) == 0 && st.st_size == 8, "stat", errno);
    fd = open(at(root, "a.txt"), O_RDONLY);
    errno = 0;
    check(write(fd, "x", 1) == -1 && (errno == EBADF || errno == ENOTCAPABLE),
          "write to a read-only fd fails", errno);
    close(fd);
    fd = open(at(root, "a.txt"), O_WRONLY | O_APPEND);
    check(write(fd, "!", 1) == 1, "O_APPEND write", errno);
    close(fd);
    check(stat(at(root, "a.txt"), &st) == 0 && st.st_size == 9, "O_APPEND appended", (long)st.st_size);
    errno = 0;
    check(open(at(root, "a.txt"), O_CREAT | O_EXCL | O_WRONLY, 0644) == -1 && errno == EEXIST,
          "O_EXCL on an existing file", errno);
    errno = 0;
    check(open(at(root, "missing.txt"), O_RDONLY) == -1 && errno == ENOENT, "missing file", errno);

    check(mkdir(at(root, "sub"), 0755) == 0, "mkdir", errno);
    errno = 0;
    check(mkdir(at(root, "sub"), 0755) == -1 && errno == EEXIST, "mkdir twice", errno);
    check(stat(at(root, "sub"), &st) == 0 && S_ISDIR(st.st_mode), "stat directory", errno);
    errno = 0;
    check(opendir(at(root, "a.txt")) == NULL && errno == ENOTDIR, "opendir on a file", errno);
    check(rename(at(root, "a.txt"), "/sandbox/sub/b.txt") == 0, "rename", errno);
    errno = 0;
    check(stat(at(root, "a.txt"), &st) == -1 && errno == ENOENT, "renamed away", errno);
    fd = open(at(root, "sub/b.txt"), O_RDONLY);
    memset(buf, 0, sizeof buf);
    check(fd >= 0 && read(fd, buf, sizeof buf) == 9 && strcmp(buf, "HELLO wo!") == 0,
          "read renamed file", errno);
    close(fd);
    check(has_entry(root, "sub") == 1 && has_entry(root, "a.txt") == 0, "readdir root", 0);
    check(has_entry(at(root, "sub"), "b.txt") == 1, "readdir sub", 0);
    check(has_entry(at(root, "sub"), ".") == 1 && has_entry(at(root, "sub"), "..") == 1,
          "readdir has . and ..", 0);
    errno = 0;
    check(rmdir(at(root, "sub")) == -1 && errno == ENOTEMPTY, "rmdir non-empty", errno);
    check(unlink(at(root, "sub/b.txt")) == 0, "unlink", errno);
    check(rmdir(at(root, "sub")) == 0, "rmdir", errno);
    errno = 0;
    check(stat(at(root, "sub"), &st) == -1 && errno == ENOENT, "rmdir removed it", errno);

    /* many entries: readdir must page through several fd_readdir calls */
    check(mkdir(at(root, "many"), 0755) == 0, "mkdir many", errno);
    for (int i = 0; i < 60; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s/many/entry-with-a-longish-name-%02d", root, i);
        close(open(name, O_CREAT | O_WRONLY, 0644));
    }
    DIR *d = opendir(at(root, "many"));
    int count = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) count++;
    if (d) closedir(d);
    check(count == 62, "readdir 60 files", count);

    /* links */
    fd = open(at(root, "target.txt"), O_CREAT | O_WRONLY, 0644);
    check(write(fd, "target", 6) == 6, "write target", errno);
    close(fd);
    check(symlink("target.txt", at(root, "link")) == 0, "symlink", errno);
    char linkbuf[64] = {0};
    check(readlink(at(root, "link"), linkbuf, sizeof linkbuf) == 10 &&
              strcmp(linkbuf, "target.txt") == 0, "readlink", errno);
    check(lstat(at(root, "link"), &st) == 0 && S_ISLNK(st.st_mode), "lstat symlink", errno);
    check(stat(at(root, "link"), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 6,
          "stat follows symlink", errno);
    fd = open(at(root, "link"), O_RDONLY);
    memset(buf, 0, sizeof buf);
    check(fd >= 0 && read(fd, buf, sizeof buf) == 6, "open through symlink", errno);
    close(fd);
    check(link(at(root, "target.txt"), "/sandbox/hard") == 0, "hard link", errno);
    check(stat(at(root, "hard"), &st) == 0 && st.st_nlink == 2, "nlink", (long)st.st_nlink);

    struct timespec times[2] = {{1000000, 0}, {2000000, 500}};
    check(utimensat(AT_FDCWD, at(root, "hard"), times, 0) == 0, "utimensat", errno);
    check(stat(at(root, "hard"), &st) == 0 && st.st_mtim.tv_sec == 2000000 &&
              st.st_atim.tv_sec == 1000000, "times set", (long)st.st_mtim.tv_sec);
}

static int preopen_fd(const char *name) {
    for (int fd = 3; fd < 64; fd++) {
        __wasi_prestat_t pre;
        if (__wasi_fd_prestat_get(fd, &pre) != 0) continue;
        char got[256] = {0};
        if (pre.u.dir.pr_name_len < sizeof got &&
            __wasi_fd_prestat_dir_name(fd, (uint8_t *)got, pre.u.dir.pr_name_len) == 0 &&
            strcmp(got, name) == 0)
            return fd;
    }
    return -1;
}

static void sandbox_checks(const char *root) {
    int dirfd = preopen_fd(root);
    check(dirfd >= 3, "find the preopen", dirfd);
    check(mkdir(at(root, "inner"), 0755) == 0, "mkdir inner", errno);
    close(open(at(root, "inner/file"), O_CREAT | O_WRONLY, 0644));

    check(open_raw(dirfd, "inner/file", 0, 0) == 0, "inside path opens", 0);
    check(open_raw(dirfd, "inner/../inner/./file", 0, 0) == 0, "dot-dot inside opens", 0);
    check(open_raw(dirfd, "../outside.txt", 0, 0) == __WASI_ERRNO_NOTCAPABLE, "../ escape", 0);
    check(open_raw(dirfd, "inner/../../outside.txt", 0, 0) == __WASI_ERRNO_NOTCAPABLE,
          "nested ../ escape", 0);
    check(open_raw(dirfd, "..", 0, 0) == __WASI_ERRNO_NOTCAPABLE, "open ..", 0);
    check(open_raw(dirfd, "/etc/passwd", 0, 0) == __WASI_ERRNO_NOTCAPABLE, "absolute path", 0);
    check(open_raw(dirfd, "../escaped.txt", 0, __WASI_OFLAGS_CREAT) == __WASI_ERRNO_NOTCAPABLE,
          "create outside", 0);
    /* the test puts "hostlink" -> <absolute path of a directory outside> in the sandbox */
    check(open_raw(dirfd, "hostlink/secret.txt", 0, 0) == __WASI_ERRNO_NOTCAPABLE,
          "absolute symlink in the path", 0);
    check(open_raw(dirfd, "hostlink", 1, 0) == __WASI_ERRNO_NOTCAPABLE,
          "follow absolute symlink", 0);
    check(open_raw(dirfd, "hostlink", 0, 0) == __WASI_ERRNO_LOOP, "no-follow symlink is ELOOP", 0);
    check(symlink("../..", at(root, "inner/up")) == 0, "create a climbing symlink", errno);
    check(open_raw(dirfd, "inner/up/outside.txt", 0, 0) == __WASI_ERRNO_NOTCAPABLE,
          "relative symlink escape", 0);
    check(symlink("..", at(root, "inner/parent")) == 0, "create a symlink to the root", errno);
    check(open_raw(dirfd, "inner/parent/inner/file", 0, 0) == 0, "symlink within the sandbox", 0);
    errno = 0;
    check(symlink("/etc/passwd", at(root, "abs")) == -1 && errno == ENOTCAPABLE,
          "absolute symlink target refused", errno);
    check(symlink("loop2", at(root, "loop1")) == 0 && symlink("loop1", at(root, "loop2")) == 0,
          "create a symlink loop", errno);
    check(open_raw(dirfd, "loop1", 1, 0) == __WASI_ERRNO_LOOP, "symlink loop", 0);

    check(__wasi_path_create_directory(dirfd, "../newdir") == __WASI_ERRNO_NOTCAPABLE,
          "mkdir outside", 0);
    check(__wasi_path_unlink_file(dirfd, "../outside.txt") == __WASI_ERRNO_NOTCAPABLE,
          "unlink outside", 0);
    check(__wasi_path_unlink_file(dirfd, "inner/up/outside.txt") == __WASI_ERRNO_NOTCAPABLE,
          "unlink through a symlink", 0);
    check(__wasi_path_rename(dirfd, "inner/file", dirfd, "../stolen") == __WASI_ERRNO_NOTCAPABLE,
          "rename outside", 0);
    __wasi_filestat_t fst;
    check(__wasi_path_filestat_get(dirfd, 0, "../outside.txt", &fst) == __WASI_ERRNO_NOTCAPABLE,
          "stat outside", 0);
    check(__wasi_path_filestat_get(dirfd, __WASI_LOOKUPFLAGS_SYMLINK_FOLLOW, "hostlink", &fst) ==
              __WASI_ERRNO_NOTCAPABLE, "stat through an absolute symlink", 0);
    check(__wasi_path_link(dirfd, 0, "../outside.txt", dirfd, "copy") == __WASI_ERRNO_NOTCAPABLE,
          "hard link from outside", 0);
    errno = 0;
    check(open("/etc/passwd", O_RDONLY) == -1, "libc open of a host path fails", errno);
}

int main(int argc, char **argv) {
    const char *root = argc > 1 ? argv[1] : "/sandbox";
    file_checks(root);
    sandbox_checks(root);
    return failures;
}
