/*
 * log: the error log and the access log, for every process.
 *
 * The master owns the log files.  Workers never write a file: their lines go
 * over a non-blocking pipe to the master (a line is one atomic write of at
 * most SL_LOG_LINE bytes; when the pipe is full the line is dropped and
 * counted), so a slow disk can never stall a worker's event loop.
 * Before any configuration is read, lines go to stderr.
 */
#ifndef SL_SHM_LOG_H
#define SL_SHM_LOG_H

#include <stdarg.h>
#include <stdint.h>

#define SL_LOG_LINE	1024	/* < PIPE_BUF: one write is atomic */

/* Same values as enum sl_loglevel in master/conf.h. */
#define SL_LOGL_NONE	0
#define SL_LOGL_ERROR	1
#define SL_LOGL_WARNING	2
#define SL_LOGL_INFO	3
#define SL_LOGL_DEBUG	4

/* Pipe records start with one of these bytes. */
#define SL_LOG_REC_ERROR	'E'
#define SL_LOG_REC_ACCESS	'A'

void	 sl_log_ident(const char *);		/* "master", "worker 2" */
void	 sl_log_level(int);
int	 sl_log_enabled(int);
/* Master: where the lines go; fd -1 = discard.  Closes previous fds >2. */
void	 sl_log_files(int error_fd, int access_fd);
/* Worker: send every line to the master through this pipe. */
void	 sl_log_pipe(int fd);
uint64_t sl_log_dropped(void);
/* Master: write one record received from a worker pipe. */
void	 sl_log_write_record(const char *rec, size_t len);

void	 sl_log(int level, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 sl_logv(int level, const char *fmt, va_list);
void	 sl_log_access(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
_Noreturn void sl_fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

#define sl_error(...)	sl_log(SL_LOGL_ERROR, __VA_ARGS__)
#define sl_warn(...)	sl_log(SL_LOGL_WARNING, __VA_ARGS__)
#define sl_info(...)	sl_log(SL_LOGL_INFO, __VA_ARGS__)
#define sl_debug(...)	do { if (sl_log_enabled(SL_LOGL_DEBUG)) \
			    sl_log(SL_LOGL_DEBUG, __VA_ARGS__); } while (0)

#endif
