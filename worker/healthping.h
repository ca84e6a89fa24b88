/*
 * healthping: burstObservatory's per-outbound sample ring and statistics
 * (Xray's app/observatory/burst/healthping_result.go).
 *
 * Owns the ring of the last `sampling` ping results of one outbound, each
 * valid for a fixed time (2 x the sampling period), and the statistics
 * over the valid ones: all, fail, average, min, max and the population
 * standard deviation (half the average when only one ping succeeded, so a
 * node tested once does not beat nodes tested more).  Pure: the caller
 * passes the clock.  Times in microseconds, clock in milliseconds.
 */
#ifndef SL_WORKER_HEALTHPING_H
#define SL_WORKER_HEALTHPING_H

#include <stdint.h>

#define SL_HP_FAILED	UINT64_MAX	/* the rtt of a failed ping */

struct sl_hp_sample {
	uint64_t	 at_ms;		/* when it was put */
	uint64_t	 rtt_us;	/* 0 = slot never used */
};

struct sl_hp_ring {
	struct sl_hp_sample *s;
	uint32_t	 cap, next;
	uint64_t	 validity_ms;
};

struct sl_hp_stats {
	uint32_t	 all, fail;
	uint64_t	 avg_us, dev_us, min_us, max_us;
};

/* 0, or -1 when out of memory. */
int	 sl_hp_init(struct sl_hp_ring *, uint32_t cap, uint64_t validity_ms);
void	 sl_hp_free(struct sl_hp_ring *);
/* Record one result (rtt > 0, or SL_HP_FAILED), replacing the oldest. */
void	 sl_hp_put(struct sl_hp_ring *, uint64_t now_ms, uint64_t rtt_us);
void	 sl_hp_stats(const struct sl_hp_ring *, uint64_t now_ms,
	    struct sl_hp_stats *);

#endif
