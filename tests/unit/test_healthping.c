/*
 * test_healthping: burstObservatory's sample ring and statistics
 * (worker/healthping.c) against values worked out by hand from Xray's
 * healthping_result.go rules; and the probe URL parser (worker/probe.c).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "worker/healthping.h"
#include "worker/probe.h"

static void
test_empty_and_single(void **state)
{
	struct sl_hp_ring r;
	struct sl_hp_stats st;

	(void)state;
	assert_int_equal(sl_hp_init(&r, 4, 1000), 0);
	sl_hp_stats(&r, 0, &st);
	assert_int_equal(st.all, 0);
	assert_int_equal(st.fail, 0);
	assert_int_equal(st.min_us, 0);
	assert_int_equal(st.avg_us, 0);
	/* One success: deviation is half the average. */
	sl_hp_put(&r, 10, 100001);
	sl_hp_stats(&r, 10, &st);
	assert_int_equal(st.all, 1);
	assert_int_equal(st.avg_us, 100001);
	assert_int_equal(st.dev_us, 50000);
	assert_int_equal(st.min_us, 100001);
	assert_int_equal(st.max_us, 100001);
	sl_hp_free(&r);
}

static void
test_stats(void **state)
{
	struct sl_hp_ring r;
	struct sl_hp_stats st;

	(void)state;
	assert_int_equal(sl_hp_init(&r, 5, 1000), 0);
	sl_hp_put(&r, 0, 100000);
	sl_hp_put(&r, 0, SL_HP_FAILED);
	sl_hp_put(&r, 0, 300000);
	sl_hp_put(&r, 0, 200000);
	sl_hp_stats(&r, 0, &st);
	assert_int_equal(st.all, 4);
	assert_int_equal(st.fail, 1);
	assert_int_equal(st.avg_us, 200000);
	/* population: sqrt((1e10 + 1e10 + 0) / 3) = 81649.658... */
	assert_int_equal(st.dev_us, 81649);
	assert_int_equal(st.min_us, 100000);
	assert_int_equal(st.max_us, 300000);
	/* Integer average, as Go's Duration division. */
	sl_hp_put(&r, 0, 1);
	sl_hp_stats(&r, 0, &st);
	assert_int_equal(st.avg_us, (100000 + 300000 + 200000 + 1) / 4);
	sl_hp_free(&r);
}

static void
test_ring_and_expiry(void **state)
{
	struct sl_hp_ring r;
	struct sl_hp_stats st;

	(void)state;
	assert_int_equal(sl_hp_init(&r, 3, 1000), 0);
	sl_hp_put(&r, 0, 10);
	sl_hp_put(&r, 100, 20);
	sl_hp_put(&r, 200, 30);
	sl_hp_put(&r, 300, 40);		/* replaces the 10 */
	sl_hp_stats(&r, 300, &st);
	assert_int_equal(st.all, 3);
	assert_int_equal(st.min_us, 20);
	assert_int_equal(st.avg_us, 30);
	/* Valid while age <= validity: 20 (put at 100) expires after 1100. */
	sl_hp_stats(&r, 1100, &st);
	assert_int_equal(st.all, 3);
	sl_hp_stats(&r, 1101, &st);
	assert_int_equal(st.all, 2);
	assert_int_equal(st.min_us, 30);
	sl_hp_stats(&r, 5000, &st);
	assert_int_equal(st.all, 0);
	/* All failed: dead, no times. */
	sl_hp_put(&r, 5000, SL_HP_FAILED);
	sl_hp_put(&r, 5000, SL_HP_FAILED);
	sl_hp_stats(&r, 5000, &st);
	assert_int_equal(st.all, 2);
	assert_int_equal(st.fail, 2);
	assert_int_equal(st.min_us, 0);
	assert_int_equal(st.max_us, 0);
	assert_int_equal(st.avg_us, 0);
	/* A 0 rtt would read as "never used": it is stored as 1. */
	sl_hp_put(&r, 5000, 0);
	sl_hp_stats(&r, 5000, &st);
	assert_int_equal(st.all, 3);
	assert_int_equal(st.min_us, 1);
	sl_hp_free(&r);
}

static void
test_url(void **state)
{
	struct sl_url u;
	const char *err = NULL;

	(void)state;
	assert_int_equal(sl_probe_url_parse(
	    "https://www.google.com/generate_204", &u, &err), 0);
	assert_true(u.https);
	assert_string_equal(u.host, "www.google.com");
	assert_int_equal(u.port, 443);
	assert_false(u.port_given);
	assert_string_equal(u.path, "/generate_204");

	assert_int_equal(sl_probe_url_parse("HTTP://[::1]:8080?q=1#frag", &u,
	    &err), 0);
	assert_false(u.https);
	assert_string_equal(u.host, "::1");
	assert_int_equal(u.port, 8080);
	assert_true(u.port_given);
	assert_string_equal(u.path, "/?q=1");

	assert_int_equal(sl_probe_url_parse("http://10.0.0.1", &u, &err), 0);
	assert_int_equal(u.port, 80);
	assert_string_equal(u.path, "/");

	assert_int_equal(sl_probe_url_parse("ftp://x/", &u, &err), -1);
	assert_int_equal(sl_probe_url_parse("http://:80/", &u, &err), -1);
	assert_int_equal(sl_probe_url_parse("http://h:0/", &u, &err), -1);
	assert_int_equal(sl_probe_url_parse("http://h:65536/", &u, &err), -1);
	assert_int_equal(sl_probe_url_parse("http://h:8x/", &u, &err), -1);
	assert_int_equal(sl_probe_url_parse("http://[::1/", &u, &err), -1);
	assert_int_equal(sl_probe_url_parse("http://u:p@h/", &u, &err), -1);
	assert_non_null(err);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_and_single),
		cmocka_unit_test(test_stats),
		cmocka_unit_test(test_ring_and_expiry),
		cmocka_unit_test(test_url),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
