/*
 * loop: the worker's event loop (epoll) and its timers.
 *
 * Owns the epoll instance, the clock and a min-heap of timers.  Nothing in
 * here blocks except epoll_wait itself.  A handler is a struct sl_ev
 * embedded in its owner; the owner finds itself with container_of-style
 * arithmetic or the data pointer.
 */
#ifndef SL_WORKER_LOOP_H
#define SL_WORKER_LOOP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

struct sl_loop;
struct sl_ev;
struct sl_timer;

typedef void (*sl_ev_cb)(struct sl_ev *, uint32_t events);
typedef void (*sl_timer_cb)(struct sl_timer *);

struct sl_ev {
	int		 fd;
	uint32_t	 events;	/* registered EPOLL* mask, 0 = not added */
	sl_ev_cb	 cb;
	void		*data;
	struct sl_ev	*posted_next;	/* on the posted list */
	int		 posted;
};

struct sl_timer {
	uint64_t	 at;		/* absolute, ms on the loop clock */
	int		 idx;		/* heap slot, -1 = not armed */
	sl_timer_cb	 cb;
	void		*data;
};

struct sl_loop	*sl_loop_new(void);
void		 sl_loop_free(struct sl_loop *);

/* Register, change or remove interest; mask 0 removes.  0 or -1 (errno). */
int		 sl_ev_set(struct sl_loop *, struct sl_ev *, uint32_t mask);
void		 sl_ev_init(struct sl_ev *, int fd, sl_ev_cb, void *data);
/*
 * Call before freeing an ev (after sl_ev_set(ev, 0)): drops the events
 * still pending for it in the batch being dispatched (and a posted one),
 * so a callback may free any ev, even one later in the same batch.
 */
void		 sl_loop_forget(struct sl_loop *, struct sl_ev *);
/*
 * EV's fd is about to be closed and is not shared with another process:
 * the close removes it from epoll, so skip the EPOLL_CTL_DEL, and forget
 * it as above.
 */
void		 sl_ev_close(struct sl_loop *, struct sl_ev *);
/*
 * Report EPOLLIN on EV in this iteration, after the epoll batch, without
 * waiting: for input the kernel no longer holds (OpenSSL read ahead of
 * the record it returned), which epoll cannot report.  Dropped if EV no
 * longer wants EPOLLIN by then.
 */
void		 sl_ev_post(struct sl_loop *, struct sl_ev *);

void		 sl_timer_init(struct sl_timer *, sl_timer_cb, void *data);
void		 sl_timer_add(struct sl_loop *, struct sl_timer *, uint64_t ms);
void		 sl_timer_del(struct sl_loop *, struct sl_timer *);
static inline int
sl_timer_armed(const struct sl_timer *t)
{
	return t->idx >= 0;
}

uint64_t	 sl_loop_now(struct sl_loop *);	/* ms, CLOCK_MONOTONIC */
/* Run one iteration: wait at most max_ms (-1 = until the next timer). */
int		 sl_loop_once(struct sl_loop *, int max_ms);

/*
 * A child of the master (worker, observer): block the signals the master
 * sends, ignore SIGPIPE, and deliver QUIT, TERM and INT through a
 * signalfd watched by EV (HUP and USR1 are the master's business).
 */
int		 sl_loop_signals(struct sl_loop *, struct sl_ev *ev, sl_ev_cb,
		    void *data);

#endif
