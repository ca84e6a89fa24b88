/* ipset: CIDR lists as sorted disjoint ranges; build and match. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <endian.h>
#include <string.h>

#include "shm/ipset.h"

const char *const sl_private_cidrs[] = {
	"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8",
	"169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24",
	"192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15",
	"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/3",
	"::/127", "fc00::/7", "fe80::/10", "ff00::/8", NULL
};

size_t
sl_private_list(struct sl_cidr *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; sl_private_cidrs[i] != NULL && n < cap; i++)
		if (sl_cidr_parse(sl_private_cidrs[i], &out[n]) == 0)
			n++;
	return n;
}

int
sl_cidr_parse(const char *s, struct sl_cidr *c)
{
	char buf[64], *slash, *end;
	int max, i;
	long n;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	if ((slash = strchr(buf, '/')) != NULL)
		*slash++ = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, c->addr) == 1) {
		c->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, c->addr) == 1) {
		c->family = AF_INET6;
		max = 128;
	} else
		return -1;
	c->prefix = max;
	if (slash != NULL) {
		n = strtol(slash, &end, 10);
		if (*slash == '\0' || *end != '\0' || n < 0 || n > max)
			return -1;
		c->prefix = (int)n;
	}
	for (i = c->prefix; i < max; i++)
		c->addr[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
	return 0;
}

static int
cmp_v4(const void *a, const void *b)
{
	const struct sl_img_v4_range *x = a, *y = b;

	return x->lo < y->lo ? -1 : x->lo > y->lo;
}

static int
cmp_v6(const void *a, const void *b)
{
	return memcmp(((const struct sl_img_v6_range *)a)->lo,
	    ((const struct sl_img_v6_range *)b)->lo, 16);
}

/* 128-bit big-endian "a + 1 == b" without overflow tricks. */
static int
v6_adjacent(const uint8_t a[16], const uint8_t b[16])
{
	uint8_t t[16];
	int i;

	memcpy(t, a, 16);
	for (i = 15; i >= 0 && ++t[i] == 0; i--)
		;
	return i >= 0 && memcmp(t, b, 16) == 0;
}

static size_t
merge_v4(struct sl_img_v4_range *r, size_t n)
{
	size_t o = 0;

	qsort(r, n, sizeof(*r), cmp_v4);
	for (size_t i = 0; i < n; i++) {
		if (o > 0 && (r[i].lo <= r[o - 1].hi ||
		    r[i].lo - 1 == r[o - 1].hi)) {
			if (r[i].hi > r[o - 1].hi)
				r[o - 1].hi = r[i].hi;
		} else
			r[o++] = r[i];
	}
	return o;
}

static size_t
merge_v6(struct sl_img_v6_range *r, size_t n)
{
	size_t o = 0;

	qsort(r, n, sizeof(*r), cmp_v6);
	for (size_t i = 0; i < n; i++) {
		if (o > 0 && (memcmp(r[i].lo, r[o - 1].hi, 16) <= 0 ||
		    v6_adjacent(r[o - 1].hi, r[i].lo))) {
			if (memcmp(r[i].hi, r[o - 1].hi, 16) > 0)
				memcpy(r[o - 1].hi, r[i].hi, 16);
		} else
			r[o++] = r[i];
	}
	return o;
}

static void
cidr_range(const struct sl_cidr *c, uint8_t *lo, uint8_t *hi, int bytes)
{
	memcpy(lo, c->addr, bytes);
	memcpy(hi, c->addr, bytes);
	for (int i = c->prefix; i < bytes * 8; i++)
		hi[i / 8] |= (uint8_t)(0x80 >> (i % 8));
}

/*
 * Large v4 sets get a bucket index on the address's top bits, so that a
 * lookup searches the few ranges of one bucket instead of all of them
 * (a binary search over thousands of ranges is a chain of cache misses).
 */
static uint32_t
v4_index(struct sl_img_builder *b, const struct sl_img_v4_range *r, size_t n)
{
	uint32_t idx[SL_IPSET_BUCKETS + 1];
	size_t k = 0;

	if (n < 64)
		return 0;
	for (uint32_t bk = 0; bk < SL_IPSET_BUCKETS; bk++) {
		uint32_t start = bk << (32 - SL_IPSET_BUCKET_BITS);

		while (k < n && r[k].hi < start)
			k++;
		idx[bk] = (uint32_t)k;
	}
	idx[SL_IPSET_BUCKETS] = (uint32_t)n;
	return sl_imgb_blob(b, idx, sizeof(idx)) + 1;
}

uint32_t
sl_ipset_build(struct sl_img_builder *b, const struct sl_cidr *c, size_t n)
{
	struct sl_img_v4_range *v4 = calloc(n + 1, sizeof(*v4));
	struct sl_img_v6_range *v6 = calloc(n + 1, sizeof(*v6));
	struct sl_img_ipset set;
	size_t n4 = 0, n6 = 0, i;

	if (v4 == NULL || v6 == NULL) {
		free(v4);
		free(v6);
		b->failed = 1;
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (c[i].family == AF_INET) {
			uint8_t lo[4], hi[4];

			cidr_range(&c[i], lo, hi, 4);
			v4[n4].lo = (uint32_t)lo[0] << 24 | lo[1] << 16 |
			    lo[2] << 8 | lo[3];
			v4[n4].hi = (uint32_t)hi[0] << 24 | hi[1] << 16 |
			    hi[2] << 8 | hi[3];
			n4++;
		} else {
			cidr_range(&c[i], v6[n6].lo, v6[n6].hi, 16);
			n6++;
		}
	}
	n4 = merge_v4(v4, n4);
	n6 = merge_v6(v6, n6);
	set.v4_first = sl_imgb_count(b, SL_SECT_V4_RANGES, sizeof(*v4));
	set.v4_count = (uint32_t)n4;
	set.v6_first = sl_imgb_count(b, SL_SECT_V6_RANGES, sizeof(*v6));
	set.v6_count = (uint32_t)n6;
	set.v4_index = v4_index(b, v4, n4);
	for (i = 0; i < n4; i++)
		sl_imgb_add(b, SL_SECT_V4_RANGES, &v4[i], sizeof(v4[i]));
	for (i = 0; i < n6; i++)
		sl_imgb_add(b, SL_SECT_V6_RANGES, &v6[i], sizeof(v6[i]));
	free(v4);
	free(v6);
	return sl_imgb_add(b, SL_SECT_IPSETS, &set, sizeof(set));
}

/*
 * The ranges are sorted and disjoint: find the last range starting at or
 * below the address (a branch-light binary search over the range starts,
 * no comparator calls), then test its end.
 */
static int
match_v4(const struct sl_img *img, const struct sl_img_ipset *s, uint32_t a)
{
	const struct sl_img_v4_range *r = SL_IMG_REC(img, SL_SECT_V4_RANGES,
	    struct sl_img_v4_range, s->v4_first);
	size_t n = s->v4_count;

	if (s->v4_index != 0) {
		/* The holder, if any, is in [idx[b], idx[b + 1]]. */
		const uint32_t *idx = sl_img_blob(img, s->v4_index - 1);
		uint32_t bk = a >> (32 - SL_IPSET_BUCKET_BITS);
		uint32_t first = idx[bk], last = idx[bk + 1];

		if (first == s->v4_count)
			return 0;
		if (last == s->v4_count)
			last--;
		r += first;
		n = last - first + 1;
	}
	if (n == 0 || a < r[0].lo)
		return 0;
	while (n > 1) {
		size_t half = n / 2;

		r = r[half].lo <= a ? r + half : r;
		n -= half;
	}
	return a <= r->hi;
}

static uint64_t
be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return be64toh(v);
}

/* a <= b for 128-bit values given as (high, low) halves */
static int
le128(uint64_t ah, uint64_t al, uint64_t bh, uint64_t bl)
{
	return ah < bh || (ah == bh && al <= bl);
}

static int
match_v6(const struct sl_img *img, const struct sl_img_ipset *s,
    const uint8_t *a)
{
	const struct sl_img_v6_range *r = SL_IMG_REC(img, SL_SECT_V6_RANGES,
	    struct sl_img_v6_range, s->v6_first);
	uint64_t ah = be64(a), al = be64(a + 8);
	size_t n = s->v6_count;

	if (n == 0 || !le128(be64(r[0].lo), be64(r[0].lo + 8), ah, al))
		return 0;
	while (n > 1) {
		size_t half = n / 2;

		r = le128(be64(r[half].lo), be64(r[half].lo + 8), ah, al) ?
		    r + half : r;
		n -= half;
	}
	return le128(ah, al, be64(r->hi), be64(r->hi + 8));
}

int
sl_ipset_match(const struct sl_img *img, uint32_t set,
    const struct sockaddr *sa)
{
	const struct sl_img_ipset *s =
	    SL_IMG_REC(img, SL_SECT_IPSETS, struct sl_img_ipset, set);
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	    0xff, 0xff };

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		return match_v4(img, s, ntohl(in->sin_addr.s_addr));
	}
	if (sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)
		    (const void *)sa)->sin6_addr.s6_addr;

		if (memcmp(a, mapped, 12) == 0)
			return match_v4(img, s, (uint32_t)a[12] << 24 |
			    a[13] << 16 | a[14] << 8 | a[15]);
		return match_v6(img, s, a);
	}
	return 0;
}
