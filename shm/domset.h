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
 * Record (struct sl_img_domset):
 *   blob_off, blob_len	the set's bytes in BLOB (8-aligned start)
 *   nentries		patterns given to sl_domset_build (for statistics)
 *   regex_first/count	its regexes, REGEXES [first, first + count)
 *   param[0]		bits 0-7: log2 of hash slots; 8-15: tag bits of a
 *			slot; bit 16: there is an automaton; bit 17: every
 *			name matches (an empty SUBSTR pattern)
 *   param[1], [2]	key text: offset in the blob, length (0 = no hash
 *			table; the slots are at blob offset 0)
 *   param[3]		automaton offset: a 256-byte class map, then
 *			param[5] rows of param[4] uint32 transitions
 *   param[4]		classes (bytes that occur in a pattern, + 1)
 *   param[5]		rows (automaton states that can be reached)
 *   param[6]		first row whose state makes regexes candidates
 *   param[7]		offset of the list words (uint32, to blob end)
 *
 * Hash table: uint32 slots, linear probing, at least one empty slot.  A
 * slot is 0 (empty) or (tag << (32 - tag bits)) | (text offset + 1); the
 * tag is the top bits of the key's mixed hash, so most probes for absent
 * names never read the text.  A key record in the text is one byte
 * (flags in bits 0-2: FULL 1, DOMAIN 2, REGEX 4; length in bits 3-7, 31 =
 * a little-endian uint16 length follows), the key bytes and, with the
 * REGEX flag, a little-endian uint32 list position: regexes whose every
 * match ends with "." + key.  The hash runs over the key from its last
 * byte to its first, so a lookup gets the hash of every suffix of a name
 * in one pass and probes the name and each suffix after a '.'.
 *
 * Automaton (Aho-Corasick, complete DFA): SUBSTR patterns plus, for
 * regexes, a literal every match contains.  Transitions hold the target
 * row times the class count, or UINT32_MAX for a state that ends a SUBSTR
 * pattern (the set matches).  Row 0 is the start.
 *
 * List words: word 0 is the position of the list of regexes that are
 * always tried; word 1 + (row - param[6]) the list of an automaton row
 * from param[6] on.  A list at position p is a count then that many
 * regex numbers relative to regex_first.  No words when count is 0.
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
