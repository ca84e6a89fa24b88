/*
 * compile: turn a checked configuration model into a table image.
 *
 * Owns every decision made once per generation rather than per
 * connection: reading certificate files, resolving fallback destinations,
 * sorting user tables, filling the fallback table, merging IP sets.
 */
#ifndef SL_MASTER_COMPILE_H
#define SL_MASTER_COMPILE_H

#include <stddef.h>
#include <stdint.h>

#include "master/conf.h"

struct sl_cnames;

/* A user from the state database, checked and ready to compile
 * (master/users.c). */
struct sl_cuser {
	const char	*email;
	uint8_t		 uuid[16];
	char		 trojan_key[57];
	const char	*flow;		/* "" = none */
	int		 level;
	char *const	*inbounds;	/* tags; none = every inbound */
	size_t		 ninbounds;
};

/* What the master adds to a configuration; NULL or 0: nothing. */
struct sl_compile_extra {
	struct sl_cnames	*names;		/* counter ids (master/cnames.h) */
	const struct sl_cuser	*users;		/* join the config's clients */
	size_t			 nusers;
};

/* 0 and a malloc'ed image in *out, or -1 with errors appended. */
int	 sl_compile(const struct sl_conf *, const struct sl_compile_extra *,
	    uint64_t generation, uint8_t **out, size_t *outlen,
	    struct sl_errors *);

/* Load, check and compile FILE; print every error to stderr.  Used by
 * `sluiced -t` and `sluicectl check`.  Returns 0 if the config is good. */
int	 sl_compile_check_file(const char *file);

#endif
