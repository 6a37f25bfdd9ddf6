#ifndef CFUSE_KERNEL_H
#define CFUSE_KERNEL_H
// The FUSE kernel protocol, spoken on the /dev/fuse descriptor by MantaFS itself. The structures come from the
// kernel's uapi header (Debian's linux-libc-dev carries protocol 7.38); what 7.38 lacks is declared below from the
// kernel's documented ABI (include/uapi/linux/fuse.h), each with the protocol version it appeared in. Newer kernels
// only ever append fields and flags, so these declarations stay valid.
#include <linux/fuse.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <errno.h>

// lseek's whence values for LSEEK requests (glibc defines them only under _GNU_SOURCE).
#define CFUSE_SEEK_DATA 3
#define CFUSE_SEEK_HOLE 4

// 7.40 (Linux 6.9): the server may pass reads and mmaps of an open file through to a backing file.
#define CFUSE_PASSTHROUGH (1ULL << 37)
// 7.40: fuse_open_out.open_flags: the open file is passed through to the backing file named by backing_id.
#define CFUSE_FOPEN_PASSTHROUGH (1u << 7)

// fuse_init_out as of 7.40: max_stack_depth (the file-system stacking depth of backing files, at most 2) took the
// first of the unused words after flags2.
struct cfuse_init_out {
    uint32_t major;
    uint32_t minor;
    uint32_t max_readahead;
    uint32_t flags;
    uint16_t max_background;
    uint16_t congestion_threshold;
    uint32_t max_write;
    uint32_t time_gran;
    uint16_t max_pages;
    uint16_t map_alignment;
    uint32_t flags2;
    uint32_t max_stack_depth;
    uint32_t unused[6];
};
_Static_assert(sizeof(struct cfuse_init_out) == sizeof(struct fuse_init_out), "fuse_init_out grew");

// fuse_open_out as of 7.40: the padding became backing_id.
struct cfuse_open_out {
    uint64_t fh;
    uint32_t open_flags;
    int32_t backing_id;
};
_Static_assert(sizeof(struct cfuse_open_out) == sizeof(struct fuse_open_out), "fuse_open_out changed");

// 7.40: the argument of FUSE_DEV_IOC_BACKING_OPEN.
struct cfuse_backing_map {
    int32_t fd;
    uint32_t flags;
    uint64_t padding;
};

// Ioctl numbers are macros Swift cannot import: each ioctl gets a function, returning -errno on failure.
// FUSE_DEV_IOC_CLONE (7.22): attaches a fresh /dev/fuse descriptor to the connection of `session_fd`, so that
// each reader thread has its own queue of requests in processing.
static inline int cfuse_clone(int fd, uint32_t session_fd) {
    return ioctl(fd, FUSE_DEV_IOC_CLONE, &session_fd) == 0 ? 0 : -errno;
}

// FUSE_DEV_IOC_BACKING_OPEN (7.40): registers `backing_fd` with the connection; gives the backing id (> 0).
static inline int cfuse_backing_open(int fd, int backing_fd) {
    struct cfuse_backing_map map = { .fd = backing_fd, .flags = 0, .padding = 0 };
    int id = ioctl(fd, _IOW(FUSE_DEV_IOC_MAGIC, 1, struct cfuse_backing_map), &map);
    return id >= 0 ? id : -errno;
}

// FUSE_DEV_IOC_BACKING_CLOSE (7.40): forgets a backing id; files opened with it keep their backing file.
static inline int cfuse_backing_close(int fd, uint32_t backing_id) {
    return ioctl(fd, _IOW(FUSE_DEV_IOC_MAGIC, 2, uint32_t), &backing_id) == 0 ? 0 : -errno;
}
// The stacking depth a backing file on the file system of `path` needs (FILESYSTEM_MAX_STACK_DEPTH is 2): 2 on
// a stacked file system (overlayfs, as in most containers, or ecryptfs), else 1. The kernel refuses backing files
// deeper than the depth agreed at INIT (ELOOP), and a mount of depth 2 cannot itself be stacked upon.
#include <sys/vfs.h>
static inline uint32_t cfuse_backing_stack_depth(const char *path) {
    struct statfs information;
    if (statfs(path, &information) != 0) return 2;
    return (information.f_type == 0x794c7630 || information.f_type == 0xf15f) ? 2 : 1;
}
// Puts `length` bytes of `source` at `source_offset` into `target` at `target_offset`: shared extents where the
// file system has reflinks (FICLONERANGE: btrfs, XFS, bcachefs), else copy_file_range (which itself shares extents
// where it can, and copies inside the kernel where not). Gives the bytes placed, or -errno.
#include <unistd.h>
#include <sys/syscall.h>
struct cfuse_file_clone_range {
    int64_t src_fd;
    uint64_t src_offset;
    uint64_t src_length;
    uint64_t dest_offset;
};
static inline int cfuse_reflink_range(int target, int source, uint64_t source_offset, uint64_t length, uint64_t target_offset) {
    struct cfuse_file_clone_range range = { source, source_offset, length, target_offset };
    return ioctl(target, _IOW(0x94, 13, struct cfuse_file_clone_range), &range) == 0 ? 0 : -errno;
}
static inline long cfuse_copy_range(int source, int64_t source_offset, int target, int64_t target_offset, size_t length) {
    long copied = syscall(SYS_copy_file_range, source, &source_offset, target, &target_offset, length, 0);
    return copied >= 0 ? copied : -errno;
}
#endif
