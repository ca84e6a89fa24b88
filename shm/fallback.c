/*
 * fallback: the fallback table of a VLESS or Trojan inbound (spec 1.2, 1.4).
 *
 * Xray keeps fallbacks[name][alpn][path] -> entry in Go maps.  Here the
 * master builds the same table in plain arrays (names, (name, alpn) maps,
 * (map, path) cells), runs Xray's three hole-filling passes, and writes it
 * to the image as FB_NAMES -> FB_ALPNS -> FB_PATHS.  Workers select with
 * linear scans: a table has a handful of entries.
 */
#include <stdlib.h>
#include <string.h>

#include "shm/fallback.h"

#define NONE		SIZE_MAX
#define SNIFF_LIMIT	64	/* Xray: bytes of the first packet searched */

/* ---- building (master) ---- */

struct fb_map {
	size_t		 name;		/* index into names */
	const char	*alpn;
};

struct fb_cell {
	size_t		 map;		/* index into maps */
	const char	*path;
	uint32_t	 dest;
};

struct fb_tab {
	const char	**names;
	struct fb_map	 *maps;
	struct fb_cell	 *cells;
	size_t		  nnames, nmaps, ncells;
	size_t		  cnames, cmaps, ccells;
};

static const char *
nz(const char *s)
{
	return s != NULL ? s : "";
}

/* Room for element n of an array of cap elements; NULL on ENOMEM (the
 * old array is still owned by the caller). */
static void *
grow(void *arr, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return arr;
	ncap = *cap ? *cap * 2 : 8;
	if (ncap > SIZE_MAX / size || (p = realloc(arr, ncap * size)) == NULL)
		return NULL;
	*cap = ncap;
	return p;
}

/* Index of a name; absent: NONE, or added when create (NONE: ENOMEM). */
static size_t
tab_name(struct fb_tab *t, const char *name, int create)
{
	const char **p;

	for (size_t i = 0; i < t->nnames; i++)
		if (strcmp(t->names[i], name) == 0)
			return i;
	if (!create)
		return NONE;
	if ((p = grow(t->names, &t->cnames, t->nnames, sizeof(*p))) == NULL)
		return NONE;
	t->names = p;
	t->names[t->nnames] = name;
	return t->nnames++;
}

static size_t
tab_map(struct fb_tab *t, size_t name, const char *alpn, int create)
{
	struct fb_map *p;

	for (size_t i = 0; i < t->nmaps; i++)
		if (t->maps[i].name == name && strcmp(t->maps[i].alpn, alpn) == 0)
			return i;
	if (!create)
		return NONE;
	if ((p = grow(t->maps, &t->cmaps, t->nmaps, sizeof(*p))) == NULL)
		return NONE;
	t->maps = p;
	t->maps[t->nmaps].name = name;
	t->maps[t->nmaps].alpn = alpn;
	return t->nmaps++;
}

/* Set cell (map, path): always when overwrite, else only if missing. */
static int
tab_put(struct fb_tab *t, size_t map, const char *path, uint32_t dest,
    int overwrite)
{
	struct fb_cell *p;

	for (size_t i = 0; i < t->ncells; i++) {
		if (t->cells[i].map == map && strcmp(t->cells[i].path, path) == 0) {
			if (overwrite)
				t->cells[i].dest = dest;
			return 0;
		}
	}
	if ((p = grow(t->cells, &t->ccells, t->ncells, sizeof(*p))) == NULL)
		return -1;
	t->cells = p;
	t->cells[t->ncells].map = map;
	t->cells[t->ncells].path = path;
	t->cells[t->ncells].dest = dest;
	t->ncells++;
	return 0;
}

/* Pass A: every named server gets (empty) maps for the default name's
 * alpns, so that pass C has somewhere to copy to. */
static int
pass_a(struct fb_tab *t, size_t def)
{
	size_t nmaps = t->nmaps;

	for (size_t n = 0; n < t->nnames; n++) {
		if (n == def)
			continue;
		for (size_t m = 0; m < nmaps; m++)
			if (t->maps[m].name == def &&
			    tab_map(t, n, t->maps[m].alpn, 1) == NONE)
				return -1;
	}
	return 0;
}

/* Pass B: inside one name, each specific alpn inherits the paths of the
 * alpn-"" map.  Cells added here belong to other maps than the one read. */
static int
pass_b(struct fb_tab *t)
{
	for (size_t n = 0; n < t->nnames; n++) {
		size_t any = tab_map(t, n, "", 0);

		if (any == NONE)
			continue;
		for (size_t m = 0; m < t->nmaps; m++) {
			if (t->maps[m].name != n || m == any)
				continue;
			for (size_t c = 0; c < t->ncells; c++)
				if (t->cells[c].map == any &&
				    tab_put(t, m, t->cells[c].path,
				    t->cells[c].dest, 0) == -1)
					return -1;
		}
	}
	return 0;
}

/* Pass C: each named server inherits the default name's (alpn, path)
 * cells it does not have.  Runs after B: see spec 1.2 consequences. */
static int
pass_c(struct fb_tab *t, size_t def)
{
	size_t nmaps = t->nmaps;

	for (size_t n = 0; n < t->nnames; n++) {
		if (n == def)
			continue;
		for (size_t m = 0; m < nmaps; m++) {
			size_t to;

			if (t->maps[m].name != def)
				continue;
			/* Pass A made it. */
			if ((to = tab_map(t, n, t->maps[m].alpn, 0)) == NONE)
				return -1;
			for (size_t c = 0; c < t->ncells; c++)
				if (t->cells[c].map == m &&
				    tab_put(t, to, t->cells[c].path,
				    t->cells[c].dest, 0) == -1)
					return -1;
		}
	}
	return 0;
}

/* Names, then each name's alpns, then each alpn's paths, contiguous. */
static void
tab_emit(struct sl_img_builder *b, const struct fb_tab *t)
{
	for (size_t n = 0; n < t->nnames; n++) {
		struct sl_img_fb_name nr;

		memset(&nr, 0, sizeof(nr));
		nr.name = sl_imgb_cstr(b, t->names[n]);
		nr.alpns_first = sl_imgb_count(b, SL_SECT_FB_ALPNS,
		    sizeof(struct sl_img_fb_alpn));
		for (size_t m = 0; m < t->nmaps; m++) {
			struct sl_img_fb_alpn ar;

			if (t->maps[m].name != n)
				continue;
			memset(&ar, 0, sizeof(ar));
			ar.alpn = sl_imgb_cstr(b, t->maps[m].alpn);
			ar.paths_first = sl_imgb_count(b, SL_SECT_FB_PATHS,
			    sizeof(struct sl_img_fb_path));
			for (size_t c = 0; c < t->ncells; c++) {
				struct sl_img_fb_path pr;

				if (t->cells[c].map != m)
					continue;
				memset(&pr, 0, sizeof(pr));
				pr.path = sl_imgb_cstr(b, t->cells[c].path);
				pr.dest = t->cells[c].dest;
				sl_imgb_add(b, SL_SECT_FB_PATHS, &pr, sizeof(pr));
				ar.paths_count++;
			}
			sl_imgb_add(b, SL_SECT_FB_ALPNS, &ar, sizeof(ar));
			nr.alpns_count++;
		}
		sl_imgb_add(b, SL_SECT_FB_NAMES, &nr, sizeof(nr));
	}
}

static int
tab_fill(struct fb_tab *t, const struct sl_fb_entry *e, size_t n)
{
	size_t name, map, def;

	for (size_t i = 0; i < n; i++) {
		if ((name = tab_name(t, nz(e[i].name), 1)) == NONE ||
		    (map = tab_map(t, name, nz(e[i].alpn), 1)) == NONE ||
		    tab_put(t, map, nz(e[i].path), e[i].dest, 1) == -1)
			return -1;
	}
	/* Every pass only fills holes, so the order inside one does not
	 * matter; the order of the passes does. */
	def = tab_name(t, "", 0);
	if (def != NONE && pass_a(t, def) == -1)
		return -1;
	if (pass_b(t) == -1)
		return -1;
	if (def != NONE && pass_c(t, def) == -1)
		return -1;
	return 0;
}

int
sl_fb_build(struct sl_img_builder *b, const struct sl_fb_entry *e, size_t n,
    uint32_t *first, uint32_t *count)
{
	struct fb_tab t;
	int rc = -1;

	memset(&t, 0, sizeof(t));
	if (tab_fill(&t, e, n) == 0) {
		*first = sl_imgb_count(b, SL_SECT_FB_NAMES,
		    sizeof(struct sl_img_fb_name));
		*count = (uint32_t)t.nnames;
		tab_emit(b, &t);
		rc = b->failed ? -1 : 0;
	}
	free(t.names);
	free(t.maps);
	free(t.cells);
	return rc;
}

/* ---- selecting (workers) ---- */

int
sl_fb_sniff_path(const uint8_t *first, size_t len, const uint8_t **path,
    size_t *plen)
{
	size_t i, j, limit;

	/* "PRI * HTTP/2.0": h2 and h2c never get path routing. */
	if (len < 18 || first[4] == '*')
		return 0;
	/* The method (3 to 7 bytes) is not checked. */
	for (i = 4; i <= 8; i++)
		if (first[i] == '/' && first[i - 1] == ' ')
			break;
	if (i > 8)
		return 0;
	limit = len < SNIFF_LIMIT ? len : SNIFF_LIMIT;
	for (j = i + 1; j < limit; j++) {
		if (first[j] == '\r' || first[j] == '\n')
			return 0;
		if (first[j] == '?' || first[j] == ' ') {
			*path = first + i;
			*plen = j - i;
			return 1;
		}
	}
	return 0;
}

static uint8_t
lc(char c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c - 'A' + 'a') : (uint8_t)c;
}

/* key (lower-case already, from the config) == lower(s)?  The client's
 * value is lowered as it is compared: no copy. */
static int
eq_lower(const struct sl_img *img, struct sl_str key, const char *s,
    size_t slen)
{
	const char *k = sl_img_str(img, key);

	if (key.len != slen)
		return 0;
	for (size_t i = 0; i < slen; i++)
		if ((uint8_t)k[i] != lc(s[i]))
			return 0;
	return 1;
}

/* strings.Contains(lower(s), key). */
static int
contains_lower(const struct sl_img *img, struct sl_str key, const char *s,
    size_t slen)
{
	const char *k = sl_img_str(img, key);

	for (size_t i = 0; key.len <= slen && i <= slen - key.len; i++) {
		size_t j = 0;

		while (j < key.len && (uint8_t)k[j] == lc(s[i + j]))
			j++;
		if (j == key.len)
			return 1;
	}
	return 0;
}

static const struct sl_img_fb_name *
name_find(const struct sl_img *img, const struct sl_img_fb_name *names,
    uint32_t count, const char *s, size_t slen)
{
	for (uint32_t i = 0; i < count; i++)
		if (eq_lower(img, names[i].name, s, slen))
			return &names[i];
	return NULL;
}

/* The longest non-empty name inside the SNI; the first one on a tie. */
static const struct sl_img_fb_name *
name_longest(const struct sl_img *img, const struct sl_img_fb_name *names,
    uint32_t count, const char *sni, size_t slen)
{
	const struct sl_img_fb_name *best = NULL;

	for (uint32_t i = 0; i < count; i++) {
		if (names[i].name.len == 0 ||
		    (best != NULL && names[i].name.len <= best->name.len))
			continue;
		if (contains_lower(img, names[i].name, sni, slen))
			best = &names[i];
	}
	return best;
}

static const struct sl_img_fb_name *
select_name(const struct sl_img *img, uint32_t first, uint32_t count,
    const char *sni)
{
	const struct sl_img_fb_name *names, *nm;
	size_t slen = strlen(sni);

	names = SL_IMG_REC(img, SL_SECT_FB_NAMES, struct sl_img_fb_name,
	    first);
	nm = name_find(img, names, count, sni, slen);
	if (nm == NULL && slen > 0 &&
	    (count > 1 || name_find(img, names, count, "", 0) == NULL))
		nm = name_longest(img, names, count, sni, slen);
	if (nm == NULL)
		nm = name_find(img, names, count, "", 0);
	return nm;
}

static const struct sl_img_fb_alpn *
alpn_find(const struct sl_img *img, const struct sl_img_fb_name *nm,
    const char *s, size_t slen)
{
	const struct sl_img_fb_alpn *a = SL_IMG_REC(img, SL_SECT_FB_ALPNS,
	    struct sl_img_fb_alpn, nm->alpns_first);

	for (uint32_t i = 0; i < nm->alpns_count; i++)
		if (eq_lower(img, a[i].alpn, s, slen))
			return &a[i];
	return NULL;
}

static const struct sl_img_fb_path *
path_find(const struct sl_img *img, const struct sl_img_fb_alpn *al,
    const uint8_t *s, size_t slen)
{
	const struct sl_img_fb_path *p = SL_IMG_REC(img, SL_SECT_FB_PATHS,
	    struct sl_img_fb_path, al->paths_first);

	/* Paths are raw bytes compared exactly: no case folding. */
	for (uint32_t i = 0; i < al->paths_count; i++)
		if (p[i].path.len == slen &&
		    memcmp(sl_img_str(img, p[i].path), s, slen) == 0)
			return &p[i];
	return NULL;
}

static const struct sl_img_fb_path *
select_path(const struct sl_img *img, const struct sl_img_fb_alpn *al,
    const uint8_t *first, size_t len)
{
	const struct sl_img_fb_path *def, *p = NULL;
	const uint8_t *cand;
	size_t clen;

	def = path_find(img, al, (const uint8_t *)"", 0);
	if ((al->paths_count > 1 || def == NULL) &&
	    sl_fb_sniff_path(first, len, &cand, &clen))
		p = path_find(img, al, cand, clen);
	return p != NULL ? p : def;
}

int
sl_fb_select(const struct sl_img *img, uint32_t names_first,
    uint32_t names_count, const char *sni, const char *alpn,
    const uint8_t *first, size_t len, struct sl_fb_choice *ch,
    const char **why)
{
	const struct sl_img_fb_name *nm;
	const struct sl_img_fb_alpn *al;
	const struct sl_img_fb_path *p;

	alpn = alpn != NULL ? alpn : "";
	if ((nm = select_name(img, names_first, names_count,
	    sni != NULL ? sni : "")) == NULL) {
		*why = "failed to find the default \"name\" config";
		return -1;
	}
	if ((al = alpn_find(img, nm, alpn, strlen(alpn))) == NULL &&
	    (al = alpn_find(img, nm, "", 0)) == NULL) {
		*why = "failed to find the default \"alpn\" config";
		return -1;
	}
	if ((p = select_path(img, al, first, len)) == NULL) {
		*why = "failed to find the default \"path\" config";
		return -1;
	}
	ch->dest = p->dest;
	ch->name = sl_img_str(img, nm->name);
	ch->alpn = sl_img_str(img, al->alpn);
	ch->path = (const uint8_t *)sl_img_str(img, p->path);
	ch->path_len = p->path.len;
	return 0;
}
