/*
 * tlsbio: a socket BIO that sends the records of one burst together.
 *
 * See tlsbio.h.  OpenSSL writes one record per BIO write; the records are
 * appended here and leave in one send(2) when the buffer would overflow,
 * at BIO_flush (which OpenSSL issues after each handshake flight) and at
 * sl_tlsbio_flush.  A write that finds the buffer full and the socket
 * full asks OpenSSL to retry, which SSL_write reports as WANT_WRITE.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "worker/tlsbio.h"

struct tlsbio {
	int		 fd;
	int		 eof;		/* recv returned 0 */
	uint8_t		*buf;		/* only while it holds bytes */
	size_t		 off, len;	/* pending: buf[off..off+len) */
};

static BIO_METHOD *method;

/* 1 all sent, 0 the socket is full, -1 error. */
static int
tb_send(struct tlsbio *t)
{
	ssize_t n;

	while (t->len > 0) {
		n = send(t->fd, t->buf + t->off, t->len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 0 : -1;
		}
		t->off += (size_t)n;
		t->len -= (size_t)n;
	}
	free(t->buf);
	t->buf = NULL;
	t->off = 0;
	return 1;
}

static int
tb_write(BIO *b, const char *data, size_t dlen, size_t *written)
{
	struct tlsbio *t = BIO_get_data(b);
	int r;

	BIO_clear_retry_flags(b);
	if (t->len + dlen > SL_TLSBIO_CAP) {
		if ((r = tb_send(t)) == -1)
			return 0;
		if (r == 0) {
			BIO_set_retry_write(b);
			return 0;
		}
		if (dlen > SL_TLSBIO_CAP)
			return 0;	/* OpenSSL writes one record at a time */
	}
	if (t->buf == NULL && (t->buf = malloc(SL_TLSBIO_CAP)) == NULL)
		return 0;
	if (t->off + t->len + dlen > SL_TLSBIO_CAP) {
		memmove(t->buf, t->buf + t->off, t->len);
		t->off = 0;
	}
	memcpy(t->buf + t->off + t->len, data, dlen);
	t->len += dlen;
	*written = dlen;
	return 1;
}

static int
tb_read(BIO *b, char *out, size_t outl, size_t *readbytes)
{
	struct tlsbio *t = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	n = recv(t->fd, out, outl, 0);
	if (n > 0) {
		*readbytes = (size_t)n;
		return 1;
	}
	if (n == 0)
		t->eof = 1;	/* BIO_eof: SSL_OP_IGNORE_UNEXPECTED_EOF */
	else if (errno == EAGAIN || errno == EINTR)
		BIO_set_retry_read(b);
	return 0;
}

static long
tb_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tlsbio *t = BIO_get_data(b);
	int r;

	(void)num;
	switch (cmd) {
	case BIO_CTRL_FLUSH:
		BIO_clear_retry_flags(b);
		if ((r = tb_send(t)) == 0)
			BIO_set_retry_write(b);
		return r;
	case BIO_CTRL_WPENDING:
		return (long)t->len;
	case BIO_CTRL_EOF:
		return t->eof;
	case BIO_C_GET_FD:
		if (ptr != NULL)
			*(int *)ptr = t->fd;
		return t->fd;
	case BIO_CTRL_DUP:
		return 1;
	default:
		return 0;
	}
}

static int
tb_create(BIO *b)
{
	struct tlsbio *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return 0;
	t->fd = -1;
	BIO_set_data(b, t);
	BIO_set_init(b, 1);
	return 1;
}

static int
tb_destroy(BIO *b)
{
	struct tlsbio *t = BIO_get_data(b);

	if (t != NULL) {
		free(t->buf);
		free(t);
	}
	BIO_set_data(b, NULL);
	return 1;
}

/* Made once per process, kept for its life (BIOs refer to it). */
static BIO_METHOD *
tb_method(void)
{
	BIO_METHOD *m;

	if (method != NULL)
		return method;
	m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK |
	    BIO_TYPE_DESCRIPTOR, "sluice socket");
	if (m == NULL || BIO_meth_set_write_ex(m, tb_write) != 1 ||
	    BIO_meth_set_read_ex(m, tb_read) != 1 ||
	    BIO_meth_set_ctrl(m, tb_ctrl) != 1 ||
	    BIO_meth_set_create(m, tb_create) != 1 ||
	    BIO_meth_set_destroy(m, tb_destroy) != 1) {
		BIO_meth_free(m);
		return NULL;
	}
	return method = m;
}

BIO *
sl_tlsbio_new(int fd)
{
	BIO_METHOD *m = tb_method();
	BIO *b;

	if (m == NULL || (b = BIO_new(m)) == NULL)
		return NULL;
	((struct tlsbio *)BIO_get_data(b))->fd = fd;
	return b;
}

int
sl_tlsbio_flush(SSL *ssl)
{
	return tb_send(BIO_get_data(SSL_get_wbio(ssl)));
}

size_t
sl_tlsbio_pending(SSL *ssl)
{
	return ((struct tlsbio *)BIO_get_data(SSL_get_wbio(ssl)))->len;
}
