/*
 * domset_int: what the domain-set builder (domset_build.c), reader
 * (domset.c) and checker (domset_check.c) share: the encodings and the
 * key hash.  Private to those files; the layout is described in domset.h.
 */
#ifndef SL_SHM_DOMSET_INT_H
#define SL_SHM_DOMSET_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* sl_img_domset.param[] */
#define DS_P_FLAGS	0
#define DS_P_TABLE	1	/* offset of the buckets */
#define DS_P_NHOME	2	/* buckets a key can hash to */
#define DS_P_NBUCKETS	3	/* with those it spilled into */
#define DS_P_EXT	4	/* offset of the long keys */
#define DS_P_AC		5	/* offset of the automaton */
#define DS_P_LISTS	6	/* offset of the list words */

#define DS_BLOOM_BITS(f) ((f) & 31)	/* log2 of the filter's bits */
#define DS_HAS_AC	(UINT32_C(1) << 16)
#define DS_MATCH_ALL	(UINT32_C(1) << 17)
#define DS_AC_FILTER	(UINT32_C(1) << 18)
#define DS_STRIDE(f)	((((f) >> 19) & 3) + 1)	/* of the filter scan */
#define DS_FLAGS_ALL	(UINT32_C(0x1f001f))

/* A bucket: one cache line. */
#define DS_BK		64
#define DS_BK_COUNT	0x0f	/* byte 0: entries */
#define DS_BK_MORE	0x80	/* byte 0: a key with this home is further on */

/* entry header: flags in bits 0-2, length in bits 3-7 */
#define DS_FULL		1
#define DS_DOMAIN	2
#define DS_REGEX	4
#define DS_EXT		31	/* length field: the key is in the long keys */
#define DS_MAX_KEY	65535

/* The automaton's header, then its filter, class map, transitions. */
struct ds_achdr {
	uint32_t	 ncl;		/* classes */
	uint32_t	 rows;
	uint32_t	 out;		/* first row that makes regexes candidates */
	uint32_t	 pad;
};

#define DS_FILTER_LEN	512	/* bytes: one bit per ds_gram() value */
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
/* Dots found a word at a time where bytes can be counted from the low
 * end of a word. */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define DS_SWAR		1
#define DS_CLZ(x)	((size_t)__builtin_clzll(x))
#endif

#define DS_SEED		UINT64_C(0xcbf29ce484222325)
#define DS_MUL		UINT64_C(0x9e3779b97f4a7c15)
#define DS_JOIN		UINT64_C(0xc2b2ae3d27d4eb4f)

/*
 * The hash of a key works label by label from the right: the hash of
 * "www.example.com" extends the hash of "example.com" by one label, so a
 * lookup gets every suffix's hash in one pass, a word at a time.
 */

/* One 8-byte word of a label into its hash. */
static inline uint64_t
ds_word(uint64_t h, uint64_t w)
{
	h = (h ^ w) * DS_MUL;
	return h << 31 | h >> 33;
}

/* The hash of one label (no dots): its length, then its bytes as native
 * words, the last padded with zeros.  PADDED: the 8 bytes after the label
 * may be read (and are masked off). */
static inline uint64_t
ds_label(const uint8_t *p, size_t len, int padded)
{
	uint64_t h = DS_SEED ^ len, w = 0;
	size_t i;

#ifdef DS_SWAR
	/* Most labels are one word: no loop. */
	if (padded && len <= 8) {
		if (len == 0)
			return h;
		memcpy(&w, p, 8);
		return ds_word(h, w & ~UINT64_C(0) >> (64 - 8 * len));
	}
#endif
	(void)padded;
	for (i = 0; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		h = ds_word(h, w);
	}
	if (i == len)
		return h;
	w = 0;
	memcpy(&w, p + i, len - i);
	return ds_word(h, w);
}

/* The running hash of a suffix, one more label to its left. */
static inline uint64_t
ds_join(uint64_t s, uint64_t label)
{
	s = (s ^ label) * DS_JOIN;
	return s << 27 | s >> 37;
}

/* Fold the state so every bit reaches the bucket number (high half), the
 * tag (bits 24-31) and the filter bit (low bits). */
static inline uint64_t
ds_fin(uint64_t h)
{
	return (h ^ h >> 32) * UINT64_C(0xd6e8feb86659fd93);
}

/* The hash of a whole key (builder, checks, long names). */
static inline uint64_t
ds_hash(const uint8_t *s, size_t len)
{
	uint64_t h = DS_SEED;
	size_t end = len;

	for (size_t i = len; i-- > 0;)
		if (s[i] == '.') {
			h = ds_join(h, ds_label(s + i + 1, end - i - 1, 0));
			end = i;
		}
	return ds_fin(ds_join(h, ds_label(s, end, 0)));
}

/* Home bucket among N: the high half scaled, no power of two needed. */
static inline uint32_t
ds_home(uint64_t f, uint64_t n)
{
	return (uint32_t)(((f >> 32) * n) >> 32);
}

/* The other bucket a key may be in. */
static inline uint32_t
ds_alt(uint64_t f, uint64_t n)
{
	return ds_home(f * UINT64_C(0x9fb21c651e98df25), n);
}

static inline uint8_t
ds_tag(uint64_t f)
{
	return (uint8_t)(f >> 24);
}

static inline uint32_t
ds_bloom_bit(uint64_t f, uint32_t mask)
{
	return (uint32_t)f & mask;
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

/* An entry of a bucket, decoded. */
struct ds_ent {
	unsigned	 flags;
	const uint8_t	*key;		/* in the bucket or in the long keys */
	size_t		 len;
	size_t		 size;		/* bytes of the entry in the bucket */
	const uint8_t	*rx;		/* list position (REGEX flag) */
};

/* E is an entry, EXT the long keys (not checked here). */
static inline struct ds_ent
ds_ent_parse(const uint8_t *e, const uint8_t *ext)
{
	struct ds_ent k;
	unsigned l = e[0] >> 3;

	k.flags = e[0] & 7u;
	if (l == DS_EXT) {
		k.key = ext + ds_le32(e + 1);
		k.len = (size_t)k.key[0] | (size_t)k.key[1] << 8;
		k.key += 2;
		k.size = 5;
	} else {
		k.key = e + 1;
		k.len = l;
		k.size = 1 + l;
	}
	k.rx = e + k.size;
	if (k.flags & DS_REGEX)
		k.size += 4;
	return k;
}

#endif
