/*-------------------------------------------------------------------------
 *
 * guard.c
 *		Per-connection state, and the watchdog that drops a client which
 *		takes longer than --timeout to send a request.
 *
 * libmicrohttpd's connection timeout is an idle timeout: a client that
 * trickles a byte now and then (slowloris) keeps a connection, and with it
 * a thread and a slot of --connections, for ever.  So each connection also
 * has a deadline: --timeout seconds from its accept, or from the end of its
 * previous request, to receive the next request whole.  While the request
 * waits on the database the deadline does not run (the pool bounds that);
 * once the answer is queued the client has --timeout seconds to take it.
 *
 * The watchdog thread checks the deadlines ten times a second and
 * shut down(2)s the socket of a late connection: its own thread then sees
 * the end of the stream and libmicrohttpd closes it.  The socket is only
 * touched under guard_lock, and libmicrohttpd reports the connection
 * closed (taking it off the list, under the same lock) before it closes
 * the descriptor, so the watchdog never shuts down a reused descriptor.
 *
 *-------------------------------------------------------------------------
 */
#include "receiver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct ConnGuard
{
	ConnGuard  *prev;
	ConnGuard  *next;
	int			fd;
	double		deadline;
	bool		busy;			/* waiting on the database */
	bool		in_request;		/* the request's headers have arrived */
	bool		timed_out;		/* the watchdog dropped it */
	char		addr[INET6_ADDRSTRLEN];
};

static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t guard_wake;
static ConnGuard *guards;
static pthread_t watchdog;
static bool watchdog_running;
static bool watchdog_stop;

/* The client's address as text. */
static void
FormatAddr(struct MHD_Connection *conn, char *dst, size_t dstlen)
{
	const union MHD_ConnectionInfo *ci =
	MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(dst, dstlen, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *) sa)->sin_addr, dst, (socklen_t) dstlen);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *) sa)->sin6_addr, dst, (socklen_t) dstlen);
}

/* A new connection: its guard, on the list, its deadline running. */
static void
GuardAdd(struct MHD_Connection *conn, void **socket_context)
{
	const union MHD_ConnectionInfo *ci =
	MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	ConnGuard  *g = calloc(1, sizeof(ConnGuard));

	*socket_context = g;
	if (g == NULL || ci == NULL)
		return;
	g->fd = ci->connect_fd;
	FormatAddr(conn, g->addr, sizeof(g->addr));
	g->deadline = now_monotonic() + receiver_opts.timeout;
	pthread_mutex_lock(&guard_lock);
	g->next = guards;
	if (guards)
		guards->prev = g;
	guards = g;
	pthread_mutex_unlock(&guard_lock);
}

/* A closed connection: off the list, freed. */
static void
GuardRemove(ConnGuard *g)
{
	pthread_mutex_lock(&guard_lock);
	if (g->prev)
		g->prev->next = g->next;
	else if (guards == g)
		guards = g->next;
	if (g->next)
		g->next->prev = g->prev;
	pthread_mutex_unlock(&guard_lock);
	free(g);
}

/* libmicrohttpd's MHD_OPTION_NOTIFY_CONNECTION callback. */
void
guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
			 enum MHD_ConnectionNotificationCode toe)
{
	(void) cls;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		GuardAdd(conn, socket_context);
	else if (toe == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context)
	{
		GuardRemove(*socket_context);
		*socket_context = NULL;
	}
}

/* The guard of a connection (NULL only when it could not be allocated). */
ConnGuard *
guard_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? (ConnGuard *) ci->socket_context : NULL;
}

/* The client's address, for the log. */
const char *
guard_addr(const ConnGuard *g)
{
	return g && g->addr[0] ? g->addr : "?";
}

/* A request's headers have arrived (its deadline keeps running). */
void
guard_request_begin(ConnGuard *g)
{
	if (g == NULL)
		return;
	pthread_mutex_lock(&guard_lock);
	g->in_request = true;
	pthread_mutex_unlock(&guard_lock);
}

/*
 * busy: the request waits on the database, its deadline stopped; !busy:
 * the answer is queued, the client has --timeout to take it.
 */
void
guard_set_busy(ConnGuard *g, bool busy)
{
	if (g == NULL)
		return;
	pthread_mutex_lock(&guard_lock);
	g->busy = busy;
	if (!busy)
		g->deadline = now_monotonic() + receiver_opts.timeout;
	pthread_mutex_unlock(&guard_lock);
}

/*
 * The request is over; the next one has --timeout again (plus a second, so
 * that an idle keep-alive connection is closed by libmicrohttpd's own idle
 * timeout, quietly, and not here).  Returns whether the watchdog dropped it.
 */
bool
guard_request_end(ConnGuard *g)
{
	bool		timed_out;

	if (g == NULL)
		return false;
	pthread_mutex_lock(&guard_lock);
	timed_out = g->timed_out;
	g->in_request = false;
	g->deadline = now_monotonic() + receiver_opts.timeout + 1;
	pthread_mutex_unlock(&guard_lock);
	return timed_out;
}

/* Drops every late connection (under guard_lock). */
static void
DropLate(double now)
{
	for (ConnGuard *g = guards; g; g = g->next)
	{
		if (g->busy || g->timed_out || now < g->deadline)
			continue;
		g->timed_out = true;

		/*
		 * One with a request in progress is logged as that request.  The
		 * line is written before the shutdown, so that whoever sees the
		 * connection end can already read why.
		 */
		if (!g->in_request)
			log_line("dropped a connection from %s: no whole request within %u s",
					 g->addr, receiver_opts.timeout);
		shutdown(g->fd, SHUT_RDWR);
	}
}

/* The watchdog thread's loop. */
static void *
WatchdogMain(void *arg)
{
	(void) arg;
	pthread_mutex_lock(&guard_lock);
	while (!watchdog_stop)
	{
		struct timespec ts;

		DropLate(now_monotonic());
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += 100 * 1000 * 1000;
		if (ts.tv_nsec >= 1000 * 1000 * 1000)
		{
			ts.tv_sec++;
			ts.tv_nsec -= 1000 * 1000 * 1000;
		}
		pthread_cond_timedwait(&guard_wake, &guard_lock, &ts);
	}
	pthread_mutex_unlock(&guard_lock);
	return NULL;
}

/* Starts the watchdog thread. */
bool
guard_start(char *err, size_t errlen)
{
	pthread_condattr_t ca;
	int			rc;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&guard_wake, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&watchdog, NULL, WatchdogMain, NULL);
	if (rc != 0)
	{
		snprintf(err, errlen, "cannot start the watchdog thread: %s", strerror(rc));
		return false;
	}
	watchdog_running = true;
	return true;
}

/* Stops the watchdog thread (after the daemon is stopped). */
void
guard_stop(void)
{
	if (!watchdog_running)
		return;
	pthread_mutex_lock(&guard_lock);
	watchdog_stop = true;
	pthread_cond_signal(&guard_wake);
	pthread_mutex_unlock(&guard_lock);
	pthread_join(watchdog, NULL);
	watchdog_running = false;
}
