/* counters: the shared counters region (see counters.h). */
#include <sys/mman.h>

#include <string.h>

#include "shm/counters.h"

struct sl_cnt_region *
sl_cnt_create(void)
{
	/* Hundreds of megabytes of address space, but only the pages of
	 * ids in use are ever touched: reserve no swap for the rest. */
	void *p = mmap(NULL, sizeof(struct sl_cnt_region),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE,
	    -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void
sl_cnt_destroy(struct sl_cnt_region *r)
{
	if (r != NULL)
		munmap(r, sizeof(*r));
}

static void
zero(_Atomic uint64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		atomic_store_explicit(&v[i], 0, memory_order_relaxed);
}

#define WORDS(a)	(sizeof(a) / (sizeof(_Atomic uint64_t)))

void
sl_cnt_reset(struct sl_cnt_slot *s, uint32_t nusers, uint32_t ntags)
{
	if (s == NULL)
		return;
	if (nusers > SL_CNT_USERS)
		nusers = SL_CNT_USERS;
	if (ntags > SL_CNT_TAGS)
		ntags = SL_CNT_TAGS;
	atomic_store_explicit(&s->accepted, 0, memory_order_relaxed);
	atomic_store_explicit(&s->active, 0, memory_order_relaxed);
	zero(&s->in[0].accepted, WORDS(s->in));
	zero(&s->tin[0].up, ntags * WORDS(s->tin[0]));
	zero(&s->tout[0].up, ntags * WORDS(s->tout[0]));
	zero(&s->user[0].up, nusers * WORDS(s->user[0]));
}

void
sl_cnt_user_set(struct sl_cnt_region *r, uint32_t id, enum sl_cnt_ustate st,
    uint32_t max_conn)
{
	if (r != NULL && id < SL_CNT_USERS)
		atomic_store_explicit(&r->ustate[id],
		    (uint64_t)st << 32 | max_conn, memory_order_relaxed);
}

/* The only writer of the slot: a plain load and store, no locked op. */
static void
bump(_Atomic uint64_t *v, int64_t by)
{
	uint64_t x = atomic_load_explicit(v, memory_order_relaxed);

	atomic_store_explicit(v, x + (uint64_t)by, memory_order_relaxed);
}

void
sl_cnt_open(struct sl_cnt_slot *s, uint32_t inbound)
{
	if (s == NULL)
		return;
	bump(&s->accepted, 1);
	bump(&s->active, 1);
	if (inbound < SL_CNT_INBOUNDS) {
		bump(&s->in[inbound].accepted, 1);
		bump(&s->in[inbound].active, 1);
	}
}

void
sl_cnt_close(struct sl_cnt_slot *s, uint32_t inbound)
{
	if (s == NULL)
		return;
	bump(&s->active, -1);
	if (inbound < SL_CNT_INBOUNDS)
		bump(&s->in[inbound].active, -1);
}

/* The traffic records IDS name in S; absent ones are NULL. */
static void
records(struct sl_cnt_slot *s, const struct sl_cnt_ids *ids,
    struct sl_cnt_traffic *t[3])
{
	t[0] = ids->user < SL_CNT_USERS ? &s->user[ids->user] : NULL;
	t[1] = ids->tin < SL_CNT_TAGS ? &s->tin[ids->tin] : NULL;
	t[2] = ids->tout < SL_CNT_TAGS ? &s->tout[ids->tout] : NULL;
}

static void
proxy_bump(struct sl_cnt_slot *s, const struct sl_cnt_ids *ids, int by)
{
	struct sl_cnt_traffic *t[3];

	if (s == NULL)
		return;
	records(s, ids, t);
	for (int i = 0; i < 3; i++)
		if (t[i] != NULL) {
			if (by > 0)
				bump(&t[i]->conns, 1);
			bump(&t[i]->active, by);
		}
}

void
sl_cnt_proxy_open(struct sl_cnt_slot *s, const struct sl_cnt_ids *ids)
{
	proxy_bump(s, ids, 1);
}

void
sl_cnt_proxy_close(struct sl_cnt_slot *s, const struct sl_cnt_ids *ids)
{
	proxy_bump(s, ids, -1);
}

void
sl_cnt_bytes(struct sl_cnt_slot *s, const struct sl_cnt_ids *ids,
    uint64_t up, uint64_t down)
{
	struct sl_cnt_traffic *t[3];

	if (s == NULL || (up == 0 && down == 0))
		return;
	records(s, ids, t);
	for (int i = 0; i < 3; i++)
		if (t[i] != NULL) {
			bump(&t[i]->up, (int64_t)up);
			bump(&t[i]->down, (int64_t)down);
		}
}

enum sl_cnt_ustate
sl_cnt_user_state(const struct sl_cnt_region *r, uint32_t id,
    uint32_t *max_conn)
{
	uint64_t w;

	*max_conn = 0;
	if (r == NULL || id >= SL_CNT_USERS)
		return SL_CNT_OK;
	w = atomic_load_explicit(&r->ustate[id], memory_order_relaxed);
	*max_conn = (uint32_t)w;
	return (enum sl_cnt_ustate)(w >> 32);
}

uint64_t
sl_cnt_user_active(const struct sl_cnt_region *r, uint32_t id)
{
	uint32_t n;
	uint64_t sum = 0;

	if (r == NULL || id >= SL_CNT_USERS)
		return 0;
	n = atomic_load_explicit(&r->nslots, memory_order_relaxed);
	for (uint32_t i = 0; i < n && i < SL_CNT_SLOTS; i++)
		sum += atomic_load_explicit(&r->slot[i].user[id].active,
		    memory_order_relaxed);
	return sum;
}

const char *
sl_cnt_ustate_text(enum sl_cnt_ustate st)
{
	switch (st) {
	case SL_CNT_OK:
		return "ok";
	case SL_CNT_DISABLED:
		return "disabled";
	case SL_CNT_EXPIRED:
		return "expired";
	case SL_CNT_QUOTA:
		return "over quota";
	case SL_CNT_REMOVED:
		return "removed";
	}
	return "refused";
}

uint64_t
sl_cnt_get(const _Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}
