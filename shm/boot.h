/*
 * boot: what a worker inherits from the master when it is forked.
 *
 * The master includes this to start a worker; the worker implements
 * sl_worker_run().  Everything a worker gets is in this one structure
 * (file descriptors and the generation); the configuration itself comes
 * only from the table image.
 */
#ifndef SL_SHM_BOOT_H
#define SL_SHM_BOOT_H

#include <stddef.h>
#include <stdint.h>

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
};

/* Runs the worker's event loop; returns the process exit status.
 * Signals: QUIT = stop accepting and drain, TERM/INT = exit now. */
int	 sl_worker_run(const struct sl_boot *);

#endif
