/*
 * test_relay_pools: the relay's lean resources and arithmetic -- the
 * buffer pool (worker/buf.c), the pipe pool and splice steps
 * (worker/splice.c) and the sockmap FIN barrier (sl_sockmap_barrier).
 */
#include <sys/socket.h>

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

#include "worker/buf.h"
#include "shm/sockmap.h"
#include "worker/splice.h"

/* ---- buffers ---- */

static void
test_buf_take_give(void **state)
{
	struct sl_bufpool p;
	struct sl_buf b = { 0 };
	uint8_t *first;

	(void)state;
	sl_bufpool_init(&p, 2);
	assert_int_equal(sl_buf_take(&p, &b), 0);
	assert_non_null(b.data);
	assert_int_equal(p.out, 1);
	first = b.data;
	/* Taking again keeps what is held. */
	b.len = 5;
	assert_int_equal(sl_buf_take(&p, &b), 0);
	assert_ptr_equal(b.data, first);
	assert_int_equal(b.len, 5);
	/* A buffer with bytes stays; an empty one goes back. */
	sl_buf_give(&p, &b);
	assert_ptr_equal(b.data, first);
	b.len = 0;
	sl_buf_give(&p, &b);
	assert_null(b.data);
	assert_int_equal(p.out, 0);
	assert_int_equal(p.nfree, 1);
	/* LIFO: the warm buffer goes out next, reset. */
	b.off = 7;
	assert_int_equal(sl_buf_take(&p, &b), 0);
	assert_ptr_equal(b.data, first);
	assert_int_equal(b.off, 0);
	assert_int_equal(p.nfree, 0);
	sl_buf_drop(&p, &b);
	sl_bufpool_free(&p);
	assert_int_equal(p.nfree, 0);
}

static void
test_buf_bounded(void **state)
{
	struct sl_bufpool p;
	struct sl_buf b[5];

	(void)state;
	memset(b, 0, sizeof(b));
	sl_bufpool_init(&p, 3);
	for (int i = 0; i < 5; i++)
		assert_int_equal(sl_buf_take(&p, &b[i]), 0);
	assert_int_equal(p.out, 5);
	for (int i = 0; i < 5; i++) {
		b[i].len = 100;		/* drop gives back whatever it holds */
		sl_buf_drop(&p, &b[i]);
		assert_null(b[i].data);
		assert_int_equal(b[i].len, 0);
	}
	assert_int_equal(p.out, 0);
	assert_int_equal(p.nfree, 3);	/* the rest went to free() */
	sl_buf_drop(&p, &b[0]);		/* nothing held: nothing happens */
	assert_int_equal(p.nfree, 3);
	sl_bufpool_free(&p);
}

/* ---- pipes ---- */

static void
test_pipe_relay(void **state)
{
	struct sl_pipepool pp;
	struct sl_pipe p;
	int a[2], b[2], rfd0;
	char buf[64];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    a), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    b), 0);
	sl_pipepool_init(&pp, 1);
	sl_pipe_init(&p);
	/* Nothing to read: would block, but the pipe is held now. */
	assert_int_equal(sl_pipe_in(&pp, &p, a[1]), -1);
	assert_true(p.fd[0] >= 0);
	assert_int_equal(write(a[0], "hello", 5), 5);
	assert_int_equal(sl_pipe_in(&pp, &p, a[1]), 5);
	assert_int_equal(p.len, 5);
	/* Not empty: give keeps it. */
	sl_pipe_give(&pp, &p);
	assert_true(p.fd[0] >= 0);
	assert_int_equal(sl_pipe_out(&p, b[0]), 5);
	assert_int_equal(p.len, 0);
	assert_int_equal(read(b[1], buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	rfd0 = p.fd[0];
	sl_pipe_give(&pp, &p);
	assert_int_equal(p.fd[0], -1);
	assert_int_equal(pp.n, 1);
	/* Taken again from the pool. */
	close(a[0]);
	assert_int_equal(sl_pipe_in(&pp, &p, a[1]), 0);	/* EOF */
	assert_int_equal(p.fd[0], rfd0);
	/* A pipe with bytes left is closed, never pooled. */
	p.len = 1;
	sl_pipe_drop(&pp, &p);
	assert_int_equal(p.fd[0], -1);
	assert_int_equal(pp.n, 0);
	assert_int_equal(fcntl(rfd0, F_GETFD), -1);
	sl_pipepool_free(&pp);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

/* ---- the FIN barrier ---- */

static void
test_barrier(void **state)
{
	(void)state;
	/* 1000 bytes and the FIN received, 100 of them read by the worker:
	 * 900 must be queued on the destination beyond its base. */
	assert_false(sl_sockmap_barrier(1001, 1, 100, 5000, 0, 4200));
	assert_false(sl_sockmap_barrier(1001, 1, 100, 4000, 1099, 4200));
	assert_true(sl_sockmap_barrier(1001, 1, 100, 4000, 1100, 4200));
	assert_true(sl_sockmap_barrier(1001, 1, 100, 5100, 0, 4200));
	/* A reset: no FIN to take off. */
	assert_false(sl_sockmap_barrier(1000, 0, 100, 5099, 0, 4200));
	assert_true(sl_sockmap_barrier(1000, 0, 100, 5100, 0, 4200));
	/* The worker read everything: nothing to wait for. */
	assert_true(sl_sockmap_barrier(101, 1, 100, 0, 0, 4200));
	/* No wrap-around when the counts are below their bases. */
	assert_true(sl_sockmap_barrier(0, 1, 0, 0, 0, 0));
	assert_true(sl_sockmap_barrier(50, 0, 100, 0, 0, 10));
	assert_false(sl_sockmap_barrier(UINT64_MAX, 0, 0, 10, 0, 20));
	assert_true(sl_sockmap_barrier(UINT64_MAX, 1, 0, UINT64_MAX, 0, 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_take_give),
		cmocka_unit_test(test_buf_bounded),
		cmocka_unit_test(test_pipe_relay),
		cmocka_unit_test(test_barrier),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
