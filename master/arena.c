/* arena: region allocator for one configuration generation. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "master/arena.h"
#include "shm/log.h"

#define ARENA_BLOCK	(64 * 1024)

struct sl_arena_block {
	struct sl_arena_block	*next;
	size_t			 used, size;
	_Alignas(16) unsigned char data[];
};

void
sl_arena_init(struct sl_arena *a)
{
	a->head = NULL;
}

void
sl_arena_free(struct sl_arena *a)
{
	struct sl_arena_block *b, *next;

	for (b = a->head; b != NULL; b = next) {
		next = b->next;
		free(b);
	}
	a->head = NULL;
}

void *
sl_arena_alloc(struct sl_arena *a, size_t n)
{
	struct sl_arena_block *b = a->head;
	size_t need = (n + 15) & ~(size_t)15;
	void *p;

	if (b == NULL || b->size - b->used < need) {
		size_t size = need > ARENA_BLOCK ? need : ARENA_BLOCK;

		b = malloc(sizeof(*b) + size);
		if (b == NULL)
			sl_fatal("arena: out of memory");
		b->used = 0;
		b->size = size;
		b->next = a->head;
		a->head = b;
	}
	p = b->data + b->used;
	b->used += need;
	memset(p, 0, n);
	return p;
}

char *
sl_arena_strndup(struct sl_arena *a, const char *s, size_t n)
{
	char *p = sl_arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
sl_arena_strdup(struct sl_arena *a, const char *s)
{
	return sl_arena_strndup(a, s, strlen(s));
}

void *
sl_arena_grow(struct sl_arena *a, void *old, size_t oldsz, size_t newsz)
{
	void *p = sl_arena_alloc(a, newsz);

	if (old != NULL && oldsz > 0)
		memcpy(p, old, oldsz < newsz ? oldsz : newsz);
	return p;
}

void *
sl_arena_room(struct sl_arena *a, void *v, size_t n, size_t *cap, size_t size)
{
	size_t newcap;

	if (n < *cap)
		return v;
	newcap = *cap ? *cap * 2 : 8;
	v = sl_arena_grow(a, v, *cap * size, newcap * size);
	*cap = newcap;
	return v;
}
