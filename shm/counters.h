/*
 * counters: the shared counters region (DESIGN.md §2).
 *
 * The master maps it once, before the first fork, so every worker of every
 * generation inherits the same mapping; it lives as long as the master.
 * Each worker process writes only its own slot (one writer, no locks, no
 * read-modify-write on shared cache lines); the master reads every slot
 * for `sluicectl status` and folds the slot of a worker that exits.
 * Per-inbound figures are indexed by the generation's inbound index, which
 * an in-place reload never changes (the listener layout is the same).
 */
#ifndef SL_SHM_COUNTERS_H
#define SL_SHM_COUNTERS_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdint.h>

#define SL_CNT_SLOTS	 256	/* worker processes alive at once */
#define SL_CNT_INBOUNDS	 64	/* inbounds counted per worker */

struct sl_cnt_inbound {
	_Atomic uint64_t	 accepted;
	_Atomic uint64_t	 active;
};

struct sl_cnt_slot {
	alignas(64) _Atomic uint64_t accepted;
	_Atomic uint64_t	 active;
	struct sl_cnt_inbound	 in[SL_CNT_INBOUNDS];
};

struct sl_cnt_region {
	struct sl_cnt_slot	 slot[SL_CNT_SLOTS];
};

/* Master: the region (zeroed), or NULL with errno. */
struct sl_cnt_region *sl_cnt_create(void);
void	 sl_cnt_destroy(struct sl_cnt_region *);
/* Master, before forking the slot's worker. */
void	 sl_cnt_reset(struct sl_cnt_slot *);

/* Worker: a connection accepted on / closed from INBOUND.  A NULL slot
 * (no room in the region) counts nothing. */
void	 sl_cnt_open(struct sl_cnt_slot *, uint32_t inbound);
void	 sl_cnt_close(struct sl_cnt_slot *, uint32_t inbound);

/* Master: a relaxed read of one counter. */
uint64_t sl_cnt_get(const _Atomic uint64_t *);

#endif
