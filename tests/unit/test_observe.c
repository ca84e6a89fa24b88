/*
 * test_observe: the shared health region (shm/observe.c): create, map
 * read-write and read-only, round trips, bounds, and the seqlock under a
 * writer in another process that never stops rewriting one slot.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/observe.h"
#include "tests/unit/helpers.h"

/* Field by field: padding bytes are not part of a status. */
static void
expect_same(const struct sl_obs_status *a, const struct sl_obs_status *b)
{
	assert_int_equal(a->known, b->known);
	assert_int_equal(a->alive, b->alive);
	assert_int_equal(a->health, b->health);
	assert_int_equal(a->all, b->all);
	assert_int_equal(a->fail, b->fail);
	assert_int_equal(a->delay_ms, b->delay_ms);
	assert_int_equal(a->avg_us, b->avg_us);
	assert_int_equal(a->dev_us, b->dev_us);
	assert_int_equal(a->min_us, b->min_us);
	assert_int_equal(a->max_us, b->max_us);
	assert_int_equal(a->last_seen, b->last_seen);
	assert_int_equal(a->last_try, b->last_try);
}

static void
test_roundtrip(void **state)
{
	struct sl_obs_region rw, ro;
	struct sl_obs_status in = {
		.known = 1, .alive = 1, .health = 1, .all = 10, .fail = 3,
		.delay_ms = 123, .avg_us = 123456, .dev_us = 7890,
		.min_us = 100000, .max_us = 150000, .last_seen = 1700000000,
		.last_try = 1700000001,
	}, out;
	const char *err = NULL;
	int fd, rofd;

	(void)state;
	fd = sl_obs_create(2, 5, 9, &rofd, &err);
	assert_true(fd >= 0);
	assert_true(rofd >= 0);
	assert_int_equal(sl_obs_map(fd, 1, &rw, &err), 0);
	assert_int_equal(sl_obs_map(rofd, 0, &ro, &err), 0);
	assert_int_equal(ro.nobs, 2);
	assert_int_equal(ro.nout, 5);
	assert_int_equal(ro.generation, 9);
	/* The read-only descriptor cannot give a writable mapping. */
	{
		struct sl_obs_region bad;

		assert_int_equal(sl_obs_map(rofd, 1, &bad, &err), -1);
		assert_null(bad.base);
		assert_ptr_equal(mmap(NULL, ro.size, PROT_READ | PROT_WRITE,
		    MAP_SHARED, rofd, 0), MAP_FAILED);
	}
	/* Fresh: every slot unknown. */
	sl_obs_read(&ro, 1, 4, &out);
	assert_int_equal(out.known, 0);
	sl_obs_write(&rw, 1, 4, &in);
	sl_obs_read(&ro, 1, 4, &out);
	expect_same(&in, &out);
	/* Other slots untouched. */
	sl_obs_read(&ro, 0, 4, &out);
	assert_int_equal(out.known, 0);
	sl_obs_read(&ro, 1, 3, &out);
	assert_int_equal(out.known, 0);
	/* Dead, negative values survive too. */
	in.alive = 0;
	in.health = 0;
	in.delay_ms = SL_OBS_DELAY_FAILED;
	in.last_seen = -1;
	sl_obs_write(&rw, 0, 0, &in);
	sl_obs_read(&ro, 0, 0, &out);
	expect_same(&in, &out);
	/* Out of range: unknown, and writes are ignored; so are writes
	 * through a read-only mapping and reads of no region. */
	sl_obs_write(&rw, 2, 0, &in);
	sl_obs_write(&rw, 0, 5, &in);
	sl_obs_read(&ro, 2, 0, &out);
	assert_int_equal(out.known, 0);
	sl_obs_read(&ro, 0, 5, &out);
	assert_int_equal(out.known, 0);
	sl_obs_write(&ro, 1, 1, &in);
	sl_obs_read(&ro, 1, 1, &out);
	assert_int_equal(out.known, 0);
	sl_obs_read(NULL, 0, 0, &out);
	assert_int_equal(out.known, 0);
	sl_obs_unmap(&rw);
	sl_obs_unmap(&ro);
	close(fd);
	close(rofd);
}

static void
test_bad_file(void **state)
{
	struct sl_obs_region r;
	const char *err = NULL;
	int fd = memfd_create("x", MFD_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(sl_obs_map(fd, 0, &r, &err), -1);
	assert_int_equal(ftruncate(fd, 4096), 0);
	assert_int_equal(sl_obs_map(fd, 0, &r, &err), -1);
	assert_non_null(strstr(err, "bad header"));
	close(fd);
}

/* A writer killed mid-write leaves an odd sequence: readers give up on
 * the slot after a while, and the next writer repairs it. */
static void
test_dead_writer(void **state)
{
	struct sl_obs_region rw, ro, rw2;
	struct sl_obs_status in = { .known = 1, .alive = 1, .delay_ms = 5 },
	    out;
	const char *err = NULL;
	_Atomic uint64_t *seq;
	struct timespec t0, t1;
	int fd, rofd;

	(void)state;
	fd = sl_obs_create(1, 2, 1, &rofd, &err);
	assert_true(fd >= 0);
	assert_int_equal(sl_obs_map(fd, 1, &rw, &err), 0);
	assert_int_equal(sl_obs_map(rofd, 0, &ro, &err), 0);
	sl_obs_write(&rw, 0, 1, &in);
	sl_obs_write(&rw, 0, 0, &in);
	/* Slot (0, 1): 128-byte header, then 128-byte slots, seq first. */
	seq = (_Atomic uint64_t *)(rw.base + 128 + 128);
	assert_int_equal(atomic_load(seq), 2);
	atomic_store(seq, 3);			/* "killed" mid-write */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	sl_obs_read(&ro, 0, 1, &out);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(out.known, 0);
	assert_true((t1.tv_sec - t0.tv_sec) * 1000000000L + t1.tv_nsec -
	    t0.tv_nsec >= 200000000L);		/* it waited 200 ms first */
	sl_obs_read(&ro, 0, 0, &out);		/* its neighbour is fine */
	assert_int_equal(out.known, 1);
	/* The master repairs it (and the next observer would too):
	 * unknown, then writable. */
	assert_int_equal(sl_obs_repair(fd), 0);
	assert_int_equal(atomic_load(seq), 4);
	atomic_store(seq, 5);
	assert_int_equal(sl_obs_map(fd, 1, &rw2, &err), 0);
	assert_int_equal(atomic_load(seq), 6);
	sl_obs_read(&ro, 0, 1, &out);
	assert_int_equal(out.known, 0);
	sl_obs_read(&ro, 0, 0, &out);
	assert_int_equal(out.known, 1);		/* intact slots are kept */
	sl_obs_write(&rw2, 0, 1, &in);
	sl_obs_read(&ro, 0, 1, &out);
	expect_same(&in, &out);
	sl_obs_unmap(&rw);
	sl_obs_unmap(&rw2);
	sl_obs_unmap(&ro);
	close(fd);
	close(rofd);
}

/* The writer's records satisfy field = f(delay): a torn read breaks it. */
static void
make_status(struct sl_obs_status *s, uint64_t n)
{
	s->known = 1;
	s->alive = n & 1;
	s->health = 1;
	s->all = (uint32_t)n;
	s->fail = (uint32_t)(n >> 32) ^ 0x5a5a5a5a;
	s->delay_ms = (int64_t)n;
	s->avg_us = n * 3;
	s->dev_us = n * 5;
	s->min_us = ~n;
	s->max_us = n + 7;
	s->last_seen = (int64_t)(n * 11);
	s->last_try = (int64_t)(n ^ UINT64_C(0xdeadbeef));
}

static void
test_seqlock_concurrent(void **state)
{
	struct sl_obs_region rw, ro;
	struct sl_obs_status s, want;
	const char *err = NULL;
	uint64_t last = 0, changes = 0, t0;
	pid_t pid;
	int fd, rofd, st;

	(void)state;
	fd = sl_obs_create(1, 1, 1, &rofd, &err);
	assert_true(fd >= 0);
	assert_int_equal(sl_obs_map(rofd, 0, &ro, &err), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (sl_obs_map(fd, 1, &rw, &err) == -1)
			_exit(2);
		/* Far more often than an observer writes, with just enough
		 * of a pause that readers are not starved. */
		for (uint64_t n = 1;; n++) {
			make_status(&s, n);
			sl_obs_write(&rw, 0, 0, &s);
			for (volatile int k = 0; k < 50; k++)
				;
		}
	}
	do			/* wait for the writer's first record */
		sl_obs_read(&ro, 0, 0, &s);
	while (!s.known);
	/* At least 300 ms and 50 distinct records (20 s at most: on a
	 * busy machine the two processes may share one CPU by turns). */
	t0 = th_now_ms();
	while (changes < 50 || th_now_ms() - t0 < 300) {
		assert_true(th_now_ms() - t0 < 20000);
		for (int i = 0; i < 1000; i++) {
			sl_obs_read(&ro, 0, 0, &s);
			assert_true(s.known);
			make_status(&want, (uint64_t)s.delay_ms);
			expect_same(&s, &want);
			/* never back in time */
			assert_true((uint64_t)s.delay_ms >= last);
			changes += (uint64_t)s.delay_ms != last;
			last = (uint64_t)s.delay_ms;
		}
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	sl_obs_unmap(&ro);
	close(fd);
	close(rofd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_bad_file),
		cmocka_unit_test(test_dead_writer),
		cmocka_unit_test(test_seqlock_concurrent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
