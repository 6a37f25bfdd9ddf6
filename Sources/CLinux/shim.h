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
#endif
