/*
 * proxyproto: the PROXY protocol, v1 (text) and v2 (binary).
 *
 * Parsing follows go-proxyproto v0.15.0 (what Xray's acceptProxyProtocol
 * uses), writing follows Xray's fallback code (spec 1.6, 4.3).  Where the
 * two are lax or broken this file says so next to the code.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "shm/types.h"
#include "worker/proxyproto.h"
#include "worker/xaddr.h"

#define V1_MAX_LINE	107	/* incl. CRLF, go-proxyproto's limit */
#define V2_HDR		16	/* signature, ver/cmd, fam, length */
#define V2_MAX_LEN	4096	/* go-proxyproto's MaxV2HeaderSize */

#define V2_LOCAL	0x20
#define V2_PROXY	0x21

static const uint8_t v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};

/* ---- parsing: v1 ---- */

struct tok {
	const uint8_t	*p;
	size_t		 n;
};

static int
tok_is(const struct tok *t, const char *s)
{
	return t->n == strlen(s) && memcmp(t->p, s, t->n) == 0;
}

/* A v1 port: 1-5 digits, no leading zero, <= 65535 (strconv.ParseUint
 * plus go-proxyproto's leading-zero rule). */
static int
v1_port(const struct tok *t, uint16_t *port)
{
	uint32_t v = 0;

	if (t->n == 0 || t->n > 5 || (t->n > 1 && t->p[0] == '0'))
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		if (t->p[i] < '0' || t->p[i] > '9')
			return -1;
		v = v * 10 + (uint32_t)(t->p[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* An address of the line's family.  inet_pton agrees with netip.ParseAddr
 * on what matters here: no leading zeros in IPv4, no zones, and an IPv4
 * literal is not accepted for TCP6 (v4-mapped IPv6 is). */
static int
v1_addr(int af, const struct tok *addr, const struct tok *port,
    struct sockaddr_storage *ss, socklen_t *sslen)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	uint16_t p;

	/* inet_pton would stop at a NUL and accept what precedes it. */
	if (addr->n == 0 || addr->n >= sizeof(tmp) ||
	    memchr(addr->p, '\0', addr->n) != NULL || v1_port(port, &p) == -1)
		return -1;
	memcpy(tmp, addr->p, addr->n);
	tmp[addr->n] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (af == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(p);
		if (inet_pton(AF_INET, tmp, &sin->sin_addr) != 1)
			return -1;
		*sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(p);
		if (inet_pton(AF_INET6, tmp, &sin6->sin6_addr) != 1)
			return -1;
		*sslen = sizeof(*sin6);
	}
	return 0;
}

/* Split on single spaces like strings.Split: empty tokens count. */
static size_t
v1_split(const uint8_t *s, size_t n, struct tok *t, size_t max)
{
	size_t count = 0, start = 0;

	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != ' ')
			continue;
		if (count < max) {
			t[count].p = s + start;
			t[count].n = i - start;
		}
		count++;
		start = i + 1;
	}
	return count;
}

static int
v1_line(const uint8_t *buf, size_t lf, struct sl_pp_result *r)
{
	struct tok t[6];
	size_t ntok;
	int af;

	if (lf < 1 || buf[lf - 1] != '\r')
		return SL_ERROR;
	ntok = v1_split(buf, lf - 1, t, SL_ARRAY_LEN(t));
	if (!tok_is(&t[0], "PROXY") || ntok < 2)
		return SL_ERROR;
	if (tok_is(&t[1], "UNKNOWN")) {
		/* Anything may follow UNKNOWN up to the CRLF. */
		r->local = 1;
		return SL_OK;
	}
	if (tok_is(&t[1], "TCP4"))
		af = AF_INET;
	else if (tok_is(&t[1], "TCP6"))
		af = AF_INET6;
	else
		return SL_ERROR;
	if (ntok != 6 ||
	    v1_addr(af, &t[2], &t[4], &r->src, &r->src_len) == -1 ||
	    v1_addr(af, &t[3], &t[5], &r->dst, &r->dst_len) == -1)
		return SL_ERROR;
	r->local = 0;
	return SL_OK;
}

/*
 * No LF yet.  go-proxyproto would wait (it wants the line in one read, a
 * policy left to the caller); reject early what no completion can save so
 * garbage does not hold a connection until the header timeout.
 */
static int
v1_partial(const uint8_t *buf, size_t len)
{
	static const char unknown[] = "UNKNOWN";
	const uint8_t *f = buf + 6;
	size_t fl, spaces = 0, n;

	if (len > 5 && buf[5] != ' ')
		return SL_ERROR;
	if (len <= 6)
		return SL_AGAIN;
	fl = len - 6;
	if (f[0] == 'U') {
		n = fl < 7 ? fl : 7;
		if (memcmp(f, unknown, n) != 0)
			return SL_ERROR;
		/* Anything may follow "UNKNOWN ", but the token must end. */
		if (fl <= 7 || f[7] == ' ' || (f[7] == '\r' && fl == 8))
			return SL_AGAIN;
		return SL_ERROR;
	}
	n = fl < 3 ? fl : 3;
	if (memcmp(f, "TCP", n) != 0 || (fl > 3 && f[3] != '4' && f[3] != '6') ||
	    (fl > 4 && f[4] != ' '))
		return SL_ERROR;
	for (size_t i = 5; i < fl; i++) {
		uint8_t c = f[i];

		if (c == ' ' && ++spaces > 3)
			return SL_ERROR;
		if (c == '\r' && i == fl - 1)
			continue;
		if (c != ' ' && c != '.' && c != ':' &&
		    !(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'f') &&
		    !(c >= 'A' && c <= 'F'))
			return SL_ERROR;
	}
	return SL_AGAIN;
}

static int
v1_parse(const uint8_t *buf, size_t len, size_t *used, struct sl_pp_result *r)
{
	size_t scan = len < V1_MAX_LINE ? len : V1_MAX_LINE;
	const uint8_t *lf;
	int rc;

	if (memcmp(buf, "PROXY", len < 5 ? len : 5) != 0)
		return SL_DECLINED;
	if (len < 5)
		return SL_AGAIN;
	if ((lf = memchr(buf, '\n', scan)) == NULL)
		return len >= V1_MAX_LINE ? SL_ERROR : v1_partial(buf, len);
	if ((rc = v1_line(buf, (size_t)(lf - buf), r)) == SL_OK)
		*used = (size_t)(lf - buf) + 1;
	return rc;
}

/* ---- parsing: v2 ---- */

static int
v2_famproto_ok(uint8_t fp)
{
	switch (fp) {
	case 0x00:		/* UNSPEC */
	case 0x11: case 0x12:	/* INET stream/dgram */
	case 0x21: case 0x22:	/* INET6 */
	case 0x31: case 0x32:	/* UNIX */
		return 1;
	}
	return 0;
}

static uint16_t
v2_min_len(uint8_t fp)
{
	switch (fp >> 4) {
	case 1:
		return 12;
	case 2:
		return 36;
	case 3:
		return 216;
	}
	return 0;
}

static void
v2_addrs(uint8_t fp, const uint8_t *a, struct sl_pp_result *r)
{
	memset(&r->src, 0, sizeof(r->src));
	memset(&r->dst, 0, sizeof(r->dst));
	if (fp >> 4 == 1) {
		struct sockaddr_in *s = (struct sockaddr_in *)&r->src;
		struct sockaddr_in *d = (struct sockaddr_in *)&r->dst;

		s->sin_family = d->sin_family = AF_INET;
		memcpy(&s->sin_addr, a, 4);
		memcpy(&d->sin_addr, a + 4, 4);
		memcpy(&s->sin_port, a + 8, 2);	/* both big-endian */
		memcpy(&d->sin_port, a + 10, 2);
		r->src_len = r->dst_len = sizeof(*s);
	} else {
		struct sockaddr_in6 *s = (struct sockaddr_in6 *)&r->src;
		struct sockaddr_in6 *d = (struct sockaddr_in6 *)&r->dst;

		s->sin6_family = d->sin6_family = AF_INET6;
		memcpy(&s->sin6_addr, a, 16);
		memcpy(&d->sin6_addr, a + 16, 16);
		memcpy(&s->sin6_port, a + 32, 2);
		memcpy(&d->sin6_port, a + 34, 2);
		r->src_len = r->dst_len = sizeof(*s);
	}
}

static int
v2_parse(const uint8_t *buf, size_t len, size_t *used, struct sl_pp_result *r)
{
	uint8_t cmd, fp;
	uint16_t alen;

	if (memcmp(buf, v2_sig, len < 12 ? len : 12) != 0)
		return SL_DECLINED;
	if (len < 13)
		return SL_AGAIN;
	cmd = buf[12];
	if (cmd != V2_LOCAL && cmd != V2_PROXY)
		return SL_ERROR;
	if (len < 14)
		return SL_AGAIN;
	fp = buf[13];
	/* Undefined family bytes are invalid even for LOCAL; UNSPEC carries
	 * no address to trust, so PROXY+UNSPEC is refused. */
	if (!v2_famproto_ok(fp) || (fp == 0x00 && cmd == V2_PROXY))
		return SL_ERROR;
	if (len < V2_HDR)
		return SL_AGAIN;
	alen = (uint16_t)(buf[14] << 8 | buf[15]);
	/* LOCAL with a block too short for its family is still valid: the
	 * block is skipped.  PROXY needs the whole address block. */
	if (alen > V2_MAX_LEN || (cmd == V2_PROXY && alen < v2_min_len(fp)))
		return SL_ERROR;
	if (len < V2_HDR + (size_t)alen)
		return SL_AGAIN;
	*used = V2_HDR + (size_t)alen;
	/* TLVs follow the address block; nothing here needs them.  Unix
	 * addresses cannot stand in for a TCP peer: keep the socket's. */
	r->local = cmd == V2_LOCAL || fp >> 4 == 3;
	if (!r->local)
		v2_addrs(fp, buf + V2_HDR, r);
	return SL_OK;
}

int
sl_pp_parse(const uint8_t *buf, size_t len, size_t *used,
    struct sl_pp_result *r)
{
	/* go-proxyproto dispatches on the first byte: 'P' v1, '\r' v2. */
	if (len == 0)
		return SL_AGAIN;
	if (buf[0] == 'P')
		return v1_parse(buf, len, used, r);
	if (buf[0] == '\r')
		return v2_parse(buf, len, used, r);
	return SL_DECLINED;
}

/* ---- writing ---- */

struct pp_addr {
	int		 v6;
	uint8_t		 ip[16];	/* IPv4: first 4 bytes */
	uint16_t	 port;		/* host order */
};

static const uint8_t v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* 0 for an IP socket address; v4-mapped IPv6 becomes IPv4, as Go's
 * String() prints it dotted and Xray then picks TCP4. */
static int
pp_addr_get(const struct sockaddr *sa, struct pp_addr *a)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (sa == NULL)
		return -1;
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		memcpy(&sin, sa, sizeof(sin));
		memcpy(a->ip, &sin.sin_addr, 4);
		a->port = ntohs(sin.sin_port);
		return 0;
	}
	if (sa->sa_family != AF_INET6)
		return -1;
	memcpy(&sin6, sa, sizeof(sin6));
	a->port = ntohs(sin6.sin6_port);
	if (memcmp(sin6.sin6_addr.s6_addr, v4mapped, 12) == 0) {
		memcpy(a->ip, sin6.sin6_addr.s6_addr + 12, 4);
		return 0;
	}
	a->v6 = 1;
	memcpy(a->ip, sin6.sin6_addr.s6_addr, 16);
	return 0;
}

static void
pp_addr_map6(struct pp_addr *a)
{
	uint8_t v4[4];

	if (a->v6)
		return;
	memcpy(v4, a->ip, 4);
	memcpy(a->ip, v4mapped, 12);
	memcpy(a->ip + 12, v4, 4);
	a->v6 = 1;
}

static char *
put_dec(char *p, unsigned v)
{
	char tmp[10];
	int n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

static char *
put_ip4(char *p, const uint8_t *ip)
{
	for (int i = 0; i < 4; i++) {
		if (i > 0)
			*p++ = '.';
		p = put_dec(p, ip[i]);
	}
	return p;
}

/* Go's (RFC 5952) form; v4-mapped as ::ffff:a.b.c.d. */
static char *
put_ip6(char *p, const uint8_t *ip)
{
	if (memcmp(ip, v4mapped, 12) == 0) {
		memcpy(p, "::ffff:", 7);
		return put_ip4(p + 7, ip + 12);
	}
	return p + sl_xaddr_ip6_str(ip, p);
}

static size_t
pp_v1(const struct pp_addr *s, const struct pp_addr *d, int unknown,
    char *out)
{
	char *p = out;

	if (unknown) {
		memcpy(out, "PROXY UNKNOWN\r\n", 15);
		return 15;
	}
	memcpy(p, s->v6 ? "PROXY TCP6 " : "PROXY TCP4 ", 11);
	p += 11;
	p = s->v6 ? put_ip6(p, s->ip) : put_ip4(p, s->ip);
	*p++ = ' ';
	p = d->v6 ? put_ip6(p, d->ip) : put_ip4(p, d->ip);
	*p++ = ' ';
	p = put_dec(p, s->port);
	*p++ = ' ';
	p = put_dec(p, d->port);
	*p++ = '\r';
	*p++ = '\n';
	return (size_t)(p - out);
}

static size_t
pp_v2(const struct pp_addr *s, const struct pp_addr *d, int unknown,
    uint8_t *out)
{
	size_t alen = s->v6 ? 16 : 4;
	uint8_t *p = out + V2_HDR;

	memcpy(out, v2_sig, sizeof(v2_sig));
	if (unknown) {
		memcpy(out + 12, "\x20\x00\x00\x00", 4);
		return V2_HDR;
	}
	memcpy(out + 12, s->v6 ? "\x21\x21\x00\x24" : "\x21\x11\x00\x0c", 4);
	memcpy(p, s->ip, alen);
	memcpy(p + alen, d->ip, alen);
	p += 2 * alen;
	*p++ = (uint8_t)(s->port >> 8);
	*p++ = (uint8_t)s->port;
	*p++ = (uint8_t)(d->port >> 8);
	*p++ = (uint8_t)d->port;
	return (size_t)(p - out);
}

int
sl_pp_write(int xver, const struct sockaddr *src, const struct sockaddr *dst,
    uint8_t *out, size_t cap)
{
	uint8_t tmp[SL_PP_MAX_WRITE];
	struct pp_addr s, d;
	int unknown;
	size_t n;

	if (xver == 0)
		return 0;
	if (xver != 1 && xver != 2)
		return -1;
	unknown = pp_addr_get(src, &s) == -1 || pp_addr_get(dst, &d) == -1;
	if (!unknown && s.v6)
		pp_addr_map6(&d);	/* To16(): what Xray's v2 writes too */
	else if (!unknown && d.v6)
		unknown = 1;		/* IPv4 src, IPv6 dst: no valid form */
	if (xver == 1)
		n = pp_v1(&s, &d, unknown, (char *)tmp);
	else
		n = pp_v2(&s, &d, unknown, tmp);
	if (n > cap)
		return -1;
	memcpy(out, tmp, n);
	return (int)n;
}
