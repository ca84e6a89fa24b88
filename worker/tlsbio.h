/*
 * tlsbio: the socket BIO under every server-side SSL of a worker.
 *
 * OpenSSL's socket BIO makes one send(2) per TLS record: four calls, and
 * four trips through loopback's receive path, for every 64 KiB relayed.
 * This BIO gathers the records of one burst (up to four full records) in
 * a buffer that exists only while it holds bytes, and sends them with one
 * call: at OpenSSL's flushes (end of a handshake flight, fatal alerts),
 * when the buffer is full, and when the owner calls sl_tlsbio_flush after
 * its SSL_write calls.  Reads go straight to recv(2).
 *
 * The owner must flush after writing and must keep asking for EPOLLOUT
 * while sl_tlsbio_pending is non-zero: bytes OpenSSL counts as written
 * may still be here.
 */
#ifndef SL_WORKER_TLSBIO_H
#define SL_WORKER_TLSBIO_H

#include <openssl/ssl.h>
#include <stddef.h>

/* Four full TLS 1.3 records (16 KiB + 22 bytes of framing each). */
#define SL_TLSBIO_CAP	(4 * (16384 + 256))

/* A BIO on FD (not closed by the BIO), or NULL. */
BIO	*sl_tlsbio_new(int fd);
/* Send what is gathered: 1 all sent (or nothing was held), 0 some is
 * left (the socket is full), -1 error (errno). */
int	 sl_tlsbio_flush(SSL *);
/* Bytes gathered and not yet sent. */
size_t	 sl_tlsbio_pending(SSL *);

#endif
