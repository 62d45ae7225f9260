/*
 * fanout_stub — a minimal single-threaded fan-out server speaking just enough of Parley's /ws protocol
 * (welcome, join -> joined + presence + ack, publish -> message to every member) to measure how many
 * deliveries per second loadgen itself can take when the server is not the bottleneck.
 *
 * Not a chat server: no validation, no limits, Sec-WebSocket-Accept is not computed (loadgen does not
 * check it), a room's presence is always empty, and a client leaves its rooms only by disconnecting.
 * Each event is encoded once and appended to every member's output buffer; every connection written
 * to in one loop turn is flushed with one send(), so frames coalesce when the load is high, like a
 * server with batched flushes.
 *
 * usage: fanout_stub PORT
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_ROOMS 4096
#define MAX_OUT (64u << 20)

struct client {
    int fd;
    bool upgraded, dirty;
    char *in; size_t in_len, in_cap;
    char *out; size_t out_len, out_cap;
};

struct room {
    char name[72];
    struct client **members;
    size_t n, cap;
};

static struct room rooms[MAX_ROOMS];
static size_t n_rooms;
static struct client **dirty;
static size_t n_dirty, dirty_cap;
static int epfd;

static void fail(const char *what)
{
    perror(what);
    exit(1);
}

static void reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    if (!(*buf = realloc(*buf, c)))
        fail("realloc");
    *cap = c;
}

static void mark_dirty(struct client *c)
{
    if (c->dirty)
        return;
    if (n_dirty == dirty_cap) {
        dirty_cap = dirty_cap ? dirty_cap * 2 : 1024;
        if (!(dirty = realloc(dirty, dirty_cap * sizeof *dirty)))
            fail("realloc");
    }
    c->dirty = true;
    dirty[n_dirty++] = c;
}

/* Appends raw bytes (an encoded frame) to a client's output. */
static void put(struct client *c, const char *p, size_t n)
{
    if (c->fd < 0 || c->out_len + n > MAX_OUT)
        return;
    reserve(&c->out, &c->out_cap, c->out_len + n);
    memcpy(c->out + c->out_len, p, n);
    c->out_len += n;
    mark_dirty(c);
}

/* Encodes an unmasked server text frame into dst; returns its length. */
static size_t encode_frame(char *dst, const char *p, size_t n)
{
    size_t h = 0;
    dst[h++] = (char)0x81;
    if (n < 126) {
        dst[h++] = (char)n;
    } else if (n < 65536) {
        dst[h++] = 126;
        dst[h++] = (char)(n >> 8);
        dst[h++] = (char)n;
    } else {
        dst[h++] = 127;
        for (int s = 56; s >= 0; s -= 8)
            dst[h++] = (char)((uint64_t)n >> s);
    }
    memcpy(dst + h, p, n);
    return h + n;
}

static void send_text(struct client *c, const char *s)
{
    char b[1024];
    put(c, b, encode_frame(b, s, strlen(s)));
}

/* Closes a client and drops it from its rooms; the small struct itself is kept (it may still be on
 * the dirty list), its buffers are freed. */
static void client_close(struct client *c)
{
    for (size_t r = 0; r < n_rooms; r++)
        for (size_t i = 0; i < rooms[r].n; i++)
            if (rooms[r].members[i] == c)
                rooms[r].members[i--] = rooms[r].members[--rooms[r].n];
    close(c->fd);
    c->fd = -1;
    free(c->in);
    free(c->out);
    c->in = c->out = NULL;
    c->in_len = c->in_cap = c->out_len = c->out_cap = 0;
}

/* Sends what the socket takes; returns true when bytes remain (the socket buffer is full). */
static bool flush_client(struct client *c)
{
    size_t off = 0;
    while (c->fd >= 0 && off < c->out_len) {
        ssize_t w = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);
        if (w > 0)
            off += (size_t)w;
        else if (w < 0 && errno == EINTR)
            continue;
        else if (w < 0 && errno == EAGAIN)
            break;                          /* keep the rest; retried on the next write to it */
        else
            client_close(c);
    }
    if (c->fd < 0)
        off = c->out_len;
    memmove(c->out, c->out + off, c->out_len - off);
    c->out_len -= off;
    return c->out_len > 0;
}

/* Flushes every connection written to in this loop turn; the ones that could not take everything
 * stay listed and are retried after the next turn (at most 1 ms later). */
static void flush_dirty(void)
{
    size_t kept = 0;
    for (size_t i = 0; i < n_dirty; i++) {
        struct client *c = dirty[i];
        if (flush_client(c))
            dirty[kept++] = c;
        else
            c->dirty = false;
    }
    n_dirty = kept;
}

/* Finds "<key>":"<value>" in a JSON text; copies the value into out. */
static bool field(const char *j, size_t n, const char *key, char *out, size_t cap)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *k = memmem(j, n, pat, strlen(pat));
    if (!k)
        return false;
    const char *v = k + strlen(pat), *q = memchr(v, '"', (size_t)(j + n - v));
    if (!q || (size_t)(q - v) >= cap)
        return false;
    memcpy(out, v, (size_t)(q - v));
    out[q - v] = 0;
    return true;
}

static struct room *room_get(const char *name)
{
    for (size_t i = 0; i < n_rooms; i++)
        if (!strcmp(rooms[i].name, name))
            return &rooms[i];
    if (n_rooms == MAX_ROOMS)
        return NULL;
    struct room *r = &rooms[n_rooms++];
    snprintf(r->name, sizeof r->name, "%s", name);
    return r;
}

static void on_join(struct client *c, const char *j, size_t n)
{
    char room[72], ref[32] = "", b[256];
    struct room *r;
    if (!field(j, n, "room", room, sizeof room) || !(r = room_get(room))) {
        send_text(c, "{\"type\":\"error\",\"code\":\"bad_request\",\"ref\":\"j\"}");
        return;
    }
    field(j, n, "ref", ref, sizeof ref);
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 64;
        if (!(r->members = realloc(r->members, r->cap * sizeof *r->members)))
            fail("realloc");
    }
    r->members[r->n++] = c;
    snprintf(b, sizeof b, "{\"type\":\"joined\",\"room\":\"%s\",\"session\":\"s\",\"name\":\"n\"}", room);
    send_text(c, b);
    snprintf(b, sizeof b, "{\"type\":\"presence\",\"room\":\"%s\",\"members\":[]}", room);
    send_text(c, b);
    snprintf(b, sizeof b, "{\"type\":\"ack\",\"ref\":\"%s\"}", ref);
    send_text(c, b);
}

/* Encodes the message event once and appends it to every member of the room. */
static void on_publish(const char *j, size_t n)
{
    static char *ev, *fr;
    static size_t ev_cap, fr_cap;
    char room[72];
    struct room *r;
    const char *t = memmem(j, n, "\"text\":\"", 8), *q;
    if (!field(j, n, "room", room, sizeof room) || !t || !(q = memchr(t + 8, '"', (size_t)(j + n - t - 8))) ||
        !(r = room_get(room)))
        return;
    size_t tl = (size_t)(q - t - 8);
    reserve(&ev, &ev_cap, tl + 256);
    int el = snprintf(ev, ev_cap, "{\"type\":\"message\",\"room\":\"%s\",\"session\":\"s\",\"name\":\"n\",\"text\":\"%.*s\","
                      "\"ts\":0,\"id\":\"i\"}", room, (int)tl, t + 8);
    reserve(&fr, &fr_cap, (size_t)el + 16);
    size_t fl = encode_frame(fr, ev, (size_t)el);
    for (size_t i = 0; i < r->n; i++)
        put(r->members[i], fr, fl);
}

static void on_text(struct client *c, const char *j, size_t n)
{
    if (n > 16 && !memcmp(j, "{\"type\":\"publish\"", 17))
        on_publish(j, n);
    else if (n > 13 && !memcmp(j, "{\"type\":\"join\"", 14))
        on_join(c, j, n);
}

/* Handles complete client frames in c->in; returns the bytes consumed. */
static size_t parse_frames(struct client *c)
{
    size_t p = 0;
    while (c->in_len - p >= 6) {
        uint8_t *b = (uint8_t *)c->in + p;
        size_t len = b[1] & 0x7f, h = 2;
        if (len == 126) {
            len = (size_t)b[2] << 8 | b[3];
            h = 4;
        } else if (len == 127) {
            if (c->in_len - p < 10)
                break;
            len = 0;
            for (int i = 2; i < 10; i++)
                len = len << 8 | b[i];
            h = 10;
        }
        h += 4;                                     /* client frames are masked */
        if (c->in_len - p < h + len)
            break;
        char *d = (char *)b + h;
        for (size_t i = 0; i < len; i++)
            d[i] ^= (char)b[h - 4 + (i & 3)];
        int op = b[0] & 0x0f;
        p += h + len;
        if (op == 0x1)
            on_text(c, d, len);
        else if (op == 0x9) {
            char f[160];
            f[0] = (char)0x8a;
            f[1] = (char)(len < 126 ? len : 0);
            memcpy(f + 2, d, len < 126 ? len : 0);
            put(c, f, 2 + (len < 126 ? len : 0));
        } else if (op == 0x8) {
            client_close(c);
            break;
        }
    }
    return p;
}

static void on_upgrade(struct client *c)
{
    char *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
    if (!end)
        return;
    static const char resp[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                               "Sec-WebSocket-Accept: not-computed\r\n\r\n";
    put(c, resp, sizeof resp - 1);
    send_text(c, "{\"type\":\"welcome\",\"session\":\"s\"}");
    c->upgraded = true;
    size_t used = (size_t)(end + 4 - c->in);
    memmove(c->in, c->in + used, c->in_len - used);
    c->in_len -= used;
}

static void on_readable(struct client *c)
{
    for (;;) {
        reserve(&c->in, &c->in_cap, c->in_len + 65536);
        ssize_t r = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
            client_close(c);
            return;
        }
        if (r < 0)
            return;
        c->in_len += (size_t)r;
        if (!c->upgraded)
            on_upgrade(c);
        if (c->upgraded) {
            size_t used = parse_frames(c);
            if (c->fd < 0)
                return;
            memmove(c->in, c->in + used, c->in_len - used);
            c->in_len -= used;
        }
    }
}

static void on_accept(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct client *c = calloc(1, sizeof *c);
        if (!c)
            fail("calloc");
        c->fd = fd;
        struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.ptr = c };
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
            fail("epoll_ctl");
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fanout_stub PORT\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd, 4096) < 0)
        fail("bind/listen");
    epfd = epoll_create1(0);
    struct epoll_event lev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev);
    fprintf(stderr, "fanout_stub listening on 127.0.0.1:%s\n", argv[1]);
    static struct epoll_event evs[1024];
    for (;;) {
        int n = epoll_wait(epfd, evs, 1024, n_dirty ? 1 : -1);
        for (int i = 0; i < n; i++) {
            if (!evs[i].data.ptr)
                on_accept(lfd);
            else if (((struct client *)evs[i].data.ptr)->fd >= 0)
                on_readable(evs[i].data.ptr);
        }
        flush_dirty();
    }
}
