/*
 * procs: the master's process table (workers and the observer).
 *
 * Forks children onto the current generation, gives each worker a channel
 * (shm/chan.h) and a counters slot, reaps them, respawns a crashed one with
 * back-off, and kills a draining one at its deadline.  A worker that keeps
 * crashing is retried ever more slowly and never takes the master down.
 */
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/master_int.h"
#include "shm/clock.h"
#include "shm/chan.h"
#include "shm/counters.h"
#include "shm/log.h"
#include "shm/observe.h"
#include "shm/tickets.h"

/* Back-off after a crash: 0, then 200 ms doubling to 6.4 s; a worker that
 * lived this long is forgiven. */
#define CRASH_FORGIVE_MS	10000

const char *
procs_name(int slot, char *buf, size_t len)
{
	if (slot == OBSERVER_SLOT)
		return "observer";
	snprintf(buf, len, "worker %d", slot);
	return buf;
}

struct sl_cnt_slot *
procs_cnt(const struct master *m, const struct proc *p)
{
	size_t i = (size_t)(p - m->p);

	return m->cnt != NULL && i < SL_CNT_SLOTS ? &m->cnt->slot[i] : NULL;
}

/* ---- in the child ---- */

static int
drop_privileges(const struct sl_conf_sluice *s)
{
	struct passwd *pw = NULL;
	struct group *gr = NULL;

	if (s->user == NULL && s->group == NULL)
		return 0;
	errno = ENOENT;
	if (s->group != NULL && (gr = getgrnam(s->group)) == NULL)
		return -1;
	if (s->user != NULL && (pw = getpwnam(s->user)) == NULL)
		return -1;
	if (gr == NULL && pw != NULL)
		gr = getgrgid(pw->pw_gid);
	if (gr != NULL && (setgroups(1, &gr->gr_gid) == -1 ||
	    setresgid(gr->gr_gid, gr->gr_gid, gr->gr_gid) == -1))
		return -1;
	/* Leaving uid 0 clears every capability (no PR_SET_KEEPCAPS). */
	if (pw != NULL && setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		return -1;
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
}

/* What every child does: drop the master's descriptors (the other
 * children's channels, the control socket), log through the pipe, give
 * up root and take the signals the master blocks. */
static void
child_enter(struct master *m, struct proc *self)
{
	sigset_t all;
	char ident[32];

	close(m->sfd);
	close(m->ep);
	close(m->logp[0]);
	if (m->ready_fd >= 0)
		close(m->ready_fd);
	for (size_t i = 0; i < m->np; i++)
		if (m->p[i].chan >= 0 && &m->p[i] != self)
			close(m->p[i].chan);
	for (int i = 0; i < CTL_CLIENTS; i++)
		if (m->ctl[i].fd >= 0)
			close(m->ctl[i].fd);
	if (m->ctl_fd >= 0)
		close(m->ctl_fd);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sl_log_ident(procs_name(self->slot, ident, sizeof(ident)));
	sl_log_pipe(m->logp[1]);
	if (drop_privileges(&m->cur.cf->sluice) == -1) {
		sl_error("cannot drop privileges to user %s group %s: %s",
		    m->cur.cf->sluice.user ? m->cur.cf->sluice.user : "-",
		    m->cur.cf->sluice.group ? m->cur.cf->sluice.group : "-",
		    strerror(errno));
		_exit(2);
	}
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

static _Noreturn void
worker_child(struct master *m, struct proc *self, int chan)
{
	size_t nin = m->cur.cf->ninbounds;
	struct sl_boot boot = {
		.slot = self->slot,
		.image_fd = m->cur.image_fd,
		.generation = m->cur.id,
		.log_fd = m->logp[1],
		.listeners = m->cur.lst + (size_t)self->slot * nin,
		.nlisteners = nin,
		.obs_fd = m->cur.obs_ro_fd,
		.chan_fd = chan,
		.cnt = procs_cnt(m, self),
		.cntr = m->cnt,
		.tickets = m->tickets,
	};

	/* Only this slot's sockets of this generation: a worker must not
	 * keep other slots' sockets, or ones a reload is removing, alive
	 * (with their queues) where nobody accepts. */
	for (size_t i = 0; i < m->ls.n; i++)
		if (m->ls.socks[i].slot != self->slot || !m->ls.socks[i].used)
			close(m->ls.socks[i].fd);
	if (m->cur.obs_fd >= 0)		/* workers only read it */
		close(m->cur.obs_fd);
	sl_tickets_readonly(m->tickets);	/* this too */
	self->chan = -1;
	child_enter(m, self);
	/* exit, not _exit: under LeakSanitizer a worker is checked too. */
	exit(sl_worker_run(&boot));
}

/* The observer: balancer health probes, one per generation. */
static _Noreturn void
observer_child(struct master *m, struct proc *self)
{
	struct sl_boot boot = {
		.slot = OBSERVER_SLOT,
		.image_fd = m->cur.image_fd,
		.generation = m->cur.id,
		.log_fd = m->logp[1],
		.obs_fd = m->cur.obs_fd,
		.chan_fd = -1,
	};

	for (size_t i = 0; i < m->ls.n; i++)	/* it serves no client */
		close(m->ls.socks[i].fd);
	close(m->cur.obs_ro_fd);
	sl_tickets_free(m->tickets);	/* it terminates no TLS */
	m->tickets = NULL;
	child_enter(m, self);
	exit(sl_observer_run(&boot));
}

/* ---- the table ---- */

static struct proc *
proc_entry(struct master *m)
{
	for (size_t i = 0; i < m->np; i++)
		if (m->p[i].pid == 0 && m->p[i].respawn_at == 0)
			return &m->p[i];
	if (m->np == m->capp) {
		size_t cap = m->capp ? m->capp * 2 : 16;
		struct proc *p = realloc(m->p, cap * sizeof(*p));

		if (p == NULL)
			return NULL;
		m->p = p;
		m->capp = cap;
	}
	memset(&m->p[m->np], 0, sizeof(m->p[0]));
	m->p[m->np].chan = -1;
	return &m->p[m->np++];
}

static int
chan_watch(struct master *m, struct proc *p)
{
	struct epoll_event ev = {
		.events = EPOLLIN,
		.data.u64 = EV_DATA(EV_CHAN, p - m->p),
	};

	return epoll_ctl(m->ep, EPOLL_CTL_ADD, p->chan, &ev);
}

static int
proc_fork(struct master *m, struct proc *p, int slot)
{
	int sv[2] = { -1, -1 };
	pid_t pid;

	if (slot != OBSERVER_SLOT && socketpair(AF_UNIX, SOCK_SEQPACKET |
	    SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) == -1) {
		sl_error("socketpair: %s", strerror(errno));
		return -1;
	}
	p->slot = slot;
	stats_slot_start(m, p);
	fflush(NULL);
	if ((pid = fork()) == -1) {
		sl_error("fork: %s", strerror(errno));
		if (sv[0] >= 0) {
			close(sv[0]);
			close(sv[1]);
		}
		return -1;
	}
	if (pid == 0) {
		if (slot == OBSERVER_SLOT)
			observer_child(m, p);
		if (sv[0] >= 0)
			close(sv[0]);
		worker_child(m, p, sv[1]);
	}
	if (sv[1] >= 0)
		close(sv[1]);
	p->chan = sv[0];
	if (p->chan >= 0 && chan_watch(m, p) == -1)
		sl_error("epoll_ctl: %s", strerror(errno));
	p->pid = pid;
	p->gen = m->cur.id;
	p->layout = m->cur.layout;
	p->exiting = p->ready = p->folded = 0;
	p->swap_gen = 0;
	p->started = sl_clock_ms();
	p->started_wall = time(NULL);
	p->respawn_at = p->kill_at = 0;
	return 0;
}

int
procs_spawn(struct master *m, int slot)
{
	struct proc *p = proc_entry(m);
	char buf[32];

	if (p == NULL || proc_fork(m, p, slot) == -1) {
		sl_error("cannot start %s", procs_name(slot, buf, sizeof(buf)));
		return -1;
	}
	return 0;
}

void
procs_start(struct master *m)
{
	for (int slot = 0; slot < m->cur.workers; slot++)
		procs_spawn(m, slot);
	if (m->cur.obs_fd >= 0)
		procs_spawn(m, OBSERVER_SLOT);
}

/* Ask P to go (QUIT drains, TERM/KILL end it) and kill it at the grace
 * deadline.  A pending respawn is cancelled. */
void
procs_quit(struct proc *p, int sig, uint64_t grace_ms)
{
	if (p->pid == 0) {
		p->respawn_at = 0;
		return;
	}
	if (!p->exiting)
		p->kill_at = sl_clock_ms() + grace_ms;
	p->exiting = 1;
	kill(p->pid, sig);
}

size_t
procs_alive(const struct master *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->np; i++)
		n += m->p[i].pid != 0;
	return n;
}

static void
proc_died(struct master *m, struct proc *p, int status)
{
	uint64_t now = sl_clock_ms(), delay;
	char buf[32];
	const char *name = procs_name(p->slot, buf, sizeof(buf));
	long pid = (long)p->pid;

	status_fold(m, p, &m->cur);
	stats_slot_end(m, p);
	p->pid = 0;
	if (p->chan >= 0) {
		close(p->chan);
		p->chan = -1;
	}
	/* Killed in the middle of a write, it would leave a slot that
	 * workers wait on: repair now, before anything else. */
	if (p->slot == OBSERVER_SLOT && p->gen == m->cur.id &&
	    m->cur.obs_fd >= 0)
		sl_obs_repair(m->cur.obs_fd);
	if (p->exiting || m->stopping) {
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			sl_warn("%s (pid %ld) killed after the drain deadline",
			    name, pid);
		return;
	}
	/* A worker that keeps crashing must not spin the master. */
	if (now - p->started > CRASH_FORGIVE_MS)
		p->crashes = 0;
	delay = p->crashes == 0 ? 0 : 100u << (p->crashes < 6 ? p->crashes : 6);
	p->crashes++;
	p->respawn_at = now + delay + 1;
	if (WIFSIGNALED(status))
		sl_error("%s (pid %ld) exited on signal %d; respawning in "
		    "%llu ms", name, pid, WTERMSIG(status),
		    (unsigned long long)delay);
	else
		sl_error("%s (pid %ld) exited with status %d; respawning in "
		    "%llu ms", name, pid, WEXITSTATUS(status),
		    (unsigned long long)delay);
}

void
procs_reap(struct master *m)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < m->np; i++)
			if (m->p[i].pid == pid) {
				proc_died(m, &m->p[i], status);
				break;
			}
	}
	reload_check(m);
}

/* Respawns that are due, and kills of drains past their deadline. */
void
procs_timers(struct master *m)
{
	uint64_t now = sl_clock_ms();

	for (size_t i = 0; i < m->np; i++) {
		struct proc *p = &m->p[i];

		if (p->pid == 0 && p->respawn_at != 0 && p->respawn_at <= now &&
		    !m->stopping)
			proc_fork(m, p, p->slot);
		if (p->pid != 0 && p->exiting && p->kill_at != 0 &&
		    p->kill_at <= now) {
			kill(p->pid, SIGKILL);
			p->kill_at = 0;
		}
	}
}

int
procs_next_timeout(const struct master *m)
{
	uint64_t now = sl_clock_ms(), next = UINT64_MAX;

	for (size_t i = 0; i < m->np; i++) {
		const struct proc *p = &m->p[i];

		if (p->pid == 0 && p->respawn_at != 0 && p->respawn_at < next)
			next = p->respawn_at;
		if (p->pid != 0 && p->kill_at != 0 && p->kill_at < next)
			next = p->kill_at;
	}
	if (m->pend.gen != 0 && m->pend.deadline < next)
		next = m->pend.deadline;
	if (sl_tickets_due(m->tickets) < next)
		next = sl_tickets_due(m->tickets);
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

/* ---- the channel ---- */

int
procs_swap(struct master *m, struct proc *p)
{
	struct sl_chan_msg msg;
	int fds[SL_CHAN_MAXFDS] = { m->cur.image_fd, m->cur.obs_ro_fd };

	memset(&msg, 0, sizeof(msg));
	msg.type = SL_CHAN_SWAP;
	msg.generation = m->cur.id;
	msg.nfds = m->cur.obs_ro_fd >= 0 ? 2 : 1;
	if (p->chan < 0 || sl_chan_send(p->chan, &msg, fds) == -1)
		return -1;
	p->swap_gen = m->cur.id;
	p->ready = 0;
	return 0;
}

/* A worker that could not take the new generation: start a replacement
 * on the same slot (same sockets), then let it drain. */
void
procs_replace(struct master *m, struct proc *p, const char *why)
{
	char buf[32];
	int slot = p->slot;
	uint64_t grace = 1000ull * m->cur.cf->sluice.shutdown_timeout;

	sl_error("%s (pid %ld): %s; replacing it", procs_name(slot, buf,
	    sizeof(buf)), (long)p->pid, why);
	procs_quit(p, SIGQUIT, grace);
	procs_spawn(m, slot);	/* may move m->p: p is not used after */
}

static void
chan_message(struct master *m, size_t idx, const struct sl_chan_msg *msg)
{
	struct proc *p = &m->p[idx];

	switch (msg->type) {
	case SL_CHAN_READY:
		if (msg->generation == p->gen)
			p->ready = 1;
		break;
	case SL_CHAN_ACK:
		p->gen = msg->generation;
		if (p->swap_gen == msg->generation) {
			p->swap_gen = 0;
			p->ready = 1;
		}
		break;
	case SL_CHAN_NACK:
		if (p->swap_gen == msg->generation && !p->exiting) {
			p->swap_gen = 0;
			procs_replace(m, p, msg->text);
		}
		break;
	}
}

void
procs_chan_event(struct master *m, size_t idx)
{
	struct sl_chan_msg msg;
	int fds[SL_CHAN_MAXFDS], rc;

	if (idx >= m->np || m->p[idx].chan < 0)
		return;
	while ((rc = sl_chan_recv(m->p[idx].chan, &msg, fds)) == 1) {
		for (uint32_t i = 0; i < msg.nfds; i++)
			close(fds[i]);	/* workers send none */
		chan_message(m, idx, &msg);
		if (idx >= m->np || m->p[idx].chan < 0)
			break;
	}
	if (rc == -1 && m->p[idx].chan >= 0) {
		/* The worker is exiting; its death is reaped by SIGCHLD. */
		close(m->p[idx].chan);
		m->p[idx].chan = -1;
	}
	reload_check(m);
}
