/*
 * geoip_build: builds a geoip.dat (GeoIPList) from a directory of CIDR
 * lists: every "XX.txt" becomes code "XX" (upper-cased stem); one CIDR (or
 * bare address) a line, "#" starts a comment.  Each code's CIDRs are
 * normalised: host bits masked, overlaps and neighbours merged, written
 * back as the fewest CIDRs covering the same addresses, IPv4 first, in
 * address order.
 */
#ifndef SL_MASTER_GEOIP_BUILD_H
#define SL_MASTER_GEOIP_BUILD_H

#include <stddef.h>
#include <stdint.h>

/*
 * Pack the lists of DIR (codes sorted; an empty file gives an empty code)
 * into *OUT (malloc'ed, *OUTLEN bytes); NCODES, if not NULL, receives the
 * number of codes.  0, or -1 with a message ("FILE:LINE: what").
 */
int	 sl_geoip_build(const char *dir, uint8_t **out, size_t *outlen,
	    size_t *ncodes, char *err, size_t errlen);

#endif
