/*
 * test_tickets: the shared TLS ticket keys (shm/tickets.c) and the ticket
 * callback of worker/tls.c.  The ring keeps the current key and the 2
 * before it; lookups by name; the schedule; the seqlock under a writer in
 * another process; a read-only mapping.  Then whole handshakes (TLS 1.2
 * and 1.3) over socketpairs: a ticket one SSL_CTX issued resumes on
 * another built from the same region, as on another worker; it stops
 * resuming after 3 rotations, on another master's keys, on another
 * inbound, and without a region no ticket is issued at all.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "shm/image.h"
#include "shm/tickets.h"
#include "tests/unit/helpers.h"
#include "worker/tls.h"
#include "worker/tlsbio.h"

#define T0	1000		/* a CLOCK_MONOTONIC ms for the region */

static void
current(const struct sl_tickets *r, struct sl_ticket_key *k)
{
	assert_int_equal(sl_tickets_current(r, k), 0);
}

static void
test_create(void **state)
{
	struct sl_tickets *r;
	struct sl_ticket_key k, z;
	const char *err = NULL;

	(void)state;
	r = sl_tickets_create(T0, &err);
	assert_non_null(r);
	current(r, &k);
	assert_int_equal(k.created, T0);
	memset(&z, 0, sizeof(z));
	assert_memory_not_equal(k.name, z.name, sizeof(k.name));
	assert_memory_not_equal(k.aes, z.aes, sizeof(k.aes));
	assert_memory_not_equal(k.hmac, z.hmac, sizeof(k.hmac));
	assert_memory_not_equal(k.aes, k.hmac, sizeof(k.aes));
	assert_int_equal(sl_tickets_find(r, k.name, &z), 0);
	assert_memory_equal(&k, &z, sizeof(k));
	/* The empty slots of a new ring match no name, zeros included. */
	memset(&z, 0, sizeof(z));
	assert_int_equal(sl_tickets_find(r, z.name, &z), -1);
	assert_int_equal(sl_tickets_due(r), T0 + SL_TICKETS_PERIOD_MS);
	sl_tickets_free(r);
	/* NULL: no keys, never due. */
	assert_int_equal(sl_tickets_current(NULL, &k), -1);
	assert_int_equal(sl_tickets_find(NULL, k.name, &k), -1);
	assert_true(sl_tickets_due(NULL) == UINT64_MAX);
	assert_int_equal(sl_tickets_rotate_due(NULL, T0), 0);
}

static void
test_rotate_keeps_two(void **state)
{
	struct sl_tickets *r;
	struct sl_ticket_key k[5], got;
	const char *err = NULL;

	(void)state;
	r = sl_tickets_create(T0, &err);
	assert_non_null(r);
	current(r, &k[0]);
	for (int i = 1; i < 5; i++) {
		assert_int_equal(sl_tickets_rotate(r, T0 + (uint64_t)i), 0);
		current(r, &k[i]);
		assert_int_equal(k[i].created, T0 + (uint64_t)i);
		for (int j = 0; j < i; j++)
			assert_memory_not_equal(k[i].name, k[j].name,
			    sizeof(k[i].name));
		/* Key i is current, i-1 and i-2 are still known, with
		 * their material; older ones are gone. */
		for (int j = 0; j <= i; j++) {
			int age = sl_tickets_find(r, k[j].name, &got);

			if (i - j <= 2) {
				assert_int_equal(age, i - j);
				assert_memory_equal(&got, &k[j], sizeof(got));
			} else
				assert_int_equal(age, -1);
		}
	}
	sl_tickets_free(r);
}

static void
test_unknown_name(void **state)
{
	struct sl_tickets *r;
	struct sl_ticket_key k, got;
	const char *err = NULL;

	(void)state;
	r = sl_tickets_create(T0, &err);
	assert_non_null(r);
	current(r, &k);
	memset(&got, 0x5a, sizeof(got));
	k.name[15] ^= 1;			/* one bit off */
	assert_int_equal(sl_tickets_find(r, k.name, &got), -1);
	k.name[15] ^= 1;
	k.name[0] ^= 0x80;
	assert_int_equal(sl_tickets_find(r, k.name, &got), -1);
	/* A key name is not a key: the AES key is no name. */
	assert_int_equal(sl_tickets_find(r, k.aes, &got), -1);
	sl_tickets_free(r);
}

static void
test_due(void **state)
{
	struct sl_tickets *r;
	struct sl_ticket_key a, b;
	const char *err = NULL;
	uint64_t due;

	(void)state;
	r = sl_tickets_create(T0, &err);
	assert_non_null(r);
	current(r, &a);
	due = sl_tickets_due(r);
	assert_int_equal(sl_tickets_rotate_due(r, due - 1), 0);
	current(r, &b);
	assert_memory_equal(&a, &b, sizeof(a));
	assert_int_equal(sl_tickets_rotate_due(r, due + 5), 1);
	current(r, &b);
	assert_memory_not_equal(a.name, b.name, sizeof(a.name));
	assert_int_equal(b.created, due + 5);
	assert_int_equal(sl_tickets_due(r), due + 5 + SL_TICKETS_PERIOD_MS);
	assert_int_equal(sl_tickets_find(r, a.name, &b), 1);
	sl_tickets_free(r);
}

/* A read-only mapping reads, and refuses writes: a read(2) into it fails
 * with EFAULT (no signal, so sanitizers stay quiet). */
static void
test_readonly(void **state)
{
	struct sl_tickets *r;
	struct sl_ticket_key k;
	const char *err = NULL;
	int p[2];

	(void)state;
	r = sl_tickets_create(T0, &err);
	assert_non_null(r);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "12345678", 8), 8);
	sl_tickets_readonly(r);
	current(r, &k);
	assert_int_equal(sl_tickets_find(r, k.name, &k), 0);
	errno = 0;
	assert_int_equal(read(p[0], (void *)r, 8), -1);
	assert_int_equal(errno, EFAULT);
	close(p[0]);
	close(p[1]);
	sl_tickets_free(r);
}

/* The writer's keys satisfy material = f(created): a torn read breaks it. */
static void
make_key(struct sl_ticket_key *k, uint64_t n)
{
	for (size_t i = 0; i < sizeof(k->name); i++)
		k->name[i] = (uint8_t)(n >> (8 * (i % 8))) ^ (uint8_t)i;
	for (size_t i = 0; i < sizeof(k->aes); i++)
		k->aes[i] = (uint8_t)(n * 7 + i);
	for (size_t i = 0; i < sizeof(k->hmac); i++)
		k->hmac[i] = (uint8_t)(n * 13 + i * 3);
	k->created = n;
}

static void
expect_made(const struct sl_ticket_key *k)
{
	struct sl_ticket_key want;

	make_key(&want, k->created);
	assert_memory_equal(k, &want, sizeof(want));
}

static void
test_seqlock_concurrent(void **state)
{
	struct sl_tickets *r;
	struct sl_ticket_key k, old, first;
	const char *err = NULL;
	uint64_t last = 0, changes = 0, t0;
	pid_t pid;
	int st;

	(void)state;
	r = sl_tickets_create(T0, &err);
	assert_non_null(r);
	current(r, &first);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* Far more often than a master rotates, with just enough of
		 * a pause that readers are not starved. */
		for (uint64_t n = 1;; n++) {
			make_key(&k, n);
			sl_tickets_install(r, &k);
			for (volatile int i = 0; i < 50; i++)
				;
		}
	}
	do			/* wait for the writer's first key */
		current(r, &k);
	while (memcmp(k.name, first.name, sizeof(k.name)) == 0);
	/* At least 300 ms and 50 distinct keys (20 s at most: on a busy
	 * machine the two processes may share one CPU by turns). */
	t0 = th_now_ms();
	while (changes < 50 || th_now_ms() - t0 < 300) {
		assert_true(th_now_ms() - t0 < 20000);
		for (int i = 0; i < 1000; i++) {
			int age;

			current(r, &k);
			expect_made(&k);
			assert_true(k.created >= last);	/* never back */
			changes += k.created != last;
			last = k.created;
			if (k.created < 2)
				continue;
			/* The one before: still in the ring, or gone
			 * since; never torn, never mistaken. */
			make_key(&old, k.created - 1);
			age = sl_tickets_find(r, old.name, &old);
			assert_true(age == -1 || age == 1 || age == 2);
			if (age != -1) {
				expect_made(&old);
				assert_int_equal(old.created, k.created - 1);
			}
		}
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	sl_tickets_free(r);
}

/* ---- handshakes ---- */

struct pki {
	char		*cert, *key;	/* PEM */
};

static char *
bio_string(BIO *b)
{
	char *data, *s;
	long n = BIO_get_mem_data(b, &data);

	assert_true(n > 0);
	s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	memcpy(s, data, (size_t)n);
	BIO_free(b);
	return s;
}

/* A self-signed P-256 certificate for example.test. */
static void
pki_make(struct pki *p)
{
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n;
	BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());

	assert_non_null(pk);
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, 2), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)"example.test", -1, -1, 0);
	assert_int_equal(X509_set_issuer_name(x, n), 1);
	assert_int_equal(X509_set_pubkey(x, pk), 1);
	assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
	assert_int_equal(PEM_write_bio_X509(cb, x), 1);
	assert_int_equal(PEM_write_bio_PrivateKey(kb, pk, NULL, NULL, 0, NULL,
	    NULL), 1);
	p->cert = bio_string(cb);
	p->key = bio_string(kb);
	X509_free(x);
	EVP_PKEY_free(pk);
}

/* An image with three TLS inbounds and one certificate: "in-a" and "in-b"
 * with enableSessionResumption, "in-off" without. */
static uint8_t *
image_make(const struct pki *p, struct sl_img *img)
{
	struct sl_img_builder b;
	struct sl_img_cert ce;
	struct sl_img_inbound in;
	static const char *tags[] = { "in-a", "in-b", "in-off" };

	th_img_begin(&b);
	memset(&ce, 0, sizeof(ce));
	ce.cert_pem = sl_imgb_cstr(&b, p->cert);
	ce.key_pem = sl_imgb_cstr(&b, p->key);
	sl_imgb_add(&b, SL_SECT_CERTS, &ce, sizeof(ce));
	for (int i = 0; i < 3; i++) {
		memset(&in, 0, sizeof(in));
		in.resumption = i < 2;
		in.tag = sl_imgb_cstr(&b, tags[i]);
		in.port = (uint16_t)(443 + i);
		in.protocol = SL_IMG_IN_VLESS;
		in.security = SL_IMG_SEC_TLS;
		in.certs_first = 0;
		in.certs_count = 1;
		sl_imgb_add(&b, SL_SECT_INBOUNDS, &in, sizeof(in));
	}
	return th_img_finish(&b, img);
}

struct world {
	struct pki	 pki;
	struct sl_img	 img;
	uint8_t		*buf;
};

static int
world_setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));

	assert_non_null(w);
	pki_make(&w->pki);
	w->buf = image_make(&w->pki, &w->img);
	*state = w;
	return 0;
}

static int
world_teardown(void **state)
{
	struct world *w = *state;

	free(w->buf);
	free(w->pki.cert);
	free(w->pki.key);
	free(w);
	return 0;
}

static struct sl_tls_ctx *
server(struct world *w, uint32_t inbound, const struct sl_tickets *r)
{
	const char *err = NULL;
	struct sl_tls_ctx *t = sl_tls_ctx_new(&w->img, inbound, r, &err);

	if (t == NULL)
		fail_msg("sl_tls_ctx_new: %s", err);
	return t;
}

static SSL_CTX *
client(int version)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());

	assert_non_null(c);
	SSL_CTX_set_min_proto_version(c, version);
	SSL_CTX_set_max_proto_version(c, version);
	return c;
}

/* Step whichever side can move; 1 when it is done. */
static int
step(SSL *s, int *done)
{
	int r, e;

	if (*done)
		return 1;
	if ((r = SSL_do_handshake(s)) == 1)
		return *done = 1;
	e = SSL_get_error(s, r);
	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
		ERR_print_errors_fp(stderr);
		fail_msg("handshake failed: SSL error %d", e);
	}
	return 0;
}

/*
 * One connection from a client of VERSION (offering SESS, or nothing) to
 * server T over a socketpair: the handshake, then one byte from the
 * server, which the client reads (and with it a TLS 1.3 ticket).
 * Returns whether the session was resumed; *out = the client's session
 * after all that (the caller frees it).
 */
static int
connect_once(struct sl_tls_ctx *t, int version, SSL_SESSION *sess,
    SSL_SESSION **out)
{
	SSL_CTX *cctx = client(version);
	SSL *c, *s;
	int fd[2], cdone = 0, sdone = 0, reused, n = 0;
	char byte = 0;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0,
	    fd), 0);
	s = sl_tls_new(t, fd[0]);
	assert_non_null(s);
	c = SSL_new(cctx);
	assert_non_null(c);
	assert_int_equal(SSL_set_fd(c, fd[1]), 1);
	SSL_set_tlsext_host_name(c, "example.test");
	if (sess != NULL)
		assert_int_equal(SSL_set_session(c, sess), 1);
	SSL_set_connect_state(c);
	for (int i = 0; !(cdone && sdone); i++) {
		assert_true(i < 100);
		step(c, &cdone);
		step(s, &sdone);
	}
	/* As the worker does: what the handshake left in the BIO goes. */
	assert_int_equal(sl_tlsbio_flush(s), 1);
	assert_int_equal(SSL_write(s, "x", 1), 1);
	assert_int_equal(sl_tlsbio_flush(s), 1);
	for (int i = 0; n != 1; i++) {
		assert_true(i < 100);
		n = SSL_read(c, &byte, 1);
		if (n <= 0)
			assert_int_equal(SSL_get_error(c, n),
			    SSL_ERROR_WANT_READ);
	}
	assert_int_equal(byte, 'x');
	assert_int_equal(SSL_version(c), version);
	reused = SSL_session_reused(c);
	assert_int_equal(SSL_session_reused(s), reused);
	*out = SSL_get1_session(c);
	assert_non_null(*out);
	/* Closed properly: an SSL freed in the middle of a connection
	 * marks its session not resumable. */
	SSL_shutdown(c);
	SSL_shutdown(s);
	SSL_free(c);
	SSL_free(s);
	close(fd[0]);
	close(fd[1]);
	SSL_CTX_free(cctx);
	return reused;
}

/* The name of the key a session's ticket was made with: its first
 * 16 bytes (OpenSSL's format). */
static void
expect_ticket_key(SSL_SESSION *sess, const struct sl_tickets *r)
{
	const unsigned char *tick;
	size_t len;
	struct sl_ticket_key k;

	assert_int_equal(SSL_SESSION_has_ticket(sess), 1);
	SSL_SESSION_get0_ticket(sess, &tick, &len);
	assert_true(len > SL_TICKET_NAME_LEN);
	current(r, &k);
	assert_memory_equal(tick, k.name, SL_TICKET_NAME_LEN);
}

static int
same_ticket(SSL_SESSION *a, SSL_SESSION *b)
{
	const unsigned char *ta, *tb;
	size_t la, lb;

	SSL_SESSION_get0_ticket(a, &ta, &la);
	SSL_SESSION_get0_ticket(b, &tb, &lb);
	return la == lb && memcmp(ta, tb, la) == 0;
}

static void
across_workers(struct world *w, int version)
{
	struct sl_tickets *r, *other;
	struct sl_tls_ctx *a, *b, *c, *inb;
	SSL_SESSION *s1, *s2;
	const char *err = NULL;

	r = sl_tickets_create(T0, &err);
	other = sl_tickets_create(T0, &err);
	assert_non_null(r);
	assert_non_null(other);
	a = server(w, 0, r);		/* "worker 0" */
	b = server(w, 0, r);		/* "worker 1", same keys */
	c = server(w, 0, other);	/* another master's worker */
	inb = server(w, 1, r);		/* same keys, another inbound */

	assert_int_equal(connect_once(a, version, NULL, &s1), 0);
	expect_ticket_key(s1, r);
	/* The server keeps a session for two rotation periods and tells
	 * the client so (OpenSSL's default would be 2 hours). */
	assert_int_equal(SSL_SESSION_get_ticket_lifetime_hint(s1),
	    SL_TICKETS_LIFETIME_S);
	/* The other worker resumes it, and so does the first.  A TLS 1.2
	 * ticket under the current key is kept; a TLS 1.3 one is used once
	 * by clients, so every resumption brings a new one. */
	assert_int_equal(connect_once(b, version, s1, &s2), 1);
	assert_int_equal(same_ticket(s1, s2), version == TLS1_2_VERSION);
	expect_ticket_key(s2, r);
	SSL_SESSION_free(s2);
	assert_int_equal(connect_once(a, version, s1, &s2), 1);
	SSL_SESSION_free(s2);
	/* Another master's keys, another inbound: full handshakes. */
	assert_int_equal(connect_once(c, version, s1, &s2), 0);
	SSL_SESSION_free(s2);
	assert_int_equal(connect_once(inb, version, s1, &s2), 0);
	SSL_SESSION_free(s2);

	/* One and two rotations: still resumed, and the client gets a
	 * ticket under the new current key. */
	for (int i = 1; i <= 2; i++) {
		assert_int_equal(sl_tickets_rotate(r, T0 + (uint64_t)i), 0);
		assert_int_equal(connect_once(b, version, s1, &s2), 1);
		expect_ticket_key(s2, r);
		SSL_SESSION_free(s2);
	}
	/* The third: s1's key has left the ring. */
	assert_int_equal(sl_tickets_rotate(r, T0 + 3), 0);
	assert_int_equal(connect_once(b, version, s1, &s2), 0);
	expect_ticket_key(s2, r);
	/* ... and the fresh session resumes anywhere again. */
	SSL_SESSION_free(s1);
	assert_int_equal(connect_once(a, version, s2, &s1), 1);
	SSL_SESSION_free(s1);
	SSL_SESSION_free(s2);

	sl_tls_ctx_free(a);
	sl_tls_ctx_free(b);
	sl_tls_ctx_free(c);
	sl_tls_ctx_free(inb);
	sl_tickets_free(r);
	sl_tickets_free(other);
}

static void
test_across_workers_tls12(void **state)
{
	across_workers(*state, TLS1_2_VERSION);
}

static void
test_across_workers_tls13(void **state)
{
	across_workers(*state, TLS1_3_VERSION);
}

/* Without a region (unit tests, tools): no ticket at all, as before. */
static void
no_region(struct world *w, int version)
{
	struct sl_tls_ctx *t = server(w, 0, NULL);
	SSL_SESSION *s1, *s2;

	assert_int_equal(connect_once(t, version, NULL, &s1), 0);
	assert_int_equal(SSL_SESSION_has_ticket(s1), 0);
	assert_int_equal(connect_once(t, version, s1, &s2), 0);
	SSL_SESSION_free(s1);
	SSL_SESSION_free(s2);
	sl_tls_ctx_free(t);
}

static void
test_no_region(void **state)
{
	no_region(*state, TLS1_2_VERSION);
	no_region(*state, TLS1_3_VERSION);
}

/* The keys are there, the inbound did not ask (Xray's default). */
static void
test_no_resumption(void **state)
{
	struct world *w = *state;
	const char *err = NULL;
	struct sl_tickets *r = sl_tickets_create(T0, &err);
	int versions[] = { TLS1_2_VERSION, TLS1_3_VERSION };

	assert_non_null(r);
	for (int i = 0; i < 2; i++) {
		struct sl_tls_ctx *t = server(w, 2, r);
		SSL_SESSION *s1, *s2;

		assert_int_equal(connect_once(t, versions[i], NULL, &s1), 0);
		assert_int_equal(SSL_SESSION_has_ticket(s1), 0);
		assert_int_equal(connect_once(t, versions[i], s1, &s2), 0);
		SSL_SESSION_free(s1);
		SSL_SESSION_free(s2);
		sl_tls_ctx_free(t);
	}
	sl_tickets_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create),
		cmocka_unit_test(test_rotate_keeps_two),
		cmocka_unit_test(test_unknown_name),
		cmocka_unit_test(test_due),
		cmocka_unit_test(test_readonly),
		cmocka_unit_test(test_seqlock_concurrent),
	};
	const struct CMUnitTest tls[] = {
		cmocka_unit_test(test_across_workers_tls12),
		cmocka_unit_test(test_across_workers_tls13),
		cmocka_unit_test(test_no_region),
		cmocka_unit_test(test_no_resumption),
	};
	int failed;

	failed = cmocka_run_group_tests(tests, NULL, NULL);
	failed += cmocka_run_group_tests(tls, world_setup, world_teardown);
	return failed;
}
