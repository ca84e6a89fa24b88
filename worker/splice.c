/*
 * splice: socket -> pipe -> socket (see splice.h).
 *
 * A pipe goes back to the pool only when our count says it is empty; a
 * pipe whose bytes could not be delivered is closed, never reused, so one
 * connection's leftovers cannot reach another.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "worker/splice.h"

/* One splice moves at most a pipe's worth (16 pages by default). */
#define PIPE_CHUNK	(1 << 20)

void
sl_pipe_init(struct sl_pipe *p)
{
	p->fd[0] = p->fd[1] = -1;
	p->len = 0;
}

void
sl_pipepool_init(struct sl_pipepool *pp, size_t keep)
{
	pp->fds = NULL;
	pp->n = 0;
	pp->keep = keep;
}

void
sl_pipepool_free(struct sl_pipepool *pp)
{
	for (size_t i = 0; i < pp->n; i++) {
		close(pp->fds[i][0]);
		close(pp->fds[i][1]);
	}
	free(pp->fds);
	pp->fds = NULL;
	pp->n = 0;
}

static int
pipe_take(struct sl_pipepool *pp, struct sl_pipe *p)
{
	if (p->fd[0] >= 0)
		return 0;
	p->len = 0;
	if (pp->n > 0) {
		pp->n--;
		p->fd[0] = pp->fds[pp->n][0];
		p->fd[1] = pp->fds[pp->n][1];
		return 0;
	}
	return pipe2(p->fd, O_NONBLOCK | O_CLOEXEC);
}

void
sl_pipe_drop(struct sl_pipepool *pp, struct sl_pipe *p)
{
	if (p->fd[0] < 0)
		return;
	if (p->len == 0 && pp->fds == NULL && pp->keep > 0)
		pp->fds = calloc(pp->keep, sizeof(*pp->fds));
	if (p->len == 0 && pp->n < pp->keep && pp->fds != NULL) {
		pp->fds[pp->n][0] = p->fd[0];
		pp->fds[pp->n][1] = p->fd[1];
		pp->n++;
	} else {
		close(p->fd[0]);
		close(p->fd[1]);
	}
	sl_pipe_init(p);
}

void
sl_pipe_give(struct sl_pipepool *pp, struct sl_pipe *p)
{
	if (p->len == 0)
		sl_pipe_drop(pp, p);
}

ssize_t
sl_pipe_in(struct sl_pipepool *pp, struct sl_pipe *p, int fd)
{
	ssize_t n;

	if (pipe_take(pp, p) == -1)
		return -2;
	n = splice(fd, NULL, p->fd[1], NULL, PIPE_CHUNK,
	    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -1 : -2;
	p->len += (size_t)n;
	return n;
}

ssize_t
sl_pipe_out(struct sl_pipe *p, int fd)
{
	ssize_t n = splice(p->fd[0], NULL, fd, NULL, p->len,
	    SPLICE_F_NONBLOCK | SPLICE_F_MOVE);

	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -1 : -2;
	p->len -= (size_t)n;
	return n;
}
