/*
 * wgen: one generation of the configuration as a worker holds it.
 *
 * Owns the mapped table image and everything a worker derives from it:
 * compiled regexes, TLS contexts, balancer state and the mapped
 * observation region.  A connection keeps the generation it was accepted
 * under (a reference), so an in-place reload never changes the rules,
 * users or fallbacks under a connection that is already being served;
 * the old generation is freed when its last connection closes.
 */
#ifndef SL_WORKER_WGEN_H
#define SL_WORKER_WGEN_H

#include <stdint.h>

#include "shm/balancer.h"
#include "shm/image.h"
#include "shm/observe.h"

struct sl_rxtab;
struct sl_tickets;
struct sl_tls_ctx;

struct sl_wgen {
	uint64_t		 id;
	struct sl_img		 img;
	struct sl_rxtab		*rx;		/* the image's regexes */
	struct sl_tls_ctx	**tls;		/* per inbound, NULL = plain */
	struct sl_obs_region	 obs_map;
	const struct sl_obs_region *obs;	/* outbound health or NULL */
	struct sl_balancer_state bal;		/* for sl_balancer_pick */
	uint32_t		 refs;		/* connections, +1 if current */
};

/*
 * Map the sealed image IMAGE_FD and build what depends on it; OBS_FD is
 * the generation's observation region or -1, TICKETS the master's TLS
 * ticket keys or NULL.  The fds stay the caller's.  Returns a generation
 * with one reference, or NULL with *err set.
 */
struct sl_wgen	*sl_wgen_new(uint64_t id, int image_fd, int obs_fd,
		    const struct sl_tickets *tickets, const char **err);
void		 sl_wgen_hold(struct sl_wgen *);
/* Drop a reference; the last one frees the generation. */
void		 sl_wgen_drop(struct sl_wgen *);

#endif
