/*
 * sockmap: load, self-test and per-pair use of the eBPF relay (see
 * sockmap.h).
 *
 * Built with SL_BPF (the default when clang and libbpf are found; make
 * BPF=0 leaves them out), the object from worker/bpf/relay.bpf.c is
 * embedded in the binary at build time.  Without it every function fails
 * with ENOSYS and sl_sockmap_load() says why, so the relay splices.
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef SL_BPF
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#endif

#include "shm/log.h"
#include "shm/sockmap.h"

/* Inherited by the workers with the fork (see sockmap.h). */
static struct {
	int		 peers, socks;	/* map fds */
	int		 ready;
	const char	*why;
	char		 whybuf[200];
} sm = { -1, -1, 0, NULL, "" };

int
sl_sockmap_barrier(uint64_t received, int fin, uint64_t user_read,
    uint64_t acked, uint64_t outq, uint64_t base)
{
	uint64_t in = received, out = acked + outq;

	if (fin && in > 0)
		in--;		/* the FIN takes one sequence number */
	in = in > user_read ? in - user_read : 0;
	out = out > base ? out - base : 0;
	return out >= in;
}

int
sl_sockmap_ready(void)
{
	return sm.ready;
}

const char *
sl_sockmap_why(void)
{
	return sm.ready ? NULL : sm.why;
}

static int
tcp_counts(int fd, uint64_t *received, uint64_t *acked, uint64_t *outq)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int q = 0;

	memset(&ti, 0, sizeof(ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) == -1)
		return -1;
	if (outq != NULL && ioctl(fd, SIOCOUTQ, &q) == -1)
		return -1;
	if (received != NULL)
		*received = ti.tcpi_bytes_received;
	if (acked != NULL)
		*acked = ti.tcpi_bytes_acked;
	if (outq != NULL)
		*outq = (uint64_t)q;
	return 0;
}

/* Bytes ever put into FD's send queue (plus a constant: the SYN): acked
 * and still queued, read with no ACK in between (an ACK would move bytes
 * from one count to the other under us). */
static int
tx_total(int fd, uint64_t *total)
{
	uint64_t a1, a2, q;

	for (int i = 0; i < 16; i++) {
		/* acked, queued, acked again: the same twice, no ACK came
		 * between the first two. */
		if (tcp_counts(fd, NULL, &a1, &q) == -1 ||
		    tcp_counts(fd, NULL, &a2, NULL) == -1)
			return -1;
		if (a1 == a2) {
			*total = a1 + q;
			return 0;
		}
	}
	errno = EAGAIN;
	return -1;
}

uint64_t
sl_sockmap_sent(const struct sl_smlink *l, int dir, int cfd, int sfd,
    int fin_sent)
{
	uint64_t t;

	if (!(l->armed & (1u << dir)))
		return 0;
	if (tx_total(dir == SL_SM_UP ? sfd : cfd, &t) == -1)
		return 0;
	t -= fin_sent ? 1 : 0;
	return t > l->tx0[dir] ? t - l->tx0[dir] : 0;
}

int
sl_sockmap_flushed(const struct sl_smlink *l, int dir, int cfd, int sfd,
    uint64_t user_read, int fin)
{
	int src = dir == SL_SM_UP ? cfd : sfd, dst = dir == SL_SM_UP ? sfd : cfd;
	uint64_t rx, tx;

	if (!(l->armed & (1u << dir)))
		return 1;
	/* The source's count first: it is final after its FIN. */
	if (tcp_counts(src, &rx, NULL, NULL) == -1)
		return 1;	/* a socket gone bad: nothing left to wait for */
	if (tx_total(dst, &tx) == -1)
		return errno == EAGAIN ? 0 : 1;
	return sl_sockmap_barrier(rx, fin, user_read, tx, 0, l->tx0[dir]);
}

int
sl_sockmap_busy(struct sl_smlink *l, int cfd, int sfd)
{
	uint64_t a = 0, b = 0, c = 0, d = 0, sum;

	tcp_counts(cfd, &a, &b, NULL);
	tcp_counts(sfd, &c, &d, NULL);
	sum = a + b + c + d;
	if (sum == l->stamp)
		return 0;
	l->stamp = sum;
	return 1;
}

int
sl_sockmap_eof(int fd)
{
	int one = 1;
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	if (n == 0)
		return 1;
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : 2;
	/* Bytes the verdict has not seen yet: show them to it again. */
	setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
	return 0;
}

#ifdef SL_BPF

/* The object, embedded at build time (see the Makefile). */
__asm__(".section .rodata\n"
	".balign 8\n"
	".global sl_relay_bpf_start\n"
	"sl_relay_bpf_start:\n"
	".incbin \"" SL_BPF_OBJ "\"\n"
	".global sl_relay_bpf_end\n"
	"sl_relay_bpf_end:\n"
	".previous\n");
extern const char sl_relay_bpf_start[], sl_relay_bpf_end[];

static uint64_t
cookie_of(int fd)
{
	uint64_t ck = 0;
	socklen_t len = sizeof(ck);

	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &ck, &len) == -1)
		return 0;
	return ck;
}

static int
is_tcp(int fd)
{
	int proto = 0;
	socklen_t len = sizeof(proto);

	return getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) == 0 &&
	    proto == IPPROTO_TCP;
}

int
sl_sockmap_link(struct sl_smlink *l, int cfd, int sfd)
{
	uint64_t vc = (uint64_t)cfd, vs = (uint64_t)sfd;

	memset(l, 0, sizeof(*l));
	if (!sm.ready) {
		errno = ENOSYS;
		return -1;
	}
	if (!is_tcp(cfd) || !is_tcp(sfd)) {
		errno = EPROTONOSUPPORT;
		return -1;
	}
	l->cookie[0] = cookie_of(cfd);
	l->cookie[1] = cookie_of(sfd);
	if (l->cookie[0] == 0 || l->cookie[1] == 0)
		return -1;
	/* peers[client] = server, peers[server] = client */
	if (bpf_map_update_elem(sm.peers, &l->cookie[0], &vs, BPF_NOEXIST)) {
		memset(l, 0, sizeof(*l));
		return -1;
	}
	if (bpf_map_update_elem(sm.peers, &l->cookie[1], &vc, BPF_NOEXIST)) {
		int e = errno;

		bpf_map_delete_elem(sm.peers, &l->cookie[0]);
		memset(l, 0, sizeof(*l));
		errno = e;
		return -1;
	}
	l->linked = 1;
	return 0;
}

int
sl_sockmap_arm(struct sl_smlink *l, int dir, int cfd, int sfd)
{
	int src = dir == SL_SM_UP ? cfd : sfd, dst = dir == SL_SM_UP ? sfd : cfd;
	uint64_t v = (uint64_t)src;
	int one = 1;

	if (!l->linked) {
		errno = ENOTCONN;
		return -1;
	}
	/* Before the insertion: nothing can be redirected to DST yet. */
	if (tx_total(dst, &l->tx0[dir]) == -1)
		return -1;
	if (bpf_map_update_elem(sm.socks, &l->cookie[dir], &v, BPF_NOEXIST))
		return -1;
	l->armed |= 1u << dir;
	/* Bytes queued before the insertion wait for the next skb unless
	 * the verdict is run on them now (trap 3). */
	setsockopt(src, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
	return 0;
}

void
sl_sockmap_unlink(struct sl_smlink *l)
{
	for (int dir = 0; dir < 2; dir++)
		if (l->armed & (1u << dir))
			bpf_map_delete_elem(sm.socks, &l->cookie[dir]);
	if (l->linked) {
		bpf_map_delete_elem(sm.peers, &l->cookie[0]);
		bpf_map_delete_elem(sm.peers, &l->cookie[1]);
	}
	memset(l, 0, sizeof(*l));
}

/* ---- the start-up self-test ---- */

#define ST_MS		5000

static uint8_t
pattern(uint64_t i, uint8_t seed)
{
	return (uint8_t)((i ^ (i >> 8) ^ (i >> 16) ^ (i >> 24)) * 131 + seed);
}

static uint64_t
st_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
st_listener(struct sockaddr_in *sin)
{
	socklen_t len = sizeof(*sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1)
		return -1;
	if (bind(fd, (struct sockaddr *)sin, sizeof(*sin)) == -1 ||
	    listen(fd, 4) == -1 ||
	    getsockname(fd, (struct sockaddr *)sin, &len) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A connected pair over loopback: *a dialed, *b accepted. */
static int
st_pair(int *a, int *b)
{
	struct sockaddr_in sin;
	int l = st_listener(&sin);

	*a = *b = -1;
	if (l == -1)
		return -1;
	*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (*a == -1 || connect(*a, (struct sockaddr *)&sin,
	    sizeof(sin)) == -1 || (*b = accept4(l, NULL, NULL,
	    SOCK_CLOEXEC)) == -1) {
		close(l);
		return -1;
	}
	close(l);
	fcntl(*a, F_SETFL, O_NONBLOCK);
	fcntl(*b, F_SETFL, O_NONBLOCK);
	return 0;
}

struct st_end {
	int		 fd;
	uint64_t	 sent, got, want_send;
	uint8_t		 seed_out, seed_in;
	int		 eof, shut, bad;
};

static void
st_io(struct st_end *e, int close_after)
{
	uint8_t buf[65536];
	ssize_t n;

	while (e->sent < e->want_send && !e->shut) {
		size_t k = e->want_send - e->sent > sizeof(buf) ? sizeof(buf) :
		    (size_t)(e->want_send - e->sent);

		for (size_t i = 0; i < k; i++)
			buf[i] = pattern(e->sent + i, e->seed_out);
		if ((n = send(e->fd, buf, k, MSG_NOSIGNAL)) <= 0)
			break;
		e->sent += (uint64_t)n;
	}
	if (e->sent == e->want_send && close_after && !e->shut) {
		shutdown(e->fd, SHUT_WR);	/* send, then FIN at once */
		e->shut = 1;
	}
	while (!e->eof && (n = recv(e->fd, buf, sizeof(buf), 0)) >= 0) {
		if (n == 0) {
			e->eof = 1;
			break;
		}
		for (ssize_t i = 0; i < n; i++)
			if (buf[i] != pattern(e->got + (uint64_t)i, e->seed_in))
				e->bad = 1;
		e->got += (uint64_t)n;
	}
}

/*
 * Client K <-> [C relay S] <-> backend B over loopback, C and S in the
 * maps as the worker puts them: UP bytes up, DOWN bytes down, then B's
 * FIN passed on by the worker's own barrier.  0, or -1 with *why.
 */
static int
st_transfer(uint64_t up, uint64_t down, const char **why)
{
	struct st_end k = { 0 }, b = { 0 };
	struct sl_smlink l;
	int c = -1, s = -1, rc = -1, s_eof = 0, fin = 0, c_shut = 0;
	uint64_t deadline = st_now() + ST_MS;

	k.fd = b.fd = -1;
	memset(&l, 0, sizeof(l));
	if (st_pair(&k.fd, &c) == -1 || st_pair(&s, &b.fd) == -1) {
		*why = "loopback sockets";
		goto out;
	}
	if (sl_sockmap_link(&l, c, s) == -1 ||
	    sl_sockmap_arm(&l, SL_SM_UP, c, s) == -1 ||
	    sl_sockmap_arm(&l, SL_SM_DOWN, c, s) == -1) {
		*why = "inserting sockets";
		goto out;
	}
	k.want_send = up;
	k.seed_out = b.seed_in = 1;
	b.want_send = down;
	b.seed_out = k.seed_in = 2;
	while (!(k.eof && b.got >= up)) {
		struct pollfd p[3] = { { k.fd, POLLIN | POLLOUT, 0 },
		    { b.fd, POLLIN | POLLOUT, 0 }, { s, POLLRDHUP, 0 } };

		if (st_now() > deadline) {
			*why = "transfer stalled";
			goto out;
		}
		poll(p, s_eof ? 2 : 3, 1);
		st_io(&k, 0);
		st_io(&b, 1);
		if (!s_eof && (fin = sl_sockmap_eof(s)) != 0)
			s_eof = 1;
		if (s_eof && !c_shut && sl_sockmap_flushed(&l, SL_SM_DOWN, c, s,
		    0, fin == 1)) {
			shutdown(c, SHUT_WR);
			c_shut = 1;
		}
		if (k.bad || b.bad || k.got > down || b.got > up) {
			*why = "bytes corrupted";
			goto out;
		}
	}
	if (k.got != down) {
		*why = k.got < down ? "bytes lost before the FIN" :
		    "bytes added";
		goto out;
	}
	if (sl_sockmap_sent(&l, SL_SM_DOWN, c, s, c_shut) != down) {
		*why = "byte count";
		goto out;
	}
	rc = 0;
out:
	sl_sockmap_unlink(&l);
	if (k.fd >= 0)
		close(k.fd);
	if (b.fd >= 0)
		close(b.fd);
	if (c >= 0)
		close(c);
	if (s >= 0)
		close(s);
	return rc;
}

static int
libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static int
load_object(const char **why)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	int err;

	libbpf_set_print(libbpf_quiet);
	obj = bpf_object__open_mem(sl_relay_bpf_start,
	    (size_t)(sl_relay_bpf_end - sl_relay_bpf_start), NULL);
	if (obj == NULL || libbpf_get_error(obj)) {
		*why = "cannot open the BPF object";
		return -1;
	}
	if ((err = bpf_object__load(obj)) != 0) {
		snprintf(sm.whybuf, sizeof(sm.whybuf), "loading the BPF "
		    "program: %s", strerror(-err));
		*why = sm.whybuf;
		bpf_object__close(obj);
		return -1;
	}
	prog = bpf_object__find_program_by_name(obj, "sl_relay_verdict");
	sm.peers = dup(bpf_object__find_map_fd_by_name(obj, "sl_peers"));
	sm.socks = dup(bpf_object__find_map_fd_by_name(obj, "sl_socks"));
	if (prog == NULL || sm.peers < 0 || sm.socks < 0 ||
	    bpf_prog_attach(bpf_program__fd(prog), sm.socks,
	    BPF_SK_SKB_STREAM_VERDICT, 0) != 0) {
		snprintf(sm.whybuf, sizeof(sm.whybuf), "attaching the BPF "
		    "program: %s", strerror(errno));
		*why = sm.whybuf;
		bpf_object__close(obj);
		return -1;
	}
	/* The maps hold the program now; the object can go. */
	bpf_object__close(obj);
	fcntl(sm.peers, F_SETFD, FD_CLOEXEC);
	fcntl(sm.socks, F_SETFD, FD_CLOEXEC);
	return 0;
}

int
sl_sockmap_load(const char **why)
{
	static const struct { uint64_t up, down; } runs[] = {
		{ 4u << 20, 4u << 20 },		/* a few MB each way */
		{ 0, 256u << 10 },		/* send and close at once */
		{ 1000, 0 },			/* nothing back: FIN only */
	};
	const char *w = NULL;

	if (sm.ready)
		return 0;
	if (sm.peers < 0 && load_object(&w) == -1)
		goto fail;
	sm.ready = 1;		/* the test goes through the real calls */
	for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
		if (st_transfer(runs[i].up, runs[i].down, &w) == -1) {
			sm.ready = 0;
			snprintf(sm.whybuf, sizeof(sm.whybuf), "self-test "
			    "failed: %s (%s)", w, strerror(errno));
			w = sm.whybuf;
			goto fail;
		}
	sm.why = NULL;
	return 0;
fail:
	sm.why = *why = w;
	return -1;
}

#else	/* !SL_BPF */

int
sl_sockmap_link(struct sl_smlink *l, int cfd, int sfd)
{
	(void)cfd;
	(void)sfd;
	memset(l, 0, sizeof(*l));
	errno = ENOSYS;
	return -1;
}

int
sl_sockmap_arm(struct sl_smlink *l, int dir, int cfd, int sfd)
{
	(void)l;
	(void)dir;
	(void)cfd;
	(void)sfd;
	errno = ENOSYS;
	return -1;
}

void
sl_sockmap_unlink(struct sl_smlink *l)
{
	memset(l, 0, sizeof(*l));
}

int
sl_sockmap_load(const char **why)
{
	sm.why = *why = "built without BPF (make BPF=0)";
	return -1;
}

#endif
