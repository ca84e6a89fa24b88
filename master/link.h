/*
 * link: share links for one user of one inbound, as the vless:// and
 * trojan:// URIs that v2rayN, v2rayNG and NekoBox import.
 *
 * Owns the formatting only (no I/O): the caller finds the host, the SNI
 * and the ALPN list (master/ctl_user.c).
 */
#ifndef SL_MASTER_LINK_H
#define SL_MASTER_LINK_H

#include <stddef.h>

enum sl_link_proto { SL_LINK_VLESS = 1, SL_LINK_TROJAN = 2 };

struct sl_link {
	enum sl_link_proto proto;
	const char	*secret;	/* VLESS: the UUID; Trojan: password */
	const char	*host;		/* name or address, IPv6 unbracketed */
	int		 port;
	int		 tls;		/* security=tls, else security=none */
	const char	*sni;		/* TLS only; NULL or "": left out */
	const char *const *alpn;	/* TLS only; none: left out */
	size_t		 nalpn;
	const char	*flow;		/* VLESS only; NULL or "": left out */
	const char	*remark;	/* the fragment: the user's email */
};

/* The link, NUL-terminated and malloc'ed; NULL when out of memory. */
char	*sl_link_format(const struct sl_link *);

#endif
