/*
 * relay: copy bytes both ways between the client and the server side.
 *
 * One pump runs every step that can make progress (read client, write
 * server, read server, write client, propagate EOF) until none can, then
 * sets the epoll interest from what is pending.  Each direction has one
 * buffer and reads only when it is empty: a slow reader stops the other
 * side's reads (back-pressure) instead of growing memory.
 *
 * Half-close: the server's EOF is passed to the client (close_notify and
 * SHUT_WR on TLS), so a client sees the end of a response at once.  The
 * client's EOF is NOT passed to the server, as in Xray: web servers take
 * a client's FIN as an abort (nginx cut a 100 MiB response at 4 MB when
 * it was passed on), and a fallback must look like the real site.  Timers
 * follow Xray's policy: connIdle while both directions are open, then
 * downlinkOnly after the client's EOF, uplinkOnly after the server's.
 */
#include <sys/socket.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "shm/log.h"
#include "worker/conn.h"
#include "worker/tlsbio.h"

enum { STEP_NONE = 0, STEP_PROGRESS = 1, STEP_CLOSED = -1 };

ssize_t
sl_relay_client_read(struct sl_conn *c, size_t max)
{
	uint8_t *p = c->up.data + c->up.off + c->up.len;
	size_t room = SL_BUF_SIZE - c->up.off - c->up.len;
	ssize_t n;

	if (room > max)
		room = max;
	if (room == 0)
		return -2;
	c->ssl_read_wants_write = 0;
	if (c->ssl != NULL) {
		int r = SSL_read(c->ssl, p, (int)room), e;

		if (r <= 0) {
			e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				return -1;
			if (e == SSL_ERROR_WANT_WRITE) {
				c->ssl_read_wants_write = 1;
				return -1;
			}
			ERR_clear_error();
			/* close_notify or a bare TCP FIN: both end the
			 * client's direction. */
			return e == SSL_ERROR_ZERO_RETURN ||
			    (e == SSL_ERROR_SYSCALL && errno == 0) ? 0 : -2;
		}
		n = r;
		/* OpenSSL reads ahead: the records it holds are no longer
		 * socket input, so no epoll event would report them. */
		if (SSL_has_pending(c->ssl))
			sl_ev_post(c->w->loop, &c->cev);
	} else {
		n = read(c->cev.fd, p, room);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? -1 : -2;
	}
	c->up.len += (size_t)n;
	return n;
}

ssize_t
sl_relay_client_write(struct sl_conn *c, const uint8_t *p, size_t len)
{
	ssize_t n;

	c->ssl_write_wants_read = 0;
	if (c->ssl != NULL) {
		int r = SSL_write(c->ssl, p, (int)len), e;

		if (r > 0)
			return sl_tlsbio_flush(c->ssl) == -1 ? -2 : r;
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_WRITE)
			return -1;
		if (e == SSL_ERROR_WANT_READ) {
			c->ssl_write_wants_read = 1;
			return -1;
		}
		ERR_clear_error();
		return -2;
	}
	n = send(c->cev.fd, p, len, MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -1 : -2;
	return n;
}

static int
up_step(struct sl_conn *c)
{
	int progress = STEP_NONE;
	ssize_t n;

	if (c->up.len == 0 && !c->client_eof) {
		c->up.off = 0;
		n = sl_relay_client_read(c, SIZE_MAX);
		if (n == -2) {
			sl_conn_close(c, "client read error");
			return STEP_CLOSED;
		}
		if (n == 0)
			c->client_eof = 1;
		if (n >= 0)
			progress = STEP_PROGRESS;
	}
	if (c->up.len > 0) {
		n = send(c->sev.fd, c->up.data + c->up.off, c->up.len,
		    MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			sl_conn_close(c, "server write error");
			return STEP_CLOSED;
		}
		if (n > 0) {
			c->up.off += (size_t)n;
			c->up.len -= (size_t)n;
			c->up_bytes += (uint64_t)n;
			progress = STEP_PROGRESS;
		}
	}
	if (c->up.len == 0 && c->client_eof && !c->up_shut) {
		c->up_shut = 1;		/* nothing more to send; see above */
		c->idle_ms = c->policy->downlink_only_ms;
		progress = STEP_PROGRESS;
	}
	return progress;
}

static int
down_read(struct sl_conn *c)
{
	size_t pre = c->down_prefix;
	ssize_t n;

	c->down.off = 0;
	n = read(c->sev.fd, c->down.data + pre, SL_BUF_SIZE - pre);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return STEP_NONE;
	if (n <= 0) {
		/* A reset from the server ends its direction like EOF. */
		c->server_eof = 1;
		return STEP_PROGRESS;
	}
	/* VLESS: the response header rides with the first payload. */
	memset(c->down.data, 0, pre);
	c->down_prefix = 0;
	c->down.len = (size_t)n + pre;
	return STEP_PROGRESS;
}

/* Bytes OpenSSL counts as written that the TLS BIO still holds: 0 none
 * left, 1 some left (the socket is full), -1 error. */
static int
client_flush(struct sl_conn *c)
{
	if (c->ssl == NULL || sl_tlsbio_pending(c->ssl) == 0)
		return 0;
	switch (sl_tlsbio_flush(c->ssl)) {
	case -1:
		return -1;
	case 0:
		return 1;
	default:
		return 0;
	}
}

/* The server's EOF to the client: close_notify, then (once it has left)
 * the FIN.  0 done, 1 waiting for the socket, -1 error. */
static int
client_shutdown(struct sl_conn *c)
{
	int r;

	if (c->ssl != NULL && !c->notify_sent) {
		SSL_shutdown(c->ssl);	/* close_notify; reading goes on */
		ERR_clear_error();
		c->notify_sent = 1;
	}
	if ((r = client_flush(c)) != 0)
		return r;
	shutdown(c->cev.fd, SHUT_WR);
	return 0;
}

static int
down_step(struct sl_conn *c)
{
	int progress = STEP_NONE, r;
	ssize_t n;

	if ((r = client_flush(c)) == -1) {
		sl_conn_close(c, "client write error");
		return STEP_CLOSED;
	}
	if (c->down.len == 0 && !c->server_eof)
		progress = down_read(c);
	c->client_write_blocked = 0;
	if (c->down.len > 0) {
		n = sl_relay_client_write(c, c->down.data + c->down.off, c->down.len);
		if (n == -2) {
			sl_conn_close(c, "client write error");
			return STEP_CLOSED;
		}
		if (n == -1)
			c->client_write_blocked = 1;
		else {
			c->down.off += (size_t)n;
			c->down.len -= (size_t)n;
			c->down_bytes += (uint64_t)n;
			progress = STEP_PROGRESS;
		}
	}
	if (c->down.len == 0 && c->server_eof && !c->down_shut) {
		if ((r = client_shutdown(c)) == -1) {
			sl_conn_close(c, "client write error");
			return STEP_CLOSED;
		}
		if (r == 1) {
			c->client_write_blocked = 1;
			return progress;
		}
		c->down_shut = 1;
		c->idle_ms = c->policy->uplink_only_ms;
		progress = STEP_PROGRESS;
	}
	return progress;
}

static void
set_interest(struct sl_conn *c)
{
	uint32_t cm = 0, sm = 0;

	if ((c->up.len == 0 && !c->client_eof) || c->ssl_write_wants_read)
		cm |= EPOLLIN;
	if (c->client_write_blocked || c->ssl_read_wants_write ||
	    (c->ssl != NULL && sl_tlsbio_pending(c->ssl) > 0))
		cm |= EPOLLOUT;
	if (c->down.len == 0 && !c->server_eof)
		sm |= EPOLLIN;
	if (c->up.len > 0)
		sm |= EPOLLOUT;
	sl_conn_set_events(c, &c->cev, cm);
	sl_conn_set_events(c, &c->sev, sm);
}

static void
pump(struct sl_conn *c)
{
	int up, down, moved = 0;

	do {
		if ((up = up_step(c)) == STEP_CLOSED)
			return;
		if ((down = down_step(c)) == STEP_CLOSED)
			return;
		moved |= up | down;
	} while (up == STEP_PROGRESS || down == STEP_PROGRESS);
	if (c->up_shut && c->down_shut) {
		sl_conn_close(c, NULL);
		return;
	}
	if (moved)
		sl_conn_touch(c);
	set_interest(c);
}

/* Blocked connections: read and discard until the hold timer fires. */
static void
hold_drain(struct sl_conn *c)
{
	ssize_t n;

	do {
		c->up.off = c->up.len = 0;
		n = sl_relay_client_read(c, SIZE_MAX);
	} while (n > 0);
	if (n == 0 || n == -2)
		sl_conn_close(c, "blocked by final rule");
}

void
sl_relay_event(struct sl_ev *ev, uint32_t events)
{
	struct sl_conn *c = ev->data;

	(void)events;
	if (c->state == SL_C_HOLD)
		hold_drain(c);
	else if (c->state == SL_C_RELAY)
		pump(c);
}

void
sl_relay_start(struct sl_conn *c)
{
	c->state = SL_C_RELAY;
	c->idle_ms = c->policy->conn_idle_ms;
	sl_conn_touch(c);
	pump(c);
}
