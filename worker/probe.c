/*
 * probe: a non-blocking HTTP(S) request through an outbound, driven by
 * loop events: resolve -> connect -> [proxy handshake] -> [TLS] -> send
 * -> read header -> [read body] -> done.  step() runs stages until one
 * has to wait; every outcome goes through finish(), which reports from a
 * zero-delay timer so callers are never re-entered.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "worker/conn.h"
#include "worker/dns.h"
#include "worker/loop.h"
#include "worker/probe.h"
#include "worker/proxyclient.h"

enum stage {
	P_RESOLVE, P_CONNECT, P_PROXY, P_TLS, P_SEND, P_HEAD, P_BODY, P_DONE
};

/* What a stage returns to step(). */
enum { NEXT, WAIT, FAIL, OK };

#define USER_AGENT	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) " \
			"AppleWebKit/537.36 (KHTML, like Gecko) " \
			"Chrome/126.0.0.0 Safari/537.36"

struct sl_probe {
	struct sl_probe_env	 env;
	enum stage		 stage;
	struct sl_url		 url;
	sl_probe_cb		 cb;
	void			*arg;
	int			 read_body;
	int			 head;		/* HEAD: never a body */
	uint64_t		 start_us;

	struct sl_ev		 ev;
	struct sl_timer		 deadline, report;
	uint32_t		 want;		/* events the stage waits for */
	struct sl_dns_query	*q;
	struct sockaddr_storage	 addrs[8];
	socklen_t		 lens[8];
	size_t			 naddrs, next;

	int			 via_proxy;
	struct sl_pxc		 pxc;
	SSL			*ssl;

	char			 req[1536];
	size_t			 req_len, req_off;
	/* response */
	char			 line[256];
	size_t			 line_len;
	int			 status;	/* 0 = no status line yet */
	int64_t			 body_left;	/* -1 = until EOF */
	uint8_t			 pending[512];	/* read past the proxy reply */
	size_t			 npending;

	int			 ok;
	uint64_t		 rtt_us;
	char			 err[200];
};

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- URL ---- */

static int
parse_authority(const char *a, size_t n, struct sl_url *u, const char **err)
{
	const char *colon = NULL, *host = a;
	size_t hlen;

	if (memchr(a, '@', n) != NULL) {
		*err = "user information in probe URLs is not supported";
		return -1;
	}
	if (n > 0 && a[0] == '[') {
		const char *rb = memchr(a, ']', n);

		if (rb == NULL) {
			*err = "unterminated [IPv6] host";
			return -1;
		}
		host = a + 1;
		hlen = (size_t)(rb - host);
		if (rb + 1 < a + n) {
			if (rb[1] != ':') {
				*err = "junk after ]";
				return -1;
			}
			colon = rb + 1;
		}
	} else {
		colon = memrchr(a, ':', n);
		hlen = colon ? (size_t)(colon - a) : n;
	}
	if (hlen == 0 || hlen >= sizeof(u->host)) {
		*err = "empty or too long host";
		return -1;
	}
	memcpy(u->host, host, hlen);
	u->host[hlen] = '\0';
	if (colon != NULL) {
		unsigned long p = 0;
		const char *c = colon + 1, *end = a + n;

		if (c == end || end - c > 5) {
			*err = "bad port";
			return -1;
		}
		for (; c < end; c++) {
			if (*c < '0' || *c > '9') {
				*err = "bad port";
				return -1;
			}
			p = p * 10 + (unsigned long)(*c - '0');
		}
		if (p == 0 || p > 65535) {
			*err = "bad port";
			return -1;
		}
		u->port = (uint16_t)p;
		u->port_given = 1;
	}
	return 0;
}

int
sl_probe_url_parse(const char *s, struct sl_url *u, const char **err)
{
	const char *a, *end;
	size_t plen;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(s, "http://", 7) == 0)
		a = s + 7;
	else if (strncasecmp(s, "https://", 8) == 0) {
		a = s + 8;
		u->https = 1;
	} else {
		*err = "probe URL must be http:// or https://";
		return -1;
	}
	end = a + strcspn(a, "/?#");
	if (parse_authority(a, (size_t)(end - a), u, err) == -1)
		return -1;
	if (!u->port_given)
		u->port = u->https ? 443 : 80;
	plen = strcspn(end, "#");
	if (plen + 2 > sizeof(u->path)) {
		*err = "probe URL path too long";
		return -1;
	}
	snprintf(u->path, sizeof(u->path), "%s%.*s", *end == '/' ? "" : "/",
	    (int)plen, end);
	return 0;
}

/* ---- outcome ---- */

static void
report(struct sl_timer *t)
{
	struct sl_probe *p = t->data;
	sl_probe_cb cb = p->cb;
	void *arg = p->arg;
	int ok = p->ok;
	uint64_t rtt = p->rtt_us;
	char err[sizeof(p->err)];

	memcpy(err, p->err, sizeof(err));
	free(p);
	cb(arg, ok, rtt, ok ? NULL : err);
}

static void
release(struct sl_probe *p)
{
	struct sl_loop *loop = p->env.loop;

	sl_timer_del(loop, &p->deadline);
	if (p->q != NULL) {
		sl_dns_cancel(p->env.dns, p->q);
		p->q = NULL;
	}
	if (p->ssl != NULL) {
		SSL_free(p->ssl);
		p->ssl = NULL;
	}
	if (p->ev.fd >= 0) {
		sl_ev_set(loop, &p->ev, 0);
		sl_loop_forget(loop, &p->ev);
		close(p->ev.fd);
		p->ev.fd = -1;
	}
}

static void
finish(struct sl_probe *p, int ok)
{
	if (p->stage == P_DONE)
		return;
	p->ok = ok;
	if (ok)
		p->rtt_us = now_us() - p->start_us;
	p->stage = P_DONE;
	release(p);
	sl_timer_add(p->env.loop, &p->report, 0);
}

static int	fail(struct sl_probe *, const char *fmt, ...)
		    __attribute__((format(printf, 2, 3)));

static int
fail(struct sl_probe *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof(p->err), fmt, ap);
	va_end(ap);
	return FAIL;
}

/* ---- byte I/O over the socket or TLS: >0, 0 = EOF, -1 = wait ---- */

static ssize_t
tls_result(struct sl_probe *p, int n, const char *what)
{
	unsigned long e;

	switch (SSL_get_error(p->ssl, n)) {
	case SSL_ERROR_WANT_READ:
		p->want = EPOLLIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		p->want = EPOLLOUT;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	}
	e = ERR_get_error();
	ERR_clear_error();
	fail(p, "TLS %s: %s", what, e && ERR_reason_error_string(e) ?
	    ERR_reason_error_string(e) : "connection closed");
	return -2;
}

static ssize_t
io_read(struct sl_probe *p, void *buf, size_t n)
{
	ssize_t r;

	if (p->npending > 0) {		/* bytes the proxy parser left */
		r = (ssize_t)(n < p->npending ? n : p->npending);
		memcpy(buf, p->pending, (size_t)r);
		memmove(p->pending, p->pending + r, p->npending - (size_t)r);
		p->npending -= (size_t)r;
		return r;
	}
	if (p->ssl != NULL) {
		int k = SSL_read(p->ssl, buf, n > INT32_MAX ? INT32_MAX :
		    (int)n);

		return k > 0 ? k : tls_result(p, k, "read");
	}
	if ((r = read(p->ev.fd, buf, n)) >= 0)
		return r;
	if (errno == EAGAIN || errno == EINTR) {
		p->want = EPOLLIN;
		return -1;
	}
	fail(p, "read: %s", strerror(errno));
	return -2;
}

static ssize_t
io_write(struct sl_probe *p, const void *buf, size_t n)
{
	ssize_t r;

	if (p->ssl != NULL) {
		int k = SSL_write(p->ssl, buf, (int)n);

		return k > 0 ? k : tls_result(p, k, "write");
	}
	if ((r = send(p->ev.fd, buf, n, MSG_NOSIGNAL)) >= 0)
		return r;
	if (errno == EAGAIN || errno == EINTR) {
		p->want = EPOLLOUT;
		return -1;
	}
	fail(p, "write: %s", strerror(errno));
	return -2;
}

/* ---- stages ---- */

static int
connect_next(struct sl_probe *p)
{
	int fd;

	for (; p->next < p->naddrs; p->next++) {
		fd = socket(p->addrs[p->next].ss_family, SOCK_STREAM |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd == -1) {
			fail(p, "socket: %s", strerror(errno));
			continue;
		}
		sl_ev_init(&p->ev, fd, p->ev.cb, p);
		if (connect(fd, (struct sockaddr *)&p->addrs[p->next],
		    p->lens[p->next]) == 0 || errno == EINPROGRESS) {
			p->want = EPOLLOUT;
			return WAIT;
		}
		fail(p, "connect: %s", strerror(errno));
		close(fd);
		p->ev.fd = -1;
	}
	return FAIL;
}

/* The socket became writable: connected, or the next address. */
static int
stage_connect(struct sl_probe *p)
{
	socklen_t len = sizeof(int);
	int err = 0, one = 1;

	if (p->ev.fd < 0)
		return connect_next(p);
	if (getsockopt(p->ev.fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY) {
		p->want = EPOLLOUT;
		return WAIT;
	}
	if (err != 0) {
		fail(p, "connect: %s", strerror(err));
		sl_ev_set(p->env.loop, &p->ev, 0);
		close(p->ev.fd);
		p->ev.fd = -1;
		p->next++;
		return connect_next(p);
	}
	setsockopt(p->ev.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	p->stage = p->via_proxy ? P_PROXY : p->url.https ? P_TLS : P_SEND;
	return NEXT;
}

static int
stage_proxy(struct sl_probe *p)
{
	uint8_t buf[512];
	const uint8_t *o;
	size_t len, used;
	ssize_t n;
	int rc;

	while ((o = sl_pxc_output(&p->pxc, &len)), len > 0) {
		if ((n = io_write(p, o, len)) < 0)
			return n == -1 ? WAIT : FAIL;
		sl_pxc_sent(&p->pxc, (size_t)n);
	}
	if ((n = io_read(p, buf, sizeof(buf))) < 0)
		return n == -1 ? WAIT : FAIL;
	if (n == 0)
		return fail(p, "proxy closed the connection");
	rc = sl_pxc_input(&p->pxc, buf, (size_t)n, &used);
	if (rc == SL_ERROR)
		return fail(p, "%s", sl_pxc_error(&p->pxc));
	if (rc == SL_AGAIN)
		return NEXT;
	/* Servers speak second in HTTP and TLS: anything here is the
	 * server's early answer (HTTP) or garbage (TLS). */
	p->npending = (size_t)n - used;
	memcpy(p->pending, buf + used, p->npending);
	if (p->url.https && p->npending > 0)
		return fail(p, "unexpected bytes after the proxy's reply");
	p->stage = p->url.https ? P_TLS : P_SEND;
	return NEXT;
}

static int
tls_setup(struct sl_probe *p)
{
	struct in6_addr ip;
	int is_ip = inet_pton(AF_INET, p->url.host, &ip) == 1 ||
	    inet_pton(AF_INET6, p->url.host, &ip) == 1;
	static const unsigned char alpn[] = "\x08http/1.1";

	if (p->env.tls == NULL)
		return fail(p, "https probe without a TLS context");
	if ((p->ssl = SSL_new(p->env.tls)) == NULL ||
	    SSL_set_fd(p->ssl, p->ev.fd) != 1)
		return fail(p, "TLS: out of memory");
	/* Go: SNI for names only; the certificate must match the host. */
	if (!is_ip)
		SSL_set_tlsext_host_name(p->ssl, p->url.host);
	if ((is_ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(p->ssl),
	    p->url.host) : SSL_set1_host(p->ssl, p->url.host)) != 1)
		return fail(p, "TLS: cannot set the expected host");
	SSL_set_alpn_protos(p->ssl, alpn, sizeof(alpn) - 1);
	SSL_set_connect_state(p->ssl);
	return NEXT;
}

static int
stage_tls(struct sl_probe *p)
{
	int k;
	long v;

	if (p->ssl == NULL && tls_setup(p) == FAIL)
		return FAIL;
	if ((k = SSL_do_handshake(p->ssl)) != 1) {
		if ((v = SSL_get_verify_result(p->ssl)) != X509_V_OK)
			return fail(p, "TLS: certificate: %s",
			    X509_verify_cert_error_string(v));
		return tls_result(p, k, "handshake") == -1 ? WAIT : FAIL;
	}
	p->stage = P_SEND;
	return NEXT;
}

static int
stage_send(struct sl_probe *p)
{
	ssize_t n;

	while (p->req_off < p->req_len) {
		if ((n = io_write(p, p->req + p->req_off, p->req_len -
		    p->req_off)) < 0)
			return n == -1 ? WAIT : FAIL;
		p->req_off += (size_t)n;
	}
	p->stage = P_HEAD;
	return NEXT;
}

/* One header line (CR stripped, truncated to the buffer). */
static int
header_line(struct sl_probe *p)
{
	const char *l = p->line;

	if (p->status == 0) {
		/* Go's ReadResponse: "HTTP/x.y ddd ..." */
		if (p->line_len < 12 || strncmp(l, "HTTP/", 5) != 0 ||
		    l[8] != ' ' || sscanf(l + 9, "%3d", &p->status) != 1 ||
		    p->status < 100)
			return fail(p, "not an HTTP response: \"%.40s\"", l);
		return NEXT;
	}
	if (strncasecmp(l, "content-length:", 15) == 0)
		p->body_left = strtoll(l + 15, NULL, 10);
	else if (strncasecmp(l, "transfer-encoding:", 18) == 0)
		p->body_left = -1;	/* chunked: Connection: close ends it */
	return NEXT;
}

/* The header ended with extra body bytes already read. */
static int
head_done(struct sl_probe *p, size_t extra)
{
	/* No body: HEAD, 1xx, 204, 304, or not asked to read it. */
	if (!p->read_body || p->head || p->status < 200 ||
	    p->status == 204 || p->status == 304 || p->body_left == 0)
		return OK;
	if (p->body_left > 0 && (p->body_left -= (int64_t)extra) <= 0)
		return OK;
	p->stage = P_BODY;
	return NEXT;
}

static int
stage_head(struct sl_probe *p)
{
	char buf[1024];
	ssize_t n;

	for (;;) {
		if ((n = io_read(p, buf, sizeof(buf))) < 0)
			return n == -1 ? WAIT : FAIL;
		if (n == 0)
			return fail(p, "connection closed before the response "
			    "header ended");
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (p->line_len < sizeof(p->line) - 1)
					p->line[p->line_len++] = buf[i];
				continue;
			}
			if (p->line_len > 0 && p->line[p->line_len - 1] == '\r')
				p->line_len--;
			p->line[p->line_len] = '\0';
			if (p->line_len == 0 && p->status != 0)
				return head_done(p, (size_t)(n - i - 1));
			if (header_line(p) == FAIL)
				return FAIL;
			p->line_len = 0;
		}
	}
}

static int
stage_body(struct sl_probe *p)
{
	char buf[4096];
	ssize_t n;

	for (;;) {
		if ((n = io_read(p, buf, sizeof(buf))) < 0)
			return n == -1 ? WAIT : FAIL;
		if (n == 0)
			return p->body_left <= 0 ? OK :
			    fail(p, "body shorter than its Content-Length");
		if (p->body_left > 0 && (p->body_left -= n) <= 0)
			return OK;
	}
}

static void
step(struct sl_probe *p)
{
	int rc = NEXT;

	while (rc == NEXT) {
		p->want = 0;
		switch (p->stage) {
		case P_CONNECT:
			rc = stage_connect(p);
			break;
		case P_PROXY:
			rc = stage_proxy(p);
			break;
		case P_TLS:
			rc = stage_tls(p);
			break;
		case P_SEND:
			rc = stage_send(p);
			break;
		case P_HEAD:
			rc = stage_head(p);
			break;
		case P_BODY:
			rc = stage_body(p);
			break;
		default:
			return;
		}
	}
	if (rc == WAIT && sl_ev_set(p->env.loop, &p->ev, p->want) == -1)
		rc = fail(p, "epoll: %s", strerror(errno));
	if (rc == OK || rc == FAIL)
		finish(p, rc == OK);
}

static void
probe_event(struct sl_ev *ev, uint32_t events)
{
	(void)events;
	step(ev->data);
}

static void
probe_timeout(struct sl_timer *t)
{
	struct sl_probe *p = t->data;

	fail(p, "timed out");
	finish(p, 0);
}

/* ---- start ---- */

static void
resolved(void *arg, int status, const char *err,
    const struct sockaddr_storage *addrs, size_t n)
{
	struct sl_probe *p = arg;

	p->q = NULL;
	if (status != 0 || n == 0) {
		fail(p, "cannot resolve %s: %s", p->url.host,
		    err ? err : "no address");
		finish(p, 0);
		return;
	}
	for (size_t i = 0; i < n && i < SL_ARRAY_LEN(p->addrs); i++) {
		p->addrs[i] = addrs[i];
		p->lens[i] = addrs[i].ss_family == AF_INET ?
		    sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
		p->naddrs = i + 1;
	}
	p->stage = P_CONNECT;
	step(p);
}

static void
url_target(const struct sl_url *u, struct sl_target *t)
{
	memset(t, 0, sizeof(*t));
	t->cmd = SL_CMD_TCP;
	t->port = u->port;
	sl_target_set_host(t, u->host);
}

/* socks/http: connect to the proxy, CONNECT to the URL's host. */
static int
via_proxy(struct sl_probe *p, const struct sl_img_outbound *o)
{
	const struct sl_img *img = p->env.img;
	const struct sl_img_addr *a;
	struct sl_target t;

	if (o->server_addrs_count == 0 ||
	    o->server_addrs_first >= sl_img_count(img, SL_SECT_ADDRS))
		return fail(p, "proxy outbound without an address");
	a = SL_IMG_REC(img, SL_SECT_ADDRS, struct sl_img_addr,
	    o->server_addrs_first);
	if (a->len > sizeof(p->addrs[0]))
		return fail(p, "bad proxy address");
	memcpy(&p->addrs[0], a->sa, a->len);
	p->lens[0] = a->len;
	p->naddrs = 1;
	url_target(&p->url, &t);
	if (sl_pxc_init(&p->pxc, o->protocol == SL_IMG_OUT_SOCKS ?
	    SL_PXC_SOCKS5 : SL_PXC_HTTP, &t, sl_img_str(img, o->user),
	    sl_img_str(img, o->pass)) != SL_OK)
		return fail(p, "%s", sl_pxc_error(&p->pxc));
	p->via_proxy = 1;
	p->stage = P_CONNECT;
	return NEXT;
}

static void
build_request(struct sl_probe *p, const char *method)
{
	const struct sl_url *u = &p->url;
	int v6 = strchr(u->host, ':') != NULL, n;
	char port[8] = "";

	if (u->port_given)
		snprintf(port, sizeof(port), ":%u", u->port);
	n = snprintf(p->req, sizeof(p->req), "%s %s HTTP/1.1\r\n"
	    "Host: %s%s%s%s\r\nUser-Agent: %s\r\nAccept: */*\r\n"
	    "Connection: close\r\n\r\n", method, u->path, v6 ? "[" : "",
	    u->host, v6 ? "]" : "", port, USER_AGENT);
	p->req_len = n < 0 ? 0 : (size_t)n < sizeof(p->req) ? (size_t)n :
	    sizeof(p->req) - 1;
	p->head = strcmp(method, "HEAD") == 0;
}

/* Where to go first; FAIL (with p->err) or NEXT. */
static int
route(struct sl_probe *p, uint32_t outbound)
{
	const struct sl_img_outbound *o;

	if (p->url.host[0] == '\0')
		return fail(p, "no usable probe URL");
	if (outbound == SL_IMG_NONE)
		return NEXT;
	if (outbound >= sl_img_count(p->env.img, SL_SECT_OUTBOUNDS))
		return fail(p, "no outbound %u", outbound);
	o = SL_IMG_REC(p->env.img, SL_SECT_OUTBOUNDS, struct sl_img_outbound,
	    outbound);
	switch (o->protocol) {
	case SL_IMG_OUT_FREEDOM:
		return NEXT;
	case SL_IMG_OUT_BLACKHOLE:
		return fail(p, "blackhole outbound");
	case SL_IMG_OUT_SOCKS:
	case SL_IMG_OUT_HTTP:
		return via_proxy(p, o);
	}
	return fail(p, "outbound protocol %u cannot be probed", o->protocol);
}

struct sl_probe *
sl_probe_start(const struct sl_probe_env *env, uint32_t outbound,
    const struct sl_url *url, const char *method, uint32_t timeout_ms,
    int read_body, sl_probe_cb cb, void *arg)
{
	struct sl_probe *p = calloc(1, sizeof(*p));
	struct sl_dns_query *q;

	if (p == NULL)
		return NULL;
	p->env = *env;
	p->url = *url;
	p->cb = cb;
	p->arg = arg;
	p->read_body = read_body;
	p->start_us = now_us();
	p->body_left = -1;
	p->stage = P_RESOLVE;
	sl_ev_init(&p->ev, -1, probe_event, p);
	sl_timer_init(&p->deadline, probe_timeout, p);
	sl_timer_init(&p->report, report, p);
	sl_timer_add(env->loop, &p->deadline, timeout_ms);
	build_request(p, method);
	if (route(p, outbound) == FAIL) {
		finish(p, 0);
		return p;
	}
	if (p->via_proxy) {
		step(p);
		return p;
	}
	/* The answer may come before sl_dns_resolve returns. */
	q = sl_dns_resolve(env->dns, url->host, url->port, AF_UNSPEC,
	    resolved, p);
	if (q != NULL && p->stage == P_RESOLVE)
		p->q = q;
	return p;
}

void
sl_probe_cancel(struct sl_probe *p)
{
	if (p == NULL)
		return;
	release(p);
	sl_timer_del(p->env.loop, &p->report);
	free(p);
}

SSL_CTX *
sl_probe_tls_ctx(const char **err)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		*err = "TLS: cannot create a client context";
		return NULL;
	}
	/* Go's client defaults: TLS 1.2 or later, verified peer. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		SSL_CTX_free(ctx);
		*err = "TLS: cannot load the default trust store";
		return NULL;
	}
	return ctx;
}
