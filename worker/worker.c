/*
 * worker: one process, one epoll loop.
 *
 * Maps the generation's table image, builds the TLS contexts from it,
 * watches its slot's listening sockets and its signals.  QUIT: close the
 * listening sockets (the master still holds them, so nothing queued is
 * lost), finish the open connections, exit when none is left or at the
 * shutdown deadline.  TERM/INT: exit now.
 */
#include <sys/signalfd.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "shm/boot.h"
#include "shm/log.h"
#include "shm/regex.h"
#include "worker/conn.h"
#include "worker/dns.h"
#include "worker/tls.h"

struct listener {
	struct sl_ev	 ev;
	struct sl_wctx	*w;
	uint32_t	 inbound;
};

struct worker {
	struct sl_wctx	 w;
	struct sl_obs_region obs;
	struct listener	*l;
	size_t		 nl;
	struct sl_ev	 sig;
	int		 stop;
	uint64_t	 deadline;
};

static void
listener_event(struct sl_ev *ev, uint32_t events)
{
	struct listener *l = ev->data;

	(void)events;
	sl_conn_accept(l->w, ev->fd, l->inbound);
}

static void
listeners_close(struct worker *wk)
{
	for (size_t i = 0; i < wk->nl; i++) {
		if (wk->l[i].ev.fd < 0)
			continue;
		sl_ev_set(wk->w.loop, &wk->l[i].ev, 0);
		sl_loop_forget(wk->w.loop, &wk->l[i].ev);
		close(wk->l[i].ev.fd);
		wk->l[i].ev.fd = -1;
	}
}

static void
signal_event(struct sl_ev *ev, uint32_t events)
{
	struct worker *wk = ev->data;
	struct signalfd_siginfo si;

	(void)events;
	while (read(ev->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGQUIT && !wk->w.draining) {
			wk->w.draining = 1;
			wk->deadline = sl_loop_now(wk->w.loop) + 1000ull *
			    wk->w.img.hdr->globals.shutdown_timeout;
			listeners_close(wk);
			sl_info("draining %zu connections", wk->w.nconns);
		} else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			wk->stop = 1;
	}
}

static int
setup_signals(struct worker *wk)
{
	return sl_loop_signals(wk->w.loop, &wk->sig, signal_event, wk);
}

static int
setup_tls(struct worker *wk, const struct sl_boot *b)
{
	uint32_t n = sl_img_count(&wk->w.img, SL_SECT_INBOUNDS);
	const char *err;

	wk->w.tls = calloc(n + 1, sizeof(*wk->w.tls));
	if (wk->w.tls == NULL)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		const struct sl_img_inbound *in = SL_IMG_REC(&wk->w.img,
		    SL_SECT_INBOUNDS, struct sl_img_inbound, i);

		if (in->security != SL_IMG_SEC_TLS)
			continue;
		if ((wk->w.tls[i] = sl_tls_ctx_new(&wk->w.img, i, b->tickets,
		    &err)) == NULL) {
			sl_error("inbound %s: %s", sl_img_str(&wk->w.img,
			    in->tag), err);
			return -1;
		}
	}
	return 0;
}

static int
setup_listeners(struct worker *wk, const struct sl_boot *b)
{
	wk->l = calloc(b->nlisteners + 1, sizeof(*wk->l));
	if (wk->l == NULL)
		return -1;
	for (size_t i = 0; i < b->nlisteners; i++) {
		struct listener *l = &wk->l[i];

		l->w = &wk->w;
		l->inbound = b->listeners[i].inbound;
		sl_ev_init(&l->ev, b->listeners[i].fd, listener_event, l);
		if (sl_ev_set(wk->w.loop, &l->ev, EPOLLIN) == -1)
			return -1;
		wk->nl++;
	}
	return 0;
}

/* Balancers: this worker's state and, read-only, the observer's region
 * (without it balancers see no observation, not an error). */
static int
setup_balancing(struct worker *wk, const struct sl_boot *b, const char **err)
{
	const char *oerr;

	if (b->obs_fd >= 0 && sl_obs_map(b->obs_fd, 0, &wk->obs, &oerr) == -1)
		sl_error("%s", oerr);
	wk->w.obs = wk->obs.base != NULL ? &wk->obs : NULL;
	return sl_balancer_state_init(&wk->w.bal, &wk->w.img, wk->w.rx, err);
}

static void
teardown(struct worker *wk)
{
	uint32_t n = wk->w.img.base ? sl_img_count(&wk->w.img,
	    SL_SECT_INBOUNDS) : 0;

	listeners_close(wk);
	sl_conn_close_all(&wk->w);
	free(wk->l);
	if (wk->w.tls != NULL)
		for (uint32_t i = 0; i < n; i++)
			sl_tls_ctx_free(wk->w.tls[i]);
	free(wk->w.tls);
	if (wk->w.dns != NULL)
		sl_dns_free(wk->w.dns);
	if (wk->sig.fd >= 0)
		close(wk->sig.fd);
	if (wk->w.loop != NULL)
		sl_loop_free(wk->w.loop);
	sl_rxtab_free(wk->w.rx);
	sl_balancer_state_free(&wk->w.bal);
	sl_obs_unmap(&wk->obs);
	sl_img_close(&wk->w.img);
}

int
sl_worker_run(const struct sl_boot *b)
{
	struct worker wk;
	const char *err = NULL;

	memset(&wk, 0, sizeof(wk));
	wk.sig.fd = -1;
	RAND_poll();	/* a fresh pool per forked worker */
	if (sl_img_open(b->image_fd, &wk.w.img, &err) == -1) {
		sl_error("generation %llu: %s", (unsigned long long)
		    b->generation, err);
		return 2;
	}
	sl_log_level((int)wk.w.img.hdr->globals.loglevel);
	/* Regexes are compiled once per process, from the image's text. */
	if ((wk.w.rx = sl_rxtab_new(&wk.w.img, &err)) == NULL) {
		sl_error("generation %llu: %s", (unsigned long long)
		    b->generation, err);
		sl_img_close(&wk.w.img);
		return 2;
	}
	if ((wk.w.loop = sl_loop_new()) == NULL ||
	    (wk.w.dns = sl_dns_new(wk.w.loop, &err)) == NULL ||
	    setup_signals(&wk) == -1 || setup_tls(&wk, b) == -1 ||
	    setup_balancing(&wk, b, &err) == -1 ||
	    setup_listeners(&wk, b) == -1) {
		sl_error("worker setup failed: %s", err ? err :
		    strerror(errno));
		teardown(&wk);
		return 2;
	}
	while (!wk.stop) {
		if (wk.w.draining && (wk.w.nconns == 0 ||
		    sl_loop_now(wk.w.loop) >= wk.deadline))
			break;
		if (sl_loop_once(wk.w.loop, wk.w.draining ? 100 : -1) == -1) {
			sl_error("epoll_wait: %s", strerror(errno));
			break;
		}
	}
	teardown(&wk);
	return 0;
}
