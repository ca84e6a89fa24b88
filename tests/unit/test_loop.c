/*
 * test_loop: the worker event loop (worker/loop.c): fd dispatch, the timer
 * heap, callbacks that re-arm, delete or free things mid-iteration.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "worker/loop.h"

#define DEADLINE_MS	5000

/* Run the loop until *done or 5 s, whichever comes first. */
static void
run_until(struct sl_loop *loop, const int *done)
{
	uint64_t end = sl_loop_now(loop) + DEADLINE_MS;

	while (!*done && sl_loop_now(loop) < end)
		assert_true(sl_loop_once(loop, 100) >= 0);
	assert_true(*done);
}

/* ---- fd readiness ---- */

struct rd {
	struct sl_ev	 ev;
	int		 calls;
	uint32_t	 last;
};

static void
rd_cb(struct sl_ev *ev, uint32_t events)
{
	struct rd *r = ev->data;
	char buf[16];

	r->calls++;
	r->last = events;
	if (events & EPOLLIN)
		(void)!read(ev->fd, buf, sizeof(buf));
}

static void
test_pipe_dispatch(void **state)
{
	struct sl_loop *loop = sl_loop_new();
	struct rd r = { 0 }, w = { 0 };
	int p[2];

	(void)state;
	assert_non_null(loop);
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	sl_ev_init(&r.ev, p[0], rd_cb, &r);
	assert_int_equal(r.ev.events, 0);
	assert_int_equal(sl_ev_set(loop, &r.ev, EPOLLIN), 0);
	assert_int_equal(r.ev.events, EPOLLIN);

	/* Nothing to read: times out with no event. */
	assert_int_equal(sl_loop_once(loop, 20), 0);
	assert_int_equal(r.calls, 0);

	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(sl_loop_once(loop, 1000), 1);
	assert_int_equal(r.calls, 1);
	assert_true(r.last & EPOLLIN);

	/* Write end: writable at once; MOD then DEL. */
	sl_ev_init(&w.ev, p[1], rd_cb, &w);
	assert_int_equal(sl_ev_set(loop, &w.ev, EPOLLOUT), 0);
	assert_int_equal(sl_loop_once(loop, 1000), 1);
	assert_int_equal(w.calls, 1);
	assert_true(w.last & EPOLLOUT);
	assert_int_equal(sl_ev_set(loop, &w.ev, EPOLLOUT | EPOLLRDHUP), 0);
	assert_int_equal(w.ev.events, EPOLLOUT | EPOLLRDHUP);
	assert_int_equal(sl_ev_set(loop, &w.ev, 0), 0);
	assert_int_equal(w.ev.events, 0);

	/* Removed interest: no more callbacks even though data is there. */
	assert_int_equal(sl_ev_set(loop, &r.ev, 0), 0);
	assert_int_equal(write(p[1], "y", 1), 1);
	assert_int_equal(sl_loop_once(loop, 20), 0);
	assert_int_equal(r.calls, 1);

	/* Re-add: the pending byte is reported. */
	assert_int_equal(sl_ev_set(loop, &r.ev, EPOLLIN), 0);
	assert_int_equal(sl_loop_once(loop, 1000), 1);
	assert_int_equal(r.calls, 2);

	/* DEL after close is not an error (the close removed it). */
	close(p[0]);
	assert_int_equal(sl_ev_set(loop, &r.ev, 0), 0);
	close(p[1]);
	sl_loop_free(loop);
}

static void
test_ev_errors(void **state)
{
	struct sl_loop *loop = sl_loop_new();
	struct rd r = { 0 };
	int p[2];

	(void)state;
	/* A descriptor number that is certainly closed. */
	assert_int_equal(pipe(p), 0);
	close(p[0]);
	close(p[1]);
	sl_ev_init(&r.ev, p[0], rd_cb, &r);
	errno = 0;
	assert_int_equal(sl_ev_set(loop, &r.ev, EPOLLIN), -1);
	assert_int_equal(errno, EBADF);
	assert_int_equal(r.ev.events, 0);
	/* Removing what was never added is a no-op. */
	assert_int_equal(sl_ev_set(loop, &r.ev, 0), 0);
	sl_loop_free(loop);
}

/* A pipe whose read end reports EOF: the writer closed. */
static void
test_hup(void **state)
{
	struct sl_loop *loop = sl_loop_new();
	struct rd r = { 0 };
	int p[2];

	(void)state;
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	sl_ev_init(&r.ev, p[0], rd_cb, &r);
	assert_int_equal(sl_ev_set(loop, &r.ev, EPOLLIN), 0);
	close(p[1]);
	assert_int_equal(sl_loop_once(loop, 1000), 1);
	assert_true(r.last & EPOLLHUP);
	assert_int_equal(sl_ev_set(loop, &r.ev, 0), 0);
	close(p[0]);
	sl_loop_free(loop);
}

/* ---- timers ---- */

#define NTIMERS	300

struct tm_rec {
	struct sl_loop	*loop;
	struct sl_timer	 t[NTIMERS];
	uint64_t	 fired_at[NTIMERS];
	int		 order[NTIMERS];
	int		 nfired;
	int		 done;
};

static void
order_cb(struct sl_timer *t)
{
	struct tm_rec *r = t->data;
	int i = (int)(t - r->t);

	assert_false(sl_timer_armed(t));
	assert_true(t->at <= sl_loop_now(r->loop));
	r->fired_at[i] = t->at;
	r->order[r->nfired++] = i;
	if (r->nfired == NTIMERS)
		r->done = 1;
}

static void
test_timer_order(void **state)
{
	struct tm_rec *r = calloc(1, sizeof(*r));
	uint64_t start;
	int i;

	(void)state;
	srandom(42);
	r->loop = sl_loop_new();
	start = sl_loop_now(r->loop);
	for (i = 0; i < NTIMERS; i++) {
		sl_timer_init(&r->t[i], order_cb, r);
		assert_false(sl_timer_armed(&r->t[i]));
		sl_timer_add(r->loop, &r->t[i], (uint64_t)(random() % 80));
		assert_true(sl_timer_armed(&r->t[i]));
	}
	/* Re-arm a third of them to new random deadlines: they must move. */
	for (i = 0; i < NTIMERS; i += 3)
		sl_timer_add(r->loop, &r->t[i], (uint64_t)(random() % 80));
	run_until(r->loop, &r->done);
	for (i = 1; i < NTIMERS; i++)
		assert_true(r->fired_at[r->order[i - 1]] <=
		    r->fired_at[r->order[i]]);
	/* Nothing fired early. */
	assert_true(sl_loop_now(r->loop) >= start);
	sl_loop_free(r->loop);
	free(r);
}

/* Same deadline: fire in arming order. */
static void
test_timer_fifo(void **state)
{
	struct tm_rec *r = calloc(1, sizeof(*r));
	int i;

	(void)state;
	r->loop = sl_loop_new();
	for (i = 0; i < NTIMERS; i++) {
		sl_timer_init(&r->t[i], order_cb, r);
		sl_timer_add(r->loop, &r->t[i], 5);
	}
	run_until(r->loop, &r->done);
	for (i = 0; i < NTIMERS; i++)
		assert_int_equal(r->order[i], i);
	sl_loop_free(r->loop);
	free(r);
}

/* Random add/re-arm/del, then check that exactly the armed ones fire. */
static void
test_timer_churn(void **state)
{
	struct tm_rec *r = calloc(1, sizeof(*r));
	int armed[NTIMERS] = { 0 }, want = 0, i, k;

	(void)state;
	srandom(7);
	r->loop = sl_loop_new();
	for (i = 0; i < NTIMERS; i++)
		sl_timer_init(&r->t[i], order_cb, r);
	for (k = 0; k < 20000; k++) {
		i = (int)(random() % NTIMERS);
		if (random() % 3 == 0) {
			sl_timer_del(r->loop, &r->t[i]);
			sl_timer_del(r->loop, &r->t[i]);	/* idempotent */
			armed[i] = 0;
		} else {
			sl_timer_add(r->loop, &r->t[i],
			    (uint64_t)(random() % 50));
			armed[i] = 1;
		}
		assert_int_equal(sl_timer_armed(&r->t[i]), armed[i]);
	}
	for (i = 0; i < NTIMERS; i++)
		want += armed[i];
	for (k = 0; k < 100 && r->nfired < want; k++)
		assert_true(sl_loop_once(r->loop, 10) >= 0);
	assert_int_equal(r->nfired, want);
	for (i = 1; i < r->nfired; i++)
		assert_true(r->fired_at[r->order[i - 1]] <=
		    r->fired_at[r->order[i]]);
	for (i = 0; i < r->nfired; i++)
		assert_true(armed[r->order[i]]);
	sl_loop_free(r->loop);
	free(r);
}

/* Callbacks that re-arm themselves, delete others, add others. */
struct cb_rec {
	struct sl_loop	*loop;
	struct sl_timer	 a, b, c, d, self0;
	int		 a_calls, b_calls, c_calls, d_calls, s_calls;
	int		 iter, d_iter, c_iter;
};

static void
a_cb(struct sl_timer *t)
{
	struct cb_rec *r = t->data;

	/* a fires first (armed first, same deadline) and kills b. */
	sl_timer_del(r->loop, &r->b);
	if (++r->a_calls < 3)
		sl_timer_add(r->loop, t, 2);
	else
		sl_timer_del(r->loop, t);	/* disarmed already: no-op */
}

static void
b_cb(struct sl_timer *t)
{
	struct cb_rec *r = t->data;

	r->b_calls++;
}

static void
c_cb(struct sl_timer *t)
{
	struct cb_rec *r = t->data;

	r->c_calls++;
	r->c_iter = r->iter;
	/* A zero-delay timer armed from a callback fires next iteration. */
	sl_timer_add(r->loop, &r->d, 0);
}

static void
d_cb(struct sl_timer *t)
{
	struct cb_rec *r = t->data;

	r->d_calls++;
	r->d_iter = r->iter;
}

/* Re-arms itself with 0 forever: must not starve or spin one pass. */
static void
self0_cb(struct sl_timer *t)
{
	struct cb_rec *r = t->data;

	r->s_calls++;
	sl_timer_add(r->loop, t, 0);
}

static void
test_timer_callbacks(void **state)
{
	struct cb_rec r = { 0 };
	uint64_t end;
	int s_before;

	(void)state;
	r.loop = sl_loop_new();
	sl_timer_init(&r.a, a_cb, &r);
	sl_timer_init(&r.b, b_cb, &r);
	sl_timer_init(&r.c, c_cb, &r);
	sl_timer_init(&r.d, d_cb, &r);
	sl_timer_init(&r.self0, self0_cb, &r);
	sl_timer_add(r.loop, &r.a, 3);
	sl_timer_add(r.loop, &r.b, 3);
	sl_timer_add(r.loop, &r.c, 10);
	sl_timer_add(r.loop, &r.self0, 0);
	end = sl_loop_now(r.loop) + DEADLINE_MS;
	while (!(r.d_calls == 1 && r.a_calls == 3) && sl_loop_now(r.loop) < end) {
		s_before = r.s_calls;
		r.iter++;
		assert_true(sl_loop_once(r.loop, 100) >= 0);
		/* One pass runs the self-re-arming timer at most once. */
		assert_true(r.s_calls - s_before <= 1);
	}
	assert_int_equal(r.a_calls, 3);
	assert_int_equal(r.b_calls, 0);
	assert_int_equal(r.c_calls, 1);
	assert_int_equal(r.d_calls, 1);
	assert_int_equal(r.d_iter, r.c_iter + 1);
	assert_true(r.s_calls > 1);
	assert_false(sl_timer_armed(&r.a));
	assert_true(sl_timer_armed(&r.self0));
	sl_timer_del(r.loop, &r.self0);
	sl_loop_free(r.loop);
}

/* An idle loop waits for its next timer, not longer, not shorter. */
static void
test_timer_wait(void **state)
{
	struct cb_rec r = { 0 };
	uint64_t t0;

	(void)state;
	r.loop = sl_loop_new();
	sl_timer_init(&r.b, b_cb, &r);
	t0 = sl_loop_now(r.loop);
	sl_timer_add(r.loop, &r.b, 50);
	/* max_ms caps the wait: returns before the timer is due. */
	assert_int_equal(sl_loop_once(r.loop, 0), 0);
	assert_int_equal(r.b_calls, 0);
	while (r.b_calls == 0)
		assert_int_equal(sl_loop_once(r.loop, -1), 0);
	assert_true(sl_loop_now(r.loop) >= t0 + 50);
	assert_true(sl_loop_now(r.loop) < t0 + 50 + 1000);
	sl_loop_free(r.loop);
}

/* ---- freeing evs in the middle of a batch ---- */

#define NPAIRS	8

struct victim {
	struct sl_ev	*ev;		/* heap-allocated: ASan sees misuse */
	int		 p[2];
	int		 calls;
};

struct batch_rec {
	struct sl_loop	*loop;
	struct victim	 v[NPAIRS];
	int		 calls;
};

static void
victim_free(struct batch_rec *b, struct victim *v)
{
	if (v->ev == NULL)
		return;
	assert_int_equal(sl_ev_set(b->loop, v->ev, 0), 0);
	sl_loop_forget(b->loop, v->ev);
	free(v->ev);
	v->ev = NULL;
	close(v->p[0]);
	close(v->p[1]);
}

/* Whoever runs first frees every other ev, then itself. */
static void
killer_cb(struct sl_ev *ev, uint32_t events)
{
	struct batch_rec *b = ev->data;
	struct victim *self = NULL;
	int i;

	(void)events;
	b->calls++;
	for (i = 0; i < NPAIRS; i++) {
		if (b->v[i].ev == ev)
			self = &b->v[i];
		else
			victim_free(b, &b->v[i]);
	}
	assert_non_null(self);
	self->calls++;
	victim_free(b, self);
}

static void
test_forget_in_batch(void **state)
{
	struct batch_rec b = { 0 };
	int i;

	(void)state;
	b.loop = sl_loop_new();
	for (i = 0; i < NPAIRS; i++) {
		assert_int_equal(pipe2(b.v[i].p, O_NONBLOCK | O_CLOEXEC), 0);
		b.v[i].ev = malloc(sizeof(*b.v[i].ev));
		sl_ev_init(b.v[i].ev, b.v[i].p[0], killer_cb, &b);
		assert_int_equal(sl_ev_set(b.loop, b.v[i].ev, EPOLLIN), 0);
		assert_int_equal(write(b.v[i].p[1], "x", 1), 1);
	}
	/* All readable before the wait: they come in one batch. */
	assert_int_equal(sl_loop_once(b.loop, 1000), 1);
	assert_int_equal(b.calls, 1);
	for (i = 0; i < NPAIRS; i++)
		assert_null(b.v[i].ev);
	assert_int_equal(sl_loop_once(b.loop, 10), 0);
	sl_loop_free(b.loop);
}

/* ---- posted events ---- */

/* Posts itself again while armed: must run once per iteration, not loop. */
static struct sl_loop *post_loop;

static void
repost_cb(struct sl_ev *ev, uint32_t events)
{
	struct rd *r = ev->data;

	r->calls++;
	r->last = events;
	if (r->calls < 3)
		sl_ev_post(post_loop, ev);
}

/* Frees (forgets) the other posted ev before the loop reaches it. */
struct post_pair {
	struct sl_loop	*loop;
	struct sl_ev	*ev[2];
	int		 calls;
};

static void
post_killer_cb(struct sl_ev *ev, uint32_t events)
{
	struct post_pair *pp = ev->data;

	(void)events;
	pp->calls++;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(sl_ev_set(pp->loop, pp->ev[i], 0), 0);
		sl_loop_forget(pp->loop, pp->ev[i]);
	}
	for (int i = 0; i < 2; i++) {
		free(pp->ev[i]);
		pp->ev[i] = NULL;
	}
}

static void
test_post(void **state)
{
	struct sl_loop *loop = sl_loop_new();
	struct rd r = { 0 };
	struct post_pair pp = { .loop = loop };
	int p[2], q[2];

	(void)state;
	post_loop = loop;
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	sl_ev_init(&r.ev, p[0], rd_cb, &r);
	assert_int_equal(sl_ev_set(loop, &r.ev, EPOLLIN), 0);

	/* Nothing readable, yet the posted ev runs, without waiting. */
	sl_ev_post(loop, &r.ev);
	sl_ev_post(loop, &r.ev);		/* twice: still once */
	assert_int_equal(sl_loop_once(loop, 5000), 1);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.last, EPOLLIN);
	assert_int_equal(sl_loop_once(loop, 20), 0);
	assert_int_equal(r.calls, 1);

	/* No EPOLLIN interest by dispatch time: dropped. */
	sl_ev_post(loop, &r.ev);
	assert_int_equal(sl_ev_set(loop, &r.ev, EPOLLOUT), 0);
	assert_int_equal(sl_ev_set(loop, &r.ev, 0), 0);
	assert_int_equal(sl_loop_once(loop, 20), 0);
	assert_int_equal(r.calls, 1);

	/* Re-posted from its callback: once per iteration. */
	assert_int_equal(sl_ev_set(loop, &r.ev, EPOLLIN), 0);
	r.ev.cb = repost_cb;
	sl_ev_post(loop, &r.ev);
	assert_int_equal(sl_loop_once(loop, 5000), 1);
	assert_int_equal(r.calls, 2);
	assert_int_equal(sl_loop_once(loop, 5000), 1);
	assert_int_equal(r.calls, 3);
	assert_int_equal(sl_loop_once(loop, 20), 0);
	assert_int_equal(r.calls, 3);

	/* Forgotten while on the posted list, or while being run. */
	assert_int_equal(pipe2(q, O_NONBLOCK | O_CLOEXEC), 0);
	for (int i = 0; i < 2; i++) {
		pp.ev[i] = malloc(sizeof(*pp.ev[i]));
		assert_non_null(pp.ev[i]);
		sl_ev_init(pp.ev[i], q[i], post_killer_cb, &pp);
		assert_int_equal(sl_ev_set(loop, pp.ev[i],
		    i == 0 ? EPOLLIN : EPOLLIN | EPOLLOUT), 0);
		sl_ev_post(loop, pp.ev[i]);
	}
	assert_int_equal(sl_loop_once(loop, 5000), 1);
	assert_int_equal(pp.calls, 1);
	sl_ev_post(loop, &r.ev);
	sl_loop_forget(loop, &r.ev);
	assert_int_equal(sl_loop_once(loop, 20), 0);
	assert_int_equal(r.calls, 3);

	/* Closed without EPOLL_CTL_DEL: neither a readable batch entry nor
	 * a posted one reaches the callback afterwards. */
	assert_int_equal(write(p[1], "z", 1), 1);
	assert_int_equal(sl_ev_set(loop, &r.ev, EPOLLIN), 0);
	sl_ev_post(loop, &r.ev);
	sl_ev_close(loop, &r.ev);
	assert_int_equal(r.ev.events, 0);
	close(p[0]);
	assert_int_equal(sl_loop_once(loop, 20), 0);
	assert_int_equal(r.calls, 3);

	close(p[1]);
	close(q[0]);
	close(q[1]);
	sl_loop_free(loop);
}

/* Narrowing interest mid-batch hides the now unwanted events. */
struct pair_rec {
	struct sl_loop	*loop;
	struct rd	 r[2];
};

static void
narrow_cb(struct sl_ev *ev, uint32_t events)
{
	struct pair_rec *p = ev->data;
	int i;

	(void)events;
	for (i = 0; i < 2; i++) {
		if (&p->r[i].ev == ev)
			p->r[i].calls++;
		else
			assert_int_equal(sl_ev_set(p->loop, &p->r[i].ev, 0),
			    0);
	}
}

static void
test_narrow_in_batch(void **state)
{
	struct pair_rec p = { 0 };
	int fds[2][2], i;

	(void)state;
	p.loop = sl_loop_new();
	for (i = 0; i < 2; i++) {
		assert_int_equal(pipe2(fds[i], O_NONBLOCK | O_CLOEXEC), 0);
		sl_ev_init(&p.r[i].ev, fds[i][0], narrow_cb, &p);
		assert_int_equal(sl_ev_set(p.loop, &p.r[i].ev, EPOLLIN), 0);
		assert_int_equal(write(fds[i][1], "x", 1), 1);
	}
	assert_int_equal(sl_loop_once(p.loop, 1000), 1);
	assert_int_equal(p.r[0].calls + p.r[1].calls, 1);
	for (i = 0; i < 2; i++) {
		sl_ev_set(p.loop, &p.r[i].ev, 0);
		close(fds[i][0]);
		close(fds[i][1]);
	}
	sl_loop_free(p.loop);
}

/* More ready fds than one batch holds: all served over two iterations. */
#define NMANY	300

static void
test_many_fds(void **state)
{
	struct sl_loop *loop = sl_loop_new();
	struct rd *r = calloc(NMANY, sizeof(*r));
	int (*p)[2] = calloc(NMANY, sizeof(*p));
	int i, n = 0, k;

	(void)state;
	for (i = 0; i < NMANY; i++) {
		assert_int_equal(pipe2(p[i], O_NONBLOCK | O_CLOEXEC), 0);
		sl_ev_init(&r[i].ev, p[i][0], rd_cb, &r[i]);
		assert_int_equal(sl_ev_set(loop, &r[i].ev, EPOLLIN), 0);
		assert_int_equal(write(p[i][1], "x", 1), 1);
	}
	for (k = 0; k < 10 && n < NMANY; k++)
		n += sl_loop_once(loop, 100);
	assert_int_equal(n, NMANY);
	for (i = 0; i < NMANY; i++) {
		assert_int_equal(r[i].calls, 1);
		sl_ev_set(loop, &r[i].ev, 0);
		close(p[i][0]);
		close(p[i][1]);
	}
	free(r);
	free(p);
	sl_loop_free(loop);
}

/* Freeing the loop leaves armed timers disarmed, not dangling. */
static void
test_free_with_timers(void **state)
{
	struct sl_loop *loop = sl_loop_new();
	struct sl_timer t;

	(void)state;
	sl_timer_init(&t, b_cb, NULL);
	sl_timer_add(loop, &t, 1000);
	sl_loop_free(loop);
	assert_false(sl_timer_armed(&t));
	sl_loop_free(NULL);
}

static void
test_clock(void **state)
{
	struct sl_loop *loop = sl_loop_new();
	uint64_t a, b;

	(void)state;
	a = sl_loop_now(loop);
	/* Cached: unchanged until the next iteration. */
	usleep(20000);
	assert_true(sl_loop_now(loop) == a);
	assert_int_equal(sl_loop_once(loop, 0), 0);
	b = sl_loop_now(loop);
	assert_true(b >= a + 20);
	sl_loop_free(loop);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipe_dispatch),
		cmocka_unit_test(test_ev_errors),
		cmocka_unit_test(test_hup),
		cmocka_unit_test(test_timer_order),
		cmocka_unit_test(test_timer_fifo),
		cmocka_unit_test(test_timer_churn),
		cmocka_unit_test(test_timer_callbacks),
		cmocka_unit_test(test_timer_wait),
		cmocka_unit_test(test_forget_in_batch),
		cmocka_unit_test(test_narrow_in_batch),
		cmocka_unit_test(test_post),
		cmocka_unit_test(test_many_fds),
		cmocka_unit_test(test_free_with_timers),
		cmocka_unit_test(test_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
