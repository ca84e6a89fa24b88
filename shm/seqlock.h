/*
 * seqlock: one writer process, readers in other processes, over an array
 * of 64-bit words in shared memory.
 *
 * Follows Boehm ("Can seqlocks get along with programming language memory
 * models?"): the writer makes the sequence odd, fences (release), stores
 * the words relaxed and publishes the even sequence with a release store;
 * a reader loads the sequence (acquire), the words (relaxed), fences
 * (acquire) and checks that the sequence did not move.  Readers never
 * write, so the mapping may be read-only for them.
 */
#ifndef SL_SHM_SEQLOCK_H
#define SL_SHM_SEQLOCK_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Writer: around the relaxed stores of one update. */
void	 sl_seq_begin(_Atomic uint64_t *seq);
void	 sl_seq_end(_Atomic uint64_t *seq);

/*
 * Reader: a consistent copy of words[0..n) into dst.  A writer holds the
 * sequence odd for a few stores, or longer if it is preempted; one that
 * stays odd for STUCK_US died in the middle of a write: -1.
 */
int	 sl_seq_read(const _Atomic uint64_t *seq, const _Atomic uint64_t *words,
	    uint64_t *dst, size_t n, uint64_t stuck_us);

#endif
