/*
 * sluicectl: the admin tool.
 *
 * Commands: check (parse, check and compile a config exactly as the
 * daemon would), route (master/ctl_route.c), geodata (master/ctl_geodata.c),
 * and reload, status, stop for a running daemon (master/ctl_daemon.c).
 * -c names a config, which also says where the control socket is; -s names
 * the control socket directly.
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
 * The daemon's control socket: -s, else the config's controlSocket.  A
 * config named with -c must load; the default one may be absent (then
 * the default socket).
 */
static int
cmd_daemon(const char *config, int config_given, const char *sock,
    int argc, char **argv)
{
	struct sl_errors errs;
	struct sl_conf *cf = NULL;
	char *path = NULL;
	int wait = DEFAULT_WAIT, rc;

	if (sock == NULL && (config_given || access(config, R_OK) == 0)) {
		sl_errors_init(&errs);
		if ((cf = sl_conf_load(config, &errs)) == NULL) {
			fprintf(stderr, "sluicectl: %s (use -s SOCKET to name "
			    "the control socket)\n%s", config,
			    errs.buf ? errs.buf : "");
			sl_errors_free(&errs);
			return 2;
		}
		sl_errors_free(&errs);
		path = strdup(cf->sluice.control_socket);
		wait = (int)cf->sluice.shutdown_timeout;
		sl_conf_free(cf);
	}
	rc = sl_ctl_daemon(sock ? sock : path ? path : DEFAULT_SOCKET, wait,
	    argc, argv);
	free(path);
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
	fprintf(stderr, "sluicectl: unknown command: %s\n", argv[0]);
	usage();
}
