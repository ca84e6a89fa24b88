/* main: sluiced command line. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "master/compile.h"
#include "master/master.h"

#define DEFAULT_CONFIG	"/etc/sluice/sluice.conf"

static void
usage(void)
{
	fprintf(stderr, "usage: sluiced [-f] [-t] [-c file] [-w workers] "
	    "[-p pidfile]\n");
	exit(1);
}

int
main(int argc, char **argv)
{
	struct sl_master_opts o = { .config = DEFAULT_CONFIG };
	int ch, test = 0;
	char *end;

	while ((ch = getopt(argc, argv, "c:ftw:p:h")) != -1) {
		switch (ch) {
		case 'c':
			o.config = optarg;
			break;
		case 'f':
			o.foreground = 1;
			break;
		case 't':
			test = 1;
			break;
		case 'w':
			o.workers = (int)strtol(optarg, &end, 10);
			if (*end != '\0' || o.workers < 1 || o.workers > 1024)
				usage();
			break;
		case 'p':
			o.pid_file = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (test)
		return sl_compile_check_file(o.config) == 0 ? 0 : 1;
	return sl_master_run(&o);
}
