/*
 * balancer: pick an outbound for a routing balancer (spec 6.1).
 *
 * Owns the four strategies of Xray's app/router (random, roundRobin,
 * leastPing, leastLoad) over the image's BALANCERS records and the
 * observation the observer process publishes (shm/observe.h), and the
 * per-worker state they need: the roundRobin indices, a random generator,
 * and the leastLoad cost weights of every candidate, computed once from
 * the image (substring, or regex through the process's sl_rxtab; "first
 * number in the matched text").
 *
 * Balancers read the observation of OBSERVERS record 0: when both
 * observatory and burstObservatory are configured Xray's router gets the
 * feature registered first, the observatory, and the compiler writes that
 * record first.  A candidate absent from the observation (never probed in
 * this generation) counts as alive for random and roundRobin, as in Xray.
 * roundRobin's index is per worker (Xray has one per process).
 */
#ifndef SL_SHM_BALANCER_H
#define SL_SHM_BALANCER_H

#include <stddef.h>
#include <stdint.h>

#include "shm/image.h"
#include "shm/observe.h"

struct sl_balancer_rt;
struct sl_rxtab;

struct sl_balancer_state {
	struct sl_balancer_rt	*b;	/* per BALANCERS record */
	uint32_t		 nb;
	uint32_t		*scratch;	/* fits any candidate list */
	void			*nodes;		/* leastLoad work space */
	uint64_t		 rng[4];	/* xoshiro256** */
};

/* Check the image's balancer records and compute the leastLoad weights
 * (regex costs through RX, the image's sl_rxtab); 0, or -1 with *err. */
int	 sl_balancer_state_init(struct sl_balancer_state *,
	    const struct sl_img *, const struct sl_rxtab *rx,
	    const char **err);
void	 sl_balancer_state_free(struct sl_balancer_state *);
/* Make the random choices repeatable (tests); init seeds from the kernel. */
void	 sl_balancer_state_seed(struct sl_balancer_state *, uint64_t seed);

/*
 * The OUTBOUNDS index balancer picks now.  When the strategy yields
 * nothing: the fallbackTag's outbound, or SL_IMG_NONE without one (the
 * caller then uses the default outbound, spec 1.5).  obs may be NULL (no
 * observatory): leastPing and leastLoad then yield nothing and random and
 * roundRobin count every candidate alive.
 */
uint32_t sl_balancer_pick(const struct sl_img *, uint32_t balancer,
	    const struct sl_obs_region *obs, struct sl_balancer_state *);

/*
 * leastLoad steps 1-4: the nodes among which step 5 picks, best first
 * (OUTBOUNDS indices, at most cap).  Returns how many; 0 = none qualified.
 */
size_t	 sl_balancer_leastload(const struct sl_img *, uint32_t balancer,
	    const struct sl_obs_region *obs, struct sl_balancer_state *,
	    uint32_t *out, size_t cap);

/* The leastLoad cost weight of an outbound tag under balancer's costs. */
double	 sl_balancer_weight(const struct sl_img *, const struct sl_rxtab *rx,
	    uint32_t balancer, const char *tag);

#endif
