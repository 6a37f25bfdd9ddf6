#ifndef CFUSE_SHIM_H
#define CFUSE_SHIM_H
#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
#include <sys/stat.h>
#include <errno.h>

// fuse_session_new is a macro in newer libfuse; give Swift a real function.
static inline struct fuse_session *cfuse_session_new(struct fuse_args *args,
        const struct fuse_lowlevel_ops *ops, size_t op_size, void *userdata) {
    return fuse_session_new(args, ops, op_size, userdata);
}
#endif
