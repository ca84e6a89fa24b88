/*
 * compile_int: state shared by the compiler's files (master/compile*.c).
 *
 * compile.c owns inbounds, outbounds, fallbacks and certificates;
 * compile_route.c owns rules, domain and IP sets, balancers, observers
 * and the per-inbound sniffing settings.  Sets are cached by a canonical
 * key so that a set used by several rules is stored once.
 */
#ifndef SL_MASTER_COMPILE_INT_H
#define SL_MASTER_COMPILE_INT_H

#include <stdint.h>

#include "master/compile.h"
#include "master/conf.h"
#include "shm/image.h"

struct sl_geodb;

struct cc_set {
	char		*key;
	uint32_t	 idx;
};

struct cc_cache {
	struct cc_set	*v;
	size_t		 n, cap;
};

struct cc {
	const struct sl_conf	*cf;
	const struct sl_compile_extra *x;	/* never NULL */
	struct sl_img_builder	 b;
	struct sl_errors	*errs;
	uint32_t		 private_set;
	struct sl_geodb		*geo;		/* opened at first use */
	struct cc_cache		 domsets, ipsets;
};

/* compile_route.c */
int	 cc_routing(struct cc *);
int	 cc_sniffing(struct cc *, const struct sl_conf_inbound *,
	    struct sl_img_inbound *);
void	 cc_free(struct cc *);
/* compile.c: resolve "host:port" into ADDRS records (count in *n). */
int	 cc_tcp_addrs(struct cc *, const struct sl_where *, const char *dest,
	    int family, uint32_t *first, uint32_t *n);

#endif
