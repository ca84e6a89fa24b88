/*
 * conn: accept -> PROXY header -> TLS -> first packet -> classification.
 *
 * Everything up to the first packet runs under the handshake deadline of
 * policy level 0 (Xray's behaviour: the user is not known yet).  The first
 * packet is exactly one read of at most 8 KiB, as in Xray, because the
 * fallback decision (<18 bytes, path sniffing) depends on that boundary.
 * It lands in the up buffer and is never consumed on the fallback path, so
 * a fallback target sees the client's bytes from byte 0.
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>

#include "shm/counters.h"
#include "shm/log.h"
#include "worker/acct.h"
#include "worker/conn.h"
#include "worker/dns.h"
#include "worker/proxyproto.h"
#include "worker/tls.h"
#include "worker/tlsbio.h"
#include "worker/trojan.h"
#include "worker/vless.h"

#define SL_PROXY_HEADER_MS	10000

static void	conn_event(struct sl_ev *, uint32_t);
static void	conn_first(struct sl_conn *);
static void	conn_classify(struct sl_conn *);

const char *
sl_addr_str(const struct sockaddr *sa, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;

		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(buf, cap, "%s:%u", ip, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, cap, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else
		snprintf(buf, cap, "unix:");
	return buf;
}

void
sl_conn_set_events(struct sl_conn *c, struct sl_ev *ev, uint32_t mask)
{
	if (ev->fd < 0 || ev->events == mask)
		return;
	if (sl_ev_set(c->w->loop, ev, mask) == -1)
		sl_warn("epoll_ctl: %s", strerror(errno));
}

const struct sockaddr *
sl_conn_local(struct sl_conn *c)
{
	/* Asked for only by xver and routing: no syscall per connection. */
	if (c->local_len == 0) {
		c->local_len = sizeof(c->local);
		if (getsockname(c->cev.fd, (struct sockaddr *)&c->local,
		    &c->local_len) == -1) {
			memset(&c->local, 0, sizeof(c->local));
			c->local.ss_family = AF_UNSPEC;
		}
	}
	return (const struct sockaddr *)&c->local;
}

void
sl_conn_touch(struct sl_conn *c)
{
	sl_timer_add(c->w->loop, &c->timer, c->idle_ms);
}

static void
conn_timeout(struct sl_timer *t)
{
	struct sl_conn *c = t->data;

	if (c->state == SL_C_RELAY && sl_relay_busy(c)) {
		sl_conn_touch(c);	/* bytes moved in the kernel */
		return;
	}
	sl_conn_close(c, c->state == SL_C_HOLD ? "blocked by final rule" :
	    c->state < SL_C_RESOLVE ? "handshake timeout" : "idle timeout");
}

void
sl_target_str(const struct sl_target *t, char *buf, size_t cap)
{
	char ip[INET6_ADDRSTRLEN];

	if (t->atyp == SL_ATYP_DOMAIN)
		snprintf(buf, cap, "%s:%u", t->host, t->port);
	else if (t->atyp == SL_ATYP_IPV4)
		snprintf(buf, cap, "%s:%u", inet_ntop(AF_INET, t->ip, ip,
		    sizeof(ip)), t->port);
	else
		snprintf(buf, cap, "[%s]:%u", inet_ntop(AF_INET6, t->ip, ip,
		    sizeof(ip)), t->port);
}

void
sl_target_set_host(struct sl_target *t, const char *host)
{
	if (inet_pton(AF_INET, host, t->ip) == 1)
		t->atyp = SL_ATYP_IPV4;
	else if (inet_pton(AF_INET6, host, t->ip) == 1)
		t->atyp = SL_ATYP_IPV6;
	else {
		t->atyp = SL_ATYP_DOMAIN;
		snprintf(t->host, sizeof(t->host), "%s", host);
	}
}

socklen_t
sl_target_sockaddr(const struct sl_target *t, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (t->atyp == SL_ATYP_IPV4) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		in->sin_family = AF_INET;
		memcpy(&in->sin_addr, t->ip, 4);
		in->sin_port = htons(t->port);
		return sizeof(*in);
	}
	if (t->atyp == SL_ATYP_IPV6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		in6->sin6_family = AF_INET6;
		memcpy(&in6->sin6_addr, t->ip, 16);
		in6->sin6_port = htons(t->port);
		return sizeof(*in6);
	}
	return 0;
}

/* "#index" or the ruleTag of the rule that routed c; "-" = default. */
static const char *
rule_name(const struct sl_conn *c, char *buf, size_t sz)
{
	const struct sl_img_rule *r;

	if (c->rule == SL_IMG_NONE)
		return "-";
	r = SL_IMG_REC(&c->g->img, SL_SECT_RULES, struct sl_img_rule, c->rule);
	if (r->rule_tag.len > 0)
		return sl_img_str(&c->g->img, r->rule_tag);
	snprintf(buf, sz, "#%u", c->rule);
	return buf;
}

static void
access_log(struct sl_conn *c, const char *why)
{
	const char *tag = sl_img_str(&c->g->img, c->in->tag);
	uint64_t ms = sl_loop_now(c->w->loop) - c->started;
	char peer[80], dst[300], rule[16];

	if (!c->g->img.hdr->globals.access_log)
		return;
	sl_addr_str((struct sockaddr *)&c->peer, peer, sizeof(peer));
	if (c->is_fallback && c->state >= SL_C_DIAL) {
		const struct sl_img_dest *d = SL_IMG_REC(&c->g->img,
		    SL_SECT_DESTS, struct sl_img_dest, c->dest);

		sl_log_access("from %s fallback %s [%s] reason=\"%s\" sni=%s "
		    "alpn=%s path=%s up=%llu down=%llu time=%llu.%03llus%s%s",
		    peer, sl_img_str(&c->g->img, d->text), tag, c->reason,
		    c->sni, c->alpn, c->path,
		    (unsigned long long)c->up_bytes,
		    (unsigned long long)c->down_bytes,
		    (unsigned long long)(ms / 1000),
		    (unsigned long long)(ms % 1000), why ? " end=" : "",
		    why ? why : "");
	} else if (c->email != NULL && c->state >= SL_C_RESOLVE) {
		const struct sl_img_outbound *o = SL_IMG_REC(&c->g->img,
		    SL_SECT_OUTBOUNDS, struct sl_img_outbound, c->outbound);

		sl_target_str(&c->target, dst, sizeof(dst));
		sl_log_access("from %s accepted tcp:%s [%s >> %s] email: %s "
		    "rule=%s up=%llu down=%llu time=%llu.%03llus%s%s", peer,
		    dst, tag, sl_img_str(&c->g->img, o->tag), c->email,
		    rule_name(c, rule, sizeof(rule)),
		    (unsigned long long)c->up_bytes,
		    (unsigned long long)c->down_bytes,
		    (unsigned long long)(ms / 1000),
		    (unsigned long long)(ms % 1000), why ? " end=" : "",
		    why ? why : "");
	} else if (why != NULL)
		sl_log_access("from %s rejected [%s] reason=\"%s\"", peer, tag,
		    why);
}

void
sl_conn_close(struct sl_conn *c, const char *why)
{
	struct sl_wctx *w = c->w;

	sl_relay_free(c);	/* first: it completes the byte counts */
	access_log(c, why);
	sl_acct_close(c);
	sl_timer_del(w->loop, &c->timer);
	sl_timer_del(w->loop, &c->dial_timer);
	if (c->dnsq != NULL)
		sl_dns_cancel(w->dns, c->dnsq);
	if (c->sev.fd >= 0) {
		sl_ev_close(w->loop, &c->sev);
		close(c->sev.fd);
	}
	sl_ev_close(w->loop, &c->cev);
	SSL_free(c->ssl);
	close(c->cev.fd);
	free(c->addrs);
	sl_route_free(c);
	sl_outbound_proxy_free(c);
	sl_cnt_close(w->cnt, c->inbound);
	sl_wgen_drop(c->g);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	free(c);
	w->nconns--;
}

void
sl_conn_close_all(struct sl_wctx *w)
{
	while (w->conns != NULL)
		sl_conn_close(w->conns, "worker exit");
}

/* ---- PROXY header (acceptProxyProtocol) ---- */

static void
conn_proxy_in(struct sl_conn *c)
{
	uint8_t buf[4096 + 16];
	struct sl_pp_result pp;
	uint64_t elapsed;
	size_t used;
	ssize_t n;
	int r;

	/* Peek, then consume exactly the header: what follows it may be a
	 * TLS ClientHello that OpenSSL must read from the socket. */
	n = recv(c->cev.fd, buf, sizeof(buf), MSG_PEEK);
	if (n == 0 || (n < 0 && errno != EAGAIN)) {
		sl_conn_close(c, "closed before PROXY header");
		return;
	}
	if (n < 0)
		return;
	r = sl_pp_parse(buf, (size_t)n, &used, &pp);
	if (r == SL_AGAIN)
		return;	/* edge-triggered in this state: wait for more */
	if (r != SL_OK) {
		sl_conn_close(c, "invalid PROXY header");
		return;
	}
	if (recv(c->cev.fd, buf, used, 0) != (ssize_t)used) {
		sl_conn_close(c, "PROXY header read");
		return;
	}
	c->client_rx += used;	/* the sockmap's byte arithmetic */
	/* The PROXY limit is over: back to the handshake deadline. */
	elapsed = sl_loop_now(c->w->loop) - c->started;
	c->idle_ms = elapsed < c->policy->handshake_ms ?
	    c->policy->handshake_ms - (uint32_t)elapsed : 1;
	sl_conn_touch(c);
	if (!pp.local) {
		c->peer = pp.src;
		c->peer_len = pp.src_len;
		c->local = pp.dst;
		c->local_len = pp.dst_len;
	}
	c->state = c->ssl ? SL_C_TLS : SL_C_FIRST;
	sl_conn_set_events(c, &c->cev, EPOLLIN);
	conn_event(&c->cev, EPOLLIN);
}

/* ---- TLS handshake ---- */

static void
conn_tls(struct sl_conn *c)
{
	const unsigned char *alpn;
	const char *sni;
	unsigned alen;
	int r = SSL_do_handshake(c->ssl);

	if (r != 1) {
		int e = SSL_get_error(c->ssl, r);

		if (e == SSL_ERROR_WANT_READ)
			sl_conn_set_events(c, &c->cev, EPOLLIN);
		else if (e == SSL_ERROR_WANT_WRITE)
			sl_conn_set_events(c, &c->cev, EPOLLOUT);
		else {
			ERR_clear_error();
			sl_conn_close(c, "TLS handshake failed");
		}
		return;
	}
	/* A TLS 1.3 session ticket follows the handshake: send it now (if
	 * the socket is full, the relay sends it with the first reply). */
	if (sl_tlsbio_flush(c->ssl) == -1) {
		sl_conn_close(c, "TLS handshake failed");
		return;
	}
	sni = SSL_get_servername(c->ssl, TLSEXT_NAMETYPE_host_name);
	snprintf(c->sni, sizeof(c->sni), "%s", sni ? sni : "");
	SSL_get0_alpn_selected(c->ssl, &alpn, &alen);
	snprintf(c->alpn, sizeof(c->alpn), "%.*s", (int)alen,
	    alen ? (const char *)alpn : "");
	c->state = SL_C_FIRST;
	sl_conn_set_events(c, &c->cev, EPOLLIN);
	conn_first(c);
}

/* ---- first packet ---- */

static void
conn_first(struct sl_conn *c)
{
	ssize_t n = sl_relay_client_read(c, SL_FIRST_MAX);

	if (n == -1)
		return;
	if (n <= 0) {
		/* Xray: no fallback for a silent or failed client. */
		sl_conn_close(c, n == 0 ? "closed before first packet" :
		    "read error before first packet");
		return;
	}
	c->first_len = (size_t)n;
	conn_classify(c);
}

static void
conn_more_header(struct sl_conn *c)
{
	ssize_t n = sl_relay_client_read(c, SIZE_MAX);

	if (n == -1)
		return;
	if (n <= 0) {
		sl_conn_close(c, "incomplete request header");
		return;
	}
	conn_classify(c);
}

/* ---- classification ---- */

static int
cmp_vless_key(const void *key, const void *rec)
{
	return memcmp(key, ((const struct sl_img_vless_user *)rec)->key, 16);
}

static int
cmp_trojan_key(const void *key, const void *rec)
{
	return memcmp(key, ((const struct sl_img_trojan_user *)rec)->key, 56);
}

/* 0 = known user (email, level set), -1 = unknown, -2 = needs a flow we
 * do not serve. */
static int
vless_user(struct sl_conn *c, const uint8_t *uuid, uint32_t *id)
{
	const struct sl_img_vless_user *u;
	uint8_t key[16];

	sl_vless_key(uuid, key);
	u = bsearch(key, (const uint8_t *)sl_img_sect(&c->g->img,
	    SL_SECT_VLESS_USERS) +
	    (size_t)c->in->users_first * sizeof(*u), c->in->users_count,
	    sizeof(*u), cmp_vless_key);
	if (u == NULL)
		return -1;
	c->email = sl_img_str(&c->g->img, u->email);
	c->level = u->level;
	*id = u->cnt;
	return u->flow.len == 0 ? 0 : -2;
}

static int
trojan_user(struct sl_conn *c, const uint8_t *hex, uint32_t *id)
{
	const struct sl_img_trojan_user *u;

	u = bsearch(hex, (const uint8_t *)sl_img_sect(&c->g->img,
	    SL_SECT_TROJAN_USERS) +
	    (size_t)c->in->users_first * sizeof(*u), c->in->users_count,
	    sizeof(*u), cmp_trojan_key);
	if (u == NULL)
		return -1;
	c->email = sl_img_str(&c->g->img, u->email);
	c->level = u->level;
	*id = u->cnt;
	return 0;
}

/* Unauthenticated: fall back if the inbound has fallbacks, else close. */
static void
not_ours(struct sl_conn *c, const char *reason)
{
	c->email = NULL;
	if (c->in->fb_names_count > 0)
		sl_fallback_start(c, reason);
	else
		sl_conn_close(c, reason);
}

/* Authenticated request parsed: the payload after the header stays in
 * the up buffer and goes to the target. */
static void
request_ready(struct sl_conn *c, const struct sl_target *t, size_t hlen)
{
	c->target = *t;
	c->up.off += hlen;
	c->up.len -= hlen;
	if (t->cmd != SL_CMD_TCP) {
		c->email = NULL;
		sl_conn_close(c, t->cmd == SL_CMD_UDP ? "UDP not supported" :
		    "mux not supported");
		return;
	}
	c->policy = sl_img_level(&c->g->img, c->level);
	sl_route_start(c);
}

static void
classify_vless(struct sl_conn *c)
{
	const uint8_t *b = c->up.data;
	size_t len = c->up.len;
	struct sl_vless_req req;
	const char *why = NULL;
	int fb = c->in->fb_names_count > 0, r;
	uint32_t id;

	if (c->email == NULL) {
		if (len < 18) {
			if (fb)
				sl_fallback_start(c, "fallback directly");
			else
				c->state = SL_C_HEADER;	/* strict: read on */
			return;
		}
		if (b[0] != 0) {
			not_ours(c, "invalid request version");
			return;
		}
		c->vless_route = (uint16_t)(b[7] << 8 | b[8]);
		if ((r = vless_user(c, b + 1, &id)) == -1) {
			not_ours(c, "invalid request user id");
			return;
		}
		/* A refused user is an unknown one: a prober learns nothing. */
		if ((why = sl_acct_admit(c, id)) != NULL) {
			not_ours(c, why);
			return;
		}
		if (r == -2) {
			c->email = NULL;
			sl_conn_close(c, "flow xtls-rprx-vision not supported");
			return;
		}
	}
	r = sl_vless_parse(b, len, &req, &why);
	if (r == SL_AGAIN) {
		c->state = SL_C_HEADER;
		return;
	}
	if (r != SL_OK || req.flow[0] != '\0') {
		c->email = NULL;	/* rejected after the UUID: no fallback */
		sl_conn_close(c, r != SL_OK ? why : "unknown request flow");
		return;
	}
	c->down_prefix = SL_VLESS_RESPONSE_LEN;
	request_ready(c, &req.target, req.header_len);
}

static void
classify_trojan(struct sl_conn *c)
{
	struct sl_trojan_req req;
	const char *why = NULL, *refused;
	int r = sl_trojan_parse(c->up.data, c->up.len, &req, &why);
	uint32_t id = SL_CNT_NONE;

	if (c->email == NULL) {
		if (r == SL_DECLINED) {
			not_ours(c, "not trojan protocol");
			return;
		}
		if (c->up.len >= 58 && trojan_user(c, c->up.data, &id) == -1) {
			not_ours(c, "not a valid user");
			return;
		}
		if (c->email != NULL &&
		    (refused = sl_acct_admit(c, id)) != NULL) {
			not_ours(c, refused);
			return;
		}
	}
	if (r == SL_AGAIN) {
		c->state = SL_C_HEADER;
		return;
	}
	if (r != SL_OK) {
		c->email = NULL;
		sl_conn_close(c, why);
		return;
	}
	request_ready(c, &req.target, req.header_len);
}

static void
conn_classify(struct sl_conn *c)
{
	if (c->in->protocol == SL_IMG_IN_VLESS)
		classify_vless(c);
	else
		classify_trojan(c);
}

static void
conn_event(struct sl_ev *ev, uint32_t events)
{
	struct sl_conn *c = ev->data;

	(void)events;
	switch (c->state) {
	case SL_C_PROXY_IN:
		conn_proxy_in(c);
		break;
	case SL_C_TLS:
		conn_tls(c);
		break;
	case SL_C_FIRST:
		conn_first(c);
		break;
	case SL_C_HEADER:
		conn_more_header(c);
		break;
	case SL_C_SNIFF:
		sl_route_sniff_event(c);
		break;
	default:
		sl_relay_event(ev, events);
		break;
	}
}

/* ---- accept ---- */

/* A connection and, on a TLS inbound, its SSL; NULL if either cannot be
 * had (nothing is left allocated then).  Its relay buffers come from the
 * worker's pool when data arrives (worker/buf.h). */
static struct sl_conn *
conn_new(struct sl_wctx *w, int fd, uint32_t inbound)
{
	struct sl_conn *c = calloc(1, sizeof(*c));
	struct sl_wgen *g = w->gen;

	if (c == NULL)
		return NULL;
	if (g->tls[inbound] != NULL &&
	    (c->ssl = sl_tls_new(g->tls[inbound], fd)) == NULL) {
		free(c);
		return NULL;
	}
	c->w = w;
	c->g = g;
	sl_wgen_hold(g);
	c->inbound = inbound;
	c->in = SL_IMG_REC(&g->img, SL_SECT_INBOUNDS, struct sl_img_inbound,
	    inbound);
	sl_ev_init(&c->cev, fd, conn_event, c);
	sl_ev_init(&c->sev, -1, sl_relay_event, c);
	sl_pipe_init(&c->up_pipe);
	sl_pipe_init(&c->down_pipe);
	sl_timer_init(&c->timer, conn_timeout, c);
	sl_timer_init(&c->dial_timer, NULL, c);
	c->started = sl_loop_now(w->loop);
	c->policy = sl_img_level(&g->img, 0);
	c->rule = SL_IMG_NONE;
	return c;
}

static void
conn_start(struct sl_conn *c)
{
	c->idle_ms = c->policy->handshake_ms;
	sl_conn_touch(c);
	if (c->in->accept_proxy) {
		/* go-proxyproto's own header limit, inside the handshake's. */
		if (c->idle_ms > SL_PROXY_HEADER_MS)
			c->idle_ms = SL_PROXY_HEADER_MS;
		sl_conn_touch(c);
		c->state = SL_C_PROXY_IN;
		sl_conn_set_events(c, &c->cev, EPOLLIN | EPOLLET);
		conn_proxy_in(c);
	} else if (c->ssl != NULL) {
		c->state = SL_C_TLS;
		conn_tls(c);
	} else {
		c->state = SL_C_FIRST;
		sl_conn_set_events(c, &c->cev, EPOLLIN);
		conn_first(c);
	}
}

int
sl_conn_accept(struct sl_wctx *w, int lfd, uint32_t inbound)
{
	struct sl_conn *c;
	struct sockaddr_storage peer;
	socklen_t plen;
	int fd;

	/* A bounded batch: one busy listener must not starve the rest. */
	for (int i = 0; i < 64; i++) {
		plen = sizeof(peer);
		fd = accept4(lfd, (struct sockaddr *)&peer, &plen,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				sl_warn("accept: %s", strerror(errno));
			return 0;
		}
		/* TCP_NODELAY comes from the listening socket. */
		if ((c = conn_new(w, fd, inbound)) == NULL) {
			close(fd);
			continue;
		}
		memcpy(&c->peer, &peer, plen);
		c->peer_len = plen;
		sl_acct_init(c);
		w->nconns++;
		sl_cnt_open(w->cnt, inbound);
		c->next = w->conns;
		if (w->conns != NULL)
			w->conns->prev = c;
		w->conns = c;
		conn_start(c);
	}
	return 1;
}
