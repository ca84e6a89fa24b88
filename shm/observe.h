/*
 * observe: the shared health region of one configuration generation.
 *
 * Owns the layout of the region in which the observer process publishes
 * what it learns about outbounds (Xray's observation: alive, delay and,
 * for burstObservatory, the ping statistics) and the seqlock that lets
 * workers read a consistent record without locks.  One memfd per
 * generation, created by the master; the observer maps it read-write (the
 * only writer), workers read-only through a descriptor opened O_RDONLY,
 * so a worker cannot write it even by mistake.
 *
 * Layout: [struct sl_obs_hdr][slot (obs 0, out 0)][slot (0, 1)]...: one
 * slot per (OBSERVERS record, OUTBOUNDS index).  A slot is a sequence
 * number and the status as 64-bit words, all C11 atomics, so readers and
 * the writer never race in the C sense; a reader retries while the
 * sequence is odd or changed under it.
 */
#ifndef SL_SHM_OBSERVE_H
#define SL_SHM_OBSERVE_H

#include <stddef.h>
#include <stdint.h>

#define SL_OBS_MAGIC		UINT64_C(0x53424f4543495553)	/* "SUICEOBS" */
#define SL_OBS_VERSION		1
/* Xray's delay of a dead outbound (app/observatory/observer.go). */
#define SL_OBS_DELAY_FAILED	INT64_C(99999999)

/* One outbound as one observer sees it (a reader's private copy). */
struct sl_obs_status {
	uint8_t		 known;		/* 0: absent from the observation */
	uint8_t		 alive;
	uint8_t		 health;	/* 1: burst statistics below are set */
	uint32_t	 all, fail;	/* burst: valid samples, failed ones */
	int64_t		 delay_ms;	/* plain: last probe; burst: avg */
	uint64_t	 avg_us, dev_us, min_us, max_us;	/* burst */
	int64_t		 last_seen;	/* unix seconds of the last success */
	int64_t		 last_try;	/* unix seconds of the last probe */
};

struct sl_obs_region {
	uint8_t		*base;		/* NULL = not mapped */
	size_t		 size;
	uint32_t	 nobs, nout;
	uint64_t	 generation;
	int		 writable;
};

/*
 * Master: a new region for nobs observers x nout outbounds, every slot
 * unknown.  Returns the read-write fd (for the observer) and sets *ro_fd
 * to a read-only one (for workers); -1 with *err on failure.
 */
int	 sl_obs_create(uint32_t nobs, uint32_t nout, uint64_t generation,
	    int *ro_fd, const char **err);
/* Map and check a region; writable only through a read-write fd.  The
 * writer's mapping repairs slots a killed predecessor left half-written. */
int	 sl_obs_map(int fd, int writable, struct sl_obs_region *,
	    const char **err);
void	 sl_obs_unmap(struct sl_obs_region *);
/* Master, after reaping the observer: repair what it left half-written. */
int	 sl_obs_repair(int fd);

/* Observer: publish the status of outbound out as observer obs sees it. */
void	 sl_obs_write(struct sl_obs_region *, uint32_t obs, uint32_t out,
	    const struct sl_obs_status *);
/*
 * A consistent copy of one status.  Out of range, never written, or a
 * writer that died in the middle of a write and was not repaired within
 * 200 ms: known = 0.
 */
void	 sl_obs_read(const struct sl_obs_region *, uint32_t obs, uint32_t out,
	    struct sl_obs_status *);

#endif
