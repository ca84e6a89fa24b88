/* healthping: burst ping samples and their statistics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "worker/healthping.h"

int
sl_hp_init(struct sl_hp_ring *r, uint32_t cap, uint64_t validity_ms)
{
	memset(r, 0, sizeof(*r));
	if (cap == 0)
		cap = 1;
	if ((r->s = calloc(cap, sizeof(*r->s))) == NULL)
		return -1;
	r->cap = cap;
	r->validity_ms = validity_ms;
	return 0;
}

void
sl_hp_free(struct sl_hp_ring *r)
{
	free(r->s);
	memset(r, 0, sizeof(*r));
}

void
sl_hp_put(struct sl_hp_ring *r, uint64_t now_ms, uint64_t rtt_us)
{
	if (r->cap == 0)
		return;
	r->s[r->next].at_ms = now_ms;
	r->s[r->next].rtt_us = rtt_us == 0 ? 1 : rtt_us;
	r->next = (r->next + 1) % r->cap;
}

static int
valid(const struct sl_hp_ring *r, const struct sl_hp_sample *s,
    uint64_t now_ms)
{
	/* Go: skipped when time.Since(put) > validity. */
	return s->rtt_us != 0 && now_ms - s->at_ms <= r->validity_ms;
}

void
sl_hp_stats(const struct sl_hp_ring *r, uint64_t now_ms,
    struct sl_hp_stats *st)
{
	uint64_t sum = 0, cnt = 0;
	double var = 0;

	memset(st, 0, sizeof(*st));
	st->min_us = UINT64_MAX;
	for (uint32_t i = 0; i < r->cap; i++) {
		const struct sl_hp_sample *s = &r->s[i];

		if (!valid(r, s, now_ms))
			continue;
		if (s->rtt_us == SL_HP_FAILED) {
			st->fail++;
			continue;
		}
		cnt++;
		sum += s->rtt_us;
		if (s->rtt_us > st->max_us)
			st->max_us = s->rtt_us;
		if (s->rtt_us < st->min_us)
			st->min_us = s->rtt_us;
	}
	st->all = (uint32_t)cnt + st->fail;
	if (cnt == 0) {
		st->min_us = 0;
		return;
	}
	st->avg_us = sum / cnt;
	if (cnt < 2) {
		st->dev_us = st->avg_us / 2;
		return;
	}
	for (uint32_t i = 0; i < r->cap; i++) {
		const struct sl_hp_sample *s = &r->s[i];
		double d;

		if (!valid(r, s, now_ms) || s->rtt_us == SL_HP_FAILED)
			continue;
		d = (double)s->rtt_us - (double)st->avg_us;
		var += d * d;
	}
	st->dev_us = (uint64_t)sqrt(var / (double)cnt);
}
