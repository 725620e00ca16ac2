/* epoll_ctl with lowio's source checks, shared by _native.c (the cffi
 * extension) and lowio/poll/_registry_core.c (the Registry methods in C),
 * which includes it as the platform layer's way to call epoll_ctl.
 * Returns 0 or -errno, never sets a Python error.
 */
#ifndef LOWIO_EPOLL_CTL_H
#define LOWIO_EPOLL_CTL_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>

/* A result far outside the errno range: a socket to register is in
 * blocking mode. */
#define LOWIO_EBLOCKING (-100001)

/* One epoll instance. `busy` guards against two threads waiting at once;
 * `epfd` is -1 once the Poll is closed (or the process forked). */
struct lowio_epoll {
    int epfd;
    int busy;
};

/* 1 if `fd` is a socket in blocking mode, 0 if not, -errno on error. */
static inline int lowio_is_blocking_socket(int fd)
{
    int fl, type;
    socklen_t len = sizeof type;
    fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    if (fl & O_NONBLOCK)
        return 0;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
        return errno == ENOTSOCK ? 0 : -errno;
    return 1;
}

/* EPOLL_CTL_ADD first refuses sockets in blocking mode (LOWIO_EBLOCKING):
 * edge-triggered readiness needs reads and writes that stop at EAGAIN.
 * `op | LOWIO_CTL_ANY_SOURCE` skips that check (the runtime's wait_readable
 * accepts blocking sockets, as trio's does: it never reads them itself). */
#define LOWIO_CTL_ANY_SOURCE 0x100
static inline int lowio_epoll_ctl(int epfd, int op, int fd, uint32_t events,
                                  uint64_t token)
{
    struct epoll_event ev;
    if (op & LOWIO_CTL_ANY_SOURCE) {
        op &= ~LOWIO_CTL_ANY_SOURCE;
    } else if (op == EPOLL_CTL_ADD) {
        int blocking = lowio_is_blocking_socket(fd);
        if (blocking < 0)
            return blocking;
        if (blocking)
            return LOWIO_EBLOCKING;
    }
    ev.events = events;
    ev.data.u64 = token;
    return epoll_ctl(epfd, op, fd, op == EPOLL_CTL_DEL ? NULL : &ev) < 0 ? -errno : 0;
}

#endif
