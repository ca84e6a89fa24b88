/*
 * fallback: hand an unauthenticated connection to its fallback dest.
 *
 * The dest is chosen by the image's fallback table (shm/fallback.c, the
 * same rules as Xray), its addresses were resolved by the master, and the
 * client's first packet is still untouched in the up buffer: the dest
 * gets an optional PROXY header and then the client's bytes from byte 0.
 */
#include <stdio.h>
#include <string.h>

#include "shm/fallback.h"
#include "shm/log.h"
#include "worker/conn.h"
#include "worker/proxyproto.h"

/* The PROXY header goes in front of the first packet, as one stream. */
static int
prepend_proxy_header(struct sl_conn *c, int xver)
{
	uint8_t hdr[128];
	int n = sl_pp_write(xver, (struct sockaddr *)&c->peer,
	    sl_conn_local(c), hdr, sizeof(hdr));

	if (n < 0 || c->up.off + c->up.len + (size_t)n > SL_BUF_SIZE)
		return -1;
	memmove(c->up.data + c->up.off + (size_t)n, c->up.data + c->up.off,
	    c->up.len);
	memcpy(c->up.data + c->up.off, hdr, (size_t)n);
	c->up.len += (size_t)n;
	return 0;
}

void
sl_fallback_start(struct sl_conn *c, const char *reason)
{
	const struct sl_img_inbound *in = c->in;
	const struct sl_img_dest *d;
	struct sl_fb_choice ch;
	const char *why = NULL;
	const uint8_t *path;
	size_t plen;

	c->is_fallback = 1;
	c->reason = reason;
	c->email = NULL;
	sl_debug("fallback starts > %s", reason);
	if (sl_fb_select(&c->g->img, in->fb_names_first, in->fb_names_count,
	    c->sni, c->alpn, c->up.data + c->up.off, c->first_len, &ch,
	    &why) == -1) {
		sl_warn("%s", why);
		c->is_fallback = 0;
		sl_conn_close(c, why);
		return;
	}
	/* Log what the client asked for (Xray's realPath), whether or not
	 * the table routes on it. */
	if (sl_fb_sniff_path(c->up.data + c->up.off, c->first_len, &path,
	    &plen))
		snprintf(c->path, sizeof(c->path), "%.*s", (int)plen,
		    (const char *)path);
	c->dest = ch.dest;
	d = SL_IMG_REC(&c->g->img, SL_SECT_DESTS, struct sl_img_dest, ch.dest);
	if (sl_dial_img_addrs(c, d->addrs_first, d->addrs_count) == -1 ||
	    (d->xver && prepend_proxy_header(c, d->xver) == -1)) {
		sl_conn_close(c, "out of memory");
		return;
	}
	/* Xray clears the read deadline when the fallback starts. */
	c->idle_ms = c->policy->conn_idle_ms;
	sl_conn_touch(c);
	sl_dial_start(c, 5);
}
