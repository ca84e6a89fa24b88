/*
 * regex: the regular expressions of a table image (REGEXES section).
 *
 * Owns how a pattern string is stored (sl_rx_add), checked for the config
 * (sl_rx_valid), compiled once per process (sl_rxtab_new, PCRE2 with JIT
 * when available) and matched (sl_rx_match, sl_rx_find), plus the
 * literal analysis the domain-set prefilter uses (sl_rx_needs).
 *
 * Xray patterns are Go RE2 syntax; PCRE2 accepts nearly all of it.  They
 * are compiled case-sensitive and searched unanchored, as Xray does, with
 * DOLLAR_ENDONLY (RE2's "$" is end of text, PCRE2's would also match
 * before a final newline), NEVER_UTF, NEVER_UCP and NEVER_BACKSLASH_C.
 * Known differences from RE2, for the man page:
 *   - subjects are bytes, not UTF-8: "." and classes match one byte, so a
 *     non-ASCII name can match differently (routed names are lower-case
 *     ASCII, IDNs arrive as punycode);
 *   - \s also matches VT (0x0b) and \v, \h, \R, \K, \G, possessive and
 *     atomic groups, lookaround and recursion are accepted where RE2
 *     rejects them; backreferences are refused like RE2 does;
 *   - PCRE2 backtracks: a match that exceeds the match limit counts as
 *     "no match" (RE2 is linear time and has no limit);
 *   - counted repetition up to 65535 (RE2: 1000); "{,n}" is literal text.
 */
#ifndef SL_SHM_REGEX_H
#define SL_SHM_REGEX_H

#include <stddef.h>
#include <stdint.h>

#include "shm/image.h"

struct sl_rxtab;

/* Compile every REGEXES entry of IMG (equal strings compiled once).  The
 * table is per process and per thread (it owns the match data). */
struct sl_rxtab *sl_rxtab_new(const struct sl_img *, const char **err);
void	 sl_rxtab_free(struct sl_rxtab *);
/* 1 if regex IDX (REGEXES index) matches somewhere in S, else 0. */
int	 sl_rx_match(const struct sl_rxtab *, uint32_t idx, const char *s,
	    size_t len);
/* Like sl_rx_match, and where the leftmost match lies: [*start, *end). */
int	 sl_rx_find(const struct sl_rxtab *, uint32_t idx, const char *s,
	    size_t len, size_t *start, size_t *end);

/* Append a pattern to REGEXES; returns its index. */
uint32_t sl_rx_add(struct sl_img_builder *, const char *pattern, size_t len);
/* For config checking: 0, or -1 with PCRE2's message and offset in ERR. */
int	 sl_rx_valid(const char *pattern, size_t len, char *err,
	    size_t errlen);

/*
 * Literals every match of PATTERN must contain, for prefilters: NEED, the
 * longest byte string any matching subject contains, and TAIL, a string
 * any matching subject ends with (the pattern ends "literal$").  Both are
 * written unescaped into caller buffers of LEN bytes; a length of 0 means
 * nothing is known.  Syntax the scan does not model (top-level "|",
 * "(?" other than "(?:", "(*", \Q, unusual escapes or braces) yields no
 * literal rather than a wrong one.
 */
void	 sl_rx_needs(const char *pattern, size_t len, char *need,
	    size_t *need_len, char *tail, size_t *tail_len);

#endif
