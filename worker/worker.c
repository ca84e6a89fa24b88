/*
 * worker: one process, one epoll loop.
 *
 * Maps the generation's table image (worker/wgen.c), watches its slot's
 * listening sockets, its signals and its channel with the master.  A SWAP
 * on the channel replaces the generation new connections get; connections
 * already open keep theirs.  QUIT: take what is queued on the listening
 * sockets, close them (the master still holds them, so nothing queued
 * later is lost), finish the open connections, exit when none is left or
 * at the shutdown deadline.  TERM/INT: exit now.
 */
#include <sys/signalfd.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "shm/boot.h"
#include "shm/chan.h"
#include "shm/log.h"
#include "worker/acct.h"
#include "worker/conn.h"
#include "worker/dns.h"

/* A draining worker takes at most this many accept batches of 64. */
#define DRAIN_BATCHES	64

struct listener {
	struct sl_ev	 ev;
	struct sl_wctx	*w;
	uint32_t	 inbound;
};

struct worker {
	struct sl_wctx	 w;
	struct listener	*l;
	size_t		 nl;
	struct sl_ev	 sig, chan;
	int		 stop;
	uint64_t	 deadline;
	const struct sl_tickets *tickets;	/* for every generation */
};

static void
listener_event(struct sl_ev *ev, uint32_t events)
{
	struct listener *l = ev->data;

	(void)events;
	sl_conn_accept(l->w, ev->fd, l->inbound);
}

static void
listeners_close(struct worker *wk, int take_queued)
{
	for (size_t i = 0; i < wk->nl; i++) {
		struct listener *l = &wk->l[i];

		if (l->ev.fd < 0)
			continue;
		for (int b = 0; take_queued && b < DRAIN_BATCHES; b++)
			if (sl_conn_accept(&wk->w, l->ev.fd, l->inbound) == 0)
				break;
		sl_ev_set(wk->w.loop, &l->ev, 0);
		sl_loop_forget(wk->w.loop, &l->ev);
		close(l->ev.fd);
		l->ev.fd = -1;
	}
}

static void
drain_start(struct worker *wk)
{
	wk->w.draining = 1;
	wk->deadline = sl_loop_now(wk->w.loop) + 1000ull *
	    wk->w.gen->img.hdr->globals.shutdown_timeout;
	listeners_close(wk, 1);
	sl_info("draining %zu connections", wk->w.nconns);
}

static void
signal_event(struct sl_ev *ev, uint32_t events)
{
	struct worker *wk = ev->data;
	struct signalfd_siginfo si;

	(void)events;
	while (read(ev->fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGQUIT && !wk->w.draining)
			drain_start(wk);
		else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT)
			wk->stop = 1;
	}
}

/* ---- the channel with the master ---- */

static void
chan_reply(struct worker *wk, uint32_t type, uint64_t gen, const char *text)
{
	struct sl_chan_msg m;

	memset(&m, 0, sizeof(m));
	m.type = type;
	m.generation = gen;
	if (text != NULL)
		snprintf(m.text, sizeof(m.text), "%s", text);
	if (sl_chan_send(wk->chan.fd, &m, NULL) == -1)
		sl_warn("channel to the master: %s", strerror(errno));
}

/* An in-place reload: new connections get generation m->generation. */
static void
chan_swap(struct worker *wk, const struct sl_chan_msg *m, const int *fds)
{
	const char *err = "no image";
	struct sl_wgen *g = NULL, *old = wk->w.gen;

	if (m->nfds >= 1)
		g = sl_wgen_new(m->generation, fds[0],
		    m->nfds > 1 ? fds[1] : -1, wk->tickets, &err);
	if (g == NULL) {
		sl_error("generation %llu: %s; keeping generation %llu",
		    (unsigned long long)m->generation, err,
		    (unsigned long long)old->id);
		chan_reply(wk, SL_CHAN_NACK, m->generation, err);
		return;
	}
	wk->w.gen = g;
	sl_wgen_drop(old);
	sl_log_level((int)g->img.hdr->globals.loglevel);
	chan_reply(wk, SL_CHAN_ACK, g->id, NULL);
}

static void
chan_event(struct sl_ev *ev, uint32_t events)
{
	struct worker *wk = ev->data;
	struct sl_chan_msg m;
	int fds[SL_CHAN_MAXFDS], rc;

	(void)events;
	while ((rc = sl_chan_recv(ev->fd, &m, fds)) == 1) {
		if (m.type == SL_CHAN_SWAP)
			chan_swap(wk, &m, fds);
		for (uint32_t i = 0; i < m.nfds; i++)
			close(fds[i]);
	}
	if (rc == -1) {
		/* The master is gone (PDEATHSIG follows) or spoke nonsense:
		 * stop listening to it rather than spin. */
		sl_ev_set(wk->w.loop, ev, 0);
		sl_loop_forget(wk->w.loop, ev);
		close(ev->fd);
		ev->fd = -1;
	}
}

/* ---- setup ---- */

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

static int
setup_chan(struct worker *wk, const struct sl_boot *b)
{
	sl_ev_init(&wk->chan, b->chan_fd, chan_event, wk);
	if (b->chan_fd < 0)
		return 0;
	return sl_ev_set(wk->w.loop, &wk->chan, EPOLLIN);
}

static void
teardown(struct worker *wk)
{
	listeners_close(wk, 0);
	sl_conn_close_all(&wk->w);
	sl_acct_stop(&wk->w);
	sl_bufpool_free(&wk->w.bufs);
	sl_pipepool_free(&wk->w.pipes);
	free(wk->l);
	if (wk->w.dns != NULL)
		sl_dns_free(wk->w.dns);
	if (wk->sig.fd >= 0)
		close(wk->sig.fd);
	if (wk->chan.fd >= 0)
		close(wk->chan.fd);
	if (wk->w.loop != NULL)
		sl_loop_free(wk->w.loop);
	sl_wgen_drop(wk->w.gen);
}

int
sl_worker_run(const struct sl_boot *b)
{
	struct worker wk;
	const char *err = NULL;

	memset(&wk, 0, sizeof(wk));
	wk.sig.fd = wk.chan.fd = -1;
	RAND_poll();	/* a fresh pool per forked worker */
	wk.w.cnt = b->cnt;
	wk.w.cntr = b->cntr;
	sl_bufpool_init(&wk.w.bufs, SL_BUFPOOL_KEEP);
	sl_pipepool_init(&wk.w.pipes, SL_PIPEPOOL_KEEP);
	wk.tickets = b->tickets;
	if ((wk.w.gen = sl_wgen_new(b->generation, b->image_fd, b->obs_fd,
	    wk.tickets, &err)) == NULL) {
		sl_error("generation %llu: %s", (unsigned long long)
		    b->generation, err);
		return 2;
	}
	/* Mapped: an fd kept would pin this generation's memory after an
	 * in-place reload has replaced it. */
	close(b->image_fd);
	if (b->obs_fd >= 0)
		close(b->obs_fd);
	sl_log_level((int)wk.w.gen->img.hdr->globals.loglevel);
	if ((wk.w.loop = sl_loop_new()) == NULL ||
	    (wk.w.dns = sl_dns_new(wk.w.loop, &err)) == NULL ||
	    sl_loop_signals(wk.w.loop, &wk.sig, signal_event, &wk) == -1 ||
	    setup_chan(&wk, b) == -1 || setup_listeners(&wk, b) == -1) {
		sl_error("worker setup failed: %s", err ? err :
		    strerror(errno));
		teardown(&wk);
		return 2;
	}
	sl_acct_start(&wk.w);
	if (wk.chan.fd >= 0)
		chan_reply(&wk, SL_CHAN_READY, b->generation, NULL);
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
