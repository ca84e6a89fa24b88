/*
 * helpers: what several unit tests share, linked into every test binary
 * (Makefile).  A helper that cannot do its job fails the running cmocka
 * test, so callers need no checks of their own.
 */
#ifndef SLUICE_TESTS_UNIT_HELPERS_H
#define SLUICE_TESTS_UNIT_HELPERS_H

#include <stddef.h>
#include <stdint.h>

/* ---- files ---- */

/* The real geodata: $SLUICE_GEODATA, else ../shared/geodata. */
const char	*th_geodata(void);
/* The whole of PATH plus a NUL (not counted in *LEN); free() it. */
uint8_t		*th_file_read(const char *path, size_t *len);
void		 th_file_write(const char *path, const void *buf, size_t len);
/* Remove DIR and everything under it (a test's mkdtemp directory). */
void		 th_tree_remove(const char *dir);

#endif
