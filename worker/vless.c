/*
 * vless: the VLESS request header (spec 3) and the destination address
 * reader that Trojan shares (Xray's common/protocol/address.go).
 *
 * The header is parsed from the buffered first bytes; SL_AGAIN asks the
 * caller for more, the way Xray's blocking reads would wait.  Errors after
 * the UUID matched are rejections, never fallbacks (spec 1.3), so *why only
 * feeds the log.
 */
#include <string.h>

#include "worker/vless.h"
#include "worker/xaddr.h"

#define VLESS_FIXED	18	/* version, UUID, addons length */

void
sl_vless_key(const uint8_t uuid[16], uint8_t key[16])
{
	memcpy(key, uuid, 16);
	key[6] = key[7] = 0;	/* vlessRoute: free for the client (spec 3.6) */
}

/* ---- addons: just enough protobuf for Addons{Flow=1; Seed=2} ---- */

struct pb {
	const uint8_t	*p, *end;
};

#define PB_VARINT	0
#define PB_FIXED64	1
#define PB_BYTES	2
#define PB_SGROUP	3
#define PB_EGROUP	4
#define PB_FIXED32	5
#define PB_MAX_FIELD	((UINT64_C(1) << 29) - 1)

static int
pb_varint(struct pb *b, uint64_t *v)
{
	uint64_t x = 0;

	for (int i = 0; i < 10; i++) {
		uint8_t c;

		if (b->p == b->end)
			return -1;
		c = *b->p++;
		if (i == 9 && c > 1)	/* more than 64 bits */
			return -1;
		x |= (uint64_t)(c & 0x7f) << (7 * i);
		if (c < 0x80) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

static int
pb_tag(struct pb *b, uint64_t *num, unsigned *type)
{
	uint64_t v;

	if (pb_varint(b, &v) == -1)
		return -1;
	*num = v >> 3;
	*type = (unsigned)(v & 7);
	return *num >= 1 && *num <= PB_MAX_FIELD ? 0 : -1;
}

static int
pb_advance(struct pb *b, uint64_t n)
{
	if (n > (uint64_t)(b->end - b->p))
		return -1;
	b->p += n;
	return 0;
}

/* Length-delimited payload: *s, *n. */
static int
pb_bytes(struct pb *b, const uint8_t **s, size_t *n)
{
	uint64_t len;

	if (pb_varint(b, &len) == -1 || len > (uint64_t)(b->end - b->p))
		return -1;
	*s = b->p;
	*n = (size_t)len;
	b->p += len;
	return 0;
}

/* Skip one field value, groups included.  Nesting is bounded by the
 * input: the addons are at most 255 bytes. */
static int
pb_skip(struct pb *b, uint64_t num, unsigned type)
{
	uint64_t v, num2;
	unsigned type2;
	const uint8_t *s;
	size_t n;

	switch (type) {
	case PB_VARINT:
		return pb_varint(b, &v);
	case PB_FIXED64:
		return pb_advance(b, 8);
	case PB_BYTES:
		return pb_bytes(b, &s, &n);
	case PB_FIXED32:
		return pb_advance(b, 4);
	case PB_SGROUP:
		for (;;) {
			if (pb_tag(b, &num2, &type2) == -1)
				return -1;
			if (type2 == PB_EGROUP)
				return num2 == num ? 0 : -1;
			if (pb_skip(b, num2, type2) == -1)
				return -1;
		}
	}
	return -1;	/* a lone end-group, or wire types 6 and 7 */
}

/* Go's utf8.Valid: proto3 strings must be UTF-8 or Unmarshal fails. */
static int
utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i], lo = 0x80, hi = 0xbf;
		size_t k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			if (c == 0xe0)
				lo = 0xa0;	/* overlong */
			else if (c == 0xed)
				hi = 0x9f;	/* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			if (c == 0xf0)
				lo = 0x90;	/* overlong */
			else if (c == 0xf4)
				hi = 0x8f;	/* > U+10FFFF */
		} else
			return 0;
		if (n - i <= k || s[i + 1] < lo || s[i + 1] > hi)
			return 0;
		for (size_t j = 2; j <= k; j++)
			if (s[i + j] < 0x80 || s[i + j] > 0xbf)
				return 0;
		i += k + 1;
	}
	return 1;
}

static int
addons_parse(const uint8_t *p, size_t n, char flow[64], const char **why)
{
	struct pb b = { p, p + n };
	int flow_bad = 0;
	uint64_t num;
	unsigned type;
	const uint8_t *s;
	size_t len;

	flow[0] = '\0';
	while (b.p < b.end) {
		if (pb_tag(&b, &num, &type) == -1)
			goto bad;
		/* Fields with an unexpected wire type are unknown fields. */
		if (num != 1 || type != PB_BYTES) {
			if (pb_skip(&b, num, type) == -1)
				goto bad;
			continue;
		}
		if (pb_bytes(&b, &s, &len) == -1 || !utf8_valid(s, len))
			goto bad;
		/* The last Flow wins.  One that does not fit, or that a C
		 * string would cut short, is no flow the caller knows. */
		flow_bad = len >= 64 || memchr(s, '\0', len) != NULL;
		if (!flow_bad) {
			memcpy(flow, s, len);
			flow[len] = '\0';
		}
	}
	if (flow_bad) {
		flow[0] = '\0';
		*why = "unknown request flow";
		return -1;
	}
	return 0;
bad:
	*why = "invalid addons";
	return -1;
}

/* ---- destination address ---- */

static const uint8_t v4mapped[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* Xray's IPAddress(): a v4-mapped IPv6 address is an IPv4 address. */
static void
target_ip16(struct sl_target *t, const uint8_t *ip)
{
	memset(t->ip, 0, sizeof(t->ip));
	t->host[0] = '\0';
	if (memcmp(ip, v4mapped, 12) == 0) {
		t->atyp = SL_ATYP_IPV4;
		memcpy(t->ip, ip + 12, 4);
	} else {
		t->atyp = SL_ATYP_IPV6;
		memcpy(t->ip, ip, 16);
	}
}

static void
target_ip4(struct sl_target *t, const uint8_t *ip)
{
	memset(t->ip, 0, sizeof(t->ip));
	t->host[0] = '\0';
	t->atyp = SL_ATYP_IPV4;
	memcpy(t->ip, ip, 4);
}

/*
 * A domain that starts with a digit or '[' may be an IP: Xray's
 * ParseAddress() (worker/xaddr.h) then makes it one.
 */
static int
domain_as_ip(const uint8_t *d, size_t n, struct sl_target *t)
{
	const char *name;
	size_t len;
	uint8_t ip[16];

	if (d[0] != '[' && !(d[0] >= '0' && d[0] <= '9'))
		return -1;
	switch (sl_xaddr_parse((const char *)d, n, ip, &name, &len)) {
	case SL_ATYP_IPV4:
		target_ip4(t, ip);
		return 0;
	case SL_ATYP_IPV6:
		target_ip16(t, ip);
		return 0;
	}
	return -1;
}

static int
domain_valid(const uint8_t *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t c = d[i];

		if (!(c >= '0' && c <= '9') && !(c >= 'a' && c <= 'z') &&
		    !(c >= 'A' && c <= 'Z') && c != '-' && c != '.' && c != '_')
			return 0;
	}
	return 1;
}

int
sl_vless_parse_addr(const uint8_t *p, size_t len, uint8_t atyp,
    size_t *used, struct sl_target *t, const char **why)
{
	size_t n;

	switch (atyp) {
	case SL_ATYP_IPV4:
		if (len < 4)
			return SL_AGAIN;
		target_ip4(t, p);
		*used = 4;
		return SL_OK;
	case SL_ATYP_IPV6:
		if (len < 16)
			return SL_AGAIN;
		target_ip16(t, p);
		*used = 16;
		return SL_OK;
	case SL_ATYP_DOMAIN:
		break;
	default:
		*why = "invalid address type";
		return SL_ERROR;
	}
	if (len < 1)
		return SL_AGAIN;
	/* Xray would index an empty domain out of range. */
	if ((n = p[0]) == 0) {
		*why = "invalid domain";
		return SL_ERROR;
	}
	if (len < 1 + n)
		return SL_AGAIN;
	*used = 1 + n;
	if (domain_as_ip(p + 1, n, t) == 0)
		return SL_OK;
	if (!domain_valid(p + 1, n)) {
		*why = "invalid domain";
		return SL_ERROR;
	}
	memset(t->ip, 0, sizeof(t->ip));
	t->atyp = SL_ATYP_DOMAIN;
	memcpy(t->host, p + 1, n);
	t->host[n] = '\0';
	return SL_OK;
}

/* ---- the request ---- */

static int
vless_target(const uint8_t *buf, size_t len, size_t off,
    struct sl_vless_req *r, const char **why)
{
	size_t used;
	int rc;

	if (r->target.cmd == SL_CMD_MUX) {
		/* No address on the wire: Xray's placeholder. */
		memset(r->target.ip, 0, sizeof(r->target.ip));
		r->target.atyp = SL_ATYP_DOMAIN;
		r->target.port = 0;
		strcpy(r->target.host, "v1.mux.cool");
		r->header_len = off;
		return SL_OK;
	}
	/* Port first, then ATYP and address (PortThenAddress). */
	if (len - off < 3)
		return SL_AGAIN;
	r->target.port = (uint16_t)(buf[off] << 8 | buf[off + 1]);
	rc = sl_vless_parse_addr(buf + off + 3, len - off - 3, buf[off + 2],
	    &used, &r->target, why);
	if (rc == SL_OK)
		r->header_len = off + 3 + used;
	return rc;
}

int
sl_vless_parse(const uint8_t *buf, size_t len, struct sl_vless_req *r,
    const char **why)
{
	size_t off, m;

	if (len < VLESS_FIXED)
		return SL_AGAIN;
	if (buf[0] != 0) {
		*why = "invalid request version";
		return SL_ERROR;
	}
	memcpy(r->uuid, buf + 1, 16);
	r->route = (uint16_t)(r->uuid[6] << 8 | r->uuid[7]);
	m = buf[17];
	if (len < VLESS_FIXED + m)
		return SL_AGAIN;
	r->flow[0] = '\0';
	if (m > 0 && addons_parse(buf + VLESS_FIXED, m, r->flow, why) == -1)
		return SL_ERROR;
	off = VLESS_FIXED + m;
	if (len == off)
		return SL_AGAIN;
	switch (buf[off]) {
	case 1:
		r->target.cmd = SL_CMD_TCP;
		break;
	case 2:
		r->target.cmd = SL_CMD_UDP;
		break;
	case 3:
		r->target.cmd = SL_CMD_MUX;
		break;
	default:
		/* 4 is Xray's Reverse ("v1.rvs.cool"), not supported here. */
		*why = "unknown command";
		return SL_ERROR;
	}
	return vless_target(buf, len, off + 1, r, why);
}
