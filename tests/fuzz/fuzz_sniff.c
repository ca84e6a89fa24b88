/*
 * fuzz_sniff: the content sniffers on arbitrary first packets.
 *
 * The input is a connection's first bytes.  It is sniffed with every
 * sniffer and with each alone, whole and as two reads split at a point
 * the input picks.  Invariants (abort on violation): a known status; the
 * returned mask narrows the one given as Xray's loop does (checked against
 * the single-sniffer answers); results are sane C strings and addresses;
 * attributes lie in the input, keys unique, values trimmed; a matched TLS
 * record stays matched whatever follows it; the same input gives the same
 * answer.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "shm/types.h"
#include "worker/sniff.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static const unsigned bits[] = {
	SL_IMG_PROTO_HTTP, SL_IMG_PROTO_TLS, SL_IMG_PROTO_BT,
};

static int
in_buf(const char *p, size_t n, const uint8_t *d, size_t len)
{
	const uint8_t *q = (const uint8_t *)p;

	return q >= d && q <= d + len && n <= (size_t)(d + len - q);
}

static int
is_space(int c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static void
check_attrs(const struct sl_sniff_result *r, const uint8_t *d, size_t n)
{
	CHECK(r->nattrs <= SL_SNIFF_MAX_ATTRS);
	for (size_t i = 0; i < r->nattrs; i++) {
		const struct sl_route_attr *a = &r->attrs[i];

		CHECK(in_buf(a->val, a->val_len, d, n));
		CHECK(memchr(a->val, '\n', a->val_len) == NULL);
		if (a->key_len > 0 && a->key[0] == ':') {
			/* request-line parts: as sent, no space */
			CHECK((a->key_len == 7 &&
			    memcmp(a->key, ":method", 7) == 0) ||
			    (a->key_len == 5 && memcmp(a->key, ":path", 5) == 0));
			CHECK(memchr(a->val, ' ', a->val_len) == NULL);
		} else {
			CHECK(in_buf(a->key, a->key_len, d, n));
			CHECK(memchr(a->key, ':', a->key_len) == NULL);
			CHECK(memchr(a->key, '\n', a->key_len) == NULL);
			CHECK(a->val_len == 0 ||
			    (!is_space((unsigned char)a->val[0]) &&
			    !is_space((unsigned char)a->val[a->val_len - 1])));
		}
		/* Unique: finding a key finds this very entry. */
		CHECK(sl_sniff_find_attr(r, a->key, a->key_len) == a);
	}
}

static void
check_addr(const struct sl_sniff_result *r)
{
	char ip[64];

	switch (r->atyp) {
	case 0:
		CHECK(r->domain[0] == '\0');
		break;
	case SL_ATYP_DOMAIN:
		CHECK(r->name_off + r->name_len <= strlen(r->domain));
		break;
	case SL_ATYP_IPV4:
		CHECK(inet_ntop(AF_INET, r->ip, ip, sizeof(ip)) != NULL);
		CHECK(strstr(r->domain, ip) != NULL);
		break;
	case SL_ATYP_IPV6:
		CHECK(memcmp(r->ip, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) != 0);
		CHECK(r->domain[0] != '\0');
		break;
	default:
		abort();
	}
}

static void
check_result(int rc, unsigned in, unsigned out,
    const struct sl_sniff_result *r, const uint8_t *d, size_t n)
{
	size_t dl = strnlen(r->domain, sizeof(r->domain));

	CHECK(dl < sizeof(r->domain));
	CHECK((out & ~in) == 0);
	check_attrs(r, d, n);
	switch (rc) {
	case SL_OK:
		CHECK(out == SL_IMG_PROTO_HTTP || out == SL_IMG_PROTO_TLS ||
		    out == SL_IMG_PROTO_BT);
		CHECK(r->protocol != NULL);
		for (size_t i = 0; i < dl; i++)
			CHECK(r->domain[i] < 'A' || r->domain[i] > 'Z');
		check_addr(r);
		if (out == SL_IMG_PROTO_HTTP) {
			CHECK(strcmp(r->protocol, "http1") == 0 && dl > 0);
			break;
		}
		CHECK(r->nattrs == 0);
		if (out == SL_IMG_PROTO_BT) {
			CHECK(strcmp(r->protocol, "bittorrent") == 0);
			CHECK(dl == 0 && n >= 20 && d[0] == 19);
			break;
		}
		CHECK(strcmp(r->protocol, "tls") == 0 && d[0] == 0x16);
		for (size_t i = 0; i < dl; i++)
			CHECK((unsigned char)r->domain[i] > ' ');
		CHECK(dl == 0 || r->domain[dl - 1] != '.');
		break;
	case SL_SNIFF_MORE:
		CHECK(out == SL_IMG_PROTO_TLS && r->protocol == NULL);
		break;
	case SL_AGAIN:
		CHECK(out != 0 && r->protocol == NULL && dl == 0);
		break;
	case SL_DECLINED:
		CHECK(out == 0 && r->protocol == NULL && dl == 0);
		break;
	default:
		abort();
	}
}

static int
run(const uint8_t *d, size_t n, unsigned in, unsigned *out,
    struct sl_sniff_result *r)
{
	int rc;

	*out = in;
	rc = sl_sniff(d, n, out, r);
	check_result(rc, in, *out, r, d, n);
	return rc;
}

/* All three together answer as Xray's loop over the single answers. */
static void
check_combined(const uint8_t *d, size_t n)
{
	struct sl_sniff_result all, one;
	unsigned out, o1, pending = 0;
	int rc = run(d, n, SL_SNIFF_TCP, &out, &all);

	for (size_t i = 0; i < SL_ARRAY_LEN(bits); i++) {
		int rc1 = run(d, n, bits[i], &o1, &one);

		if (rc1 == SL_OK || rc1 == SL_SNIFF_MORE) {
			CHECK(rc == rc1 && out == bits[i]);
			CHECK(strcmp(all.domain, one.domain) == 0);
			return;
		}
		if (rc1 == SL_AGAIN)
			pending |= bits[i];
	}
	CHECK(rc == (pending ? SL_AGAIN : SL_DECLINED) && out == pending);
}

/* A whole TLS record decides: bytes after it change nothing. */
static void
check_tls_record(const uint8_t *d, size_t n)
{
	struct sl_sniff_result a, b;
	unsigned oa, ob;
	size_t rec;
	int rc;

	if (n < 5 || n > SL_SNIFF_MAX_BYTES)
		return;
	rec = 5 + ((size_t)d[3] << 8 | d[4]);
	if (rec > n)
		return;
	rc = run(d, rec, SL_IMG_PROTO_TLS, &oa, &a);
	CHECK(run(d, n, SL_IMG_PROTO_TLS, &ob, &b) == rc && oa == ob);
	CHECK(strcmp(a.domain, b.domain) == 0);
}

/* Two reads: the second goes on with the narrowed mask. */
static void
check_split(const uint8_t *d, size_t n)
{
	struct sl_sniff_result r, again;
	unsigned out, out2;
	size_t cut;
	int rc;

	if (n < 2)
		return;
	cut = d[n - 1] % n;
	rc = run(d, cut, SL_SNIFF_TCP, &out, &r);
	if (rc != SL_AGAIN && rc != SL_SNIFF_MORE)
		return;
	rc = run(d, n, out, &out2, &r);
	/* Determinism. */
	CHECK(run(d, n, out, &out2, &again) == rc);
	CHECK(strcmp(r.domain, again.domain) == 0 && r.nattrs == again.nattrs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	check_combined(d, n);
	check_tls_record(d, n);
	check_split(d, n);
	return 0;
}
