/*
 * image_check: validate a table image before anyone reads it.
 *
 * The reader trusts nothing: the header, every section bound, every
 * string, every index range and every cross reference is checked once
 * when a process maps an image, so lookups afterwards need no checks.
 */
#include <string.h>

#include "shm/domset.h"
#include "shm/image.h"


struct check {
	const uint8_t		*base;
	const struct sl_img_hdr	*hdr;
	const char		*err;
};

static int
str_ok(const struct check *c, struct sl_str s)
{
	uint64_t end = (uint64_t)s.off + s.len;

	/* A string is followed by its NUL terminator inside the section. */
	return end < c->hdr->sect[SL_SECT_STRINGS].count &&
	    c->base[c->hdr->sect[SL_SECT_STRINGS].off + end] == '\0';
}

static int
range_ok(const struct check *c, enum sl_img_sect s, uint32_t first,
    uint32_t count)
{
	return (uint64_t)first + count <= c->hdr->sect[s].count;
}

static int
index_ok(const struct check *c, enum sl_img_sect s, uint32_t i)
{
	return i < c->hdr->sect[s].count;
}

/* An optional index: SL_IMG_NONE or a valid record. */
static int
opt_ok(const struct check *c, enum sl_img_sect s, uint32_t i)
{
	return i == SL_IMG_NONE || index_ok(c, s, i);
}

#define REC(c, s, type, i) \
	((const type *)((c)->base + (c)->hdr->sect[s].off) + (i))
#define FAIL(c, msg)	do { (c)->err = (msg); return -1; } while (0)

/* Every element of a U32 list (already range-checked) indexes S. */
static int
u32_refs_ok(const struct check *c, uint32_t first, uint32_t count,
    enum sl_img_sect s)
{
	for (uint32_t i = 0; i < count; i++)
		if (!index_ok(c, s, *REC(c, SL_SECT_U32, uint32_t, first + i)))
			return 0;
	return 1;
}

static int
check_inbounds(struct check *c)
{
	for (uint32_t i = 0; i < c->hdr->sect[SL_SECT_INBOUNDS].count; i++) {
		const struct sl_img_inbound *in =
		    REC(c, SL_SECT_INBOUNDS, struct sl_img_inbound, i);
		enum sl_img_sect us = in->protocol == SL_IMG_IN_VLESS ?
		    SL_SECT_VLESS_USERS : SL_SECT_TROJAN_USERS;

		if (in->protocol != SL_IMG_IN_VLESS &&
		    in->protocol != SL_IMG_IN_TROJAN)
			FAIL(c, "inbound: bad protocol");
		if (!str_ok(c, in->tag) || !str_ok(c, in->listen) ||
		    !str_ok(c, in->alpn_wire) || !str_ok(c, in->server_name))
			FAIL(c, "inbound: bad string");
		if (!range_ok(c, us, in->users_first, in->users_count) ||
		    !range_ok(c, SL_SECT_FB_NAMES, in->fb_names_first,
		    in->fb_names_count) ||
		    !range_ok(c, SL_SECT_CERTS, in->certs_first,
		    in->certs_count) ||
		    !range_ok(c, SL_SECT_U32, in->sniff_excl_first,
		    in->sniff_excl_count) || (in->sniff_ips_excl != 0 &&
		    !index_ok(c, SL_SECT_IPMATCH, in->sniff_ips_excl - 1)))
			FAIL(c, "inbound: bad range");
		if (!u32_refs_ok(c, in->sniff_excl_first, in->sniff_excl_count,
		    SL_SECT_DOMSETS))
			FAIL(c, "inbound: bad domain set");
	}
	return 0;
}

static int
check_users(struct check *c)
{
	uint32_t i;

	for (i = 0; i < c->hdr->sect[SL_SECT_VLESS_USERS].count; i++) {
		const struct sl_img_vless_user *u =
		    REC(c, SL_SECT_VLESS_USERS, struct sl_img_vless_user, i);
		if (!str_ok(c, u->email) || !str_ok(c, u->flow))
			FAIL(c, "vless user: bad string");
	}
	for (i = 0; i < c->hdr->sect[SL_SECT_TROJAN_USERS].count; i++) {
		const struct sl_img_trojan_user *u =
		    REC(c, SL_SECT_TROJAN_USERS, struct sl_img_trojan_user, i);
		if (!str_ok(c, u->email))
			FAIL(c, "trojan user: bad string");
	}
	return 0;
}

static int
check_fallbacks(struct check *c)
{
	uint32_t i;

	for (i = 0; i < c->hdr->sect[SL_SECT_FB_NAMES].count; i++) {
		const struct sl_img_fb_name *n =
		    REC(c, SL_SECT_FB_NAMES, struct sl_img_fb_name, i);
		if (!str_ok(c, n->name) || !range_ok(c, SL_SECT_FB_ALPNS,
		    n->alpns_first, n->alpns_count))
			FAIL(c, "fallback name: bad record");
	}
	for (i = 0; i < c->hdr->sect[SL_SECT_FB_ALPNS].count; i++) {
		const struct sl_img_fb_alpn *a =
		    REC(c, SL_SECT_FB_ALPNS, struct sl_img_fb_alpn, i);
		if (!str_ok(c, a->alpn) || !range_ok(c, SL_SECT_FB_PATHS,
		    a->paths_first, a->paths_count))
			FAIL(c, "fallback alpn: bad record");
	}
	for (i = 0; i < c->hdr->sect[SL_SECT_FB_PATHS].count; i++) {
		const struct sl_img_fb_path *p =
		    REC(c, SL_SECT_FB_PATHS, struct sl_img_fb_path, i);
		if (!str_ok(c, p->path) || !index_ok(c, SL_SECT_DESTS, p->dest))
			FAIL(c, "fallback path: bad record");
	}
	return 0;
}

static int
check_dests(struct check *c)
{
	uint32_t i;

	for (i = 0; i < c->hdr->sect[SL_SECT_DESTS].count; i++) {
		const struct sl_img_dest *d =
		    REC(c, SL_SECT_DESTS, struct sl_img_dest, i);
		if (!str_ok(c, d->text) || d->xver > 2 ||
		    (d->kind != SL_IMG_DEST_TCP && d->kind != SL_IMG_DEST_UNIX) ||
		    !range_ok(c, SL_SECT_ADDRS, d->addrs_first, d->addrs_count))
			FAIL(c, "dest: bad record");
	}
	for (i = 0; i < c->hdr->sect[SL_SECT_ADDRS].count; i++) {
		const struct sl_img_addr *a =
		    REC(c, SL_SECT_ADDRS, struct sl_img_addr, i);
		if (a->len < 2 || a->len > sizeof(a->sa))
			FAIL(c, "addr: bad length");
	}
	return 0;
}

/* The bucket index: in BLOB, 4-aligned, non-decreasing, within range. */
static int
v4_index_ok(const struct check *c, const struct sl_img_ipset *s)
{
	const uint32_t *idx;
	uint64_t bytes = (SL_IPSET_BUCKETS + 1) * sizeof(uint32_t);

	if (s->v4_index == 0)
		return 1;
	if ((s->v4_index - 1) % 4 != 0 ||
	    s->v4_index - 1 + bytes > c->hdr->sect[SL_SECT_BLOB].count)
		return 0;
	idx = (const uint32_t *)(c->base + c->hdr->sect[SL_SECT_BLOB].off +
	    s->v4_index - 1);
	for (uint32_t b = 0; b < SL_IPSET_BUCKETS; b++)
		if (idx[b] > idx[b + 1])
			return 0;
	return idx[SL_IPSET_BUCKETS] == s->v4_count;
}

static int
check_outbounds(struct check *c)
{
	uint32_t i;

	for (i = 0; i < c->hdr->sect[SL_SECT_OUTBOUNDS].count; i++) {
		const struct sl_img_outbound *o =
		    REC(c, SL_SECT_OUTBOUNDS, struct sl_img_outbound, i);
		if (!str_ok(c, o->tag) || !range_ok(c, SL_SECT_FINAL_RULES,
		    o->final_first, o->final_count) ||
		    !index_ok(c, SL_SECT_IPSETS, o->default_block_ipset) ||
		    (o->send_through != 0 &&
		    !index_ok(c, SL_SECT_ADDRS, o->send_through - 1)) ||
		    !str_ok(c, o->redirect_host) || !str_ok(c, o->server) ||
		    !str_ok(c, o->user) || !str_ok(c, o->pass) ||
		    !range_ok(c, SL_SECT_ADDRS, o->server_addrs_first,
		    o->server_addrs_count) || o->protocol < SL_IMG_OUT_FREEDOM ||
		    o->protocol > SL_IMG_OUT_HTTP)
			FAIL(c, "outbound: bad record");
	}
	for (i = 0; i < c->hdr->sect[SL_SECT_FINAL_RULES].count; i++) {
		const struct sl_img_final_rule *r =
		    REC(c, SL_SECT_FINAL_RULES, struct sl_img_final_rule, i);
		if (!range_ok(c, SL_SECT_PORT_RANGES, r->ports_first,
		    r->ports_count) || (r->has_ips &&
		    !index_ok(c, SL_SECT_IPSETS, r->ipset)))
			FAIL(c, "final rule: bad record");
	}
	for (i = 0; i < c->hdr->sect[SL_SECT_IPSETS].count; i++) {
		const struct sl_img_ipset *s =
		    REC(c, SL_SECT_IPSETS, struct sl_img_ipset, i);
		if (!range_ok(c, SL_SECT_V4_RANGES, s->v4_first, s->v4_count) ||
		    !range_ok(c, SL_SECT_V6_RANGES, s->v6_first, s->v6_count) ||
		    !v4_index_ok(c, s))
			FAIL(c, "ipset: bad range");
	}
	if (c->hdr->sect[SL_SECT_OUTBOUNDS].count == 0 ||
	    !index_ok(c, SL_SECT_OUTBOUNDS, c->hdr->globals.default_outbound))
		FAIL(c, "no default outbound");
	return 0;
}

static int
check_misc(struct check *c)
{
	uint32_t i;

	for (i = 0; i < c->hdr->sect[SL_SECT_CERTS].count; i++) {
		const struct sl_img_cert *ce =
		    REC(c, SL_SECT_CERTS, struct sl_img_cert, i);
		if (!str_ok(c, ce->cert_pem) || !str_ok(c, ce->key_pem))
			FAIL(c, "cert: bad string");
	}
	if (c->hdr->sect[SL_SECT_LEVELS].count == 0)
		FAIL(c, "no policy level");
	return 0;
}

static int
check_strlist(struct check *c)
{
	for (uint32_t i = 0; i < c->hdr->sect[SL_SECT_STRLIST].count; i++)
		if (!str_ok(c, *REC(c, SL_SECT_STRLIST, struct sl_str, i)))
			FAIL(c, "string list: bad string");
	for (uint32_t i = 0; i < c->hdr->sect[SL_SECT_REGEXES].count; i++)
		if (!str_ok(c, REC(c, SL_SECT_REGEXES, struct sl_img_regex,
		    i)->pattern))
			FAIL(c, "regex: bad string");
	for (uint32_t i = 0; i < c->hdr->sect[SL_SECT_ATTRS].count; i++) {
		const struct sl_img_attr *a = REC(c, SL_SECT_ATTRS,
		    struct sl_img_attr, i);
		if (!str_ok(c, a->key) || !index_ok(c, SL_SECT_REGEXES,
		    a->regex))
			FAIL(c, "attrs: bad record");
	}
	for (uint32_t i = 0; i < c->hdr->sect[SL_SECT_IPMATCH].count; i++)
		for (int g = 0; g < 4; g++)
			if (!opt_ok(c, SL_SECT_IPSETS, REC(c, SL_SECT_IPMATCH,
			    struct sl_img_ipmatch, i)->set[g]))
				FAIL(c, "ip match: bad set");
	return 0;
}

/* The operands of one condition, by kind (shm/image.h). */
static int
cond_ok(const struct check *c, const struct sl_img_cond *k)
{
	switch (k->kind) {
	case SL_COND_INBOUND:
	case SL_COND_PROTOCOL:
	case SL_COND_PROCESS:
		return range_ok(c, SL_SECT_STRLIST, k->a, k->b);
	case SL_COND_NETWORK:
	case SL_COND_NEVER:
		return 1;
	case SL_COND_PORT:
	case SL_COND_SRCPORT:
	case SL_COND_LOCALPORT:
	case SL_COND_VLESSROUTE:
		return range_ok(c, SL_SECT_PORT_RANGES, k->a, k->b);
	case SL_COND_USER:
		return range_ok(c, SL_SECT_STRLIST, k->a, k->b) &&
		    range_ok(c, SL_SECT_REGEXES, k->c, k->d);
	case SL_COND_ATTRS:
		return range_ok(c, SL_SECT_ATTRS, k->a, k->b);
	case SL_COND_IP:
	case SL_COND_SRCIP:
	case SL_COND_LOCALIP:
		return index_ok(c, SL_SECT_IPMATCH, k->a);
	case SL_COND_DOMAIN:
		return range_ok(c, SL_SECT_U32, k->a, k->b) &&
		    u32_refs_ok(c, k->a, k->b, SL_SECT_DOMSETS);
	default:
		return 0;
	}
}

static int
check_rules(struct check *c)
{
	for (uint32_t i = 0; i < c->hdr->sect[SL_SECT_RULES].count; i++) {
		const struct sl_img_rule *r = REC(c, SL_SECT_RULES,
		    struct sl_img_rule, i);
		enum sl_img_sect ts = r->target_kind == SL_IMG_TARGET_BALANCER ?
		    SL_SECT_BALANCERS : SL_SECT_OUTBOUNDS;

		if (!str_ok(c, r->rule_tag) || !range_ok(c, SL_SECT_CONDS,
		    r->conds_first, r->conds_count) ||
		    !index_ok(c, ts, r->target))
			FAIL(c, "rule: bad record");
	}
	for (uint32_t i = 0; i < c->hdr->sect[SL_SECT_CONDS].count; i++)
		if (!cond_ok(c, REC(c, SL_SECT_CONDS, struct sl_img_cond, i)))
			FAIL(c, "rule condition: bad record");
	return 0;
}

static int
check_balancers(struct check *c)
{
	for (uint32_t i = 0; i < c->hdr->sect[SL_SECT_BALANCERS].count; i++) {
		const struct sl_img_balancer *b = REC(c, SL_SECT_BALANCERS,
		    struct sl_img_balancer, i);

		if (!str_ok(c, b->tag) || !opt_ok(c, SL_SECT_OUTBOUNDS,
		    b->fallback) || !range_ok(c, SL_SECT_U32, b->cands_first,
		    b->cands_count) || !u32_refs_ok(c, b->cands_first,
		    b->cands_count, SL_SECT_OUTBOUNDS) ||
		    !range_ok(c, SL_SECT_U32, b->baselines_first,
		    b->baselines_count) || !range_ok(c, SL_SECT_COSTS,
		    b->costs_first, b->costs_count) ||
		    b->strategy < SL_IMG_BAL_RANDOM ||
		    b->strategy > SL_IMG_BAL_LEASTLOAD)
			FAIL(c, "balancer: bad record");
	}
	for (uint32_t i = 0; i < c->hdr->sect[SL_SECT_COSTS].count; i++) {
		const struct sl_img_cost *k = REC(c, SL_SECT_COSTS,
		    struct sl_img_cost, i);
		if (!str_ok(c, k->match) || (k->is_regex &&
		    !index_ok(c, SL_SECT_REGEXES, k->regex)))
			FAIL(c, "balancer cost: bad record");
	}
	for (uint32_t i = 0; i < c->hdr->sect[SL_SECT_OBSERVERS].count; i++) {
		const struct sl_img_observer *o = REC(c, SL_SECT_OBSERVERS,
		    struct sl_img_observer, i);
		if (!range_ok(c, SL_SECT_U32, o->subjects_first,
		    o->subjects_count) || !u32_refs_ok(c, o->subjects_first,
		    o->subjects_count, SL_SECT_OUTBOUNDS) ||
		    !str_ok(c, o->url) || !str_ok(c, o->connectivity) ||
		    !str_ok(c, o->method))
			FAIL(c, "observer: bad record");
	}
	return 0;
}

/* The matcher tables of every domain set (shm/domset.c knows them). */
static int
check_domsets(struct check *c, size_t size)
{
	struct sl_img img = { c->base, size, c->hdr };

	return sl_domset_check(&img, &c->err);
}

static int
check_header(struct check *c, size_t size)
{
	const struct sl_img_hdr *h = c->hdr;

	if (size < sizeof(*h) || h->magic != SL_IMG_MAGIC)
		FAIL(c, "not a sluice table image");
	if (h->major != SL_IMG_MAJOR)
		FAIL(c, "table image version mismatch");
	if (h->hdr_size != sizeof(*h) || h->total_size != size)
		FAIL(c, "table image size mismatch");
	for (int i = 0; i < SL_SECT_COUNT; i++) {
		uint64_t end = h->sect[i].off +
		    (uint64_t)h->sect[i].count * h->sect[i].elem_size;
		if (h->sect[i].elem_size != sl_img_elem_size[i] ||
		    h->sect[i].off < sizeof(*h) || h->sect[i].off % 8 != 0 ||
		    end > size)
			FAIL(c, "table image section out of bounds");
	}
	if (h->sect[SL_SECT_STRINGS].count == 0)
		FAIL(c, "table image has no string section");
	if (sl_img_checksum(c->base + sizeof(*h), size - sizeof(*h)) !=
	    h->checksum)
		FAIL(c, "table image checksum mismatch");
	return 0;
}

int
sl_img_check(const void *buf, size_t size, const char **err)
{
	struct check c = { buf, buf, NULL };

	if (check_header(&c, size) == -1 || check_inbounds(&c) == -1 ||
	    check_users(&c) == -1 || check_fallbacks(&c) == -1 ||
	    check_dests(&c) == -1 || check_outbounds(&c) == -1 ||
	    check_misc(&c) == -1 || check_strlist(&c) == -1 ||
	    check_rules(&c) == -1 || check_balancers(&c) == -1 ||
	    check_domsets(&c, size) == -1) {
		*err = c.err;
		return -1;
	}
	return 0;
}

