/*
 * ipset: sets of IP addresses in the table image.
 *
 * Owns the sorted, disjoint range arrays (one for IPv4, one for IPv6) that
 * represent a CIDR list, how the compiler writes them (merging overlaps)
 * and how workers match an address (binary search).  One set is stored
 * once however many rules use it.
 */
#ifndef SL_SHM_IPSET_H
#define SL_SHM_IPSET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "shm/image.h"

struct sl_cidr {
	int		family;		/* AF_INET or AF_INET6 */
	uint8_t		addr[16];	/* network byte order */
	int		prefix;
};

/* Xray's built-in private list ("geoip:private", freedom's default
 * final rule); NULL-terminated. */
extern const char *const sl_private_cidrs[];

/* sl_private_cidrs parsed into OUT; returns the count. */
size_t	 sl_private_list(struct sl_cidr *out, size_t cap);
/* Parse "a.b.c.d[/n]" or "x::y[/n]"; host bits are masked.  0 or -1. */
int	 sl_cidr_parse(const char *, struct sl_cidr *);
/* Append a set built from n CIDRs; returns its index in IPSETS. */
uint32_t sl_ipset_build(struct sl_img_builder *, const struct sl_cidr *,
	    size_t n);
/* 1 if the address (sockaddr_in/in6; v4-mapped v6 counts as v4) is in. */
int	 sl_ipset_match(const struct sl_img *, uint32_t set,
	    const struct sockaddr *);

#endif
