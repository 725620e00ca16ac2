/* The TCP echo load generator of ``python -m benchmarks`` (workloads echo,
 * syscalls, idle).  Compiled at benchmark time with the system C compiler
 * into a cache directory (benchmarks/loadgen.py); never committed as a
 * binary.
 *
 *   loadgen HOST PORT CONNS SIZE SECONDS COUNT SERVER_PID CPU
 *
 * Opens CONNS TCP connections to HOST:PORT (TCP_NODELAY), does one warm-up
 * round trip on each (so the server has accepted them all), then every
 * connection plays ping-pong: it sends a SIZE-byte message, reads SIZE bytes
 * back and compares every one of them with what it sent (each message has
 * its own content: a window on a pattern shifted by the connection and the
 * message number), then sends the next.  The measured window lasts SECONDS
 * (COUNT = 0) or until COUNT round trips in all have been started
 * (COUNT > 0); after it no new message starts and the ones in flight are
 * finished and counted.  CPU is the CPU to pin this process to (-1: none).
 *
 * Prints one JSON object: round trips, the window's wall time, this
 * process's CPU time (getrusage), and the server's CPU time over the same
 * window read from /proc/SERVER_PID: utime+stime of /proc/PID/stat (clock
 * ticks) and the nanoseconds of /proc/PID/task/{tid}/schedstat summed over
 * its threads (0 when the kernel has no schedstat).  Exit status 1 with a
 * message on stderr if a byte differs, a connection closes early or a
 * system call fails.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

struct conn {
    int fd;
    uint64_t seq;      /* message number on this connection */
    size_t sent;       /* bytes of the current message written */
    size_t received;   /* bytes of the current message read back and checked */
    int active;        /* a message is in flight */
    int want_out;      /* EPOLLOUT is in the interest set */
    const unsigned char *msg;
};

static unsigned char *pattern;
static size_t size;
static unsigned char *rbuf;
static size_t rbuf_size;
static int epfd;

static void die(const char *what) {
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void fail(const char *msg, long a, long b) {
    fprintf(stderr, "loadgen: ");
    fprintf(stderr, msg, a, b);
    fprintf(stderr, "\n");
    exit(1);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu_self(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1e-6;
}

/* utime + stime (clock ticks) of a process, -1 if unreadable */
static long long server_ticks(long pid) {
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (!p) return -1;
    unsigned long long utime = 0, stime = 0;
    /* after ")": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt
       majflt cmajflt utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
               &stime) != 2)
        return -1;
    return (long long)(utime + stime);
}

/* on-CPU nanoseconds of all the threads of a process, 0 if unknown */
static long long server_ns(long pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/task", pid);
    DIR *d = opendir(path);
    if (!d) return 0;
    long long total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char p2[320];
        snprintf(p2, sizeof p2, "/proc/%ld/task/%s/schedstat", pid, e->d_name);
        FILE *f = fopen(p2, "r");
        if (!f) continue;
        long long ns = 0;
        if (fscanf(f, "%lld", &ns) == 1) total += ns;
        fclose(f);
    }
    closedir(d);
    return total;
}

static void set_out(struct conn *c, int want) {
    if (c->want_out == want) return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl");
    c->want_out = want;
}

static void start_message(struct conn *c, long index) {
    c->msg = pattern + ((c->seq * 13 + (uint64_t)index * 7) & 255);
    c->sent = 0;
    c->received = 0;
    c->active = 1;
}

/* writes what the socket takes of the current message */
static void pump_out(struct conn *c) {
    while (c->sent < size) {
        ssize_t n = send(c->fd, c->msg + c->sent, size - c->sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_out(c, 1);
                return;
            }
            if (errno == EINTR) continue;
            die("send");
        }
        c->sent += (size_t)n;
    }
    set_out(c, 0);
}

/* reads and checks what arrived; returns 1 when the round trip completed */
static int pump_in(struct conn *c, long index) {
    for (;;) {
        ssize_t n = recv(c->fd, rbuf, rbuf_size, 0);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            if (errno == EINTR) continue;
            die("recv");
        }
        if (n == 0) fail("connection %ld closed by the server after %ld bytes", index,
                         (long)c->received);
        if (!c->active || c->received + (size_t)n > c->sent)
            fail("connection %ld: %ld bytes arrived that were never sent", index, (long)n);
        if (memcmp(rbuf, c->msg + c->received, (size_t)n) != 0) {
            size_t i = 0;
            while (rbuf[i] == c->msg[c->received + i]) i++;
            fail("connection %ld: wrong byte at offset %ld of the echo", index,
                 (long)(c->received + i));
        }
        c->received += (size_t)n;
        if (c->received == size) {
            c->active = 0;
            c->seq++;
            return 1;
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 9) {
        fprintf(stderr, "usage: loadgen HOST PORT CONNS SIZE SECONDS COUNT SERVER_PID CPU\n");
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    long nconns = atol(argv[3]);
    size = (size_t)atol(argv[4]);
    double seconds = atof(argv[5]);
    long long count = atoll(argv[6]);
    long server_pid = atol(argv[7]);
    int cpu = atoi(argv[8]);
    if (nconns < 1 || size < 1 || (seconds <= 0 && count <= 0)) {
        fprintf(stderr, "loadgen: bad arguments\n");
        return 2;
    }
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

    pattern = malloc(size + 256);
    rbuf_size = size < 65536 ? size : 65536;
    rbuf = malloc(rbuf_size);
    struct conn *conns = calloc((size_t)nconns, sizeof *conns);
    if (!pattern || !rbuf || !conns) die("malloc");
    uint32_t x = 2463534242u; /* xorshift: every window of the pattern differs */
    for (size_t i = 0; i < size + 256; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        pattern[i] = (unsigned char)x;
    }

    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "loadgen: bad IPv4 address %s\n", host);
        return 2;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) die("epoll_create1");
    int one = 1;
    for (long i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0) die("socket");
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c->fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl");
    }

    struct epoll_event *events = calloc((size_t)nconns, sizeof *events);
    if (!events) die("calloc");
    long long done = 0, started = 0;
    int in_flight = 0;

    /* warm-up: one round trip on every connection, not measured */
    for (long i = 0; i < nconns; i++) {
        start_message(&conns[i], i);
        pump_out(&conns[i]);
    }
    in_flight = (int)nconns;
    while (in_flight > 0) {
        int n = epoll_wait(epfd, events, (int)nconns, 10000);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        if (n == 0) fail("no echo within 10 s (%ld of %ld warm-up round trips missing)",
                         (long)in_flight, nconns);
        for (int k = 0; k < n; k++) {
            struct conn *c = events[k].data.ptr;
            long i = c - conns;
            if (events[k].events & EPOLLOUT) pump_out(c);
            if (events[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) in_flight -= pump_in(c, i);
        }
    }

    long long ticks0 = server_pid > 0 ? server_ticks(server_pid) : -1;
    long long ns0 = server_pid > 0 ? server_ns(server_pid) : 0;
    double cpu0 = cpu_self();
    double t0 = now();
    double deadline = seconds > 0 ? t0 + seconds : 0;
    int stopping = 0;
    for (long i = 0; i < nconns && (count <= 0 || started < count); i++) {
        start_message(&conns[i], i);
        started++;
        in_flight++;
        pump_out(&conns[i]);
    }
    while (in_flight > 0) {
        int n = epoll_wait(epfd, events, (int)nconns, 10000);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        if (n == 0) fail("no echo within 10 s (%ld of %ld round trips missing)", (long)in_flight,
                         (long)started);
        if (!stopping && deadline > 0 && now() >= deadline) stopping = 1; /* vDSO: ~20 ns */
        for (int k = 0; k < n; k++) {
            struct conn *c = events[k].data.ptr;
            long i = c - conns;
            if (events[k].events & EPOLLOUT) pump_out(c);
            if (!(events[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) continue;
            if (!pump_in(c, i)) continue;
            done++;
            in_flight--;
            if (stopping || (count > 0 && started >= count)) continue;
            start_message(c, i);
            started++;
            in_flight++;
            pump_out(c);
        }
    }
    double wall = now() - t0;
    double client_cpu = cpu_self() - cpu0;
    long long ticks1 = server_pid > 0 ? server_ticks(server_pid) : -1;
    long long ns1 = server_pid > 0 ? server_ns(server_pid) : 0;

    for (long i = 0; i < nconns; i++) close(conns[i].fd);
    printf("{\"round_trips\": %lld, \"seconds\": %.9f, \"client_cpu\": %.6f, "
           "\"server_ticks\": %lld, \"clock_ticks_per_second\": %ld, \"server_ns\": %lld, "
           "\"conns\": %ld, \"size\": %zu}\n",
           done, wall, client_cpu, (ticks0 >= 0 && ticks1 >= 0) ? ticks1 - ticks0 : -1,
           sysconf(_SC_CLK_TCK), ns1 - ns0, nconns, size);
    return 0;
}
