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

// fuse_file_info's flags are bitfields; set them from C so every libfuse version agrees on the layout.
static inline void cfuse_file_info_set_cached(struct fuse_file_info *info, int keep_cache) {
    info->keep_cache = keep_cache ? 1 : 0;
    info->direct_io = 0;
}

static inline void cfuse_file_info_set_cache_readdir(struct fuse_file_info *info, int cache) {
    info->cache_readdir = cache ? 1 : 0;
}
#endif
