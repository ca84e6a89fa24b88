/*
 * test_balancer: the four balancing strategies (worker/balancer.c) over
 * small images built by hand and observations written into a real region
 * (shm/observe.c), against Xray's rules (spec 6.1; app/router
 * strategy_*.go, weight.go) written out as expected values.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shm/image.h"
#include "shm/observe.h"
#include "shm/balancer.h"
#include "shm/regex.h"

/* Outbound indices: 0 is the default, FB the usual fallbackTag. */
enum { DIRECT, A, B, C, D, FB, NOUT };
static const char *const tags[NOUT] = {
	"direct", "a-hk1", "b-jp2", "c-us3", "d-x25.5", "fallback"
};

struct fx {
	struct sl_img_builder	 b;
	uint8_t			*buf;
	struct sl_img		 img;
	struct sl_obs_region	 obs;
	int			 fd, rofd;
	struct sl_rxtab		*rx;
	struct sl_balancer_state st;
};

static void
fx_begin(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->fd = f->rofd = -1;
	sl_imgb_init(&f->b);
	/* What sl_img_check insists on: a policy level, an IP set. */
	sl_imgb_add(&f->b, SL_SECT_LEVELS, &(struct sl_img_level){ 0 },
	    sizeof(struct sl_img_level));
	sl_imgb_add(&f->b, SL_SECT_IPSETS, &(struct sl_img_ipset){ 0 },
	    sizeof(struct sl_img_ipset));
	for (int i = 0; i < NOUT; i++) {
		struct sl_img_outbound o;

		memset(&o, 0, sizeof(o));
		o.tag = sl_imgb_cstr(&f->b, tags[i]);
		o.protocol = SL_IMG_OUT_FREEDOM;
		o.send_through = 0;	/* none */
		sl_imgb_add(&f->b, SL_SECT_OUTBOUNDS, &o, sizeof(o));
	}
}

static uint32_t
u32s(struct fx *f, const uint32_t *v, uint32_t n)
{
	uint32_t first = sl_imgb_count(&f->b, SL_SECT_U32, sizeof(uint32_t));

	for (uint32_t i = 0; i < n; i++)
		sl_imgb_add(&f->b, SL_SECT_U32, &v[i], sizeof(v[i]));
	return first;
}

/* A balancer over cands (already in tag order); returns its index. */
static uint32_t
bal(struct fx *f, uint32_t strategy, uint32_t fallback, const uint32_t *cands,
    uint32_t n)
{
	struct sl_img_balancer r;

	memset(&r, 0, sizeof(r));
	r.tag = sl_imgb_cstr(&f->b, "bal");
	r.strategy = strategy;
	r.fallback = fallback;
	r.cands_first = u32s(f, cands, n);
	r.cands_count = n;
	return sl_imgb_add(&f->b, SL_SECT_BALANCERS, &r, sizeof(r));
}

static struct sl_img_balancer *
bal_rec(struct fx *f, uint32_t i)
{
	return sl_imgb_rec(&f->b, SL_SECT_BALANCERS, i,
	    sizeof(struct sl_img_balancer));
}

static void
cost(struct fx *f, uint32_t bi, int is_regex, const char *match,
    uint32_t value_ppm)
{
	struct sl_img_cost c;
	uint32_t idx;

	memset(&c, 0, sizeof(c));
	c.is_regex = (uint32_t)is_regex;
	c.value_ppm = value_ppm;
	if (is_regex) {
		struct sl_img_regex rx = { sl_imgb_cstr(&f->b, match) };

		c.regex = sl_imgb_add(&f->b, SL_SECT_REGEXES, &rx, sizeof(rx));
	} else
		c.match = sl_imgb_cstr(&f->b, match);
	idx = sl_imgb_add(&f->b, SL_SECT_COSTS, &c, sizeof(c));
	if (bal_rec(f, bi)->costs_count == 0)
		bal_rec(f, bi)->costs_first = idx;
	bal_rec(f, bi)->costs_count++;
}

/* Finish the image; with_obs: a region of one observer, all unknown. */
static void
fx_end(struct fx *f, int with_obs)
{
	const char *err = NULL;
	size_t len;

	assert_int_equal(sl_imgb_finish(&f->b, 1, &f->buf, &len), 0);
	sl_imgb_free(&f->b);
	assert_int_equal(sl_img_check(f->buf, len, &err), 0);
	f->img.base = f->buf;
	f->img.size = len;
	f->img.hdr = (const struct sl_img_hdr *)f->buf;
	if (with_obs) {
		f->fd = sl_obs_create(1, NOUT, 1, &f->rofd, &err);
		assert_true(f->fd >= 0);
		assert_int_equal(sl_obs_map(f->fd, 1, &f->obs, &err), 0);
	}
	f->rx = sl_rxtab_new(&f->img, &err);
	assert_non_null(f->rx);
	assert_int_equal(sl_balancer_state_init(&f->st, &f->img, f->rx, &err),
	    0);
	sl_balancer_state_seed(&f->st, 42);
}

static void
fx_free(struct fx *f)
{
	sl_balancer_state_free(&f->st);
	sl_rxtab_free(f->rx);
	sl_obs_unmap(&f->obs);
	if (f->fd >= 0)
		close(f->fd);
	if (f->rofd >= 0)
		close(f->rofd);
	free(f->buf);
}

static const struct sl_obs_region *
region(struct fx *f)
{
	return f->obs.base ? &f->obs : NULL;
}

/* Plain observatory results. */
static void
alive(struct fx *f, uint32_t out, int64_t delay_ms)
{
	struct sl_obs_status s = { .known = 1, .alive = 1,
	    .delay_ms = delay_ms, .last_seen = 1, .last_try = 1 };

	sl_obs_write(&f->obs, 0, out, &s);
}

static void
dead(struct fx *f, uint32_t out)
{
	struct sl_obs_status s = { .known = 1, .alive = 0,
	    .delay_ms = SL_OBS_DELAY_FAILED, .last_try = 1 };

	sl_obs_write(&f->obs, 0, out, &s);
}

/* burstObservatory results: times in ms. */
static void
burst(struct fx *f, uint32_t out, uint32_t all, uint32_t fail, uint32_t avg,
    uint32_t dev)
{
	struct sl_obs_status s = { .known = 1, .alive = all != fail,
	    .health = 1, .all = all, .fail = fail, .delay_ms = avg,
	    .avg_us = avg * 1000ull, .dev_us = dev * 1000ull };

	sl_obs_write(&f->obs, 0, out, &s);
}

static uint32_t
pick(struct fx *f, uint32_t bi)
{
	return sl_balancer_pick(&f->img, bi, region(f), &f->st);
}

/* counts[out] over n picks */
static void
tally(struct fx *f, uint32_t bi, int n, int counts[NOUT + 1])
{
	memset(counts, 0, sizeof(int) * (NOUT + 1));
	for (int i = 0; i < n; i++) {
		uint32_t o = pick(f, bi);

		counts[o == SL_IMG_NONE ? NOUT : o]++;
	}
}

static const uint32_t abcd[] = { A, B, C, D };

/* ---- random ---- */

static void
test_random_no_fallback(void **state)
{
	struct fx f;
	int n[NOUT + 1];

	(void)state;
	fx_begin(&f);
	bal(&f, SL_IMG_BAL_RANDOM, SL_IMG_NONE, abcd, 4);
	fx_end(&f, 1);
	dead(&f, B);		/* no fallbackTag: health is not consulted */
	tally(&f, 0, 4000, n);
	for (int o = A; o <= D; o++)	/* 1000 expected, 5 sigma ~ 137 */
		assert_in_range(n[o], 850, 1150);
	assert_int_equal(n[DIRECT] + n[FB] + n[NOUT], 0);
	fx_free(&f);
}

static void
test_random_fallback(void **state)
{
	struct fx f;
	int n[NOUT + 1];

	(void)state;
	fx_begin(&f);
	bal(&f, SL_IMG_BAL_RANDOM, FB, abcd, 4);
	fx_end(&f, 1);
	dead(&f, B);
	alive(&f, C, 10);	/* A and D never probed: alive */
	tally(&f, 0, 3000, n);
	assert_int_equal(n[B], 0);
	for (int o = A; o <= D; o++)
		if (o != B)
			assert_in_range(n[o], 850, 1150);
	dead(&f, A);
	dead(&f, C);
	dead(&f, D);
	tally(&f, 0, 10, n);
	assert_int_equal(n[FB], 10);
	fx_free(&f);

	/* No observatory at all: every candidate counts as alive. */
	fx_begin(&f);
	bal(&f, SL_IMG_BAL_RANDOM, FB, abcd, 4);
	fx_end(&f, 0);
	tally(&f, 0, 400, n);
	for (int o = A; o <= D; o++)
		assert_true(n[o] > 0);
	fx_free(&f);
}

/* ---- roundRobin ---- */

static void
test_roundrobin(void **state)
{
	struct fx f;

	(void)state;
	fx_begin(&f);
	bal(&f, SL_IMG_BAL_ROUNDROBIN, SL_IMG_NONE, abcd, 4);
	bal(&f, SL_IMG_BAL_ROUNDROBIN, FB, abcd, 4);
	fx_end(&f, 1);
	dead(&f, C);
	/* Without fallbackTag dead members are not skipped. */
	for (int round = 0; round < 3; round++)
		for (int o = A; o <= D; o++)
			assert_int_equal(pick(&f, 0), o);
	/* With one: tags[idx % n], idx = (idx + 1) % n over the alive list
	 * [A, B, D]; each balancer has its own index. */
	assert_int_equal(pick(&f, 1), A);
	assert_int_equal(pick(&f, 1), B);
	assert_int_equal(pick(&f, 1), D);
	assert_int_equal(pick(&f, 1), A);	/* idx 1 */
	dead(&f, A);		/* alive [B, D]: tags[1 % 2] = D, idx 0 */
	assert_int_equal(pick(&f, 1), D);
	assert_int_equal(pick(&f, 1), B);
	alive(&f, A, 5);
	alive(&f, C, 5);	/* [A, B, C, D], idx 1 */
	assert_int_equal(pick(&f, 1), B);
	assert_int_equal(pick(&f, 1), C);
	dead(&f, A);
	dead(&f, B);
	dead(&f, C);
	dead(&f, D);
	assert_int_equal(pick(&f, 1), FB);
	assert_int_equal(pick(&f, 0), A);	/* unaffected */
	fx_free(&f);
}

/* ---- leastPing ---- */

static void
test_leastping(void **state)
{
	struct fx f;

	(void)state;
	fx_begin(&f);
	bal(&f, SL_IMG_BAL_LEASTPING, SL_IMG_NONE, abcd, 4);
	bal(&f, SL_IMG_BAL_LEASTPING, FB, abcd, 4);
	fx_end(&f, 1);
	/* Nothing observed yet: nothing to pick. */
	assert_int_equal(pick(&f, 0), SL_IMG_NONE);
	assert_int_equal(pick(&f, 1), FB);
	alive(&f, A, 300);
	alive(&f, B, 120);
	dead(&f, C);		/* delay 99999999, and dead */
	alive(&f, D, 120);	/* tie with B: the first by tag wins */
	assert_int_equal(pick(&f, 0), B);
	alive(&f, B, 500);
	assert_int_equal(pick(&f, 0), D);
	dead(&f, D);
	assert_int_equal(pick(&f, 0), A);
	/* An outbound outside the candidates never counts. */
	alive(&f, DIRECT, 1);
	assert_int_equal(pick(&f, 0), A);
	fx_free(&f);

	fx_begin(&f);
	bal(&f, SL_IMG_BAL_LEASTPING, FB, abcd, 4);
	fx_end(&f, 0);		/* no observatory */
	assert_int_equal(pick(&f, 0), FB);
	fx_free(&f);
}

/* ---- leastLoad ---- */

static size_t
selected(struct fx *f, uint32_t bi, uint32_t *out)
{
	return sl_balancer_leastload(&f->img, bi, region(f), &f->st, out,
	    NOUT);
}

static void
test_leastload_expected(void **state)
{
	struct fx f;
	uint32_t sel[NOUT];
	int n[NOUT + 1];

	(void)state;
	fx_begin(&f);
	bal(&f, SL_IMG_BAL_LEASTLOAD, SL_IMG_NONE, abcd, 4);
	bal(&f, SL_IMG_BAL_LEASTLOAD, FB, abcd, 4);
	bal_rec(&f, 1)->expected = 2;
	bal(&f, SL_IMG_BAL_LEASTLOAD, SL_IMG_NONE, abcd, 4);
	bal_rec(&f, 2)->expected = 9;
	fx_end(&f, 1);
	assert_int_equal(selected(&f, 0, sel), 0);
	assert_int_equal(pick(&f, 0), SL_IMG_NONE);
	assert_int_equal(pick(&f, 1), FB);
	/* Plain observatory: cost = avg = delay, all = fail = 1. */
	alive(&f, A, 40);
	alive(&f, B, 20);
	alive(&f, C, 30);
	dead(&f, D);
	/* expected 0 counts as 1 */
	assert_int_equal(selected(&f, 0, sel), 1);
	assert_int_equal(sel[0], B);
	tally(&f, 0, 50, n);
	assert_int_equal(n[B], 50);
	/* expected 2: the two best, both picked */
	assert_int_equal(selected(&f, 1, sel), 2);
	assert_int_equal(sel[0], B);
	assert_int_equal(sel[1], C);
	tally(&f, 1, 400, n);
	assert_int_equal(n[B] + n[C], 400);
	assert_in_range(n[B], 140, 260);
	/* expected above the node count: every node */
	assert_int_equal(selected(&f, 2, sel), 3);
	assert_int_equal(sel[2], A);
	fx_free(&f);
}

static void
test_leastload_filters(void **state)
{
	struct fx f;
	uint32_t sel[NOUT];

	(void)state;
	fx_begin(&f);
	bal(&f, SL_IMG_BAL_LEASTLOAD, SL_IMG_NONE, abcd, 4);
	bal_rec(&f, 0)->expected = 4;
	bal_rec(&f, 0)->max_rtt_ms = 100;
	bal_rec(&f, 0)->tolerance_ppm = 250000;		/* 0.25 */
	fx_end(&f, 1);
	burst(&f, A, 4, 1, 99, 5);	/* 1/4 = tolerance: kept */
	burst(&f, B, 3, 1, 50, 5);	/* 1/3 > 0.25: out */
	burst(&f, C, 10, 0, 100, 1);	/* delay 100 >= maxRTT: out */
	burst(&f, D, 2, 2, 0, 0);	/* all failed: dead */
	assert_int_equal(selected(&f, 0, sel), 1);
	assert_int_equal(sel[0], A);
	/* Tolerance applies to burst statistics only. */
	alive(&f, B, 60);
	assert_int_equal(selected(&f, 0, sel), 2);
	fx_free(&f);
}

static void
test_leastload_order(void **state)
{
	struct fx f;
	uint32_t sel[NOUT];

	(void)state;
	fx_begin(&f);
	bal(&f, SL_IMG_BAL_LEASTLOAD, SL_IMG_NONE, abcd, 4);
	bal_rec(&f, 0)->expected = 4;
	fx_end(&f, 1);
	/* Sort key: cost (= deviation here), avg, fail, -all, tag. */
	burst(&f, D, 10, 0, 50, 5);
	burst(&f, C, 10, 0, 40, 5);	/* same cost, lower avg: before D */
	burst(&f, B, 10, 2, 40, 5);	/* more failures: after C */
	burst(&f, A, 20, 2, 40, 5);	/* same fails, more samples: before B */
	assert_int_equal(selected(&f, 0, sel), 4);
	assert_int_equal(sel[0], C);
	assert_int_equal(sel[1], A);
	assert_int_equal(sel[2], B);
	assert_int_equal(sel[3], D);
	burst(&f, A, 10, 2, 40, 5);	/* now equal to B: tag decides */
	burst(&f, D, 10, 0, 900, 1);	/* lowest deviation wins over avg */
	assert_int_equal(selected(&f, 0, sel), 4);
	assert_int_equal(sel[0], D);
	assert_int_equal(sel[1], C);
	assert_int_equal(sel[2], A);
	assert_int_equal(sel[3], B);
	fx_free(&f);
}

static void
test_leastload_baselines(void **state)
{
	static const uint32_t b1[] = { 15, 60 }, b2[] = { 5 }, b3[] = { 15 };
	struct fx f;
	uint32_t sel[NOUT];

	(void)state;
	fx_begin(&f);
	bal(&f, SL_IMG_BAL_LEASTLOAD, SL_IMG_NONE, abcd, 4);	/* 2, [15 60] */
	bal_rec(&f, 0)->expected = 2;
	bal_rec(&f, 0)->baselines_first = u32s(&f, b1, 2);
	bal_rec(&f, 0)->baselines_count = 2;
	bal(&f, SL_IMG_BAL_LEASTLOAD, FB, abcd, 4);		/* 0, [5] */
	bal_rec(&f, 1)->baselines_first = u32s(&f, b2, 1);
	bal_rec(&f, 1)->baselines_count = 1;
	bal(&f, SL_IMG_BAL_LEASTLOAD, SL_IMG_NONE, abcd, 4);	/* 3, [15] */
	bal_rec(&f, 2)->expected = 3;
	bal_rec(&f, 2)->baselines_first = u32s(&f, b3, 1);
	bal_rec(&f, 2)->baselines_count = 1;
	bal(&f, SL_IMG_BAL_LEASTLOAD, SL_IMG_NONE, abcd, 4);	/* 0, [15 60] */
	bal_rec(&f, 3)->baselines_first = bal_rec(&f, 0)->baselines_first;
	bal_rec(&f, 3)->baselines_count = 2;
	fx_end(&f, 1);
	burst(&f, A, 5, 0, 100, 10);
	burst(&f, B, 5, 0, 100, 20);
	burst(&f, C, 5, 0, 100, 50);
	burst(&f, D, 5, 0, 100, 90);
	/* 15 ms selects 1 (< 2 expected); 60 ms extends to 3: stop there */
	assert_int_equal(selected(&f, 0, sel), 3);
	assert_int_equal(sel[2], C);
	/* expected <= 0 and nothing under the baseline: none, fallback */
	assert_int_equal(selected(&f, 1, sel), 0);
	assert_int_equal(pick(&f, 1), FB);
	/* expected 3 > the 1 under 15 ms: raised to 3 */
	assert_int_equal(selected(&f, 2, sel), 3);
	/* expected 0 (= 1): the first baseline already has one */
	assert_int_equal(selected(&f, 3, sel), 1);
	/* the comparison is strict: a cost equal to the baseline is out */
	burst(&f, A, 5, 0, 100, 15);
	assert_int_equal(selected(&f, 3, sel), 3);
	fx_free(&f);
}

static void
test_leastload_costs(void **state)
{
	struct fx f;
	uint32_t sel[NOUT];

	(void)state;
	fx_begin(&f);
	bal(&f, SL_IMG_BAL_LEASTLOAD, SL_IMG_NONE, abcd, 4);
	bal_rec(&f, 0)->expected = 4;
	cost(&f, 0, 0, "", 0);			/* empty: matches nothing */
	cost(&f, 0, 1, "z*", 7000000);		/* empty match: skipped */
	cost(&f, 0, 0, "hk", 0);		/* no number in "hk": 1 */
	cost(&f, 0, 1, "jp\\d", 0);		/* "jp2": 2 */
	cost(&f, 0, 1, "x\\d+\\.\\d+$", 0);	/* "x25.5": 25.5 */
	cost(&f, 0, 0, "us", 4000000);		/* value wins: 4 */
	cost(&f, 0, 0, "c-", 9000000);		/* later entry: unused */
	bal(&f, SL_IMG_BAL_LEASTLOAD, SL_IMG_NONE, abcd, 4);	/* no costs */
	fx_end(&f, 1);
	assert_true(sl_balancer_weight(&f.img, f.rx, 0, tags[A]) == 1);
	assert_true(sl_balancer_weight(&f.img, f.rx, 0, tags[B]) == 2);
	assert_true(sl_balancer_weight(&f.img, f.rx, 0, tags[C]) == 4);
	assert_true(sl_balancer_weight(&f.img, f.rx, 0, tags[D]) == 25.5);
	assert_true(sl_balancer_weight(&f.img, f.rx, 0, "other") == 1);
	assert_true(sl_balancer_weight(&f.img, f.rx, 1, tags[D]) == 1);
	/* cost = deviation x sqrt(weight): 40, 30 x 1.41 = 42.4, 25 x 2 =
	 * 50, 10 x 5.05 = 50.5 */
	burst(&f, A, 5, 0, 100, 40);
	burst(&f, B, 5, 0, 100, 30);
	burst(&f, C, 5, 0, 100, 25);
	burst(&f, D, 5, 0, 100, 10);
	assert_int_equal(selected(&f, 0, sel), 4);
	assert_int_equal(sel[0], A);
	assert_int_equal(sel[1], B);
	assert_int_equal(sel[2], C);
	assert_int_equal(sel[3], D);
	/* Without costs the deviation alone orders them. */
	assert_int_equal(sl_balancer_leastload(&f.img, 1, &f.obs, &f.st, sel,
	    NOUT), 1);
	assert_int_equal(sel[0], D);
	fx_free(&f);
}

/* ---- edges ---- */

static void
test_empty_and_bad(void **state)
{
	struct fx f;
	const char *err = NULL;
	size_t len;

	(void)state;
	fx_begin(&f);
	for (uint32_t s = SL_IMG_BAL_RANDOM; s <= SL_IMG_BAL_LEASTLOAD; s++) {
		bal(&f, s, SL_IMG_NONE, NULL, 0);
		bal(&f, s, FB, NULL, 0);
	}
	fx_end(&f, 1);
	for (uint32_t i = 0; i < 8; i += 2) {
		assert_int_equal(pick(&f, i), SL_IMG_NONE);
		assert_int_equal(pick(&f, i + 1), FB);
	}
	assert_int_equal(pick(&f, 8), SL_IMG_NONE);	/* no such balancer */
	fx_free(&f);

	/* A candidate past OUTBOUNDS: the state refuses the image. */
	fx_begin(&f);
	bal(&f, SL_IMG_BAL_RANDOM, SL_IMG_NONE, (const uint32_t[]){ NOUT },
	    1);
	assert_int_equal(sl_imgb_finish(&f.b, 1, &f.buf, &len), 0);
	sl_imgb_free(&f.b);
	f.img.base = f.buf;
	f.img.size = len;
	f.img.hdr = (const struct sl_img_hdr *)f.buf;
	f.rx = sl_rxtab_new(&f.img, &err);
	assert_non_null(f.rx);
	assert_int_equal(sl_balancer_state_init(&f.st, &f.img, f.rx, &err),
	    -1);
	assert_non_null(err);
	sl_rxtab_free(f.rx);
	free(f.buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_no_fallback),
		cmocka_unit_test(test_random_fallback),
		cmocka_unit_test(test_roundrobin),
		cmocka_unit_test(test_leastping),
		cmocka_unit_test(test_leastload_expected),
		cmocka_unit_test(test_leastload_filters),
		cmocka_unit_test(test_leastload_order),
		cmocka_unit_test(test_leastload_baselines),
		cmocka_unit_test(test_leastload_costs),
		cmocka_unit_test(test_empty_and_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
