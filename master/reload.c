/*
 * reload: a new generation replaces the running one (SIGHUP, `sluicectl
 * reload`).
 *
 * The new generation is built first; an error leaves the old one serving
 * and is returned to whoever asked.  If the listening sockets, worker count
 * and process settings are the same, the image is sent to the running
 * workers (in place: nothing restarts, open connections keep the rules
 * they started with).  Otherwise new workers start on the inherited
 * sockets and the old ones drain.  The reload is done when every worker of
 * the new generation has answered; a worker that has not after
 * RELOAD_WAIT_MS is replaced.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/master_int.h"
#include "shm/clock.h"
#include "shm/log.h"

#define RELOAD_WAIT_MS	10000

static void
reload_failed(struct master *m, struct ctl_client *c, struct sl_errors *e)
{
	char head[96];

	snprintf(head, sizeof(head), "reload failed: generation %llu keeps "
	    "serving\n", (unsigned long long)m->cur.id);
	if (c != NULL) {
		ctlsrv_reply(m, c, "error\n", 0);
		ctlsrv_reply(m, c, head, 0);
		ctlsrv_reply(m, c, e->buf != NULL ? e->buf : "", 1);
	}
	master_log_errors(SL_LOGL_ERROR, e);
	sl_error("reload failed; generation %llu keeps serving",
	    (unsigned long long)m->cur.id);
}

/* The running workers take the new image; observers are per generation. */
static void
reload_in_place(struct master *m)
{
	size_t n = m->np;

	for (size_t i = 0; i < n; i++) {
		struct proc *p = &m->p[i];

		if (p->exiting || p->pid == 0)
			continue;
		if (p->slot == OBSERVER_SLOT)
			procs_quit(p, SIGTERM, 1000);
		else if (procs_swap(m, p) == -1)
			procs_replace(m, p, "cannot send the new generation");
	}
}

/* New workers on the same sockets first, then the old ones drain. */
static void
reload_restart(struct master *m, const struct gen *old, uint64_t grace_ms)
{
	size_t n = m->np;

	for (int slot = 0; slot < m->cur.workers; slot++)
		procs_spawn(m, slot);
	for (size_t i = 0; i < n; i++) {
		struct proc *p = &m->p[i];

		if (p->exiting || p->layout == m->cur.layout)
			continue;
		status_fold(m, p, old);
		procs_quit(p, p->slot == OBSERVER_SLOT ? SIGTERM : SIGQUIT,
		    p->slot == OBSERVER_SLOT ? 1000 : grace_ms);
	}
	if (sl_listen_prune(&m->ls) > 0 && !sl_listen_migrates())
		sl_warn("closed listening sockets while "
		    "net.ipv4.tcp_migrate_req is 0: connections queued on them "
		    "may be reset (see sluiced(8))");
}

/* G replaces the running generation (built at T0 for client C). */
static void
reload_apply(struct master *m, struct ctl_client *c, struct gen *g,
    uint64_t t0)
{
	struct gen old;
	uint64_t grace;
	int in_place = gen_same_layout(&m->cur, g);

	g->layout = in_place ? m->cur.layout : ++m->layouts;
	/* The old workers drain under the old generation's deadline. */
	grace = 1000ull * m->cur.cf->sluice.shutdown_timeout + 1000;
	old = m->cur;
	m->cur = *g;
	if (old.cf == m->cur.cf)
		old.cf = NULL;		/* a users change: the same model */
	master_logs_open(m);
	stats_adopt(m);
	/* New users have counter ids now: their admission before they
	 * can connect. */
	stats_enforce(m);
	if (in_place)
		reload_in_place(m);
	else {
		master_relay_prepare(m);
		reload_restart(m, &old, grace);
	}
	if (m->cur.obs_fd >= 0)
		procs_spawn(m, OBSERVER_SLOT);
	gen_free(&old);
	m->pend.gen = m->cur.id;
	m->pend.t0 = t0;
	m->pend.deadline = t0 + RELOAD_WAIT_MS;
	m->pend.in_place = in_place;
	if (c != NULL)
		c->wait = CTL_WAIT_RELOAD;
	reload_check(m);
}

void
reload_start(struct master *m, struct ctl_client *c)
{
	struct sl_errors errs;
	struct gen g;
	uint64_t t0 = sl_clock_ms();

	sl_warn("reloading %s", m->opts->config);
	sl_errors_init(&errs);
	if (gen_build(m, m->cur.id + 1, NULL, &g, &errs) == -1) {
		reload_failed(m, c, &errs);
		sl_errors_free(&errs);
		return;
	}
	sl_errors_free(&errs);
	reload_apply(m, c, &g, t0);
}

void
reload_users(struct master *m, struct ctl_client *c)
{
	struct sl_errors errs;
	struct gen g;
	uint64_t t0 = sl_clock_ms();
	char err[300], text[400];
	int changed;

	if (stats_users_reload(m, &changed, err, sizeof(err)) == -1) {
		snprintf(text, sizeof(text), "error\n%s\n", err);
		if (c != NULL)
			ctlsrv_reply(m, c, text, 1);
		return;
	}
	if (!changed) {
		stats_enforce(m);
		snprintf(text, sizeof(text), "ok\nusers: %zu from the "
		    "database, admission updated; generation %llu unchanged\n",
		    m->st.users.ncu, (unsigned long long)m->cur.id);
		if (c != NULL)
			ctlsrv_reply(m, c, text, 1);
		return;
	}
	sl_info("users changed in the state database: a new image");
	sl_errors_init(&errs);
	if (gen_build(m, m->cur.id + 1, m->cur.cf, &g, &errs) == -1)
		reload_failed(m, c, &errs);
	else
		reload_apply(m, c, &g, t0);
	sl_errors_free(&errs);
}

/* Every worker that should serve the new generation does: 1. */
static int
reload_complete(const struct master *m)
{
	for (size_t i = 0; i < m->np; i++) {
		const struct proc *p = &m->p[i];

		if (p->exiting || p->slot == OBSERVER_SLOT ||
		    (p->pid == 0 && p->respawn_at == 0))
			continue;
		if (p->pid == 0 || p->gen != m->cur.id || !p->ready)
			return 0;
	}
	return 1;
}

static void
reload_done(struct master *m, const char *note)
{
	char text[160];
	unsigned long long ms = sl_clock_ms() - m->pend.t0;

	snprintf(text, sizeof(text), "ok\ngeneration %llu: %s, %d workers "
	    "(%llu ms)%s\n", (unsigned long long)m->cur.id,
	    m->pend.in_place ? "in place" : "new workers", m->cur.workers, ms,
	    note);
	sl_warn("reload done: generation %llu %s, %d workers, %llu ms%s",
	    (unsigned long long)m->cur.id, m->pend.in_place ? "in place" :
	    "with new workers", m->cur.workers, ms, note);
	m->pend.gen = 0;
	ctlsrv_reply_all(m, CTL_WAIT_RELOAD, text);
}

void
reload_check(struct master *m)
{
	if (m->pend.gen != 0 && reload_complete(m))
		reload_done(m, "");
}

void
reload_timeout(struct master *m)
{
	size_t n = m->np;

	if (m->pend.gen == 0 || sl_clock_ms() < m->pend.deadline)
		return;
	for (size_t i = 0; i < n; i++) {
		struct proc *p = &m->p[i];

		if (p->exiting || p->slot == OBSERVER_SLOT || p->pid == 0 ||
		    (p->gen == m->cur.id && p->ready))
			continue;
		procs_replace(m, p, "no answer to the reload");
	}
	reload_done(m, "; workers that did not answer were replaced");
}
