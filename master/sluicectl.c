/*
 * sluicectl: the admin tool.
 *
 * Commands: check (parse, check and compile a config exactly as the
 * daemon would), route (master/ctl_route.c), geodata (master/ctl_geodata.c),
 * reload, status, stop for a running daemon (master/ctl_daemon.c), and
 * user and stats for the state database (master/ctl_user.c, ctl_stats.c).
 * -c names a config, which also says where the control socket and the
 * database are; -s names the control socket directly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/compile.h"
#include "master/conf.h"
#include "master/ctl.h"

#define DEFAULT_CONFIG	"/etc/sluice/sluice.conf"
#define DEFAULT_SOCKET	"/run/sluice/control.sock"
#define DEFAULT_DB	"/var/lib/sluice/sluice.db"
#define DEFAULT_WAIT	30	/* seconds: sluice.shutdownTimeout */

static const char usage_text[] =
    "usage: sluicectl [-c file | -s socket] command [argument ...]\n"
    "commands:\n"
    "  check [-c file]    check a configuration (like sluiced -t)\n"
    "  route [-c file] [--json] [--batch] [--no-resolve] [options] "
    "DEST[:PORT]\n"
    "                     explain the routing decision for DEST\n"
    "  geodata build-site DIR -o OUT | build-ip DIR -o OUT |\n"
    "          lookup DOMAIN|IP [--file FILE]\n"
    "                     build or query geosite/geoip .dat files\n"
    "  reload             reload the running daemon's configuration\n"
    "  status [--json]    generation, workers and listeners of the daemon\n"
    "  stop [--fast]      stop the daemon (drain; --fast: at once)\n"
    "  user add EMAIL [--inbound TAG]... [--uuid UUID] [--password PASS]\n"
    "          [--level N] [--flow FLOW] [--quota SIZE]\n"
    "          [--expire YYYY-MM-DD|never] [--max-conn N]\n"
    "  user set EMAIL [the options of add] [--reset-usage]\n"
    "  user del | enable | disable | show EMAIL\n"
    "  user list [--json]\n"
    "  user link EMAIL [--host HOST]\n"
    "                     the users in the state database; share links\n"
    "  stats [--user EMAIL] [--since YYYY-MM-DD] [--json]\n"
    "                     traffic per user, inbound and outbound\n"
    "  help               this text\n";

static _Noreturn void
usage(void)
{
	fputs(usage_text, stderr);
	exit(2);
}

static int
cmd_check(const char *config, int argc, char **argv)
{
	int ch;

	optind = 1;
	while ((ch = getopt(argc, argv, "c:")) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	return sl_compile_check_file(config) == 0 ? 0 : 1;
}

/*
 * Fill ENV: the control socket is -s, else the config's controlSocket; the
 * database is the config's stateDb.  The config is read when READ_CONF is
 * set and it was named with -c (then it must load) or the default one is
 * readable.  -1 after printing the config's errors (HINT follows the
 * first line).  ENV->cf is freed by the caller.
 */
static int
env_load(const char *config, int config_given, const char *sock,
    int read_conf, const char *hint, struct sl_ctl_env *env)
{
	struct sl_errors errs;
	struct sl_conf *cf = NULL;

	memset(env, 0, sizeof(*env));
	if (read_conf && (config_given || access(config, R_OK) == 0)) {
		sl_errors_init(&errs);
		if ((cf = sl_conf_load(config, &errs)) == NULL) {
			fprintf(stderr, "sluicectl: %s%s\n%s", config, hint,
			    errs.buf ? errs.buf : "");
			sl_errors_free(&errs);
			return -1;
		}
		sl_errors_free(&errs);
		env->config = config;
	}
	env->cf = cf;
	env->sock = sock ? sock : cf ? cf->sluice.control_socket :
	    DEFAULT_SOCKET;
	env->db = cf ? cf->sluice.state_db : DEFAULT_DB;
	return 0;
}

static int
cmd_daemon(const char *config, int config_given, const char *sock,
    int argc, char **argv)
{
	struct sl_ctl_env env;
	int rc;

	if (env_load(config, config_given, sock, sock == NULL,
	    " (use -s SOCKET to name the control socket)", &env) == -1)
		return 2;
	rc = sl_ctl_daemon(env.sock, env.cf ?
	    (int)env.cf->sluice.shutdown_timeout : DEFAULT_WAIT, argc, argv);
	sl_conf_free((struct sl_conf *)env.cf);
	return rc;
}

/* user and stats: the database and the inbounds come from the config. */
static int
cmd_state(const char *config, int config_given, const char *sock,
    int argc, char **argv)
{
	struct sl_ctl_env env;
	int rc;

	if (env_load(config, config_given, sock, 1, "", &env) == -1)
		return 1;
	if (strcmp(argv[0], "user") == 0)
		rc = sl_ctl_user(&env, argc, argv);
	else
		rc = sl_ctl_stats(&env, argc, argv);
	sl_conf_free((struct sl_conf *)env.cf);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *config = DEFAULT_CONFIG, *sock = NULL;
	int ch, config_given = 0;

	/* "+": stop at the command; its own options follow it. */
	while ((ch = getopt(argc, argv, "+c:s:h")) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			config_given = 1;
			break;
		case 's':
			sock = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	argc -= optind;
	argv += optind;
	if (strcmp(argv[0], "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(argv[0], "check") == 0)
		return cmd_check(config, argc, argv);
	if (strcmp(argv[0], "geodata") == 0)
		return sl_ctl_geodata(argc, argv);
	if (strcmp(argv[0], "route") == 0)
		return sl_ctl_route(config, argc, argv);
	if (strcmp(argv[0], "reload") == 0 || strcmp(argv[0], "status") == 0 ||
	    strcmp(argv[0], "stop") == 0)
		return cmd_daemon(config, config_given, sock, argc, argv);
	if (strcmp(argv[0], "user") == 0 || strcmp(argv[0], "stats") == 0)
		return cmd_state(config, config_given, sock, argc, argv);
	fprintf(stderr, "sluicectl: unknown command: %s\n", argv[0]);
	usage();
}
