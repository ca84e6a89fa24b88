/*
 * counters: the shared counters region (DESIGN.md §2, §6).
 *
 * The master maps it once, before the first fork, so every worker of every
 * generation inherits the same mapping; it lives as long as the master.
 * Each worker process writes only its own slot (one writer, no locks, no
 * read-modify-write on shared cache lines); the master reads every slot,
 * folds the traffic into the state database, and folds the slot of a
 * worker that exits.
 *
 * Two index spaces:
 *  - per-inbound connection figures (in[]) use the generation's inbound
 *    index, which an in-place reload never changes (same listener layout);
 *  - traffic per user, inbound tag and outbound tag uses counter ids the
 *    master gives each email and tag for its whole life (the compiler
 *    writes them into the image), so a connection counts correctly under
 *    whichever generation it started, and the master names every id.
 *
 * The master alone writes the user table: each user's admission state
 * and connection limit.  Workers read it when a user authenticates and,
 * when the epoch moves, for the connections they hold.
 */
#ifndef SL_SHM_COUNTERS_H
#define SL_SHM_COUNTERS_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define SL_CNT_SLOTS	 256	/* worker processes alive at once */
#define SL_CNT_INBOUNDS	 64	/* inbounds counted per worker */
#define SL_CNT_TAGS	 1024	/* inbound / outbound tags, each */
#define SL_CNT_USERS	 65536	/* emails over the master's life */
#define SL_CNT_NONE	 UINT32_MAX	/* not counted */

/* Why a user may not connect (the high half of a user word). */
enum sl_cnt_ustate {
	SL_CNT_OK = 0, SL_CNT_DISABLED, SL_CNT_EXPIRED, SL_CNT_QUOTA,
	SL_CNT_REMOVED
};

struct sl_cnt_inbound {
	_Atomic uint64_t	 accepted;
	_Atomic uint64_t	 active;
};

/* Traffic of one user or tag: bytes up (client to target), down, and
 * proxied connections opened and open. */
struct sl_cnt_traffic {
	_Atomic uint64_t	 up, down, conns, active;
};

struct sl_cnt_slot {
	alignas(64) _Atomic uint64_t accepted;
	_Atomic uint64_t	 active;
	struct sl_cnt_inbound	 in[SL_CNT_INBOUNDS];
	struct sl_cnt_traffic	 tin[SL_CNT_TAGS];
	struct sl_cnt_traffic	 tout[SL_CNT_TAGS];
	struct sl_cnt_traffic	 user[SL_CNT_USERS];
};

struct sl_cnt_region {
	/* master-written */
	alignas(64) _Atomic uint64_t epoch;	/* moves when a user is refused */
	_Atomic uint32_t	 nslots;	/* slots a user's total reads */
	alignas(64) _Atomic uint64_t ustate[SL_CNT_USERS]; /* state << 32 | max_conn */
	struct sl_cnt_slot	 slot[SL_CNT_SLOTS];
};

/* What one connection is counted under: counter ids, SL_CNT_NONE = none. */
struct sl_cnt_ids {
	uint32_t		 user, tin, tout;
};

/* Master: the region (zeroed; pages are used only as ids are), or NULL
 * with errno. */
struct sl_cnt_region *sl_cnt_create(void);
void	 sl_cnt_destroy(struct sl_cnt_region *);
/* Master, before forking the slot's worker and after reaping it: zero
 * the connection figures and the first NUSERS users and NTAGS tags. */
void	 sl_cnt_reset(struct sl_cnt_slot *, uint32_t nusers, uint32_t ntags);
/* Master: user ID's state and connection limit (0 = none). */
void	 sl_cnt_user_set(struct sl_cnt_region *, uint32_t id,
	    enum sl_cnt_ustate, uint32_t max_conn);

/* Worker: a connection accepted on / closed from INBOUND.  A NULL slot
 * (no room in the region) counts nothing. */
void	 sl_cnt_open(struct sl_cnt_slot *, uint32_t inbound);
void	 sl_cnt_close(struct sl_cnt_slot *, uint32_t inbound);
/* Worker: a proxied connection starts / ends under IDS. */
void	 sl_cnt_proxy_open(struct sl_cnt_slot *, const struct sl_cnt_ids *);
void	 sl_cnt_proxy_close(struct sl_cnt_slot *, const struct sl_cnt_ids *);
/* Worker: bytes moved for a connection counted under IDS. */
void	 sl_cnt_bytes(struct sl_cnt_slot *, const struct sl_cnt_ids *,
	    uint64_t up, uint64_t down);
/* Worker: user ID's state and limit, and its open connections over
 * every slot. */
enum sl_cnt_ustate sl_cnt_user_state(const struct sl_cnt_region *,
	    uint32_t id, uint32_t *max_conn);
uint64_t sl_cnt_user_active(const struct sl_cnt_region *, uint32_t id);
const char *sl_cnt_ustate_text(enum sl_cnt_ustate);

/* A relaxed read of one counter. */
uint64_t sl_cnt_get(const _Atomic uint64_t *);

#endif
