/*
 * master_int: what the master's own modules share (not for the worker).
 *
 *   master.c  process setup, signals, the epoll loop, logs
 *   gen.c     generations: build, compare, free
 *   procs.c   the process table: fork, channel, reap, respawn, deadlines
 *   reload.c  reloads, in place or with new workers, and their outcome
 *   ctlsrv.c  the control socket and its clients
 *   status.c  `sluicectl status` text and JSON
 *   stats.c   counters -> state database, users and their admission
 */
#ifndef SL_MASTER_INT_H
#define SL_MASTER_INT_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "master/conf.h"
#include "master/listen.h"
#include "master/master.h"
#include "master/users.h"
#include "shm/boot.h"

struct sl_cnt_region;
struct sl_cnames;
struct sl_db;
struct sl_tickets;

/* Traffic of one user or tag: folded or stored figures. */
struct tally {
	uint64_t	 up, down, conns;
};

/* A worker's counters as last folded, per kind (user, inbound tag,
 * outbound tag) and counter id. */
struct snap {
	struct tally	*v[3];
	uint32_t	 n[3];
	int		 live;		/* the slot holds figures not folded */
};

/* One configuration generation, as the master holds it. */
struct gen {
	uint64_t		 id;
	uint64_t		 layout;	/* listener layout generation */
	struct sl_conf		*cf;
	int			 image_fd;
	int			 workers;
	struct sl_boot_listener	*lst;	/* workers * ninbounds, slot-major */
	int			 obs_fd;	/* observation region or -1 */
	int			 obs_ro_fd;	/* the same, read-only */
	time_t			 loaded;
};

#define OBSERVER_SLOT	(-1)	/* the process table's entry for the observer */

/* One child process (a worker or the observer). */
struct proc {
	pid_t		 pid;		/* 0 = entry free or waiting to respawn */
	int		 slot;		/* OBSERVER_SLOT: the observer */
	uint64_t	 gen;		/* generation it serves */
	uint64_t	 layout;	/* listener layout it holds */
	int		 exiting;	/* QUIT/TERM sent: not respawned */
	int		 ready;		/* READY or ACK for gen received */
	int		 folded;	/* counters added to the totals */
	uint64_t	 swap_gen;	/* SWAP sent, no answer yet; 0 = none */
	int		 chan;		/* master's end, -1 = none */
	uint64_t	 started, respawn_at, kill_at;	/* ms, monotonic */
	time_t		 started_wall;
	int		 crashes;
	struct snap	 snap;		/* stats.c */
};

/* Accepted connections of listeners, carried over worker lifetimes. */
struct ltotal {
	char		 key[80];	/* "listen|port" */
	uint64_t	 accepted;
};

#define CTL_CLIENTS	16

struct ctl_client {
	int		 fd;		/* -1 = free */
	char		 in[256];
	size_t		 inlen;
	char		*out;
	size_t		 outlen, outoff;
	int		 wait;		/* CTL_WAIT_* */
};

/* What a client waits for; MORE: the rest of an answer being written. */
enum { CTL_WAIT_NONE, CTL_WAIT_MORE, CTL_WAIT_RELOAD, CTL_WAIT_STOP };

/* The state database and what goes into it (stats.c). */
struct stats {
	struct sl_db		*db;		/* NULL: none (logged) */
	char			*db_path;
	char			 db_problem[200];	/* logged once */
	struct sl_cnames	*names;		/* counter ids */
	struct sl_users		 users;
	struct tally		*pend[3];	/* folded, not stored yet */
	uint32_t		 npend[3];
	uint64_t		 next_ms;	/* the next fold and flush */
	struct sl_db_probe	*probes;	/* observed, not stored yet */
	size_t			 nprobes;
	int64_t			*probe_seen;	/* last_try per (obs, out) */
	size_t			 nprobe_seen;
	uint64_t		 probe_gen;
	int			 serving;	/* after stats_open */
	int			 full_warned;	/* counter ids ran out */
};

/* A reload whose workers have not all answered yet. */
struct pending {
	uint64_t	 gen;		/* 0 = none */
	uint64_t	 t0, deadline;	/* ms */
	int		 in_place;
};

struct master {
	const struct sl_master_opts *opts;
	struct gen		 cur;
	uint64_t		 layouts;	/* last layout id given */
	struct proc		*p;
	size_t			 np, capp;
	struct sl_listen_set	 ls;
	int			 sfd, ep, logp[2];
	int			 ready_fd;	/* to the waiting parent, or -1 */
	const char		*pid_file;
	int			 stopping;	/* SIGTERM, SIGQUIT */
	pid_t			 pid;
	time_t			 started;
	struct sl_cnt_region	*cnt;
	struct stats		 st;
	struct sl_tickets	*tickets;
	struct ltotal		*tot;
	size_t			 ntot;
	struct pending		 pend;
	int			 ctl_fd;
	char			*ctl_path;
	struct ctl_client	 ctl[CTL_CLIENTS];
	char			 logbuf[65536];
	size_t			 loglen;
};

/* epoll data: the kind in the high half, an index in the low one. */
enum { EV_SIGNAL = 1, EV_LOG, EV_CTL, EV_CLIENT, EV_CHAN };
#define EV_DATA(kind, i)	(((uint64_t)(kind) << 32) | (uint32_t)(i))

void		 master_logs_open(struct master *);
/* Log every line of E at LEVEL (SL_LOGL_*); E's text is used up. */
void		 master_log_errors(int level, struct sl_errors *e);
void		 master_mkdir_parent(const char *path);
/* sluice.relay "sockmap": load and self-test the eBPF relay before
 * workers are forked (they inherit it); a failure is logged once. */
void		 master_relay_prepare(struct master *);
/* The relay mode in effect: "splice", or "sockmap (why) -> splice". */
const char	*master_relay_text(const struct master *, char *, size_t);

/* gen.c: REUSE (or NULL: read the config file) is the model to compile;
 * it stays the caller's on failure. */
int		 gen_build(struct master *, uint64_t id,
		    struct sl_conf *reuse, struct gen *, struct sl_errors *);
void		 gen_free(struct gen *);
/* Same listening sockets, worker count and process settings: a reload
 * can swap the image into the running workers. */
int		 gen_same_layout(const struct gen *, const struct gen *);
int		 gen_worker_count(const struct master *, const struct sl_conf *);

/* procs.c */
int		 procs_spawn(struct master *, int slot);
void		 procs_start(struct master *);
void		 procs_quit(struct proc *, int sig,
		    uint64_t grace_ms);
void		 procs_reap(struct master *);
void		 procs_timers(struct master *);
int		 procs_next_timeout(const struct master *);
size_t		 procs_alive(const struct master *);
void		 procs_chan_event(struct master *, size_t idx);
int		 procs_swap(struct master *, struct proc *);
/* Start a new worker on P's slot, then let P drain (P may move). */
void		 procs_replace(struct master *, struct proc *, const char *why);
struct sl_cnt_slot *procs_cnt(const struct master *, const struct proc *);
const char	*procs_name(int slot, char *, size_t);

/* reload.c */
void		 reload_start(struct master *, struct ctl_client *);
/* The database's users changed: a new image in place if they changed
 * the image, else only their admission.  C (or NULL) gets the outcome. */
void		 reload_users(struct master *, struct ctl_client *);
/* A worker answered or died: finish the reload if everyone has. */
void		 reload_check(struct master *);
void		 reload_timeout(struct master *);

/* ctlsrv.c */
int		 ctlsrv_open(struct master *, const char *path);
void		 ctlsrv_close(struct master *);
void		 ctlsrv_accept(struct master *);
void		 ctlsrv_event(struct master *, size_t idx, uint32_t events);
/* Queue text for C and, unless it waits for more, close after it. */
void		 ctlsrv_reply(struct master *, struct ctl_client *,
		    const char *text, int done);
void		 ctlsrv_reply_all(struct master *, int wait, const char *text);
void		 ctlsrv_close_client(struct ctl_client *);
/* Tell the clients waiting for a stop; they see EOF at the exit. */
void		 ctlsrv_stopped(struct master *);

/* stats.c */
int		 stats_init(struct master *);
/* Before compiling CF: the users of the database it names (*CHANGED:
 * the image's input changed); -1 when the database failed (logged).
 * Until stats_open the database is opened and closed again (the master
 * may still fork to become a daemon; SQLite's locks do not survive it). */
int		 stats_prepare(struct master *, const struct sl_conf *cf,
		    int *changed);
/* A reload succeeded: the database its config names from now on. */
void		 stats_adopt(struct master *);
/* In the serving process: keep the database open from now on. */
void		 stats_open(struct master *);
/* At exit: fold everything, store it, close. */
void		 stats_close(struct master *);
/* Fold every live slot; at the interval also store and enforce. */
void		 stats_tick(struct master *);
int		 stats_next_timeout(const struct master *, int timeout);
/* A worker is forked on P's slot / has exited from it. */
void		 stats_slot_start(struct master *, struct proc *);
void		 stats_slot_end(struct master *, struct proc *);
/* Reload the users from the database: 0 (*changed: the image's input
 * changed), -1 with the reason in ERR. */
int		 stats_users_reload(struct master *, int *changed, char *err,
		    size_t errlen);
/* Write every user's admission to the counters region. */
void		 stats_enforce(struct master *);
/* The database, its users and the balancers' probe history, for
 * `sluicectl status` (a json_object *). */
struct json_object *stats_status_json(struct master *);
/* Live figures, not yet stored, as JSON text (malloc'ed). */
char		*stats_live_json(struct master *);

/* status.c */
char		*status_text(struct master *, int json);
/* Add a dying or retired worker's accepted counts to the totals. */
void		 status_fold(struct master *, struct proc *,
		    const struct gen *);

#endif
