/*
 * fallback: the fallback table of a VLESS or Trojan inbound (spec 1.2, 1.4).
 *
 * Owns both ends of the table: the master builds it into the table image
 * (Xray's insert-then-fill passes A, B, C) and the workers select an entry
 * from the image (name, then alpn, then path, with Xray's path sniffer).
 * Selection reads only the image and the client's first bytes: no
 * allocation, no I/O.
 */
#ifndef SL_SHM_FALLBACK_H
#define SL_SHM_FALLBACK_H

#include <stddef.h>
#include <stdint.h>

#include "shm/image.h"

/* name/alpn already lower-case; NULL = "" */
struct sl_fb_entry {
	const char	*name, *alpn, *path;
	uint32_t	 dest;		/* index into DESTS */
};

/*
 * Insert entries in order (later (name,alpn,path) duplicates overwrite
 * earlier), run Xray's passes A, B, C (spec 1.2) and append the resulting
 * table to the builder's FB_NAMES/FB_ALPNS/FB_PATHS sections.  Names keep
 * the order of their first appearance, which decides ties in the
 * longest-substring SNI match (Xray's map order is random there).
 * *first, *count: the range of FB_NAMES records of this table.
 * 0 or -1 (ENOMEM).
 */
int	 sl_fb_build(struct sl_img_builder *, const struct sl_fb_entry *,
	    size_t n, uint32_t *first, uint32_t *count);

/*
 * Xray's path sniffer (spec 1.4 path detection): writes the candidate path
 * (pointer into first, length) and returns 1 if found, 0 if none.
 * Requires len >= 18 and first[4] != '*'; i in 4..8 with ' ' '/'; scan to
 * min(len,64).
 */
int	 sl_fb_sniff_path(const uint8_t *first, size_t len,
	    const uint8_t **path, size_t *plen);

struct sl_fb_choice {
	uint32_t	 dest;		/* index into DESTS */
	const char	*name, *alpn;	/* the keys actually used (point into image strings; "" possible) */
	const uint8_t	*path;		/* the path key used (image string) */
	size_t		 path_len;
};

/*
 * Select per spec 1.4: sni and alpn are lower-cased here (ASCII; caller
 * passes them raw, NULL = ""), longest-substring name match under the
 * "more than one name or no default name" condition, exact alpn else "",
 * path sniff only if the path map has >1 entry or no "" entry.
 * Returns 0, or -1 with *why = "failed to find the default \"name\" config"
 * / "...\"alpn\"..." / "...\"path\"...".
 */
int	 sl_fb_select(const struct sl_img *, uint32_t names_first,
	    uint32_t names_count, const char *sni, const char *alpn,
	    const uint8_t *first, size_t len, struct sl_fb_choice *,
	    const char **why);

#endif
