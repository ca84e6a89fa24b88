/*
 * master: process setup, signals, the epoll loop and the log pipe.
 *
 * Signals are blocked and read from a signalfd in the master's own epoll
 * loop, so nothing runs in signal context.  The loop also serves the
 * workers' channels and the control socket; generations, the process table
 * and reloads live in gen.c, procs.c and reload.c (master_int.h).
 */
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "master/master_int.h"
#include "shm/clock.h"
#include "shm/counters.h"
#include "shm/log.h"
#include "shm/tickets.h"
#include "shm/sockmap.h"

#define DEFAULT_LOG_DIR	"/var/log/sluice"

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

void
master_logs_open(struct master *m)
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

/* ---- signals ---- */

/* ---- signals ---- */

static void
stop(struct master *m, int sig)
{
	uint64_t grace = sig == SIGQUIT ?
	    1000ull * m->cur.cf->sluice.shutdown_timeout + 1000 : 5000;

	if (m->stopping == SIGTERM || (m->stopping && sig == SIGQUIT))
		return;
	m->stopping = sig;
	sl_warn("%s: stopping", sig == SIGQUIT ? "SIGQUIT" : "SIGTERM");
	for (size_t i = 0; i < m->np; i++) {
		struct proc *p = &m->p[i];
		int s = sig == SIGQUIT && p->slot != OBSERVER_SLOT ? SIGQUIT :
		    SIGTERM;

		/* TERM after QUIT: the deadline becomes the short one. */
		if (p->exiting && sig == SIGTERM)
			p->kill_at = sl_clock_ms() + grace;
		procs_quit(p, s, grace);
	}
}

static void
signals_read(struct master *m)
{
	struct signalfd_siginfo si;

	while (read(m->sfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			if (!m->stopping)
				reload_start(m, NULL);
			break;
		case SIGTERM:
		case SIGINT:
			stop(m, SIGTERM);
			break;
		case SIGQUIT:
			stop(m, SIGQUIT);
			break;
		case SIGUSR1:
			master_logs_open(m);
			sl_warn("SIGUSR1: log files reopened");
			break;
		case SIGCHLD:
			procs_reap(m);
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
	ev.data.u64 = EV_DATA(EV_SIGNAL, 0);
	if (epoll_ctl(m->ep, EPOLL_CTL_ADD, m->sfd, &ev) == -1)
		return -1;
	ev.data.u64 = EV_DATA(EV_LOG, 0);
	return epoll_ctl(m->ep, EPOLL_CTL_ADD, m->logp[0], &ev);
}

/*
 * Into the background.  The parent waits until the daemon says it is
 * serving (daemon_ready), so that `sluiced` returns only then and an init
 * system finds the pid file: exit 0, or 1 if the daemon died first.
 */
static int
daemonize(struct master *m)
{
	int p[2], fd;
	char c = 0;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) == -1 || (pid = fork()) == -1)
		return -1;
	if (pid > 0) {
		close(p[1]);
		while (read(p[0], &c, 1) == -1 && errno == EINTR)
			;
		_exit(c == '1' ? 0 : 1);
	}
	close(p[0]);
	m->ready_fd = p[1];
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

static void
daemon_ready(struct master *m)
{
	if (m->ready_fd >= 0) {
		if (write(m->ready_fd, "1", 1) != 1)
			sl_warn("cannot tell the starting process: %s",
			    strerror(errno));
		close(m->ready_fd);
		m->ready_fd = -1;
	}
}

/* mkdir -p, mode 0755, of the directories above PATH (/run/sluice). */
void
master_mkdir_parent(const char *path)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	for (char *s = strchr(dir + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(dir, 0755);
		*s = '/';
	}
}

void
master_log_errors(int level, struct sl_errors *e)
{
	char *line, *save = NULL;

	for (line = e->buf ? strtok_r(e->buf, "\n", &save) : NULL;
	    line != NULL; line = strtok_r(NULL, "\n", &save))
		sl_log(level, "%s", line);
}

static int
pidfile_write(const char *path)
{
	FILE *f;

	master_mkdir_parent(path);
	if ((f = fopen(path, "w")) == NULL)
		return -1;
	fprintf(f, "%ld\n", (long)getpid());
	return fclose(f);
}

static void
dispatch(struct master *m, const struct epoll_event *ev)
{
	size_t idx = (uint32_t)ev->data.u64;

	switch (ev->data.u64 >> 32) {
	case EV_SIGNAL:
		signals_read(m);
		break;
	case EV_LOG:
		logs_drain(m);
		break;
	case EV_CTL:
		ctlsrv_accept(m);
		break;
	case EV_CLIENT:
		ctlsrv_event(m, idx, ev->events);
		break;
	case EV_CHAN:
		procs_chan_event(m, idx);
		break;
	}
}

static void
loop(struct master *m)
{
	struct epoll_event evs[16];
	int n;

	while (!m->stopping || procs_alive(m) > 0) {
		n = epoll_wait(m->ep, evs, 16,
		    stats_next_timeout(m, procs_next_timeout(m)));
		for (int i = 0; i < n; i++)
			dispatch(m, &evs[i]);
		procs_timers(m);
		reload_timeout(m);
		stats_tick(m);
		/* A new TLS ticket key every 12 h; workers read it. */
		if (sl_tickets_rotate_due(m->tickets, sl_clock_ms()) == -1)
			sl_error("TLS ticket keys: no random bytes; the "
			    "current key stays");
	}
	logs_drain(m);
}

void
master_relay_prepare(struct master *m)
{
	const char *why = NULL;

	if (m->cur.cf->sluice.relay != SL_RELAY_SOCKMAP || sl_sockmap_ready())
		return;
	if (sl_sockmap_load(&why) == -1)
		sl_warn("relay \"sockmap\" is not available, splicing "
		    "instead: %s", why);
	else
		sl_info("relay \"sockmap\": self-test passed");
}

const char *
master_relay_text(const struct master *m, char *buf, size_t cap)
{
	static const char *const names[] = { "copy", "splice", "sockmap" };
	enum sl_relay_mode r = m->cur.cf->sluice.relay;

	if (r == SL_RELAY_SOCKMAP && !sl_sockmap_ready()) {
		snprintf(buf, cap, "sockmap (%s) -> splice",
		    sl_sockmap_why() ? sl_sockmap_why() : "not loaded");
		return buf;
	}
	return names[r];
}

/* The first generation, the shared regions, the control socket. */
static int
master_start(struct master *m)
{
	struct sl_errors errs;
	const char *err = NULL;
	int rc;

	if (stats_init(m) == -1) {
		sl_error("out of memory");
		return -1;
	}
	sl_errors_init(&errs);
	rc = gen_build(m, 1, NULL, &m->cur, &errs);
	master_log_errors(SL_LOGL_ERROR, &errs);
	sl_errors_free(&errs);
	if (rc == -1)
		return -1;
	m->cur.layout = m->layouts = 1;
	/* Before any fork: every child inherits this one mapping. */
	if ((m->tickets = sl_tickets_create(sl_clock_ms(), &err)) == NULL) {
		sl_error("%s", err);
		return -1;
	}
	if ((m->cnt = sl_cnt_create()) == NULL)
		sl_warn("no counters region: %s", strerror(errno));
	return 0;
}

static void
master_free(struct master *m)
{
	ctlsrv_close(m);
	sl_listen_close_all(&m->ls);
	gen_free(&m->cur);
	for (size_t i = 0; i < m->np; i++)
		if (m->p[i].chan >= 0)
			close(m->p[i].chan);
	free(m->p);
	free(m->tot);
	sl_cnt_destroy(m->cnt);
	sl_tickets_free(m->tickets);
	close(m->ep);
	close(m->sfd);
	close(m->logp[0]);
	close(m->logp[1]);
}

int
sl_master_run(const struct sl_master_opts *opts)
{
	struct master m;
	const char *ctl;

	memset(&m, 0, sizeof(m));
	m.opts = opts;
	m.logp[0] = m.logp[1] = m.ctl_fd = m.ready_fd = -1;
	for (int i = 0; i < CTL_CLIENTS; i++)
		m.ctl[i].fd = -1;
	sl_log_ident("master");
	if (master_start(&m) == -1) {
		stats_close(&m);	/* what it loaded: nothing to store */
		return 1;
	}
	/* The signalfd must be made by the process that reads it: a
	 * signalfd wakes epoll only for its creator's signals. */
	if (!opts->foreground && daemonize(&m) == -1)
		return 1;
	if (setup_loop(&m) == -1) {
		sl_error("master setup: %s", strerror(errno));
		return 1;
	}
	m.pid = getpid();
	m.started = time(NULL);
	master_logs_open(&m);
	m.pid_file = opts->pid_file ? opts->pid_file : m.cur.cf->sluice.pid_file;
	if (pidfile_write(m.pid_file) == -1)
		sl_warn("cannot write pid file %s: %s", m.pid_file,
		    strerror(errno));
	ctl = m.cur.cf->sluice.control_socket;
	if (ctlsrv_open(&m, ctl) == -1)
		sl_warn("cannot open the control socket %s: %s", ctl,
		    strerror(errno));
	sl_warn("sluiced started: generation 1, %d workers, %zu inbounds",
	    m.cur.workers, m.cur.cf->ninbounds);
	master_relay_prepare(&m);
	procs_start(&m);
	daemon_ready(&m);
	stats_open(&m);
	loop(&m);
	stats_close(&m);
	unlink(m.pid_file);
	sl_warn("sluiced stopped");
	ctlsrv_stopped(&m);
	master_free(&m);
	return 0;
}
