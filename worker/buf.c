/*
 * buf: lean relay buffers (see buf.h).
 *
 * The free list is a LIFO through the first bytes of each free buffer:
 * the most recently used buffer, still warm in the cache, goes out next.
 */
#include <errno.h>
#include <stdlib.h>

#include "worker/buf.h"

void
sl_bufpool_init(struct sl_bufpool *p, size_t keep)
{
	p->free = NULL;
	p->nfree = p->out = 0;
	p->keep = keep;
}

void
sl_bufpool_free(struct sl_bufpool *p)
{
	void *b;

	while ((b = p->free) != NULL) {
		p->free = *(void **)b;
		free(b);
	}
	p->nfree = 0;
}

int
sl_buf_take(struct sl_bufpool *p, struct sl_buf *b)
{
	void *m;

	if (b->data != NULL)
		return 0;
	if ((m = p->free) != NULL) {
		p->free = *(void **)m;
		p->nfree--;
	} else if ((m = malloc(SL_BUF_SIZE)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	p->out++;
	b->data = m;
	b->off = b->len = 0;
	return 0;
}

void
sl_buf_drop(struct sl_bufpool *p, struct sl_buf *b)
{
	if (b->data == NULL)
		return;
	p->out--;
	if (p->nfree < p->keep) {
		*(void **)b->data = p->free;
		p->free = b->data;
		p->nfree++;
	} else
		free(b->data);
	b->data = NULL;
	b->off = b->len = 0;
}

void
sl_buf_give(struct sl_bufpool *p, struct sl_buf *b)
{
	if (b->len == 0)
		sl_buf_drop(p, b);
}
