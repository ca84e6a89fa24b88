/*
 * dlc: builds a geosite.dat (GeoSiteList) from a domain-list-community
 * data/ directory, following that project's build rules (spec
 * xray-routing.md 9.2): one list per file named by the upper-cased file
 * name, rule types, attributes, "&list" affiliations, includes with
 * "@attr"/"@-attr" filters, deduplication, polishing, sorting.
 */
#ifndef SL_MASTER_DLC_H
#define SL_MASTER_DLC_H

#include <stddef.h>
#include <stdint.h>

/*
 * Read every list under DIR and pack the result (lists without entries
 * left out, lists sorted by code) into *OUT (malloc'ed, *OUTLEN bytes).
 * NCODES, if not NULL, receives the number of lists written.  0, or -1 with
 * a message: "FILE:LINE: what" for a bad line or include.
 */
int	 sl_dlc_build(const char *dir, uint8_t **out, size_t *outlen,
	    size_t *ncodes, char *err, size_t errlen);

#endif
