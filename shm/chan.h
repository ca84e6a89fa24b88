/*
 * chan: the channel between the master and one worker.
 *
 * A SOCK_SEQPACKET socketpair made by the master before the fork: whole
 * messages, each possibly carrying file descriptors (SCM_RIGHTS).  The
 * master sends a new generation to a running worker (an in-place reload);
 * the worker says when it is ready to accept and answers every swap.
 */
#ifndef SL_SHM_CHAN_H
#define SL_SHM_CHAN_H

#include <stdint.h>

enum sl_chan_type {
	SL_CHAN_READY = 1,	/* w -> m: listeners are being watched */
	SL_CHAN_SWAP,		/* m -> w: fds = image [, observation] */
	SL_CHAN_ACK,		/* w -> m: now serving new connections */
	SL_CHAN_NACK		/* w -> m: could not; text says why */
};

#define SL_CHAN_MAXFDS	2

struct sl_chan_msg {
	uint32_t	 type;
	uint32_t	 nfds;
	uint64_t	 generation;
	char		 text[240];
};

/* 0, or -1 with errno. */
int	 sl_chan_send(int fd, const struct sl_chan_msg *, const int *fds);
/*
 * One message into *msg and its descriptors into fds (msg->nfds of them,
 * at most SL_CHAN_MAXFDS; surplus ones are closed).  1 = a message,
 * 0 = none waiting, -1 = the peer is gone or the message is malformed.
 */
int	 sl_chan_recv(int fd, struct sl_chan_msg *, int *fds);

#endif
