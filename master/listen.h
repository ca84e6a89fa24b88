/*
 * listen: the master's listening sockets.
 *
 * Owns one SO_REUSEPORT socket per worker slot per inbound address.  The
 * master keeps every one of them open for its whole life, so a worker that
 * dies or is replaced never takes queued connections with it; a reload
 * keeps a socket whose address and slot are still configured.
 */
#ifndef SL_MASTER_LISTEN_H
#define SL_MASTER_LISTEN_H

#include <stddef.h>

#include "master/conf.h"
#include "shm/boot.h"

struct sl_listen_sock {
	char		 key[80];	/* "listen|port" */
	int		 slot;
	int		 fd;
	int		 used;		/* wanted by the current generation */
};

struct sl_listen_set {
	struct sl_listen_sock	*socks;
	size_t			 n, cap;
};

/* Make sure every (inbound address, slot) has a socket; reuse existing
 * ones.  Fills per-slot boot listener arrays (slots * ninbounds entries,
 * slot-major).  0, or -1 with errors appended (new sockets are closed). */
int	 sl_listen_update(struct sl_listen_set *, const struct sl_conf *,
	    int slots, struct sl_boot_listener *out, struct sl_errors *);
/* Close sockets the current generation does not use; how many. */
size_t	 sl_listen_prune(struct sl_listen_set *);
/* net.ipv4.tcp_migrate_req is on in this network namespace: closing one
 * socket of a port moves its queued connections to the others. */
int	 sl_listen_migrates(void);
void	 sl_listen_close_all(struct sl_listen_set *);

#endif
