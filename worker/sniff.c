/*
 * sniff: Xray's TCP content sniffers (common/protocol/{http,tls,
 * bittorrent}) and the loop of app/dispatcher/sniffer.go that runs them.
 *
 * Each sniffer answers SL_OK, SL_AGAIN (Xray's ErrNoClue), SL_SNIFF_MORE
 * (ErrProtoNeedMoreData) or SL_DECLINED (any other error).  Every read is
 * bounded by the length at hand; the work is linear in the bytes looked
 * at, times the small attribute table for HTTP.
 */
#include <arpa/inet.h>
#include <string.h>

#include "worker/sniff.h"
#include "worker/xaddr.h"

static const char PROTO_HTTP[] = "http1";
static const char PROTO_TLS[] = "tls";
static const char PROTO_BT[] = "bittorrent";

static unsigned
be16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int
eq_nocase(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	return 1;
}

/* ---- addresses: Xray's net.ParseAddress (worker/xaddr.h) ---- */

struct addr {
	uint8_t		 atyp;		/* SL_ATYP_* */
	uint8_t		 ip[16];
	const char	*name;		/* DOMAIN */
	size_t		 name_len;
};

static void
addr_parse(const char *s, size_t n, struct addr *a)
{
	a->atyp = sl_xaddr_parse(s, n, a->ip, &a->name, &a->name_len);
}

/* Xray's Address.String() of A into DOMAIN; -1 if it does not fit in a C
 * string of 256. */
static int
addr_string(const struct addr *a, char domain[256])
{
	size_t n;

	switch (a->atyp) {
	case SL_ATYP_IPV4:
		inet_ntop(AF_INET, a->ip, domain, 256);
		return 0;
	case SL_ATYP_IPV6:
		domain[0] = '[';
		n = 1 + sl_xaddr_ip6_str(a->ip, domain + 1);
		domain[n++] = ']';
		domain[n] = '\0';
		return 0;
	}
	if (a->name_len > 255 || memchr(a->name, '\0', a->name_len) != NULL)
		return -1;
	for (n = 0; n < a->name_len; n++)
		domain[n] = (char)lower((unsigned char)a->name[n]);
	domain[n] = '\0';
	return 0;
}

/* ---- HTTP (common/protocol/http/sniff.go) ---- */

/*
 * Xray's method test, order and all: a prefix shorter than the method
 * being tried is "no clue", so "PUX" is still pending and "GETAWAY" is a
 * GET.
 */
static int
http_method(const uint8_t *b, size_t len)
{
	static const char *const methods[] = {
		"get", "post", "head", "put", "delete", "options", "connect",
	};

	for (size_t i = 0; i < SL_ARRAY_LEN(methods); i++) {
		size_t n = strlen(methods[i]);

		if (len >= n && eq_nocase((const char *)b, methods[i], n))
			return SL_OK;
		if (len < n)
			return SL_AGAIN;
	}
	return SL_DECLINED;
}

/* Go's strconv.Atoi succeeds: [+-]?[0-9]+ within int64. */
static int
port_valid(const char *s, size_t n)
{
	uint64_t v = 0, max = INT64_MAX;

	if (n > 0 && (s[0] == '+' || s[0] == '-')) {
		if (s[0] == '-')
			max++;
		s++;
		n--;
	}
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';

		if (d > 9 || v > (max - d) / 10)
			return 0;
		v = v * 10 + d;
	}
	return 1;
}

/*
 * Go's net.SplitHostPort as Xray's ParseHost uses it: 1 split into host
 * and port, 0 "missing port" (the whole is the host), -1 any other error.
 */
static int
split_host_port(const char *s, size_t n, const char **host, size_t *hlen,
    const char **port, size_t *plen)
{
	const char *c = memrchr(s, ':', n), *rb;
	size_t i, j = 0, k = 0;

	if (c == NULL)
		return 0;
	i = (size_t)(c - s);
	if (s[0] == '[') {
		if ((rb = memchr(s, ']', n)) == NULL)
			return -1;
		k = (size_t)(rb - s) + 1;
		if (k == n)
			return 0;
		if (k != i)
			return s[k] == ':' ? -1 : 0;
		*host = s + 1;
		*hlen = k - 2;
		j = 1;
	} else {
		if (memchr(s, ':', i) != NULL)
			return -1;
		*host = s;
		*hlen = i;
	}
	if (memchr(s + j, '[', n - j) != NULL ||
	    memchr(s + k, ']', n - k) != NULL)
		return -1;
	*port = s + i + 1;
	*plen = n - i - 1;
	return 1;
}

/* Xray's ParseHost(ToLower(v), 80).Address.String() into DOMAIN; -1 where
 * Xray's sniffer returns the parse error. */
static int
http_host(const char *v, size_t n, char domain[256])
{
	const char *host = v, *port;
	size_t hlen = n, plen;
	struct addr a;

	switch (split_host_port(v, n, &host, &hlen, &port, &plen)) {
	case -1:
		return -1;
	case 0:
		host = v;
		hlen = n;
		break;
	default:
		if (plen > 0 && !port_valid(port, plen))
			return -1;
	}
	addr_parse(host, hlen, &a);
	return addr_string(&a, domain);
}

static void
attr_set(struct sl_sniff_result *r, size_t cap, const char *k, size_t kl,
    const char *v, size_t vl)
{
	struct sl_route_attr *at = NULL;

	for (size_t i = 0; i < r->nattrs && at == NULL; i++)
		if (r->attrs[i].key_len == kl &&
		    eq_nocase(r->attrs[i].key, k, kl))
			at = &r->attrs[i];
	if (at == NULL) {
		if (r->nattrs >= cap)
			return;
		at = &r->attrs[r->nattrs++];
		at->key = k;
		at->key_len = kl;
	}
	at->val = v;
	at->val_len = vl;
}

/* ":method" and ":path" from a request line of exactly three parts. */
static void
http_request_line(const char *s, size_t n, struct sl_sniff_result *r)
{
	const char *sp1 = memchr(s, ' ', n), *sp2, *rest;

	if (sp1 == NULL)
		return;
	rest = sp1 + 1;
	if ((sp2 = memchr(rest, ' ', (size_t)(s + n - rest))) == NULL ||
	    memchr(sp2 + 1, ' ', (size_t)(s + n - sp2 - 1)) != NULL)
		return;
	attr_set(r, SL_SNIFF_MAX_ATTRS, ":method", 7, s, (size_t)(sp1 - s));
	attr_set(r, SL_SNIFF_MAX_ATTRS, ":path", 5, rest,
	    (size_t)(sp2 - rest));
}

static int
http_sniff(const uint8_t *buf, size_t len, struct sl_sniff_result *r)
{
	const char *s = (const char *)buf, *end = s + len, *line, *nl;
	char domain[256] = "";
	size_t cap;
	int rc;

	if ((rc = http_method(buf, len)) != SL_OK)
		return rc;
	if ((nl = memchr(s, '\n', len)) == NULL)
		return SL_AGAIN;
	http_request_line(s, (size_t)(nl - s), r);
	/* Two places for the request line, used or not. */
	cap = SL_SNIFF_MAX_ATTRS - 2 + r->nattrs;
	for (line = nl + 1; line < end; line = nl + 1) {
		size_t n, kl, vl;
		const char *colon, *v;

		if ((nl = memchr(line, '\n', (size_t)(end - line))) == NULL)
			break;
		n = (size_t)(nl - line);
		if (n == 0 || (n == 1 && line[0] == '\r'))
			break;
		if ((colon = memchr(line, ':', n)) == NULL)
			continue;
		kl = (size_t)(colon - line);
		v = colon + 1;
		vl = (size_t)(nl - v);
		sl_xaddr_trim(&v, &vl);
		attr_set(r, cap, line, kl, v, vl);
		/* The last Host wins, an empty one too. */
		if (kl == 4 && eq_nocase(line, "host", 4) &&
		    http_host(v, vl, domain) == -1)
			return SL_DECLINED;
	}
	if (domain[0] == '\0')
		return SL_AGAIN;
	memcpy(r->domain, domain, sizeof(domain));
	r->protocol = PROTO_HTTP;
	return SL_OK;
}

/* ---- TLS (common/protocol/tls/sniff.go) ---- */

#define SNI_ABSENT	1

/* The server_name extension body: SNI_ABSENT when it names no host. */
static int
tls_sni(const uint8_t *p, size_t n, struct sl_sniff_result *r)
{
	if (n < 2 || be16(p) != n - 2)
		return SL_DECLINED;
	p += 2;
	n -= 2;
	while (n > 0) {
		size_t l;

		if (n < 3)
			return SL_DECLINED;
		l = be16(p + 1);
		if (n - 3 < l)
			return SL_DECLINED;
		if (p[0] == 0) {
			const uint8_t *name = p + 3;

			/* QUIC may cut a name between packets. */
			for (size_t i = 0; i < l; i++)
				if (name[i] <= ' ')
					return SL_SNIFF_MORE;
			if ((l > 0 && name[l - 1] == '.') || l > 255)
				return SL_DECLINED;
			for (size_t i = 0; i < l; i++)
				r->domain[i] = (char)lower(name[i]);
			r->domain[l] = '\0';
			r->protocol = PROTO_TLS;
			return SL_OK;
		}
		p += 3 + l;
		n -= 3 + l;
	}
	return SNI_ABSENT;
}

/* The handshake body of one record.  Neither the handshake type nor its
 * length is checked, as in Xray; a hello without a server name is not
 * TLS to it. */
static int
tls_hello(const uint8_t *p, size_t n, struct sl_sniff_result *r)
{
	size_t l;

	if (n < 42)
		return SL_AGAIN;
	l = p[38];			/* session id, after type, length,
					 * version and random */
	if (l > 32 || n < 39 + l)
		return SL_AGAIN;
	p += 39 + l;
	n -= 39 + l;
	if (n < 2)
		return SL_AGAIN;
	l = be16(p);			/* cipher suites */
	if (l % 2 == 1 || n - 2 < l)
		return SL_DECLINED;
	p += 2 + l;
	n -= 2 + l;
	if (n < 1 || n - 1 < p[0])	/* compression methods */
		return SL_AGAIN;
	n -= 1 + (size_t)p[0];
	p += 1 + (size_t)p[0];
	if (n < 2 || be16(p) != n - 2)	/* extensions */
		return SL_DECLINED;
	p += 2;
	n -= 2;
	while (n > 0) {
		int rc;

		if (n < 4)
			return SL_DECLINED;
		l = be16(p + 2);
		if (n - 4 < l)
			return SL_DECLINED;
		if (be16(p) == 0 && (rc = tls_sni(p + 4, l, r)) != SNI_ABSENT)
			return rc;
		p += 4 + l;
		n -= 4 + l;
	}
	return SL_DECLINED;
}

static int
tls_sniff(const uint8_t *b, size_t len, struct sl_sniff_result *r)
{
	size_t rec;

	if (len < 5)
		return SL_AGAIN;
	if (b[0] != 0x16 || b[1] != 3)	/* handshake, any 3.x */
		return SL_DECLINED;
	rec = be16(b + 3);
	if (len - 5 < rec)		/* a whole record, or no clue */
		return SL_AGAIN;
	return tls_hello(b + 5, rec, r);
}

/* ---- BitTorrent (common/protocol/bittorrent) ---- */

static int
bt_sniff(const uint8_t *b, size_t len, struct sl_sniff_result *r)
{
	if (len < 20)
		return SL_AGAIN;
	if (b[0] != 19 || memcmp(b + 1, "BitTorrent protocol", 19) != 0)
		return SL_DECLINED;
	r->protocol = PROTO_BT;
	return SL_OK;
}

/* ---- the dispatcher's loop (app/dispatcher/sniffer.go) ---- */

static const struct {
	unsigned	 bit;
	int		(*fn)(const uint8_t *, size_t,
			    struct sl_sniff_result *);
} sniffers[] = {
	{ SL_IMG_PROTO_HTTP, http_sniff },
	{ SL_IMG_PROTO_TLS, tls_sniff },
	{ SL_IMG_PROTO_BT, bt_sniff },
};

static void
result_reset(struct sl_sniff_result *r)
{
	r->protocol = NULL;
	r->domain[0] = '\0';
	r->atyp = 0;
	memset(r->ip, 0, sizeof(r->ip));
	r->name_off = r->name_len = 0;
	r->nattrs = 0;
}

/* What the dispatcher makes of the domain: net.ParseAddress. */
static void
result_addr(struct sl_sniff_result *r)
{
	struct addr a;

	if (r->domain[0] == '\0')
		return;
	addr_parse(r->domain, strlen(r->domain), &a);
	r->atyp = a.atyp;
	memcpy(r->ip, a.ip, sizeof(r->ip));
	if (a.atyp == SL_ATYP_DOMAIN) {
		r->name_off = (size_t)(a.name - r->domain);
		r->name_len = a.name_len;
	}
}

int
sl_sniff(const uint8_t *buf, size_t len, unsigned *which,
    struct sl_sniff_result *r)
{
	unsigned pending = 0;

	result_reset(r);
	if (len > SL_SNIFF_MAX_BYTES)
		len = SL_SNIFF_MAX_BYTES;
	for (size_t i = 0; i < SL_ARRAY_LEN(sniffers); i++) {
		unsigned bit = sniffers[i].bit;

		if ((*which & bit) == 0)
			continue;
		switch (sniffers[i].fn(buf, len, r)) {
		case SL_OK:
			*which = bit;
			result_addr(r);
			return SL_OK;
		case SL_AGAIN:
			pending |= bit;
			break;
		case SL_SNIFF_MORE:
			*which = bit;
			return SL_SNIFF_MORE;
		}
	}
	*which = pending;
	return pending != 0 ? SL_AGAIN : SL_DECLINED;
}

const struct sl_route_attr *
sl_sniff_find_attr(const struct sl_sniff_result *r, const char *key,
    size_t key_len)
{
	for (size_t i = 0; i < r->nattrs; i++)
		if (r->attrs[i].key_len == key_len &&
		    eq_nocase(r->attrs[i].key, key, key_len))
			return &r->attrs[i];
	return NULL;
}
