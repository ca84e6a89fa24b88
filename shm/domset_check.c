/*
 * domset_check: validate every domain set of an image once, when a
 * process maps it (from sl_img_check), so that no read a lookup makes can
 * leave the set's blob and every probe ends.  Keys are rehashed: a
 * corrupted key, tag or bucket is refused, not silently unreachable.
 */
#include <string.h>

#include "shm/domset.h"
#include "shm/domset_int.h"

struct chk {
	const struct sl_img_domset *d;
	const uint8_t	*blob;
	const uint32_t	*words;
	uint32_t	 nwords;
	const uint8_t	*table, *bloom, *ext;
	uint64_t	 ext_len;
	const char	*err;
};

#define CHK_FAIL(c, msg)	do { (c)->err = (msg); return -1; } while (0)

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

/* The entry at offset AT of bucket B fits (with its long key) and is
 * well formed; its size in *SIZE. */
static int
entry_ok(const struct chk *c, const uint8_t *bk, size_t at, size_t *size)
{
	unsigned l = bk[at] >> 3;
	size_t body = l == DS_EXT ? 4 : l;
	uint64_t off;

	if (at + 1 + body > DS_BK || (bk[at] & 7) == 0)
		return 0;
	if (l == DS_EXT) {
		off = ds_le32(bk + at + 1);
		if (off + 2 > c->ext_len || off + 2 + (c->ext[off] |
		    (size_t)c->ext[off + 1] << 8) > c->ext_len)
			return 0;
	}
	*size = 1 + body + (bk[at] & DS_REGEX ? 4 : 0);
	if (at + *size > DS_BK)
		return 0;
	return !(bk[at] & DS_REGEX) || list_ok(c, ds_le32(bk + at + 1 + body));
}

/* A valid entry of bucket B is where its hash leads: its tag, its filter
 * bit, and B is its other bucket, or its home or a later bucket when
 * every bucket from its home on says "more". */
static int
entry_placed(const struct chk *c, uint32_t b, uint8_t tag,
    const struct ds_ent *k)
{
	uint64_t f = ds_hash(k->key, k->len);
	uint32_t bits = DS_BLOOM_BITS(c->d->param[DS_P_FLAGS]);
	uint32_t bit = ds_bloom_bit(f, (UINT32_C(1) << bits) - 1);
	uint32_t home = ds_home(f, c->d->param[DS_P_NHOME]);

	if (tag != ds_tag(f) || !((c->bloom[bit >> 3] >> (bit & 7)) & 1))
		return 0;
	if (b == ds_alt(f, c->d->param[DS_P_NHOME]))
		return 1;
	if (home > b)
		return 0;
	for (uint32_t j = home; j < b; j++)
		if (!(c->table[(size_t)DS_BK * j] & DS_BK_MORE))
			return 0;
	return 1;
}

static int
bucket_ok(const struct chk *c, uint32_t b)
{
	const uint8_t *bk = c->table + (size_t)DS_BK * b;
	unsigned n = bk[0] & DS_BK_COUNT;
	size_t at = 1 + n, size;

	if ((bk[0] & ~(DS_BK_COUNT | DS_BK_MORE)) != 0 || at > DS_BK)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		struct ds_ent k;

		if (!entry_ok(c, bk, at, &size))
			return 0;
		k = ds_ent_parse(bk + at, c->ext);
		if (!entry_placed(c, b, bk[1 + i], &k))
			return 0;
		at += size;
	}
	return 1;
}

/* Buckets, then the filter, then the long keys up to END. */
static int
check_hash(struct chk *c, uint64_t end)
{
	const struct sl_img_domset *d = c->d;
	uint32_t bits = DS_BLOOM_BITS(d->param[DS_P_FLAGS]);
	uint32_t nb = d->param[DS_P_NBUCKETS];
	uint64_t table = d->param[DS_P_TABLE], ext = d->param[DS_P_EXT];

	if (bits == 0) {
		if (table != 0 || nb != 0 || d->param[DS_P_NHOME] != 0 ||
		    ext != 0)
			CHK_FAIL(c, "domain set: bad empty hash table");
		return 0;
	}
	if (bits < 6 || d->param[DS_P_NHOME] < 1 ||
	    nb < d->param[DS_P_NHOME] ||
	    table + (uint64_t)DS_BK * nb + (UINT64_C(1) << bits) / 8 > ext ||
	    ext > end)
		CHK_FAIL(c, "domain set: bad hash table geometry");
	c->table = c->blob + table;
	c->bloom = c->table + (size_t)DS_BK * nb;
	c->ext = c->blob + ext;
	c->ext_len = end - ext;
	/* The last bucket ends every probe. */
	if (c->table[(size_t)DS_BK * (nb - 1)] & DS_BK_MORE)
		CHK_FAIL(c, "domain set: bad last bucket");
	for (uint32_t b = 0; b < nb; b++)
		if (!bucket_ok(c, b))
			CHK_FAIL(c, "domain set: bad bucket");
	return 0;
}

static int
check_trans(struct chk *c, const uint8_t *cls, uint32_t ncl, uint32_t rows)
{
	const uint32_t *tr = (const uint32_t *)(cls + 256);

	for (int b = 0; b < 256; b++)
		if (cls[b] >= ncl)
			CHK_FAIL(c, "domain set: bad automaton class");
	for (uint64_t i = 0; i < (uint64_t)rows * ncl; i++)
		if (tr[i] != DS_HIT && (tr[i] % ncl != 0 || tr[i] / ncl >= rows))
			CHK_FAIL(c, "domain set: bad automaton transition");
	return 0;
}

static int
check_ac(struct chk *c)
{
	const struct sl_img_domset *d = c->d;
	uint64_t off = d->param[DS_P_AC], end = d->param[DS_P_LISTS];
	uint32_t filter = d->param[DS_P_FLAGS] & DS_AC_FILTER ?
	    DS_FILTER_LEN : 0;
	const struct ds_achdr *h;

	if (!(d->param[DS_P_FLAGS] & DS_HAS_AC)) {
		if (off != 0 || filter != 0)
			CHK_FAIL(c, "domain set: bad empty automaton");
		return 0;
	}
	if (off % 4 != 0 || off + sizeof(*h) > end)
		CHK_FAIL(c, "domain set: bad automaton geometry");
	h = (const struct ds_achdr *)(c->blob + off);
	if (h->ncl < 1 || h->ncl > 256 || h->rows < 1 || h->out > h->rows ||
	    (uint64_t)h->rows * h->ncl > DS_MAX_AC ||
	    off + sizeof(*h) + filter + 256 + (uint64_t)h->rows * h->ncl * 4 >
	    end)
		CHK_FAIL(c, "domain set: bad automaton geometry");
	if (check_trans(c, c->blob + off + sizeof(*h) + filter, h->ncl,
	    h->rows) == -1)
		return -1;
	if (h->out < h->rows && (uint64_t)h->rows - h->out + 1 > c->nwords)
		CHK_FAIL(c, "domain set: automaton lists missing");
	for (uint32_t r = h->out; r < h->rows; r++)
		if (!list_ok(c, c->words[1 + r - h->out]))
			CHK_FAIL(c, "domain set: bad automaton list");
	return 0;
}

static int
check_set(const struct sl_img *img, const struct sl_img_domset *d,
    const char **err)
{
	uint32_t lists = d->param[DS_P_LISTS];
	struct chk c;

	memset(&c, 0, sizeof(c));
	if (d->blob_off % 8 != 0 || d->blob_off + (uint64_t)d->blob_len >
	    sl_img_count(img, SL_SECT_BLOB) ||
	    (uint64_t)d->regex_first + d->regex_count >
	    sl_img_count(img, SL_SECT_REGEXES)) {
		*err = "domain set: bad blob or regex range";
		return -1;
	}
	if ((d->param[DS_P_FLAGS] & ~DS_FLAGS_ALL) != 0 || d->param[7] != 0 ||
	    lists % 4 != 0 || lists > d->blob_len ||
	    (d->blob_len - lists) % 4 != 0 ||
	    (d->regex_count == 0) != (lists == d->blob_len)) {
		*err = "domain set: bad record";
		return -1;
	}
	c.d = d;
	c.blob = sl_img_blob(img, d->blob_off);
	c.words = (const uint32_t *)(c.blob + lists);
	c.nwords = (d->blob_len - lists) / 4;
	if ((c.nwords > 0 && !list_ok(&c, c.words[0])) ||
	    check_hash(&c, d->param[DS_P_FLAGS] & DS_HAS_AC ?
	    d->param[DS_P_AC] : lists) == -1 || check_ac(&c) == -1) {
		*err = c.err ? c.err : "domain set: bad regex list";
		return -1;
	}
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
