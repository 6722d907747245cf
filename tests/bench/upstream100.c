/* upstream100.c: the benchmark upstream of bench-upstreams.sh.
 *
 *   upstream100 -p PORT [-d DELAY_MS] [-w PROCS]
 *
 * An HTTP/1.1 server on 127.0.0.1:PORT that answers every request with
 * "200 OK", Content-Length: 100 and a 100-byte body, keeping the
 * connection open (unless the request says "Connection: close" or is
 * HTTP/1.0 without keep-alive).  One epoll loop per process, no threads;
 * -w forks PROCS processes sharing the listening socket (default 1).
 *
 * -d DELAY_MS answers each request DELAY_MS after it arrived (default 0):
 * the "application that takes 100 ms" of the queueing-model row.  The
 * delay is a timer, not a blocked thread: requests wait in a FIFO
 * (every one has the same delay, so deadlines come in arrival order) and
 * epoll_wait's timeout is the earliest deadline, so any number of
 * concurrent requests are each answered after DELAY_MS.
 *
 * Request bodies (Content-Length) are read and discarded; pipelined
 * requests are answered in order, one at a time.  Build: cc -O2 -o
 * upstream100 upstream100.c.  Stops on SIGTERM/SIGINT. */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define INBUF 16384
#define BODY_LEN 100

static char body[BODY_LEN + 1]; /* BODY_LEN - 1 letters and a newline */
static char resp_keep[256], resp_close[256];
static size_t resp_keep_len, resp_close_len;

struct conn {
    int fd;
    int dead;          /* closed while a reply was queued: free when dequeued */
    int queued;        /* a reply is waiting for its deadline */
    int want_close;    /* close after the reply being sent */
    size_t in_len;     /* bytes in in[] */
    long long skip;    /* request body bytes still to discard */
    const char *out;   /* unsent reply bytes */
    size_t out_len;
    long long due_ms;  /* deadline of the queued reply */
    struct conn *next; /* timer FIFO */
    char in[INBUF];
};

static int ep, delay_ms;
static volatile sig_atomic_t stop;
static struct conn *q_head, *q_tail;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void conn_close(struct conn *c)
{
    if (c->fd >= 0) {
        close(c->fd); /* also removes it from the epoll set */
        c->fd = -1;
    }
    if (c->queued)
        c->dead = 1;
    else
        free(c);
}

/* Sends what is left of the reply; 0 done, 1 would block, -1 failed. */
static int flush_out(struct conn *c)
{
    while (c->out_len > 0) {
        ssize_t n = send(c->fd, c->out, c->out_len, MSG_NOSIGNAL);
        if (n > 0) {
            c->out += n;
            c->out_len -= (size_t)n;
        } else if (n == -1 && errno == EINTR) {
            continue;
        } else if (n == -1 && errno == EAGAIN) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
            return 1;
        } else {
            return -1;
        }
    }
    return 0;
}

static int process(struct conn *c);

/* The reply of the request in front: sent, then the next request looked at. */
static int reply(struct conn *c)
{
    c->out = c->want_close ? resp_close : resp_keep;
    c->out_len = c->want_close ? resp_close_len : resp_keep_len;
    int r = flush_out(c);
    if (r != 0)
        return r;
    if (c->want_close)
        return -1;
    return process(c);
}

/* Does the head (NUL-terminated, lower-cased) ask to close? */
static int head_closes(const char *h)
{
    int v10 = strstr(h, "http/1.0\r\n") != NULL;
    const char *conn = strstr(h, "\r\nconnection:");
    int close_tok = conn && strstr(conn, "close") && strstr(conn, "close") < strstr(conn + 2, "\r\n");
    int keep_tok = conn && strstr(conn, "keep-alive") && strstr(conn, "keep-alive") < strstr(conn + 2, "\r\n");
    return close_tok || (v10 && !keep_tok);
}

/* Parses requests out of in[]; 0 fine, 1 waiting, -1 close. */
static int process(struct conn *c)
{
    for (;;) {
        if (c->skip > 0) {
            size_t n = c->in_len < (size_t)c->skip ? c->in_len : (size_t)c->skip;
            memmove(c->in, c->in + n, c->in_len - n);
            c->in_len -= n;
            c->skip -= (long long)n;
            if (c->skip > 0)
                return 0;
        }
        if (c->queued || c->out_len > 0)
            return 0;
        char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
        if (end == NULL) {
            if (c->in_len == INBUF)
                return -1; /* head too large */
            return 0;
        }
        size_t hlen = (size_t)(end - c->in) + 4;
        char head[INBUF + 1];
        for (size_t i = 0; i < hlen; i++)
            head[i] = (char)((c->in[i] >= 'A' && c->in[i] <= 'Z') ? c->in[i] + 32 : c->in[i]);
        head[hlen] = '\0';
        long long clen = 0;
        const char *cl = strstr(head, "\r\ncontent-length:");
        if (cl)
            clen = atoll(cl + 17);
        if (strstr(head, "\r\ntransfer-encoding:"))
            return -1; /* chunked request bodies: not needed here */
        c->want_close = head_closes(head);
        memmove(c->in, c->in + hlen, c->in_len - hlen);
        c->in_len -= hlen;
        c->skip = clen;
        if (delay_ms > 0) {
            c->queued = 1;
            c->due_ms = now_ms() + delay_ms;
            c->next = NULL;
            if (q_tail)
                q_tail->next = c;
            else
                q_head = c;
            q_tail = c;
            continue; /* discards the body; the next head waits for the reply */
        }
        c->out = c->want_close ? resp_close : resp_keep;
        c->out_len = c->want_close ? resp_close_len : resp_keep_len;
        int r = flush_out(c);
        if (r != 0)
            return r;
        if (c->want_close)
            return -1;
    }
}

static void on_read(struct conn *c)
{
    for (;;) {
        if (c->in_len == INBUF) {
            if (process(c) < 0 || c->in_len == INBUF) {
                conn_close(c);
                return;
            }
        }
        ssize_t n = recv(c->fd, c->in + c->in_len, INBUF - c->in_len, 0);
        if (n > 0) {
            c->in_len += (size_t)n;
            continue;
        }
        if (n == -1 && errno == EINTR)
            continue;
        if (n == -1 && errno == EAGAIN)
            break;
        conn_close(c); /* EOF or error */
        return;
    }
    if (process(c) < 0)
        conn_close(c);
}

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static void serve(int lfd)
{
    ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = NULL};
    if (ep == -1 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) == -1) {
        perror("upstream100: epoll");
        exit(1);
    }
    struct epoll_event evs[256];
    while (!stop) {
        int timeout = -1;
        if (q_head) {
            long long d = q_head->due_ms - now_ms();
            timeout = d < 0 ? 0 : (int)d;
        }
        int n = epoll_wait(ep, evs, 256, timeout);
        if (n == -1 && errno != EINTR) {
            perror("upstream100: epoll_wait");
            exit(1);
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c == NULL) {
                for (;;) {
                    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                    if (fd == -1)
                        break;
                    int one = 1;
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *nc = calloc(1, sizeof *nc);
                    if (nc == NULL) {
                        close(fd);
                        continue;
                    }
                    nc->fd = fd;
                    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = nc};
                    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) == -1) {
                        close(fd);
                        free(nc);
                    }
                }
                continue;
            }
            if (c->fd < 0)
                continue;
            if (evs[i].events & EPOLLOUT) {
                int r = flush_out(c);
                if (r < 0) {
                    conn_close(c);
                    continue;
                }
                if (r == 0) {
                    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
                    if (c->want_close) {
                        conn_close(c);
                        continue;
                    }
                }
            }
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                on_read(c);
        }
        /* Replies whose time has come. */
        long long t = q_head ? now_ms() : 0;
        while (q_head && q_head->due_ms <= t) {
            struct conn *c = q_head;
            q_head = c->next;
            if (q_head == NULL)
                q_tail = NULL;
            c->queued = 0;
            if (c->dead) {
                free(c);
                continue;
            }
            if (reply(c) < 0)
                conn_close(c);
        }
    }
}

int main(int argc, char **argv)
{
    int port = 0, procs = 1, opt;
    while ((opt = getopt(argc, argv, "p:d:w:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'd': delay_ms = atoi(optarg); break;
        case 'w': procs = atoi(optarg); break;
        default:
            fprintf(stderr, "usage: upstream100 -p PORT [-d DELAY_MS] [-w PROCS]\n");
            return 2;
        }
    }
    if (port <= 0 || port > 65535 || delay_ms < 0 || procs < 1) {
        fprintf(stderr, "usage: upstream100 -p PORT [-d DELAY_MS] [-w PROCS]\n");
        return 2;
    }
    for (int i = 0; i < BODY_LEN - 1; i++)
        body[i] = (char)('a' + i % 26);
    body[BODY_LEN - 1] = '\n';
    resp_keep_len = (size_t)snprintf(resp_keep, sizeof resp_keep,
        "HTTP/1.1 200 OK\r\nServer: upstream100\r\nContent-Type: text/plain\r\n"
        "Content-Length: %d\r\n\r\n%s", BODY_LEN, body);
    resp_close_len = (size_t)snprintf(resp_close, sizeof resp_close,
        "HTTP/1.1 200 OK\r\nServer: upstream100\r\nContent-Type: text/plain\r\n"
        "Content-Length: %d\r\nConnection: close\r\n\r\n%s", BODY_LEN, body);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) == -1 || listen(lfd, 4096) == -1) {
        perror("upstream100: bind/listen");
        return 1;
    }
    struct sigaction sact = {.sa_handler = on_term};
    sigaction(SIGTERM, &sact, NULL);
    sigaction(SIGINT, &sact, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (procs == 1) {
        serve(lfd);
        return 0;
    }
    pid_t kids[64];
    if (procs > 64)
        procs = 64;
    for (int i = 0; i < procs; i++) {
        kids[i] = fork();
        if (kids[i] == 0) {
            serve(lfd);
            _exit(0);
        }
    }
    while (!stop)
        pause();
    for (int i = 0; i < procs; i++)
        if (kids[i] > 0)
            kill(kids[i], SIGTERM);
    while (wait(NULL) > 0)
        ;
    return 0;
}
