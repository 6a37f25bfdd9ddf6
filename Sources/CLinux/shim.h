#ifndef CLINUX_SHIM_H
#define CLINUX_SHIM_H
#include <stdint.h>

// GNU extensions of glibc that Swift's Glibc module does not expose (it is built without _GNU_SOURCE).
int syncfs(int fd);
int sync_file_range(int fd, int64_t offset, int64_t nbytes, unsigned int flags);

/// Flushes every dirty page and inode of the file system holding `fd`: one journal commit.
static inline int clinux_syncfs(int fd) { return syncfs(fd); }

/// Starts write-back of the file's dirty pages without waiting for it (SYNC_FILE_RANGE_WRITE).
static inline int clinux_start_writeback(int fd) { return sync_file_range(fd, 0, 0, 2); }

/// The file system type (`statfs`'s f_type magic) of `path`, or -1.
#include <sys/vfs.h>
static inline long clinux_filesystem_type(const char *path) {
    struct statfs information;
    return statfs(path, &information) == 0 ? (long)information.f_type : -1;
}

// O_DIRECT's value differs by architecture, and glibc defines it only under _GNU_SOURCE.
#include <fcntl.h>
#ifndef O_DIRECT
#if defined(__aarch64__) || defined(__arm__)
#define O_DIRECT 0200000
#else
#define O_DIRECT 040000
#endif
#endif

/// Sets or clears O_DIRECT (writes that bypass the page cache) on an open file.
static inline int clinux_set_direct(int fd, int on) {
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, on ? (flags | O_DIRECT) : (flags & ~O_DIRECT));
}
#endif
