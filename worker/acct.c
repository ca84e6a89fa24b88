/* acct: accounting and admission in a worker (see acct.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm/counters.h"
#include "worker/acct.h"
#include "worker/vless.h"

void
sl_acct_init(struct sl_conn *c)
{
	c->ids.user = c->ids.tin = c->ids.tout = SL_CNT_NONE;
}

static const char *
refuse(struct sl_conn *c, const char *email, const char *why)
{
	size_t len = strlen(email) + strlen(why) + 8;

	free(c->refusal);
	if ((c->refusal = malloc(len)) == NULL)
		return why;
	snprintf(c->refusal, len, "user %s %s", email, why);
	return c->refusal;
}

const char *
sl_acct_admit(struct sl_conn *c, uint32_t id)
{
	const struct sl_cnt_region *r = c->w->cntr;
	enum sl_cnt_ustate st;
	uint32_t max;

	st = sl_cnt_user_state(r, id, &max);
	if (st != SL_CNT_OK)
		return refuse(c, c->email, sl_cnt_ustate_text(st));
	/* The slots' sum lags other workers by their last accept, so
	 * simultaneous logins may pass the limit by one per worker. */
	if (max > 0 && sl_cnt_user_active(r, id) >= max)
		return refuse(c, c->email, "over its connection limit");
	c->ids.user = id;
	c->ids.tin = c->in->cnt;
	sl_cnt_proxy_open(c->w->cnt, &c->ids);
	return NULL;
}

void
sl_acct_outbound(struct sl_conn *c)
{
	struct sl_cnt_ids o = { SL_CNT_NONE, SL_CNT_NONE, SL_CNT_NONE };

	if (c->ids.tout != SL_CNT_NONE)
		return;
	c->ids.tout = o.tout = SL_IMG_REC(&c->g->img, SL_SECT_OUTBOUNDS,
	    struct sl_img_outbound, c->outbound)->cnt;
	sl_cnt_proxy_open(c->w->cnt, &o);
}

/* Payload only: the VLESS response header is sluice's, not the user's. */
static void
sync_bytes(struct sl_conn *c)
{
	uint64_t up, down, hdr = 0;

	sl_relay_moved(c, &up, &down);
	if (c->in->protocol == SL_IMG_IN_VLESS)
		hdr = SL_VLESS_RESPONSE_LEN;
	down = down > hdr ? down - hdr : 0;
	if (up > c->acct_up || down > c->acct_down) {
		sl_cnt_bytes(c->w->cnt, &c->ids, up - c->acct_up,
		    down > c->acct_down ? down - c->acct_down : 0);
		c->acct_up = up;
		if (down > c->acct_down)
			c->acct_down = down;
	}
}

static int
counted(const struct sl_conn *c)
{
	return c->ids.user != SL_CNT_NONE || c->ids.tin != SL_CNT_NONE ||
	    c->ids.tout != SL_CNT_NONE;
}

void
sl_acct_close(struct sl_conn *c)
{
	if (counted(c)) {
		sync_bytes(c);
		sl_cnt_proxy_close(c->w->cnt, &c->ids);
	}
	free(c->refusal);
	c->refusal = NULL;
}

static void
tick(struct sl_timer *t)
{
	struct sl_wctx *w = t->data;
	const struct sl_cnt_region *r = w->cntr;
	struct sl_conn *c, *next;
	uint64_t epoch = r ? atomic_load_explicit(&r->epoch,
	    memory_order_relaxed) : 0;
	int recheck = epoch != w->acct_epoch;
	enum sl_cnt_ustate st;
	uint32_t max;

	w->acct_epoch = epoch;
	for (c = w->conns; c != NULL; c = next) {
		next = c->next;
		if (!counted(c))
			continue;
		sync_bytes(c);
		if (recheck && c->ids.user != SL_CNT_NONE &&
		    (st = sl_cnt_user_state(r, c->ids.user, &max)) !=
		    SL_CNT_OK)
			sl_conn_close(c, refuse(c, c->email,
			    sl_cnt_ustate_text(st)));
	}
	sl_timer_add(w->loop, t, SL_ACCT_TICK_MS);
}

void
sl_acct_start(struct sl_wctx *w)
{
	if (w->cntr != NULL)
		w->acct_epoch = atomic_load_explicit(&w->cntr->epoch,
		    memory_order_relaxed);
	sl_timer_init(&w->acct_timer, tick, w);
	sl_timer_add(w->loop, &w->acct_timer, SL_ACCT_TICK_MS);
}

void
sl_acct_stop(struct sl_wctx *w)
{
	if (w->loop != NULL)
		sl_timer_del(w->loop, &w->acct_timer);
}
