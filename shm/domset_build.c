/*
 * domset_build: write a domain set into the table image (master side).
 *
 * FULL and DOMAIN patterns become keys of the hash table, SUBSTR patterns
 * strings of the automaton.  Each regex is stored in REGEXES and filed
 * under a prefilter (sl_rx_needs): when every match ends with "." + K it
 * hangs off key K of the hash table (probing the name's suffixes costs
 * nothing extra); otherwise when every match contains a literal L it
 * hangs off L in the automaton; otherwise it is always tried.
 */
#include <stdlib.h>
#include <string.h>

#include "shm/domset.h"
#include "shm/domset_ac.h"
#include "shm/domset_int.h"
#include "shm/regex.h"

#define NONE	UINT32_MAX

struct key {
	const uint8_t	*s;
	uint64_t	 h;		/* ds_hash() */
	uint32_t	 len;
	uint32_t	 rx;		/* its regexes: first link, list position */
	uint32_t	 ext;		/* long key: offset in the long keys */
	uint32_t	 home, alt;	/* its two buckets */
	uint32_t	 bucket;	/* where it went */
	uint8_t		 flags;
};

/* One regex in a singly linked list (of a key, a literal, "always"). */
struct link {
	uint32_t	 rx, next;
};

struct u32v {
	uint32_t	*v;
	size_t		 n, cap;
};

struct build {
	uint8_t		*arena;		/* lower-cased copies, literals */
	size_t		 arena_len, arena_cap;
	struct key	*keys;
	size_t		 nkeys;
	uint32_t	*dedup;		/* key index + 1 */
	size_t		 dmask;
	struct link	*links;
	size_t		 nlinks;
	uint32_t	 always;	/* link list */
	struct ds_acpat	*ac;		/* automaton strings */
	size_t		 nac;
	uint32_t	 nregex;
	int		 match_all;
	struct u32v	 words;
	uint32_t	 mark;		/* of the list being written */
	struct ds_ac	 aco;
	uint8_t		*ext;		/* long keys */
	size_t		 ext_len;
	uint8_t		*table;		/* buckets, then the filter */
	size_t		 table_len, nhome, nbuckets;
	unsigned	 bloom_bits;
	const char	*err;
};

static int
fail(struct build *b, const char *msg)
{
	if (b->err == NULL)
		b->err = msg;
	return -1;
}

static int
push(struct build *b, struct u32v *w, uint32_t x)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		uint32_t *v = realloc(w->v, cap * sizeof(*v));

		if (v == NULL)
			return fail(b, "domain set: out of memory");
		w->v = v;
		w->cap = cap;
	}
	w->v[w->n++] = x;
	return 0;
}

static uint8_t *
arena_take(struct build *b, size_t len)
{
	uint8_t *p = b->arena + b->arena_len;

	b->arena_len += len;
	return p;
}

static const uint8_t *
lower_copy(struct build *b, const char *s, size_t len)
{
	uint8_t *p = arena_take(b, len);

	for (size_t i = 0; i < len; i++) {
		uint8_t c = (uint8_t)s[i];

		p[i] = c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
	}
	return p;
}

/* ---- collecting the patterns ---- */

static int
add_key(struct build *b, const uint8_t *s, size_t len, uint8_t flags,
    uint32_t rx)
{
	uint64_t h = ds_hash(s, len);
	struct key *k;
	size_t j;

	if (len > DS_MAX_KEY)
		return fail(b, "domain set: pattern too long");
	for (j = h & b->dmask; b->dedup[j] != 0; j = (j + 1) & b->dmask) {
		k = &b->keys[b->dedup[j] - 1];
		if (k->h == h && k->len == len && (len == 0 ||
		    memcmp(k->s, s, len) == 0))
			goto found;
	}
	k = &b->keys[b->nkeys++];
	b->dedup[j] = (uint32_t)b->nkeys;
	k->s = s;
	k->h = h;
	k->len = (uint32_t)len;
	k->rx = NONE;
	k->flags = 0;
found:
	k->flags |= flags;
	if (flags & DS_REGEX) {
		b->links[b->nlinks].rx = rx;
		b->links[b->nlinks].next = k->rx;
		k->rx = (uint32_t)b->nlinks++;
	}
	return 0;
}

static void
add_ac(struct build *b, const uint8_t *s, size_t len, uint32_t rx)
{
	b->ac[b->nac].s = s;
	b->ac[b->nac].len = (uint32_t)len;
	b->ac[b->nac].rx = rx;
	b->nac++;
}

/*
 * File regex RX (number within the set) under its prefilter.  A key after
 * the first '.' of the tail is a suffix of every matching name at a label
 * boundary; it wins unless it is a single label shorter than the best
 * literal (".com" would make the regex a candidate for most names).
 */
static int
add_regex(struct build *b, const struct sl_dom_pat *p, uint32_t rx)
{
	uint8_t *need = arena_take(b, p->len), *tail = arena_take(b, p->len);
	const uint8_t *dot, *key = NULL;
	size_t nl, tl, kl = 0;

	sl_rx_needs(p->value, p->len, (char *)need, &nl, (char *)tail, &tl);
	if ((dot = memchr(tail, '.', tl)) != NULL) {
		key = dot + 1;
		kl = tl - (size_t)(key - tail);
	}
	if (key != NULL && kl <= DS_MAX_KEY &&
	    (memchr(key, '.', kl) != NULL || kl >= nl))
		return add_key(b, key, kl, DS_REGEX, rx);
	if (nl > 0) {
		add_ac(b, need, nl, rx);
		return 0;
	}
	b->links[b->nlinks].rx = rx;
	b->links[b->nlinks].next = b->always;
	b->always = (uint32_t)b->nlinks++;
	return 0;
}

static int
add_pattern(struct build *b, const struct sl_dom_pat *p, uint32_t *rx)
{
	switch (p->type) {
	case SL_DPAT_FULL:
		return add_key(b, lower_copy(b, p->value, p->len), p->len,
		    DS_FULL, 0);
	case SL_DPAT_DOMAIN:
		return add_key(b, lower_copy(b, p->value, p->len), p->len,
		    DS_DOMAIN, 0);
	case SL_DPAT_SUBSTR:
		if (p->len == 0)
			b->match_all = 1;
		else
			add_ac(b, lower_copy(b, p->value, p->len), p->len,
			    DS_AC_SUBSTR);
		return 0;
	case SL_DPAT_REGEX:
		return add_regex(b, p, (*rx)++);
	}
	return fail(b, "domain set: unknown pattern type");
}

/* Check every regex first so a failed build adds no REGEXES records. */
static int
add_regexes(struct build *b, struct sl_img_builder *ib,
    const struct sl_dom_pat *p, size_t n, uint32_t *first)
{
	char msg[256];
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i].type == SL_DPAT_REGEX &&
		    sl_rx_valid(p[i].value, p[i].len, msg, sizeof(msg)) == -1)
			return fail(b, "domain set: invalid regular expression");
	*first = sl_imgb_count(ib, SL_SECT_REGEXES, sizeof(struct sl_img_regex));
	for (i = 0; i < n; i++)
		if (p[i].type == SL_DPAT_REGEX) {
			sl_rx_add(ib, p[i].value, p[i].len);
			b->nregex++;
		}
	return 0;
}

static int
build_init(struct build *b, const struct sl_dom_pat *p, size_t n)
{
	size_t total = 0, cap = 2;

	memset(b, 0, sizeof(*b));
	b->always = NONE;
	for (size_t i = 0; i < n; i++)
		total += p[i].len;
	while (cap < 2 * n)
		cap *= 2;
	b->dmask = cap - 1;
	/* Regexes take two literal buffers, other patterns one copy. */
	b->arena = malloc(2 * total + 1);
	b->keys = calloc(n + 1, sizeof(*b->keys));
	b->dedup = calloc(cap, sizeof(*b->dedup));
	b->links = calloc(n + 1, sizeof(*b->links));
	b->ac = calloc(n + 1, sizeof(*b->ac));
	if (b->arena == NULL || b->keys == NULL || b->dedup == NULL ||
	    b->links == NULL || b->ac == NULL)
		return fail(b, "domain set: out of memory");
	return 0;
}

static void
build_free(struct build *b)
{
	free(b->arena);
	free(b->keys);
	free(b->dedup);
	free(b->links);
	free(b->ac);
	free(b->words.v);
	ds_ac_free(&b->aco);
	free(b->ext);
	free(b->table);
}

/* ---- regex lists ---- */

/* Append the regexes of link list HEAD to the list at POS, each once. */
static int
list_links(struct build *b, uint32_t pos, uint32_t head, uint32_t *stamp)
{
	for (; head != NONE; head = b->links[head].next) {
		uint32_t rx = b->links[head].rx;

		if (stamp[rx] == b->mark)
			continue;
		stamp[rx] = b->mark;
		if (push(b, &b->words, rx) == -1)
			return -1;
		b->words.v[pos]++;
	}
	return 0;
}

static int
list_open(struct build *b, uint32_t *pos)
{
	b->mark++;
	*pos = (uint32_t)b->words.n;
	return push(b, &b->words, 0);
}

/* ---- the automaton and the regex lists ---- */

/* How often each 4-byte piece occurs in the keys: real names, to pick
 * rare pieces for the automaton's prefilter. */
static uint16_t *
key_grams(struct build *b)
{
	uint16_t *count = calloc(4096, sizeof(*count));

	if (count == NULL) {
		fail(b, "domain set: out of memory");
		return NULL;
	}
	for (size_t i = 0; i < b->nkeys; i++)
		for (size_t j = 0; j + 4 <= b->keys[i].len; j++) {
			uint32_t g = ds_gram(b->keys[i].s + j);

			if (count[g] < UINT16_MAX)
				count[g]++;
		}
	return count;
}

/* The automaton, and word 1 + i, the list of its output row out + i. */
static int
build_ac(struct build *b)
{
	uint16_t *count = key_grams(b);
	uint32_t nout, base, pos;
	int r;

	if (count == NULL)
		return -1;
	r = ds_ac_build(&b->aco, b->ac, b->nac, count, &b->err);
	free(count);
	if (r == -1)
		return -1;
	nout = b->aco.rows - b->aco.out;
	base = (uint32_t)b->words.n;
	for (uint32_t i = 0; i < nout; i++)
		if (push(b, &b->words, 0) == -1)
			return -1;
	for (uint32_t i = 0; i < nout; i++) {
		if (list_open(b, &pos) == -1)
			return -1;
		b->words.v[base + i] = pos;
		for (uint32_t k = b->aco.first[i]; k < b->aco.first[i + 1]; k++)
			if (push(b, &b->words, b->aco.rx[k]) == -1)
				return -1;
		b->words.v[pos] = b->aco.first[i + 1] - b->aco.first[i];
	}
	return 0;
}

/* Word 0, then the automaton's lists, "always", then each key's list. */
static int
build_lists(struct build *b)
{
	uint32_t *stamp, pos;
	int r = -1;

	if ((stamp = calloc(b->nregex + 1, sizeof(*stamp))) == NULL)
		return fail(b, "domain set: out of memory");
	if (b->nregex > 0 && push(b, &b->words, 0) == -1)
		goto out;
	if (b->nac > 0 && build_ac(b) == -1)
		goto out;
	if (b->nregex > 0) {
		if (list_open(b, &pos) == -1 ||
		    list_links(b, pos, b->always, stamp) == -1)
			goto out;
		b->words.v[0] = pos;
	}
	for (size_t i = 0; i < b->nkeys; i++) {
		struct key *k = &b->keys[i];

		if (!(k->flags & DS_REGEX))
			continue;
		if (list_open(b, &pos) == -1 ||
		    list_links(b, pos, k->rx, stamp) == -1)
			goto out;
		k->rx = pos;
	}
	r = 0;
out:
	free(stamp);
	return r;
}

/* ---- the hash table ---- */

/* Bytes a key takes in a bucket: tag, header, key or the offset of its
 * long key, regex list position. */
static size_t
entry_size(const struct key *k)
{
	return 2 + (k->len < DS_EXT ? k->len : 4) +
	    (k->flags & DS_REGEX ? 4 : 0);
}

/* Keys too long for the entry header: a uint16 length and the bytes. */
static int
build_ext(struct build *b)
{
	size_t len = 0;
	uint8_t *p;

	for (size_t i = 0; i < b->nkeys; i++)
		if (b->keys[i].len >= DS_EXT)
			len += 2 + b->keys[i].len;
	if (len > UINT32_MAX / 2)
		return fail(b, "domain set: too large");
	if ((b->ext = malloc(len + 1)) == NULL)
		return fail(b, "domain set: out of memory");
	p = b->ext;
	for (size_t i = 0; i < b->nkeys; i++) {
		struct key *k = &b->keys[i];

		if (k->len < DS_EXT)
			continue;
		k->ext = (uint32_t)(p - b->ext);
		*p++ = (uint8_t)k->len;
		*p++ = (uint8_t)(k->len >> 8);
		memcpy(p, k->s, k->len);
		p += k->len;
	}
	b->ext_len = len;
	return 0;
}

/* Keys in the order of their bucket (a counting sort). */
static uint32_t *
by_bucket(struct build *b)
{
	uint32_t *count = calloc(b->nbuckets + 1, sizeof(*count));
	uint32_t *order = malloc((b->nkeys + 1) * sizeof(*order));

	if (count == NULL || order == NULL) {
		free(count);
		free(order);
		fail(b, "domain set: out of memory");
		return NULL;
	}
	for (size_t i = 0; i < b->nkeys; i++)
		count[b->keys[i].bucket + 1]++;
	for (size_t h = 0; h < b->nbuckets; h++)
		count[h + 1] += count[h];
	for (size_t i = 0; i < b->nkeys; i++)
		order[count[b->keys[i].bucket]++] = (uint32_t)i;
	free(count);
	return order;
}

/* Each bucket while placing: bytes used, its keys. */
struct fillstate {
	uint8_t		*used, *n;
	uint32_t	*keys;		/* DS_BK_COUNT per bucket */
	size_t		 cap;
};

static int
fs_grow(struct build *b, struct fillstate *fs, size_t at)
{
	size_t cap = at * 2 + 16;
	uint8_t *u = realloc(fs->used, cap), *n = realloc(fs->n, cap);
	uint32_t *k = realloc(fs->keys, cap * DS_BK_COUNT * sizeof(*k));

	if (u != NULL)
		fs->used = u;
	if (n != NULL)
		fs->n = n;
	if (k != NULL)
		fs->keys = k;
	if (u == NULL || n == NULL || k == NULL)
		return fail(b, "domain set: out of memory");
	memset(fs->used + fs->cap, 1, cap - fs->cap);
	memset(fs->n + fs->cap, 0, cap - fs->cap);
	fs->cap = cap;
	return 0;
}

static int
room(const struct fillstate *fs, size_t at, size_t size)
{
	return fs->used[at] + size <= DS_BK && fs->n[at] < DS_BK_COUNT;
}

static void
fs_add(struct build *b, struct fillstate *fs, uint32_t i, size_t at)
{
	fs->keys[at * DS_BK_COUNT + fs->n[at]++] = i;
	fs->used[at] += (uint8_t)entry_size(&b->keys[i]);
	b->keys[i].bucket = (uint32_t)at;
}

static void
fs_del(struct build *b, struct fillstate *fs, size_t at, unsigned j)
{
	uint32_t *m = fs->keys + at * DS_BK_COUNT;

	fs->used[at] -= (uint8_t)entry_size(&b->keys[m[j]]);
	m[j] = m[--fs->n[at]];
}

/* Make room for a key of SIZE in bucket AT by moving one of its keys to
 * that key's other bucket.  1 if done. */
static int
kick(struct build *b, struct fillstate *fs, size_t at, size_t size)
{
	for (unsigned j = 0; j < fs->n[at]; j++) {
		uint32_t m = fs->keys[at * DS_BK_COUNT + j];
		const struct key *k = &b->keys[m];
		size_t other = k->home == at ? k->alt : k->home;
		size_t msize = entry_size(k);

		if ((k->home != at && k->alt != at) || other == at ||
		    !room(fs, other, msize) || fs->used[at] - msize + size >
		    DS_BK)
			continue;
		fs_del(b, fs, at, j);
		fs_add(b, fs, m, other);
		return 1;
	}
	return 0;
}

/*
 * Each key goes to the emptier of its two buckets (two choices keep
 * buckets evenly full), or makes room in one by moving a key to that
 * key's other bucket; failing that, to the first bucket after its home
 * with room, and every bucket it passes gets the "more" bit (in fill()).
 */
static int
place(struct build *b)
{
	struct fillstate fs = { NULL, NULL, NULL, 0 };
	size_t top = 0;
	int r = -1;

	if (fs_grow(b, &fs, b->nhome) == -1)
		goto out;
	for (size_t i = 0; i < b->nkeys; i++) {
		const struct key *k = &b->keys[i];
		size_t size = entry_size(k), at = k->home;

		if (fs.used[k->alt] < fs.used[at] || !room(&fs, at, size))
			at = k->alt;
		if (!room(&fs, at, size) && !kick(b, &fs, k->home, size) &&
		    !kick(b, &fs, k->alt, size))
			for (at = k->home + 1;; at++) {
				if (at >= fs.cap && fs_grow(b, &fs, at) == -1)
					goto out;
				if (room(&fs, at, size))
					break;
			}
		if (!room(&fs, at, size))
			at = room(&fs, k->home, size) ? k->home : k->alt;
		fs_add(b, &fs, (uint32_t)i, at);
		if (at + 1 > top)
			top = at + 1;
	}
	b->nbuckets = top > b->nhome ? top : b->nhome;
	r = 0;
out:
	free(fs.used);
	free(fs.n);
	free(fs.keys);
	return r;
}

static void
put_entry(uint8_t *bk, size_t i, size_t *off, const struct key *k)
{
	uint8_t *e = bk + *off;

	bk[1 + i] = ds_tag(k->h);
	if (k->len < DS_EXT) {
		*e++ = (uint8_t)(k->flags | k->len << 3);
		if (k->len > 0)
			memcpy(e, k->s, k->len);
		e += k->len;
	} else {
		*e++ = (uint8_t)(k->flags | DS_EXT << 3);
		for (int j = 0; j < 4; j++)
			*e++ = (uint8_t)(k->ext >> (8 * j));
	}
	if (k->flags & DS_REGEX)
		for (int j = 0; j < 4; j++)
			*e++ = (uint8_t)(k->rx >> (8 * j));
	*off = (size_t)(e - bk);
}

/* Write the buckets: count, tags, entries; "more" bits; the filter. */
static void
fill(struct build *b, const uint32_t *order)
{
	uint8_t *bloom = b->table + (size_t)DS_BK * b->nbuckets;
	uint32_t bmask = (UINT32_C(1) << b->bloom_bits) - 1;

	for (size_t i = 0, j; i < b->nkeys; i = j) {
		uint32_t at = b->keys[order[i]].bucket;
		uint8_t *bk = b->table + (size_t)DS_BK * at;
		size_t off;

		for (j = i; j < b->nkeys && b->keys[order[j]].bucket == at; j++)
			;
		bk[0] = (uint8_t)(j - i);
		off = 1 + (j - i);
		for (size_t k = i; k < j; k++)
			put_entry(bk, k - i, &off, &b->keys[order[k]]);
	}
	for (size_t i = 0; i < b->nkeys; i++) {
		const struct key *k = &b->keys[i];
		uint32_t bit = ds_bloom_bit(k->h, bmask);

		if (k->bucket != k->alt)
			for (size_t h = k->home; h < k->bucket; h++)
				b->table[DS_BK * h] |= DS_BK_MORE;
		bloom[bit >> 3] |= (uint8_t)(1u << (bit & 7));
	}
}

/*
 * Buckets about 4/5 full, so most lookups read one or two cache lines at
 * the same time; a filter of 8 bits or more per key in front, so most
 * absent names read none.
 */
static int
build_table(struct build *b)
{
	size_t total = 0;
	uint32_t *order;

	for (size_t i = 0; i < b->nkeys; i++)
		total += entry_size(&b->keys[i]);
	b->nhome = total * 5 / 4 / (DS_BK - 1) + 1;
	for (b->bloom_bits = 6; ((size_t)1 << b->bloom_bits) < 8 * b->nkeys;
	    b->bloom_bits++)
		;
	if (b->nhome > UINT32_MAX / 4 || b->bloom_bits > 31)
		return fail(b, "domain set: too many patterns");
	for (size_t i = 0; i < b->nkeys; i++) {
		b->keys[i].home = ds_home(b->keys[i].h, b->nhome);
		b->keys[i].alt = ds_alt(b->keys[i].h, b->nhome);
	}
	if (place(b) == -1 || (order = by_bucket(b)) == NULL)
		return -1;
	b->table_len = (size_t)DS_BK * b->nbuckets +
	    ((size_t)1 << b->bloom_bits) / 8;
	if ((b->table = calloc(1, b->table_len)) != NULL)
		fill(b, order);
	free(order);
	return b->table != NULL ? 0 : fail(b, "domain set: out of memory");
}

/* ---- the blob and the record ---- */

static size_t
align(size_t n, size_t a)
{
	return (n + a - 1) & ~(a - 1);
}

/* The blob starts 8-aligned in BLOB; pad so the buckets start on a cache
 * line of the section (which the image starts on a cache line). */
static size_t
table_pad(struct sl_img_builder *ib)
{
	size_t at = align(sl_imgb_count(ib, SL_SECT_BLOB, 1), 8);

	return (DS_BK - at % DS_BK) % DS_BK;
}

/* Offsets of each part; the blob length. */
static size_t
layout(struct build *b, struct sl_img_builder *ib, struct sl_img_domset *d)
{
	size_t off = 0, filter = b->aco.stride ? DS_FILTER_LEN : 0;
	uint32_t *p = d->param;

	p[DS_P_FLAGS] = (b->match_all ? DS_MATCH_ALL : 0) |
	    (b->nac ? DS_HAS_AC : 0);
	if (filter)
		p[DS_P_FLAGS] |= DS_AC_FILTER | (b->aco.stride - 1) << 19;
	if (b->nkeys > 0) {
		off = table_pad(ib);
		p[DS_P_FLAGS] |= b->bloom_bits;
		p[DS_P_TABLE] = (uint32_t)off;
		p[DS_P_NHOME] = (uint32_t)b->nhome;
		p[DS_P_NBUCKETS] = (uint32_t)b->nbuckets;
		off += b->table_len;
		p[DS_P_EXT] = (uint32_t)off;
		off += b->ext_len;
	}
	off = align(off, 8);
	if (b->nac > 0) {
		p[DS_P_AC] = (uint32_t)off;
		off += sizeof(struct ds_achdr) + filter + 256 +
		    (size_t)b->aco.rows * b->aco.ncl * 4;
	}
	p[DS_P_LISTS] = (uint32_t)off;
	return off + b->words.n * 4;
}

static int
emit(struct build *b, struct sl_img_builder *ib, struct sl_img_domset *d)
{
	size_t len = layout(b, ib, d), filter = b->aco.stride ?
	    DS_FILTER_LEN : 0;
	struct ds_achdr h = { b->aco.ncl, b->aco.rows, b->aco.out, 0 };
	uint8_t *blob, *ac;

	if (len > UINT32_MAX || (blob = calloc(1, len ? len : 1)) == NULL)
		return fail(b, "domain set: too large");
	if (b->nkeys > 0) {
		memcpy(blob + d->param[DS_P_TABLE], b->table, b->table_len);
		if (b->ext_len > 0)
			memcpy(blob + d->param[DS_P_EXT], b->ext, b->ext_len);
	}
	if (b->nac > 0) {
		ac = blob + d->param[DS_P_AC];
		memcpy(ac, &h, sizeof(h));
		memcpy(ac + sizeof(h), b->aco.filter, filter);
		memcpy(ac + sizeof(h) + filter, b->aco.cls, 256);
		memcpy(ac + sizeof(h) + filter + 256, b->aco.tr,
		    (size_t)b->aco.rows * b->aco.ncl * 4);
	}
	if (b->words.n > 0)
		memcpy(blob + d->param[DS_P_LISTS], b->words.v,
		    b->words.n * 4);
	d->blob_len = (uint32_t)len;
	/* An empty set has no bytes (and BLOB may still have no buffer). */
	d->blob_off = len > 0 ? sl_imgb_blob(ib, blob, len) : 0;
	free(blob);
	return 0;
}

uint32_t
sl_domset_build(struct sl_img_builder *ib, const struct sl_dom_pat *p,
    size_t n, const char **err)
{
	struct sl_img_domset d;
	struct build b;
	uint32_t rx = 0, r = SL_IMG_NONE;

	memset(&d, 0, sizeof(d));
	if (build_init(&b, p, n) == -1 ||
	    add_regexes(&b, ib, p, n, &d.regex_first) == -1)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (add_pattern(&b, &p[i], &rx) == -1)
			goto out;
	if (build_lists(&b) == -1 || (b.nkeys > 0 && (build_ext(&b) == -1 ||
	    build_table(&b) == -1)) ||
	    emit(&b, ib, &d) == -1)
		goto out;
	d.nentries = (uint32_t)n;
	d.regex_count = b.nregex;
	r = sl_imgb_add(ib, SL_SECT_DOMSETS, &d, sizeof(d));
out:
	if (r == SL_IMG_NONE)
		*err = b.err ? b.err : "domain set: out of memory";
	build_free(&b);
	return r;
}
