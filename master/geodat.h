/*
 * geodat: Xray's geosite.dat / geoip.dat files, read by the compiler.
 *
 * Owns the asset search (DESIGN.md section 1, spec xray-routing.md 3.2)
 * and a per-compile cache of opened files (struct sl_geodb): each file is
 * read once and its top-level list indexed once (code -> entry bytes, the
 * scan of spec 3.3); only the entries a configuration asks for are
 * unpacked, and the result of one (file, code, attributes) question is
 * kept for the life of the db.  Master only; workers never see .dat files.
 */
#ifndef SL_MASTER_GEODAT_H
#define SL_MASTER_GEODAT_H

#include <stddef.h>
#include <stdint.h>

#include "shm/ipset.h"

/* Whether FILE stays inside the asset directory, as Xray requires (Go's
 * filepath.IsLocal): not empty, not absolute, not ".", no ".." part. */
int	 sl_geo_name_ok(const char *file);

/*
 * Find FILE (a name sl_geo_name_ok accepts) in ASSET_DIR (sluice.assetDir,
 * may be NULL), $SLUICE_ASSET_DIR, $XRAY_LOCATION_ASSET,
 * /usr/local/share/sluice, /usr/share/sluice, /usr/local/share/xray,
 * /usr/share/xray; the first regular file wins.
 * 0 with the path in OUT, or -1 with a message in ERR.
 */
int	 sl_geo_asset_find(const char *asset_dir, const char *file, char *out,
	    size_t outlen, char *err, size_t errlen);

/* The whole regular file PATH in a malloc'd *BUF (with a spare byte after
 * *LEN); 0, or -1 with the reason in *WHY.  Read, not mapped (geodat.c). */
int	 sl_geo_file_read(const char *path, uint8_t **buf, size_t *len,
	    const char **why);

struct sl_geodb;

struct sl_geodb	*sl_geodb_new(const char *asset_dir);
void		 sl_geodb_free(struct sl_geodb *);

/* One geosite entry; type numbered as SL_DOM_* of master/conf.h. */
struct sl_geo_dom {
	int		 type;		/* SUBSTR 0, REGEX 1, DOMAIN 2, FULL 3 */
	const char	*value;		/* NUL-terminated; lower-cased but REGEX */
	size_t		 len;
};

/*
 * Entries of CODE (compared upper-cased) in FILE that carry every attribute
 * in ATTRS (lower-cased names; order and repeats do not matter).  Entries of
 * an unknown type are skipped, as Xray does.  Memory owned by the db.
 * 0, or -1 with a message naming file and code ("geosite.dat: no code FOO").
 */
int	 sl_geodb_site(struct sl_geodb *, const char *file, const char *code,
	    const char *const *attrs, size_t nattrs,
	    const struct sl_geo_dom **out, size_t *n, char *err, size_t errlen);

/*
 * CIDRs of CODE in FILE, host bits masked; addresses of a length other than
 * 4 or 16 bytes and out-of-range prefixes are skipped, as Xray does.
 * GeoIP.reverse_match is ignored (spec 1.9).  Same contract as above.
 */
int	 sl_geodb_ip(struct sl_geodb *, const char *file, const char *code,
	    const struct sl_cidr **out, size_t *n, char *err, size_t errlen);

#endif
