/* The C reference echo server of ``python -m benchmarks`` (contender
 * "c-reference" of the echo workloads): the ceiling a Python server can be
 * compared with.  Compiled at benchmark time with the system C compiler
 * into the load generator's cache directory (benchmarks/loadgen.py); never
 * committed as a binary.
 *
 *   echo_ref CPU
 *
 * Pins itself to CPU (-1: no pinning), raises its RLIMIT_NOFILE soft limit
 * to the hard limit, listens on 127.0.0.1 port 0, prints the port on a line
 * of its own and serves until it is killed.  One thread, one epoll set in
 * edge-triggered mode: the listener and every connection are registered
 * once (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET); on an event a
 * connection reads (recv into a 64 KiB buffer) and writes back what it read
 * until a call says EAGAIN, keeping the unsent rest for the next EPOLLOUT
 * edge, and closes on end of file or error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF 65536
#define MAX_EVENTS 256

struct conn {
    int fd;
    size_t off, len; /* unsent bytes: buf[off:len] */
    unsigned char buf[BUF];
};

static void die(const char *what) {
    perror(what);
    exit(1);
}

static void drop(struct conn *c) {
    close(c->fd); /* also removes it from the epoll set */
    free(c);
}

/* Echoes until a read or a write would block; 0 when the connection is done. */
static int serve(struct conn *c) {
    for (;;) {
        while (c->off < c->len) {
            ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EAGAIN || errno == EWOULDBLOCK) return 1;
                if (errno == EINTR) continue;
                return 0;
            }
            c->off += (size_t)n;
        }
        ssize_t n = recv(c->fd, c->buf, BUF, 0);
        if (n == 0) return 0;
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 1;
            if (errno == EINTR) continue;
            return 0;
        }
        c->off = 0;
        c->len = (size_t)n;
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: echo_ref CPU\n");
        return 2;
    }
    int cpu = atoi(argv[1]);
    if (cpu >= 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) < 0) die("sched_setaffinity");
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0) die("socket");
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0) die("bind");
    if (listen(lfd, 4096) < 0) die("listen");
    socklen_t alen = sizeof addr;
    if (getsockname(lfd, (struct sockaddr *)&addr, &alen) < 0) die("getsockname");

    int epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) die("epoll_create1");
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.ptr = NULL};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &ev) < 0) die("epoll_ctl");

    printf("%d\n", ntohs(addr.sin_port));
    fflush(stdout);

    struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(epfd, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c != NULL) {
                if (!serve(c)) drop(c);
                continue;
            }
            for (;;) { /* the listener: accept until EAGAIN */
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                    if (errno == EINTR || errno == ECONNABORTED) continue;
                    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
                    if (errno == EMFILE || errno == ENFILE) break;
                    die("accept4");
                }
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                c = malloc(sizeof *c);
                if (c == NULL) die("malloc");
                c->fd = fd;
                c->off = c->len = 0;
                struct epoll_event cev = {
                    .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
                if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &cev) < 0) die("epoll_ctl");
                if (!serve(c)) drop(c); /* data may have arrived before the ADD */
            }
        }
    }
}
