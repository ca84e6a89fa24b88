/*
 * tls: SSL_CTX per certificate of an inbound, SNI, ALPN and session
 * ticket callbacks.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "shm/log.h"
#include "shm/tickets.h"
#include "worker/tlsbio.h"
#include "worker/tls.h"

struct sl_tls_ctx {
	SSL_CTX		**ctx;		/* one per certificate; [0] = default */
	X509		**leaf;
	size_t		 n;
	const uint8_t	*alpn;		/* server list, wire format */
	size_t		 alpn_len;
	int		 reject_unknown_sni;
	const char	*server_name;	/* also accepted under rejectUnknownSni */
	const struct sl_tickets *tickets;	/* NULL: no session tickets */
	/* Sessions resume only on the inbound that made them, and only
	 * while its certificates are the same. */
	uint8_t		 sid_ctx[SSL_MAX_SID_CTX_LENGTH];
};

static int
alpn_has(const uint8_t *list, size_t len, const char *p, size_t plen)
{
	for (size_t i = 0; i < len; i += 1 + list[i])
		if (list[i] == plen && i + 1 + plen <= len &&
		    memcmp(list + i + 1, p, plen) == 0)
			return 1;
	return 0;
}

int
sl_tls_alpn_choose(const uint8_t *server, size_t slen, const uint8_t *client,
    size_t clen, const uint8_t **out, uint8_t *outlen)
{
	/* Server preference order, as Go does. */
	for (size_t i = 0; i < slen; i += 1 + server[i]) {
		if (i + 1 + server[i] > slen)
			break;
		if (alpn_has(client, clen, (const char *)server + i + 1,
		    server[i])) {
			*out = server + i + 1;
			*outlen = server[i];
			return 0;
		}
	}
	/* Go: a client offering http/1.1 to an h2 server gets no ALPN
	 * instead of an alert (HTTP/1.1 is implied). */
	if (alpn_has(client, clen, "http/1.1", 8) &&
	    alpn_has(server, slen, "h2", 2))
		return 1;
	return -1;
}

static int
alpn_cb(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	struct sl_tls_ctx *t = arg;
	int r;

	(void)ssl;
	if (t->alpn_len == 0)
		return SSL_TLSEXT_ERR_NOACK;
	r = sl_tls_alpn_choose(t->alpn, t->alpn_len, in, inlen, out, outlen);
	if (r == 0)
		return SSL_TLSEXT_ERR_OK;
	return r == 1 ? SSL_TLSEXT_ERR_NOACK : SSL_TLSEXT_ERR_ALERT_FATAL;
}

static int
sni_cb(SSL *ssl, int *alert, void *arg)
{
	struct sl_tls_ctx *t = arg;
	const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

	if (name == NULL || *name == '\0')
		return SSL_TLSEXT_ERR_OK;
	for (size_t i = 0; i < t->n; i++) {
		if (X509_check_host(t->leaf[i], name, 0, 0, NULL) == 1) {
			if (i > 0)
				SSL_set_SSL_CTX(ssl, t->ctx[i]);
			return SSL_TLSEXT_ERR_OK;
		}
	}
	if (t->reject_unknown_sni && strcasecmp(name, t->server_name) != 0) {
		*alert = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	return SSL_TLSEXT_ERR_OK;
}

/*
 * Session tickets under the master's keys (shm/tickets.h), in OpenSSL's
 * own format (key name, IV, AES-256-CBC, HMAC-SHA256), so that any worker
 * of any generation reads a ticket another one issued.  Encrypt with the
 * current key; decrypt with the key the ticket names, asking for a new
 * ticket (2) when that key is no longer the current one, and after every
 * TLS 1.3 resumption: clients use a 1.3 ticket once (RFC 8446 C.4) and
 * OpenSSL sends a new one only when asked (Go's server always sends one).
 * An unknown name (another master, or a key rotated out) means a full
 * handshake (0); so does any failure here, and encrypting goes without a
 * ticket: 0 is never fatal to the connection.
 */
static int
ticket_cb(SSL *ssl, unsigned char name[SL_TICKET_NAME_LEN],
    unsigned char iv[EVP_MAX_IV_LENGTH], EVP_CIPHER_CTX *cctx,
    EVP_MAC_CTX *hctx, int enc)
{
	static char digest[] = "SHA256";
	const struct sl_tls_ctx *t =
	    SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	const EVP_CIPHER *aes = EVP_aes_256_cbc();
	struct sl_ticket_key k;
	OSSL_PARAM params[3];
	int age, rc = 0;

	if (enc) {
		if (sl_tickets_current(t->tickets, &k) == -1)
			return 0;
		age = 0;
		memcpy(name, k.name, sizeof(k.name));
		if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(aes)) != 1)
			goto out;
	} else if ((age = sl_tickets_find(t->tickets, name, &k)) == -1)
		return 0;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    digest, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    k.hmac, sizeof(k.hmac));
	params[2] = OSSL_PARAM_construct_end();
	if (EVP_CipherInit_ex(cctx, aes, NULL, k.aes, iv, enc) != 1 ||
	    EVP_MAC_CTX_set_params(hctx, params) != 1)
		goto out;
	rc = age == 0 && SSL_version(ssl) != TLS1_3_VERSION ? 1 : 2;
out:
	if (rc == 0)	/* a stale error would fail this connection's I/O */
		ERR_clear_error();
	explicit_bzero(&k, sizeof(k));
	return rc;
}

/* One string of the image into the digest, length first. */
static int
digest_str(EVP_MD_CTX *md, const struct sl_img *img, struct sl_str s)
{
	return EVP_DigestUpdate(md, &s.len, sizeof(s.len)) == 1 &&
	    EVP_DigestUpdate(md, sl_img_str(img, s), s.len) == 1;
}

/* The session id context: SHA-256 of the inbound's tag and certificates
 * (nginx hashes its server's certificates the same way). */
static int
sid_ctx_make(struct sl_tls_ctx *t, const struct sl_img *img,
    const struct sl_img_inbound *in)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned int len = 0;
	int ok;

	ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 &&
	    digest_str(md, img, in->tag);
	for (uint32_t i = 0; ok && i < in->certs_count; i++)
		ok = digest_str(md, img, SL_IMG_REC(img, SL_SECT_CERTS,
		    struct sl_img_cert, in->certs_first + i)->cert_pem);
	ok = ok && EVP_DigestFinal_ex(md, t->sid_ctx, &len) == 1 &&
	    len == sizeof(t->sid_ctx);
	EVP_MD_CTX_free(md);
	return ok ? 0 : -1;
}

/* Tickets only with the master's keys: without them (tests, tools) send
 * none rather than tickets only this process could read. */
static int
ctx_tickets(struct sl_tls_ctx *t, SSL_CTX *ctx)
{
	if (t->tickets == NULL) {
		SSL_CTX_set_num_tickets(ctx, 0);
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
		return 0;
	}
	/* One TLS 1.3 ticket per handshake, as Go's server sends. */
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_timeout(ctx, SL_TICKETS_LIFETIME_S);
	SSL_CTX_set_app_data(ctx, t);
	if (SSL_CTX_set_session_id_context(ctx, t->sid_ctx,
	    sizeof(t->sid_ctx)) != 1 ||
	    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb) != 1)
		return -1;
	return 0;
}

static SSL_CTX *
ctx_make(struct sl_tls_ctx *t, const struct sl_img_inbound *in,
    const char *cert, size_t clen, const char *key, size_t klen, X509 **leaf)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	BIO *cb = BIO_new_mem_buf(cert, (int)clen);
	BIO *kb = BIO_new_mem_buf(key, (int)klen);
	EVP_PKEY *pk = NULL;
	X509 *x = NULL, *ca;
	int ok = 0;

	if (ctx == NULL || cb == NULL || kb == NULL)
		goto out;
	if ((x = PEM_read_bio_X509(cb, NULL, NULL, NULL)) == NULL ||
	    SSL_CTX_use_certificate(ctx, x) != 1)
		goto out;
	while ((ca = PEM_read_bio_X509(cb, NULL, NULL, NULL)) != NULL)
		if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
			X509_free(ca);
			goto out;
		}
	ERR_clear_error();	/* the chain loop ends on "no start line" */
	if ((pk = PEM_read_bio_PrivateKey(kb, NULL, NULL, NULL)) == NULL ||
	    SSL_CTX_use_PrivateKey(ctx, pk) != 1)
		goto out;
	if (in->tls_min)
		SSL_CTX_set_min_proto_version(ctx, in->tls_min);
	if (in->tls_max)
		SSL_CTX_set_max_proto_version(ctx, in->tls_max);
	if (ctx_tickets(t, ctx) == -1)
		goto out;
	/* A client that half-closes with a bare FIN (no close_notify) has
	 * ended its direction, not broken the connection: read it as EOF
	 * instead of a fatal error (which would also send it an alert). */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* Whole writes: the records of one SSL_write leave together
	 * (worker/tlsbio.h). */
	SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
	    SSL_MODE_RELEASE_BUFFERS);
	/* One read(2) per record instead of two (header, then body); the
	 * worker posts an event for what OpenSSL holds (sl_ev_post). */
	SSL_CTX_set_read_ahead(ctx, 1);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, t);
	SSL_CTX_set_tlsext_servername_callback(ctx, sni_cb);
	SSL_CTX_set_tlsext_servername_arg(ctx, t);
	ok = 1;
out:
	EVP_PKEY_free(pk);
	BIO_free(cb);
	BIO_free(kb);
	if (!ok) {
		X509_free(x);
		SSL_CTX_free(ctx);
		return NULL;
	}
	*leaf = x;
	return ctx;
}

struct sl_tls_ctx *
sl_tls_ctx_new(const struct sl_img *img, uint32_t inbound,
    const struct sl_tickets *tickets, const char **err)
{
	const struct sl_img_inbound *in =
	    SL_IMG_REC(img, SL_SECT_INBOUNDS, struct sl_img_inbound, inbound);
	struct sl_tls_ctx *t = calloc(1, sizeof(*t));
	const char *why = "cannot load certificate";

	if (t == NULL || in->certs_count == 0) {
		*err = "no certificate";
		free(t);
		return NULL;
	}
	t->ctx = calloc(in->certs_count, sizeof(*t->ctx));
	t->leaf = calloc(in->certs_count, sizeof(*t->leaf));
	t->alpn = (const uint8_t *)sl_img_str(img, in->alpn_wire);
	t->alpn_len = in->alpn_wire.len;
	t->reject_unknown_sni = in->reject_unknown_sni;
	t->server_name = sl_img_str(img, in->server_name);
	/* As Xray: tickets only where enableSessionResumption asks. */
	t->tickets = in->resumption ? tickets : NULL;
	if (t->ctx == NULL || t->leaf == NULL)
		goto fail;
	if (t->tickets != NULL && sid_ctx_make(t, img, in) == -1) {
		why = "cannot hash the certificates";
		goto fail;
	}
	for (uint32_t i = 0; i < in->certs_count; i++) {
		const struct sl_img_cert *ce = SL_IMG_REC(img, SL_SECT_CERTS,
		    struct sl_img_cert, in->certs_first + i);

		t->ctx[i] = ctx_make(t, in, sl_img_str(img, ce->cert_pem),
		    ce->cert_pem.len, sl_img_str(img, ce->key_pem),
		    ce->key_pem.len, &t->leaf[i]);
		if (t->ctx[i] == NULL)
			goto fail;
		t->n++;
	}
	return t;
fail:
	*err = why;
	ERR_clear_error();
	sl_tls_ctx_free(t);
	return NULL;
}

void
sl_tls_ctx_free(struct sl_tls_ctx *t)
{
	if (t == NULL)
		return;
	for (size_t i = 0; i < t->n; i++) {
		SSL_CTX_free(t->ctx[i]);
		X509_free(t->leaf[i]);
	}
	free(t->ctx);
	free(t->leaf);
	free(t);
}

SSL *
sl_tls_new(struct sl_tls_ctx *t, int fd)
{
	SSL *ssl = SSL_new(t->ctx[0]);
	BIO *b;

	if (ssl == NULL)
		return NULL;
	if ((b = sl_tlsbio_new(fd)) == NULL) {
		SSL_free(ssl);
		return NULL;
	}
	SSL_set_bio(ssl, b, b);
	SSL_set_accept_state(ssl);
	return ssl;
}
