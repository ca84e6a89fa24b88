/*
 * test_tlsbio: the gathering socket BIO under server-side SSLs
 * (worker/tlsbio.c).  Writes stay in the BIO until a flush or until the
 * next write would overflow it; a full socket makes a write ask for a
 * retry; nothing is lost, duplicated or reordered; recv's EOF is BIO_eof.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "worker/tlsbio.h"

#define REC	16406		/* a full TLS 1.3 record on the wire */

struct fx {
	int	 sv[2];		/* [0] under the BIO, [1] the peer */
	SSL_CTX	*ctx;
	SSL	*ssl;
	BIO	*b;
};

static void
fx_open(struct fx *f, int sndbuf)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, f->sv), 0);
	assert_int_equal(fcntl(f->sv[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(fcntl(f->sv[1], F_SETFL, O_NONBLOCK), 0);
	if (sndbuf > 0)
		assert_int_equal(setsockopt(f->sv[0], SOL_SOCKET, SO_SNDBUF,
		    &sndbuf, sizeof(sndbuf)), 0);
	assert_non_null(f->ctx = SSL_CTX_new(TLS_server_method()));
	assert_non_null(f->ssl = SSL_new(f->ctx));
	assert_non_null(f->b = sl_tlsbio_new(f->sv[0]));
	SSL_set_bio(f->ssl, f->b, f->b);
}

static void
fx_close(struct fx *f)
{
	SSL_free(f->ssl);
	SSL_CTX_free(f->ctx);
	close(f->sv[0]);
	close(f->sv[1]);
}

/* Everything the peer can read now. */
static size_t
drain(int fd, uint8_t *out, size_t cap)
{
	size_t got = 0;
	ssize_t n;

	while (got < cap && (n = read(fd, out + got, cap - got)) > 0)
		got += (size_t)n;
	return got;
}

static void
fill(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed + i * 31 + (i >> 8));
}

static void
test_gathers_until_flush(void **state)
{
	static uint8_t rec[3][REC], got[3 * REC + 16];
	struct fx f;

	(void)state;
	fx_open(&f, 0);
	for (int i = 0; i < 3; i++) {
		fill(rec[i], REC, (unsigned)i);
		assert_int_equal(BIO_write(f.b, rec[i], REC), REC);
	}
	/* Held: the peer has nothing yet. */
	assert_int_equal(sl_tlsbio_pending(f.ssl), 3 * REC);
	assert_int_equal(BIO_ctrl_wpending(f.b), 3 * REC);
	assert_int_equal(drain(f.sv[1], got, sizeof(got)), 0);

	assert_int_equal(sl_tlsbio_flush(f.ssl), 1);
	assert_int_equal(sl_tlsbio_pending(f.ssl), 0);
	assert_int_equal(drain(f.sv[1], got, sizeof(got)), 3 * REC);
	for (int i = 0; i < 3; i++)
		assert_memory_equal(got + (size_t)i * REC, rec[i], REC);
	/* Nothing held: a flush is a no-op that succeeds. */
	assert_int_equal(sl_tlsbio_flush(f.ssl), 1);
	assert_int_equal(BIO_flush(f.b), 1);
	fx_close(&f);
}

static void
test_overflow_sends_first(void **state)
{
	static uint8_t rec[6][REC], got[6 * REC];
	size_t held;
	struct fx f;

	(void)state;
	fx_open(&f, 0);
	for (int i = 0; i < 6; i++) {
		fill(rec[i], REC, (unsigned)(10 + i));
		assert_int_equal(BIO_write(f.b, rec[i], REC), REC);
	}
	/* The fifth record did not fit: the first four left before it. */
	held = sl_tlsbio_pending(f.ssl);
	assert_true(held < 6 * REC);
	assert_true(held + 4 * REC <= 6 * REC);
	assert_int_equal(sl_tlsbio_flush(f.ssl), 1);
	assert_int_equal(drain(f.sv[1], got, sizeof(got)), 6 * REC);
	for (int i = 0; i < 6; i++)
		assert_memory_equal(got + (size_t)i * REC, rec[i], REC);
	fx_close(&f);
}

/* A full socket: the write asks for a retry, and after the peer reads,
 * flushing and retrying deliver every byte once, in order. */
static void
test_full_socket_retry(void **state)
{
	static uint8_t src[64 * REC], got[64 * REC];
	size_t sent = 0, recvd = 0;
	int retries = 0, rounds = 0;
	struct fx f;

	(void)state;
	fx_open(&f, 4096);
	fill(src, sizeof(src), 7);
	while (sent < sizeof(src) && rounds++ < 100000) {
		int n = BIO_write(f.b, src + sent, REC);

		if (n == REC) {
			sent += REC;
			continue;
		}
		assert_true(n <= 0);
		assert_true(BIO_should_retry(f.b));
		assert_true(BIO_should_write(f.b));
		retries++;
		recvd += drain(f.sv[1], got + recvd, sizeof(got) - recvd);
		(void)sl_tlsbio_flush(f.ssl);
	}
	assert_int_equal(sent, sizeof(src));
	assert_true(retries > 0);
	while (sl_tlsbio_flush(f.ssl) == 0 && rounds++ < 100000)
		recvd += drain(f.sv[1], got + recvd, sizeof(got) - recvd);
	recvd += drain(f.sv[1], got + recvd, sizeof(got) - recvd);
	assert_int_equal(recvd, sizeof(src));
	assert_memory_equal(got, src, sizeof(src));
	fx_close(&f);
}

static void
test_flush_error_and_eof(void **state)
{
	uint8_t buf[64];
	struct fx f;
	int fd;

	(void)state;
	fx_open(&f, 0);
	assert_int_equal(BIO_get_fd(f.b, &fd), f.sv[0]);
	assert_int_equal(fd, f.sv[0]);
	/* Nothing to read yet: a retry, not EOF. */
	assert_true(BIO_read(f.b, buf, sizeof(buf)) <= 0);
	assert_true(BIO_should_retry(f.b));
	assert_int_equal(BIO_eof(f.b), 0);
	assert_int_equal(write(f.sv[1], "hi", 2), 2);
	assert_int_equal(BIO_read(f.b, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "hi", 2);

	assert_int_equal(BIO_write(f.b, "abc", 3), 3);
	close(f.sv[1]);
	f.sv[1] = open("/dev/null", O_RDONLY);
	/* The peer is gone: the flush fails, it does not ask to retry. */
	errno = 0;
	assert_int_equal(sl_tlsbio_flush(f.ssl), -1);
	assert_int_equal(errno, EPIPE);
	assert_true(BIO_read(f.b, buf, sizeof(buf)) <= 0);
	assert_false(BIO_should_retry(f.b));
	assert_int_equal(BIO_eof(f.b), 1);
	fx_close(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gathers_until_flush),
		cmocka_unit_test(test_overflow_sends_first),
		cmocka_unit_test(test_full_socket_retry),
		cmocka_unit_test(test_flush_error_and_eof),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
