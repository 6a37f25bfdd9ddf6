#ifndef CFUSE_HANDOVER_H
#define CFUSE_HANDOVER_H
// What the mount's handover needs from C: descriptors passed over a Unix socket (SCM_RIGHTS, a macro family Swift
// cannot import), the peer's user, a detached holder process, and the resend notification.
#include <errno.h>
#include <spawn.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <unistd.h>

// 7.40 (Linux 6.9): FUSE_NOTIFY_RESEND: the kernel queues again every request read but not answered on any of the
// connection's descriptors, so the requests a crashed server took are served by the next one.
#define CFUSE_NOTIFY_RESEND 7

#define CFUSE_HANDOVER_MAX_DESCRIPTORS 64

// Sends `length` bytes and, with their first byte, `count` descriptors. Gives the bytes sent, or -errno.
static inline long cfuse_send_with_descriptors(int socket, const void *bytes, size_t length, const int *descriptors, int count) {
    if (count < 0 || count > CFUSE_HANDOVER_MAX_DESCRIPTORS) return -EINVAL;
    struct iovec vector = { .iov_base = (void *)bytes, .iov_len = length };
    union { char buffer[CMSG_SPACE(sizeof(int) * CFUSE_HANDOVER_MAX_DESCRIPTORS)]; struct cmsghdr align; } control;
    memset(&control, 0, sizeof(control));
    struct msghdr message = { .msg_iov = &vector, .msg_iovlen = 1 };
    if (count > 0) {
        message.msg_control = control.buffer;
        message.msg_controllen = CMSG_SPACE(sizeof(int) * count);
        struct cmsghdr *header = CMSG_FIRSTHDR(&message);
        header->cmsg_level = SOL_SOCKET;
        header->cmsg_type = SCM_RIGHTS;
        header->cmsg_len = CMSG_LEN(sizeof(int) * count);
        memcpy(CMSG_DATA(header), descriptors, sizeof(int) * count);
    }
    long sent;
    do { sent = sendmsg(socket, &message, MSG_NOSIGNAL); } while (sent < 0 && errno == EINTR);
    return sent >= 0 ? sent : -errno;
}

// Receives up to `length` bytes and the descriptors that came with them (close-on-exec), at most `capacity`;
// `*count` says how many. Descriptors beyond `capacity`, or of a truncated control message, are closed and the
// call fails with -EMSGSIZE. Gives the bytes received (0 at the end of the stream), or -errno.
static inline long cfuse_receive_with_descriptors(int socket, void *bytes, size_t length, int *descriptors, int capacity, int *count) {
    struct iovec vector = { .iov_base = bytes, .iov_len = length };
    union { char buffer[CMSG_SPACE(sizeof(int) * CFUSE_HANDOVER_MAX_DESCRIPTORS)]; struct cmsghdr align; } control;
    struct msghdr message = { .msg_iov = &vector, .msg_iovlen = 1, .msg_control = control.buffer, .msg_controllen = sizeof(control.buffer) };
    *count = 0;
    long received;
    do { received = recvmsg(socket, &message, MSG_CMSG_CLOEXEC); } while (received < 0 && errno == EINTR);
    if (received < 0) return -errno;
    int overflow = (message.msg_flags & MSG_CTRUNC) != 0;
    for (struct cmsghdr *header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
        if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
        int carried = (int)((header->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        int *passed = (int *)CMSG_DATA(header);
        for (int index = 0; index < carried; index++) {
            if (*count < capacity) descriptors[(*count)++] = passed[index]; else { close(passed[index]); overflow = 1; }
        }
    }
    if (overflow) {
        for (int index = 0; index < *count; index++) close(descriptors[index]);
        *count = 0;
        return -EMSGSIZE;
    }
    return received;
}

// The user id of the process at the other end of a Unix socket, or -1.
static inline long cfuse_peer_user(int socket) {
    // struct ucred is declared only under _GNU_SOURCE.
    struct { int32_t pid; uint32_t uid; uint32_t gid; } credentials;
    socklen_t size = sizeof(credentials);
    if (getsockopt(socket, SOL_SOCKET, SO_PEERCRED, &credentials, &size) != 0) return -1;
    return (long)credentials.uid;
}

// Binds a listening stream socket at `path` (at most 107 bytes). Gives the descriptor, or -errno.
static inline int cfuse_listen_unix(const char *path) {
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(address.sun_path)) return -ENAMETOOLONG;
    strcpy(address.sun_path, path);
    int descriptor = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (descriptor < 0) return -errno;
    if (bind(descriptor, (struct sockaddr *)&address, sizeof(address)) != 0 || listen(descriptor, 8) != 0) {
        int error = errno;
        close(descriptor);
        return -error;
    }
    return descriptor;
}

// Connects a stream socket to `path`. Gives the descriptor, or -errno.
static inline int cfuse_connect_unix(const char *path) {
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(address.sun_path)) return -ENAMETOOLONG;
    strcpy(address.sun_path, path);
    int descriptor = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (descriptor < 0) return -errno;
    int status;
    do { status = connect(descriptor, (struct sockaddr *)&address, sizeof(address)); } while (status != 0 && errno == EINTR);
    if (status != 0) {
        int error = errno;
        close(descriptor);
        return -error;
    }
    return descriptor;
}

// Starts `argv` in a session of its own (signals to the caller's process group do not reach it), with no
// descriptor of the caller's but stdin and stdout on /dev/null and stderr appended to `log_path`. Gives the pid, or
// -errno.
int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);
static inline int cfuse_spawn_detached(const char *path, char *const argv[], const char *log_path) {
    posix_spawn_file_actions_t actions;
    posix_spawnattr_t attributes;
    posix_spawn_file_actions_init(&actions);
    posix_spawnattr_init(&attributes);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, log_path, O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    posix_spawnattr_setflags(&attributes, 0x80 /* POSIX_SPAWN_SETSID */);
    extern char **environ;
    pid_t pid;
    int status = posix_spawn(&pid, path, &actions, &attributes, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    return status == 0 ? pid : -status;
}
#endif
