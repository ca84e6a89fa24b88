/*
 * helpers: what several unit tests share, linked into every test binary
 * (Makefile).  A helper that cannot do its job fails the running cmocka
 * test, so callers need no checks of their own.
 */
#ifndef SLUICE_TESTS_UNIT_HELPERS_H
#define SLUICE_TESTS_UNIT_HELPERS_H

#include <stddef.h>
#include <stdint.h>

#include "master/conf.h"
#include "master/geodat.pb-c.h"
#include "shm/image.h"

/* ---- files ---- */

/* The real geodata: $SLUICE_GEODATA, else ../shared/geodata. */
const char	*th_geodata(void);
/* The whole of PATH plus a NUL (not counted in *LEN); free() it. */
uint8_t		*th_file_read(const char *path, size_t *len);
void		 th_file_write(const char *path, const void *buf, size_t len);
/* TEXT in a new file /tmp/sluice-test-XXXXXX<EXT>, named in PATH. */
void		 th_file_temp(char *path, size_t size, const char *ext,
		    const char *text);
/* Remove DIR and everything under it (a test's mkdtemp directory). */
void		 th_tree_remove(const char *dir);

/* ---- geodata lists ---- */

/* The entry of GL coded CODE (as stored); the test fails without one. */
const Sluice__GeoSite *th_geosite_find(const Sluice__GeoSiteList *gl,
		    const char *code);

/* ---- random ---- */

/* Reproducible test inputs: xorshift64, one sequence per test binary.
 * Without th_rnd_seed() it starts from 0x9e3779b97f4a7c15. */
void		 th_rnd_seed(uint64_t seed);
/* A number below N (N > 0). */
unsigned	 th_rnd(unsigned n);

/* ---- time ---- */

/* CLOCK_MONOTONIC in milliseconds: bounded waits in tests. */
uint64_t	 th_now_ms(void);

/* ---- table images ---- */

/* A new builder with the least sl_img_check insists on besides what a
 * test adds: an IP set, a freedom outbound, a policy level. */
void		 th_img_begin(struct sl_img_builder *);
/* Finish (generation 1) and free the builder; the image must pass
 * sl_img_check.  IMG describes the returned buffer; free() it. */
uint8_t		*th_img_finish(struct sl_img_builder *,
		    struct sl_img *img);

/* ---- configurations ---- */

/* sl_conf_load into a freshly initialised E. */
struct sl_conf	*th_conf_load(const char *file, struct sl_errors *e);
/* BUF without "FILE: " / "FILE:" at the start of every line; free() it. */
char		*th_conf_strip_file(const char *buf, const char *file);

#endif
