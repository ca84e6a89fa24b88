/*
 * domset: domain sets in the table image (one per distinct rule field,
 * geosite list or sniffing exclusion), the hottest lookup of a worker.
 *
 * Owns the DOMSETS records and their BLOB tables: how the compiler builds
 * a set from patterns, how sl_img_check validates it, and how a worker
 * asks "does this name match any pattern?" (Xray's MatchAny; spec
 * xray-routing.md section 2).  Semantics, for a lower-case NAME:
 *   FULL    name == pattern
 *   DOMAIN  name == pattern, or name ends with "." + pattern
 *   SUBSTR  name contains pattern (exact bytes; Xray's automaton treats
 *           all non-LDH bytes as one, this one does not)
 *   REGEX   the pattern matches somewhere in name (shm/regex.h)
 * FULL, DOMAIN and SUBSTR patterns are lower-cased (ASCII) when built;
 * regexes are kept as written.
 *
 * A set is tried cheapest first: hash table, then automaton, then the
 * regexes the first two could not rule out.
 *
 * Record (struct sl_img_domset; param[] names are DS_P_* in domset_int.h):
 *   blob_off, blob_len	the set's bytes in BLOB (8-aligned start)
 *   nentries		patterns given to sl_domset_build (for statistics)
 *   regex_first/count	its regexes, REGEXES [first, first + count)
 *   param[0]		bits 0-4: log2 of the filter's bits, 0 = no hash
 *			table; bit 16: an automaton; 17: every name
 *			matches (an empty SUBSTR); 18: the automaton has a
 *			prefilter; 19-20: its stride - 1
 *   param[1]		offset of the buckets (a cache line of BLOB)
 *   param[2]		home buckets: a key hashes to two of these
 *   param[3]		buckets (home buckets and spill)
 *   param[4]		offset of the long keys (up to the next part)
 *   param[5]		offset of the automaton
 *   param[6]		offset of the list words (uint32, to the blob end)
 *   param[7]		0
 *   Parts are in that order: buckets, filter, long keys, automaton, lists.
 *
 * Hash table: FULL and DOMAIN patterns, one key per distinct string.  A
 * bucket is one 64-byte cache line: byte 0 is the entry count (bits 0-3)
 * and "more" (bit 7: a key whose home this is lies in a later bucket);
 * then a tag byte per entry; then the entries: a header byte (flags in
 * bits 0-2: FULL 1, DOMAIN 2, REGEX 4; key length in bits 3-7, 31 = a
 * long key), the key bytes or the little-endian uint32 offset of the long
 * key (a uint16 length and the bytes), and with REGEX a uint32 list
 * position: regexes whose every match ends with "." + key.  A key lies in
 * its home bucket, its other bucket, or (rarely) a later bucket reached
 * through "more" bits from its home.  Behind the buckets, a bit filter
 * (8 or more bits per key, one set for each) lets most absent names skip
 * them.  The hash works
 * label by label from the right (domset_int.h), so one pass over a name
 * yields the hash of the name and of every suffix after a '.'.
 *
 * Automaton (Aho-Corasick, complete DFA): SUBSTR patterns plus, for
 * regexes, a literal every match contains.  A header (classes, rows,
 * first output row), the 512-byte prefilter (4-byte pieces), a 256-byte
 * class map, then rows of uint32 transitions: target row times the class
 * count, or UINT32_MAX when a SUBSTR pattern ends (the set matches).  Row
 * 0 is the start; rows from the first output row on make regexes
 * candidates.
 *
 * List words: word 0 is the position of the list of regexes that are
 * always tried; word 1 + (row - first output row) the list of an
 * automaton row.  A list at position p is a count then that many regex
 * numbers relative to regex_first.  No words when regex_count is 0.
 */
#ifndef SL_SHM_DOMSET_H
#define SL_SHM_DOMSET_H

#include <stddef.h>
#include <stdint.h>

#include "shm/image.h"

/* Pattern types, the same numbers as master/conf.h SL_DOM_*. */
#define SL_DPAT_SUBSTR	0
#define SL_DPAT_REGEX	1
#define SL_DPAT_DOMAIN	2
#define SL_DPAT_FULL	3

struct sl_rxtab;

struct sl_dom_pat {
	int		 type;		/* SL_DPAT_* */
	const char	*value;
	size_t		 len;
};

/* Build one set into the image; returns its DOMSETS index, or SL_IMG_NONE
 * with *err set.  Duplicates are fine.  Regexes are checked here too. */
uint32_t sl_domset_build(struct sl_img_builder *, const struct sl_dom_pat *,
	    size_t n, const char **err);
/* Validate every DOMSETS record and its BLOB tables (from sl_img_check). */
int	 sl_domset_check(const struct sl_img *, const char **err);
/* 1 if NAME (LEN bytes, lower-case) matches any pattern of SET.  RX may
 * be NULL only for a set without regexes. */
int	 sl_domset_match(const struct sl_img *, const struct sl_rxtab *rx,
	    uint32_t set, const char *name, size_t len);
/* Image bytes SET uses: record, blob, regex records and their strings. */
size_t	 sl_domset_bytes(const struct sl_img *, uint32_t set);

#endif
