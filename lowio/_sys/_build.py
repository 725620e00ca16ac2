"""cffi (API mode) build script for ``lowio._sys._native``.

Run by setuptools through ``cffi_modules`` in ``setup.py``; it compiles
``_native.c`` with the system C compiler.  Only ``lowio/_sys`` talks to C.
"""

from __future__ import annotations

import pathlib

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent

CDEF = """
#define EPOLLIN ...
#define EPOLLPRI ...
#define EPOLLOUT ...
#define EPOLLERR ...
#define EPOLLHUP ...
#define EPOLLRDHUP ...
#define EPOLLET ...
#define EPOLLONESHOT ...
#define EPOLLEXCLUSIVE ...
#define EPOLLWAKEUP ...
#define EPOLL_CTL_ADD ...
#define EPOLL_CTL_MOD ...
#define EPOLL_CTL_DEL ...
#define LOWIO_FLAG_BITS ...
#define LOWIO_TOKEN_BITS ...
#define LOWIO_EBUSY_WAIT ...
#define LOWIO_EBLOCKING ...
#define LOWIO_CTL_ANY_SOURCE ...
#define LOWIO_MISSES ...
#define LOWIO_MODE_EDGE ...
#define LOWIO_MODE_LEVEL ...
#define LOWIO_MODE_ONESHOT ...
#define LOWIO_SOURCE_REGULAR ...
#define LOWIO_SOURCE_BLOCKING ...

struct epoll_event { ...; };
struct pollfd { int fd; short events; short revents; };

struct lowio_epoll { int epfd; int busy; };
struct lowio_rearm { struct lowio_epoll *ep; int fd; uint32_t events; uint64_t token; };
struct lowio_events {
    uint64_t *out;
    uint32_t *ids;
    struct epoll_event *scratch;
    uint64_t *keys;
    uint32_t *vals;
    uint32_t table_mask;
    int capacity;
    int timeout_ms;
    struct lowio_epoll *ep;
};
struct lowio_pollset {
    struct pollfd *fds;
    uint64_t *tokens;
    uint32_t *wanted;
    uint32_t *armed;
    uint8_t *modes;
    uint64_t *dev;
    uint64_t *ino;
    struct pollfd *reported;
    int nfds;
    int cursor;
    int busy;
    int notified;
};

int lowio_epoll_create(void);
int lowio_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t token);
int lowio_epoll_rearm(struct lowio_rearm *r);
int lowio_epoll_wait(struct lowio_events *ev);
int lowio_epoll_wait0(struct lowio_events *ev);
int lowio_epoll_wait_forever(struct lowio_events *ev);
uint32_t lowio_find_slot(struct lowio_events *ev, uint64_t packed);
int lowio_pollset_wait(struct lowio_pollset *ps, struct lowio_events *ev);
int lowio_check_source(int fd, uint64_t *ident);
int lowio_eventfd(void);
int lowio_eventfd_wake(int fd);
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source(
    "lowio._sys._native",
    (HERE / "_native.c").read_text(),
    include_dirs=[str(HERE)],  # _epoll_ctl.h
    depends=[str(HERE / "_native.c"), str(HERE / "_epoll_ctl.h")],
    extra_compile_args=["-O2", "-std=gnu11"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
