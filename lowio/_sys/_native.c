/* The cffi extension: thin wrappers around epoll, poll(2) and eventfd
 * (epoll_ctl itself is in _epoll_ctl.h, shared with the poll layer's
 * lowio/poll/_registry_core.c).
 *
 * Every function returns a non-negative result or -errno (never sets a Python
 * exception); the Python side in lowio/_sys/ turns -errno into OSError.
 * Events leave C in bulk: a wait packs each event as `token << 16 | flags`
 * into a uint64 array that Python reads through a memoryview.  The flag bits
 * are epoll's (EPOLLIN, EPOLLOUT, ...); poll(2) uses the same values on Linux.
 * cffi releases the GIL around every call, so a blocking wait lets other
 * threads run (and wake it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "_epoll_ctl.h"

_Static_assert(POLLIN == EPOLLIN && POLLPRI == EPOLLPRI && POLLOUT == EPOLLOUT
               && POLLERR == EPOLLERR && POLLHUP == EPOLLHUP
               && POLLRDHUP == EPOLLRDHUP,
               "poll(2) and epoll flag bits must agree");

#define LOWIO_FLAG_BITS 16
#define LOWIO_FLAG_MASK 0xFFFFu
/* Tokens are below 2**LOWIO_TOKEN_BITS: a packed value then fits in 63 bits
 * (a non-negative int64 for every language and struct format). */
#define LOWIO_TOKEN_BITS (63 - LOWIO_FLAG_BITS)
/* A result far outside the errno range: another thread is already waiting
 * on the same poller (LOWIO_EBLOCKING, in _epoll_ctl.h, is the other). */
#define LOWIO_EBUSY_WAIT (-100000)

/* Output buffer of lowio.poll.Events, and the argument of a wait: the hot
 * call takes this one pointer (a cffi call with several arguments costs
 * about twice as much as one with a single argument).
 *
 * Besides the packed values, a wait writes for each event the id of the
 * Python Event object for that value, found in an intern table that Python
 * fills (keys: packed values, 0 = empty; linear probing).  Ids are small
 * ints, which CPython does not allocate, so iterating allocates nothing.
 * An id of 0 means "not interned yet"; the wait then adds LOWIO_MISSES to
 * its result and Python interns the new values. */
struct lowio_events {
    uint64_t *out;                 /* packed token << 16 | flags */
    uint32_t *ids;                 /* id of each event's Event object */
    struct epoll_event *scratch;   /* epoll_wait's own buffer */
    uint64_t *keys;                /* intern table: packed values */
    uint32_t *vals;                /* intern table: ids */
    uint32_t table_mask;           /* table size - 1 (a power of two); 0: the
                                      caller decodes packed values itself and
                                      no ids are looked up */
    int capacity;
    int timeout_ms;                /* in: -1 blocks, 0 polls */
    struct lowio_epoll *ep;        /* in: the poller (epoll waits only) */
};

#define LOWIO_MISSES (1 << 24)     /* > any capacity; set in every -errno too */

/* The intern-table slot that holds `packed`, or the empty slot where it
 * belongs (the table is never more than half full).  Also called by Python
 * when it interns a value, so both sides probe the same way. */
static uint32_t lowio_find_slot(struct lowio_events *ev, uint64_t packed)
{
    uint32_t h = (uint32_t)((packed * 0x9E3779B97F4A7C15ull) >> 32) & ev->table_mask;
    while (ev->keys[h] != 0 && ev->keys[h] != packed)
        h = (h + 1) & ev->table_mask;
    return h;
}

/* Stores event i and looks its Event id up; returns 1 on a miss. */
static inline int lowio_put(struct lowio_events *ev, int i, uint64_t packed)
{
    uint32_t h;
    ev->out[i] = packed;
    if (ev->table_mask == 0)
        return 0;
    h = lowio_find_slot(ev, packed);
    if (ev->keys[h] == packed) {
        ev->ids[i] = ev->vals[h];
        return 0;
    }
    ev->ids[i] = 0;
    return 1;
}

static int lowio_epoll_create(void)
{
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

/* A prepared EPOLL_CTL_MOD: event loops re-arm an edge-triggered fd before
 * each wait, so that hot call takes one pointer (see struct lowio_events).
 * It holds the poller, not its fd number: once the Poll is closed (epfd -1)
 * it fails with EBADF instead of reaching whatever reuses the number. */
struct lowio_rearm {
    struct lowio_epoll *ep;
    int fd;
    uint32_t events;
    uint64_t token;
};

static int lowio_epoll_rearm(struct lowio_rearm *r)
{
    struct epoll_event ev;
    int epfd = r->ep->epfd;
    if (epfd < 0)
        return -EBADF;
    ev.events = r->events;
    ev.data.u64 = r->token;
    return epoll_ctl(epfd, EPOLL_CTL_MOD, r->fd, &ev) < 0 ? -errno : 0;
}

static int lowio_epoll_wait_ms(struct lowio_events *ev, int timeout_ms)
{
    int i, n, err = 0, misses = 0;
    struct lowio_epoll *ep = ev->ep;
    if (__atomic_exchange_n(&ep->busy, 1, __ATOMIC_ACQUIRE))
        return LOWIO_EBUSY_WAIT;
    n = epoll_wait(ep->epfd, ev->scratch, ev->capacity, timeout_ms);
    if (n < 0)
        err = errno;
    for (i = 0; i < n; i++)
        misses |= lowio_put(ev, i, (ev->scratch[i].data.u64 << LOWIO_FLAG_BITS)
                                   | (ev->scratch[i].events & LOWIO_FLAG_MASK));
    __atomic_store_n(&ep->busy, 0, __ATOMIC_RELEASE);
    return n < 0 ? -err : (misses ? n | LOWIO_MISSES : n);
}

/* Waits ev->timeout_ms. */
static int lowio_epoll_wait(struct lowio_events *ev)
{
    return lowio_epoll_wait_ms(ev, ev->timeout_ms);
}

/* Polls without waiting (the commonest call of a busy event loop). */
static int lowio_epoll_wait0(struct lowio_events *ev)
{
    return lowio_epoll_wait_ms(ev, 0);
}

/* Waits with no timeout, whatever ev->timeout_ms says (an event loop with
 * nothing timed: its prepared wait takes no timeout to write first). */
static int lowio_epoll_wait_forever(struct lowio_events *ev)
{
    return lowio_epoll_wait_ms(ev, -1);
}

/* ---- poll(2) with edge-triggered emulation --------------------------------
 *
 * fds[0] is the selector's own eventfd, written by other threads when they
 * change the registrations (or wake the poller).  For every other entry,
 * `wanted` holds the requested bits and `armed` the bits that may still be
 * reported: a requested bit, plus POLLERR and POLLHUP, which poll(2)
 * reports whether asked or not.  As in mio's poll selector, an EDGE entry
 * loses only the bits it just reported until the source is reregistered
 * (so a peer's shutdown is still reported after an undrained read event); a
 * ONESHOT entry loses all of them.  An entry that can report nothing more
 * has its fd negated, so poll(2) skips it.
 *
 * poll(2) reports only the bits asked for, so the event of an EDGE entry
 * that has lost some bits would lack them (a shutdown would read as
 * RDHUP without IN).  Such entries are asked again, all at once, for their
 * full readiness with a zero timeout: as with epoll, an event carries the
 * full current readiness of what was requested.
 *
 * `reported[k]` names the fd of event k (negated, -fd - 1, unless it was
 * asked again), for the Python side, which drops the events of sources
 * whose registration changed during the wait.
 *
 * epoll forgets a registration when its file is closed; poll(2) knows only
 * fd numbers, and a number closed without deregister may name another
 * file by the next wait.  So an entry that fires is reported only if its fd
 * still names the registered file (`dev`, `ino`: one fstat per event);
 * otherwise it is forgotten, as a closed fd (POLLNVAL) is.
 */
#define LOWIO_MODE_EDGE 0
#define LOWIO_MODE_LEVEL 1
#define LOWIO_MODE_ONESHOT 2

struct lowio_pollset {
    struct pollfd *fds;
    uint64_t *tokens;
    uint32_t *wanted;
    uint32_t *armed;
    uint8_t *modes;
    uint64_t *dev;   /* the registered file: st_dev and st_ino */
    uint64_t *ino;
    struct pollfd *reported;  /* out: one per event (as many entries as fds) */
    int nfds;        /* entries in use, including fds[0] */
    int cursor;      /* where the next scan starts, for fairness */
    int busy;
    int notified;    /* out: fds[0] was readable (and has been drained) */
};

static void lowio_pollset_quiet(struct pollfd *p)
{
    if (p->fd >= 0)
        p->fd = -p->fd - 1;
}

/* 1 if entry i's fd still names the file it was registered for. */
static int lowio_pollset_same_file(struct lowio_pollset *ps, int i)
{
    struct stat st;
    return fstat(ps->fds[i].fd, &st) == 0 && (uint64_t)st.st_dev == ps->dev[i]
           && (uint64_t)st.st_ino == ps->ino[i];
}

/* Adds to each asked-again event the full readiness poll(2) reports now. */
static void lowio_pollset_recheck(struct lowio_pollset *ps, struct lowio_events *ev, int k)
{
    int j;
    if (poll(ps->reported, (nfds_t)k, 0) <= 0)
        return;  /* keeps what the first poll said */
    for (j = 0; j < k; j++) {
        uint32_t re = (uint32_t)ps->reported[j].revents;
        if (ps->reported[j].fd >= 0 && !(re & POLLNVAL))
            ev->out[j] |= re & LOWIO_FLAG_MASK;
    }
}

static int lowio_pollset_wait(struct lowio_pollset *ps, struct lowio_events *ev)
{
    int n, j, k = 0, err = 0, count, last = -1, misses = 0, partial = 0;
    uint64_t drain;
    if (__atomic_exchange_n(&ps->busy, 1, __ATOMIC_ACQUIRE))
        return LOWIO_EBUSY_WAIT;
    ps->notified = 0;
    n = poll(ps->fds, (nfds_t)ps->nfds, ev->timeout_ms);
    if (n < 0) {
        err = errno;
        n = 0;
    }
    if (n > 0 && ps->fds[0].revents) {
        ps->notified = 1;
        while (read(ps->fds[0].fd, &drain, sizeof drain) == (ssize_t)sizeof drain)
            ;
    }
    count = ps->nfds - 1;
    for (j = 0; n > 0 && j < count; j++) {
        int i = 1 + (ps->cursor + j) % count, fd, ask_again;
        struct pollfd *p = &ps->fds[i];
        uint32_t fire, re = (uint32_t)p->revents;
        if (!re)
            continue;
        if ((re & POLLNVAL) || !lowio_pollset_same_file(ps, i)) {
            /* closed without deregister: forget it quietly, as epoll does */
            p->revents = 0;
            lowio_pollset_quiet(p);
            ps->armed[i] = 0;
            continue;
        }
        fire = ps->modes[i] == LOWIO_MODE_LEVEL ? re : (re & ps->armed[i]);
        if (fire && k == ev->capacity)
            break;  /* left armed: reported on a later call */
        fd = p->fd;
        ask_again = fire && (ps->armed[i] & ps->wanted[i]) != ps->wanted[i];
        p->revents = 0;
        if (ps->modes[i] == LOWIO_MODE_ONESHOT && fire)
            ps->armed[i] = 0;
        else if (ps->modes[i] == LOWIO_MODE_EDGE)
            ps->armed[i] &= ~re;
        p->events = (short)(ps->armed[i] & ~(uint32_t)(POLLERR | POLLHUP));
        if (ps->modes[i] != LOWIO_MODE_LEVEL
            && (ps->armed[i] == 0 || (re & ~ps->armed[i] & (POLLERR | POLLHUP))))
            lowio_pollset_quiet(p);  /* would only repeat what was reported */
        if (fire) {
            ev->out[k] = (ps->tokens[i] << LOWIO_FLAG_BITS) | (re & LOWIO_FLAG_MASK);
            ps->reported[k].fd = ask_again ? fd : -fd - 1;
            ps->reported[k].events = (short)ps->wanted[i];
            ps->reported[k].revents = 0;
            partial |= ask_again;
            k++;
            last = i;
        }
    }
    if (partial)
        lowio_pollset_recheck(ps, ev, k);
    for (j = 0; j < k; j++)
        misses |= lowio_put(ev, j, ev->out[j]);
    if (last > 0)
        ps->cursor = last % count;
    __atomic_store_n(&ps->busy, 0, __ATOMIC_RELEASE);
    return err ? -err : (misses ? k | LOWIO_MISSES : k);
}

/* ---- sources and eventfd ------------------------------------------------- */

#define LOWIO_SOURCE_OK 0
#define LOWIO_SOURCE_REGULAR 1   /* regular file or directory: never pollable */
#define LOWIO_SOURCE_BLOCKING 2  /* a socket without O_NONBLOCK */

/* Classifies an fd before registration; -errno (EBADF) if it is not open. */
static int lowio_check_source(int fd, uint64_t *ident)
{
    struct stat st;
    int fl;
    if (fstat(fd, &st) < 0)
        return -errno;
    ident[0] = (uint64_t)st.st_dev;
    ident[1] = (uint64_t)st.st_ino;
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
        return LOWIO_SOURCE_REGULAR;
    if (S_ISSOCK(st.st_mode)) {
        fl = fcntl(fd, F_GETFL);
        if (fl < 0)
            return -errno;
        if (!(fl & O_NONBLOCK))
            return LOWIO_SOURCE_BLOCKING;
    }
    return LOWIO_SOURCE_OK;
}

static int lowio_eventfd(void)
{
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return fd < 0 ? -errno : fd;
}

/* Adds one to the counter; on the (astronomically rare) overflow, resets it
 * and retries, as mio's waker does. */
static int lowio_eventfd_wake(int fd)
{
    uint64_t one = 1, sink;
    for (;;) {
        if (write(fd, &one, sizeof one) == (ssize_t)sizeof one)
            return 0;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return -errno;
        if (read(fd, &sink, sizeof sink) < 0 && errno != EAGAIN)
            return -errno;
    }
}
