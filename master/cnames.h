/*
 * cnames: the counter ids of emails and tags (shm/counters.h).
 *
 * Owns the master's table of names by kind (user email, inbound tag,
 * outbound tag).  An id is given on first sight and kept for the master's
 * whole life, so that counters written under any generation name the same
 * user or tag, and the master can name every id it folds.
 */
#ifndef SL_MASTER_CNAMES_H
#define SL_MASTER_CNAMES_H

#include <stdint.h>

enum sl_cn_kind { SL_CN_USER = 0, SL_CN_INBOUND = 1, SL_CN_OUTBOUND = 2,
	SL_CN_KINDS = 3 };

struct sl_cnames;

struct sl_cnames *sl_cnames_new(void);
void		 sl_cnames_free(struct sl_cnames *);
/* NAME's id (given now if new); SL_CNT_NONE for "", for NULL names, and
 * once the kind's ids are all given (SL_CNT_USERS, SL_CNT_TAGS). */
uint32_t	 sl_cnames_id(struct sl_cnames *, enum sl_cn_kind,
		    const char *name);
/* The id of a name already seen, or SL_CNT_NONE; gives nothing. */
uint32_t	 sl_cnames_find(const struct sl_cnames *, enum sl_cn_kind,
		    const char *name);
/* Ids given so far: 0 .. count-1. */
uint32_t	 sl_cnames_count(const struct sl_cnames *, enum sl_cn_kind);
const char	*sl_cnames_name(const struct sl_cnames *, enum sl_cn_kind,
		    uint32_t id);
/* 1 once a name was refused for want of ids (to warn once). */
int		 sl_cnames_full(const struct sl_cnames *, enum sl_cn_kind);

#endif
