/*
 * sluicectl: the admin tool.
 *
 * Commands so far: check (parse, check and compile a config exactly as
 * the daemon would), geodata (master/ctl_geodata.c).  -c names a config, -s a control socket; commands
 * that talk to a running daemon come with the control socket.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "master/compile.h"
#include "master/ctl.h"

#define DEFAULT_CONFIG	"/etc/sluice/sluice.conf"

static void
usage(void)
{
	fprintf(stderr, "usage: sluicectl [-c file | -s socket] command ...\n"
	    "commands:\n"
	    "  check [-c file]    check a configuration (like sluiced -t)\n"
	    "  route [-c file] [--json] [--batch] [options] DEST[:PORT]\n"
	    "                     explain the routing decision for DEST\n"
	    "  geodata build-site DIR -o OUT | build-ip DIR -o OUT |\n"
	    "          lookup DOMAIN|IP [--file FILE]\n"
	    "                     build or query geosite/geoip .dat files\n");
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

int
main(int argc, char **argv)
{
	const char *config = DEFAULT_CONFIG;
	int ch;

	/* "+": stop at the command; its own options follow it. */
	while ((ch = getopt(argc, argv, "+c:s:h")) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 's':
			fprintf(stderr, "sluicectl: -s: the control socket is "
			    "not implemented yet\n");
			return 2;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	argc -= optind;
	argv += optind;
	if (strcmp(argv[0], "check") == 0)
		return cmd_check(config, argc, argv);
	if (strcmp(argv[0], "geodata") == 0)
		return sl_ctl_geodata(argc, argv);
	if (strcmp(argv[0], "route") == 0)
		return sl_ctl_route(config, argc, argv);
	fprintf(stderr, "sluicectl: unknown command: %s\n", argv[0]);
	usage();
	return 2;
}
