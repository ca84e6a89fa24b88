/*
 * tickets: map, rotate and read the shared TLS ticket keys.
 *
 * The seqlock is the one shm/observe.c uses (Boehm, MSPC 2012): every
 * shared word is a C11 atomic; the writer makes the sequence odd, fences
 * (release), stores the words relaxed and publishes the even sequence
 * with a release store; a reader loads the sequence (acquire), the words
 * (relaxed), fences (acquire) and checks the sequence did not move.  One
 * sequence covers the whole ring: the master writes it twice a day, and a
 * reader's copy is a few hundred bytes.
 */
#include <sys/mman.h>

#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "shm/seqlock.h"
#include "shm/tickets.h"

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2,
    "the region needs lock-free 64-bit atomics (address-free across "
    "processes)");

/* A key as words: name, AES key, HMAC key, created. */
#define NAME_W		(SL_TICKET_NAME_LEN / 8)
#define AES_W		(SL_TICKET_AES_LEN / 8)
#define HMAC_W		(SL_TICKET_HMAC_LEN / 8)
#define KEY_W		(NAME_W + AES_W + HMAC_W + 1)
#define RING_W		(1 + SL_TICKETS_KEYS * KEY_W)	/* made + keys */
#define STUCK_US	200000	/* an odd sequence this long: writer died */

struct sl_tickets {
	_Atomic uint64_t seq;
	/* w[0]: keys made so far, the current one is in slot (made - 1) %
	 * SL_TICKETS_KEYS; then the slots, KEY_W words each. */
	_Atomic uint64_t w[RING_W];
	uint64_t	 due;		/* the master's alone: next rotation */
};

_Static_assert(sizeof(struct sl_ticket_key) == KEY_W * 8, "layout");

static size_t
region_size(void)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t p = page > 0 ? (size_t)page : 4096;

	return (sizeof(struct sl_tickets) + p - 1) / p * p;
}

struct sl_tickets *
sl_tickets_create(uint64_t now, const char **err)
{
	struct sl_tickets *r;

	r = mmap(NULL, region_size(), PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED) {
		*err = "TLS ticket keys: mmap failed";
		return NULL;
	}
	/* Zero pages: sequence 0, no key.  Keys stay out of core dumps. */
	madvise(r, region_size(), MADV_DONTDUMP);
	if (sl_tickets_rotate(r, now) == -1) {
		*err = "TLS ticket keys: no random bytes";
		sl_tickets_free(r);
		return NULL;
	}
	return r;
}

void
sl_tickets_free(struct sl_tickets *r)
{
	if (r != NULL)
		munmap(r, region_size());
}

void
sl_tickets_readonly(struct sl_tickets *r)
{
	if (r != NULL)
		mprotect(r, region_size(), PROT_READ);
}

/* ---- the writer (master) ---- */

static void
key_words(const struct sl_ticket_key *k, uint64_t w[KEY_W])
{
	memcpy(w, k->name, sizeof(k->name));
	memcpy(w + NAME_W, k->aes, sizeof(k->aes));
	memcpy(w + NAME_W + AES_W, k->hmac, sizeof(k->hmac));
	w[KEY_W - 1] = k->created;
}

static void
words_key(const uint64_t w[KEY_W], struct sl_ticket_key *k)
{
	memcpy(k->name, w, sizeof(k->name));
	memcpy(k->aes, w + NAME_W, sizeof(k->aes));
	memcpy(k->hmac, w + NAME_W + AES_W, sizeof(k->hmac));
	k->created = w[KEY_W - 1];
}

void
sl_tickets_install(struct sl_tickets *r, const struct sl_ticket_key *k)
{
	uint64_t w[KEY_W], made;
	size_t at;

	key_words(k, w);
	made = atomic_load_explicit(&r->w[0], memory_order_relaxed);
	at = 1 + (size_t)(made % SL_TICKETS_KEYS) * KEY_W;
	sl_seq_begin(&r->seq);
	for (size_t i = 0; i < KEY_W; i++)
		atomic_store_explicit(&r->w[at + i], w[i],
		    memory_order_relaxed);
	atomic_store_explicit(&r->w[0], made + 1, memory_order_relaxed);
	sl_seq_end(&r->seq);
	explicit_bzero(w, sizeof(w));
}

int
sl_tickets_rotate(struct sl_tickets *r, uint64_t now)
{
	struct sl_ticket_key k;
	int rc = -1;

	if (RAND_bytes(k.name, sizeof(k.name)) == 1 &&
	    RAND_bytes(k.aes, sizeof(k.aes)) == 1 &&
	    RAND_bytes(k.hmac, sizeof(k.hmac)) == 1) {
		k.created = now;
		sl_tickets_install(r, &k);
		r->due = now + SL_TICKETS_PERIOD_MS;
		rc = 0;
	}
	explicit_bzero(&k, sizeof(k));
	return rc;
}

uint64_t
sl_tickets_due(const struct sl_tickets *r)
{
	return r != NULL ? r->due : UINT64_MAX;
}

int
sl_tickets_rotate_due(struct sl_tickets *r, uint64_t now)
{
	if (r == NULL || now < r->due)
		return 0;
	if (sl_tickets_rotate(r, now) == 0)
		return 1;
	r->due = now + SL_TICKETS_RETRY_MS;
	return -1;
}

/* ---- readers (workers) ---- */

/*
 * A consistent copy of the ring.  The master holds the sequence odd for a
 * few stores, or longer if it is preempted in the middle; one that stays
 * odd for STUCK_US belongs to a master that died mid-write (its workers
 * get SIGTERM from PR_SET_PDEATHSIG anyway): -1.
 */
static int
snapshot(const struct sl_tickets *cr, uint64_t w[RING_W])
{
	if (cr == NULL)
		return -1;
	return sl_seq_read(&cr->seq, cr->w, w, RING_W, STUCK_US);
}

/* The slot's age in a snapshot: 0 current, 1.. older; -1 empty. */
static int
slot_age(const uint64_t w[RING_W], size_t slot)
{
	uint64_t made = w[0], cur;
	size_t age;

	if (made == 0)
		return -1;
	cur = (made - 1) % SL_TICKETS_KEYS;
	age = (size_t)((cur + SL_TICKETS_KEYS - slot) % SL_TICKETS_KEYS);
	return age < made ? (int)age : -1;
}

int
sl_tickets_current(const struct sl_tickets *r, struct sl_ticket_key *out)
{
	uint64_t w[RING_W];
	int rc = -1;

	if (snapshot(r, w) == 0 && w[0] > 0) {
		words_key(w + 1 + (size_t)((w[0] - 1) % SL_TICKETS_KEYS) *
		    KEY_W, out);
		rc = 0;
	}
	explicit_bzero(w, sizeof(w));
	return rc;
}

int
sl_tickets_find(const struct sl_tickets *r,
    const uint8_t name[SL_TICKET_NAME_LEN], struct sl_ticket_key *out)
{
	uint64_t w[RING_W];
	int age = -1;

	if (snapshot(r, w) == 0)
		for (size_t i = 0; i < SL_TICKETS_KEYS && age == -1; i++) {
			if (slot_age(w, i) == -1 || memcmp(w + 1 + i * KEY_W,
			    name, SL_TICKET_NAME_LEN) != 0)
				continue;
			words_key(w + 1 + i * KEY_W, out);
			age = slot_age(w, i);
		}
	explicit_bzero(w, sizeof(w));
	return age;
}
