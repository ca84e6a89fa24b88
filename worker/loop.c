/*
 * loop: the worker's event loop (epoll) and its timers.
 *
 * Owns the epoll instance, the cached millisecond clock, the batch of events
 * being dispatched, the list of posted events and a binary min-heap of armed
 * timers.  The heap holds
 * pointers to timers embedded in their owners; each timer remembers its slot
 * (idx) so that re-arming and disarming are O(log n).
 */
#include <sys/signalfd.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "shm/log.h"
#include "shm/clock.h"
#include "worker/loop.h"

#define SL_LOOP_BATCH	256

/*
 * A heap slot.  seq orders timers with the same deadline by arming time and
 * tells the expiry pass which timers were armed before it started: a
 * callback that re-arms a timer for "now" must not make the pass run it
 * again (and again), it fires on the next iteration instead.
 */
struct heap_ent {
	struct sl_timer	*t;
	uint64_t	 seq;
};

struct sl_loop {
	int			 epfd;
	uint64_t		 now;
	uint64_t		 seq;		/* next timer arming number */
	struct heap_ent		*heap;
	size_t			 nheap, heapcap;
	/* The batch being dispatched: entries after cur may be forgotten. */
	struct epoll_event	 batch[SL_LOOP_BATCH];
	int			 nbatch, cur;
	struct sl_ev		*posted;	/* LIFO; see sl_ev_post */
	struct sl_ev		*running;	/* the posted ones being run */
};

struct sl_loop *
sl_loop_new(void)
{
	struct sl_loop *loop;

	if ((loop = calloc(1, sizeof(*loop))) == NULL)
		return NULL;
	if ((loop->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		free(loop);
		return NULL;
	}
	loop->now = sl_clock_ms();
	return loop;
}

void
sl_loop_free(struct sl_loop *loop)
{
	size_t i;

	if (loop == NULL)
		return;
	/* Timers outlive the loop in their owners: leave them disarmed. */
	for (i = 0; i < loop->nheap; i++)
		loop->heap[i].t->idx = -1;
	free(loop->heap);
	close(loop->epfd);
	free(loop);
}

uint64_t
sl_loop_now(struct sl_loop *loop)
{
	return loop->now;
}

/* ---- fds ---- */

void
sl_ev_init(struct sl_ev *ev, int fd, sl_ev_cb cb, void *data)
{
	ev->fd = fd;
	ev->events = 0;
	ev->cb = cb;
	ev->data = data;
	ev->posted_next = NULL;
	ev->posted = 0;
}

static int
ev_del(struct sl_loop *loop, struct sl_ev *ev)
{
	/* ENOENT/EBADF: the fd was closed already, which removed it. */
	if (epoll_ctl(loop->epfd, EPOLL_CTL_DEL, ev->fd, NULL) < 0 &&
	    errno != ENOENT && errno != EBADF)
		return -1;
	ev->events = 0;
	return 0;
}

int
sl_ev_set(struct sl_loop *loop, struct sl_ev *ev, uint32_t mask)
{
	struct epoll_event e = { .events = mask, .data.ptr = ev };
	int rc;

	if (mask == ev->events)
		return 0;
	if (mask == 0)
		return ev_del(loop, ev);
	if (ev->events == 0)
		rc = epoll_ctl(loop->epfd, EPOLL_CTL_ADD, ev->fd, &e);
	else {
		rc = epoll_ctl(loop->epfd, EPOLL_CTL_MOD, ev->fd, &e);
		/* The old file was closed under us and the number reused. */
		if (rc < 0 && errno == ENOENT)
			rc = epoll_ctl(loop->epfd, EPOLL_CTL_ADD, ev->fd, &e);
	}
	if (rc < 0)
		return -1;
	ev->events = mask;
	return 0;
}

void
sl_loop_forget(struct sl_loop *loop, struct sl_ev *ev)
{
	int i;

	for (i = loop->cur + 1; i < loop->nbatch; i++)
		if (loop->batch[i].data.ptr == ev)
			loop->batch[i].data.ptr = NULL;
	if (ev->posted) {
		struct sl_ev **pp = &loop->posted;

		while (*pp != NULL && *pp != ev)
			pp = &(*pp)->posted_next;
		if (*pp == NULL)
			for (pp = &loop->running; *pp != ev;)
				pp = &(*pp)->posted_next;
		*pp = ev->posted_next;
		ev->posted = 0;
	}
}

void
sl_ev_close(struct sl_loop *loop, struct sl_ev *ev)
{
	ev->events = 0;
	sl_loop_forget(loop, ev);
}

void
sl_ev_post(struct sl_loop *loop, struct sl_ev *ev)
{
	if (ev->posted)
		return;
	ev->posted = 1;
	ev->posted_next = loop->posted;
	loop->posted = ev;
}

/* ---- timer heap ---- */

static int
ent_less(const struct heap_ent *a, const struct heap_ent *b)
{
	if (a->t->at != b->t->at)
		return a->t->at < b->t->at;
	return a->seq < b->seq;
}

static void
heap_place(struct sl_loop *loop, size_t i, struct heap_ent e)
{
	loop->heap[i] = e;
	e.t->idx = (int)i;
}

static void
heap_up(struct sl_loop *loop, size_t i)
{
	struct heap_ent e = loop->heap[i];
	size_t parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!ent_less(&e, &loop->heap[parent]))
			break;
		heap_place(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_place(loop, i, e);
}

static void
heap_down(struct sl_loop *loop, size_t i)
{
	struct heap_ent e = loop->heap[i];
	size_t c;

	while ((c = 2 * i + 1) < loop->nheap) {
		if (c + 1 < loop->nheap &&
		    ent_less(&loop->heap[c + 1], &loop->heap[c]))
			c++;
		if (!ent_less(&loop->heap[c], &e))
			break;
		heap_place(loop, i, loop->heap[c]);
		i = c;
	}
	heap_place(loop, i, e);
}

/* Restore the heap after the entry at i changed key in either direction. */
static void
heap_fix(struct sl_loop *loop, size_t i)
{
	if (i > 0 && ent_less(&loop->heap[i], &loop->heap[(i - 1) / 2]))
		heap_up(loop, i);
	else
		heap_down(loop, i);
}

static void
heap_grow(struct sl_loop *loop)
{
	size_t cap = loop->heapcap ? loop->heapcap * 2 : 64;
	struct heap_ent *h;

	/* sl_timer_add cannot fail: a lost timer is a hung connection. */
	if ((h = realloc(loop->heap, cap * sizeof(*h))) == NULL)
		sl_fatal("loop: out of memory for %zu timers", cap);
	loop->heap = h;
	loop->heapcap = cap;
}

void
sl_timer_init(struct sl_timer *t, sl_timer_cb cb, void *data)
{
	t->at = 0;
	t->idx = -1;
	t->cb = cb;
	t->data = data;
}

void
sl_timer_add(struct sl_loop *loop, struct sl_timer *t, uint64_t ms)
{
	struct heap_ent e = { t, loop->seq++ };

	t->at = loop->now + ms;
	if (t->idx >= 0) {
		loop->heap[t->idx].seq = e.seq;
		heap_fix(loop, (size_t)t->idx);
		return;
	}
	if (loop->nheap == loop->heapcap)
		heap_grow(loop);
	loop->heap[loop->nheap++] = e;
	heap_up(loop, loop->nheap - 1);
}

void
sl_timer_del(struct sl_loop *loop, struct sl_timer *t)
{
	size_t i;

	if (t->idx < 0)
		return;
	i = (size_t)t->idx;
	t->idx = -1;
	if (i == --loop->nheap)
		return;
	loop->heap[i] = loop->heap[loop->nheap];
	heap_fix(loop, i);
}

/* ---- one iteration ---- */

static int
wait_ms(struct sl_loop *loop, int max_ms)
{
	uint64_t at, d;

	if (loop->posted != NULL)
		return 0;
	if (loop->nheap == 0)
		return max_ms;
	at = loop->heap[0].t->at;
	d = at > loop->now ? at - loop->now : 0;
	if (d > INT_MAX)
		d = INT_MAX;
	if (max_ms >= 0 && (uint64_t)max_ms < d)
		return max_ms;
	return (int)d;
}

static int
dispatch(struct sl_loop *loop)
{
	struct sl_ev *ev;
	uint32_t got;
	int n = 0;

	for (loop->cur = 0; loop->cur < loop->nbatch; loop->cur++) {
		ev = loop->batch[loop->cur].data.ptr;
		if (ev == NULL)
			continue;	/* forgotten: its owner freed it */
		/*
		 * An earlier callback may have removed or narrowed the
		 * interest; do not report what the owner no longer wants.
		 */
		got = loop->batch[loop->cur].events &
		    (ev->events | EPOLLERR | EPOLLHUP);
		if (ev->events == 0 || got == 0)
			continue;
		n++;
		ev->cb(ev, got);
	}
	loop->nbatch = loop->cur = 0;
	return n;
}

/* Posted during this pass: the next iteration (which does not wait). */
static int
dispatch_posted(struct sl_loop *loop)
{
	struct sl_ev *ev;
	int n = 0;

	loop->running = loop->posted;
	loop->posted = NULL;
	while ((ev = loop->running) != NULL) {
		loop->running = ev->posted_next;
		ev->posted = 0;
		if (!(ev->events & EPOLLIN))
			continue;
		n++;
		ev->cb(ev, EPOLLIN);
	}
	return n;
}

static void
run_timers(struct sl_loop *loop)
{
	uint64_t limit = loop->seq;
	struct sl_timer *t;

	/* Heap order is (at, seq): the first entry armed during this pass
	 * comes after every older due one, so stopping there misses none. */
	while (loop->nheap > 0 && loop->heap[0].t->at <= loop->now &&
	    loop->heap[0].seq < limit) {
		t = loop->heap[0].t;
		sl_timer_del(loop, t);
		t->cb(t);
	}
}

int
sl_loop_once(struct sl_loop *loop, int max_ms)
{
	int n, err;

	n = epoll_wait(loop->epfd, loop->batch, SL_LOOP_BATCH,
	    wait_ms(loop, max_ms));
	err = errno;
	loop->now = sl_clock_ms();
	if (n < 0) {
		if (err != EINTR) {
			errno = err;
			return -1;
		}
		n = 0;
	}
	loop->nbatch = n;
	loop->cur = -1;		/* the whole batch is still to come */
	n = dispatch_posted(loop);
	n += dispatch(loop);
	run_timers(loop);
	return n;
}

int
sl_loop_signals(struct sl_loop *loop, struct sl_ev *ev, sl_ev_cb cb,
    void *data)
{
	sigset_t set;
	int fd;

	sigemptyset(&set);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigdelset(&set, SIGHUP);
	sigdelset(&set, SIGUSR1);
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		return -1;
	sl_ev_init(ev, fd, cb, data);
	return sl_ev_set(loop, ev, EPOLLIN);
}
