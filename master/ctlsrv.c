/*
 * ctlsrv: the control socket (sluice.controlSocket, mode 0600).
 *
 * One command per connection, one line: "reload", "status", "status json",
 * "stop", "stop fast".  The answer starts with a line "ok" or "error";
 * the rest is text for the operator.  A reload is answered when it is
 * done; a stop keeps the connection until the master exits, so the client
 * knows when it has.  Commands run in the master's loop: they never block
 * it longer than a reload's compile.
 */
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/master_int.h"
#include "shm/log.h"

int
ctlsrv_open(struct master *m, const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN,
	    .data.u64 = EV_DATA(EV_CTL, 0) };
	mode_t mask;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
	master_mkdir_parent(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	unlink(path);		/* a stale socket of a dead master */
	mask = umask(0177);	/* 0600 from the start, no window */
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1 ||
	    listen(fd, 16) == -1 || epoll_ctl(m->ep, EPOLL_CTL_ADD, fd,
	    &ev) == -1) {
		umask(mask);
		close(fd);
		return -1;
	}
	umask(mask);
	chmod(path, 0600);
	m->ctl_fd = fd;
	free(m->ctl_path);
	m->ctl_path = strdup(path);
	return 0;
}

void
ctlsrv_close(struct master *m)
{
	for (int i = 0; i < CTL_CLIENTS; i++) {
		struct ctl_client *c = &m->ctl[i];

		/* A client waiting for the stop sees EOF when the process
		 * is gone: the kernel closes this fd at exit. */
		if (c->fd >= 0 && c->wait == CTL_WAIT_STOP) {
			free(c->out);
			c->out = NULL;
		} else if (c->fd >= 0)
			ctlsrv_close_client(c);
	}
	if (m->ctl_fd >= 0) {
		close(m->ctl_fd);
		m->ctl_fd = -1;
		if (m->ctl_path != NULL)
			unlink(m->ctl_path);
	}
	free(m->ctl_path);
	m->ctl_path = NULL;
}

void
ctlsrv_close_client(struct ctl_client *c)
{
	close(c->fd);	/* also leaves the epoll set */
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void
ctlsrv_accept(struct master *m)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fd, i;

	while ((fd = accept4(m->ctl_fd, NULL, NULL, SOCK_NONBLOCK |
	    SOCK_CLOEXEC)) >= 0) {
		for (i = 0; i < CTL_CLIENTS && m->ctl[i].fd >= 0; i++)
			;
		ev.data.u64 = EV_DATA(EV_CLIENT, i);
		if (i == CTL_CLIENTS ||
		    epoll_ctl(m->ep, EPOLL_CTL_ADD, fd, &ev) == -1) {
			close(fd);	/* busy: the client sees EOF */
			continue;
		}
		memset(&m->ctl[i], 0, sizeof(m->ctl[i]));
		m->ctl[i].fd = fd;
	}
}

static void
client_flush(struct master *m, struct ctl_client *c)
{
	struct epoll_event ev = { .events = EPOLLIN,
	    .data.u64 = EV_DATA(EV_CLIENT, c - m->ctl) };
	ssize_t n;
	int broken = 0;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL);
		if (n <= 0) {
			broken = n == 0 || errno != EAGAIN;
			break;
		}
		c->outoff += (size_t)n;
	}
	if (c->outoff == c->outlen && c->wait == CTL_WAIT_NONE &&
	    c->out != NULL) {
		ctlsrv_close_client(c);
		return;
	}
	if (broken) {
		ctlsrv_close_client(c);
		return;
	}
	ev.events |= c->outoff < c->outlen ? EPOLLOUT : 0;
	epoll_ctl(m->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

void
ctlsrv_reply(struct master *m, struct ctl_client *c, const char *text,
    int done)
{
	size_t len = strlen(text);
	char *out = realloc(c->out, c->outlen + len + 1);

	if (out != NULL) {
		memcpy(out + c->outlen, text, len + 1);
		c->out = out;
		c->outlen += len;
	}
	if (done)
		c->wait = CTL_WAIT_NONE;
	else if (c->wait == CTL_WAIT_NONE)
		c->wait = CTL_WAIT_MORE;
	client_flush(m, c);
}

void
ctlsrv_reply_all(struct master *m, int wait, const char *text)
{
	for (int i = 0; i < CTL_CLIENTS; i++)
		if (m->ctl[i].fd >= 0 && m->ctl[i].wait == wait)
			ctlsrv_reply(m, &m->ctl[i], text, 1);
}

void
ctlsrv_stopped(struct master *m)
{
	static const char msg[] = "stopped\n";

	for (int i = 0; i < CTL_CLIENTS; i++)
		if (m->ctl[i].fd >= 0 && m->ctl[i].wait == CTL_WAIT_STOP &&
		    send(m->ctl[i].fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL) ==
		    -1)
			sl_warn("control client: %s", strerror(errno));
}

static void
client_command(struct master *m, struct ctl_client *c, const char *cmd)
{
	char *text;

	if (strcmp(cmd, "reload") == 0) {
		if (m->stopping)
			ctlsrv_reply(m, c, "error\nthe server is stopping\n", 1);
		else
			reload_start(m, c);
	} else if (strcmp(cmd, "status") == 0 ||
	    strcmp(cmd, "status json") == 0) {
		if ((text = status_text(m, cmd[6] != '\0')) == NULL) {
			ctlsrv_reply(m, c, "error\nout of memory\n", 1);
			return;
		}
		ctlsrv_reply(m, c, "ok\n", 0);
		ctlsrv_reply(m, c, text, 1);
		free(text);
	} else if (strcmp(cmd, "users") == 0) {
		if (m->stopping)
			ctlsrv_reply(m, c, "error\nthe server is stopping\n", 1);
		else
			reload_users(m, c);
	} else if (strcmp(cmd, "stats") == 0) {
		if ((text = stats_live_json(m)) == NULL) {
			ctlsrv_reply(m, c, "error\nout of memory\n", 1);
			return;
		}
		ctlsrv_reply(m, c, "ok\n", 0);
		ctlsrv_reply(m, c, text, 0);
		ctlsrv_reply(m, c, "\n", 1);
		free(text);
	} else if (strcmp(cmd, "stop") == 0 || strcmp(cmd, "stop fast") == 0) {
		c->wait = CTL_WAIT_STOP;
		ctlsrv_reply(m, c, "ok\n", 0);
		kill(m->pid, cmd[4] != '\0' ? SIGTERM : SIGQUIT);
	} else
		ctlsrv_reply(m, c, "error\nunknown command\n", 1);
}

void
ctlsrv_event(struct master *m, size_t idx, uint32_t events)
{
	struct ctl_client *c = &m->ctl[idx];
	char *nl;
	ssize_t n;

	if (idx >= CTL_CLIENTS || c->fd < 0)
		return;
	if (events & EPOLLOUT)
		client_flush(m, c);
	if (c->fd < 0 || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	n = recv(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen, 0);
	if (n <= 0) {
		if (n == 0 || errno != EAGAIN)
			ctlsrv_close_client(c);
		return;
	}
	if (c->out != NULL || c->wait != CTL_WAIT_NONE)
		return;		/* one command per connection */
	c->inlen += (size_t)n;
	c->in[c->inlen] = '\0';
	if ((nl = strchr(c->in, '\n')) == NULL) {
		if (c->inlen == sizeof(c->in) - 1)
			ctlsrv_reply(m, c, "error\ncommand too long\n", 1);
		return;
	}
	*nl = '\0';
	if (nl > c->in && nl[-1] == '\r')
		nl[-1] = '\0';
	client_command(m, c, c->in);
}
