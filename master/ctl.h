/*
 * ctl: the commands of sluicectl beyond "check", one entry point per
 * command word.  Each takes the command's own argv (argv[0] is the command
 * word), prints its result on standard output and its errors on standard
 * error, and returns the exit status: 0, 1 on failure, 2 on a usage error.
 */
#ifndef SL_MASTER_CTL_H
#define SL_MASTER_CTL_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

struct sl_conf;
struct sl_db;

/* What sluicectl learnt from -c / -s and the configuration it read. */
struct sl_ctl_env {
	const struct sl_conf *cf;	/* NULL: no configuration was read */
	const char	*config;	/* its file name, or NULL */
	const char	*sock;		/* control socket */
	const char	*db;		/* state database (sluice.stateDb) */
};

/* geodata build-site DIR -o OUT | build-ip DIR -o OUT |
 * lookup DOMAIN|IP [--file F]  (master/ctl_geodata.c) */
int	 sl_ctl_geodata(int argc, char **argv);

/* route [-c CONFIG] [--json] [--batch] [--no-resolve] [query options]
 * DEST[:PORT]  (master/ctl_route.c); CONFIG defaults to sluicectl's -c */
int	 sl_ctl_route(const char *config, int argc, char **argv);

/* reload | status [--json] | stop [--fast] over the control socket SOCK
 * (master/ctl_daemon.c).  A stop waits up to STOP_WAIT_S + 15 seconds for
 * the daemon to exit.  2 also when the daemon cannot be reached. */
int	 sl_ctl_daemon(const char *sock, int stop_wait_s, int argc,
	    char **argv);

/*
 * Send the control command CMD to the daemon at SOCK and return its whole
 * answer (malloc'ed), or NULL: *REACHED is 0 when the socket could not be
 * connected to (errno says why), 1 when the daemon did not answer within
 * TIMEOUT_MS.  (master/ctl_daemon.c)
 */
char	*sl_ctl_ask(const char *sock, const char *cmd, int timeout_ms,
	    int *reached);
/* Whether sl_ctl_ask's errno means that no daemon listens there. */
#define sl_ctl_not_running(e)	((e) == ENOENT || (e) == ECONNREFUSED)
/* The text after an answer's first line, NULL if it has none; *OK is 1
 * when that line is "ok", 0 when it is "error". */
const char *sl_ctl_body(const char *ans, int *ok);

/* user add|set|del|enable|disable|show|list|link ...  (master/ctl_user.c) */
int	 sl_ctl_user(const struct sl_ctl_env *, int argc, char **argv);

/* stats [--user EMAIL] [--since YYYY-MM-DD] [--json]  (master/ctl_stats.c) */
int	 sl_ctl_stats(const struct sl_ctl_env *, int argc, char **argv);

/* Shared by ctl_user.c and ctl_stats.c (defined in ctl_user.c). */
/* ENV's database, or NULL after "sluicectl: PATH: reason" on stderr. */
struct sl_db	*sl_ctl_db_open(const struct sl_ctl_env *, int flags);
/* "YYYY-MM-DD" -> unix time of 00:00 UTC that day; 0 or -1. */
int	 sl_ctl_parse_date(const char *s, int64_t *t);
/* N bytes as "512 B", "1.5 MiB", ...; returns BUF. */
char	*sl_ctl_bytes(uint64_t n, char *buf, size_t len);

#endif
