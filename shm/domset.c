/*
 * domset: match a name against a domain set; validate sets.  The builder
 * is in domset_build.c; the layout is described in domset.h.
 */
#include <string.h>

#include "shm/domset.h"
#include "shm/domset_int.h"
#include "shm/regex.h"

/* ---- lookup ---- */

/* Regex lists a lookup must still try (list positions). */
struct cand {
	uint32_t	 pos[DS_CAND];
	unsigned	 n;
	int		 all;		/* too many: try every regex */
};

struct ht {
	const uint32_t	*slots;
	const uint8_t	*text;
	uint32_t	 mask, offbits, offmask, tagbits;
};

/* The name being looked up.  A short one is copied into W, zero padded,
 * so its suffixes can be hashed a word at a time. */
struct name {
	const uint8_t	*s;		/* W when short */
	size_t		 len;
	int		 padded;
	uint64_t	 w[DS_SHORT / 8 + 2];
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

static inline int
bytes_eq(const uint8_t *a, const uint8_t *b, size_t len)
{
	return len == 0 || memcmp(a, b, len) == 0;
}

static void
ht_init(struct ht *t, const struct sl_img_domset *d, const uint8_t *blob)
{
	uint32_t bits = d->param[DS_P_FLAGS] & 0xff;

	t->tagbits = (d->param[DS_P_FLAGS] >> 8) & 0xff;
	t->slots = (const uint32_t *)blob;
	t->text = blob + d->param[DS_P_TEXT_OFF];
	t->mask = (UINT32_C(1) << bits) - 1;
	t->offbits = 32 - t->tagbits;
	t->offmask = (UINT32_C(1) << t->offbits) - 1;
}

/* Flags of the key equal to S, 0 if there is none; *POS gets its regex
 * list position when it has the REGEX flag.  F is its ds_hash(). */
static inline unsigned
ht_find(const struct ht *t, uint64_t f, const uint8_t *s, size_t len,
    uint32_t *pos)
{
	uint32_t i = ds_index(f, t->mask), tag = ds_tag(f, t->tagbits);
	uint32_t slot;

	while ((slot = t->slots[i]) != 0) {
		if ((slot >> t->offbits) == tag) {
			const uint8_t *r = t->text + (slot & t->offmask) - 1;
			struct ds_rec k = ds_rec_parse(r);

			if (k.len == len && bytes_eq(r + k.hdr, s, len)) {
				if (k.flags & DS_REGEX)
					*pos = ds_le32(r + k.hdr + len);
				return k.flags;
			}
		}
		i = (i + 1) & t->mask;
	}
	return 0;
}

/*
 * Probe the suffixes of the name that start at AT[0..N) (0 is the name
 * itself: FULL or DOMAIN; the others follow a '.': DOMAIN, or REGEX
 * candidates).  Every slot is prefetched before the first is read, so a
 * lookup waits for memory about once, not once per label.
 */
static int
probe(const struct ht *t, const struct name *nm, const uint32_t *at,
    unsigned n, struct cand *c)
{
	uint64_t f[DS_PROBES];
	uint32_t pos = 0;
	unsigned k, fl;

	for (k = 0; k < n; k++) {
		f[k] = nm->padded ? ds_hash_padded(nm->s, at[k], nm->len) :
		    ds_hash(nm->s + at[k], nm->len - at[k]);
		DS_PREFETCH(&t->slots[ds_index(f[k], t->mask)]);
	}
	for (k = 0; k < n; k++) {
		fl = ht_find(t, f[k], nm->s + at[k], nm->len - at[k], &pos);
		if ((fl & DS_DOMAIN) || (at[k] == 0 && (fl & DS_FULL)))
			return 1;
		if ((fl & DS_REGEX) && at[k] > 0)
			cand_add(c, pos);
	}
	return 0;
}

static int
match_hash(const struct sl_img_domset *d, const uint8_t *blob,
    const struct name *nm, struct cand *c)
{
	uint32_t at[DS_PROBES];
	unsigned n = 1;
	struct ht t;

	ht_init(&t, d, blob);
	at[0] = 0;
	for (size_t i = 0; i < nm->len; i++) {
		/* No branch on the byte: dots are too frequent to predict. */
		at[n] = (uint32_t)i + 1;
		n += nm->s[i] == '.';
		if (n == DS_PROBES) {
			if (probe(&t, nm, at, n, c))
				return 1;
			n = 0;
		}
	}
	return probe(&t, nm, at, n, c);
}

/* 0 if no automaton string can occur in the name: each one has a 4-byte
 * piece whose ds_gram() bit is set. */
static int
ac_maybe(const struct sl_img_domset *d, const uint8_t *blob,
    const struct name *nm)
{
	const uint8_t *bm = blob + d->param[DS_P_AC_OFF];

	if (!(d->param[DS_P_FLAGS] & DS_AC_FILTER))
		return 1;
	for (size_t i = 0; i + 4 <= nm->len; i++) {
		uint32_t g = ds_gram(nm->s + i);

		if (bm[g >> 3] & (1u << (g & 7)))
			return 1;
	}
	return 0;
}

static int
match_ac(const struct sl_img_domset *d, const uint8_t *blob,
    const struct name *nm, struct cand *c)
{
	const uint8_t *cls = blob + d->param[DS_P_AC_OFF] +
	    (d->param[DS_P_FLAGS] & DS_AC_FILTER ? DS_FILTER_LEN : 0);
	const uint32_t *tr = (const uint32_t *)(cls + 256);
	const uint32_t *words = (const uint32_t *)(blob +
	    d->param[DS_P_LISTS_OFF]);
	uint32_t ncl = d->param[DS_P_AC_NCL], out = d->param[DS_P_AC_OUT];
	uint32_t out_lo = out * ncl, s = 0;

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
	    d->param[DS_P_LISTS_OFF]);

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
 * rule out.  The automaton's prefilter runs while the slots load. */
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
	if (d->param[DS_P_TEXT_LEN] != 0 && match_hash(d, blob, &nm, &c))
		return 1;
	if ((flags & DS_HAS_AC) && ac_maybe(d, blob, &nm) &&
	    match_ac(d, blob, &nm, &c))
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

/* ---- validation: every read a lookup can make stays in the blob ---- */

struct chk {
	const struct sl_img_domset *d;
	const uint8_t	*blob;
	const uint32_t	*words;
	uint32_t	 nwords;
};

#define CHK_FAIL(msg)	do { *err = (msg); return -1; } while (0)

static int
list_ok(const struct chk *c, uint32_t pos)
{
	if (pos >= c->nwords || c->words[pos] > c->nwords - pos - 1)
		return 0;
	for (uint32_t k = 1; k <= c->words[pos]; k++)
		if (c->words[pos + k] >= c->d->regex_count)
			return 0;
	return 1;
}

/* The key record at OFF fits in the text, is well formed and is stored
 * where its hash leads. */
static int
slot_ok(const struct chk *c, const struct ht *t, uint32_t i, uint32_t off,
    uint32_t text_len)
{
	const uint8_t *r = t->text + off;
	struct ds_rec k;
	uint64_t f;
	uint32_t j;

	if (off >= text_len || ((r[0] >> 3) == DS_LONG && text_len - off < 3))
		return 0;
	k = ds_rec_parse(r);
	if ((uint64_t)off + k.hdr + k.len + (k.flags & DS_REGEX ? 4 : 0) >
	    text_len || k.flags == 0)
		return 0;
	if ((k.flags & DS_REGEX) && !list_ok(c, ds_le32(r + k.hdr + k.len)))
		return 0;
	f = ds_hash(r + k.hdr, k.len);
	if (ds_tag(f, t->tagbits) != t->slots[i] >> t->offbits)
		return 0;
	/* Linear probing finds it only if no empty slot comes first. */
	for (j = ds_index(f, t->mask); j != i; j = (j + 1) & t->mask)
		if (t->slots[j] == 0)
			return 0;
	return 1;
}

static int
check_hash(const struct chk *c, const char **err)
{
	const struct sl_img_domset *d = c->d;
	uint32_t bits = d->param[DS_P_FLAGS] & 0xff;
	uint32_t tagbits = (d->param[DS_P_FLAGS] >> 8) & 0xff;
	uint32_t text_off = d->param[DS_P_TEXT_OFF];
	uint32_t text_len = d->param[DS_P_TEXT_LEN], empty = 0;
	struct ht t;

	if (text_len == 0) {
		if (bits != 0 || tagbits != 0 || text_off != 0)
			CHK_FAIL("domain set: bad empty hash table");
		return 0;
	}
	if (bits < 1 || bits > 30 || tagbits < 1 || tagbits > 31 ||
	    text_off != UINT32_C(4) << bits ||
	    (uint64_t)text_off + text_len > d->blob_len ||
	    text_len >> (32 - tagbits) != 0)
		CHK_FAIL("domain set: bad hash table geometry");
	ht_init(&t, d, c->blob);
	for (uint32_t i = 0; i <= t.mask; i++) {
		uint32_t off = t.slots[i] & t.offmask;

		if (t.slots[i] == 0)
			empty++;
		else if (off == 0 || !slot_ok(c, &t, i, off - 1, text_len))
			CHK_FAIL("domain set: bad hash slot");
	}
	if (empty == 0)
		CHK_FAIL("domain set: hash table is full");
	return 0;
}

static int
check_ac(const struct chk *c, uint32_t text_end, const char **err)
{
	const struct sl_img_domset *d = c->d;
	uint32_t off = d->param[DS_P_AC_OFF], ncl = d->param[DS_P_AC_NCL];
	uint32_t rows = d->param[DS_P_AC_ROWS], out = d->param[DS_P_AC_OUT];
	uint32_t filter = d->param[DS_P_FLAGS] & DS_AC_FILTER ?
	    DS_FILTER_LEN : 0;
	uint64_t n = (uint64_t)rows * ncl;
	const uint8_t *cls;
	const uint32_t *tr;

	if (!(d->param[DS_P_FLAGS] & DS_HAS_AC)) {
		if (off != 0 || ncl != 0 || rows != 0 || out != 0 || filter)
			CHK_FAIL("domain set: bad empty automaton");
		return 0;
	}
	if (ncl < 1 || ncl > 256 || rows < 1 || out > rows || off % 4 != 0 ||
	    off < text_end || n > DS_MAX_AC ||
	    (uint64_t)off + filter + 256 + n * 4 > d->param[DS_P_LISTS_OFF])
		CHK_FAIL("domain set: bad automaton geometry");
	cls = c->blob + off + filter;
	tr = (const uint32_t *)(cls + 256);
	for (int b = 0; b < 256; b++)
		if (cls[b] >= ncl)
			CHK_FAIL("domain set: bad automaton class");
	for (uint64_t i = 0; i < n; i++)
		if (tr[i] != DS_HIT && (tr[i] % ncl != 0 || tr[i] / ncl >= rows))
			CHK_FAIL("domain set: bad automaton transition");
	if (out < rows && (uint64_t)rows - out + 1 > c->nwords)
		CHK_FAIL("domain set: automaton lists missing");
	for (uint32_t r = out; r < rows; r++)
		if (!list_ok(c, c->words[1 + r - out]))
			CHK_FAIL("domain set: bad automaton list");
	return 0;
}

static int
check_set(const struct sl_img *img, const struct sl_img_domset *d,
    const char **err)
{
	uint32_t lists = d->param[DS_P_LISTS_OFF];
	uint32_t text_end = d->param[DS_P_TEXT_OFF] + d->param[DS_P_TEXT_LEN];
	struct chk c;

	if (d->blob_off % 8 != 0 || d->blob_off + (uint64_t)d->blob_len >
	    sl_img_count(img, SL_SECT_BLOB) ||
	    (uint64_t)d->regex_first + d->regex_count >
	    sl_img_count(img, SL_SECT_REGEXES))
		CHK_FAIL("domain set: bad blob or regex range");
	if ((d->param[DS_P_FLAGS] & ~DS_FLAGS_ALL) != 0 ||
	    lists % 4 != 0 || lists > d->blob_len ||
	    (d->blob_len - lists) % 4 != 0 ||
	    (d->regex_count == 0) != (lists == d->blob_len))
		CHK_FAIL("domain set: bad record");
	c.d = d;
	c.blob = sl_img_blob(img, d->blob_off);
	c.words = (const uint32_t *)(c.blob + lists);
	c.nwords = (d->blob_len - lists) / 4;
	if (d->param[DS_P_TEXT_LEN] != 0 && (d->param[DS_P_TEXT_OFF] >
	    d->blob_len || text_end < d->param[DS_P_TEXT_OFF] ||
	    text_end > lists))
		CHK_FAIL("domain set: bad text range");
	if (c.nwords > 0 && !list_ok(&c, c.words[0]))
		CHK_FAIL("domain set: bad regex list");
	if (check_hash(&c, err) == -1 || check_ac(&c, text_end, err) == -1)
		return -1;
	return 0;
}

int
sl_domset_check(const struct sl_img *img, const char **err)
{
	uint32_t n = sl_img_count(img, SL_SECT_DOMSETS);

	for (uint32_t i = 0; i < n; i++)
		if (check_set(img, SL_IMG_REC(img, SL_SECT_DOMSETS,
		    struct sl_img_domset, i), err) == -1)
			return -1;
	return 0;
}
