/*
 * buf: the relay buffers of a worker and the pool they come from.
 *
 * A connection's struct sl_buf holds SL_BUF_SIZE bytes only while data is
 * in it: the buffer is taken just before a read and given back as soon as
 * it is empty again, so an idle connection (a TLS client that has not
 * sent its first packet, a keep-alive relay between requests) holds none.
 * Given-back buffers wait on a small per-worker free list, bounded, so
 * that a busy worker does not go to malloc for every request.
 */
#ifndef SL_WORKER_BUF_H
#define SL_WORKER_BUF_H

#include <stddef.h>
#include <stdint.h>

/* 64 KiB: a bulk transfer moves in reads and sends of 64 KiB, and four
 * TLS records leave in one send (worker/tlsbio.h). */
#define SL_BUF_SIZE	65536
/* Free buffers a worker keeps (1 MiB); more go back to malloc. */
#define SL_BUFPOOL_KEEP	16

struct sl_buf {
	uint8_t		*data;		/* NULL while the buffer is empty */
	size_t		 off, len;	/* pending bytes: data[off..off+len) */
};

struct sl_bufpool {
	void		*free;		/* singly linked through the buffers */
	size_t		 nfree, keep;
	size_t		 out;		/* buffers held by connections */
};

void	 sl_bufpool_init(struct sl_bufpool *, size_t keep);
/* Free every buffer on the free list (the ones out are their owners'). */
void	 sl_bufpool_free(struct sl_bufpool *);
/* Give B its memory if it has none: 0, or -1 (ENOMEM). */
int	 sl_buf_take(struct sl_bufpool *, struct sl_buf *);
/* Give B's memory back if B is empty (len 0); keep it otherwise. */
void	 sl_buf_give(struct sl_bufpool *, struct sl_buf *);
/* Give B's memory back whatever it holds (the connection is ending). */
void	 sl_buf_drop(struct sl_bufpool *, struct sl_buf *);

#endif
