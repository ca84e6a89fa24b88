/*
 * domset_ac: the Aho-Corasick automaton of a domain set, built for the
 * image (master side).  Private to domset_build.c; the layout it fills is
 * described in domset.h.
 */
#ifndef SL_SHM_DOMSET_AC_H
#define SL_SHM_DOMSET_AC_H

#include <stddef.h>
#include <stdint.h>

#include "shm/domset_int.h"

/* A string of the automaton: a SUBSTR pattern (RX is DS_AC_SUBSTR) or a
 * literal every match of regex RX contains. */
struct ds_acpat {
	const uint8_t	*s;
	uint32_t	 len;
	uint32_t	 rx;
};

#define DS_AC_SUBSTR	UINT32_MAX

struct ds_ac {
	uint8_t		 filter[DS_FILTER_LEN];
	uint32_t	 stride;	/* of the prefilter, 0 = none */
	uint8_t		 cls[256];
	uint32_t	 ncl, rows, out;
	uint32_t	*tr;		/* rows * ncl transitions */
	/* Regexes of output row OUT + i: rx[first[i]] .. rx[first[i + 1]]. */
	uint32_t	*first, *rx;
};

/* Build from N strings (N > 0).  COUNT[g]: how often ds_gram() value g
 * occurs in the set's keys, to pick rare prefilter pieces.  0, or -1 with
 * *ERR set; free with ds_ac_free either way. */
int	 ds_ac_build(struct ds_ac *, const struct ds_acpat *, size_t n,
	    const uint16_t *count, const char **err);
void	 ds_ac_free(struct ds_ac *);

#endif
