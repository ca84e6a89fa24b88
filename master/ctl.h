/*
 * ctl: the commands of sluicectl beyond "check", one entry point per
 * command word.  Each takes the command's own argv (argv[0] is the command
 * word), prints its result on standard output and its errors on standard
 * error, and returns the exit status: 0, 1 on failure, 2 on a usage error.
 */
#ifndef SL_MASTER_CTL_H
#define SL_MASTER_CTL_H

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

#endif
