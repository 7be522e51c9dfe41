/*-------------------------------------------------------------------------
 *
 * pool.c
 *		The pool of libpq connections, and the one statement the receiver
 *		runs on them: SELECT liveid.receive_callback($1::jsonb).
 *
 * Design.  --pool slots, each holding a connection or none.  A request
 * takes a free slot (waiting at most --query-timeout for one), connects it
 * if it has no connection, runs the statement in autocommit mode, and
 * gives the slot back.  Nothing here blocks without a bound:
 *
 *  - connecting is bounded by connect_timeout, which is added (from
 *    --connect-timeout) when the DSN sets none;
 *  - the statement is sent and awaited in non-blocking mode, polling the
 *    socket until --query-timeout; past it the connection is dropped (the
 *    function is idempotent: LiveID+'s retry gets the same event id).
 *
 * A connection is dropped, so that the next request connects afresh, when
 * it broke, when the server answered 25006 (a standby: with several hosts
 * and target_session_attrs in the DSN the next one may be the primary) or
 * 57P01-57P03, after a timeout, and when an idle one has anything to
 * read: a server that shut down or terminated the backend has sent its
 * FATAL message and closed, and finding that before sending the statement
 * turns what would be a 503 into a fresh connection.
 *
 * The body goes as a text parameter (client_encoding is UTF8, forced), so
 * the ::jsonb cast in the server validates it: no JSON parser here.
 *
 *-------------------------------------------------------------------------
 */
#include "receiver.h"

#include <errno.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TEXT_OID 25

static const char *const CallbackSql = "SELECT liveid.receive_callback($1::jsonb)";

typedef struct PoolSlot
{
	PGconn	   *conn;
	bool		in_use;
} PoolSlot;

static PoolSlot *slots;
static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_freed;

/* the connection parameters: the DSN's, plus ours; NULL-terminated */
static const char **conn_keywords;
static const char **conn_values;

/* Appends keyword=value to the parameter arrays (both strdup'd). */
static void
AddParam(int *n, const char *keyword, const char *value)
{
	conn_keywords[*n] = strdup(keyword);
	conn_values[*n] = strdup(value);
	(*n)++;
	conn_keywords[*n] = NULL;
	conn_values[*n] = NULL;
}

/*
 * Builds the parameter arrays from the DSN.  libpq's own parse error is
 * not shown: it may quote the DSN, password and all.
 */
static bool
BuildParams(char *err, size_t errlen)
{
	PQconninfoOption *parsed = PQconninfoParse(receiver_opts.dsn, NULL);
	PQconninfoOption *o;
	char		timeout[16];
	bool		has_timeout = false;
	int			count = 0,
				n = 0;

	if (parsed == NULL)
	{
		snprintf(err, errlen, "--dsn is not a valid libpq connection string or URI "
				 "(it is not shown: it may hold a password)");
		return false;
	}
	for (o = parsed; o->keyword; o++)
		count++;
	conn_keywords = calloc((size_t) count + 4, sizeof(char *));
	conn_values = calloc((size_t) count + 4, sizeof(char *));
	for (o = parsed; o->keyword; o++)
	{
		if (o->val == NULL || strcmp(o->keyword, "client_encoding") == 0)
			continue;
		if (strcmp(o->keyword, "connect_timeout") == 0 && o->val[0] != '\0')
			has_timeout = true;
		AddParam(&n, o->keyword, o->val);
	}
	PQconninfoFree(parsed);
	/* the body is UTF-8, whatever the database's encoding */
	AddParam(&n, "client_encoding", "UTF8");
	AddParam(&n, "fallback_application_name", RECEIVER_NAME);
	if (!has_timeout)
	{
		snprintf(timeout, sizeof(timeout), "%u", receiver_opts.connect_timeout);
		AddParam(&n, "connect_timeout", timeout);
	}
	return true;
}

/* Checks the DSN and makes the (empty) slots; connections come on demand. */
bool
pool_init(char *err, size_t errlen)
{
	pthread_condattr_t ca;

	if (!BuildParams(err, errlen))
		return false;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&pool_freed, &ca);
	pthread_condattr_destroy(&ca);
	slots = calloc(receiver_opts.pool_size, sizeof(PoolSlot));
	if (slots == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return false;
	}
	return true;
}

/* "host=... port=... dbname=... user=..." of the DSN, for the log (no password). */
void
pool_describe(char *dst, size_t dstlen)
{
	static const char *const shown[] = {"host", "hostaddr", "port", "dbname", "user", NULL};
	size_t		n = 0;

	dst[0] = '\0';
	for (int s = 0; shown[s]; s++)
		for (int i = 0; conn_keywords[i]; i++)
		{
			char		v[100];

			if (strcmp(conn_keywords[i], shown[s]) != 0 || conn_values[i][0] == '\0')
				continue;
			log_token(v, sizeof(v), conn_values[i]);
			n += (size_t) snprintf(dst + n, n < dstlen ? dstlen - n : 0, "%s%s=%s",
								   n ? " " : "", shown[s], v);
		}
	if (dst[0] == '\0')
		snprintf(dst, dstlen, "libpq's defaults (PG* environment variables)");
}

/* A deadline as a CLOCK_MONOTONIC timespec. */
static struct timespec
DeadlineSpec(double deadline)
{
	struct timespec ts;

	ts.tv_sec = (time_t) deadline;
	ts.tv_nsec = (long) ((deadline - (double) ts.tv_sec) * 1e9);
	return ts;
}

/*
 * Takes a free slot, preferring one that is connected; waits for one until
 * deadline.  NULL when none came free in time.
 */
static PoolSlot *
Acquire(double deadline)
{
	struct timespec ts = DeadlineSpec(deadline);
	PoolSlot   *got = NULL;

	pthread_mutex_lock(&pool_lock);
	while (got == NULL)
	{
		for (unsigned int i = 0; i < receiver_opts.pool_size; i++)
		{
			PoolSlot   *s = &slots[i];

			if (s->in_use)
				continue;
			if (got == NULL || (got->conn == NULL && s->conn != NULL))
				got = s;
		}
		if (got == NULL &&
			pthread_cond_timedwait(&pool_freed, &pool_lock, &ts) == ETIMEDOUT)
			break;
	}
	if (got)
		got->in_use = true;
	pthread_mutex_unlock(&pool_lock);
	return got;
}

/* Gives a slot back; its connection is closed unless keep. */
static void
Release(PoolSlot *s, bool keep)
{
	if (!keep && s->conn)
	{
		PQfinish(s->conn);
		s->conn = NULL;
	}
	pthread_mutex_lock(&pool_lock);
	s->in_use = false;
	pthread_cond_signal(&pool_freed);
	pthread_mutex_unlock(&pool_lock);
}

/* Whether an idle connection is no longer usable (see the file header). */
static bool
IdleBroken(PGconn *conn)
{
	struct pollfd pfd = {PQsocket(conn), POLLIN, 0};

	if (PQstatus(conn) != CONNECTION_OK || pfd.fd < 0)
		return true;
	return poll(&pfd, 1, 0) != 0;
}

/* Gives the slot a working connection; false (logged) when there is none. */
static bool
EnsureConnected(PoolSlot *s)
{
	char		msg[400];

	if (s->conn && IdleBroken(s->conn))
	{
		PQfinish(s->conn);
		s->conn = NULL;
	}
	if (s->conn)
		return true;
	s->conn = PQconnectdbParams(conn_keywords, conn_values, 0);
	if (s->conn && PQstatus(s->conn) == CONNECTION_OK &&
		PQsetnonblocking(s->conn, 1) == 0)
		return true;
	log_text(msg, sizeof(msg), s->conn ? PQerrorMessage(s->conn) : "out of memory");
	log_line("cannot connect to the database: %s", msg);
	PQfinish(s->conn);
	s->conn = NULL;
	return false;
}

/*
 * Waits until the socket is readable (or writable too, when write) or the
 * deadline passes: 1 ready, 0 timed out, -1 error.
 */
static int
WaitSocket(PGconn *conn, bool write, double deadline)
{
	struct pollfd pfd = {PQsocket(conn), (short) (POLLIN | (write ? POLLOUT : 0)), 0};

	for (;;)
	{
		double		left = deadline - now_monotonic();
		int			rc;

		if (left <= 0)
			return 0;
		rc = poll(&pfd, 1, (int) (left * 1000) + 1);
		if (rc > 0)
			return 1;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

/* Sends the statement and flushes it; a CallKind (CALL_OK when sent). */
static CallKind
SendCall(PGconn *conn, const char *body, double deadline)
{
	const Oid	types[1] = {TEXT_OID};
	const char *values[1] = {body};
	int			rc;

	if (!PQsendQueryParams(conn, CallbackSql, 1, types, values, NULL, NULL, 0))
		return CALL_UNREACHABLE;
	while ((rc = PQflush(conn)) == 1)
	{
		int			w = WaitSocket(conn, true, deadline);

		if (w == 0)
			return CALL_TIMEOUT;
		/* the server may answer (an error) before taking all of it */
		if (w < 0 || !PQconsumeInput(conn))
			return CALL_UNREACHABLE;
	}
	return rc == 0 ? CALL_OK : CALL_UNREACHABLE;
}

/* Reads the statement's one result into res (kind, sqlstate, event_id). */
static void
ReadResult(PGresult *r, CallResult *res)
{
	const char *state;
	char	   *end;

	switch (PQresultStatus(r))
	{
		case PGRES_TUPLES_OK:
			if (PQntuples(r) != 1 || PQnfields(r) != 1 || PQgetisnull(r, 0, 0))
			{
				res->kind = CALL_BAD_ANSWER;
				return;
			}
			errno = 0;
			res->event_id = strtoll(PQgetvalue(r, 0, 0), &end, 10);
			res->kind = (errno || *end != '\0') ? CALL_BAD_ANSWER : CALL_OK;
			return;
		case PGRES_FATAL_ERROR:
			state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
			/* no SQLSTATE: libpq's own error, the connection broke */
			if (state == NULL || strlen(state) != 5)
			{
				res->kind = CALL_UNREACHABLE;
				return;
			}
			res->kind = CALL_ERROR;
			memcpy(res->sqlstate, state, 6);
			return;
		default:
			res->kind = CALL_BAD_ANSWER;
			return;
	}
}

/* Awaits and reads every result of the statement sent on conn. */
static void
AwaitCall(PGconn *conn, double deadline, CallResult *res)
{
	PGresult   *r;
	bool		first = true;

	for (;;)
	{
		while (PQisBusy(conn))
		{
			int			w = WaitSocket(conn, false, deadline);

			if (w == 0)
			{
				res->kind = CALL_TIMEOUT;
				return;
			}
			if (w < 0 || !PQconsumeInput(conn))
			{
				res->kind = CALL_UNREACHABLE;
				return;
			}
		}
		if ((r = PQgetResult(conn)) == NULL)
			break;
		if (first)
			ReadResult(r, res);
		first = false;
		PQclear(r);
	}
	if (first)
		res->kind = CALL_UNREACHABLE;
}

/* Whether a connection may serve the next request after this outcome. */
static bool
KeepConnection(PGconn *conn, const CallResult *res)
{
	const char *s = res->sqlstate;

	if (PQstatus(conn) != CONNECTION_OK || PQtransactionStatus(conn) != PQTRANS_IDLE)
		return false;
	if (res->kind == CALL_OK)
		return true;
	if (res->kind != CALL_ERROR)
		return false;
	return !(strcmp(s, "25006") == 0 || strncmp(s, "57P0", 4) == 0);
}

/*
 * Runs SELECT liveid.receive_callback(body) on a pooled connection; body is
 * NUL-terminated text.  Fills res; never waits past --query-timeout (plus
 * the connect timeout).
 */
void
pool_call(const char *body, CallResult *res)
{
	double		deadline = now_monotonic() + receiver_opts.query_timeout;
	PoolSlot   *s;

	memset(res, 0, sizeof(*res));
	if ((s = Acquire(deadline)) == NULL)
	{
		res->kind = CALL_BUSY;
		return;
	}
	if (!EnsureConnected(s))
	{
		res->kind = CALL_UNREACHABLE;
		Release(s, false);
		return;
	}
	res->kind = SendCall(s->conn, body, deadline);
	if (res->kind == CALL_OK)
		AwaitCall(s->conn, deadline, res);
	Release(s, KeepConnection(s->conn, res));
}

/* Closes every connection (at shutdown, when no request runs). */
void
pool_close(void)
{
	for (unsigned int i = 0; slots && i < receiver_opts.pool_size; i++)
		if (slots[i].conn)
		{
			PQfinish(slots[i].conn);
			slots[i].conn = NULL;
		}
}
