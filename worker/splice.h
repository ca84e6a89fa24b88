/*
 * splice: the kernel-side relay of one direction through a pipe.
 *
 * Bytes go socket -> pipe -> socket with splice(2) and never enter the
 * worker's memory.  Owns struct sl_pipe and the worker's pool of empty
 * pipes: a direction takes a pipe when it starts moving bytes and gives it
 * back as soon as the pipe is empty, so an idle connection holds none and
 * a busy worker does not pay pipe2() and two close() per request.
 */
#ifndef SL_WORKER_SPLICE_H
#define SL_WORKER_SPLICE_H

#include <stddef.h>
#include <sys/types.h>

/* Empty pipes a worker keeps open for the next taker. */
#define SL_PIPEPOOL_KEEP	32

struct sl_pipe {
	int		 fd[2];		/* read, write end; -1 = none held */
	size_t		 len;		/* bytes in the pipe */
};

struct sl_pipepool {
	int		(*fds)[2];
	size_t		 n, keep;
};

void	 sl_pipe_init(struct sl_pipe *);
void	 sl_pipepool_init(struct sl_pipepool *, size_t keep);
void	 sl_pipepool_free(struct sl_pipepool *);
/* Back to the pool if empty, closed if it still holds bytes (whatever
 * they were for is over). */
void	 sl_pipe_drop(struct sl_pipepool *, struct sl_pipe *);
/* Back to the pool if empty; nothing otherwise. */
void	 sl_pipe_give(struct sl_pipepool *, struct sl_pipe *);
/*
 * One splice from socket FD into the pipe (taken from the pool first if
 * none is held): >0 bytes, 0 end of stream, -1 would block, -2 error
 * (errno).
 */
ssize_t	 sl_pipe_in(struct sl_pipepool *, struct sl_pipe *, int fd);
/* One splice from the pipe out to socket FD: >0, -1 would block, -2. */
ssize_t	 sl_pipe_out(struct sl_pipe *, int fd);

#endif
