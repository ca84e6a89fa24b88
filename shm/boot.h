/*
 * boot: what a worker inherits from the master when it is forked.
 *
 * The master includes this to start a worker or the observer; they
 * implement sl_worker_run() and sl_observer_run().  Everything a child
 * gets is in this one structure (file descriptors and the generation);
 * the configuration itself comes only from the table image.
 */
#ifndef SL_SHM_BOOT_H
#define SL_SHM_BOOT_H

#include <stddef.h>
#include <stdint.h>

struct sl_cnt_region;
struct sl_cnt_slot;
struct sl_tickets;

struct sl_boot_listener {
	int		 fd;		/* SO_REUSEPORT socket of this slot */
	uint32_t	 inbound;	/* index into the image's INBOUNDS */
};

struct sl_boot {
	int		 slot;		/* 0 .. workers-1 */
	int		 image_fd;	/* sealed memfd */
	uint64_t	 generation;
	int		 log_fd;	/* write end of the master's log pipe */
	const struct sl_boot_listener *listeners;
	size_t		 nlisteners;
	/* The generation's observation region (shm/observe.h), -1 = none:
	 * a read-only fd for workers, the read-write one for the observer. */
	int		 obs_fd;
	/* Worker: its end of the master's channel (shm/chan.h), and its
	 * slot of the counters region (shm/counters.h; NULL = none). */
	int		 chan_fd;
	struct sl_cnt_slot *cnt;
	/* The whole region, for what the master writes (users' admission)
	 * and users' connections over every slot; NULL = none. */
	struct sl_cnt_region *cntr;
	/* TLS ticket keys (shm/tickets.h): the master's mapping, inherited
	 * at the same address by every child, read-only in workers. */
	const struct sl_tickets *tickets;
};

/* Runs the worker's event loop; returns the process exit status.
 * Signals: QUIT = stop accepting and drain, TERM/INT = exit now.
 * Channel: READY once listening, then ACK/NACK for every SWAP. */
int	 sl_worker_run(const struct sl_boot *);
/* Runs the observer process (worker/observer.c): probes the outbounds of
 * the image's OBSERVERS records and writes the region; no listeners, slot
 * -1.  Returns the exit status.  Signals: QUIT/TERM/INT = exit now. */
int	 sl_observer_run(const struct sl_boot *);

#endif
