/* The HTTP load generator of ``python -m benchmarks`` (workload http), used
 * when wrk is not installed.  Compiled at benchmark time with the system C
 * compiler into a cache directory (benchmarks/loadgen.py's build()); never
 * committed as a binary.
 *
 *   httpload HOST PORT CONNS SECONDS
 *
 * Opens CONNS keep-alive HTTP/1.1 connections to HOST:PORT (TCP_NODELAY);
 * each sends "GET / HTTP/1.1", reads the whole response (headers up to the
 * blank line, then Content-Length bytes of body), checks that its status is
 * 200, and sends the next request: one request in flight per connection, like
 * wrk.  The measured window lasts SECONDS; responses that complete in it are
 * counted and their latencies (request sent to response complete) kept.  A
 * response that says "Connection: close" (a server may end a keep-alive
 * connection after so many requests) ends its connection: like wrk, the
 * client opens a new one and goes on, and counts it.
 *
 * Prints one JSON object: requests, the window's wall time, the p50 and p99
 * latencies in nanoseconds and the reconnections.  Exit status 1 with a
 * message on stderr if a response is not a 200, has no Content-Length, is too
 * large, a connection closes without a "Connection: close" response or a
 * system call fails.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BUF 65536

struct conn {
    int fd;
    char buf[BUF];
    size_t have;      /* bytes of the current response read */
    uint64_t started; /* when the current request was sent */
    size_t responses; /* complete responses on this connection */
    int closing;      /* the complete response said "Connection: close" */
};

static char request[512];
static size_t request_len;
static uint64_t *latencies;
static size_t latency_count, latency_cap;
static struct sockaddr_in addr;
static int epfd;

static void die(const char *what) {
    fprintf(stderr, "httpload: %s: %s\n", what, strerror(errno));
    exit(1);
}

static void fail(const char *what, size_t conn) {
    fprintf(stderr, "httpload: connection %zu: %s\n", conn, what);
    exit(1);
}

/* Connects c (blocking, then non-blocking with TCP_NODELAY) and watches it
 * for reading under index. */
static void open_conn(struct conn *c, size_t index) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die("socket");
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) die("connect");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = index};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
    c->fd = fd;
    c->have = 0;
    c->responses = 0;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void send_request(struct conn *c, size_t index) {
    size_t sent = 0;
    while (sent < request_len) { /* a few dozen bytes: the socket buffer takes them */
        ssize_t n = send(c->fd, request + sent, request_len - sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) fail("send would block on a short request", index);
            die("send");
        }
        sent += (size_t)n;
    }
    c->have = 0;
    c->started = now_ns();
}

/* Whether the header value from value to line_end contains "close" (the
 * token, case-insensitive: "close" or "keep-alive, close"). */
static int says_close(const char *value, const char *line_end) {
    for (const char *p = value; p + 5 <= line_end; p++)
        if (strncasecmp(p, "close", 5) == 0) return 1;
    return 0;
}

/* The length of the complete response at the start of c->buf, 0 while it
 * is incomplete; sets c->closing. */
static size_t complete(struct conn *c, size_t index) {
    char *end = memmem(c->buf, c->have, "\r\n\r\n", 4);
    if (end == NULL) {
        if (c->have == BUF) fail("response headers too large", index);
        return 0;
    }
    size_t head = (size_t)(end - c->buf) + 4;
    if (c->have < 12 || memcmp(c->buf, "HTTP/1.", 7) != 0 || memcmp(c->buf + 8, " 200", 4) != 0)
        fail("the response is not a 200", index);
    long length = -1;
    c->closing = 0;
    for (char *line = memmem(c->buf, head, "\r\n", 2); line != NULL && line + 2 < end;) {
        line += 2;
        char *line_end = memmem(line, (size_t)(end - line) + 2, "\r\n", 2);
        if (strncasecmp(line, "content-length:", 15) == 0) length = strtol(line + 15, NULL, 10);
        if (strncasecmp(line, "connection:", 11) == 0 && says_close(line + 11, line_end))
            c->closing = 1;
        line = line_end;
    }
    if (length < 0) fail("the response has no Content-Length", index);
    if (head + (size_t)length > BUF) fail("the response is too large", index);
    if (c->have < head + (size_t)length) return 0;
    if (c->have > head + (size_t)length) fail("bytes after the response", index);
    return head + (size_t)length;
}

static void keep(uint64_t latency) {
    if (latency_count == latency_cap) {
        latency_cap = latency_cap ? latency_cap * 2 : 65536;
        latencies = realloc(latencies, latency_cap * sizeof *latencies);
        if (latencies == NULL) die("realloc");
    }
    latencies[latency_count++] = latency;
}

static int by_value(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: httpload HOST PORT CONNS SECONDS\n");
        return 2;
    }
    const char *host = argv[1];
    int port = atoi(argv[2]);
    size_t conns = (size_t)atol(argv[3]);
    double seconds = atof(argv[4]);
    if (port <= 0 || conns == 0 || seconds <= 0) {
        fprintf(stderr, "httpload: bad arguments\n");
        return 2;
    }
    request_len = (size_t)snprintf(request, sizeof request,
                                   "GET / HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: httpload\r\n\r\n",
                                   host, port);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "httpload: bad host %s\n", host);
        return 2;
    }
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (epfd < 0) die("epoll_create1");
    struct conn *cs = calloc(conns, sizeof *cs);
    if (cs == NULL) die("calloc");
    for (size_t i = 0; i < conns; i++) open_conn(&cs[i], i);
    size_t reconnects = 0;
    uint64_t start = now_ns();
    uint64_t deadline = start + (uint64_t)(seconds * 1e9);
    for (size_t i = 0; i < conns; i++) send_request(&cs[i], i);
    struct epoll_event events[256];
    uint64_t now = start;
    while ((now = now_ns()) < deadline) {
        int timeout = (int)((deadline - now) / 1000000u) + 1;
        int n = epoll_wait(epfd, events, 256, timeout);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("epoll_wait");
        }
        for (int e = 0; e < n; e++) {
            size_t i = (size_t)events[e].data.u64;
            struct conn *c = &cs[i];
            ssize_t got = recv(c->fd, c->buf + c->have, BUF - c->have, 0);
            if (got < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                die("recv");
            }
            if (got == 0) {
                char what[96];
                snprintf(what, sizeof what,
                         "closed by the server after %zu responses without Connection: close",
                         c->responses);
                fail(what, i);
            }
            c->have += (size_t)got;
            if (complete(c, i) == 0) continue;
            uint64_t done = now_ns();
            if (done <= deadline) keep(done - c->started);
            c->responses++;
            if (c->closing) { /* closing the fd drops it from the epoll set */
                close(c->fd);
                open_conn(c, i);
                reconnects++;
            }
            send_request(c, i);
        }
    }
    double wall = (double)(deadline - start) / 1e9;
    uint64_t p50 = 0, p99 = 0;
    if (latency_count > 0) {
        qsort(latencies, latency_count, sizeof *latencies, by_value);
        p50 = latencies[latency_count / 2];
        p99 = latencies[(latency_count * 99) / 100];
    }
    printf("{\"requests\": %zu, \"seconds\": %.6f, \"p50_ns\": %llu, \"p99_ns\": %llu, "
           "\"reconnects\": %zu}\n",
           latency_count, wall, (unsigned long long)p50, (unsigned long long)p99, reconnects);
    for (size_t i = 0; i < conns; i++) close(cs[i].fd);
    free(cs);
    free(latencies);
    return 0;
}
