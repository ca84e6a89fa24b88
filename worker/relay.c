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
 *
 * Modes (sluice.relay): every direction starts by copying, since the first
 * packet, a PROXY header or VLESS's response header are in user space.  On
 * a plaintext pair (no TLS on the client leg) a direction whose buffer is
 * empty then moves on to splice(2) through a pipe, or both go into the
 * sockmap (shm/sockmap.h), falling back to splice for a direction that
 * cannot be inserted.  EOF, back-pressure and timers are the same in every
 * mode; only how bytes move differs.  Buffers and pipes are held only
 * while they hold bytes (worker/buf.h, worker/splice.h).
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "shm/log.h"
#include "worker/conn.h"
#include "worker/tlsbio.h"

enum { STEP_NONE = 0, STEP_PROGRESS = 1, STEP_CLOSED = -1 };

static ssize_t
client_read(struct sl_conn *c, size_t max)
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
		c->client_rx += (uint64_t)n;
	}
	c->up.len += (size_t)n;
	return n;
}

/* The buffer is taken for the read and given back if it stayed empty:
 * a client that has nothing to say holds none. */
ssize_t
sl_relay_client_read(struct sl_conn *c, size_t max)
{
	ssize_t n;

	if (sl_buf_take(&c->w->bufs, &c->up) == -1)
		return -2;
	if ((n = client_read(c, max)) == -1)
		sl_buf_give(&c->w->bufs, &c->up);
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

/* ---- client -> server ---- */

static int
up_copy(struct sl_conn *c)
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
	return progress;
}

static int
up_splice(struct sl_conn *c)
{
	int progress = STEP_NONE;
	ssize_t n;

	if (c->up_pipe.len == 0 && !c->client_eof) {
		n = sl_pipe_in(&c->w->pipes, &c->up_pipe, c->cev.fd);
		if (n == -2) {
			sl_conn_close(c, "client read error");
			return STEP_CLOSED;
		}
		if (n == 0)
			c->client_eof = 1;
		if (n > 0)
			c->client_rx += (uint64_t)n;
		if (n >= 0)
			progress = STEP_PROGRESS;
	}
	if (c->up_pipe.len > 0) {
		n = sl_pipe_out(&c->up_pipe, c->sev.fd);
		if (n == -2) {
			sl_conn_close(c, "server write error");
			return STEP_CLOSED;
		}
		if (n > 0) {
			c->up_bytes += (uint64_t)n;
			progress = STEP_PROGRESS;
		}
	}
	return progress;
}

/* The kernel moves the bytes; the worker only learns of the end. */
static int
up_sockmap(struct sl_conn *c)
{
	int r;

	if (c->client_eof || (r = sl_sockmap_eof(c->cev.fd)) == 0)
		return STEP_NONE;
	if (r == 2) {
		sl_conn_close(c, "client read error");
		return STEP_CLOSED;
	}
	c->client_eof = 1;
	c->client_fin = 1;
	return STEP_PROGRESS;
}

static void
barrier_tick(struct sl_timer *t)
{
	struct sl_conn *c = t->data;

	sl_relay_event(&c->sev, 0);
}

/*
 * Sockmap: at a source's EOF, bytes it sent may still be on their way
 * through the kernel to the other socket.  The server's FIN must not
 * overtake them (trap 8), and the connection must not close under them:
 * a direction is over only when everything its source sent is queued on
 * the destination.  Until then look again on a timer (1, 2, 4 .. 64 ms),
 * since nothing else would wake the worker.
 */
static int
flushed(struct sl_conn *c, int dir)
{
	int up = dir == SL_SM_UP;

	if (sl_sockmap_flushed(&c->sm, dir, c->cev.fd, c->sev.fd,
	    up ? c->client_rx : c->server_rx, up ? c->client_fin :
	    c->server_fin))
		return 1;
	c->barrier_ms = c->barrier_ms ? c->barrier_ms * 2 : 1;
	if (c->barrier_ms > 64)
		c->barrier_ms = 64;
	c->dial_timer.cb = barrier_tick;
	if (!sl_timer_armed(&c->dial_timer))
		sl_timer_add(c->w->loop, &c->dial_timer, c->barrier_ms);
	return 0;
}

static int
up_step(struct sl_conn *c)
{
	int progress;

	if (c->up_mode == SL_DIR_SOCKMAP)
		progress = up_sockmap(c);
	else if (c->up_mode == SL_DIR_SPLICE)
		progress = up_splice(c);
	else
		progress = up_copy(c);
	if (progress == STEP_CLOSED)
		return progress;
	if (c->up.len == 0 && c->up_pipe.len == 0 && c->client_eof &&
	    !c->up_shut) {
		if (c->up_mode == SL_DIR_SOCKMAP && !flushed(c, SL_SM_UP))
			return progress;
		c->up_shut = 1;		/* nothing more to send; see above */
		c->idle_ms = c->policy->downlink_only_ms;
		progress = STEP_PROGRESS;
	}
	return progress;
}

/* ---- server -> client ---- */

static int
down_read(struct sl_conn *c)
{
	size_t pre = c->down_prefix;
	ssize_t n;

	if (sl_buf_take(&c->w->bufs, &c->down) == -1) {
		sl_conn_close(c, "out of memory");
		return STEP_CLOSED;
	}
	c->down.off = 0;
	/* Still empty on EAGAIN: pump() gives it back when it stalls. */
	n = read(c->sev.fd, c->down.data + pre, SL_BUF_SIZE - pre);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return STEP_NONE;
	if (n <= 0) {
		/* A reset from the server ends its direction like EOF. */
		c->server_eof = 1;
		return STEP_PROGRESS;
	}
	c->server_rx += (uint64_t)n;
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
down_copy(struct sl_conn *c)
{
	int progress = STEP_NONE, r;
	ssize_t n;

	if ((r = client_flush(c)) == -1) {
		sl_conn_close(c, "client write error");
		return STEP_CLOSED;
	}
	if (c->down.len == 0 && !c->server_eof &&
	    (progress = down_read(c)) == STEP_CLOSED)
		return progress;
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
	return progress;
}

static int
down_splice(struct sl_conn *c)
{
	int progress = STEP_NONE;
	ssize_t n;

	if (c->down_pipe.len == 0 && !c->server_eof) {
		n = sl_pipe_in(&c->w->pipes, &c->down_pipe, c->sev.fd);
		if (n == 0 || n == -2)
			c->server_eof = 1;	/* as down_read */
		if (n > 0)
			c->server_rx += (uint64_t)n;
		if (n != -1)
			progress = STEP_PROGRESS;
	}
	if (c->down_pipe.len > 0) {
		n = sl_pipe_out(&c->down_pipe, c->cev.fd);
		if (n == -2) {
			sl_conn_close(c, "client write error");
			return STEP_CLOSED;
		}
		if (n == -1)
			c->client_write_blocked = 1;
		else {
			c->down_bytes += (uint64_t)n;
			progress = STEP_PROGRESS;
		}
	}
	return progress;
}

static int
down_sockmap(struct sl_conn *c)
{
	int r;

	if (c->server_eof || (r = sl_sockmap_eof(c->sev.fd)) == 0)
		return STEP_NONE;
	c->server_eof = 1;
	c->server_fin = r == 1;
	return STEP_PROGRESS;
}

static int
down_step(struct sl_conn *c)
{
	int progress, r;

	c->client_write_blocked = 0;
	if (c->down_mode == SL_DIR_SOCKMAP)
		progress = down_sockmap(c);
	else if (c->down_mode == SL_DIR_SPLICE)
		progress = down_splice(c);
	else
		progress = down_copy(c);
	if (progress == STEP_CLOSED)
		return progress;
	if (c->down.len == 0 && c->down_pipe.len == 0 && c->server_eof &&
	    !c->down_shut) {
		if (c->down_mode == SL_DIR_SOCKMAP && !flushed(c, SL_SM_DOWN))
			return progress;
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

/* ---- modes ---- */

/*
 * The pair goes into the sockmap at a stall with nothing left in user
 * space: every source was just read to EAGAIN, so no skb is half consumed
 * (trap 4).  VLESS's response header rides with the first payload, as
 * when copying, so that comes first.  Both directions go in together: a
 * socket the kernel writes to must run the verdict too, or nothing wakes
 * its redirect queue when its send buffer fills (seen on 6.18).  A pair
 * that cannot go in (a FIN already in: trap 2) splices.
 */
static int
sockmap_try(struct sl_conn *c)
{
	if (c->client_eof || c->server_eof) {
		c->fast = SL_DIR_SPLICE;
		return 0;
	}
	if (c->up.len > 0 || c->down.len > 0 || c->up_pipe.len > 0 ||
	    c->down_pipe.len > 0 || c->down_prefix > 0)
		return 0;	/* at a later stall */
	c->fast = SL_DIR_SPLICE;
	if (sl_sockmap_link(&c->sm, c->cev.fd, c->sev.fd) == -1 ||
	    sl_sockmap_arm(&c->sm, SL_SM_DOWN, c->cev.fd, c->sev.fd) == -1) {
		sl_debug("sockmap: %s; splicing", strerror(errno));
		sl_sockmap_unlink(&c->sm);
		return 0;
	}
	c->down_mode = SL_DIR_SOCKMAP;
	/* The client's FIN came between two calls: the server's bytes may
	 * be on their way already, so neither mode can take over. */
	if (sl_sockmap_arm(&c->sm, SL_SM_UP, c->cev.fd, c->sev.fd) == -1) {
		sl_conn_close(c, "sockmap insert failed");
		return -1;
	}
	c->up_mode = SL_DIR_SOCKMAP;
	return 0;
}

/* At a stall: move each direction that can on to a faster mode; 1 if
 * one did, -1 if the connection is closed. */
static int
upgrade(struct sl_conn *c)
{
	uint8_t up = c->up_mode, down = c->down_mode;

	if (c->fast == SL_DIR_SOCKMAP && sockmap_try(c) == -1)
		return -1;
	if (c->up_mode == SL_DIR_COPY && c->up.len == 0)
		c->up_mode = SL_DIR_SPLICE;
	if (c->down_mode == SL_DIR_COPY && c->down.len == 0 &&
	    c->down_prefix == 0)
		c->down_mode = SL_DIR_SPLICE;
	return c->up_mode != up || c->down_mode != down;
}

static void
set_interest(struct sl_conn *c)
{
	uint32_t cm = 0, sm = 0;

	/* A sockmap source is watched for its end only (trap 9). */
	if (!c->client_eof && c->up.len == 0 && c->up_pipe.len == 0)
		cm |= c->up_mode == SL_DIR_SOCKMAP ? EPOLLRDHUP : EPOLLIN;
	if (c->ssl_write_wants_read)
		cm |= EPOLLIN;
	if (c->client_write_blocked || c->ssl_read_wants_write ||
	    (c->ssl != NULL && sl_tlsbio_pending(c->ssl) > 0))
		cm |= EPOLLOUT;
	if (!c->server_eof && c->down.len == 0 && c->down_pipe.len == 0)
		sm |= c->down_mode == SL_DIR_SOCKMAP ? EPOLLRDHUP : EPOLLIN;
	if (c->up.len > 0 || c->up_pipe.len > 0)
		sm |= EPOLLOUT;
	sl_conn_set_events(c, &c->cev, cm);
	sl_conn_set_events(c, &c->sev, sm);
}

static void
pump(struct sl_conn *c)
{
	int up, down, moved = 0, upgraded = 0, r;

	for (;;) {
		do {
			if ((up = up_step(c)) == STEP_CLOSED)
				return;
			if ((down = down_step(c)) == STEP_CLOSED)
				return;
			moved |= up | down;
		} while (up == STEP_PROGRESS || down == STEP_PROGRESS);
		/* Stalled: a faster mode starts with a fresh round. */
		if (upgraded || c->fast == SL_DIR_COPY || (c->up_shut &&
		    c->down_shut) || (r = upgrade(c)) == 0)
			break;
		if (r == -1)
			return;
		upgraded = 1;
	}
	if (c->up_shut && c->down_shut) {
		sl_conn_close(c, NULL);
		return;
	}
	if (moved)
		sl_conn_touch(c);
	sl_buf_give(&c->w->bufs, &c->up);
	sl_buf_give(&c->w->bufs, &c->down);
	sl_pipe_give(&c->w->pipes, &c->up_pipe);
	sl_pipe_give(&c->w->pipes, &c->down_pipe);
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

int
sl_relay_busy(struct sl_conn *c)
{
	if (c->up_mode != SL_DIR_SOCKMAP && c->down_mode != SL_DIR_SOCKMAP)
		return 0;
	return sl_sockmap_busy(&c->sm, c->cev.fd, c->sev.fd);
}

void
sl_relay_moved(struct sl_conn *c, uint64_t *up, uint64_t *down)
{
	*up = c->up_bytes;
	*down = c->down_bytes;
	if (c->up_mode == SL_DIR_SOCKMAP)
		*up += sl_sockmap_sent(&c->sm, SL_SM_UP, c->cev.fd, c->sev.fd,
		    0);
	if (c->down_mode == SL_DIR_SOCKMAP)
		*down += sl_sockmap_sent(&c->sm, SL_SM_DOWN, c->cev.fd,
		    c->sev.fd, c->down_shut);
}

void
sl_relay_free(struct sl_conn *c)
{
	struct sl_wctx *w = c->w;
	uint64_t up, down;

	/* Counted by the kernel, for the access log and the counters. */
	sl_relay_moved(c, &up, &down);
	c->up_bytes = up;
	c->down_bytes = down;
	c->up_mode = c->down_mode = SL_DIR_COPY;
	sl_sockmap_unlink(&c->sm);
	sl_pipe_drop(&w->pipes, &c->up_pipe);
	sl_pipe_drop(&w->pipes, &c->down_pipe);
	sl_buf_drop(&w->bufs, &c->up);
	sl_buf_drop(&w->bufs, &c->down);
}

void
sl_relay_start(struct sl_conn *c)
{
	enum sl_relay_mode mode = c->g->img.hdr->globals.relay;

	c->state = SL_C_RELAY;
	c->idle_ms = c->policy->conn_idle_ms;
	/* TLS legs are copied: the bytes must pass through OpenSSL. */
	if (c->ssl != NULL || mode == SL_RELAY_COPY)
		c->fast = SL_DIR_COPY;
	else if (mode == SL_RELAY_SOCKMAP && sl_sockmap_ready())
		c->fast = SL_DIR_SOCKMAP;
	else
		c->fast = SL_DIR_SPLICE;
	sl_conn_touch(c);
	pump(c);
}
