/* counters: the shared counters region (see counters.h). */
#include <sys/mman.h>

#include <string.h>

#include "shm/counters.h"

struct sl_cnt_region *
sl_cnt_create(void)
{
	void *p = mmap(NULL, sizeof(struct sl_cnt_region),
	    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void
sl_cnt_destroy(struct sl_cnt_region *r)
{
	if (r != NULL)
		munmap(r, sizeof(*r));
}

void
sl_cnt_reset(struct sl_cnt_slot *s)
{
	atomic_store_explicit(&s->accepted, 0, memory_order_relaxed);
	atomic_store_explicit(&s->active, 0, memory_order_relaxed);
	for (int i = 0; i < SL_CNT_INBOUNDS; i++) {
		atomic_store_explicit(&s->in[i].accepted, 0,
		    memory_order_relaxed);
		atomic_store_explicit(&s->in[i].active, 0,
		    memory_order_relaxed);
	}
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

uint64_t
sl_cnt_get(const _Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}
