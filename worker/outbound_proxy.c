/*
 * outbound_proxy: the socks and http outbounds -- connect to the proxy
 * server (resolved by the master), run the client handshake of
 * worker/proxyclient.c for the request's target, then relay.
 *
 * The handshake reads the proxy's answer into the down buffer after the
 * room the VLESS response header needs, so bytes the proxy sends right
 * after its answer are relayed, not lost.
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shm/log.h"
#include "worker/conn.h"
#include "worker/proxyclient.h"

void
sl_outbound_proxy_free(struct sl_conn *c)
{
	free(c->pxc);
	c->pxc = NULL;
}

static int
proxy_send(struct sl_conn *c)
{
	const uint8_t *p;
	size_t len;
	ssize_t n;

	while ((p = sl_pxc_output(c->pxc, &len)), len > 0) {
		n = send(c->sev.fd, p, len, MSG_NOSIGNAL);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? SL_AGAIN :
			    SL_ERROR;
		sl_pxc_sent(c->pxc, (size_t)n);
	}
	return SL_OK;
}

/* The tunnel is open: whatever followed the answer goes to the client. */
static void
proxy_open(struct sl_conn *c, size_t got, size_t used)
{
	size_t pre = c->down_prefix, rest = got - used;

	memmove(c->down.data + pre, c->down.data + pre + used, rest);
	c->down.off = 0;
	c->down.len = 0;
	if (rest > 0) {
		memset(c->down.data, 0, pre);
		c->down_prefix = 0;
		c->down.len = pre + rest;
	}
	sl_outbound_proxy_free(c);
	sl_conn_set_events(c, &c->sev, 0);
	c->sev.cb = sl_relay_event;
	sl_relay_start(c);
}

static void
proxy_fail(struct sl_conn *c, const char *why)
{
	const struct sl_img_outbound *o = SL_IMG_REC(&c->g->img,
	    SL_SECT_OUTBOUNDS, struct sl_img_outbound, c->outbound);

	sl_warn("outbound %s: proxy %s: %s", sl_img_str(&c->g->img, o->tag),
	    sl_img_str(&c->g->img, o->server), why);
	sl_conn_close(c, "proxy handshake failed");
}

static void
proxy_event(struct sl_ev *ev, uint32_t events)
{
	struct sl_conn *c = ev->data;
	size_t pre = c->down_prefix, used = 0;
	ssize_t n;
	int rc;

	(void)events;
	if ((rc = proxy_send(c)) == SL_ERROR) {
		proxy_fail(c, strerror(errno));
		return;
	}
	if (sl_buf_take(&c->w->bufs, &c->down) == -1) {
		sl_conn_close(c, "out of memory");
		return;
	}
	n = read(c->sev.fd, c->down.data + pre, SL_BUF_SIZE - pre);
	if (n > 0)
		c->server_rx += (uint64_t)n;
	if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
		sl_conn_set_events(c, &c->sev, rc == SL_AGAIN ?
		    EPOLLIN | EPOLLOUT : EPOLLIN);
		return;
	}
	if (n <= 0) {
		proxy_fail(c, n == 0 ? "connection closed" : strerror(errno));
		return;
	}
	/* The parser keeps what it has seen: each read starts afresh. */
	rc = sl_pxc_input(c->pxc, c->down.data + pre, (size_t)n, &used);
	if (rc == SL_OK) {
		proxy_open(c, (size_t)n, used);
		return;
	}
	if (rc == SL_ERROR) {
		proxy_fail(c, sl_pxc_error(c->pxc));
		return;
	}
	proxy_event(ev, events);	/* the answer may have asked for more */
}

/* Connected to the proxy server: start the handshake. */
void
sl_outbound_proxy_connected(struct sl_conn *c)
{
	c->sev.cb = proxy_event;
	c->down.len = 0;
	proxy_event(&c->sev, EPOLLOUT);
}

void
sl_outbound_proxy_start(struct sl_conn *c, const struct sl_img_outbound *o)
{
	const struct sl_img *img = &c->g->img;

	c->pxc = calloc(1, sizeof(*c->pxc));
	if (c->pxc == NULL || sl_dial_img_addrs(c, o->server_addrs_first,
	    o->server_addrs_count) == -1) {
		sl_conn_close(c, "out of memory");
		return;
	}
	if (sl_pxc_init(c->pxc, o->protocol == SL_IMG_OUT_SOCKS ?
	    SL_PXC_SOCKS5 : SL_PXC_HTTP, &c->target, sl_img_str(img, o->user),
	    sl_img_str(img, o->pass)) != SL_OK) {
		sl_info("outbound %s: %s", sl_img_str(img, o->tag),
		    sl_pxc_error(c->pxc));
		sl_conn_close(c, "bad proxy request");
		return;
	}
	sl_dial_start(c, 5);
}
