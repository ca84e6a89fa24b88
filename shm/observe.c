/*
 * observe: create, map, write and read the shared health region.
 *
 * The seqlock follows Boehm ("Can seqlocks get along with programming
 * language memory models?", MSPC 2012): every shared word is an atomic,
 * the writer makes the sequence odd, fences (release), stores the words
 * relaxed and publishes the even sequence with a release store; a reader
 * loads the sequence (acquire), the words (relaxed), fences (acquire) and
 * checks the sequence did not move.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "shm/observe.h"
#include "shm/seqlock.h"

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL	0x0008U
#endif

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
    "the region needs lock-free 64-bit atomics (address-free across "
    "processes)");

struct sl_obs_hdr {
	uint64_t	 magic;
	uint32_t	 version;
	uint32_t	 slot_size;
	uint32_t	 nobs, nout;
	uint64_t	 generation;
	uint64_t	 size;
	uint8_t		 reserved[32];
};

enum {
	W_FLAGS,	/* known | alive << 1 | health << 2 */
	W_COUNTS,	/* all | fail << 32 */
	W_DELAY, W_AVG, W_DEV, W_MIN, W_MAX, W_SEEN, W_TRY,
	W_COUNT
};

/* Two cache lines: room for more words without a layout change. */
struct sl_obs_slot {
	_Atomic uint64_t seq;
	_Atomic uint64_t w[15];
};

_Static_assert(sizeof(struct sl_obs_hdr) == 72, "layout");
_Static_assert(sizeof(struct sl_obs_slot) == 128, "layout");
_Static_assert(W_COUNT <= 15, "layout");

#define HDR_SIZE	128	/* slots start on a cache line */
#define STUCK_US	200000	/* an odd sequence this long: writer died */

static size_t
region_size(uint32_t nobs, uint32_t nout)
{
	return HDR_SIZE + (size_t)nobs * nout * sizeof(struct sl_obs_slot);
}

static int
ro_reopen(int fd)
{
	char path[64];

	/* A read-only open of the same file: mmap(PROT_WRITE, MAP_SHARED)
	 * then fails with EACCES whatever the mapper tries. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, O_RDONLY | O_CLOEXEC);
}

static int
init_header(int fd, uint32_t nobs, uint32_t nout, uint64_t generation)
{
	size_t size = region_size(nobs, nout);
	struct sl_obs_hdr hdr;
	void *p;

	if (ftruncate(fd, (off_t)size) == -1)
		return -1;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	memset(&hdr, 0, sizeof(hdr));
	hdr.magic = SL_OBS_MAGIC;
	hdr.version = SL_OBS_VERSION;
	hdr.slot_size = sizeof(struct sl_obs_slot);
	hdr.nobs = nobs;
	hdr.nout = nout;
	hdr.generation = generation;
	hdr.size = size;
	memcpy(p, &hdr, sizeof(hdr));	/* slots: zero = never written */
	munmap(p, size);
	return 0;
}

int
sl_obs_create(uint32_t nobs, uint32_t nout, uint64_t generation,
    int *ro_fd, const char **err)
{
	int fd;

	*ro_fd = -1;
	if (nout > 0 && nobs > (UINT32_MAX / 2) / nout) {
		*err = "observation region: too many outbounds";
		return -1;
	}
	fd = memfd_create("sluice-observe", MFD_CLOEXEC | MFD_ALLOW_SEALING |
	    MFD_NOEXEC_SEAL);
	if (fd == -1 && errno == EINVAL)	/* kernels before 6.3 */
		fd = memfd_create("sluice-observe", MFD_CLOEXEC |
		    MFD_ALLOW_SEALING);
	if (fd == -1) {
		*err = "observation region: memfd_create failed";
		return -1;
	}
	if (init_header(fd, nobs, nout, generation) == -1 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW |
	    F_SEAL_SEAL) == -1) {
		*err = "observation region: cannot size or seal the memfd";
		close(fd);
		return -1;
	}
	if ((*ro_fd = ro_reopen(fd)) == -1) {
		*err = "observation region: cannot open /proc/self/fd "
		    "read-only";
		close(fd);
		return -1;
	}
	return fd;
}

/* A new writer: slots its dead predecessor left half-written (odd
 * sequence) become unknown, so readers stop waiting on them. */
static void
repair(struct sl_obs_region *r)
{
	struct sl_obs_slot *s = (struct sl_obs_slot *)(r->base + HDR_SIZE);

	for (size_t i = 0; i < (size_t)r->nobs * r->nout; i++) {
		uint64_t seq = atomic_load_explicit(&s[i].seq,
		    memory_order_relaxed);

		if (!(seq & 1))
			continue;
		for (int k = 0; k < W_COUNT; k++)
			atomic_store_explicit(&s[i].w[k], 0,
			    memory_order_relaxed);
		atomic_store_explicit(&s[i].seq, seq + 1,
		    memory_order_release);
	}
}

int
sl_obs_map(int fd, int writable, struct sl_obs_region *r, const char **err)
{
	struct sl_obs_hdr hdr;
	struct stat st;
	void *p;

	memset(r, 0, sizeof(*r));
	if (fstat(fd, &st) == -1 || (size_t)st.st_size < HDR_SIZE) {
		*err = "observation region: bad file";
		return -1;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ |
	    (writable ? PROT_WRITE : 0), MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		*err = "observation region: mmap failed";
		return -1;
	}
	memcpy(&hdr, p, sizeof(hdr));
	if (hdr.magic != SL_OBS_MAGIC || hdr.version != SL_OBS_VERSION ||
	    hdr.slot_size != sizeof(struct sl_obs_slot) ||
	    hdr.size != (uint64_t)st.st_size ||
	    region_size(hdr.nobs, hdr.nout) != hdr.size) {
		munmap(p, (size_t)st.st_size);
		*err = "observation region: bad header";
		return -1;
	}
	r->base = p;
	r->size = (size_t)st.st_size;
	r->nobs = hdr.nobs;
	r->nout = hdr.nout;
	r->generation = hdr.generation;
	r->writable = writable;
	if (writable)
		repair(r);
	return 0;
}

int
sl_obs_repair(int fd)
{
	struct sl_obs_region r;
	const char *err;

	if (sl_obs_map(fd, 1, &r, &err) == -1)
		return -1;
	sl_obs_unmap(&r);
	return 0;
}

void
sl_obs_unmap(struct sl_obs_region *r)
{
	if (r->base != NULL)
		munmap(r->base, r->size);
	memset(r, 0, sizeof(*r));
}

static struct sl_obs_slot *
slot(const struct sl_obs_region *r, uint32_t obs, uint32_t out)
{
	if (r == NULL || r->base == NULL || obs >= r->nobs || out >= r->nout)
		return NULL;
	return (struct sl_obs_slot *)(r->base + HDR_SIZE) +
	    ((size_t)obs * r->nout + out);
}

void
sl_obs_write(struct sl_obs_region *r, uint32_t obs, uint32_t out,
    const struct sl_obs_status *st)
{
	struct sl_obs_slot *s = slot(r, obs, out);
	uint64_t w[W_COUNT];

	if (s == NULL || !r->writable)
		return;
	w[W_FLAGS] = (uint64_t)(st->known != 0) | (uint64_t)(st->alive != 0)
	    << 1 | (uint64_t)(st->health != 0) << 2;
	w[W_COUNTS] = st->all | (uint64_t)st->fail << 32;
	w[W_DELAY] = (uint64_t)st->delay_ms;
	w[W_AVG] = st->avg_us;
	w[W_DEV] = st->dev_us;
	w[W_MIN] = st->min_us;
	w[W_MAX] = st->max_us;
	w[W_SEEN] = (uint64_t)st->last_seen;
	w[W_TRY] = (uint64_t)st->last_try;
	sl_seq_begin(&s->seq);
	for (int i = 0; i < W_COUNT; i++)
		atomic_store_explicit(&s->w[i], w[i], memory_order_relaxed);
	sl_seq_end(&s->seq);
}

/*
 * The writer holds a slot for a few stores, or longer if it is preempted
 * in the middle.  A sequence that stays odd for STUCK_US belongs to a
 * writer that died mid-write and that nobody repaired yet (the master
 * does when it reaps the observer): the slot reads as unknown.
 */
void
sl_obs_read(const struct sl_obs_region *r, uint32_t obs, uint32_t out,
    struct sl_obs_status *st)
{
	struct sl_obs_slot *s = slot(r, obs, out);
	uint64_t w[W_COUNT];

	memset(st, 0, sizeof(*st));
	if (s == NULL ||
	    sl_seq_read(&s->seq, s->w, w, W_COUNT, STUCK_US) == -1)
		return;
	st->known = w[W_FLAGS] & 1;
	st->alive = (w[W_FLAGS] >> 1) & 1;
	st->health = (w[W_FLAGS] >> 2) & 1;
	st->all = (uint32_t)w[W_COUNTS];
	st->fail = (uint32_t)(w[W_COUNTS] >> 32);
	st->delay_ms = (int64_t)w[W_DELAY];
	st->avg_us = w[W_AVG];
	st->dev_us = w[W_DEV];
	st->min_us = w[W_MIN];
	st->max_us = w[W_MAX];
	st->last_seen = (int64_t)w[W_SEEN];
	st->last_try = (int64_t)w[W_TRY];
}
