/* cnames: counter ids of emails and tags (see cnames.h). */
#include <stdlib.h>
#include <string.h>

#include "master/cnames.h"
#include "shm/counters.h"
#include "shm/types.h"

/* Open addressing over ids; a kind's table is at least twice its names. */
struct kind {
	char		**name;		/* by id */
	uint32_t	 n, cap, max;
	uint32_t	*slot;		/* id + 1, 0 = empty */
	uint32_t	 nslot;		/* power of two */
	int		 full;
};

struct sl_cnames {
	struct kind	 k[SL_CN_KINDS];
};

struct sl_cnames *
sl_cnames_new(void)
{
	struct sl_cnames *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->k[SL_CN_USER].max = SL_CNT_USERS;
	c->k[SL_CN_INBOUND].max = c->k[SL_CN_OUTBOUND].max = SL_CNT_TAGS;
	return c;
}

void
sl_cnames_free(struct sl_cnames *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < SL_CN_KINDS; i++) {
		for (uint32_t j = 0; j < c->k[i].n; j++)
			free(c->k[i].name[j]);
		free(c->k[i].name);
		free(c->k[i].slot);
	}
	free(c);
}

/* The table slot holding NAME, or the empty one where it would go. */
static uint32_t *
lookup(const struct kind *k, const char *name)
{
	uint32_t mask = k->nslot - 1, i = sl_str_hash(name) & mask;

	while (k->slot[i] != 0 && strcmp(k->name[k->slot[i] - 1], name) != 0)
		i = (i + 1) & mask;
	return &k->slot[i];
}

static int
rehash(struct kind *k)
{
	uint32_t nslot = k->nslot ? k->nslot * 2 : 64;
	uint32_t *old = k->slot, oldn = k->nslot;

	if ((k->slot = calloc(nslot, sizeof(*k->slot))) == NULL) {
		k->slot = old;
		return -1;
	}
	k->nslot = nslot;
	for (uint32_t i = 0; i < oldn; i++)
		if (old[i] != 0)
			*lookup(k, k->name[old[i] - 1]) = old[i];
	free(old);
	return 0;
}

static uint32_t
add(struct kind *k, const char *name, uint32_t *slot)
{
	char **v;

	if (k->n == k->max) {
		k->full = 1;
		return SL_CNT_NONE;
	}
	if (k->n == k->cap) {
		uint32_t cap = k->cap ? k->cap * 2 : 64;

		if ((v = realloc(k->name, cap * sizeof(*v))) == NULL)
			return SL_CNT_NONE;
		k->name = v;
		k->cap = cap;
	}
	if ((k->name[k->n] = strdup(name)) == NULL)
		return SL_CNT_NONE;
	*slot = ++k->n;
	return k->n - 1;
}

uint32_t
sl_cnames_id(struct sl_cnames *c, enum sl_cn_kind kind, const char *name)
{
	struct kind *k;
	uint32_t *slot;

	if (c == NULL || name == NULL || *name == '\0')
		return SL_CNT_NONE;
	k = &c->k[kind];
	if ((k->n + 1) * 2 > k->nslot && rehash(k) == -1)
		return SL_CNT_NONE;
	slot = lookup(k, name);
	return *slot != 0 ? *slot - 1 : add(k, name, slot);
}

uint32_t
sl_cnames_find(const struct sl_cnames *c, enum sl_cn_kind kind,
    const char *name)
{
	const struct kind *k;
	uint32_t *slot;

	if (c == NULL || name == NULL || *name == '\0' ||
	    c->k[kind].nslot == 0)
		return SL_CNT_NONE;
	k = &c->k[kind];
	slot = lookup(k, name);
	return *slot != 0 ? *slot - 1 : SL_CNT_NONE;
}

uint32_t
sl_cnames_count(const struct sl_cnames *c, enum sl_cn_kind kind)
{
	return c != NULL ? c->k[kind].n : 0;
}

const char *
sl_cnames_name(const struct sl_cnames *c, enum sl_cn_kind kind, uint32_t id)
{
	return c != NULL && id < c->k[kind].n ? c->k[kind].name[id] : NULL;
}

int
sl_cnames_full(const struct sl_cnames *c, enum sl_cn_kind kind)
{
	return c != NULL && c->k[kind].full;
}
