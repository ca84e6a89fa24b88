/*
 * domset_int: what the domain-set builder (domset_build.c) and reader
 * (domset.c) share: the record encodings and the key hash.  Private to
 * those two files; the layout is described in domset.h.
 */
#ifndef SL_SHM_DOMSET_INT_H
#define SL_SHM_DOMSET_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* sl_img_domset.param[] */
#define DS_P_FLAGS	0
#define DS_P_TEXT_OFF	1
#define DS_P_TEXT_LEN	2
#define DS_P_AC_OFF	3
#define DS_P_AC_NCL	4
#define DS_P_AC_ROWS	5
#define DS_P_AC_OUT	6
#define DS_P_LISTS_OFF	7

#define DS_HAS_AC	(UINT32_C(1) << 16)
#define DS_MATCH_ALL	(UINT32_C(1) << 17)
#define DS_AC_FILTER	(UINT32_C(1) << 18)
#define DS_FLAGS_ALL	(UINT32_C(0x7ffff))
#define DS_FILTER_LEN	512	/* bytes: one bit per ds_gram() value */

/* key record flags */
#define DS_FULL		1
#define DS_DOMAIN	2
#define DS_REGEX	4

#define DS_LONG		31	/* length field: a uint16 length follows */
#define DS_MAX_KEY	65535
#define DS_MAX_TEXT	(UINT32_C(1) << 28)	/* leaves >= 4 tag bits */
#define DS_MAX_AC	(UINT64_C(1) << 26)	/* transitions (256 MB) */
#define DS_HIT		UINT32_MAX	/* transition: a SUBSTR pattern ended */
#define DS_CAND		16	/* regex lists one lookup remembers */
#define DS_PROBES	16	/* hash probes in flight at once */
#define DS_SHORT	256	/* longer names take the plain path */

#if defined(__GNUC__)
#define DS_PREFETCH(p)	__builtin_prefetch(p)
#else
#define DS_PREFETCH(p)	((void)(p))
#endif

#define DS_SEED		UINT64_C(0xcbf29ce484222325)
#define DS_MUL		UINT64_C(0x9e3779b97f4a7c15)

/* One 8-byte word of a key into the running hash. */
static inline uint64_t
ds_word(uint64_t h, uint64_t w)
{
	h = (h ^ w) * DS_MUL;
	return h << 31 | h >> 33;
}

/* Fold the state so every bit reaches both halves of the result: the
 * slot index comes from the high half, the tag from the low one. */
static inline uint64_t
ds_fin(uint64_t h)
{
	return (h ^ h >> 32) * UINT64_C(0xd6e8feb86659fd93);
}

static inline uint32_t
ds_index(uint64_t f, uint32_t mask)
{
	return (uint32_t)(f >> 32) & mask;
}

static inline uint32_t
ds_tag(uint64_t f, unsigned tagbits)
{
	return (uint32_t)f >> (32 - tagbits);
}

/*
 * The hash of a key: its length, then its bytes as native 8-byte
 * words, the last one padded with zeros.  Word-wise, so the hashes of a
 * name's suffixes are independent computations the CPU overlaps.
 */
static inline uint64_t
ds_hash(const uint8_t *s, size_t len)
{
	uint64_t h = DS_SEED ^ len, w;
	size_t i;

	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, s + i, 8);
		h = ds_word(h, w);
	}
	if (i < len) {
		w = 0;
		memcpy(&w, s + i, len - i);
		h = ds_word(h, w);
	}
	return ds_fin(h);
}

/* The same for S[AT, LEN) when the 8 bytes after LEN are readable zeros. */
static inline uint64_t
ds_hash_padded(const uint8_t *s, size_t at, size_t len)
{
	uint64_t h = DS_SEED ^ (len - at), w;

	for (size_t i = at; i < len; i += 8) {
		memcpy(&w, s + i, 8);
		h = ds_word(h, w);
	}
	return ds_fin(h);
}

/* 12-bit hash of the 4 bytes at P, for the automaton's prefilter. */
static inline uint32_t
ds_gram(const uint8_t *p)
{
	uint32_t x;

	memcpy(&x, p, 4);
	return (x * UINT32_C(0x9e3779b1)) >> 20;
}

static inline uint32_t
ds_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* A key record's header: flags, key length, header length. */
struct ds_rec {
	unsigned	 flags;
	size_t		 len;
	unsigned	 hdr;
};

static inline struct ds_rec
ds_rec_parse(const uint8_t *r)
{
	struct ds_rec k = { r[0] & 7u, r[0] >> 3, 1 };

	if (k.len == DS_LONG) {
		k.len = (size_t)r[1] | (size_t)r[2] << 8;
		k.hdr = 3;
	}
	return k;
}

#endif
