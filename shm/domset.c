/*
 * domset: match a name against a domain set (the worker side).  The
 * builder is domset_build.c, the checker domset_check.c; the layout is
 * described in domset.h.
 */
#include <string.h>

#include "shm/domset.h"
#include "shm/domset_int.h"
#include "shm/regex.h"

/* Regex lists a lookup must still try (list positions). */
struct cand {
	uint32_t	 pos[DS_CAND];
	unsigned	 n;
	int		 all;		/* too many: try every regex */
};

struct ht {
	const uint8_t	*table, *bloom, *ext;
	uint64_t	 nhome;
	uint32_t	 bmask;
};

/* The name being looked up.  A short one is copied into W, zero padded,
 * so its labels can be hashed a word at a time. */
struct name {
	const uint8_t	*s;		/* W when short */
	size_t		 len;
	int		 padded;
	uint64_t	 w[DS_SHORT / 8 + 2];
};

/* Probes that passed the filter, waiting for their buckets. */
struct probes {
	uint64_t	 f[DS_PROBES];
	uint32_t	 at[DS_PROBES];	/* where the suffix starts */
	unsigned	 n;
};

static inline void
cand_add(struct cand *c, uint32_t pos)
{
	if (c->n > 0 && c->pos[c->n - 1] == pos)
		return;
	if (c->n < DS_CAND)
		c->pos[c->n++] = pos;
	else
		c->all = 1;
}

static void
ht_init(struct ht *t, const struct sl_img_domset *d, const uint8_t *blob)
{
	t->table = blob + d->param[DS_P_TABLE];
	t->bloom = t->table + (size_t)DS_BK * d->param[DS_P_NBUCKETS];
	t->ext = blob + d->param[DS_P_EXT];
	t->nhome = d->param[DS_P_NHOME];
	t->bmask = (UINT32_C(1) << DS_BLOOM_BITS(d->param[DS_P_FLAGS])) - 1;
}

static inline int
bloom_has(const struct ht *t, uint64_t f)
{
	uint32_t b = ds_bloom_bit(f, t->bmask);

	return (t->bloom[b >> 3] >> (b & 7)) & 1;
}

/* Flags of the entry of bucket BK equal to S, 0 if there is none. */
static inline unsigned
bucket_find(const struct ht *t, const uint8_t *bk, uint8_t tag,
    const uint8_t *s, size_t len, uint32_t *pos)
{
	unsigned n = bk[0] & DS_BK_COUNT;
	const uint8_t *e = bk + 1 + n;

	for (unsigned i = 0; i < n; i++) {
		struct ds_ent k = ds_ent_parse(e, t->ext);

		if (bk[1 + i] == tag && k.len == len &&
		    (len == 0 || memcmp(k.key, s, len) == 0)) {
			if (k.flags & DS_REGEX)
				*pos = ds_le32(k.rx);
			return k.flags;
		}
		e += k.size;
	}
	return 0;
}

/* Flags of the key equal to S, 0 if there is none; *POS gets its regex
 * list position when it has the REGEX flag.  F is its ds_hash(): the key
 * is in its home bucket, its other bucket, or after its home. */
static inline unsigned
ht_find(const struct ht *t, uint64_t f, const uint8_t *s, size_t len,
    uint32_t *pos)
{
	const uint8_t *home = t->table + (size_t)DS_BK * ds_home(f, t->nhome);
	const uint8_t *alt = t->table + (size_t)DS_BK * ds_alt(f, t->nhome);
	uint8_t tag = ds_tag(f);
	unsigned fl;

	if ((fl = bucket_find(t, home, tag, s, len, pos)) != 0 ||
	    (alt != home && (fl = bucket_find(t, alt, tag, s, len, pos)) != 0))
		return fl;
	while (home[0] & DS_BK_MORE) {
		home += DS_BK;
		if ((fl = bucket_find(t, home, tag, s, len, pos)) != 0)
			return fl;
	}
	return 0;
}

/* The name itself (at 0) matches FULL or DOMAIN keys, a suffix after a
 * '.' DOMAIN keys; REGEX keys make regexes candidates. */
static int
probe_run(struct probes *p, const struct ht *t, const struct name *nm,
    struct cand *c)
{
	uint32_t pos = 0;
	unsigned fl;

	for (unsigned k = 0; k < p->n; k++) {
		size_t at = p->at[k];

		fl = ht_find(t, p->f[k], nm->s + at, nm->len - at, &pos);
		if ((fl & DS_DOMAIN) || (at == 0 && (fl & DS_FULL)))
			return 1;
		if ((fl & DS_REGEX) && at > 0)
			cand_add(c, pos);
	}
	p->n = 0;
	return 0;
}

/*
 * Queue the suffix at AT (running hash S) unless the filter, small enough
 * to stay in cache, says no key is equal to it.  Both buckets are
 * prefetched as they are queued, so a lookup waits for memory about once.
 */
static inline int
probe_add(struct probes *p, const struct ht *t, const struct name *nm,
    uint64_t s, size_t at, struct cand *c)
{
	uint64_t f = ds_fin(s);

	if (!bloom_has(t, f))
		return 0;
	DS_PREFETCH(t->table + (size_t)DS_BK * ds_home(f, t->nhome));
	DS_PREFETCH(t->table + (size_t)DS_BK * ds_alt(f, t->nhome));
	p->f[p->n] = f;
	p->at[p->n++] = (uint32_t)at;
	return p->n == DS_PROBES ? probe_run(p, t, nm, c) : 0;
}

#ifdef DS_SWAR
/* 0x80 in each byte of W that is a '.', 0 elsewhere (exact, no carries
 * between bytes). */
static inline uint64_t
dots_in(uint64_t w)
{
	const uint64_t lo7 = UINT64_C(0x7f7f7f7f7f7f7f7f);
	uint64_t x = w ^ UINT64_C(0x2e2e2e2e2e2e2e2e);

	return ~(((x & lo7) + lo7) | x | lo7);
}

/* Bit i set where byte i of the first 64 of a padded name is a '.'. */
static inline uint64_t
dot_mask(const struct name *nm)
{
	uint64_t mask = 0;

	for (size_t k = 0; k * 8 < nm->len && k < 8; k++)
		mask |= (dots_in(nm->w[k]) >> 7) * UINT64_C(0x0102040810204080)
		    >> 56 << (8 * k);
	return mask;
}

/* A padded name of up to 64 bytes: its dots a word at a time (a branch
 * per byte would mispredict at every dot), then its labels right to
 * left. */
static int
match_padded(const struct ht *t, const struct name *nm, struct cand *c)
{
	uint64_t mask = dot_mask(nm), s = DS_SEED;
	size_t end = nm->len, dot;
	struct probes p;

	p.n = 0;
	for (; mask != 0; mask &= ~(UINT64_C(1) << dot), end = dot) {
		dot = 63 - DS_CLZ(mask);
		s = ds_join(s, ds_label(nm->s + dot + 1, end - dot - 1, 1));
		if (probe_add(&p, t, nm, s, dot + 1, c))
			return 1;
	}
	s = ds_join(s, ds_label(nm->s, end, 1));
	if (probe_add(&p, t, nm, s, 0, c))
		return 1;
	return probe_run(&p, t, nm, c);
}
#endif

static int
match_hash(const struct sl_img_domset *d, const uint8_t *blob,
    const struct name *nm, struct cand *c)
{
	size_t end = nm->len;
	struct probes p;
	uint64_t s = DS_SEED;
	struct ht t;

	ht_init(&t, d, blob);
#ifdef DS_SWAR
	if (nm->padded && nm->len <= 64)
		return match_padded(&t, nm, c);
#endif
	p.n = 0;
	for (size_t i = nm->len; i-- > 0;) {
		if (nm->s[i] != '.')
			continue;
		s = ds_join(s, ds_label(nm->s + i + 1, end - i - 1,
		    nm->padded));
		if (probe_add(&p, &t, nm, s, i + 1, c))
			return 1;
		end = i;
	}
	s = ds_join(s, ds_label(nm->s, end, nm->padded));
	if (probe_add(&p, &t, nm, s, 0, c))
		return 1;
	return probe_run(&p, &t, nm, c);
}

/*
 * 0 if no automaton string can occur in the name.  Each string has STRIDE
 * consecutive 4-byte pieces whose ds_gram() bits are set, so wherever it
 * occurs one of them starts at a multiple of STRIDE.
 */
static int
ac_maybe(const struct sl_img_domset *d, const uint8_t *filter,
    const struct name *nm)
{
	size_t stride = DS_STRIDE(d->param[DS_P_FLAGS]);

	for (size_t i = 0; i + 4 <= nm->len; i += stride) {
		uint32_t g = ds_gram(nm->s + i);

		if (filter[g >> 3] & (1u << (g & 7)))
			return 1;
	}
	return 0;
}

static int
match_ac(const struct sl_img_domset *d, const uint8_t *blob,
    const struct name *nm, struct cand *c)
{
	const uint8_t *ac = blob + d->param[DS_P_AC];
	const struct ds_achdr *h = (const struct ds_achdr *)ac;
	const uint8_t *cls = ac + sizeof(*h);
	const uint32_t *words = (const uint32_t *)(blob +
	    d->param[DS_P_LISTS]);
	const uint32_t *tr;
	uint32_t ncl = h->ncl, out = h->out, out_lo = out * ncl, s = 0;

	if (d->param[DS_P_FLAGS] & DS_AC_FILTER) {
		if (!ac_maybe(d, cls, nm))
			return 0;
		cls += DS_FILTER_LEN;
	}
	tr = (const uint32_t *)(cls + 256);
	for (size_t i = 0; i < nm->len; i++) {
		s = tr[s + cls[nm->s[i]]];
		if (s >= out_lo) {
			if (s == DS_HIT)
				return 1;
			cand_add(c, words[1 + s / ncl - out]);
		}
	}
	return 0;
}

static int
run_list(const struct sl_img_domset *d, const uint32_t *words, uint32_t pos,
    const struct sl_rxtab *rx, const char *name, size_t len)
{
	for (uint32_t k = 1; k <= words[pos]; k++)
		if (sl_rx_match(rx, d->regex_first + words[pos + k], name, len))
			return 1;
	return 0;
}

static int
match_rx(const struct sl_img_domset *d, const uint8_t *blob,
    const struct sl_rxtab *rx, const char *name, size_t len,
    const struct cand *c)
{
	const uint32_t *words = (const uint32_t *)(blob +
	    d->param[DS_P_LISTS]);

	if (c->all) {
		for (uint32_t i = 0; i < d->regex_count; i++)
			if (sl_rx_match(rx, d->regex_first + i, name, len))
				return 1;
		return 0;
	}
	for (unsigned k = 0; k < c->n; k++)
		if (run_list(d, words, c->pos[k], rx, name, len))
			return 1;
	return run_list(d, words, words[0], rx, name, len);
}

static void
name_init(struct name *nm, const char *s, size_t len)
{
	nm->len = len;
	nm->padded = len <= DS_SHORT;
	if (!nm->padded) {
		nm->s = (const uint8_t *)s;
		return;
	}
	/* A word read at any byte before LEN sees zeros after it. */
	nm->w[len / 8] = 0;
	nm->w[len / 8 + 1] = 0;
	if (len > 0)
		memcpy(nm->w, s, len);
	nm->s = (const uint8_t *)nm->w;
}

/* Cheapest first: hash probes, automaton, then the regexes neither could
 * rule out. */
int
sl_domset_match(const struct sl_img *img, const struct sl_rxtab *rx,
    uint32_t set, const char *name, size_t len)
{
	const struct sl_img_domset *d = SL_IMG_REC(img, SL_SECT_DOMSETS,
	    struct sl_img_domset, set);
	const uint8_t *blob = sl_img_blob(img, d->blob_off);
	uint32_t flags = d->param[DS_P_FLAGS];
	struct name nm;
	struct cand c;

	if (flags & DS_MATCH_ALL)
		return 1;
	name_init(&nm, name, len);
	c.n = 0;
	c.all = 0;
	if (DS_BLOOM_BITS(flags) != 0 && match_hash(d, blob, &nm, &c))
		return 1;
	if ((flags & DS_HAS_AC) && match_ac(d, blob, &nm, &c))
		return 1;
	if (d->regex_count == 0 || rx == NULL)
		return 0;
	return match_rx(d, blob, rx, name, len, &c);
}

size_t
sl_domset_bytes(const struct sl_img *img, uint32_t set)
{
	const struct sl_img_domset *d = SL_IMG_REC(img, SL_SECT_DOMSETS,
	    struct sl_img_domset, set);
	size_t n = sizeof(*d) + d->blob_len;

	for (uint32_t i = 0; i < d->regex_count; i++)
		n += sizeof(struct sl_img_regex) + SL_IMG_REC(img,
		    SL_SECT_REGEXES, struct sl_img_regex,
		    d->regex_first + i)->pattern.len + 1;
	return n;
}
