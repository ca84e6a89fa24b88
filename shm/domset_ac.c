/*
 * domset_ac: build the Aho-Corasick automaton of a domain set: a trie of
 * the strings, failure links, then a complete DFA over byte classes in
 * which a state that ends a SUBSTR pattern is a final "hit" and states
 * that end regex literals list those regexes.
 */
#include <stdlib.h>
#include <string.h>

#include "shm/domset_ac.h"

#define NONE	UINT32_MAX

struct acb {
	const struct ds_acpat *pat;
	size_t		 npat;
	uint32_t	 ncl;
	uint8_t		 cls[256];
	int32_t		*go;		/* n * ncl, -1 = none yet */
	uint32_t	*fail;
	uint32_t	*dict;		/* nearest state on the failure chain
					 * that ends a regex literal */
	uint32_t	*own;		/* first string ending here (NONE) */
	uint32_t	*next;		/* per string: next ending at its state */
	uint32_t	*queue, *id;
	uint8_t		*kw;		/* ends a SUBSTR, itself or by failure */
	uint32_t	 n, cap;
};

static void
classes(struct acb *a)
{
	uint8_t used[256] = { 0 };
	uint32_t k = 0;
	int all = 1;

	for (size_t i = 0; i < a->npat; i++)
		for (uint32_t j = 0; j < a->pat[i].len; j++)
			used[a->pat[i].s[j]] = 1;
	for (int c = 0; c < 256; c++)
		all &= used[c];
	/* Class 0 is every byte no string has, unless there is none. */
	for (int c = 0; c < 256; c++)
		a->cls[c] = used[c] ? (uint8_t)(all ? k++ : ++k) : 0;
	a->ncl = all ? 256 : k + 1;
}

static int
alloc(struct acb *a, const char **err)
{
	uint64_t cap = 1;

	for (size_t i = 0; i < a->npat; i++)
		cap += a->pat[i].len;
	if (cap * a->ncl > DS_MAX_AC) {
		*err = "domain set: keyword automaton too large";
		return -1;
	}
	a->cap = (uint32_t)cap;
	a->n = 1;
	a->go = malloc(cap * a->ncl * sizeof(*a->go));
	a->fail = calloc(cap, sizeof(*a->fail));
	a->dict = malloc(cap * sizeof(*a->dict));
	a->own = malloc(cap * sizeof(*a->own));
	a->next = malloc((a->npat + 1) * sizeof(*a->next));
	a->queue = malloc(cap * sizeof(*a->queue));
	a->id = malloc(cap * sizeof(*a->id));
	a->kw = calloc(cap, 1);
	if (a->go == NULL || a->fail == NULL || a->dict == NULL ||
	    a->own == NULL || a->next == NULL || a->queue == NULL ||
	    a->id == NULL || a->kw == NULL) {
		*err = "domain set: out of memory";
		return -1;
	}
	memset(a->go, 0xff, cap * a->ncl * sizeof(*a->go));
	memset(a->own, 0xff, cap * sizeof(*a->own));
	memset(a->dict, 0xff, cap * sizeof(*a->dict));
	return 0;
}

static void
acb_free(struct acb *a)
{
	free(a->go);
	free(a->fail);
	free(a->dict);
	free(a->own);
	free(a->next);
	free(a->queue);
	free(a->id);
	free(a->kw);
}

static void
insert(struct acb *a)
{
	for (size_t i = 0; i < a->npat; i++) {
		const struct ds_acpat *p = &a->pat[i];
		uint32_t s = 0;

		for (uint32_t j = 0; j < p->len; j++) {
			int32_t *g = &a->go[(size_t)s * a->ncl + a->cls[p->s[j]]];

			if (*g < 0)
				*g = (int32_t)a->n++;
			s = (uint32_t)*g;
		}
		if (p->rx == DS_AC_SUBSTR)
			a->kw[s] = 1;
		else {
			a->next[i] = a->own[s];
			a->own[s] = (uint32_t)i;
		}
	}
}

/* Failure links in breadth-first order, completing each row into a DFA
 * row as it is dequeued (its failure state's row is complete by then). */
static void
link_fail(struct acb *a)
{
	uint32_t head = 0, tail = 1;

	a->queue[0] = 0;
	while (head < tail) {
		uint32_t u = a->queue[head++];
		int32_t *row = &a->go[(size_t)u * a->ncl];
		const int32_t *frow = &a->go[(size_t)a->fail[u] * a->ncl];

		for (uint32_t c = 0; c < a->ncl; c++) {
			uint32_t v, f;

			if (row[c] < 0) {
				row[c] = u == 0 ? 0 : frow[c];
				continue;
			}
			v = (uint32_t)row[c];
			f = u == 0 ? 0 : (uint32_t)frow[c];
			a->fail[v] = f;
			a->kw[v] |= a->kw[f];
			a->dict[v] = a->own[f] != NONE ? f : a->dict[f];
			a->queue[tail++] = v;
		}
	}
}

static int
has_rx(const struct acb *a, uint32_t s)
{
	return a->own[s] != NONE || a->dict[s] != NONE;
}

/* Number the states a lookup can be in (a SUBSTR end stops it): those
 * without regexes first, then the others.  Returns how many; they are
 * QUEUE[0, n). */
static uint32_t
number(struct acb *a, struct ds_ac *o)
{
	uint32_t head = 0, tail = 1, rows = 0;

	memset(a->id, 0xff, a->cap * sizeof(*a->id));
	a->queue[0] = 0;
	a->id[0] = 0;
	while (head < tail) {
		const int32_t *row = &a->go[(size_t)a->queue[head++] * a->ncl];

		for (uint32_t c = 0; c < a->ncl; c++) {
			uint32_t v = (uint32_t)row[c];

			if (!a->kw[v] && a->id[v] == NONE) {
				a->id[v] = 0;
				a->queue[tail++] = v;
			}
		}
	}
	for (uint32_t i = 0; i < tail; i++)
		if (!has_rx(a, a->queue[i]))
			a->id[a->queue[i]] = rows++;
	o->out = rows;
	for (uint32_t i = 0; i < tail; i++)
		if (has_rx(a, a->queue[i]))
			a->id[a->queue[i]] = rows++;
	o->rows = rows;
	return tail;
}

static int
emit(struct acb *a, struct ds_ac *o, const char **err)
{
	memcpy(o->cls, a->cls, sizeof(o->cls));
	o->ncl = a->ncl;
	o->tr = malloc((size_t)o->rows * a->ncl * sizeof(*o->tr));
	if (o->tr == NULL) {
		*err = "domain set: out of memory";
		return -1;
	}
	for (uint32_t i = 0; i < o->rows; i++) {
		uint32_t s = a->queue[i];
		const int32_t *row = &a->go[(size_t)s * a->ncl];
		uint32_t *out = &o->tr[(size_t)a->id[s] * a->ncl];

		for (uint32_t c = 0; c < a->ncl; c++)
			out[c] = a->kw[row[c]] ? DS_HIT :
			    a->id[row[c]] * a->ncl;
	}
	return 0;
}

/* The regexes of output row R (state S): those of S and of every state
 * on its failure chain (shorter literals it ends with), each once. */
static void
row_list(const struct acb *a, struct ds_ac *o, uint32_t r, uint32_t s,
    uint32_t *stamp, uint32_t *n)
{
	o->first[r] = *n;
	for (uint32_t t = s; t != NONE; t = a->dict[t])
		for (uint32_t p = a->own[t]; p != NONE; p = a->next[p])
			if (stamp[a->pat[p].rx] != r) {
				stamp[a->pat[p].rx] = r;
				o->rx[(*n)++] = a->pat[p].rx;
			}
}

static int
lists(struct acb *a, struct ds_ac *o, const char **err)
{
	uint32_t nout = o->rows - o->out, maxrx = 0, n = 0, *stamp, *state;
	size_t cap = 0;

	for (size_t i = 0; i < a->npat; i++)
		if (a->pat[i].rx != DS_AC_SUBSTR && a->pat[i].rx >= maxrx)
			maxrx = a->pat[i].rx + 1;
	for (uint32_t i = 0; i < o->rows; i++)
		for (uint32_t t = a->queue[i]; t != NONE; t = a->dict[t])
			for (uint32_t p = a->own[t]; p != NONE; p = a->next[p])
				cap++;
	o->first = calloc(nout + 1, sizeof(*o->first));
	o->rx = malloc((cap + 1) * sizeof(*o->rx));
	stamp = malloc((maxrx + 1) * sizeof(*stamp));
	state = malloc((nout + 1) * sizeof(*state));
	if (o->first == NULL || o->rx == NULL || stamp == NULL ||
	    state == NULL) {
		free(stamp);
		free(state);
		*err = "domain set: out of memory";
		return -1;
	}
	memset(stamp, 0xff, (maxrx + 1) * sizeof(*stamp));
	for (uint32_t i = 0; i < o->rows; i++)
		if (a->id[a->queue[i]] >= o->out)
			state[a->id[a->queue[i]] - o->out] = a->queue[i];
	for (uint32_t r = 0; r < nout; r++)
		row_list(a, o, r, state[r], stamp, &n);
	o->first[nout] = n;
	free(stamp);
	free(state);
	return 0;
}

/* How many of the grams of S at J, J + 1, ... the keys have. */
static uint32_t
gram_cost(const uint16_t *count, const uint8_t *s, size_t j, size_t stride)
{
	uint32_t sum = 0;

	for (size_t k = 0; k < stride; k++)
		sum += count[ds_gram(s + j + k)];
	return sum;
}

/*
 * The prefilter: for each string, STRIDE consecutive 4-byte pieces, those
 * rarest among the set's own keys (a sample of real names) so that few
 * names pass by chance.  A lookup tests every STRIDE-th position.  Needs
 * every string to be 4 bytes or more.
 */
static void
prefilter(struct ds_ac *o, const struct ds_acpat *pat, size_t n,
    const uint16_t *count)
{
	size_t minlen = SIZE_MAX, stride, best, j;

	for (size_t i = 0; i < n; i++)
		if (pat[i].len < minlen)
			minlen = pat[i].len;
	if (minlen < 4)
		return;
	stride = minlen - 3 < 4 ? minlen - 3 : 4;
	for (size_t i = 0; i < n; i++) {
		for (best = 0, j = 1; j + 3 + stride <= pat[i].len; j++)
			if (gram_cost(count, pat[i].s, j, stride) <
			    gram_cost(count, pat[i].s, best, stride))
				best = j;
		for (j = best; j < best + stride; j++) {
			uint32_t g = ds_gram(pat[i].s + j);

			o->filter[g >> 3] |= (uint8_t)(1u << (g & 7));
		}
	}
	o->stride = (uint32_t)stride;
}

int
ds_ac_build(struct ds_ac *o, const struct ds_acpat *pat, size_t n,
    const uint16_t *count, const char **err)
{
	struct acb a;
	int r = -1;

	memset(o, 0, sizeof(*o));
	memset(&a, 0, sizeof(a));
	a.pat = pat;
	a.npat = n;
	classes(&a);
	if (alloc(&a, err) == 0) {
		insert(&a);
		link_fail(&a);
		number(&a, o);
		if (emit(&a, o, err) == 0 && lists(&a, o, err) == 0)
			r = 0;
	}
	prefilter(o, pat, n, count);
	acb_free(&a);
	return r;
}

void
ds_ac_free(struct ds_ac *o)
{
	free(o->tr);
	free(o->first);
	free(o->rx);
	o->tr = o->first = o->rx = NULL;
}
