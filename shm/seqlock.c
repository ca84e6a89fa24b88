/* seqlock: see seqlock.h. */
#include <sched.h>

#include "shm/clock.h"
#include "shm/seqlock.h"

void
sl_seq_begin(_Atomic uint64_t *seq)
{
	uint64_t s = atomic_load_explicit(seq, memory_order_relaxed);

	atomic_store_explicit(seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
}

void
sl_seq_end(_Atomic uint64_t *seq)
{
	uint64_t s = atomic_load_explicit(seq, memory_order_relaxed);

	atomic_store_explicit(seq, s + 1, memory_order_release);
}

/* One attempt: 0 if the copy is consistent; *first = the sequence seen. */
static int
read_once(const _Atomic uint64_t *seq, const _Atomic uint64_t *words,
    uint64_t *dst, size_t n, uint64_t *first)
{
	uint64_t s1, s2;

	*first = s1 = atomic_load_explicit(seq, memory_order_acquire);
	if (s1 & 1)
		return -1;
	for (size_t i = 0; i < n; i++)
		dst[i] = atomic_load_explicit(&words[i], memory_order_relaxed);
	atomic_thread_fence(memory_order_acquire);
	s2 = atomic_load_explicit(seq, memory_order_relaxed);
	return s1 == s2 ? 0 : -1;
}

int
sl_seq_read(const _Atomic uint64_t *seq, const _Atomic uint64_t *words,
    uint64_t *dst, size_t n, uint64_t stuck_us)
{
	uint64_t s, prev = 0, since = 0;
	unsigned tries = 0;

	while (read_once(seq, words, dst, n, &s) == -1) {
		if (s != prev) {
			prev = s;
			since = 0;
			continue;
		}
		if (++tries % 1024 != 0)
			continue;
		if (since == 0)
			since = sl_clock_us();
		else if (sl_clock_us() - since > stuck_us)
			return -1;
		sched_yield();		/* let a preempted writer finish */
	}
	return 0;
}
