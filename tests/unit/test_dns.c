/*
 * test_dns: the worker resolver (worker/dns.c) against a fake DNS server.
 *
 * The machine has no outside network: answers come from IP literals,
 * /etc/hosts ("localhost") and a tiny UDP responder run in a thread on
 * 127.0.0.1:<random port>.  It knows the zone fake.test:
 *   qN.fake.test	A 10.0.N/256.N%256 (N < 65536)
 *   multi.fake.test	A 192.0.2.1, 192.0.2.2; AAAA 2001:db8::1
 *   v4only.fake.test	A 192.0.2.4, no AAAA (NODATA)
 *   nocache.fake.test	A 192.0.2.5, TTL 0
 *   ttl1.fake.test	A 192.0.2.6, TTL 1
 *   drop.fake.test	never answered
 *   *.fake.test	A 192.0.2.1, AAAA 2001:db8::1, TTL 60
 * and answers NXDOMAIN for anything else.  $CARES_HOSTS points c-ares to a
 * hosts file of our own, so hosts lookups are tested without /etc/hosts.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ares.h>
#include <cmocka.h>

#include "worker/dns.h"
#include "worker/loop.h"

#define DEADLINE_MS	5000

/* ---- the fake server ---- */

struct fake {
	int		 fd, stop[2];
	uint16_t	 port;
	pthread_t	 th;
	atomic_int	 queries;	/* received */
	atomic_int	 drops;		/* received and ignored */
};

static struct fake fk;
static char hosts_path[] = "/tmp/test_dns_hosts.XXXXXX";

static const char hosts_text[] =
    "# test hosts file\n"
    "192.0.2.50\thosted.example hostalias\n"
    "2001:db8::50 hosted.example\n"
    "192.0.2.51 v4host.example\n";

struct rr {
	uint16_t	 type;		/* 1 = A, 28 = AAAA */
	uint8_t		 data[16];
};

static size_t
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

/* The name in dotted form, lowercase; offset past it, 0 if malformed. */
static size_t
parse_qname(const uint8_t *buf, size_t len, char *out, size_t outsz)
{
	size_t off = 12, o = 0, l;

	while (off < len && buf[off] != 0) {
		l = buf[off++];
		if (l > 63 || off + l > len || o + l + 2 > outsz)
			return 0;
		if (o)
			out[o++] = '.';
		while (l--)
			out[o++] = (char)tolower(buf[off++]);
	}
	out[o] = '\0';
	return off < len ? off + 1 : 0;
}

/* Records for (name, qtype); -1 = NXDOMAIN, -2 = do not answer. */
static int
zone(const char *name, uint16_t qtype, struct rr *rr, uint32_t *ttl)
{
	static const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	const char *sfx = ".fake.test";
	size_t nl = strlen(name), sl = strlen(sfx);
	unsigned qn;
	int n = 0, a4 = 1, a6 = 1;
	uint8_t last = 1;

	*ttl = 60;
	if (nl <= sl || strcmp(name + nl - sl, sfx) != 0)
		return -1;
	if (strcmp(name, "drop.fake.test") == 0)
		return -2;
	if (sscanf(name, "q%u.fake.test", &qn) == 1 && qn < 65536) {
		if (qtype != 1)
			return 0;
		rr[0].type = 1;
		memcpy(rr[0].data, (uint8_t[]){ 10, 0, qn >> 8, qn & 255 }, 4);
		return 1;
	}
	if (strcmp(name, "v4only.fake.test") == 0)
		a6 = 0, last = 4;
	else if (strcmp(name, "nocache.fake.test") == 0)
		a6 = 0, last = 5, *ttl = 0;
	else if (strcmp(name, "ttl1.fake.test") == 0)
		a6 = 0, last = 6, *ttl = 1;
	if (qtype == 1 && a4) {
		rr[n].type = 1;
		memcpy(rr[n++].data, (uint8_t[]){ 192, 0, 2, last }, 4);
		if (strcmp(name, "multi.fake.test") == 0) {
			rr[n].type = 1;
			memcpy(rr[n++].data, (uint8_t[]){ 192, 0, 2, 2 }, 4);
		}
	}
	if (qtype == 28 && a6) {
		rr[n].type = 28;
		memcpy(rr[n++].data, v6, 16);
	}
	return n;
}

/* Build the reply to one query in place; its length, 0 = no reply. */
static size_t
fake_answer(uint8_t *buf, size_t len, size_t cap)
{
	char name[256];
	struct rr rr[4];
	uint32_t ttl;
	size_t qend, off, rdlen;
	uint16_t qtype;
	int n, i;

	if (len < 12 || (qend = parse_qname(buf, len, name, sizeof(name))) ==
	    0 || qend + 4 > len)
		return 0;
	qtype = (uint16_t)(buf[qend] << 8 | buf[qend + 1]);
	qend += 4;
	if ((n = zone(name, qtype, rr, &ttl)) == -2) {
		atomic_fetch_add(&fk.drops, 1);
		return 0;
	}
	buf[2] = 0x80 | (buf[2] & 0x01);	/* QR, RD copied */
	buf[3] = 0x80 | (n == -1 ? 3 : 0);	/* RA, NXDOMAIN */
	put16(buf + 4, 1);
	put16(buf + 6, (uint16_t)(n > 0 ? n : 0));
	put16(buf + 8, 0);
	put16(buf + 10, 0);			/* drop any EDNS OPT */
	off = qend;
	for (i = 0; i < n; i++) {
		rdlen = rr[i].type == 1 ? 4 : 16;
		if (off + 12 + rdlen > cap)
			return 0;
		off += put16(buf + off, 0xc00c);	/* the question name */
		off += put16(buf + off, rr[i].type);
		off += put16(buf + off, 1);
		off += put16(buf + off, (uint16_t)(ttl >> 16));
		off += put16(buf + off, (uint16_t)ttl);
		off += put16(buf + off, (uint16_t)rdlen);
		memcpy(buf + off, rr[i].data, rdlen);
		off += rdlen;
	}
	return off;
}

static void *
fake_main(void *arg)
{
	struct pollfd pfd[2] = {
		{ .fd = fk.fd, .events = POLLIN },
		{ .fd = fk.stop[0], .events = POLLIN },
	};
	struct sockaddr_storage from;
	socklen_t fl;
	uint8_t buf[1500];
	ssize_t r;
	size_t n;

	(void)arg;
	while (poll(pfd, 2, -1) >= 0 && !(pfd[1].revents & POLLIN)) {
		fl = sizeof(from);
		r = recvfrom(fk.fd, buf, 512, MSG_DONTWAIT,
		    (struct sockaddr *)&from, &fl);
		if (r <= 0)
			continue;
		atomic_fetch_add(&fk.queries, 1);
		if ((n = fake_answer(buf, (size_t)r, 512)) > 0)
			sendto(fk.fd, buf, n, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static int
fake_start(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);

	int hfd;

	(void)state;
	if ((hfd = mkstemp(hosts_path)) < 0 ||
	    write(hfd, hosts_text, strlen(hosts_text)) < 0 || close(hfd) < 0 ||
	    setenv("CARES_HOSTS", hosts_path, 1) < 0)
		return -1;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fk.fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(fk.fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fk.fd, (struct sockaddr *)&sin, &sl) < 0 ||
	    pipe(fk.stop) < 0)
		return -1;
	fk.port = ntohs(sin.sin_port);
	return pthread_create(&fk.th, NULL, fake_main, NULL) == 0 ? 0 : -1;
}

static int
fake_stop(void **state)
{
	(void)state;
	(void)!write(fk.stop[1], "x", 1);
	pthread_join(fk.th, NULL);
	close(fk.fd);
	close(fk.stop[0]);
	close(fk.stop[1]);
	unlink(hosts_path);
	return 0;
}

/* ---- fixtures ---- */

struct env {
	struct sl_loop	*loop;
	struct sl_dns	*dns;
};

static struct sl_dns *
new_dns(struct sl_loop *loop, int timeout_ms, int tries, size_t cache_max)
{
	struct sl_dns_opts o = { 0 };
	char csv[64];
	const char *err = NULL;
	struct sl_dns *dns;

	snprintf(csv, sizeof(csv), "127.0.0.1:%u", fk.port);
	o.servers = csv;
	o.timeout_ms = timeout_ms;
	o.tries = tries;
	o.cache_max = cache_max;
	o.env_hosts = 1;
	dns = sl_dns_new_opts(loop, &o, &err);
	assert_non_null(dns);
	assert_null(err);
	return dns;
}

static int
env_setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	e->loop = sl_loop_new();
	e->dns = new_dns(e->loop, 0, 0, 0);
	*state = e;
	return 0;
}

static int
env_teardown(void **state)
{
	struct env *e = *state;

	if (e->dns)
		sl_dns_free(e->dns);
	sl_loop_free(e->loop);
	free(e);
	return 0;
}

struct res {
	int			 calls;
	int			 status;
	const char		*err;
	size_t			 n;
	struct sockaddr_storage	 a[SL_DNS_MAX_ADDRS];
};

static void
res_cb(void *arg, int status, const char *err,
    const struct sockaddr_storage *addrs, size_t n)
{
	struct res *r = arg;

	r->calls++;
	r->status = status;
	r->err = err;
	r->n = n;
	assert_true(n <= SL_DNS_MAX_ADDRS);
	assert_true(n == 0 || addrs != NULL);
	if (n)
		memcpy(r->a, addrs, n * sizeof(*addrs));
}

/* Callbacks that must never run. */
static void
never_cb(void *arg, int status, const char *err,
    const struct sockaddr_storage *addrs, size_t n)
{
	(void)arg, (void)status, (void)err, (void)addrs, (void)n;
	fail_msg("callback of a cancelled query called");
}

static void
run_until(struct sl_loop *loop, const int *done, int want)
{
	uint64_t end = sl_loop_now(loop) + DEADLINE_MS;

	while (*done < want && sl_loop_now(loop) < end)
		assert_true(sl_loop_once(loop, 50) >= 0);
	assert_int_equal(*done, want);
}

/* Let the loop run for ms, e.g. to show nothing more happens. */
static void
run_for(struct sl_loop *loop, uint64_t ms)
{
	uint64_t end = sl_loop_now(loop) + ms;

	while (sl_loop_now(loop) < end)
		assert_true(sl_loop_once(loop, 10) >= 0);
}

/* Resolve and wait for the answer, whether it came at once or later. */
static void
resolve_wait(struct env *e, const char *name, uint16_t port, int family,
    struct res *r)
{
	memset(r, 0, sizeof(*r));
	if (sl_dns_resolve(e->dns, name, port, family, res_cb, r) == NULL)
		assert_int_equal(r->calls, 1);
	else
		assert_int_equal(r->calls, 0);
	run_until(e->loop, &r->calls, 1);
}

static void
assert_v4(const struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	char buf[INET_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, AF_INET);
	assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)));
	assert_string_equal(buf, ip);
	assert_int_equal(ntohs(sin->sin_port), port);
}

static void
assert_v6(const struct sockaddr_storage *ss, const char *ip, uint16_t port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	char buf[INET6_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, AF_INET6);
	assert_non_null(inet_ntop(AF_INET6, &sin6->sin6_addr, buf,
	    sizeof(buf)));
	assert_string_equal(buf, ip);
	assert_int_equal(ntohs(sin6->sin6_port), port);
}

/* ---- literals and bad arguments: synchronous ---- */

static void
test_literal_v4(void **state)
{
	struct env *e = *state;
	struct res r = { 0 };

	assert_null(sl_dns_resolve(e->dns, "192.0.2.7", 443, AF_UNSPEC,
	    res_cb, &r));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, 0);
	assert_non_null(r.err);
	assert_int_equal(r.n, 1);
	assert_v4(&r.a[0], "192.0.2.7", 443);

	memset(&r, 0, sizeof(r));
	assert_null(sl_dns_resolve(e->dns, "192.0.2.7", 1, AF_INET, res_cb,
	    &r));
	assert_int_equal(r.calls, 1);
	assert_v4(&r.a[0], "192.0.2.7", 1);

	/* A v4 literal is no IPv6 address. */
	memset(&r, 0, sizeof(r));
	assert_null(sl_dns_resolve(e->dns, "192.0.2.7", 1, AF_INET6, res_cb,
	    &r));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, ARES_EBADFAMILY);
	assert_int_equal(r.n, 0);
	assert_int_equal(atomic_load(&fk.queries), 0);
}

static void
test_literal_v6(void **state)
{
	struct env *e = *state;
	struct res r = { 0 };

	assert_null(sl_dns_resolve(e->dns, "2001:db8::7", 8443, AF_INET6,
	    res_cb, &r));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.n, 1);
	assert_v6(&r.a[0], "2001:db8::7", 8443);

	memset(&r, 0, sizeof(r));
	assert_null(sl_dns_resolve(e->dns, "::1", 80, AF_UNSPEC, res_cb, &r));
	assert_int_equal(r.calls, 1);
	assert_v6(&r.a[0], "::1", 80);

	memset(&r, 0, sizeof(r));
	assert_null(sl_dns_resolve(e->dns, "::1", 80, AF_INET, res_cb, &r));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, ARES_EBADFAMILY);
}

static void
test_bad_args(void **state)
{
	struct env *e = *state;
	struct res r = { 0 };

	assert_null(sl_dns_resolve(e->dns, "", 80, AF_UNSPEC, res_cb, &r));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, ARES_EBADNAME);

	memset(&r, 0, sizeof(r));
	assert_null(sl_dns_resolve(e->dns, "www.fake.test", 80, AF_UNIX,
	    res_cb, &r));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, ARES_EBADFAMILY);
	assert_string_equal(r.err, ares_strerror(ARES_EBADFAMILY));
}

/* ---- localhost and hosts files ---- */

static void
test_localhost(void **state)
{
	struct env *e = *state;
	int q0 = atomic_load(&fk.queries);
	struct res r = { 0 };

	assert_null(sl_dns_resolve(e->dns, "localhost", 8080, AF_INET,
	    res_cb, &r));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.n, 1);
	assert_v4(&r.a[0], "127.0.0.1", 8080);

	memset(&r, 0, sizeof(r));
	assert_null(sl_dns_resolve(e->dns, "LocalHost", 8080, AF_UNSPEC,
	    res_cb, &r));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.n, 2);
	assert_v4(&r.a[0], "127.0.0.1", 8080);	/* IPv4 first */
	assert_v6(&r.a[1], "::1", 8080);

	/* RFC 6761: loopback even when /etc/hosts lists no ::1. */
	memset(&r, 0, sizeof(r));
	assert_null(sl_dns_resolve(e->dns, "localhost", 1, AF_INET6, res_cb,
	    &r));
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.n, 1);
	assert_v6(&r.a[0], "::1", 1);

	/* None of it asked the DNS server. */
	assert_int_equal(atomic_load(&fk.queries), q0);
}

static void
test_hosts_file(void **state)
{
	struct env *e = *state;
	int q0 = atomic_load(&fk.queries);
	struct res r;

	resolve_wait(e, "hosted.example", 443, AF_UNSPEC, &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.n, 2);
	assert_v4(&r.a[0], "192.0.2.50", 443);
	assert_v6(&r.a[1], "2001:db8::50", 443);

	resolve_wait(e, "hostalias", 80, AF_INET, &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.n, 1);
	assert_v4(&r.a[0], "192.0.2.50", 80);

	resolve_wait(e, "hosted.example", 80, AF_INET6, &r);
	assert_int_equal(r.n, 1);
	assert_v6(&r.a[0], "2001:db8::50", 80);
	assert_int_equal(atomic_load(&fk.queries), q0);

	/* Not in the file for this family: DNS is asked (and says no). */
	resolve_wait(e, "v4host.example", 80, AF_INET6, &r);
	assert_int_equal(r.status, ARES_ENOTFOUND);
	assert_true(atomic_load(&fk.queries) > q0);
}

/* ---- the fake server ---- */

static void
test_server_a(void **state)
{
	struct env *e = *state;
	struct res r;

	resolve_wait(e, "www.fake.test", 80, AF_INET, &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.n, 1);
	assert_v4(&r.a[0], "192.0.2.1", 80);
}

static void
test_server_aaaa(void **state)
{
	struct env *e = *state;
	struct res r;

	resolve_wait(e, "www.fake.test", 443, AF_INET6, &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.n, 1);
	assert_v6(&r.a[0], "2001:db8::1", 443);
}

static void
test_server_unspec(void **state)
{
	struct env *e = *state;
	struct res r;

	resolve_wait(e, "MULTI.fake.test", 25, AF_UNSPEC, &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.n, 3);
	/* IPv4 first, in answer order, then IPv6. */
	assert_v4(&r.a[0], "192.0.2.1", 25);
	assert_v4(&r.a[1], "192.0.2.2", 25);
	assert_v6(&r.a[2], "2001:db8::1", 25);
}

static void
test_nxdomain(void **state)
{
	struct env *e = *state;
	int q0 = atomic_load(&fk.queries);
	struct res r;

	resolve_wait(e, "nowhere.example", 80, AF_INET, &r);
	assert_int_equal(r.status, ARES_ENOTFOUND);
	assert_int_equal(r.n, 0);
	assert_non_null(r.err);
	assert_true(atomic_load(&fk.queries) > q0);	/* really asked */

	resolve_wait(e, "nowhere.example", 80, AF_UNSPEC, &r);
	assert_int_equal(r.status, ARES_ENOTFOUND);
}

static void
test_nodata(void **state)
{
	struct env *e = *state;
	struct res r;

	resolve_wait(e, "v4only.fake.test", 80, AF_INET6, &r);
	assert_int_not_equal(r.status, 0);
	assert_int_equal(r.n, 0);

	/* Both asked: the missing AAAA is no failure. */
	resolve_wait(e, "v4only.fake.test", 80, AF_UNSPEC, &r);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.n, 1);
	assert_v4(&r.a[0], "192.0.2.4", 80);
}

/* Answers come from the loop: c-ares' sockets and timer are served. */
static void
test_timeout(void **state)
{
	struct env *e = *state;
	struct res r;
	uint64_t t0;

	sl_dns_free(e->dns);
	e->dns = new_dns(e->loop, 100, 1, 0);
	t0 = sl_loop_now(e->loop);
	resolve_wait(e, "drop.fake.test", 80, AF_INET, &r);
	assert_int_equal(r.status, ARES_ETIMEOUT);
	assert_int_equal(r.n, 0);
	assert_true(sl_loop_now(e->loop) - t0 >= 100);
	assert_true(sl_loop_now(e->loop) - t0 < 2000);
	assert_int_equal(sl_dns_pending(e->dns), 0);
}

/* ---- cancellation ---- */

static void
test_cancel(void **state)
{
	struct env *e = *state;
	struct sl_dns_query *q;
	int q0 = atomic_load(&fk.queries), zero = 0;
	struct res r;

	q = sl_dns_resolve(e->dns, "c1.fake.test", 80, AF_INET, never_cb,
	    NULL);
	assert_non_null(q);
	sl_dns_cancel(e->dns, q);
	assert_int_equal(sl_dns_pending(e->dns), 1);
	/* The answer comes back, is swallowed, the record freed. */
	while (sl_dns_pending(e->dns) > 0 && zero++ < 100)
		assert_true(sl_loop_once(e->loop, 50) >= 0);
	assert_int_equal(sl_dns_pending(e->dns), 0);
	assert_true(atomic_load(&fk.queries) > q0);
	run_for(e->loop, 50);

	/* The answer was still cached: the next asker gets it at once. */
	memset(&r, 0, sizeof(r));
	assert_null(sl_dns_resolve(e->dns, "c1.fake.test", 81, AF_INET,
	    res_cb, &r));
	assert_int_equal(r.calls, 1);
	assert_v4(&r.a[0], "192.0.2.1", 81);
}

/* ---- many at once ---- */

#define NMANY	400

static void
test_many(void **state)
{
	struct env *e = *state;
	struct res *r = calloc(NMANY, sizeof(*r));
	struct sl_dns_query *q[NMANY];
	char name[64], ip[32];
	int i, done = 0, ncancel = 0;
	uint64_t end;

	/*
	 * The burst of answers can overflow the socket's receive buffer (as
	 * it would in real life): retry quickly, to see retries work too.
	 */
	sl_dns_free(e->dns);
	e->dns = new_dns(e->loop, 250, 4, 0);
	for (i = 0; i < NMANY; i++) {
		/* Every name twice, so two queries race for one cache slot. */
		snprintf(name, sizeof(name), "q%d.fake.test", i % (NMANY / 2));
		q[i] = sl_dns_resolve(e->dns, name, (uint16_t)(1000 + i),
		    AF_INET, res_cb, &r[i]);
		assert_non_null(q[i]);
	}
	/* Cancel every 7th one. */
	for (i = 0; i < NMANY; i += 7, ncancel++)
		sl_dns_cancel(e->dns, q[i]);
	end = sl_loop_now(e->loop) + DEADLINE_MS;
	while (sl_dns_pending(e->dns) > 0 && sl_loop_now(e->loop) < end)
		assert_true(sl_loop_once(e->loop, 50) >= 0);
	assert_int_equal(sl_dns_pending(e->dns), 0);
	for (i = 0; i < NMANY; i++) {
		if (i % 7 == 0) {
			assert_int_equal(r[i].calls, 0);
			continue;
		}
		assert_int_equal(r[i].calls, 1);
		assert_int_equal(r[i].status, 0);
		assert_int_equal(r[i].n, 1);
		snprintf(ip, sizeof(ip), "10.0.%d.%d", (i % (NMANY / 2)) >> 8,
		    (i % (NMANY / 2)) & 255);
		assert_v4(&r[i].a[0], ip, (uint16_t)(1000 + i));
		done++;
	}
	assert_int_equal(done + ncancel, NMANY);
	free(r);
}

/* ---- freeing with work in flight ---- */

static void
test_free_pending(void **state)
{
	struct env *e = *state;
	char name[64];
	int i, d0 = atomic_load(&fk.drops);

	for (i = 0; i < 10; i++)
		assert_non_null(sl_dns_resolve(e->dns, "drop.fake.test", 80,
		    i % 2 ? AF_INET : AF_UNSPEC, never_cb, NULL));
	for (i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "p%d.fake.test", i);
		assert_non_null(sl_dns_resolve(e->dns, name, 80, AF_UNSPEC,
		    never_cb, NULL));
	}
	/*
	 * c-ares sent them all already; wait (without the loop) until the
	 * server saw them, so answers sit unread in the socket.
	 */
	for (i = 0; i < 500 && atomic_load(&fk.drops) - d0 < 15; i++)
		usleep(1000);
	assert_int_equal(atomic_load(&fk.drops) - d0, 15);
	assert_true(sl_dns_pending(e->dns) > 0);
	sl_dns_free(e->dns);
	e->dns = NULL;
	/* Nothing of the resolver is left in the loop. */
	run_for(e->loop, 50);
}

struct chain {
	struct env		*e;
	struct sl_dns_query	*victim;
	struct res		 second;
	int			 calls;
};

/* First answer: free the whole resolver from inside its callback. */
static void
free_cb(void *arg, int status, const char *err,
    const struct sockaddr_storage *addrs, size_t n)
{
	struct chain *c = arg;

	(void)err, (void)addrs, (void)n;
	assert_int_equal(status, 0);
	c->calls++;
	sl_dns_free(c->e->dns);
	c->e->dns = NULL;
}

static void
test_free_in_callback(void **state)
{
	struct env *e = *state;
	struct chain c = { .e = e };

	/* Two queries whose answers come in one batch, and one that never
	 * ends: the first callback frees all. */
	assert_non_null(sl_dns_resolve(e->dns, "f1.fake.test", 80, AF_INET,
	    free_cb, &c));
	assert_non_null(sl_dns_resolve(e->dns, "f2.fake.test", 80, AF_INET,
	    free_cb, &c));
	assert_non_null(sl_dns_resolve(e->dns, "drop.fake.test", 80, AF_INET,
	    never_cb, NULL));
	run_until(e->loop, &c.calls, 1);
	assert_null(e->dns);
	run_for(e->loop, 100);
	assert_int_equal(c.calls, 1);
}

/* Free from a synchronous (literal) callback: torn down at once. */
static void
test_free_in_sync_callback(void **state)
{
	struct env *e = *state;
	struct chain c = { .e = e };

	assert_non_null(sl_dns_resolve(e->dns, "drop.fake.test", 80, AF_INET,
	    never_cb, NULL));
	assert_null(sl_dns_resolve(e->dns, "127.0.0.1", 80, AF_INET, free_cb,
	    &c));
	assert_int_equal(c.calls, 1);
	assert_null(e->dns);
	run_for(e->loop, 50);
}

/* From a callback: resolve again, and cancel another pending query. */
static void
chain_cb(void *arg, int status, const char *err,
    const struct sockaddr_storage *addrs, size_t n)
{
	struct chain *c = arg;

	(void)err, (void)addrs, (void)n;
	assert_int_equal(status, 0);
	c->calls++;
	sl_dns_cancel(c->e->dns, c->victim);
	c->victim = NULL;
	assert_non_null(sl_dns_resolve(c->e->dns, "chain2.fake.test", 99,
	    AF_INET6, res_cb, &c->second));
}

static void
test_resolve_in_callback(void **state)
{
	struct env *e = *state;
	struct chain c = { .e = e };

	assert_non_null(sl_dns_resolve(e->dns, "chain1.fake.test", 80,
	    AF_INET, chain_cb, &c));
	c.victim = sl_dns_resolve(e->dns, "drop.fake.test", 80, AF_INET,
	    never_cb, NULL);
	assert_non_null(c.victim);
	run_until(e->loop, &c.second.calls, 1);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.second.status, 0);
	assert_v6(&c.second.a[0], "2001:db8::1", 99);
}

/* ---- cache ---- */

static void
test_cache(void **state)
{
	struct env *e = *state;
	struct res r;
	int q0;

	resolve_wait(e, "cached.fake.test", 80, AF_INET, &r);
	q0 = atomic_load(&fk.queries);

	/* Hit: synchronous, no query, this call's port. */
	memset(&r, 0, sizeof(r));
	assert_null(sl_dns_resolve(e->dns, "Cached.Fake.Test", 443, AF_INET,
	    res_cb, &r));
	assert_int_equal(r.calls, 1);
	assert_v4(&r.a[0], "192.0.2.1", 443);
	assert_int_equal(atomic_load(&fk.queries), q0);

	/* Another family is another entry. */
	memset(&r, 0, sizeof(r));
	assert_non_null(sl_dns_resolve(e->dns, "cached.fake.test", 443,
	    AF_INET6, res_cb, &r));
	run_until(e->loop, &r.calls, 1);
	assert_v6(&r.a[0], "2001:db8::1", 443);

	/* TTL 0: never cached. */
	resolve_wait(e, "nocache.fake.test", 80, AF_INET, &r);
	assert_v4(&r.a[0], "192.0.2.5", 80);
	memset(&r, 0, sizeof(r));
	assert_non_null(sl_dns_resolve(e->dns, "nocache.fake.test", 80,
	    AF_INET, res_cb, &r));
	run_until(e->loop, &r.calls, 1);

	/* TTL 1: cached, then expired. */
	resolve_wait(e, "ttl1.fake.test", 80, AF_INET, &r);
	memset(&r, 0, sizeof(r));
	assert_null(sl_dns_resolve(e->dns, "ttl1.fake.test", 80, AF_INET,
	    res_cb, &r));
	run_for(e->loop, 1100);
	memset(&r, 0, sizeof(r));
	assert_non_null(sl_dns_resolve(e->dns, "ttl1.fake.test", 80, AF_INET,
	    res_cb, &r));
	run_until(e->loop, &r.calls, 1);
	assert_v4(&r.a[0], "192.0.2.6", 80);

	/* Flushed: asked again. */
	sl_dns_cache_flush(e->dns);
	memset(&r, 0, sizeof(r));
	assert_non_null(sl_dns_resolve(e->dns, "cached.fake.test", 80,
	    AF_INET, res_cb, &r));
	run_until(e->loop, &r.calls, 1);
}

static void
test_cache_lru(void **state)
{
	struct env *e = *state;
	struct res r;
	char name[64];
	int i;

	sl_dns_free(e->dns);
	e->dns = new_dns(e->loop, 0, 0, 4);
	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "lru%d.fake.test", i);
		resolve_wait(e, name, 80, AF_INET, &r);
		if (i == 3) {
			/* Touch lru0: lru1 and lru2 are now the oldest. */
			memset(&r, 0, sizeof(r));
			assert_null(sl_dns_resolve(e->dns, "lru0.fake.test",
			    80, AF_INET, res_cb, &r));
		}
	}
	/* 6 answers, 4 slots: lru1 and lru2 were evicted. */
	memset(&r, 0, sizeof(r));
	assert_null(sl_dns_resolve(e->dns, "lru0.fake.test", 80, AF_INET,
	    res_cb, &r));
	memset(&r, 0, sizeof(r));
	assert_null(sl_dns_resolve(e->dns, "lru5.fake.test", 80, AF_INET,
	    res_cb, &r));
	memset(&r, 0, sizeof(r));
	assert_non_null(sl_dns_resolve(e->dns, "lru1.fake.test", 80, AF_INET,
	    res_cb, &r));
	run_until(e->loop, &r.calls, 1);
	memset(&r, 0, sizeof(r));
	assert_non_null(sl_dns_resolve(e->dns, "lru2.fake.test", 80, AF_INET,
	    res_cb, &r));
	run_until(e->loop, &r.calls, 1);
}

/* The system configuration loads (no query is made). */
static void
test_system_config(void **state)
{
	struct env *e = *state;
	const char *err = NULL;
	struct sl_dns *dns;
	struct res r = { 0 };

	dns = sl_dns_new(e->loop, &err);
	assert_non_null(dns);
	assert_null(sl_dns_resolve(dns, "10.1.2.3", 80, AF_UNSPEC, res_cb,
	    &r));
	assert_int_equal(r.calls, 1);
	sl_dns_free(dns);

	dns = sl_dns_new_servers(e->loop, "not an address", &err);
	assert_null(dns);
	assert_non_null(err);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, env_setup, env_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_literal_v4),
		T(test_literal_v6),
		T(test_bad_args),
		T(test_localhost),
		T(test_hosts_file),
		T(test_server_a),
		T(test_server_aaaa),
		T(test_server_unspec),
		T(test_nxdomain),
		T(test_nodata),
		T(test_timeout),
		T(test_cancel),
		T(test_many),
		T(test_free_pending),
		T(test_free_in_callback),
		T(test_free_in_sync_callback),
		T(test_resolve_in_callback),
		T(test_cache),
		T(test_cache_lru),
		T(test_system_config),
	};

	return cmocka_run_group_tests(tests, fake_start, fake_stop);
}
