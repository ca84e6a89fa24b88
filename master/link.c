/*
 * link: vless:// and trojan:// share links (see link.h).
 *
 * The layout is the one v2rayN writes and v2rayN, v2rayNG and NekoBox
 * read: userinfo@host:port?query#remark, every free-text part percent-
 * encoded (RFC 3986: all but the unreserved characters), "type=tcp&
 * headerType=none" for the plain TCP transport, the ALPN list joined
 * with commas.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "master/link.h"

static void
link_escape(FILE *f, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || strchr("-._~", *p) != NULL)
			fputc(*p, f);
		else
			fprintf(f, "%%%c%c", hex[*p >> 4], hex[*p & 0x0F]);
	}
}

char *
sl_link_format(const struct sl_link *l)
{
	char *out = NULL;
	size_t len;
	FILE *f;

	if ((f = open_memstream(&out, &len)) == NULL)
		return NULL;
	fputs(l->proto == SL_LINK_VLESS ? "vless://" : "trojan://", f);
	link_escape(f, l->secret);
	fprintf(f, strchr(l->host, ':') != NULL ? "@[%s]:%d?" : "@%s:%d?",
	    l->host, l->port);
	if (l->proto == SL_LINK_VLESS)
		fputs("encryption=none&", f);
	fprintf(f, "security=%s", l->tls ? "tls" : "none");
	if (l->tls && l->sni != NULL && l->sni[0] != '\0') {
		fputs("&sni=", f);
		link_escape(f, l->sni);
	}
	if (l->tls && l->nalpn > 0) {
		fputs("&alpn=", f);
		for (size_t i = 0; i < l->nalpn; i++) {
			if (i > 0)
				fputs("%2C", f);
			link_escape(f, l->alpn[i]);
		}
	}
	fputs("&type=tcp&headerType=none", f);
	if (l->proto == SL_LINK_VLESS && l->flow != NULL &&
	    l->flow[0] != '\0') {
		fputs("&flow=", f);
		link_escape(f, l->flow);
	}
	fputc('#', f);
	link_escape(f, l->remark);
	if (ferror(f)) {
		fclose(f);
		free(out);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}
