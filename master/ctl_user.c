/*
 * ctl_user: `sluicectl user` -- the users kept in the state database.
 *
 * add, set, del, enable and disable change the database (one transaction
 * each, master/db.c), then ask a running sluiced to load the users again
 * (control command "users"); a daemon that is not running finds the
 * change when it starts.  show, list and link only read.  When a
 * configuration was read, --inbound tags must name its inbounds, a new
 * email must not be one of its clients, and links are built from its
 * inbounds: host, port, TLS, SNI and ALPN as a client needs them, taken
 * from the inbound a client really dials (the front of a fallback tree).
 */
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "master/conf.h"
#include "master/ctl.h"
#include "master/db.h"
#include "master/link.h"
#include "master/users.h"
#include "master/uuid.h"

#define BUSY_MS		5000		/* the master may be flushing */
#define USERS_WAIT_MS	120000		/* a users change recompiles */
#define EMAIL_MAX	255
#define SECRET_MAX	255
#define PASSWORD_LEN	24
#define FLOW_VISION	"xtls-rprx-vision"

/* What may follow a subcommand. */
#define UO_EDIT		0x1		/* the user's fields */
#define UO_RESET	0x2		/* --reset-usage */
#define UO_JSON		0x4
#define UO_HOST		0x8

enum { O_INBOUND = 256, O_UUID, O_PASSWORD, O_LEVEL, O_FLOW, O_QUOTA,
	O_EXPIRE, O_MAXCONN, O_RESET, O_JSON, O_HOST };

static const struct option user_opts[] = {
	{ "inbound", required_argument, NULL, O_INBOUND },
	{ "uuid", required_argument, NULL, O_UUID },
	{ "password", required_argument, NULL, O_PASSWORD },
	{ "level", required_argument, NULL, O_LEVEL },
	{ "flow", required_argument, NULL, O_FLOW },
	{ "quota", required_argument, NULL, O_QUOTA },
	{ "expire", required_argument, NULL, O_EXPIRE },
	{ "max-conn", required_argument, NULL, O_MAXCONN },
	{ "reset-usage", no_argument, NULL, O_RESET },
	{ "json", no_argument, NULL, O_JSON },
	{ "host", required_argument, NULL, O_HOST },
	{ NULL, 0, NULL, 0 }
};

struct uargs {
	const char	*sub;		/* the subcommand */
	const char	*email;
	unsigned	 fields;	/* SL_DBU_* given */
	struct sl_db_user u;		/* their values */
	char		 uuid[SL_UUID_STRLEN + 1];
	char		**tags;		/* --inbound, into argv */
	size_t		 ntags;
	int		 json;
	const char	*host;
};

/* ---- shared with ctl_stats.c ---- */

struct sl_db *
sl_ctl_db_open(const struct sl_ctl_env *env, int flags)
{
	struct sl_db *db;
	char err[256];

	if ((db = sl_db_open(env->db, flags, BUSY_MS, err, sizeof(err))) ==
	    NULL)
		fprintf(stderr, "sluicectl: %s: %s\n", env->db, err);
	return db;
}

int
sl_ctl_parse_date(const char *s, int64_t *t)
{
	struct tm tm = { 0 }, back;
	char *end;
	time_t v;

	if (strlen(s) != 10 || (end = strptime(s, "%Y-%m-%d", &tm)) == NULL ||
	    *end != '\0' || tm.tm_year < 70)
		return -1;
	/* strptime takes 2026-02-31, timegm makes it March: compare */
	back = tm;
	if ((v = timegm(&back)) == (time_t)-1 || back.tm_mday != tm.tm_mday ||
	    back.tm_mon != tm.tm_mon)
		return -1;
	*t = (int64_t)v;
	return 0;
}

char *
sl_ctl_bytes(uint64_t n, char *buf, size_t len)
{
	static const char *const unit[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t i;

	if (n < 1024) {
		snprintf(buf, len, "%llu B", (unsigned long long)n);
		return buf;
	}
	for (i = 0, v /= 1024; v >= 1024 && i < 3; i++)
		v /= 1024;
	snprintf(buf, len, "%.1f %s", v, unit[i]);
	return buf;
}

/* ---- option values ---- */

static int
parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

/* An integer with an optional K, M, G or T (also KB, KiB ...: 1024-based). */
static int
parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	unsigned long long v;
	const char *u;
	char *end;
	int shift = 0;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (*end != '\0' && (u = strchr(units, end[0] & ~0x20)) != NULL) {
		shift = 10 * (int)(u - units + 1);
		end++;
		if ((end[0] | 0x20) == 'i' && (end[1] | 0x20) == 'b')
			end += 2;
		else if ((end[0] | 0x20) == 'b')
			end++;
	} else if ((end[0] | 0x20) == 'b')
		end++;
	if (*end != '\0' || v > (uint64_t)INT64_MAX >> shift)
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int
text_ok(const char *s, size_t max, int space_ok)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return 0;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f || (*p == ' ' && !space_ok))
			return 0;
	return 1;
}

/* Random v4 UUID and URL-safe password, for what was not given. */
static int
gen_secrets(struct uargs *a)
{
	static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789-_";
	static char pass[PASSWORD_LEN + 1];
	uint8_t id[16], rnd[PASSWORD_LEN];

	if (RAND_bytes(id, sizeof(id)) != 1 ||
	    RAND_bytes(rnd, sizeof(rnd)) != 1) {
		fprintf(stderr, "sluicectl: no random numbers\n");
		return -1;
	}
	if (!(a->fields & SL_DBU_UUID)) {
		id[6] = (id[6] & 0x0F) | 0x40;
		id[8] = (id[8] & 0x3F) | 0x80;
		sl_uuid_format(id, a->uuid);
		a->u.uuid = a->uuid;
	}
	if (!(a->fields & SL_DBU_PASSWORD)) {
		for (size_t i = 0; i < PASSWORD_LEN; i++)
			pass[i] = alnum[rnd[i] & 63];
		pass[PASSWORD_LEN] = '\0';
		a->u.password = pass;
	}
	return 0;
}

/* One option of add/set into A; -1 after printing the problem. */
static int
opt_value(struct uargs *a, int o, char *arg)
{
	uint8_t id[16];
	uint64_t v;

	switch (o) {
	case O_INBOUND:
		a->tags[a->ntags++] = arg;
		a->fields |= SL_DBU_INBOUNDS;
		return 0;
	case O_UUID:
		if (sl_uuid_parse(arg, id) == -1)
			break;
		sl_uuid_format(id, a->uuid);
		a->u.uuid = a->uuid;
		a->fields |= SL_DBU_UUID;
		return 0;
	case O_PASSWORD:
		if (!text_ok(arg, SECRET_MAX, 1))
			break;
		a->u.password = arg;
		a->fields |= SL_DBU_PASSWORD;
		return 0;
	case O_LEVEL:
		if (parse_uint(arg, INT_MAX, &v) == -1)
			break;
		a->u.level = (int)v;
		a->fields |= SL_DBU_LEVEL;
		return 0;
	case O_FLOW:
		if (arg[0] != '\0' && strcmp(arg, FLOW_VISION) != 0)
			break;
		a->u.flow = arg;
		a->fields |= SL_DBU_FLOW;
		return 0;
	case O_QUOTA:
		if (parse_size(arg, &a->u.quota) == -1)
			break;
		a->fields |= SL_DBU_QUOTA;
		return 0;
	case O_EXPIRE:
		if (strcmp(arg, "never") == 0)
			a->u.expire = 0;
		else if (sl_ctl_parse_date(arg, &a->u.expire) == -1)
			break;
		a->fields |= SL_DBU_EXPIRE;
		return 0;
	case O_MAXCONN:
		if (parse_uint(arg, UINT32_MAX, &v) == -1)
			break;
		a->u.max_conn = (uint32_t)v;
		a->fields |= SL_DBU_MAXCONN;
		return 0;
	case O_RESET:
		a->u.used_up = a->u.used_down = 0;
		a->fields |= SL_DBU_USED;
		return 0;
	}
	fprintf(stderr, "sluicectl: user %s: bad --%s: '%s' (%s)\n", a->sub,
	    user_opts[o - O_INBOUND].name, arg,
	    o == O_UUID ? "a UUID, or 1-30 characters" :
	    o == O_PASSWORD ? "1-255 characters, no control characters" :
	    o == O_FLOW ? "'' or '" FLOW_VISION "'" :
	    o == O_QUOTA ? "bytes, or a number with K, M, G or T; 0: none" :
	    o == O_EXPIRE ? "YYYY-MM-DD, or never" :
	    "a number");
	return -1;
}

/* ---- the configuration ---- */

static void
where_print(FILE *f, const struct sl_where *w)
{
	if (w->line > 0)
		fprintf(f, "%s:%d", w->file, w->line);
	else
		fprintf(f, "%s: %s", w->file, w->path ? w->path : "");
}

static const struct sl_conf_client *
conf_client(const struct sl_conf *cf, const char *email)
{
	for (size_t i = 0; cf != NULL && i < cf->ninbounds; i++)
		for (size_t j = 0; j < cf->inbounds[i].nclients; j++)
			if (strcmp(cf->inbounds[i].clients[j].email,
			    email) == 0)
				return &cf->inbounds[i].clients[j];
	return NULL;
}

/*
 * The --inbound tags against the config: each names one of its inbounds
 * (all of which are VLESS or Trojan).  "" alone means every inbound.
 * Returns the exit status: 0, 1 for a tag the config lacks, 2 on misuse.
 */
static int
check_tags(const struct sl_ctl_env *env, struct uargs *a)
{
	const struct sl_conf *cf = env->cf;
	size_t i, k;

	for (i = 0; i < a->ntags; i++) {
		if (a->tags[i][0] == '\0') {
			if (a->ntags == 1) {
				a->ntags = 0;
				return 0;
			}
			fprintf(stderr, "sluicectl: user %s: --inbound '' "
			    "(every inbound) goes alone\n", a->sub);
			return 2;
		}
		for (k = 0; cf != NULL && k < cf->ninbounds; k++)
			if (strcmp(cf->inbounds[k].tag, a->tags[i]) == 0)
				break;
		if (cf != NULL && k == cf->ninbounds) {
			fprintf(stderr, "sluicectl: user %s: --inbound %s: %s "
			    "has no VLESS or Trojan inbound with that tag\n",
			    a->sub, a->tags[i], env->config);
			return 1;
		}
	}
	return 0;
}

/* ---- talking to the daemon ---- */

static int
user_notify(const struct sl_ctl_env *env)
{
	const char *body;
	char *ans;
	int reached, ok;

	if ((ans = sl_ctl_ask(env->sock, "users", USERS_WAIT_MS, &reached)) ==
	    NULL) {
		if (!reached && sl_ctl_not_running(errno)) {
			fprintf(stderr, "sluicectl: saved; sluiced is not "
			    "running at %s: the change applies when it "
			    "starts\n", env->sock);
			return 0;
		}
		if (!reached)
			fprintf(stderr, "sluicectl: saved; cannot reach "
			    "sluiced at %s: %s\n", env->sock, strerror(errno));
		else
			fprintf(stderr, "sluicectl: saved; no answer from "
			    "sluiced at %s\n", env->sock);
		return 1;
	}
	if ((body = sl_ctl_body(ans, &ok)) == NULL)
		fprintf(stderr, "sluicectl: saved; sluiced closed the "
		    "connection\n");
	else if (ok)
		fputs(body, stdout);
	else
		fprintf(stderr, "sluicectl: saved, but sluiced did not take "
		    "it:\n%s", body);
	free(ans);
	return body != NULL && ok ? 0 : 1;
}

/* ---- the subcommands that write ---- */

static int
user_add(const struct sl_ctl_env *env, struct uargs *a)
{
	const struct sl_conf_client *c;
	struct sl_db *db;
	int rc;

	if ((c = conf_client(env->cf, a->email)) != NULL) {
		fprintf(stderr, "sluicectl: user add: %s is a client of the "
		    "configuration: ", a->email);
		where_print(stderr, &c->where);
		fputc('\n', stderr);
		return 1;
	}
	if (gen_secrets(a) == -1)
		return 1;
	a->u.email = (char *)a->email;
	a->u.enabled = 1;
	if (!(a->fields & SL_DBU_FLOW))
		a->u.flow = "";
	a->u.inbounds = a->tags;
	a->u.ninbounds = a->ntags;
	if ((db = sl_ctl_db_open(env, SL_DB_CREATE)) == NULL)
		return 1;
	if ((rc = sl_db_user_add(db, &a->u)) == -1)
		fprintf(stderr, "sluicectl: %s: %s\n", env->db,
		    sl_db_error(db));
	else if (rc == 1)
		fprintf(stderr, "sluicectl: user add: %s exists already\n",
		    a->email);
	sl_db_close(db);
	if (rc != 0)
		return 1;
	printf("added %s\n", a->email);
	return user_notify(env);
}

/* set, enable, disable, del */
static int
user_change(const struct sl_ctl_env *env, struct uargs *a)
{
	struct sl_db *db;
	int rc;

	if (strcmp(a->sub, "set") == 0 && a->fields == 0) {
		fprintf(stderr, "sluicectl: user set: nothing to change\n");
		return 2;
	}
	if (strcmp(a->sub, "enable") == 0 || strcmp(a->sub, "disable") == 0) {
		a->u.enabled = a->sub[0] == 'e';
		a->fields = SL_DBU_ENABLED;
	}
	a->u.inbounds = a->tags;
	a->u.ninbounds = a->ntags;
	if ((db = sl_ctl_db_open(env, 0)) == NULL)
		return 1;
	if (strcmp(a->sub, "del") == 0)
		rc = sl_db_user_del(db, a->email);
	else
		rc = sl_db_user_set(db, a->email, a->fields, &a->u);
	if (rc == -1)
		fprintf(stderr, "sluicectl: %s: %s\n", env->db,
		    sl_db_error(db));
	else if (rc == 1)
		fprintf(stderr, "sluicectl: user %s: no user %s in %s\n",
		    a->sub, a->email, env->db);
	sl_db_close(db);
	if (rc != 0)
		return 1;
	printf("%s %s\n", strcmp(a->sub, "del") == 0 ? "deleted" :
	    strcmp(a->sub, "set") == 0 ? "changed" : a->u.enabled ?
	    "enabled" : "disabled", a->email);
	return user_notify(env);
}

/* ---- the subcommands that read ---- */

static const char *
date_of(int64_t t, char *buf, size_t len)
{
	char day[11];

	if (t != 0)
		sl_db_day(t, day);
	snprintf(buf, len, "%s", t == 0 ? "never" : day);
	return buf;
}

static const char *
user_state(const struct sl_db_user *u)
{
	if (!u->enabled)
		return "disabled";
	if (u->expire != 0 && (int64_t)time(NULL) >= u->expire)
		return "expired";
	if (u->quota != 0 && u->used_up + u->used_down >= u->quota)
		return "over quota";
	return "active";
}

/* The user EMAIL, or 1 after saying there is none (and where it is). */
static int
user_load(const struct sl_ctl_env *env, struct sl_db *db, const char *email,
    struct sl_db_user *u)
{
	const struct sl_conf_client *c;
	int rc;

	if ((rc = sl_db_user_get(db, email, u)) == -1)
		fprintf(stderr, "sluicectl: %s: %s\n", env->db,
		    sl_db_error(db));
	else if (rc == 1) {
		fprintf(stderr, "sluicectl: no user %s in %s", email, env->db);
		if ((c = conf_client(env->cf, email)) != NULL) {
			fprintf(stderr, " (a client of the configuration: ");
			where_print(stderr, &c->where);
			fputc(')', stderr);
		}
		fputc('\n', stderr);
	}
	return rc;
}

static void
inbounds_print(const struct sl_db_user *u)
{
	if (u->ninbounds == 0)
		fputs("all", stdout);
	for (size_t i = 0; i < u->ninbounds; i++)
		printf("%s%s", i ? "," : "", u->inbounds[i]);
}

static int
user_show(const struct sl_ctl_env *env, struct uargs *a)
{
	struct sl_db_user u;
	struct sl_db *db;
	char b1[32], b2[32], day[16];
	time_t t;
	int rc;

	if ((db = sl_ctl_db_open(env, SL_DB_READONLY)) == NULL)
		return 1;
	rc = user_load(env, db, a->email, &u);
	sl_db_close(db);
	if (rc != 0)
		return 1;
	printf("email: %s\nuuid: %s\npassword: %s\nlevel: %d\nflow: %s\n",
	    u.email, u.uuid, u.password, u.level, u.flow[0] ? u.flow : "none");
	printf("enabled: %s\nstate: %s\n", u.enabled ? "yes" : "no",
	    user_state(&u));
	if (u.quota)
		printf("quota: %s (%llu bytes)\n", sl_ctl_bytes(u.quota, b1,
		    sizeof(b1)), (unsigned long long)u.quota);
	else
		printf("quota: none\n");
	printf("used: %s (up %llu, down %llu bytes)\n",
	    sl_ctl_bytes(u.used_up + u.used_down, b2, sizeof(b2)),
	    (unsigned long long)u.used_up, (unsigned long long)u.used_down);
	printf("expire: %s\n", date_of(u.expire, day, sizeof(day)));
	if (u.max_conn)
		printf("max-conn: %u\n", u.max_conn);
	else
		printf("max-conn: no limit\n");
	fputs("inbounds: ", stdout);
	inbounds_print(&u);
	t = (time_t)u.created;
	strftime(b1, sizeof(b1), "%Y-%m-%d %H:%M:%S", gmtime(&t));
	t = (time_t)u.updated;
	strftime(b2, sizeof(b2), "%Y-%m-%d %H:%M:%S", gmtime(&t));
	printf("\ncreated: %s UTC\nupdated: %s UTC\n", b1, b2);
	sl_db_user_free(&u);
	return 0;
}

static json_object *
user_json(const struct sl_db_user *u)
{
	json_object *o = json_object_new_object(), *inb;
	char day[16];

	json_object_object_add(o, "email", json_object_new_string(u->email));
	json_object_object_add(o, "uuid", json_object_new_string(u->uuid));
	json_object_object_add(o, "password",
	    json_object_new_string(u->password));
	json_object_object_add(o, "level", json_object_new_int(u->level));
	json_object_object_add(o, "flow", json_object_new_string(u->flow));
	json_object_object_add(o, "enabled",
	    json_object_new_boolean(u->enabled));
	json_object_object_add(o, "quota", json_object_new_uint64(u->quota));
	json_object_object_add(o, "expire", u->expire ?
	    json_object_new_string(date_of(u->expire, day, sizeof(day))) :
	    NULL);
	json_object_object_add(o, "max_conn",
	    json_object_new_int64(u->max_conn));
	json_object_object_add(o, "used_up",
	    json_object_new_uint64(u->used_up));
	json_object_object_add(o, "used_down",
	    json_object_new_uint64(u->used_down));
	inb = json_object_new_array();
	for (size_t i = 0; i < u->ninbounds; i++)
		json_object_array_add(inb,
		    json_object_new_string(u->inbounds[i]));
	json_object_object_add(o, "inbounds", inb);
	return o;
}

static void
list_table(const struct sl_db_users *us)
{
	char used[32], quota[32], cell[80], day[16];
	int w = 5;

	for (size_t i = 0; i < us->n; i++)
		if ((int)strlen(us->v[i].email) > w)
			w = (int)strlen(us->v[i].email);
	printf("%-*s  %-7s  %-21s  %-10s  %-8s  %s\n", w, "EMAIL", "ENABLED",
	    "USED/QUOTA", "EXPIRE", "MAX-CONN", "INBOUNDS");
	for (size_t i = 0; i < us->n; i++) {
		const struct sl_db_user *u = &us->v[i];

		snprintf(cell, sizeof(cell), "%s/%s",
		    sl_ctl_bytes(u->used_up + u->used_down, used, sizeof(used)),
		    u->quota ? sl_ctl_bytes(u->quota, quota, sizeof(quota)) :
		    "-");
		printf("%-*s  %-7s  %-21s  %-10s  ", w, u->email,
		    u->enabled ? "yes" : "no", cell,
		    date_of(u->expire, day, sizeof(day)));
		if (u->max_conn)
			printf("%-8u  ", u->max_conn);
		else
			printf("%-8s  ", "-");
		inbounds_print(u);
		putchar('\n');
	}
}

static int
user_list(const struct sl_ctl_env *env, struct uargs *a)
{
	struct sl_db_users us;
	struct sl_db *db;
	json_object *arr;
	int rc;

	if ((db = sl_ctl_db_open(env, SL_DB_READONLY)) == NULL)
		return 1;
	if ((rc = sl_db_users_load(db, &us)) == -1)
		fprintf(stderr, "sluicectl: %s: %s\n", env->db,
		    sl_db_error(db));
	sl_db_close(db);
	if (rc == -1)
		return 1;
	if (a->json) {
		arr = json_object_new_array();
		for (size_t i = 0; i < us.n; i++)
			json_object_array_add(arr, user_json(&us.v[i]));
		printf("%s\n", json_object_to_json_string_ext(arr,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
	} else
		list_table(&us);
	sl_db_users_free(&us);
	return 0;
}

/* ---- share links ---- */

/* The first DNS name of the first certificate in the PEM file PATH. */
static int
cert_dns_name(const char *path, char *buf, size_t len)
{
	GENERAL_NAMES *names;
	X509 *x = NULL;
	FILE *f;
	int rc = -1;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		return -1;
	names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		const ASN1_IA5STRING *s = g->d.dNSName;

		if (g->type != GEN_DNS || (size_t)ASN1_STRING_length(s) >= len)
			continue;
		memcpy(buf, ASN1_STRING_get0_data(s), ASN1_STRING_length(s));
		buf[ASN1_STRING_length(s)] = '\0';
		rc = 0;
		break;
	}
	GENERAL_NAMES_free(names);
	X509_free(x);
	return rc;
}

static int
wildcard(const char *ip)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (inet_pton(AF_INET, ip, &a4) == 1)
		return a4.s_addr == htonl(INADDR_ANY);
	if (inet_pton(AF_INET6, ip, &a6) == 1)
		return IN6_IS_ADDR_UNSPECIFIED(&a6);
	return 0;
}

static int
loopback(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (strcmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

/* Whether a fallback to DEST ("host:port", normalised) reaches IN. */
static int
dest_reaches(const char *dest, const struct sl_conf_inbound *in)
{
	const char *colon = strrchr(dest, ':');
	char host[256];
	size_t hl;

	if (colon == NULL || strtol(colon + 1, NULL, 10) != in->port)
		return 0;
	hl = (size_t)(colon - dest);
	if (hl >= 2 && dest[0] == '[' && dest[hl - 1] == ']') {
		dest++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return 0;
	memcpy(host, dest, hl);
	host[hl] = '\0';
	return strcmp(host, in->listen) == 0 || (loopback(host) &&
	    (wildcard(in->listen) || loopback(in->listen)));
}

/*
 * Where a client connects to reach an inbound: the inbound itself, or,
 * when another inbound falls back to it (the usual Trojan-behind-VLESS
 * tree), that one, with the SNI and ALPN its fallback asks for.
 */
struct front {
	const struct sl_conf_inbound *in;
	const char	*name, *alpn;		/* the fallback's; "" = any */
};

static void
front_of(const struct sl_conf *cf, const struct sl_conf_inbound *in,
    struct front *f)
{
	const struct sl_conf_fallback *fb;
	int moved = 1;

	f->in = in;
	f->name = f->alpn = "";
	/* a short chain: a config could make a loop */
	for (int depth = 0; moved && depth < 4; depth++) {
		moved = 0;
		for (size_t i = 0; !moved && i < cf->ninbounds; i++) {
			for (size_t k = 0; &cf->inbounds[i] != f->in &&
			    k < cf->inbounds[i].nfallbacks; k++) {
				fb = &cf->inbounds[i].fallbacks[k];
				/* a proxy request never carries an HTTP path */
				if (fb->path[0] != '\0' || fb->dest[0] == '/' ||
				    fb->dest[0] == '@' ||
				    !dest_reaches(fb->dest, f->in))
					continue;
				f->in = &cf->inbounds[i];
				f->name = fb->name;
				f->alpn = fb->alpn;
				moved = 1;
				break;
			}
		}
	}
}

/* Host and SNI for links through F; -1 after printing why there is no
 * host. */
static int
link_names(const struct front *f, const char *host_opt, char *host,
    char *sni, size_t len)
{
	const struct sl_conf_inbound *in = f->in;
	char cn[256] = "";

	if (in->security == SL_SEC_TLS && in->ncerts > 0)
		cert_dns_name(in->certs[0].certificate_file, cn, sizeof(cn));
	snprintf(sni, len, "%s", f->name[0] ? f->name : in->server_name[0] ?
	    in->server_name : cn);
	if (host_opt != NULL)
		snprintf(host, len, "%s", host_opt);
	else if (sni[0] != '\0')
		snprintf(host, len, "%s", sni);
	else if (!wildcard(in->listen))
		snprintf(host, len, "%s", in->listen);
	else {
		fprintf(stderr, "sluicectl: user link: inbound %s (", in->tag);
		where_print(stderr, &in->where);
		fprintf(stderr, ") has no server name, certificate name or "
		    "listen address to use: give --host\n");
		return -1;
	}
	if (in->security != SL_SEC_TLS)
		sni[0] = '\0';
	return 0;
}

/* The link to a client of IN (its protocol) through F. */
static int
link_print(FILE *out, const struct sl_conf_inbound *in,
    const struct front *f, const char *host, const char *sni,
    const char *secret, const char *flow, const char *email)
{
	const char *one[1] = { f->alpn };
	struct sl_link l = {
		.proto = in->protocol == SL_IN_VLESS ? SL_LINK_VLESS :
		    SL_LINK_TROJAN,
		.secret = secret, .host = host, .port = f->in->port,
		.tls = f->in->security == SL_SEC_TLS, .sni = sni,
		.alpn = f->alpn[0] ? one : f->in->alpn,
		.nalpn = f->alpn[0] ? 1 : f->in->alpn ? f->in->nalpn : 0,
		.flow = flow, .remark = email,
	};
	char *s = sl_link_format(&l);

	if (s == NULL) {
		fprintf(stderr, "sluicectl: out of memory\n");
		return -1;
	}
	fprintf(out, "%s\n", s);
	free(s);
	return 0;
}

/* The links of EMAIL in IN: its clients there, then the DB user U. */
static int
links_of(FILE *out, const struct sl_conf *cf, const struct sl_conf_inbound *in,
    const struct uargs *a, const struct sl_db_user *u, int *n)
{
	char host[256], sni[256], id[SL_UUID_STRLEN + 1];
	struct front f;
	int vless = in->protocol == SL_IN_VLESS;
	const char *secret, *flow;

	for (size_t j = 0; j <= in->nclients; j++) {
		const struct sl_conf_client *c = j < in->nclients ?
		    &in->clients[j] : NULL;

		if (c != NULL) {
			if (strcmp(c->email, a->email) != 0)
				continue;
			sl_uuid_format(c->uuid, id);
			secret = vless ? id : c->password;
			flow = c->flow;
		} else {
			if (u == NULL ||
			    !sl_users_joins(u->inbounds, u->ninbounds, in->tag))
				continue;
			secret = vless ? u->uuid : u->password;
			flow = u->flow;
		}
		front_of(cf, in, &f);
		if (link_names(&f, a->host, host, sni, sizeof(host)) == -1 ||
		    link_print(out, in, &f, host, sni, secret, flow,
		    a->email) == -1)
			return -1;
		(*n)++;
	}
	return 0;
}

/* EMAIL from the database, if there is one: 0, 1 when absent, -1. */
static int
link_db_user(const struct sl_ctl_env *env, const char *email,
    struct sl_db_user *u)
{
	struct sl_db *db;
	char err[256];
	int rc;

	/* A user written in the config needs no database. */
	if ((db = sl_db_open(env->db, SL_DB_READONLY, BUSY_MS, err,
	    sizeof(err))) == NULL) {
		if (access(env->db, F_OK) == -1 && errno == ENOENT)
			return 1;
		fprintf(stderr, "sluicectl: %s: %s\n", env->db, err);
		return -1;
	}
	if ((rc = sl_db_user_get(db, email, u)) == -1)
		fprintf(stderr, "sluicectl: %s: %s\n", env->db,
		    sl_db_error(db));
	sl_db_close(db);
	return rc;
}

/* All links or none: they are printed when every host was found. */
static int
user_link(const struct sl_ctl_env *env, struct uargs *a)
{
	struct sl_db_user u;
	char *buf = NULL;
	size_t len;
	FILE *out;
	int indb, rc = 0, n = 0;

	if (env->cf == NULL) {
		fprintf(stderr, "sluicectl: user link needs the configuration: "
		    "-c FILE\n");
		return 1;
	}
	if ((indb = link_db_user(env, a->email, &u)) == -1)
		return 1;
	if ((out = open_memstream(&buf, &len)) == NULL) {
		fprintf(stderr, "sluicectl: out of memory\n");
		rc = -1;
	}
	for (size_t i = 0; rc == 0 && i < env->cf->ninbounds; i++)
		rc = links_of(out, env->cf, &env->cf->inbounds[i], a,
		    indb == 0 ? &u : NULL, &n);
	if (out != NULL && fclose(out) == 0 && rc == 0)
		fputs(buf, stdout);
	free(buf);
	if (indb == 0)
		sl_db_user_free(&u);
	if (rc == 0 && n == 0)
		fprintf(stderr, "sluicectl: user link: %s is %s\n", a->email,
		    indb == 0 ? "in no inbound of the configuration" :
		    "neither in the database nor in the configuration");
	return rc == 0 && n > 0 ? 0 : 1;
}

/* ---- dispatch ---- */

static const struct {
	const char	*name;
	unsigned	 opts;		/* UO_* */
	int		(*run)(const struct sl_ctl_env *, struct uargs *);
} user_cmds[] = {
	{ "add", UO_EDIT, user_add },
	{ "set", UO_EDIT | UO_RESET, user_change },
	{ "del", 0, user_change },
	{ "enable", 0, user_change },
	{ "disable", 0, user_change },
	{ "show", 0, user_show },
	{ "list", UO_JSON, user_list },
	{ "link", UO_HOST, user_link },
};

static unsigned
opt_class(int o)
{
	return o == O_RESET ? UO_RESET : o == O_JSON ? UO_JSON :
	    o == O_HOST ? UO_HOST : UO_EDIT;
}

/* Options and operands of the subcommand in ARGV[0]; 2 on misuse. */
static int
user_parse(int argc, char **argv, unsigned allowed, struct uargs *a)
{
	int o;

	opterr = 0;
	optind = 0;	/* glibc: start afresh, after main()'s "+" */
	while ((o = getopt_long(argc, argv, ":", user_opts, NULL)) != -1) {
		if (o == '?' || o == ':' || !(opt_class(o) & allowed)) {
			fprintf(stderr, "sluicectl: user %s: %s %s\n", a->sub,
			    o == ':' ? "missing value for" : "unexpected "
			    "option", argv[optind - 1]);
			return 2;
		}
		if (o == O_JSON)
			a->json = 1;
		else if (o == O_HOST)
			a->host = optarg;
		else if (opt_value(a, o, optarg) == -1)
			return 2;
	}
	if (optind + (strcmp(a->sub, "list") != 0) != argc) {
		fprintf(stderr, "sluicectl: user %s: %s\n", a->sub,
		    strcmp(a->sub, "list") == 0 ? "takes no operand" :
		    "needs one EMAIL");
		return 2;
	}
	if (optind < argc) {
		a->email = argv[optind];
		if (!text_ok(a->email, EMAIL_MAX, 0)) {
			fprintf(stderr, "sluicectl: user %s: bad email '%s' "
			    "(1-255 bytes, no spaces or control "
			    "characters)\n", a->sub, a->email);
			return 2;
		}
	}
	return 0;
}

int
sl_ctl_user(const struct sl_ctl_env *env, int argc, char **argv)
{
	struct uargs a = { 0 };
	size_t i, n = sizeof(user_cmds) / sizeof(user_cmds[0]);
	int rc;

	if (argc < 2) {
		fprintf(stderr, "sluicectl: user: needs a subcommand: add, "
		    "set, del, enable, disable, show, list, link\n");
		return 2;
	}
	for (i = 0; i < n && strcmp(user_cmds[i].name, argv[1]) != 0; i++)
		;
	if (i == n) {
		fprintf(stderr, "sluicectl: user: unknown subcommand %s\n",
		    argv[1]);
		return 2;
	}
	a.sub = argv[1];
	/* every --inbound may be a tag: at most argc of them */
	if ((a.tags = calloc((size_t)argc, sizeof(*a.tags))) == NULL) {
		fprintf(stderr, "sluicectl: out of memory\n");
		return 1;
	}
	if ((rc = user_parse(argc - 1, argv + 1, user_cmds[i].opts, &a)) ==
	    0) {
		if ((rc = check_tags(env, &a)) == 0)
			rc = user_cmds[i].run(env, &a);
	}
	free(a.tags);
	return rc;
}
