/*
 * loadgen — a single-threaded WebSocket load generator for fan-out chat servers.
 *
 * Speaks two chat protocols over plain ws:// text frames:
 *   --proto parley    Parley's native JSON protocol (welcome / join+ack / publish / message)
 *   --proto socketio  Engine.IO v4 + Socket.IO v5 over WebSocket
 *                     (0{...} / 40 / 420["join",...] / 430[...] / 42["message",...], pings 2 -> 3;
 *                     churn: 421["leave",...] / 431[...])
 *
 * Design
 * ------
 * - One thread, one edge-triggered epoll set, non-blocking sockets with TCP_NODELAY. Every deadline
 *   (connect pacing, open-loop publishes, phase boundaries, churn) is driven by one timerfd armed at
 *   an absolute CLOCK_MONOTONIC time, so the loop never sleeps past a due publish and never busy-waits;
 *   while a large batch of events is handled, due publishes are also sent every 64 events, so a
 *   fan-out burst arriving at the generator does not delay the publish schedule.
 * - Reads: a ready socket is read until a short read, into one large shared buffer (grown only for a
 *   frame larger than it); a partial frame left at the end is kept in a small per-connection "carry"
 *   buffer and copied in front of the next read. Fragmented server messages are reassembled in a
 *   per-connection buffer. Buffers grow by doubling and are reused: no malloc per message.
 * - Writes: frames (masked, as RFC 6455 requires from clients) are appended to a per-connection output
 *   buffer and the connection is put on a dirty list; after each epoll wakeup every dirty connection
 *   is flushed with one send(). EPOLLOUT is only requested while a send() could not finish.
 * - Hot path per delivery: a memcmp of the frame prefix, an SSE2 search for "text":", three integer
 *   parses, a log-linear histogram update and a per-(receiver, publisher) sequence check.
 * - Latency is measured up to the kernel's receive timestamp of the data (SO_TIMESTAMPNS, converted to
 *   CLOCK_MONOTONIC), so time a frame waits in the socket while the generator handles a burst on
 *   other sockets is not charged to the server; that wait is reported as gen_read_delay_us.
 *   --no-kernel-ts measures up to the read instead (the clock is then read once per recv()).
 * - Phases: SETUP (connect at --connect-rate, upgrade, join; abort on any failure) -> WARMUP ->
 *   MEASURE -> DRAIN (no new publishes; wait until every expected delivery arrived or --drain passed)
 *   -> DONE. --idle replaces the load with HOLD (connections stay open, pings are answered).
 * - Open loop: publisher j (of P) sends its i-th message at t0 + (i + j/P) / (rate/P), i.e. global
 *   message k = i*P + j at t0 + k/rate; one counter walks that schedule. When the loop is behind it
 *   sends every missed message at once and counts those more than --late-us behind as late sends.
 * - Closed loop (--closed W): each publisher keeps W messages in flight; one completes when the
 *   publisher receives its own message back (publishers are room members).
 * - Accounting: the publish text is "<t_ns>:<pubid>:<seq>:xxxx..." (t_ns = CLOCK_MONOTONIC at send).
 *   A message belongs to the measured window when t_ns is in [t_meas, t_end); expected deliveries =
 *   window messages x members of the room; delivered = window messages received by members (during
 *   the window or the drain). deliveries_per_s counts member deliveries received during the window
 *   by wall clock. Generator CPU is getrusage() user+sys over the window.
 *
 * Connection layout: member c (0 <= c < rooms*subs) is in room c % rooms at position c / rooms; the
 * first --pubs positions of each room are its publishers, so publisher id == connection index and
 * publisher j is in room j % rooms. Churn connections (--churn) come after the members.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define NS_PER_S 1000000000ull
#define READ_CHUNK (1u << 20)          /* bytes asked of one recv() */
#define MAX_MESSAGE (64u << 20)        /* largest server message accepted */
#define MAX_OUT (256u << 20)           /* largest unsent backlog of one connection */
#define MAX_EVENTS 1024
#define MAX_CODES 24

/* ------------------------------------------------------------------------------------------------ */
/* Options                                                                                          */
/* ------------------------------------------------------------------------------------------------ */

enum proto { PROTO_PARLEY, PROTO_SIO };
enum mode { MODE_OPEN, MODE_CLOSED, MODE_IDLE };

static struct {
    const char *host, *path, *out, *label, *room_prefix;
    int port;
    enum proto proto;
    enum mode mode;
    uint32_t rooms, subs, pubs, closed_window, churn_conns;
    double rate, duration, warmup, drain, connect_rate, churn, setup_timeout;
    uint32_t payload, max_pending, late_us, tick_us, batch_us;
    bool kernel_ts;
    int server_pid;                  /* the first of server_pids */
    int server_pids[8]; int n_server_pids;
    int ports[8]; int n_ports;       /* --ports: connection c goes to ports[c % n_ports] */
    uint32_t sources;                /* --sources: connection c binds 127.0.0.(1 + c % sources) */
} O = {
    .host = "127.0.0.1", .port = 8080, .label = "", .room_prefix = "lg",
    .rooms = 1, .subs = 100, .pubs = 1, .rate = 100, .duration = 10, .warmup = 2, .drain = 5,
    .payload = 100, .connect_rate = 2000, .max_pending = 1000, .late_us = 1000, .tick_us = 20,
    .kernel_ts = true,
    .setup_timeout = 300,
};

/* ------------------------------------------------------------------------------------------------ */
/* Connections and global state                                                                     */
/* ------------------------------------------------------------------------------------------------ */

enum cstate {
    S_NEW,        /* not opened yet */
    S_CONNECTING, /* TCP connect in progress */
    S_HTTP,       /* upgrade request sent, waiting for 101 */
    S_WAIT_OPEN,  /* WebSocket open, waiting for welcome (parley) or 0{...} (Engine.IO) */
    S_SIO_CONNECT,/* sent 40, waiting for 40{...} */
    S_OPEN,       /* protocol open, in no room */
    S_JOINING,    /* join sent, waiting for its ack */
    S_JOINED,
    S_LEAVING,    /* leave sent, waiting for its ack (parley churn) */
    S_CLOSED,
};

enum ckind { K_MEMBER, K_CHURN };

struct conn {
    int fd;
    uint8_t state, kind, frag_op;
    bool dirty, want_out, ready_counted;
    uint32_t id, room;
    int32_t pubid;          /* >= 0 for publishers */
    uint32_t inflight;      /* closed loop: own messages not yet received back */
    uint64_t next_seq;      /* publisher: sequence number of its next message */
    uint32_t *last_seq;     /* [pubs]: 1 + last sequence seen from each publisher of the room */
    char *carry; uint32_t carry_len, carry_cap;   /* partial frame from the previous read */
    char *frag;  uint32_t frag_len, frag_cap;     /* fragmented message being reassembled */
    char *out;   uint32_t out_off, out_len, out_cap; /* bytes not yet sent */
    uint64_t t_join;        /* when its join was sent (join acknowledgement latency) */
    uint64_t t_open;        /* when its TCP connect started (time until it is in its room) */
};

enum phase { PH_SETUP, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_HOLD, PH_DONE };

/* CPU (clock ticks) of the server, the generator and the machine, and the server's RSS, at one time. */
/* CPU ticks of the server's JIT compiler threads (HotSpot names them "C1/C2 CompilerThreadN"; they come and go) */
#define MAX_JIT_THREADS 64
struct jit_sample {
    int n;
    int tid[MAX_JIT_THREADS];
    uint64_t ticks[MAX_JIT_THREADS];
};

struct proc_sample {
    uint64_t t, server_ticks, gen_ticks, busy_ticks, server_rss_kb;
    struct jit_sample jit;
};

static struct {
    struct sockaddr_storage addr;
    struct sockaddr_storage addrs[8];  /* one per --ports entry */
    socklen_t addrlen;
    int epfd, tfd;
    char timer_tag;
    struct conn *conns;
    uint32_t n_members, n_churn, n_conns, n_pubs;
    char **room_name;
    uint32_t *room_len;
    char *rbuf; size_t rbuf_cap;
    char *scratch; size_t scratch_cap;
    struct conn **dirty; uint32_t n_dirty;
    enum phase phase;
    uint64_t t_setup, t_connected, t_ready, t0, t_meas, t_end, t_drain_end, t_armed;
    uint32_t opened, handshakes, ready;
    uint64_t pub_k;            /* open loop: index of the next scheduled message */
    double pub_interval_ns;
    uint64_t churn_k;
    double churn_interval_ns;
    struct rusage ru_start, ru_end;
    struct proc_sample ps_setup, ps_ready, ps_start, ps_end;
    uint64_t t_ru_start, t_ru_end;
    int64_t rt_minus_mono;     /* CLOCK_REALTIME - CLOCK_MONOTONIC, to convert kernel timestamps */
    volatile sig_atomic_t stop;
} G;

enum frame_kind { F_WELCOME, F_JOINED, F_PRESENCE, F_LEFT, F_ACK, F_PONG, F_ERROR, F_OTHER, F_COUNT };
static const char *const FRAME_NAMES[F_COUNT] = {
    "welcome", "joined", "presence", "left", "ack", "pong", "error", "other",
};

static struct {
    uint64_t published_total, published_window, delivered, rx_in_window, frames_in_window;
    uint64_t foreign, misrouted, out_of_order, late_sends, send_skipped, max_lag_ns;
    uint64_t churn_deliveries, churn_ops, churn_joins, churn_leaves, churn_busy, churn_refused,
        churn_acked_in_window, churn_deliveries_in_window;
    uint64_t frames[F_COUNT];
    uint64_t ws_pings, eio_pings, disconnects;
    uint64_t recvs_in_window, wakeups_in_window;
} S;

static struct { char code[48]; uint64_t n; } ERRS[MAX_CODES];
static int n_errs;
static struct { int code; uint64_t n; } CLOSES[MAX_CODES];
static int n_closes;

/* ------------------------------------------------------------------------------------------------ */
/* Small utilities                                                                                  */
/* ------------------------------------------------------------------------------------------------ */

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("loadgen: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(2);
}

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* Ensures *buf can hold need bytes, doubling its capacity; contents are kept. */
static void buf_reserve(char **buf, uint32_t *cap, size_t need)
{
    if (need <= *cap)
        return;
    if (need > MAX_OUT)
        die("buffer would exceed %u bytes", MAX_OUT);
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    char *p = realloc(*buf, c);
    if (!p)
        die("out of memory");
    *buf = p;
    *cap = (uint32_t)c;
}

static uint32_t rnd32(void)
{
    static uint32_t x = 2463534242u;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return x;
}

static char *u64_dec(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static inline bool parse_u64(const char **pp, const char *end, uint64_t *out)
{
    const char *p = *pp;
    uint64_t v = 0;
    if (p >= end || (unsigned)(*p - '0') > 9)
        return false;
    while (p < end && (unsigned)(*p - '0') <= 9)
        v = v * 10 + (uint64_t)(*p++ - '0');
    *pp = p;
    *out = v;
    return true;
}

static bool token_is(const char *s, size_t n, const char *lit)
{
    return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

/* Finds "<key>":"<value>" and returns the value (up to the next quote). */
static bool json_str_field(const char *f, size_t n, const char *key, const char **val, size_t *vlen)
{
    const char *k = memmem(f, n, key, strlen(key));
    if (!k)
        return false;
    const char *v = k + strlen(key), *end = f + n;
    const char *q = memchr(v, '"', (size_t)(end - v));
    if (!q)
        return false;
    *val = v;
    *vlen = (size_t)(q - v);
    return true;
}

/* Finds "text":" in a frame (the hot search of every delivery). With SSE2, 16 positions at a time are
 * filtered for a quote followed by 't' and only those candidates are compared in full. */
static const char *find_text_field(const char *f, size_t n)
{
    static const char K[8] = { '"', 't', 'e', 'x', 't', '"', ':', '"' };
#ifdef __SSE2__
    const __m128i q = _mm_set1_epi8('"'), t = _mm_set1_epi8('t');
    size_t i = 0;
    for (; i + 16 + 8 <= n; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(f + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(f + i + 1));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, q), _mm_cmpeq_epi8(b, t)));
        while (m) {
            size_t at = i + (size_t)__builtin_ctz(m);
            if (memcmp(f + at, K, 8) == 0)
                return f + at;
            m &= m - 1;
        }
    }
    const char *r = i < n ? memmem(f + i, n - i, K, 8) : NULL;
    return r;
#else
    return memmem(f, n, K, 8);
#endif
}

static void base64_16(const uint8_t in[16], char out[25])
{
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    int o = 0;
    for (int i = 0; i < 15; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = T[v >> 18 & 63]; out[o++] = T[v >> 12 & 63];
        out[o++] = T[v >> 6 & 63];  out[o++] = T[v & 63];
    }
    uint32_t v = (uint32_t)in[15] << 16;
    out[o++] = T[v >> 18 & 63]; out[o++] = T[v >> 12 & 63];
    out[o++] = '='; out[o++] = '=';
    out[o] = 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* Latency histogram: exact below 256 ns, then 128 linear sub-buckets per power of two (<= 0.4%     */
/* error at the bucket midpoint), up to 2^41 ns (~36 min).                                          */
/* ------------------------------------------------------------------------------------------------ */

#define H_SUB_BITS 7
#define H_SUB (1u << H_SUB_BITS)
#define H_LINEAR (2 * H_SUB)
#define H_MAX_EXP 40
#define H_BUCKETS (H_LINEAR + (H_MAX_EXP - H_SUB_BITS) * H_SUB)

struct hist {
    uint64_t b[H_BUCKETS];
    uint64_t count, max, min;
    double sum;
};

static struct hist H_LAT = { .min = UINT64_MAX };   /* delivery latency: receive time - t_ns */
static struct hist H_READ = { .min = UINT64_MAX };
static struct hist H_JOIN = { .min = UINT64_MAX };  /* join sent -> its acknowledgement, members in setup */
static struct hist H_BACK = { .min = UINT64_MAX };  /* TCP connect started -> join acknowledged, members in setup */  /* --kernel-ts: generator read time - kernel receive time */

static inline unsigned hist_index(uint64_t v)
{
    if (v < H_LINEAR)
        return (unsigned)v;
    if (v >> (H_MAX_EXP + 1))
        v = (1ull << (H_MAX_EXP + 1)) - 1;
    unsigned e = 63u - (unsigned)__builtin_clzll(v);          /* 8 .. H_MAX_EXP */
    unsigned m = (unsigned)(v >> (e - H_SUB_BITS));            /* 128 .. 255 */
    return H_LINEAR + (e - (H_SUB_BITS + 1)) * H_SUB + (m - H_SUB);
}

static uint64_t hist_bucket_mid(unsigned idx)
{
    if (idx < H_LINEAR)
        return idx;
    unsigned k = idx - H_LINEAR;
    unsigned e = H_SUB_BITS + 1 + k / H_SUB, m = H_SUB + k % H_SUB;
    uint64_t width = 1ull << (e - H_SUB_BITS);
    return (uint64_t)m * width + width / 2;
}

static inline void hist_record(struct hist *h, uint64_t v)
{
    h->b[hist_index(v)]++;
    h->count++;
    h->sum += (double)v;
    if (v > h->max)
        h->max = v;
    if (v < h->min)
        h->min = v;
}

static uint64_t hist_percentile(const struct hist *h, double q)
{
    if (!h->count)
        return 0;
    uint64_t target = (uint64_t)(q * (double)h->count + 0.999999), acc = 0;
    if (target < 1)
        target = 1;
    for (unsigned i = 0; i < H_BUCKETS; i++) {
        acc += h->b[i];
        if (acc >= target) {
            uint64_t v = hist_bucket_mid(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

/* ------------------------------------------------------------------------------------------------ */
/* Counters of error codes and close codes                                                          */
/* ------------------------------------------------------------------------------------------------ */

static void errors_add(const char *code, size_t len)
{
    if (len >= sizeof ERRS[0].code)
        len = sizeof ERRS[0].code - 1;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < n_errs; i++)
            if (strlen(ERRS[i].code) == len && memcmp(ERRS[i].code, code, len) == 0) {
                ERRS[i].n++;
                return;
            }
        if (n_errs < MAX_CODES - 1)
            break;
        code = "(other)", len = 7;          /* the last slot collects codes beyond the table */
    }
    memcpy(ERRS[n_errs].code, code, len);
    ERRS[n_errs].code[len] = 0;
    ERRS[n_errs++].n = 1;
}

static uint64_t errors_total(void)
{
    uint64_t t = 0;
    for (int i = 0; i < n_errs; i++)
        t += ERRS[i].n;
    return t;
}

/* Counts an error frame by its "code" (or "unknown"). */
static void errors_add_frame(const char *f, size_t n)
{
    const char *code;
    size_t len;
    if (json_str_field(f, n, "\"code\":\"", &code, &len))
        errors_add(code, len);
    else
        errors_add("unknown", 7);
}

static void closes_add(int code)
{
    for (int i = 0; i < n_closes; i++)
        if (CLOSES[i].code == code) {
            CLOSES[i].n++;
            return;
        }
    if (n_closes < MAX_CODES) {
        CLOSES[n_closes].code = code;
        CLOSES[n_closes++].n = 1;
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Output buffering and flushing                                                                    */
/* ------------------------------------------------------------------------------------------------ */

static void conn_lost(struct conn *c, const char *why);

static void mark_dirty(struct conn *c)
{
    if (!c->dirty) {
        c->dirty = true;
        G.dirty[G.n_dirty++] = c;
    }
}

/* Reserves n bytes at the end of the output buffer and returns where to write them. */
static char *out_reserve(struct conn *c, size_t n)
{
    if (c->out_off && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    buf_reserve(&c->out, &c->out_cap, (size_t)c->out_len + n);
    return c->out + c->out_len;
}

static void set_want_out(struct conn *c, bool on)
{
    if (c->want_out == on)
        return;
    struct epoll_event ev = { .events = EPOLLIN | EPOLLET | (on ? EPOLLOUT : 0), .data.ptr = c };
    if (epoll_ctl(G.epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl MOD: %s", strerror(errno));
    c->want_out = on;
}

/* Sends as much of the output buffer as the socket takes; asks for EPOLLOUT for the rest. */
static void conn_flush(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (w > 0) {
            c->out_off += (uint32_t)w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_want_out(c, true);
            return;
        } else {
            conn_lost(c, w < 0 ? strerror(errno) : "send returned 0");
            return;
        }
    }
    c->out_off = c->out_len = 0;
    set_want_out(c, false);
}

static void flush_dirty(void)
{
    for (uint32_t i = 0; i < G.n_dirty; i++) {
        struct conn *c = G.dirty[i];
        c->dirty = false;
        if (c->fd >= 0 && c->state != S_CONNECTING && c->out_len > c->out_off)
            conn_flush(c);
    }
    G.n_dirty = 0;
}

/* ------------------------------------------------------------------------------------------------ */
/* WebSocket framing                                                                                */
/* ------------------------------------------------------------------------------------------------ */

static void mask_copy(char *dst, const char *src, size_t n, uint32_t key)
{
    uint64_t k8 = (uint64_t)key << 32 | key;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, src + i, 8);
        v ^= k8;
        memcpy(dst + i, &v, 8);
    }
    const uint8_t *kb = (const uint8_t *)&key;
    for (; i < n; i++)
        dst[i] = (char)(src[i] ^ kb[i & 3]);
}

/* Appends one masked client frame (FIN set) to the connection's output. */
static void ws_send(struct conn *c, int opcode, const char *data, size_t n)
{
    char *d = out_reserve(c, n + 14);
    size_t h = 0;
    d[h++] = (char)(0x80 | opcode);
    if (n < 126) {
        d[h++] = (char)(0x80 | n);
    } else if (n < 65536) {
        d[h++] = (char)(0x80 | 126);
        d[h++] = (char)(n >> 8);
        d[h++] = (char)n;
    } else {
        d[h++] = (char)(0x80 | 127);
        for (int s = 56; s >= 0; s -= 8)
            d[h++] = (char)((uint64_t)n >> s);
    }
    uint32_t key = rnd32();
    memcpy(d + h, &key, 4);
    h += 4;
    mask_copy(d + h, data, n, key);
    c->out_len += (uint32_t)(h + n);
    mark_dirty(c);
}

static void ws_send_text(struct conn *c, const char *s, size_t n) { ws_send(c, 0x1, s, n); }

/* ------------------------------------------------------------------------------------------------ */
/* Connection lifecycle                                                                             */
/* ------------------------------------------------------------------------------------------------ */

static void conn_open(struct conn *c);

static const char *state_name(int s)
{
    static const char *const N[] = { "new", "connecting", "http-upgrade", "wait-open", "sio-connect",
                                     "open", "joining", "joined", "leaving", "closed" };
    return N[s];
}

static void conn_close_fd(struct conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->want_out = false;
    c->carry_len = c->frag_len = c->out_len = c->out_off = 0;
    c->frag_op = 0;
}

/* The server or the network ended a connection. Fatal during setup; counted afterwards. */
static void conn_lost(struct conn *c, const char *why)
{
    if (c->state == S_CLOSED)
        return;
    if (G.phase == PH_SETUP)
        die("connection %u (%s) failed during setup: %s", c->id, state_name(c->state), why);
    if (G.phase != PH_DONE && S.disconnects < 10)
        fprintf(stderr, "loadgen: connection %u closed (%s)%s\n", c->id, why,
                S.disconnects == 9 ? "; not reporting further closes" : "");
    S.disconnects++;
    conn_close_fd(c);
    c->state = S_CLOSED;
}

/* A churner's join or leave was acknowledged. */
static void churn_acked(uint64_t *counter)
{
    *counter += 1;
    if (G.phase == PH_MEASURE)
        S.churn_acked_in_window++;
}

/* Marks a connection as set up (joined; or open, for parley churn connections). */
static void conn_ready(struct conn *c)
{
    if (!c->ready_counted) {
        c->ready_counted = true;
        G.ready++;
    }
}

static void send_join(struct conn *c)
{
    char b[256];
    int n;
    if (O.proto == PROTO_PARLEY)
        n = snprintf(b, sizeof b, "{\"type\":\"join\",\"room\":\"%s\",\"name\":\"u%u\",\"ref\":\"j\"}",
                     G.room_name[c->room], c->id);
    else
        n = snprintf(b, sizeof b, "420[\"join\",{\"room\":\"%s\",\"name\":\"u%u\"}]",
                     G.room_name[c->room], c->id);
    ws_send_text(c, b, (size_t)n);
    c->state = S_JOINING;
    c->t_join = now_ns();
}

static void send_leave(struct conn *c)
{
    char b[160];
    int n;
    if (O.proto == PROTO_PARLEY)
        n = snprintf(b, sizeof b, "{\"type\":\"leave\",\"room\":\"%s\",\"ref\":\"l\"}", G.room_name[c->room]);
    else
        n = snprintf(b, sizeof b, "421[\"leave\",{\"room\":\"%s\"}]", G.room_name[c->room]);
    ws_send_text(c, b, (size_t)n);
    c->state = S_LEAVING;
}

/* The chat protocol is open (parley welcome, Socket.IO connect): join, unless a churner. */
static void conn_on_open(struct conn *c)
{
    if (c->kind == K_CHURN) {
        c->state = S_OPEN;
        conn_ready(c);
        return;
    }
    send_join(c);
}

static void conn_on_joined(struct conn *c)
{
    if (c->kind == K_MEMBER && c->t_join && !c->ready_counted) {
        uint64_t now = now_ns();
        hist_record(&H_JOIN, now > c->t_join ? now - c->t_join : 0);
        hist_record(&H_BACK, now > c->t_open ? now - c->t_open : 0);
    }
    c->state = S_JOINED;
    if (c->kind == K_CHURN)
        churn_acked(&S.churn_joins);
    conn_ready(c);
}

static void conn_on_join_refused(struct conn *c, const char *f, size_t n)
{
    if (G.phase == PH_SETUP || c->kind == K_MEMBER)
        die("join of connection %u to room %s refused: %.*s", c->id, G.room_name[c->room],
            (int)(n > 300 ? 300 : n), f);
    S.churn_refused++;
    c->state = S_OPEN;
}

/* The TCP connect finished (or failed): send the HTTP upgrade request. */
static void conn_on_connected(struct conn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        err = errno;
    if (err) {
        conn_lost(c, strerror(err));
        return;
    }
    uint8_t raw[16];
    for (int i = 0; i < 16; i += 4) {
        uint32_t r = rnd32();
        memcpy(raw + i, &r, 4);
    }
    char key[25], req[1024];
    base64_16(raw, key);
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     O.path, O.host, O.port, key);
    memcpy(out_reserve(c, (size_t)n), req, (size_t)n);
    c->out_len += (uint32_t)n;
    c->state = S_HTTP;
    c->want_out = true;          /* registered with EPOLLOUT for the connect; conn_flush clears it */
    conn_flush(c);
}

/* Parses the HTTP upgrade response; returns the bytes it used (0: incomplete). */
static size_t http_on_response(struct conn *c, const char *buf, size_t len)
{
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end) {
        if (len > 16384)
            conn_lost(c, "HTTP upgrade response header too long");
        return 0;
    }
    if (len < 12 || memcmp(buf, "HTTP/1.1 101", 12) != 0) {
        const char *eol = memchr(buf, '\r', len);
        char why[160];
        snprintf(why, sizeof why, "upgrade refused: %.*s", (int)(eol && eol - buf < 120 ? eol - buf : 0), buf);
        conn_lost(c, why);
        return len;
    }
    c->state = S_WAIT_OPEN;
    if (++G.handshakes == G.n_conns && !G.t_connected)
        G.t_connected = now_ns();
    return (size_t)(end + 4 - buf);
}

/* Opens the TCP connection (non-blocking); the rest happens in the event loop. */
static void conn_open(struct conn *c)
{
    int fd = socket(G.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket: %s (raise ulimit -n?)", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (O.kernel_ts && setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one) < 0)
        die("SO_TIMESTAMPNS: %s", strerror(errno));
    if (O.sources > 1) {
        /* a source address of its own per connection group, its port chosen at connect() for the whole
           4-tuple, so N sources give N times the ephemeral port range */
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        struct sockaddr_in src = { .sin_family = AF_INET };
        src.sin_addr.s_addr = htonl(0x7f000001u + c->id % O.sources);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0)
            die("bind to 127.0.0.%u: %s", 1 + c->id % O.sources, strerror(errno));
    }
    const struct sockaddr_storage *to = O.n_ports > 1 ? &G.addrs[c->id % O.n_ports] : &G.addr;
    if (connect(fd, (const struct sockaddr *)to, G.addrlen) < 0 && errno != EINPROGRESS)
        die("connect to %s:%d: %s", O.host, O.n_ports > 1 ? O.ports[c->id % O.n_ports] : O.port, strerror(errno));
    c->fd = fd;
    c->state = S_CONNECTING;
    c->t_open = now_ns();
    struct epoll_event ev = { .events = EPOLLOUT | EPOLLET, .data.ptr = c };
    if (epoll_ctl(G.epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        die("epoll_ctl ADD: %s", strerror(errno));
}

/* ------------------------------------------------------------------------------------------------ */
/* Publishing                                                                                       */
/* ------------------------------------------------------------------------------------------------ */

/* Writes "<t_ns>:<pubid>:<seq>:" padded with 'x' to --payload bytes; returns its length. */
static size_t build_text(char *dst, uint64_t t, uint32_t pub, uint64_t seq)
{
    char *p = dst;
    p = u64_dec(p, t);
    *p++ = ':';
    p = u64_dec(p, pub);
    *p++ = ':';
    p = u64_dec(p, seq);
    *p++ = ':';
    size_t n = (size_t)(p - dst);
    if (n < O.payload) {
        memset(p, 'x', O.payload - n);
        n = O.payload;
    }
    return n;
}

static void send_publish(struct conn *c)
{
    if (c->state != S_JOINED) {
        S.send_skipped++;
        return;
    }
    static const char PP[] = "{\"type\":\"publish\",\"room\":\"", SP[] = "42[\"publish\",{\"room\":\"";
    static const char TX[] = "\",\"text\":\"";
    char *b = G.scratch, *p = b;
    const char *pre = O.proto == PROTO_PARLEY ? PP : SP;
    size_t pre_len = O.proto == PROTO_PARLEY ? sizeof PP - 1 : sizeof SP - 1;
    memcpy(p, pre, pre_len), p += pre_len;
    memcpy(p, G.room_name[c->room], G.room_len[c->room]), p += G.room_len[c->room];
    memcpy(p, TX, sizeof TX - 1), p += sizeof TX - 1;
    uint64_t t = now_ns();
    p += build_text(p, t, (uint32_t)c->pubid, c->next_seq++);
    if (O.proto == PROTO_PARLEY)
        memcpy(p, "\"}", 2), p += 2;
    else
        memcpy(p, "\"}]", 3), p += 3;
    ws_send_text(c, b, (size_t)(p - b));
    S.published_total++;
    if (t >= G.t_meas && t < G.t_end)
        S.published_window++;
    c->inflight++;
}

/* Open loop: sends every message whose scheduled time has come (catching up when behind). */
static void open_loop_tick(uint64_t now)
{
    for (;;) {
        uint64_t due = G.t0 + (uint64_t)((double)G.pub_k * G.pub_interval_ns);
        if (due > now || due >= G.t_end)
            return;
        uint64_t lag = now - due;
        if (due >= G.t_meas) {          /* lateness is judged in the measured window only */
            if (lag > (uint64_t)O.late_us * 1000)
                S.late_sends++;
            if (lag > S.max_lag_ns)
                S.max_lag_ns = lag;
        }
        send_publish(&G.conns[G.pub_k % G.n_pubs]);
        G.pub_k++;
    }
}

static void closed_loop_start(void)
{
    for (uint32_t j = 0; j < G.n_pubs; j++)
        for (uint32_t w = 0; w < O.closed_window; w++)
            send_publish(&G.conns[j]);
}

/* Closed loop: a publisher got its own message back; keep its window full while the load runs. */
static void closed_loop_on_own(struct conn *c)
{
    if (c->inflight)
        c->inflight--;
    if (G.phase == PH_WARMUP || G.phase == PH_MEASURE)
        send_publish(c);
}

/* ------------------------------------------------------------------------------------------------ */
/* Churn: extra connections, open from the start, that join and leave a room in turn                 */
/* ------------------------------------------------------------------------------------------------ */

static void churn_op(struct conn *c, uint64_t k)
{
    if (c->state == S_OPEN) {
        c->room = (uint32_t)(k % O.rooms);
        send_join(c);
    } else if (c->state == S_JOINED) {
        send_leave(c);
    } else {                                    /* its last join or leave is not acknowledged yet */
        S.churn_busy++;
        return;
    }
    S.churn_ops++;
}

static void churn_tick(uint64_t now)
{
    for (;;) {
        uint64_t due = G.t0 + (uint64_t)((double)G.churn_k * G.churn_interval_ns);
        if (due > now || due >= G.t_end)
            return;
        churn_op(&G.conns[G.n_members + G.churn_k % G.n_churn], G.churn_k);
        G.churn_k++;
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Receiving: deliveries and protocol frames                                                        */
/* ------------------------------------------------------------------------------------------------ */

/* A chat message arrived: parse "<t_ns>:<pub>:<seq>:" from its text, account for it. */
static void on_delivery(struct conn *c, const char *f, size_t n, uint64_t now)
{
    const char *end = f + n, *t = find_text_field(f, n);
    uint64_t tns, pub, seq;
    if (!t) {
        S.foreign++;
        return;
    }
    t += 8;
    if (!parse_u64(&t, end, &tns) || t >= end || *t++ != ':' || !parse_u64(&t, end, &pub) ||
        t >= end || *t++ != ':' || !parse_u64(&t, end, &seq) || pub >= G.n_pubs) {
        S.foreign++;
        return;
    }
    if (c->kind == K_CHURN) {
        S.churn_deliveries++;
        if (now >= G.t_meas && now < G.t_end)
            S.churn_deliveries_in_window++;
        return;
    }
    if (pub % O.rooms != c->room) {
        S.misrouted++;
        return;
    }
    if (now >= G.t_meas && now < G.t_end)
        S.rx_in_window++;
    if (tns >= G.t_meas && tns < G.t_end) {
        S.delivered++;
        hist_record(&H_LAT, now > tns ? now - tns : 0);
    }
    uint32_t *last = &c->last_seq[pub / O.rooms];
    if (seq + 1 <= *last)
        S.out_of_order++;
    else
        *last = (uint32_t)(seq + 1);
    if (O.mode == MODE_CLOSED && (int64_t)pub == c->pubid)
        closed_loop_on_own(c);
}

static void parley_on_ack(struct conn *c, const char *f, size_t n)
{
    if (memmem(f, n, "\"ref\":\"j\"", 9)) {
        if (c->state == S_JOINING)
            conn_on_joined(c);
    } else if (memmem(f, n, "\"ref\":\"l\"", 9)) {
        if (c->state == S_LEAVING) {
            c->state = S_OPEN;
            churn_acked(&S.churn_leaves);
        }
    }
}

static void parley_on_error(struct conn *c, const char *f, size_t n)
{
    errors_add_frame(f, n);
    if (c->state == S_JOINING && memmem(f, n, "\"ref\":\"j\"", 9))
        conn_on_join_refused(c, f, n);
    else if (c->state == S_LEAVING && memmem(f, n, "\"ref\":\"l\"", 9)) {
        S.churn_refused++;
        c->state = S_OPEN;
    }
}

static void parley_on_text(struct conn *c, const char *f, size_t n, uint64_t now)
{
    static const char MSG[] = "{\"type\":\"message\"", TYPE[] = "{\"type\":\"";
    if (n >= sizeof MSG - 1 && memcmp(f, MSG, sizeof MSG - 1) == 0) {
        on_delivery(c, f, n, now);
        return;
    }
    const char *ty = f + sizeof TYPE - 1, *q;
    if (n < sizeof TYPE || memcmp(f, TYPE, sizeof TYPE - 1) != 0 ||
        !(q = memchr(ty, '"', n - (sizeof TYPE - 1)))) {
        S.frames[F_OTHER]++;
        return;
    }
    size_t tl = (size_t)(q - ty);
    if (token_is(ty, tl, "welcome")) {
        S.frames[F_WELCOME]++;
        if (c->state == S_WAIT_OPEN)
            conn_on_open(c);
    } else if (token_is(ty, tl, "ack")) {
        S.frames[F_ACK]++;
        parley_on_ack(c, f, n);
    } else if (token_is(ty, tl, "error")) {
        S.frames[F_ERROR]++;
        parley_on_error(c, f, n);
    } else if (token_is(ty, tl, "joined")) {
        S.frames[F_JOINED]++;
    } else if (token_is(ty, tl, "presence")) {
        S.frames[F_PRESENCE]++;
    } else if (token_is(ty, tl, "left")) {
        S.frames[F_LEFT]++;
    } else if (token_is(ty, tl, "pong")) {
        S.frames[F_PONG]++;
    } else if (token_is(ty, tl, "close")) {
        S.frames[F_OTHER]++;
        errors_add_frame(f, n);
    } else {
        S.frames[F_OTHER]++;
    }
}

/* Socket.IO EVENT packet other than "message": 2["name",...] (without the leading '2'). */
static void sio_on_event(const char *p, size_t n)
{
    const char *q;
    if (n < 3 || p[0] != '[' || p[1] != '"' || !(q = memchr(p + 2, '"', n - 2))) {
        S.frames[F_OTHER]++;
        return;
    }
    const char *ev = p + 2;
    size_t el = (size_t)(q - ev);
    if (token_is(ev, el, "joined"))
        S.frames[F_JOINED]++;
    else if (token_is(ev, el, "presence"))
        S.frames[F_PRESENCE]++;
    else if (token_is(ev, el, "left"))
        S.frames[F_LEFT]++;
    else if (token_is(ev, el, "error")) {
        S.frames[F_ERROR]++;
        errors_add_frame(p, n);
    } else
        S.frames[F_OTHER]++;
}

/* Socket.IO ACK packet: 3<id>[...]; id 0 answers our join, id 1 a churner's leave. */
static void sio_on_ack(struct conn *c, const char *p, size_t n)
{
    S.frames[F_ACK]++;
    const char *q = p, *end = p + n;
    uint64_t id;
    if (!parse_u64(&q, end, &id))
        return;
    if (id == 1 && c->state == S_LEAVING) {
        c->state = S_OPEN;
        if (memmem(q, (size_t)(end - q), "{\"error\"", 8)) {
            errors_add_frame(q, (size_t)(end - q));
            S.churn_refused++;
        } else {
            churn_acked(&S.churn_leaves);
        }
        return;
    }
    if (id != 0 || c->state != S_JOINING)
        return;
    if (memmem(q, (size_t)(end - q), "{\"error\"", 8)) {
        S.frames[F_ERROR]++;
        errors_add_frame(q, (size_t)(end - q));
        conn_on_join_refused(c, p, n);
    } else {
        conn_on_joined(c);
    }
}

/* Socket.IO packet (the Engine.IO MESSAGE payload after '4'). */
static void sio_on_packet(struct conn *c, const char *p, size_t n)
{
    if (!n) {
        S.frames[F_OTHER]++;
        return;
    }
    switch (p[0]) {
    case '0':                                   /* CONNECT answered */
        S.frames[F_WELCOME]++;
        if (c->state == S_SIO_CONNECT)
            conn_on_open(c);
        break;
    case '2':
        sio_on_event(p + 1, n - 1);
        break;
    case '3':
        sio_on_ack(c, p + 1, n - 1);
        break;
    case '4':                                   /* CONNECT_ERROR */
        S.frames[F_ERROR]++;
        errors_add("sio_connect_error", 17);
        conn_lost(c, "Socket.IO CONNECT refused");
        break;
    case '1':                                   /* DISCONNECT from the server */
        S.frames[F_OTHER]++;
        conn_lost(c, "Socket.IO disconnect packet");
        break;
    default:
        S.frames[F_OTHER]++;
    }
}

static void sio_on_text(struct conn *c, const char *f, size_t n, uint64_t now)
{
    static const char MSG[] = "42[\"message\",";
    if (n >= sizeof MSG - 1 && memcmp(f, MSG, sizeof MSG - 1) == 0) {
        on_delivery(c, f, n, now);
        return;
    }
    if (!n) {
        S.frames[F_OTHER]++;
        return;
    }
    switch (f[0]) {
    case '0':                                   /* Engine.IO OPEN */
        if (c->state == S_WAIT_OPEN) {
            ws_send_text(c, "40", 2);
            c->state = S_SIO_CONNECT;
        }
        break;
    case '2':                                   /* Engine.IO PING */
        ws_send_text(c, "3", 1);
        S.eio_pings++;
        break;
    case '4':
        sio_on_packet(c, f + 1, n - 1);
        break;
    case '1':                                   /* Engine.IO CLOSE */
        conn_lost(c, "Engine.IO close packet");
        break;
    default:                                    /* 3 pong, 6 noop, ... */
        S.frames[F_OTHER]++;
    }
}

static void on_message(struct conn *c, int opcode, const char *p, size_t n, uint64_t now)
{
    if (now >= G.t_meas && now < G.t_end)
        S.frames_in_window++;
    if (opcode != 0x1) {
        S.frames[F_OTHER]++;
        return;
    }
    if (O.proto == PROTO_PARLEY)
        parley_on_text(c, p, n, now);
    else
        sio_on_text(c, p, n, now);
}

static void on_close_frame(struct conn *c, const char *p, size_t n)
{
    int code = n >= 2 ? ((uint8_t)p[0] << 8 | (uint8_t)p[1]) : 1005;
    closes_add(code);
    ws_send(c, 0x8, p, n >= 2 ? 2 : 0);
    conn_flush(c);
    char why[160];
    snprintf(why, sizeof why, "close frame %d %.*s", code, (int)(n > 2 ? (n - 2 > 100 ? 100 : n - 2) : 0),
             p + 2);
    conn_lost(c, why);
}

/* One complete frame: data frames (with reassembly of fragments) and control frames. */
static void ws_on_frame(struct conn *c, bool fin, int op, const char *p, size_t n, uint64_t now)
{
    switch (op) {
    case 0x1:
    case 0x2:
        if (c->frag_op) {
            conn_lost(c, "data frame inside a fragmented message");
        } else if (fin) {
            on_message(c, op, p, n, now);
        } else {
            c->frag_op = (uint8_t)op;
            buf_reserve(&c->frag, &c->frag_cap, n);
            memcpy(c->frag, p, n);
            c->frag_len = (uint32_t)n;
        }
        break;
    case 0x0:
        if (!c->frag_op) {
            conn_lost(c, "continuation frame without a message");
            break;
        }
        if ((size_t)c->frag_len + n > MAX_MESSAGE) {
            conn_lost(c, "fragmented message too large");
            break;
        }
        buf_reserve(&c->frag, &c->frag_cap, (size_t)c->frag_len + n);
        memcpy(c->frag + c->frag_len, p, n);
        c->frag_len += (uint32_t)n;
        if (fin) {
            int fop = c->frag_op;
            size_t len = c->frag_len;
            c->frag_op = 0;
            c->frag_len = 0;
            on_message(c, fop, c->frag, len, now);
        }
        break;
    case 0x8:
        on_close_frame(c, p, n);
        break;
    case 0x9:
        S.ws_pings++;
        ws_send(c, 0xA, p, n);
        break;
    case 0xA:
        break;
    default:
        conn_lost(c, "unknown WebSocket opcode");
    }
}

/* Parses the complete frames in buf[0, len); returns the bytes consumed. */
static size_t ws_parse(struct conn *c, char *buf, size_t len, uint64_t now)
{
    size_t p = 0;
    while (len - p >= 2 && c->state != S_CLOSED) {
        const uint8_t *b = (const uint8_t *)buf + p;
        uint64_t plen = b[1] & 0x7f;
        size_t h = 2;
        if (plen == 126) {
            if (len - p < 4)
                break;
            plen = (uint64_t)b[2] << 8 | b[3];
            h = 4;
        } else if (plen == 127) {
            if (len - p < 10)
                break;
            plen = 0;
            for (int i = 2; i < 10; i++)
                plen = plen << 8 | b[i];
            h = 10;
        }
        if (plen > MAX_MESSAGE) {
            conn_lost(c, "frame too large");
            break;
        }
        bool masked = b[1] & 0x80;
        if (masked)
            h += 4;
        if (len - p < h + plen)
            break;
        char *payload = buf + p + h;
        if (masked) {
            uint32_t key;
            memcpy(&key, payload - 4, 4);
            mask_copy(payload, payload, (size_t)plen, key);
        }
        p += h + (size_t)plen;
        ws_on_frame(c, b[0] & 0x80, b[0] & 0x0f, payload, (size_t)plen, now);
    }
    return p;
}

/* Keeps the unparsed tail of a read for the next one. */
static void carry_save(struct conn *c, const char *p, size_t n)
{
    if (n)
        buf_reserve(&c->carry, &c->carry_cap, n);
    memmove(c->carry, p, n);
    c->carry_len = (uint32_t)n;
}

/* recv(), or recvmsg() with the kernel's receive timestamp (as CLOCK_MONOTONIC ns) in *kts. */
static ssize_t sock_read(int fd, char *buf, size_t len, uint64_t *kts)
{
    if (!O.kernel_ts)
        return recv(fd, buf, len, 0);
    union { char b[CMSG_SPACE(sizeof(struct timespec))]; struct cmsghdr align; } ctl;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b, .msg_controllen = sizeof ctl.b };
    ssize_t r = recvmsg(fd, &mh, 0);
    if (r <= 0)
        return r;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
        if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, CMSG_DATA(cm), sizeof ts);
            int64_t rt = (int64_t)ts.tv_sec * (int64_t)NS_PER_S + ts.tv_nsec;
            if (rt > 0)
                *kts = (uint64_t)(rt - G.rt_minus_mono);
        }
    return r;
}

/* Reads what the socket holds and handles every frame. Edge-triggered: a short read means the socket
 * was drained (data arriving later raises a new edge). */
static void conn_on_readable(struct conn *c)
{
    for (;;) {
        size_t have = c->carry_len;
        if (G.rbuf_cap < have + READ_CHUNK) {
            G.rbuf_cap = (have + READ_CHUNK) * 2;
            if (!(G.rbuf = realloc(G.rbuf, G.rbuf_cap)))
                die("out of memory");
        }
        uint64_t kts = 0;
        ssize_t r = sock_read(c->fd, G.rbuf + have, READ_CHUNK, &kts);
        if (r == 0) {
            conn_lost(c, "connection closed by the server");
            return;
        }
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                conn_lost(c, strerror(errno));
            return;
        }
        if (have)
            memcpy(G.rbuf, c->carry, have);
        uint64_t now = now_ns();
        if (now >= G.t_meas && now < G.t_end) {
            S.recvs_in_window++;
            if (kts)
                hist_record(&H_READ, now > kts ? now - kts : 0);
        }
        if (kts)
            now = kts;          /* latency up to the kernel's receive time, not to this read */
        size_t total = have + (size_t)r, off = 0;
        if (c->state == S_HTTP) {
            off = http_on_response(c, G.rbuf, total);
            if (c->state == S_HTTP) {
                carry_save(c, G.rbuf, total);
                return;
            }
        }
        off += ws_parse(c, G.rbuf + off, total - off, now);
        if (c->state == S_CLOSED)
            return;
        carry_save(c, G.rbuf + off, total - off);
        if ((size_t)r < READ_CHUNK)
            return;
    }
}

static void conn_on_event(struct conn *c, uint32_t ev)
{
    if (c->state == S_CONNECTING) {
        conn_on_connected(c);
        return;
    }
    if (c->state == S_CLOSED || c->fd < 0)
        return;
    if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))
        conn_on_readable(c);
    if (c->state != S_CLOSED && (ev & EPOLLOUT))
        conn_flush(c);
}

/* ------------------------------------------------------------------------------------------------ */
/* Process sampling (/proc): the server's CPU and RSS, and the CPU everything else used             */
/* ------------------------------------------------------------------------------------------------ */

/* utime + stime of a process in clock ticks (all its threads), or 0 when it cannot be read. */
static uint64_t proc_cpu_ticks(const char *stat_path)
{
    char b[1024];
    FILE *f = fopen(stat_path, "r");
    if (!f)
        return 0;
    size_t n = fread(b, 1, sizeof b - 1, f);
    fclose(f);
    b[n] = 0;
    const char *p = strrchr(b, ')');    /* the command name may hold spaces */
    unsigned long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return 0;
    return (uint64_t)ut + st;
}

static uint64_t proc_rss_kb(int pid)
{
    char path[64], line[256];
    uint64_t kb = 0;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %lu kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* Busy clock ticks of the whole machine (user, nice, system, irq, softirq) from /proc/stat. */
static uint64_t machine_busy_ticks(void)
{
    unsigned long long v[7] = { 0 };
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6]);
    fclose(f);
    return n == 7 ? v[0] + v[1] + v[2] + v[5] + v[6] : 0;
}

static void jit_sample_now(int pid, struct jit_sample *j)
{
    char path[64];
    j->n = 0;
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && j->n < MAX_JIT_THREADS) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char comm_path[320], comm[32] = "";
        snprintf(comm_path, sizeof comm_path, "/proc/%d/task/%s/comm", pid, e->d_name);
        FILE *f = fopen(comm_path, "r");
        if (!f)
            continue;
        if (!fgets(comm, sizeof comm, f))
            comm[0] = 0;
        fclose(f);
        if (strncmp(comm, "C1 CompilerThre", 15) && strncmp(comm, "C2 CompilerThre", 15))
            continue;
        snprintf(comm_path, sizeof comm_path, "/proc/%d/task/%s/stat", pid, e->d_name);
        j->tid[j->n] = atoi(e->d_name);
        j->ticks[j->n++] = proc_cpu_ticks(comm_path);
    }
    closedir(d);
}

/* JIT compiler ticks between two samples: threads born in between count in full; one that exited is lost. */
static uint64_t jit_ticks_between(const struct jit_sample *a, const struct jit_sample *b)
{
    uint64_t sum = 0;
    for (int i = 0; i < b->n; i++) {
        uint64_t before = 0;
        for (int k = 0; k < a->n; k++)
            if (a->tid[k] == b->tid[i])
                before = a->ticks[k];
        sum += b->ticks[i] > before ? b->ticks[i] - before : 0;
    }
    return sum;
}

static struct proc_sample proc_sample_now(void)
{
    struct proc_sample s = { .t = now_ns(), .gen_ticks = proc_cpu_ticks("/proc/self/stat"),
                             .busy_ticks = machine_busy_ticks() };
    for (int i = 0; i < O.n_server_pids; i++) {
        /* every server process counts (a cluster: its nodes and its broker); JIT threads of the first */
        char path[64];
        snprintf(path, sizeof path, "/proc/%d/stat", O.server_pids[i]);
        s.server_ticks += proc_cpu_ticks(path);
        s.server_rss_kb += proc_rss_kb(O.server_pids[i]);
    }
    if (O.server_pid)
        jit_sample_now(O.server_pid, &s.jit);
    return s;
}

/* ------------------------------------------------------------------------------------------------ */
/* Scheduling: phases, connect pacing, the timer                                                    */
/* ------------------------------------------------------------------------------------------------ */

static double secs(uint64_t ns) { return (double)ns / 1e9; }

static void connect_tick(uint64_t now)
{
    uint64_t allowed = (uint64_t)(secs(now - G.t_setup) * O.connect_rate) + 1;
    while (G.opened < G.n_conns && G.opened < allowed && G.opened - G.ready < O.max_pending)
        conn_open(&G.conns[G.opened++]);
}

static uint64_t connect_due(void)
{
    if (G.opened >= G.n_conns || G.opened - G.ready >= O.max_pending)
        return UINT64_MAX;
    return G.t_setup + (uint64_t)((double)G.opened / O.connect_rate * 1e9);
}

static void begin_measure(uint64_t now)
{
    getrusage(RUSAGE_SELF, &G.ru_start);
    G.t_ru_start = now;
    G.ps_start = proc_sample_now();
}

static void end_measure(uint64_t now)
{
    getrusage(RUSAGE_SELF, &G.ru_end);
    G.t_ru_end = now;
    G.ps_end = proc_sample_now();
}

static void start_load(uint64_t now)
{
    G.t_ready = now;
    G.ps_ready = proc_sample_now();
    if (!G.t_connected)
        G.t_connected = now;
    fprintf(stderr, "loadgen: %u connections joined in %.2f s (upgrades done after %.2f s)\n", G.n_conns,
            secs(G.t_ready - G.t_setup), secs(G.t_connected - G.t_setup));
    if (O.mode == MODE_IDLE) {
        printf("READY\n");
        fflush(stdout);
        G.phase = PH_HOLD;
        G.t_meas = now;
        G.t_end = now + (uint64_t)(O.duration * 1e9);
        begin_measure(now);
        return;
    }
    G.t0 = now;
    G.t_meas = now + (uint64_t)(O.warmup * 1e9);
    G.t_end = G.t_meas + (uint64_t)(O.duration * 1e9);
    G.phase = PH_WARMUP;
    if (O.mode == MODE_CLOSED)
        closed_loop_start();
}

static bool drain_complete(void)
{
    return S.delivered >= S.published_window * O.subs;
}

/* Moves between phases when their time has come (or on a stop request). */
static void advance_phase(uint64_t now)
{
    if (G.stop && G.phase != PH_DONE) {
        if (G.phase == PH_SETUP)
            die("interrupted during setup (%u of %u connections ready)", G.ready, G.n_conns);
        if (G.phase == PH_WARMUP || G.phase == PH_MEASURE || G.phase == PH_HOLD) {
            if (G.t_end > now)
                G.t_end = now;
            if (G.t_meas > now)
                G.t_meas = now;
        }
        G.stop = 0;
    }
    if (G.phase == PH_SETUP) {
        if (G.ready == G.n_conns)
            start_load(now);
        else if (now - G.t_setup > (uint64_t)(O.setup_timeout * 1e9))
            die("setup timed out: %u of %u connections ready", G.ready, G.n_conns);
    }
    if (G.phase == PH_WARMUP && now >= G.t_meas) {
        G.phase = PH_MEASURE;
        begin_measure(now);
    }
    if (G.phase == PH_MEASURE && now >= G.t_end) {
        end_measure(now);
        G.phase = PH_DRAIN;
        G.t_drain_end = now + (uint64_t)(O.drain * 1e9);
    }
    if (G.phase == PH_DRAIN && (drain_complete() || now >= G.t_drain_end))
        G.phase = PH_DONE;
    if (G.phase == PH_HOLD && now >= G.t_end) {
        end_measure(now);
        G.phase = PH_DONE;
    }
}

static void load_tick(uint64_t now)
{
    if (G.phase == PH_SETUP)
        connect_tick(now);
    if (G.phase != PH_WARMUP && G.phase != PH_MEASURE)
        return;
    if (O.mode == MODE_OPEN)
        open_loop_tick(now);
    if (G.n_churn)
        churn_tick(now);
}

static inline uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* The next time the loop must wake up with no network event. */
static uint64_t next_deadline(uint64_t now)
{
    uint64_t tick = now + (uint64_t)O.tick_us * 1000, d = UINT64_MAX;
    switch (G.phase) {
    case PH_SETUP:
        d = min64(connect_due(), G.t_setup + (uint64_t)(O.setup_timeout * 1e9));
        break;
    case PH_WARMUP:
        d = G.t_meas;
        /* fall through */
    case PH_MEASURE:
        d = min64(d, G.t_end);
        if (O.mode == MODE_OPEN) {
            uint64_t due = G.t0 + (uint64_t)((double)G.pub_k * G.pub_interval_ns);
            d = min64(d, due > tick ? due : tick);
        }
        if (G.n_churn) {
            uint64_t due = G.t0 + (uint64_t)((double)G.churn_k * G.churn_interval_ns);
            d = min64(d, due > tick ? due : tick);
        }
        break;
    case PH_DRAIN:
        d = G.t_drain_end;
        break;
    case PH_HOLD:
        d = G.t_end;
        break;
    case PH_DONE:
        d = now;
        break;
    }
    return d;
}

static void arm_timer(uint64_t when)
{
    if (when == G.t_armed)
        return;
    struct itimerspec its = { 0 };
    if (when != UINT64_MAX) {
        its.it_value.tv_sec = (time_t)(when / NS_PER_S);
        its.it_value.tv_nsec = (long)(when % NS_PER_S);
        if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
            its.it_value.tv_nsec = 1;
    }
    if (timerfd_settime(G.tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
        die("timerfd_settime: %s", strerror(errno));
    G.t_armed = when;
}

/* Sends the open-loop publishes that came due while a large batch of events is being handled. */
static void publish_tick(void)
{
    if (O.mode == MODE_OPEN && (G.phase == PH_WARMUP || G.phase == PH_MEASURE)) {
        open_loop_tick(now_ns());
        flush_dirty();
    }
}

static void handle_events(struct epoll_event *evs, int n)
{
    for (int i = 0; i < n; i++) {
        if (evs[i].data.ptr == &G.timer_tag) {
            uint64_t expirations;
            if (read(G.tfd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
                die("timerfd read: %s", strerror(errno));
            G.t_armed = 0;
        } else {
            conn_on_event(evs[i].data.ptr, evs[i].events);
        }
        if ((i & 63) == 63)
            publish_tick();
    }
}

static void sample_clock_offset(void)
{
    struct timespec rt, mono;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mono);
    G.rt_minus_mono = ((int64_t)rt.tv_sec - mono.tv_sec) * (int64_t)NS_PER_S + (rt.tv_nsec - mono.tv_nsec);
}

/* --batch-us: sleeps a little before the next epoll_wait so one wakeup collects a burst of frames. */
static void batch_pause(uint64_t now, uint64_t deadline)
{
    uint64_t until = min64(now + (uint64_t)O.batch_us * 1000, deadline);
    if (until <= now)
        return;
    struct timespec ts = { .tv_sec = (time_t)(until / NS_PER_S), .tv_nsec = (long)(until % NS_PER_S) };
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR && !G.stop)
        ;
}

static void run_loop(void)
{
    sample_clock_offset();
    static struct epoll_event evs[MAX_EVENTS];
    uint64_t now = now_ns();
    load_tick(now);
    flush_dirty();
    arm_timer(next_deadline(now));
    while (G.phase != PH_DONE) {
        int n = epoll_wait(G.epfd, evs, MAX_EVENTS, -1);
        if (n < 0 && errno != EINTR)
            die("epoll_wait: %s", strerror(errno));
        handle_events(evs, n);
        now = now_ns();
        if (O.kernel_ts)
            sample_clock_offset();
        if (now >= G.t_meas && now < G.t_end)
            S.wakeups_in_window++;
        advance_phase(now);
        load_tick(now);
        flush_dirty();
        if (G.phase != PH_DONE) {
            uint64_t d = next_deadline(now);
            arm_timer(d);
            if (O.batch_us && n < MAX_EVENTS)
                batch_pause(now, d);
        }
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Results                                                                                          */
/* ------------------------------------------------------------------------------------------------ */

static double tv_s(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

struct results {
    double window_s, cpu_user, cpu_sys, cpu, cpu_us_per_delivery, deliveries_per_s, published_per_s;
    double connect_join_s, connect_s, connects_per_s, connect_joins_per_s;
    double server_cpu, server_jit_cpu, server_cpu_us_per_delivery, server_cpu_setup, server_cpu_us_per_connect, other_cores;
    double server_rss_per_conn_kb;
    uint64_t expected, loss, inflight;
    double p50, p90, p99, p999, max, min, mean;
};

/* Server CPU per delivery and per connect, RSS per connection, other processes' CPU (--server-pid). */
static void compute_server_results(struct results *r)
{
    double tck = (double)sysconf(_SC_CLK_TCK);
    const struct proc_sample *a = &G.ps_start, *b = &G.ps_end;
    double win = b->t > a->t ? secs(b->t - a->t) : 0;
    r->server_cpu = (double)(b->server_ticks - a->server_ticks) / tck;
    r->server_jit_cpu = (double)jit_ticks_between(&a->jit, &b->jit) / tck;
    r->server_cpu_us_per_delivery = S.rx_in_window ? r->server_cpu * 1e6 / (double)S.rx_in_window : 0;
    r->server_cpu_setup = (double)(G.ps_ready.server_ticks - G.ps_setup.server_ticks) / tck;
    r->server_cpu_us_per_connect = G.n_conns ? r->server_cpu_setup * 1e6 / G.n_conns : 0;
    int64_t other = (int64_t)(b->busy_ticks - a->busy_ticks) - (int64_t)(b->server_ticks - a->server_ticks) -
                    (int64_t)(b->gen_ticks - a->gen_ticks);
    r->other_cores = win > 0 && other > 0 ? (double)other / tck / win : 0;
    r->server_rss_per_conn_kb = G.n_conns && b->server_rss_kb > G.ps_setup.server_rss_kb
                                    ? (double)(b->server_rss_kb - G.ps_setup.server_rss_kb) / G.n_conns : 0;
}

static struct results compute_results(void)
{
    struct results r = { 0 };
    r.window_s = G.t_ru_end > G.t_ru_start ? secs(G.t_ru_end - G.t_ru_start) : 0;
    r.cpu_user = tv_s(G.ru_end.ru_utime) - tv_s(G.ru_start.ru_utime);
    r.cpu_sys = tv_s(G.ru_end.ru_stime) - tv_s(G.ru_start.ru_stime);
    r.cpu = r.cpu_user + r.cpu_sys;
    r.cpu_us_per_delivery = S.rx_in_window ? r.cpu * 1e6 / (double)S.rx_in_window : 0;
    r.deliveries_per_s = r.window_s > 0 ? (double)S.rx_in_window / r.window_s : 0;
    r.published_per_s = r.window_s > 0 ? (double)S.published_window / r.window_s : 0;
    r.connect_join_s = secs(G.t_ready - G.t_setup);
    r.connect_s = secs(G.t_connected - G.t_setup);
    r.connects_per_s = r.connect_s > 0 ? G.n_conns / r.connect_s : 0;
    r.connect_joins_per_s = r.connect_join_s > 0 ? G.n_conns / r.connect_join_s : 0;
    compute_server_results(&r);
    r.expected = S.published_window * O.subs;
    r.loss = r.expected > S.delivered ? r.expected - S.delivered : 0;
    for (uint32_t j = 0; j < G.n_pubs && O.mode == MODE_CLOSED; j++)
        r.inflight += G.conns[j].inflight;
    r.p50 = hist_percentile(&H_LAT, 0.50) / 1e3;
    r.p90 = hist_percentile(&H_LAT, 0.90) / 1e3;
    r.p99 = hist_percentile(&H_LAT, 0.99) / 1e3;
    r.p999 = hist_percentile(&H_LAT, 0.999) / 1e3;
    r.max = H_LAT.max / 1e3;
    r.min = H_LAT.count ? H_LAT.min / 1e3 : 0;
    r.mean = H_LAT.count ? H_LAT.sum / (double)H_LAT.count / 1e3 : 0;
    return r;
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(f, "\\u%04x", *s);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

static const char *mode_name(void)
{
    return O.mode == MODE_OPEN ? "open" : O.mode == MODE_CLOSED ? "closed" : "idle";
}

static void write_json_server(FILE *f, const struct results *r)
{
    if (!O.server_pid) {
        fputs("  \"server_pid\": null,\n", f);
        return;
    }
    fprintf(f, "  \"server_pid\": %d,\n  \"server_cpu_s\": %.3f,\n  \"server_cpu_util\": %.4f,\n", O.server_pid,
            r->server_cpu, r->window_s > 0 ? r->server_cpu / r->window_s : 0);
    fprintf(f, "  \"server_jit_cpu_s\": %.3f,\n", r->server_jit_cpu);
    fprintf(f, "  \"server_cpu_us_per_delivery\": %.4f,\n  \"server_cpu_setup_s\": %.3f,\n",
            r->server_cpu_us_per_delivery, r->server_cpu_setup);
    fprintf(f, "  \"server_cpu_us_per_connect\": %.1f,\n  \"other_cores\": %.4f,\n", r->server_cpu_us_per_connect,
            r->other_cores);
    fprintf(f, "  \"server_rss_before_kb\": %lu,\n  \"server_rss_ready_kb\": %lu,\n  \"server_rss_kb\": %lu,\n",
            G.ps_setup.server_rss_kb, G.ps_ready.server_rss_kb, G.ps_end.server_rss_kb);
    fprintf(f, "  \"server_rss_per_conn_kb\": %.2f,\n", r->server_rss_per_conn_kb);
}

static void write_json(FILE *f, const struct results *r)
{
    fputs("{\n  \"label\": ", f);
    json_string(f, O.label);
    fprintf(f, ",\n  \"proto\": \"%s\",\n  \"mode\": \"%s\",\n  \"host\": ", O.proto == PROTO_PARLEY ? "parley" : "socketio",
            mode_name());
    json_string(f, O.host);
    fprintf(f, ",\n  \"port\": %d,\n  \"path\": ", O.port);
    json_string(f, O.path);
    fprintf(f, ",\n  \"rooms\": %u,\n  \"subs\": %u,\n  \"pubs\": %u,\n  \"connections\": %u,\n", O.rooms, O.subs,
            O.pubs, G.n_conns);
    fprintf(f, "  \"rate_target\": %.3f,\n  \"closed_window\": %u,\n  \"payload\": %u,\n",
            O.mode == MODE_OPEN ? O.rate : 0.0, O.closed_window, O.payload);
    fprintf(f, "  \"duration_s\": %.6f,\n  \"warmup_s\": %.3f,\n", r->window_s, O.mode == MODE_IDLE ? 0 : O.warmup);
    fprintf(f, "  \"published\": %lu,\n  \"published_total\": %lu,\n  \"delivered\": %lu,\n  \"expected\": %lu,\n",
            S.published_window, S.published_total, S.delivered, r->expected);
    fprintf(f, "  \"loss\": %lu,\n  \"out_of_order\": %lu,\n  \"misrouted\": %lu,\n  \"foreign\": %lu,\n", r->loss,
            S.out_of_order, S.misrouted, S.foreign);
    fprintf(f, "  \"late_sends\": %lu,\n  \"max_send_lag_us\": %.1f,\n  \"send_skipped\": %lu,\n", S.late_sends,
            S.max_lag_ns / 1e3, S.send_skipped);
    fprintf(f, "  \"errors\": {");
    for (int i = 0; i < n_errs; i++) {
        fprintf(f, "%s", i ? ", " : "");
        json_string(f, ERRS[i].code);
        fprintf(f, ": %lu", ERRS[i].n);
    }
    fprintf(f, "},\n  \"errors_total\": %lu,\n  \"close_codes\": {", errors_total());
    for (int i = 0; i < n_closes; i++)
        fprintf(f, "%s\"%d\": %lu", i ? ", " : "", CLOSES[i].code, CLOSES[i].n);
    fprintf(f, "},\n  \"disconnects\": %lu,\n", S.disconnects);
    fprintf(f, "  \"deliveries_per_s\": %.1f,\n  \"published_per_s\": %.1f,\n", r->deliveries_per_s,
            r->published_per_s);
    fprintf(f, "  \"latency_us\": {\"p50\": %.1f, \"p90\": %.1f, \"p99\": %.1f, \"p999\": %.1f, \"max\": %.1f, "
               "\"min\": %.1f, \"mean\": %.1f, \"count\": %lu},\n",
            r->p50, r->p90, r->p99, r->p999, r->max, r->min, r->mean, H_LAT.count);
    if (O.kernel_ts)
        fprintf(f, "  \"gen_read_delay_us\": {\"p50\": %.1f, \"p99\": %.1f, \"p999\": %.1f, \"max\": %.1f},\n",
                hist_percentile(&H_READ, 0.5) / 1e3, hist_percentile(&H_READ, 0.99) / 1e3,
                hist_percentile(&H_READ, 0.999) / 1e3, H_READ.max / 1e3);
    fprintf(f, "  \"gen_cpu_s\": %.4f,\n  \"gen_cpu_user_s\": %.4f,\n  \"gen_cpu_sys_s\": %.4f,\n", r->cpu,
            r->cpu_user, r->cpu_sys);
    fprintf(f, "  \"gen_cpu_util\": %.4f,\n  \"gen_cpu_us_per_delivery\": %.4f,\n",
            r->window_s > 0 ? r->cpu / r->window_s : 0, r->cpu_us_per_delivery);
    fprintf(f, "  \"frames_in_window\": %lu,\n  \"recvs_in_window\": %lu,\n  \"wakeups_in_window\": %lu,\n",
            S.frames_in_window, S.recvs_in_window, S.wakeups_in_window);
    fprintf(f, "  \"frames\": {");
    for (int i = 0; i < F_COUNT; i++)
        fprintf(f, "%s\"%s\": %lu", i ? ", " : "", FRAME_NAMES[i], S.frames[i]);
    fprintf(f, "},\n  \"ws_pings_answered\": %lu,\n  \"eio_pings_answered\": %lu,\n", S.ws_pings, S.eio_pings);
    fprintf(f, "  \"connect_join_s\": %.4f,\n  \"connect_s\": %.4f,\n  \"connects_per_s\": %.1f,\n",
            r->connect_join_s, r->connect_s, r->connects_per_s);
    fprintf(f, "  \"connect_joins_per_s\": %.1f,\n", r->connect_joins_per_s);
    fprintf(f, "  \"connect_rate\": %.1f,\n  \"inflight_at_end\": %lu,\n", O.connect_rate, r->inflight);
    fprintf(f, "  \"join_ack_us\": {\"p50\": %.1f, \"p99\": %.1f, \"max\": %.1f, \"count\": %lu},\n",
            hist_percentile(&H_JOIN, 0.5) / 1e3, hist_percentile(&H_JOIN, 0.99) / 1e3, H_JOIN.max / 1e3, H_JOIN.count);
    fprintf(f, "  \"connect_to_joined_us\": {\"p50\": %.1f, \"p99\": %.1f, \"max\": %.1f, \"count\": %lu},\n",
            hist_percentile(&H_BACK, 0.5) / 1e3, hist_percentile(&H_BACK, 0.99) / 1e3, H_BACK.max / 1e3, H_BACK.count);
    fprintf(f, "  \"server_pids\": %d,\n  \"ports\": %d,\n  \"sources\": %u,\n", O.n_server_pids,
            O.n_ports > 1 ? O.n_ports : 1, O.sources > 1 ? O.sources : 1);
    fprintf(f, "  \"idle\": %s,\n", O.mode == MODE_IDLE ? "true" : "false");
    write_json_server(f, r);
    fprintf(f, "  \"churn\": {\"rate\": %.1f, \"conns\": %u, \"ops\": %lu, \"joins\": %lu, \"leaves\": %lu, "
               "\"acked_in_window\": %lu, \"busy_skipped\": %lu, \"refused\": %lu, \"deliveries\": %lu, "
               "\"deliveries_in_window\": %lu}\n}\n",
            O.churn, G.n_churn, S.churn_ops, S.churn_joins, S.churn_leaves, S.churn_acked_in_window, S.churn_busy,
            S.churn_refused, S.churn_deliveries, S.churn_deliveries_in_window);
}

static void print_summary(const struct results *r)
{
    fprintf(stderr, "loadgen[%s] %s %s %ux%u pubs=%u ", O.label, O.proto == PROTO_PARLEY ? "parley" : "socketio",
            mode_name(), O.rooms, O.subs, O.pubs);
    if (O.mode == MODE_IDLE) {
        fprintf(stderr, "setup %.2f s (%.0f conn/s) held %.1f s, disconnects=%lu pings=%lu cpu=%.3f s",
                r->connect_join_s, r->connects_per_s, r->window_s, S.disconnects, S.ws_pings + S.eio_pings, r->cpu);
        fprintf(stderr, ", join ack p99 %.1f ms, connect to joined p99 %.1f ms", hist_percentile(&H_JOIN, 0.99) / 1e6,
                hist_percentile(&H_BACK, 0.99) / 1e6);
        if (O.server_pid)
            fprintf(stderr, " | server %.1f KB/conn, %.0f us/connect+join, other %.2f cores",
                    r->server_rss_per_conn_kb, r->server_cpu_us_per_connect, r->other_cores);
        fputc('\n', stderr);
        return;
    }
    fprintf(stderr,
            "pub=%lu deliv=%lu/%lu loss=%lu ooo=%lu late=%lu err=%lu disc=%lu | %.0f deliv/s | "
            "lat us p50=%.0f p90=%.0f p99=%.0f p999=%.0f max=%.0f | gen cpu %.2f s = %.2f us/deliv (%.0f%% core)",
            S.published_window, S.delivered, r->expected, r->loss, S.out_of_order, S.late_sends, errors_total(),
            S.disconnects, r->deliveries_per_s, r->p50, r->p90, r->p99, r->p999, r->max, r->cpu,
            r->cpu_us_per_delivery, r->window_s > 0 ? 100 * r->cpu / r->window_s : 0);
    if (O.server_pid)
        fprintf(stderr, " | server %.2f us/deliv (%.0f%% core), other %.2f cores", r->server_cpu_us_per_delivery,
                r->window_s > 0 ? 100 * r->server_cpu / r->window_s : 0, r->other_cores);
    fputc('\n', stderr);
}

static void report(void)
{
    struct results r = compute_results();
    if (O.out) {
        FILE *f = fopen(O.out, "w");
        if (!f)
            die("cannot write %s: %s", O.out, strerror(errno));
        write_json(f, &r);
        fclose(f);
    } else {
        write_json(stdout, &r);
    }
    print_summary(&r);
    if (O.mode == MODE_IDLE) {
        printf("DONE\n");
        fflush(stdout);
    }
}

/* ------------------------------------------------------------------------------------------------ */
/* Setup                                                                                            */
/* ------------------------------------------------------------------------------------------------ */

static void usage(FILE *f)
{
    fputs("usage: loadgen --port N [options]\n"
          "  --host H            server address (127.0.0.1)\n"
          "  --port N            server port (8080)\n"
          "  --proto P           parley | socketio (parley)\n"
          "  --path P            upgrade path (/ws, or /socket.io/?EIO=4&transport=websocket)\n"
          "  --rooms R           rooms (1)\n"
          "  --subs N            connections per room, publishers included (100)\n"
          "  --pubs K            publishers per room, also members (1)\n"
          "  --rate M            open loop: total messages/s over all publishers (100)\n"
          "  --closed W          closed loop: W messages in flight per publisher\n"
          "  --idle              only connect and join, print READY, hold --duration, print DONE\n"
          "  --duration S        measured seconds (10)\n"
          "  --warmup S          seconds of load before measuring (2)\n"
          "  --drain S           max seconds to wait for deliveries after the window (5)\n"
          "  --payload B         publish text bytes (100)\n"
          "  --connect-rate C    new connections/s during setup (2000)\n"
          "  --max-pending N     connections being set up at once (1000)\n"
          "  --churn J           extra join/leave operations/s (churners alternate join and leave)\n"
          "  --churn-conns N     connections used for churn (default: J, at most 1000)\n"
          "  --room-prefix S     room names are <S><index> (lg)\n"
          "  --late-us U         a send more than U us behind schedule is late (1000)\n"
          "  --tick-us U         smallest timer step of the open-loop scheduler (20)\n"
          "  --setup-timeout S   abort when setup takes longer (300)\n"
          "  --no-kernel-ts      latency up to the generator's read instead of the kernel's receive time\n"
          "  --batch-us U        pause U us between epoll waits to read bursts with fewer wakeups (0)\n"
          "  --server-pid PID    also report the server's CPU (per delivery, per connect), RSS, and the\n"
          "                      CPU other processes used (other_cores), from /proc; a comma-separated\n"
          "                      list sums every process (a cluster's nodes and its broker)\n"
          "  --ports P1,P2,...   spread connections over several servers: connection c goes to P[c % n]\n"
          "  --sources N         connect from 127.0.0.1 .. 127.0.0.N in turn (past one address's port range)\n"
          "  --out FILE          JSON results (default: stdout)\n"
          "  --label TEXT        label copied into the results\n",
          f);
}

static double parse_num(const char *name, const char *s, double lo, double hi)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || v < lo || v > hi)
        die("--%s: '%s' is not a number in [%g, %g]", name, s, lo, hi);
    return v;
}

static void parse_args(int argc, char **argv)
{
    enum { O_HOST = 256, O_PORT, O_PROTO, O_PATH, O_ROOMS, O_SUBS, O_PUBS, O_RATE, O_DURATION, O_WARMUP,
           O_DRAIN, O_PAYLOAD, O_CRATE, O_MAXPEND, O_OUT, O_LABEL, O_CLOSED, O_IDLE, O_CHURN, O_CHURNC,
           O_PREFIX, O_LATE, O_TICK, O_STIMEOUT, O_BATCH, O_KTS, O_NOKTS, O_SPID, O_PORTS, O_SOURCES, O_HELP };
    static const struct option L[] = {
        { "host", 1, 0, O_HOST }, { "port", 1, 0, O_PORT }, { "proto", 1, 0, O_PROTO }, { "path", 1, 0, O_PATH },
        { "rooms", 1, 0, O_ROOMS }, { "subs", 1, 0, O_SUBS }, { "pubs", 1, 0, O_PUBS }, { "rate", 1, 0, O_RATE },
        { "duration", 1, 0, O_DURATION }, { "warmup", 1, 0, O_WARMUP }, { "drain", 1, 0, O_DRAIN },
        { "payload", 1, 0, O_PAYLOAD }, { "connect-rate", 1, 0, O_CRATE }, { "max-pending", 1, 0, O_MAXPEND },
        { "out", 1, 0, O_OUT }, { "label", 1, 0, O_LABEL }, { "closed", 1, 0, O_CLOSED }, { "idle", 0, 0, O_IDLE },
        { "churn", 1, 0, O_CHURN }, { "churn-conns", 1, 0, O_CHURNC }, { "room-prefix", 1, 0, O_PREFIX },
        { "late-us", 1, 0, O_LATE }, { "tick-us", 1, 0, O_TICK }, { "setup-timeout", 1, 0, O_STIMEOUT },
        { "batch-us", 1, 0, O_BATCH }, { "kernel-ts", 0, 0, O_KTS }, { "no-kernel-ts", 0, 0, O_NOKTS },
        { "server-pid", 1, 0, O_SPID }, { "ports", 1, 0, O_PORTS }, { "sources", 1, 0, O_SOURCES },
        { "help", 0, 0, O_HELP }, { 0, 0, 0, 0 },
    };
    int opt;
    while ((opt = getopt_long(argc, argv, "h", L, NULL)) != -1) {
        const char *a = optarg;
        switch (opt) {
        case O_HOST: O.host = a; break;
        case O_PORT: O.port = (int)parse_num("port", a, 1, 65535); break;
        case O_PROTO:
            if (!strcmp(a, "parley")) O.proto = PROTO_PARLEY;
            else if (!strcmp(a, "socketio")) O.proto = PROTO_SIO;
            else die("--proto: parley or socketio, not '%s'", a);
            break;
        case O_PATH: O.path = a; break;
        case O_ROOMS: O.rooms = (uint32_t)parse_num("rooms", a, 1, 1e6); break;
        case O_SUBS: O.subs = (uint32_t)parse_num("subs", a, 1, 1e6); break;
        case O_PUBS: O.pubs = (uint32_t)parse_num("pubs", a, 0, 1e6); break;
        case O_RATE: O.rate = parse_num("rate", a, 1e-3, 1e9); break;
        case O_DURATION: O.duration = parse_num("duration", a, 0, 1e7); break;
        case O_WARMUP: O.warmup = parse_num("warmup", a, 0, 1e7); break;
        case O_DRAIN: O.drain = parse_num("drain", a, 0, 1e7); break;
        case O_PAYLOAD: O.payload = (uint32_t)parse_num("payload", a, 1, 1 << 20); break;
        case O_CRATE: O.connect_rate = parse_num("connect-rate", a, 1e-3, 1e9); break;
        case O_MAXPEND: O.max_pending = (uint32_t)parse_num("max-pending", a, 1, 1e9); break;
        case O_OUT: O.out = a; break;
        case O_LABEL: O.label = a; break;
        case O_CLOSED: O.mode = MODE_CLOSED; O.closed_window = (uint32_t)parse_num("closed", a, 1, 1e6); break;
        case O_IDLE: O.mode = MODE_IDLE; break;
        case O_CHURN: O.churn = parse_num("churn", a, 0, 1e7); break;
        case O_CHURNC: O.churn_conns = (uint32_t)parse_num("churn-conns", a, 1, 1e6); break;
        case O_PREFIX: O.room_prefix = a; break;
        case O_LATE: O.late_us = (uint32_t)parse_num("late-us", a, 0, 1e9); break;
        case O_TICK: O.tick_us = (uint32_t)parse_num("tick-us", a, 0, 1e9); break;
        case O_BATCH: O.batch_us = (uint32_t)parse_num("batch-us", a, 0, 1e6); break;
        case O_KTS: O.kernel_ts = true; break;
        case O_NOKTS: O.kernel_ts = false; break;
        case O_SPID:
        case O_PORTS: {
            /* a comma-separated list */
            char buf[256];
            snprintf(buf, sizeof buf, "%s", a);
            int *list = opt == O_SPID ? O.server_pids : O.ports, n = 0;
            for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (n == 8)
                    die("--%s: at most 8 values", opt == O_SPID ? "server-pid" : "ports");
                list[n++] = (int)parse_num(opt == O_SPID ? "server-pid" : "ports", t, 1, opt == O_SPID ? 1e9 : 65535);
            }
            if (opt == O_SPID)
                O.n_server_pids = n, O.server_pid = n ? list[0] : 0;
            else
                O.n_ports = n, O.port = n ? list[0] : O.port;
            break;
        }
        case O_SOURCES: O.sources = (uint32_t)parse_num("sources", a, 1, 254); break;
        case O_STIMEOUT: O.setup_timeout = parse_num("setup-timeout", a, 1, 1e7); break;
        case 'h': case O_HELP: usage(stdout); exit(0);
        default: usage(stderr); exit(2);
        }
    }
    if (optind < argc)
        die("unexpected argument '%s'", argv[optind]);
    if (!O.path)
        O.path = O.proto == PROTO_PARLEY ? "/ws" : "/socket.io/?EIO=4&transport=websocket";
    if (O.pubs > O.subs)
        die("--pubs (%u) cannot exceed --subs (%u)", O.pubs, O.subs);
    if (O.mode != MODE_IDLE && O.pubs == 0)
        die("--pubs must be at least 1 unless --idle");
    if (O.mode == MODE_IDLE)
        O.churn = 0, O.pubs = 0;
}

static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)G.n_conns + 16)
        die("%u connections need more file descriptors than RLIMIT_NOFILE %lu", G.n_conns,
            (unsigned long)rl.rlim_cur);
}

static void resolve_host(void)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res;
    char port[16];
    snprintf(port, sizeof port, "%d", O.port);
    int e = getaddrinfo(O.host, port, &hints, &res);
    if (e)
        die("cannot resolve %s: %s", O.host, gai_strerror(e));
    memcpy(&G.addr, res->ai_addr, res->ai_addrlen);
    G.addrlen = res->ai_addrlen;
    for (int i = 0; i < O.n_ports; i++) {
        memcpy(&G.addrs[i], res->ai_addr, res->ai_addrlen);
        if (G.addrs[i].ss_family == AF_INET)
            ((struct sockaddr_in *)&G.addrs[i])->sin_port = htons((uint16_t)O.ports[i]);
        else
            ((struct sockaddr_in6 *)&G.addrs[i])->sin6_port = htons((uint16_t)O.ports[i]);
    }
    freeaddrinfo(res);
}

static void make_rooms(void)
{
    G.room_name = calloc(O.rooms, sizeof *G.room_name);
    G.room_len = calloc(O.rooms, sizeof *G.room_len);
    if (!G.room_name || !G.room_len)
        die("out of memory");
    for (uint32_t r = 0; r < O.rooms; r++) {
        char b[96];
        int n = snprintf(b, sizeof b, "%s%u", O.room_prefix, r);
        if (n >= 64)
            die("room names longer than 64 characters");
        G.room_name[r] = strdup(b);
        G.room_len[r] = (uint32_t)n;
    }
}

static void make_conns(void)
{
    G.n_members = O.rooms * O.subs;
    G.n_pubs = O.mode == MODE_IDLE ? 0 : O.rooms * O.pubs;
    if (O.churn > 0)
        G.n_churn = O.churn_conns ? O.churn_conns : (uint32_t)(O.churn < 1 ? 1 : O.churn > 1000 ? 1000 : O.churn);
    G.n_conns = G.n_members + G.n_churn;
    G.conns = calloc(G.n_conns, sizeof *G.conns);
    G.dirty = calloc(G.n_conns, sizeof *G.dirty);
    uint32_t *seq = calloc((size_t)G.n_members * (O.pubs ? O.pubs : 1), sizeof *seq);
    if (!G.conns || !G.dirty || !seq)
        die("out of memory");
    for (uint32_t i = 0; i < G.n_conns; i++) {
        struct conn *c = &G.conns[i];
        c->fd = -1;
        c->id = i;
        c->kind = i < G.n_members ? K_MEMBER : K_CHURN;
        c->room = i % O.rooms;
        c->pubid = i < G.n_pubs ? (int32_t)i : -1;
        c->last_seq = c->kind == K_MEMBER ? seq + (size_t)i * (O.pubs ? O.pubs : 1) : NULL;
    }
}

static void on_signal(int sig)
{
    (void)sig;
    G.stop = 1;
}

static void setup(void)
{
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    make_rooms();
    make_conns();
    raise_nofile();
    resolve_host();
    G.scratch_cap = O.payload + 512;
    G.scratch = malloc(G.scratch_cap);
    G.rbuf_cap = 2 * READ_CHUNK;
    G.rbuf = malloc(G.rbuf_cap);
    if (!G.scratch || !G.rbuf)
        die("out of memory");
    G.epfd = epoll_create1(EPOLL_CLOEXEC);
    G.tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (G.epfd < 0 || G.tfd < 0)
        die("epoll/timerfd: %s", strerror(errno));
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &G.timer_tag };
    epoll_ctl(G.epfd, EPOLL_CTL_ADD, G.tfd, &ev);
    G.pub_interval_ns = O.mode == MODE_OPEN ? 1e9 / O.rate : 0;
    G.churn_interval_ns = O.churn > 0 ? 1e9 / O.churn : 0;
    G.t_meas = G.t_end = UINT64_MAX;
    G.ps_setup = proc_sample_now();
    G.t_setup = now_ns();
    G.phase = PH_SETUP;
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    setup();
    run_loop();
    report();
    return 0;
}
