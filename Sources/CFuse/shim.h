#ifndef CFUSE_SHIM_H
#define CFUSE_SHIM_H
#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <errno.h>
#include <stdlib.h>

// fuse_session_new is a macro in newer libfuse; give Swift a real function.
static inline struct fuse_session *cfuse_session_new(struct fuse_args *args,
        const struct fuse_lowlevel_ops *ops, size_t op_size, void *userdata) {
    return fuse_session_new(args, ops, op_size, userdata);
}

// fuse_session_loop_mt is a macro that picks a versioned symbol.
static inline int cfuse_session_loop_mt(struct fuse_session *se, int clone_fd, unsigned int max_idle_threads) {
    struct fuse_loop_config config = { .clone_fd = clone_fd, .max_idle_threads = max_idle_threads };
    return fuse_session_loop_mt(se, &config);
}

// struct fuse_bufvec ends in a one-element array: allocate room for `count` buffers.
static inline struct fuse_bufvec *cfuse_bufvec_create(size_t count) {
    size_t extra = count > 1 ? (count - 1) * sizeof(struct fuse_buf) : 0;
    struct fuse_bufvec *vector = calloc(1, sizeof(struct fuse_bufvec) + extra);
    if (vector) vector->count = count;
    return vector;
}

static inline void cfuse_bufvec_set_fd(struct fuse_bufvec *vector, size_t index, int fd, off_t position, size_t size) {
    vector->buf[index].size = size;
    vector->buf[index].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
    vector->buf[index].fd = fd;
    vector->buf[index].pos = position;
}

static inline void cfuse_bufvec_set_memory(struct fuse_bufvec *vector, size_t index, void *memory, size_t size) {
    vector->buf[index].size = size;
    vector->buf[index].flags = 0;
    vector->buf[index].mem = memory;
}

// fuse_file_info's flags are bitfields; set them from C so every libfuse version agrees on the layout.
static inline void cfuse_file_info_set_cached(struct fuse_file_info *info, int keep_cache) {
    info->keep_cache = keep_cache ? 1 : 0;
    info->direct_io = 0;
}

static inline void cfuse_file_info_set_cache_readdir(struct fuse_file_info *info, int cache) {
    info->cache_readdir = cache ? 1 : 0;
}
#endif
