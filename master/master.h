/*
 * master: the supervising process.
 *
 * Owns the current configuration generation (model + sealed image), the
 * listening sockets, the worker table, the log files and the signals.  It
 * never touches client traffic.
 */
#ifndef SL_MASTER_MASTER_H
#define SL_MASTER_MASTER_H

struct sl_master_opts {
	const char	*config;	/* -c */
	int		 foreground;	/* -f */
	int		 workers;	/* -w, 0 = from config or CPUs */
	const char	*pid_file;	/* -p, NULL = from config */
};

/* Returns the process exit status. */
int	 sl_master_run(const struct sl_master_opts *);

#endif
