/* main: sluiced command line. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "master/compile.h"
#include "master/master.h"

#define DEFAULT_CONFIG	"/etc/sluice/sluice.conf"

static const char usage_text[] =
    "usage: sluiced [-c file] [-f] [-t] [-w workers] [-p pidfile] [-h]\n"
    "  -c file     configuration (default " DEFAULT_CONFIG ")\n"
    "  -f          stay in the foreground, log to standard error\n"
    "  -t          check the configuration and exit\n"
    "  -w workers  worker processes (default: sluice.workers, else CPUs)\n"
    "  -p pidfile  pid file (default: sluice.pidFile)\n"
    "  -h          this text\n";

static _Noreturn void
usage(void)
{
	fputs(usage_text, stderr);
	exit(2);
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
		case 'h':
			fputs(usage_text, stdout);
			return 0;
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
