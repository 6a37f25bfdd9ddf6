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

// Passthrough copies under a quota (MantaStore `Store+PassthroughCopies`).
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/fiemap.h>
#define CLINUX_F_SETSIG 10
#define CLINUX_F_SETLEASE 1024
#define CLINUX_FS_IOC_FIEMAP _IOWR('f', 11, struct fiemap)

/// Takes a write lease on `fd`, which the kernel grants only while no other open file refers to the inode, the
/// files the kernel itself holds for a FUSE passthrough included: 0, or -errno (EAGAIN: open elsewhere). Closing
/// `fd` ends the lease. An open that breaks it is signalled with SIGURG (ignored unless handled), not SIGIO (which
/// would end the process).
static inline int clinux_take_write_lease(int fd) {
    if (fcntl(fd, CLINUX_F_SETSIG, SIGURG) != 0) return -errno;
    return fcntl(fd, CLINUX_F_SETLEASE, F_WRLCK) == 0 ? 0 : -errno;
}

/// Bytes of the file's extents that other files share too (reflinks, FICLONERANGE), by FIEMAP; 0 where the file
/// system cannot tell.
static inline uint64_t clinux_shared_extent_bytes(int fd) {
    enum { batch = 64 };
    struct { struct fiemap map; struct fiemap_extent extents[batch]; } request;
    uint64_t shared = 0, start = 0;
    for (;;) {
        memset(&request, 0, sizeof request);
        request.map.fm_start = start;
        request.map.fm_length = FIEMAP_MAX_OFFSET - start;
        request.map.fm_extent_count = batch;
        if (ioctl(fd, CLINUX_FS_IOC_FIEMAP, &request.map) != 0 || request.map.fm_mapped_extents == 0) return shared;
        uint32_t mapped = request.map.fm_mapped_extents < batch ? request.map.fm_mapped_extents : batch;
        for (uint32_t index = 0; index < mapped; index++) {
            struct fiemap_extent *extent = &request.extents[index];
            if (extent->fe_flags & FIEMAP_EXTENT_SHARED) shared += extent->fe_length;
            if (extent->fe_flags & FIEMAP_EXTENT_LAST) return shared;
        }
        struct fiemap_extent *last = &request.extents[mapped - 1];
        if (last->fe_logical + last->fe_length <= start) return shared;
        start = last->fe_logical + last->fe_length;
    }
}
#endif
