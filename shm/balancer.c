/*
 * balancer: Xray's balancing strategies (app/router/balancing.go,
 * strategy_random.go, strategy_leastping.go, strategy_leastload.go,
 * weight.go) over the image and the shared observation.
 */
#include <sys/random.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shm/balancer.h"
#include "shm/regex.h"

struct sl_balancer_rt {
	uint32_t	 rr;		/* roundRobin: next index */
	double		*weight;	/* leastLoad: sqrt(weight) each */
};

/* A leastLoad node (Xray's struct node), durations in nanoseconds. */
struct node {
	uint32_t	 out;
	const char	*tag;
	int64_t		 all, fail;
	int64_t		 avg, cost;
};

#define NS_PER_MS	INT64_C(1000000)
#define NS_PER_US	INT64_C(1000)

/* ---- random numbers: xoshiro256** (Blackman, Vigna) ---- */

static uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_next(uint64_t s[4])
{
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* Uniform in [0, n), n > 0, without modulo bias (Lemire). */
static uint32_t
rng_below(uint64_t s[4], uint32_t n)
{
	uint64_t m = (rng_next(s) >> 32) * n;
	uint32_t lo = (uint32_t)m, floor;

	if (lo < n) {
		floor = (uint32_t)(-n) % n;
		while (lo < floor) {
			m = (rng_next(s) >> 32) * n;
			lo = (uint32_t)m;
		}
	}
	return (uint32_t)(m >> 32);
}

void
sl_balancer_state_seed(struct sl_balancer_state *st, uint64_t seed)
{
	/* splitmix64 spreads one word over the four. */
	for (int i = 0; i < 4; i++) {
		uint64_t z = (seed += UINT64_C(0x9e3779b97f4a7c15));

		z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
		z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
		st->rng[i] = z ^ (z >> 31);
	}
}

/* ---- image helpers ---- */

static const struct sl_img_balancer *
balancer_rec(const struct sl_img *img, uint32_t i)
{
	return SL_IMG_REC(img, SL_SECT_BALANCERS, struct sl_img_balancer, i);
}

static const uint32_t *
u32_list(const struct sl_img *img, uint32_t first)
{
	return (const uint32_t *)sl_img_sect(img, SL_SECT_U32) + first;
}

static const char *
out_tag(const struct sl_img *img, uint32_t out)
{
	return sl_img_str(img, SL_IMG_REC(img, SL_SECT_OUTBOUNDS,
	    struct sl_img_outbound, out)->tag);
}

static int
range_ok(uint32_t first, uint32_t count, uint32_t total)
{
	return count == 0 || (first < total && count <= total - first);
}

static int
balancer_check(const struct sl_img *img, const struct sl_img_balancer *b)
{
	uint32_t nu32 = sl_img_count(img, SL_SECT_U32);
	uint32_t nout = sl_img_count(img, SL_SECT_OUTBOUNDS);
	const struct sl_img_cost *c;

	if (!range_ok(b->cands_first, b->cands_count, nu32) ||
	    !range_ok(b->baselines_first, b->baselines_count, nu32) ||
	    !range_ok(b->costs_first, b->costs_count,
	    sl_img_count(img, SL_SECT_COSTS)) ||
	    (b->fallback != SL_IMG_NONE && b->fallback >= nout))
		return -1;
	for (uint32_t i = 0; i < b->cands_count; i++)
		if (u32_list(img, b->cands_first)[i] >= nout)
			return -1;
	for (uint32_t i = 0; i < b->costs_count; i++) {
		c = SL_IMG_REC(img, SL_SECT_COSTS, struct sl_img_cost,
		    b->costs_first + i);
		if (c->is_regex && c->regex >= sl_img_count(img,
		    SL_SECT_REGEXES))
			return -1;
	}
	return 0;
}

/* ---- leastLoad weights (weight.go) ---- */

/* The leftmost match of \d+(\.\d+)? in s[0, n) as a number, or -1. */
static double
first_number(const char *s, size_t n)
{
	size_t i = 0, j;
	char *num;
	double v;

	while (i < n && (s[i] < '0' || s[i] > '9'))
		i++;
	if (i == n)
		return -1;
	for (j = i; j < n && s[j] >= '0' && s[j] <= '9'; j++)
		;
	if (j + 1 < n && s[j] == '.' && s[j + 1] >= '0' && s[j + 1] <= '9')
		for (j += 2; j < n && s[j] >= '0' && s[j] <= '9'; j++)
			;
	/* A copy: strtod alone would also read "1e5" or "0x1f". */
	if ((num = strndup(s + i, j - i)) == NULL)
		return -1;
	v = strtod(num, NULL);
	free(num);
	return v;
}

/*
 * The text a regex cost matches in tag (Go's FindString: the leftmost
 * match), *len 0 when none.  The pattern is compiled once per process
 * with the image's other regexes (shm/regex.h).
 */
static const char *
regex_find(const struct sl_rxtab *rx, uint32_t idx, const char *tag,
    size_t *len)
{
	size_t start, end;

	*len = 0;
	if (!sl_rx_find(rx, idx, tag, strlen(tag), &start, &end))
		return NULL;
	*len = end > start ? end - start : 0;
	return tag + start;
}

double
sl_balancer_weight(const struct sl_img *img, const struct sl_rxtab *rx,
    uint32_t balancer, const char *tag)
{
	const struct sl_img_balancer *b = balancer_rec(img, balancer);

	for (uint32_t i = 0; i < b->costs_count; i++) {
		const struct sl_img_cost *c = SL_IMG_REC(img, SL_SECT_COSTS,
		    struct sl_img_cost, b->costs_first + i);
		const char *m;
		size_t len;
		double num;

		if (c->is_regex) {
			m = regex_find(rx, c->regex, tag, &len);
		} else {
			m = sl_img_str(img, c->match);
			len = c->match.len;
			if (len > 0 && strstr(tag, m) == NULL)
				len = 0;
		}
		if (len == 0)		/* Go: an empty match is no match */
			continue;
		if (c->value_ppm > 0)
			return c->value_ppm / 1e6;
		num = first_number(m, len);
		return num >= 0 ? num : 1;
	}
	return 1;
}

/* ---- state ---- */

static int
state_balancer(struct sl_balancer_state *st, const struct sl_img *img,
    const struct sl_rxtab *rx, uint32_t i)
{
	const struct sl_img_balancer *b = balancer_rec(img, i);
	const uint32_t *cand = u32_list(img, b->cands_first);
	double *w;

	if (b->strategy != SL_IMG_BAL_LEASTLOAD || b->cands_count == 0)
		return 0;
	if ((w = calloc(b->cands_count, sizeof(*w))) == NULL)
		return -1;
	for (uint32_t k = 0; k < b->cands_count; k++)
		w[k] = sqrt(sl_balancer_weight(img, rx, i,
		    out_tag(img, cand[k])));
	st->b[i].weight = w;
	return 0;
}

int
sl_balancer_state_init(struct sl_balancer_state *st, const struct sl_img *img,
    const struct sl_rxtab *rx, const char **err)
{
	uint32_t n = sl_img_count(img, SL_SECT_BALANCERS), max = 1;
	uint64_t seed;

	memset(st, 0, sizeof(*st));
	if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
		seed = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	sl_balancer_state_seed(st, seed);
	for (uint32_t i = 0; i < n; i++) {
		if (balancer_check(img, balancer_rec(img, i)) == -1) {
			*err = "balancer: record out of range in the image";
			return -1;
		}
		if (balancer_rec(img, i)->cands_count > max)
			max = balancer_rec(img, i)->cands_count;
	}
	st->nb = n;
	st->b = calloc(n + 1, sizeof(*st->b));
	st->scratch = calloc(max, sizeof(*st->scratch));
	st->nodes = calloc(max, sizeof(struct node));
	if (st->b == NULL || st->scratch == NULL || st->nodes == NULL)
		goto nomem;
	for (uint32_t i = 0; i < n; i++)
		if (state_balancer(st, img, rx, i) == -1)
			goto nomem;
	return 0;
nomem:
	sl_balancer_state_free(st);
	*err = "balancer: out of memory";
	return -1;
}

void
sl_balancer_state_free(struct sl_balancer_state *st)
{
	for (uint32_t i = 0; st->b != NULL && i < st->nb; i++)
		free(st->b[i].weight);
	free(st->b);
	free(st->scratch);
	free(st->nodes);
	memset(st, 0, sizeof(*st));
}

/* ---- strategies ---- */

static void
observe(const struct sl_obs_region *obs, uint32_t out,
    struct sl_obs_status *s)
{
	sl_obs_read(obs, 0, out, s);	/* NULL region: unknown */
}

/* random, roundRobin: with a fallbackTag only the alive candidates
 * (absent from the observation = alive); without one, all of them. */
static uint32_t
alive_candidates(const struct sl_img *img, const struct sl_img_balancer *b,
    const struct sl_obs_region *obs, uint32_t *out)
{
	const uint32_t *cand = u32_list(img, b->cands_first);
	struct sl_obs_status s;
	uint32_t n = 0;

	for (uint32_t i = 0; i < b->cands_count; i++) {
		if (b->fallback != SL_IMG_NONE) {
			observe(obs, cand[i], &s);
			if (s.known && !s.alive)
				continue;
		}
		out[n++] = cand[i];
	}
	return n;
}

static uint32_t
pick_random(const struct sl_img *img, uint32_t bi,
    const struct sl_obs_region *obs, struct sl_balancer_state *st)
{
	uint32_t n = alive_candidates(img, balancer_rec(img, bi), obs,
	    st->scratch);

	return n == 0 ? SL_IMG_NONE : st->scratch[rng_below(st->rng, n)];
}

static uint32_t
pick_roundrobin(const struct sl_img *img, uint32_t bi,
    const struct sl_obs_region *obs, struct sl_balancer_state *st)
{
	uint32_t n = alive_candidates(img, balancer_rec(img, bi), obs,
	    st->scratch), out;

	if (n == 0)
		return SL_IMG_NONE;
	out = st->scratch[st->b[bi].rr % n];
	st->b[bi].rr = (st->b[bi].rr + 1) % n;
	return out;
}

/* Alive and observed candidate with the least delay; ties: first by tag. */
static uint32_t
pick_leastping(const struct sl_img *img, uint32_t bi,
    const struct sl_obs_region *obs)
{
	const struct sl_img_balancer *b = balancer_rec(img, bi);
	const uint32_t *cand = u32_list(img, b->cands_first);
	int64_t least = SL_OBS_DELAY_FAILED;
	uint32_t best = SL_IMG_NONE;
	struct sl_obs_status s;

	for (uint32_t i = 0; i < b->cands_count; i++) {
		observe(obs, cand[i], &s);
		if (s.known && s.alive && s.delay_ms < least) {
			least = s.delay_ms;
			best = cand[i];
		}
	}
	return best;
}

static int
node_cmp(const void *pa, const void *pb)
{
	const struct node *a = pa, *b = pb;

	if (a->cost != b->cost)
		return a->cost < b->cost ? -1 : 1;
	if (a->avg != b->avg)
		return a->avg < b->avg ? -1 : 1;
	if (a->fail != b->fail)
		return a->fail < b->fail ? -1 : 1;
	if (a->all != b->all)
		return a->all > b->all ? -1 : 1;
	return strcmp(a->tag, b->tag);
}

/* Step 1 (shouldSelectNode) for one candidate; 0 = not a node. */
static int
leastload_node(const struct sl_img_balancer *b, const struct sl_obs_status *s,
    double sqrt_weight, struct node *n)
{
	int64_t dev;

	if (!s->known || !s->alive ||
	    (b->max_rtt_ms != 0 && s->delay_ms >= (int64_t)b->max_rtt_ms))
		return 0;
	if (s->health && s->all > 0 && b->tolerance_ppm > 0 &&
	    (double)s->fail / s->all > b->tolerance_ppm / 1e6)
		return 0;
	if (s->health) {
		n->avg = (int64_t)s->avg_us * NS_PER_US;
		dev = (int64_t)s->dev_us * NS_PER_US;
		n->all = s->all;
		n->fail = s->fail;
	} else {		/* plain observatory: delay stands for both */
		n->avg = dev = s->delay_ms * NS_PER_MS;
		n->all = n->fail = 1;
	}
	n->cost = (int64_t)((double)dev * sqrt_weight);
	return 1;
}

/* Step 4: how many of the sorted nodes are selected. */
static size_t
leastload_count(const struct sl_img *img, const struct sl_img_balancer *b,
    const struct node *nodes, size_t n)
{
	const uint32_t *base = u32_list(img, b->baselines_first);
	int64_t expected = b->expected;
	size_t count = 0;

	if (n == 0)
		return 0;
	if (expected > (int64_t)n)
		return n;
	if (expected <= 0)
		expected = 1;
	if (b->baselines_count == 0)
		return (size_t)expected;
	for (uint32_t k = 0; k < b->baselines_count; k++) {
		for (size_t i = count; i < n; i++) {
			if (nodes[i].cost >= (int64_t)base[k] * NS_PER_MS)
				break;
			count = i + 1;
		}
		if (count >= (size_t)expected)
			break;
	}
	if (b->expected > 0 && count < (size_t)expected)
		count = (size_t)expected;
	return count;
}

/* Steps 1-4 into st->nodes; returns the selected count. */
static size_t
leastload_select(const struct sl_img *img, uint32_t bi,
    const struct sl_obs_region *obs, struct sl_balancer_state *st)
{
	const struct sl_img_balancer *b = balancer_rec(img, bi);
	const uint32_t *cand = u32_list(img, b->cands_first);
	struct node *nodes = st->nodes;
	struct sl_obs_status s;
	size_t n = 0;

	for (uint32_t i = 0; i < b->cands_count; i++) {
		observe(obs, cand[i], &s);
		if (!leastload_node(b, &s, st->b[bi].weight[i], &nodes[n]))
			continue;
		nodes[n].out = cand[i];
		nodes[n].tag = out_tag(img, cand[i]);
		n++;
	}
	qsort(nodes, n, sizeof(*nodes), node_cmp);
	return leastload_count(img, b, nodes, n);
}

size_t
sl_balancer_leastload(const struct sl_img *img, uint32_t balancer,
    const struct sl_obs_region *obs, struct sl_balancer_state *st,
    uint32_t *out, size_t cap)
{
	const struct node *nodes = st->nodes;
	size_t n;

	if (balancer >= st->nb ||
	    balancer_rec(img, balancer)->strategy != SL_IMG_BAL_LEASTLOAD)
		return 0;
	n = leastload_select(img, balancer, obs, st);
	for (size_t i = 0; i < n && i < cap; i++)
		out[i] = nodes[i].out;
	return n < cap ? n : cap;
}

static uint32_t
pick_leastload(const struct sl_img *img, uint32_t bi,
    const struct sl_obs_region *obs, struct sl_balancer_state *st)
{
	const struct node *nodes = st->nodes;
	size_t n = leastload_select(img, bi, obs, st);

	return n == 0 ? SL_IMG_NONE :
	    nodes[rng_below(st->rng, (uint32_t)n)].out;
}

uint32_t
sl_balancer_pick(const struct sl_img *img, uint32_t balancer,
    const struct sl_obs_region *obs, struct sl_balancer_state *st)
{
	const struct sl_img_balancer *b;
	uint32_t out;

	if (balancer >= st->nb)
		return SL_IMG_NONE;
	b = balancer_rec(img, balancer);
	switch (b->strategy) {
	case SL_IMG_BAL_ROUNDROBIN:
		out = pick_roundrobin(img, balancer, obs, st);
		break;
	case SL_IMG_BAL_LEASTPING:
		out = pick_leastping(img, balancer, obs);
		break;
	case SL_IMG_BAL_LEASTLOAD:
		out = pick_leastload(img, balancer, obs, st);
		break;
	default:		/* random, and Xray's default */
		out = pick_random(img, balancer, obs, st);
		break;
	}
	return out != SL_IMG_NONE ? out : b->fallback;
}
