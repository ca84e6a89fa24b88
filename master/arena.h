/*
 * arena: a region allocator owned by one configuration generation.
 *
 * Everything allocated from an arena is freed at once by sl_arena_free();
 * there is no per-object free.  Allocation failure aborts: the master has
 * nothing sensible to do without memory while building a configuration.
 */
#ifndef SL_MASTER_ARENA_H
#define SL_MASTER_ARENA_H

#include <stddef.h>

struct sl_arena_block;

struct sl_arena {
	struct sl_arena_block	*head;
};

void	 sl_arena_init(struct sl_arena *);
void	 sl_arena_free(struct sl_arena *);
void	*sl_arena_alloc(struct sl_arena *, size_t);	/* zeroed */
char	*sl_arena_strdup(struct sl_arena *, const char *);
char	*sl_arena_strndup(struct sl_arena *, const char *, size_t);
/* Grow an array allocated from the arena (the old copy stays until free). */
void	*sl_arena_grow(struct sl_arena *, void *old, size_t oldsz, size_t newsz);
/* Room for element N of an arena array with room for *CAP elements of
 * SIZE bytes: V itself, or when full a copy with twice the room. */
void	*sl_arena_room(struct sl_arena *, void *v, size_t n, size_t *cap,
	    size_t size);

#endif
