/*
 * dial: non-blocking connect to a list of addresses, with Xray's retries.
 *
 * One attempt tries every address in order (as Go's dialer does for a
 * name with several addresses).  A failed attempt is retried after
 * 0, 100, 200, 300 ms (retry.ExponentialBackoff(5, 100) is in fact
 * linear), five attempts in all.  The back-off is a loop timer: the
 * worker never sleeps.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shm/log.h"
#include "worker/conn.h"

static void	dial_next(struct sl_conn *);

static void
dial_connected(struct sl_conn *c)
{
	int one = 1;

	if (c->addrs[c->addr_next].ss.ss_family != AF_UNIX)
		setsockopt(c->sev.fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	if (c->pxc != NULL) {
		sl_outbound_proxy_connected(c);
		return;
	}
	c->sev.cb = sl_relay_event;
	sl_relay_start(c);
}

static void
dial_event(struct sl_ev *ev, uint32_t events)
{
	struct sl_conn *c = ev->data;
	socklen_t len = sizeof(int);
	int err = 0;

	(void)events;
	if (getsockopt(ev->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err == 0) {
		dial_connected(c);
		return;
	}
	c->dial_err = strerror(err);
	sl_ev_close(c->w->loop, ev);
	close(ev->fd);
	ev->fd = -1;
	c->addr_next++;
	dial_next(c);
}

static void
dial_retry(struct sl_timer *t)
{
	struct sl_conn *c = t->data;

	c->addr_next = 0;
	dial_next(c);
}

static int
dial_one(struct sl_conn *c, const struct sl_dial_addr *a)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);

	if (fd == -1) {
		c->dial_err = strerror(errno);
		return -1;
	}
	sl_ev_init(&c->sev, fd, dial_event, c);
	if (c->bind != NULL && bind(fd, (const struct sockaddr *)c->bind->sa,
	    c->bind->len) == -1) {
		c->dial_err = strerror(errno);
		close(fd);
		c->sev.fd = -1;
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0) {
		dial_connected(c);
		return 0;
	}
	if (errno == EINPROGRESS) {
		sl_conn_set_events(c, &c->sev, EPOLLOUT);
		return 0;
	}
	c->dial_err = strerror(errno);
	close(fd);
	c->sev.fd = -1;
	return -1;
}

static void
dial_next(struct sl_conn *c)
{
	for (; c->addr_next < c->naddrs; c->addr_next++)
		if (dial_one(c, &c->addrs[c->addr_next]) == 0)
			return;
	if (++c->attempt < c->max_attempts) {
		c->dial_timer.cb = dial_retry;
		sl_timer_add(c->w->loop, &c->dial_timer,
		    (uint64_t)(c->attempt - 1) * 100);
		return;
	}
	sl_warn("failed to dial to %s: %s", c->is_fallback ? "fallback" :
	    "target", c->dial_err ? c->dial_err : "no address");
	sl_conn_close(c, "failed to dial");
}

int
sl_dial_img_addrs(struct sl_conn *c, uint32_t first, uint32_t count)
{
	if ((c->addrs = calloc(count + 1, sizeof(*c->addrs))) == NULL)
		return -1;
	for (uint32_t i = 0; i < count; i++) {
		const struct sl_img_addr *a = SL_IMG_REC(&c->g->img,
		    SL_SECT_ADDRS, struct sl_img_addr, first + i);

		memcpy(&c->addrs[i].ss, a->sa, a->len);
		c->addrs[i].len = a->len;
	}
	c->naddrs = count;
	return 0;
}

void
sl_dial_start(struct sl_conn *c, int retries)
{
	c->state = SL_C_DIAL;
	/* The client waits, unread, until the other side is connected. */
	sl_conn_set_events(c, &c->cev, 0);
	c->attempt = 0;
	c->addr_next = 0;
	c->max_attempts = retries;
	dial_next(c);
}
