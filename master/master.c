/*
 * master: generations, workers, signals and the log pipe.
 *
 * Signals are blocked and read from a signalfd in the master's own epoll
 * loop, so nothing runs in signal context.  A reload builds generation
 * G+1 completely (parse, check, compile, listeners, sealed image) before
 * touching anything; any error keeps G serving.  Workers of G+1 are forked
 * onto the same listening sockets before G's workers are asked to drain.
 */
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "master/compile.h"
#include "master/conf.h"
#include "master/listen.h"
#include "master/master.h"
#include "shm/boot.h"
#include "shm/image.h"
#include "shm/log.h"
#include "shm/observe.h"
#include "shm/tickets.h"

#define DEFAULT_LOG_DIR	"/var/log/sluice"

struct gen {
	uint64_t		 id;
	struct sl_conf		*cf;
	int			 image_fd;
	int			 workers;
	struct sl_boot_listener	*lst;	/* workers * ninbounds, slot-major */
	int			 obs_fd;	/* observation region or -1 */
	int			 obs_ro_fd;	/* the same, read-only */
};

#define OBSERVER_SLOT	(-1)	/* the worker table's entry for the observer */

struct worker {
	pid_t		 pid;		/* 0 = slot free */
	int		 slot;		/* OBSERVER_SLOT: the observer */
	uint64_t	 gen;
	int		 exiting;
	uint64_t	 started, respawn_at;
	int		 crashes;
};

struct master {
	const struct sl_master_opts *opts;
	struct gen		 cur;
	struct worker		*w;
	size_t			 nw, capw;
	struct sl_listen_set	 ls;
	int			 sfd, ep, logp[2];
	const char		*pid_file;
	int			 stopping;	/* SIGTERM, SIGQUIT */
	uint64_t		 stop_deadline;
	char			 logbuf[65536];
	size_t			 loglen;
	struct sl_tickets	*tickets;	/* TLS ticket keys, for life */
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int
worker_count(const struct master *m, const struct sl_conf *cf)
{
	long n;

	if (m->opts->workers > 0)
		return m->opts->workers;
	if (cf->sluice.workers > 0)
		return cf->sluice.workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* ---- logs ---- */

/* The log's fd: -1 for "none"; if the file cannot be opened, on_fail
 * (stderr for the error log, so the reason is seen somewhere). */
static int
open_log(const char *path, int foreground, const char *dflt, int on_fail)
{
	char buf[256];
	int fd;

	if (strcmp(path, "none") == 0)
		return -1;
	if (path[0] == '\0') {
		if (foreground)
			return 2;
		mkdir(DEFAULT_LOG_DIR, 0750);
		snprintf(buf, sizeof(buf), "%s/%s", DEFAULT_LOG_DIR, dflt);
		path = buf;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1) {
		sl_error("cannot open log file %s: %s", path, strerror(errno));
		return on_fail;
	}
	return fd;
}

static void
logs_open(struct master *m)
{
	const struct sl_conf_log *l = &m->cur.cf->log;
	int e = open_log(l->error, m->opts->foreground, "error.log", 2);
	int a = open_log(l->access, m->opts->foreground, "access.log", -1);

	sl_log_files(e, a);
	sl_log_level((int)l->loglevel);
}

static void
logs_drain(struct master *m)
{
	ssize_t n;
	char *nl, *p;

	for (;;) {
		n = read(m->logp[0], m->logbuf + m->loglen,
		    sizeof(m->logbuf) - m->loglen);
		if (n <= 0)
			return;
		m->loglen += (size_t)n;
		p = m->logbuf;
		while ((nl = memchr(p, '\n', m->loglen - (size_t)(p -
		    m->logbuf))) != NULL) {
			sl_log_write_record(p, (size_t)(nl - p) + 1);
			p = nl + 1;
		}
		m->loglen -= (size_t)(p - m->logbuf);
		memmove(m->logbuf, p, m->loglen);
		if (m->loglen == sizeof(m->logbuf))
			m->loglen = 0;	/* a record never gets this long */
	}
}

/* ---- generations ---- */

/*
 * With observatory records in the image, the generation gets its own
 * observation region (shm/observe.h): one slot per (record, outbound).
 */
static int
gen_observe(struct gen *g, const uint8_t *img, struct sl_errors *errs)
{
	const struct sl_img_hdr *h = (const struct sl_img_hdr *)img;
	uint32_t nobs = h->sect[SL_SECT_OBSERVERS].count;
	const char *err = NULL;

	if (nobs == 0)
		return 0;
	g->obs_fd = sl_obs_create(nobs, h->sect[SL_SECT_OUTBOUNDS].count,
	    g->id, &g->obs_ro_fd, &err);
	if (g->obs_fd == -1) {
		sl_errors_add(errs, NULL, "%s: %s", err, strerror(errno));
		return -1;
	}
	return 0;
}

static void
gen_free(struct gen *g)
{
	if (g->image_fd >= 0)
		close(g->image_fd);
	if (g->obs_fd >= 0)
		close(g->obs_fd);
	if (g->obs_ro_fd >= 0)
		close(g->obs_ro_fd);
	free(g->lst);
	sl_conf_free(g->cf);
	memset(g, 0, sizeof(*g));
	g->image_fd = g->obs_fd = g->obs_ro_fd = -1;
}

static int
gen_build(struct master *m, uint64_t id, struct gen *g)
{
	struct sl_errors errs;
	uint8_t *img = NULL;
	size_t len, nin;
	int rc = -1;

	memset(g, 0, sizeof(*g));
	g->image_fd = g->obs_fd = g->obs_ro_fd = -1;
	sl_errors_init(&errs);
	g->cf = sl_conf_load(m->opts->config, &errs);
	if (g->cf == NULL || sl_compile(g->cf, id, &img, &len, &errs) == -1)
		goto out;
	g->id = id;
	g->workers = worker_count(m, g->cf);
	nin = g->cf->ninbounds;
	g->lst = calloc((size_t)g->workers * nin + 1, sizeof(*g->lst));
	if (g->lst == NULL)
		goto out;
	if (sl_listen_update(&m->ls, g->cf, g->workers, g->lst, &errs) == -1)
		goto out;
	if ((g->image_fd = sl_img_seal(img, len)) == -1) {
		sl_errors_add(&errs, NULL, "cannot seal the table image: %s",
		    strerror(errno));
		goto out;
	}
	if (gen_observe(g, img, &errs) == -1)
		goto out;
	rc = 0;
out:
	if (errs.count > 0) {
		char *line, *save = NULL;

		for (line = strtok_r(errs.buf, "\n", &save); line != NULL;
		    line = strtok_r(NULL, "\n", &save))
			sl_error("%s", line);
	}
	free(img);
	sl_errors_free(&errs);
	if (rc == -1)
		gen_free(g);
	return rc;
}

/* ---- workers ---- */

static int
drop_privileges(const struct sl_conf_sluice *s)
{
	struct passwd *pw = NULL;
	struct group *gr = NULL;

	if (s->user == NULL && s->group == NULL)
		return 0;
	if (s->group != NULL && (gr = getgrnam(s->group)) == NULL)
		return -1;
	if (s->user != NULL && (pw = getpwnam(s->user)) == NULL)
		return -1;
	if (gr == NULL && pw != NULL)
		gr = getgrgid(pw->pw_gid);
	if (gr != NULL && (setgroups(1, &gr->gr_gid) == -1 ||
	    setresgid(gr->gr_gid, gr->gr_gid, gr->gr_gid) == -1))
		return -1;
	if (pw != NULL && setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1)
		return -1;
	return 0;
}

static const char *
slot_name(int slot, char *buf, size_t len)
{
	if (slot == OBSERVER_SLOT)
		return "observer";
	snprintf(buf, len, "worker %d", slot);
	return buf;
}

/* What every child does after closing the sockets it must not keep:
 * drop the master's descriptors, log through the pipe, give up root and
 * take the signals the master blocks. */
static void
child_enter(struct master *m, int slot)
{
	sigset_t all;
	char ident[32];

	close(m->sfd);
	close(m->ep);
	close(m->logp[0]);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	sl_log_ident(slot_name(slot, ident, sizeof(ident)));
	sl_log_pipe(m->logp[1]);
	if (drop_privileges(&m->cur.cf->sluice) == -1) {
		sl_error("cannot drop privileges: %s", strerror(errno));
		_exit(2);
	}
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

static _Noreturn void
worker_child(struct master *m, int slot)
{
	size_t nin = m->cur.cf->ninbounds;
	struct sl_boot boot = {
		.slot = slot,
		.image_fd = m->cur.image_fd,
		.generation = m->cur.id,
		.log_fd = m->logp[1],
		.listeners = m->cur.lst + (size_t)slot * nin,
		.nlisteners = nin,
		.obs_fd = m->cur.obs_ro_fd,
		.tickets = m->tickets,
	};

	/* Only this slot's sockets: a draining worker must not keep the
	 * other slots' sockets (and their queues) alive. */
	for (size_t i = 0; i < m->ls.n; i++)
		if (m->ls.socks[i].slot != slot)
			close(m->ls.socks[i].fd);
	if (m->cur.obs_fd >= 0)		/* workers only read it */
		close(m->cur.obs_fd);
	sl_tickets_readonly(m->tickets);	/* this too */
	child_enter(m, slot);
	/* exit, not _exit: under LeakSanitizer a worker is checked too. */
	exit(sl_worker_run(&boot));
}

/* ---- the observer: balancer health probes, one per generation ---- */

static _Noreturn void
observer_child(struct master *m)
{
	struct sl_boot boot = {
		.slot = OBSERVER_SLOT,
		.image_fd = m->cur.image_fd,
		.generation = m->cur.id,
		.log_fd = m->logp[1],
		.obs_fd = m->cur.obs_fd,
	};

	for (size_t i = 0; i < m->ls.n; i++)	/* it serves no client */
		close(m->ls.socks[i].fd);
	close(m->cur.obs_ro_fd);
	sl_tickets_free(m->tickets);	/* it terminates no TLS */
	child_enter(m, OBSERVER_SLOT);
	exit(sl_observer_run(&boot));
}

/* ---- the process table: workers and the observer ---- */

static struct worker *
worker_slot(struct master *m)
{
	for (size_t i = 0; i < m->nw; i++)
		if (m->w[i].pid == 0 && m->w[i].respawn_at == 0)
			return &m->w[i];
	if (m->nw == m->capw) {
		size_t cap = m->capw ? m->capw * 2 : 16;
		struct worker *w = realloc(m->w, cap * sizeof(*w));

		if (w == NULL)
			return NULL;
		m->w = w;
		m->capw = cap;
	}
	memset(&m->w[m->nw], 0, sizeof(m->w[0]));
	return &m->w[m->nw++];
}

static int
worker_spawn(struct master *m, struct worker *w, int slot)
{
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) == -1) {
		sl_error("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (slot == OBSERVER_SLOT)
			observer_child(m);
		worker_child(m, slot);
	}
	w->pid = pid;
	w->slot = slot;
	w->gen = m->cur.id;
	w->exiting = 0;
	w->started = now_ms();
	w->respawn_at = 0;
	return 0;
}

static void
workers_start(struct master *m)
{
	for (int slot = 0; slot < m->cur.workers; slot++) {
		struct worker *w = worker_slot(m);

		if (w == NULL || worker_spawn(m, w, slot) == -1)
			sl_error("cannot start worker %d", slot);
	}
	if (m->cur.obs_fd >= 0) {
		struct worker *w = worker_slot(m);

		if (w == NULL || worker_spawn(m, w, OBSERVER_SLOT) == -1)
			sl_error("cannot start the observer");
	}
}

static void
workers_signal(struct master *m, uint64_t gen, int sig, int all)
{
	for (size_t i = 0; i < m->nw; i++) {
		struct worker *w = &m->w[i];

		if (w->pid == 0 && w->respawn_at != 0 && (all || w->gen == gen))
			w->respawn_at = 0;	/* cancel a pending respawn */
		if (w->pid == 0 || (!all && w->gen != gen))
			continue;
		w->exiting = 1;
		kill(w->pid, sig);
	}
}

static size_t
workers_alive(const struct master *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->nw; i++)
		n += m->w[i].pid != 0;
	return n;
}

static void
worker_died(struct master *m, struct worker *w, int status)
{
	uint64_t now = now_ms(), delay;
	char buf[32];
	const char *name = slot_name(w->slot, buf, sizeof(buf));

	w->pid = 0;
	/* Killed in the middle of a write, it would leave a slot that
	 * workers wait on: repair now, before anything else. */
	if (w->slot == OBSERVER_SLOT && w->gen == m->cur.id &&
	    m->cur.obs_fd >= 0)
		sl_obs_repair(m->cur.obs_fd);
	if (w->exiting || m->stopping || w->gen != m->cur.id) {
		if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
			sl_warn("%s killed after the drain deadline", name);
		return;
	}
	/* A worker that keeps crashing must not spin the master. */
	if (now - w->started > 10000)
		w->crashes = 0;
	delay = w->crashes == 0 ? 0 : 100u << (w->crashes < 6 ? w->crashes : 6);
	w->crashes++;
	w->respawn_at = now + delay + 1;
	if (WIFSIGNALED(status))
		sl_error("%s exited on signal %d; respawning in %llu ms",
		    name, WTERMSIG(status), (unsigned long long)delay);
	else
		sl_error("%s exited with status %d; respawning in %llu ms",
		    name, WEXITSTATUS(status), (unsigned long long)delay);
}

static void
workers_reap(struct master *m)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (size_t i = 0; i < m->nw; i++)
			if (m->w[i].pid == pid) {
				worker_died(m, &m->w[i], status);
				break;
			}
	}
}

static void
workers_respawn_due(struct master *m)
{
	uint64_t now = now_ms();

	for (size_t i = 0; i < m->nw; i++) {
		struct worker *w = &m->w[i];

		if (w->pid == 0 && w->respawn_at != 0 && w->respawn_at <= now)
			worker_spawn(m, w, w->slot);
	}
}

static int
next_timeout(const struct master *m)
{
	uint64_t now = now_ms(), next = UINT64_MAX;

	for (size_t i = 0; i < m->nw; i++)
		if (m->w[i].pid == 0 && m->w[i].respawn_at != 0 &&
		    m->w[i].respawn_at < next)
			next = m->w[i].respawn_at;
	if (m->stopping && m->stop_deadline < next)
		next = m->stop_deadline;
	if (sl_tickets_due(m->tickets) < next)
		next = sl_tickets_due(m->tickets);
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)(next - now);
}

/* ---- signals ---- */

static void
reload(struct master *m)
{
	struct gen g, old;

	sl_warn("SIGHUP: reloading %s", m->opts->config);
	if (gen_build(m, m->cur.id + 1, &g) == -1) {
		sl_error("reload failed; generation %llu keeps serving",
		    (unsigned long long)m->cur.id);
		return;
	}
	old = m->cur;
	m->cur = g;
	logs_open(m);
	workers_start(m);
	workers_signal(m, old.id, SIGQUIT, 0);
	sl_listen_prune(&m->ls);
	gen_free(&old);
	sl_warn("reload done: generation %llu, %d workers",
	    (unsigned long long)m->cur.id, m->cur.workers);
}

static void
stop(struct master *m, int sig)
{
	uint32_t grace = m->cur.cf->sluice.shutdown_timeout;

	if (m->stopping && sig == SIGQUIT)
		return;
	m->stopping = sig;
	m->stop_deadline = now_ms() + (sig == SIGQUIT ? grace * 1000u : 5000u);
	sl_warn("%s: stopping", sig == SIGQUIT ? "SIGQUIT" : "SIGTERM");
	workers_signal(m, 0, sig == SIGQUIT ? SIGQUIT : SIGTERM, 1);
}

static void
signals_read(struct master *m)
{
	struct signalfd_siginfo si;

	while (read(m->sfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			if (!m->stopping)
				reload(m);
			break;
		case SIGTERM:
		case SIGINT:
			stop(m, SIGTERM);
			break;
		case SIGQUIT:
			stop(m, SIGQUIT);
			break;
		case SIGUSR1:
			logs_open(m);
			sl_warn("SIGUSR1: log files reopened");
			break;
		case SIGCHLD:
			workers_reap(m);
			break;
		}
	}
}

/* ---- process setup ---- */

static int
setup_loop(struct master *m)
{
	struct epoll_event ev = { .events = EPOLLIN };
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	m->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (m->sfd == -1 || pipe2(m->logp, O_NONBLOCK | O_CLOEXEC) == -1)
		return -1;
	/* Bigger pipe: a burst of access-log lines must not be dropped. */
	fcntl(m->logp[1], F_SETPIPE_SZ, 1 << 20);
	if ((m->ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	ev.data.fd = m->sfd;
	if (epoll_ctl(m->ep, EPOLL_CTL_ADD, m->sfd, &ev) == -1)
		return -1;
	ev.data.fd = m->logp[0];
	return epoll_ctl(m->ep, EPOLL_CTL_ADD, m->logp[0], &ev);
}

static int
daemonize(void)
{
	pid_t pid = fork();
	int fd;

	if (pid == -1)
		return -1;
	if (pid > 0)
		_exit(0);
	setsid();
	if ((fd = open("/dev/null", O_RDWR)) >= 0) {
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		if (fd > 2)
			close(fd);
	}
	return 0;
}

static int
pidfile_write(const char *path)
{
	char dir[256], *slash;
	FILE *f;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		mkdir(dir, 0755);
	}
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f);
}

static void
loop(struct master *m)
{
	struct epoll_event evs[4];
	int n;

	while (!m->stopping || workers_alive(m) > 0) {
		if (m->stopping && now_ms() >= m->stop_deadline)
			workers_signal(m, 0, SIGKILL, 1);
		n = epoll_wait(m->ep, evs, 4, next_timeout(m));
		for (int i = 0; i < n; i++) {
			if (evs[i].data.fd == m->sfd)
				signals_read(m);
			else
				logs_drain(m);
		}
		if (!m->stopping)
			workers_respawn_due(m);
		/* A new TLS ticket key every 12 h; workers read it. */
		if (sl_tickets_rotate_due(m->tickets, now_ms()) == -1)
			sl_error("TLS ticket keys: no random bytes; the "
			    "current key stays");
	}
	logs_drain(m);
}

int
sl_master_run(const struct sl_master_opts *opts)
{
	struct master m;
	const char *err = NULL;

	memset(&m, 0, sizeof(m));
	m.opts = opts;
	m.logp[0] = m.logp[1] = -1;
	sl_log_ident("master");
	if (setup_loop(&m) == -1) {
		sl_error("master setup: %s", strerror(errno));
		return 1;
	}
	/* Before any fork: every child inherits this one mapping. */
	if ((m.tickets = sl_tickets_create(now_ms(), &err)) == NULL) {
		sl_error("%s", err);
		return 1;
	}
	if (gen_build(&m, 1, &m.cur) == -1)
		return 1;
	if (!opts->foreground && daemonize() == -1)
		return 1;
	logs_open(&m);
	m.pid_file = opts->pid_file ? opts->pid_file : m.cur.cf->sluice.pid_file;
	if (pidfile_write(m.pid_file) == -1)
		sl_warn("cannot write pid file %s: %s", m.pid_file,
		    strerror(errno));
	sl_warn("sluiced started: generation 1, %d workers, %zu inbounds",
	    m.cur.workers, m.cur.cf->ninbounds);
	workers_start(&m);
	loop(&m);
	unlink(m.pid_file);
	sl_warn("sluiced stopped");
	sl_listen_close_all(&m.ls);
	gen_free(&m.cur);
	sl_tickets_free(m.tickets);
	free(m.w);
	close(m.ep);
	close(m.sfd);
	close(m.logp[0]);
	close(m.logp[1]);
	return 0;
}
