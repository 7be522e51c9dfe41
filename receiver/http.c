/*-------------------------------------------------------------------------
 *
 * http.c
 *		The libmicrohttpd side: the listener (HTTPS, or HTTP when asked),
 *		routing, the request body, the answers, the request log.
 *
 * Each connection has its own thread (MHD_USE_THREAD_PER_CONNECTION), so
 * a request waiting on the database holds up no other; --connections
 * bounds the threads, guard.c the time a client may take.  A request is
 * checked as soon as its headers are in: another path is 404, another
 * method 405, a Content-Length over --max-body 413, all before any of the
 * body is read.  A body without a length (chunked) that grows over the cap
 * is no longer kept: libmicrohttpd 0.9 can queue an answer only right
 * after the headers or once the body is whole, so the rest is read and
 * dropped (for at most --timeout, guard.c) and then answered 413.  A whole
 * body goes to the database (pool.c) only if it is not empty, has no NUL
 * byte and starts like a JSON object.
 *
 * Each request is logged once, when libmicrohttpd is done with it
 * (RequestCompleted), with the status it was answered, or "-" when it
 * never was.
 *
 *-------------------------------------------------------------------------
 */
#include "receiver.h"

#include <errno.h>
#include <microhttpd.h>
#include <stdatomic.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* one request, from its headers to its completion */
typedef struct Request
{
	ConnGuard  *guard;
	char	   *method;			/* copies, for the log */
	char	   *path;
	char	   *body;
	size_t		len;			/* bytes received */
	size_t		cap;
	bool		too_large;		/* over --max-body: body dropped */
	int			status;			/* answered with, 0 while not */
	char		detail[64];		/* for the log */
	double		started;
} Request;

static pthread_mutex_t flight_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t flight_done;
static int	in_flight;
static atomic_bool stopping;

/* Queues the answer status with the fixed body of answer.c. */
static enum MHD_Result
Answer(struct MHD_Connection *conn, Request *rq, int status, const char *reason)
{
	char		text[160];
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (status == 200)
		snprintf(text, sizeof(text), "{\"success\":true}");
	else
		snprintf(text, sizeof(text), "{\"success\":false,\"error\":\"%s\"}",
				 answer_text(status));
	if (reason)
		snprintf(rq->detail, sizeof(rq->detail), "reason=%s", reason);
	r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_COPY);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == 405)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "POST");
	if (atomic_load(&stopping))
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(conn, (unsigned int) status, r);
	MHD_destroy_response(r);
	rq->status = status;
	return ret;
}

/* Whether a Content-Length header says more than --max-body. */
static bool
DeclaredTooLarge(struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
												 MHD_HTTP_HEADER_CONTENT_LENGTH);
	unsigned long long n;
	char	   *end;

	if (cl == NULL)
		return false;
	errno = 0;
	n = strtoull(cl, &end, 10);
	/* libmicrohttpd has refused one that is not a number */
	return errno == ERANGE || n > receiver_opts.max_body;
}

/* The first call for a request: its state, and the checks of its headers. */
static enum MHD_Result
BeginRequest(struct MHD_Connection *conn, const char *url, const char *method,
			 void **con_cls)
{
	Request    *rq = calloc(1, sizeof(Request));

	if (rq == NULL)
		return MHD_NO;
	*con_cls = rq;
	rq->started = now_monotonic();
	rq->guard = guard_of(conn);
	rq->method = strdup(method);
	rq->path = strdup(url);
	guard_request_begin(rq->guard);
	pthread_mutex_lock(&flight_lock);
	in_flight++;
	pthread_mutex_unlock(&flight_lock);

	if (strcmp(url, receiver_opts.path) != 0)
		return Answer(conn, rq, 404, "other-path");
	if (strcmp(method, MHD_HTTP_METHOD_POST) != 0)
		return Answer(conn, rq, 405, "other-method");
	if (atomic_load(&stopping))
		return Answer(conn, rq, 503, "shutting-down");
	if (DeclaredTooLarge(conn))
		return Answer(conn, rq, 413, "too-large");
	return MHD_YES;				/* the body comes (after a 100 Continue) */
}

/* Takes a piece of the body; past --max-body it is counted and dropped. */
static enum MHD_Result
TakeBody(Request *rq, const char *data, size_t *size)
{
	size_t		n = *size;

	*size = 0;
	if (rq->too_large || n > receiver_opts.max_body - rq->len)
	{
		free(rq->body);
		rq->body = NULL;
		rq->too_large = true;
		rq->len += n;
		return MHD_YES;
	}
	if (rq->len + n + 1 > rq->cap)
	{
		size_t		cap = (rq->len + n + 1) * 2;
		char	   *b;

		if (cap > receiver_opts.max_body + 1)
			cap = receiver_opts.max_body + 1;
		if ((b = realloc(rq->body, cap)) == NULL)
			return MHD_NO;
		rq->body = b;
		rq->cap = cap;
	}
	memcpy(rq->body + rq->len, data, n);
	rq->len += n;
	rq->body[rq->len] = '\0';
	return MHD_YES;
}

/* Why a whole body cannot be a callback, or NULL if it may be one. */
static const char *
BodyProblem(const Request *rq)
{
	const char *p = rq->body;

	if (rq->len == 0)
		return "empty-body";
	if (memchr(p, '\0', rq->len) != NULL)
		return "nul-byte";
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (*p != '{')
		return "not-an-object";
	return NULL;
}

/* The body is whole: hands it to the database, answers what that says. */
static enum MHD_Result
FinishRequest(struct MHD_Connection *conn, Request *rq)
{
	const char *problem;
	CallResult	res;
	enum MHD_Result ret;

	if (rq->too_large)
		return Answer(conn, rq, 413, "too-large");
	if ((problem = BodyProblem(rq)) != NULL)
		return Answer(conn, rq, 400, problem);
	guard_set_busy(rq->guard, true);
	pool_call(rq->body, &res);
	answer_detail(&res, rq->detail, sizeof(rq->detail));
	ret = Answer(conn, rq, answer_status(&res), NULL);
	guard_set_busy(rq->guard, false);
	return ret;
}

/* libmicrohttpd's access handler: called with the headers, each piece of
 * the body, and once more when the body is whole. */
static enum MHD_Result
AccessHandler(void *cls, struct MHD_Connection *conn, const char *url,
			  const char *method, const char *version, const char *upload_data,
			  size_t *upload_data_size, void **con_cls)
{
	Request    *rq = *con_cls;

	(void) cls;
	(void) version;
	if (rq == NULL)
		return BeginRequest(conn, url, method, con_cls);
	if (*upload_data_size > 0)
		return TakeBody(rq, upload_data, upload_data_size);
	if (rq->status != 0)
		return MHD_YES;			/* answered from the headers */
	return FinishRequest(conn, rq);
}

/* Logs the request and frees it once libmicrohttpd is done with it. */
static void
RequestCompleted(void *cls, struct MHD_Connection *conn, void **con_cls,
				 enum MHD_RequestTerminationCode toe)
{
	Request    *rq = *con_cls;
	bool		timed_out;
	const char *detail;

	(void) cls;
	(void) conn;
	if (rq == NULL)
		return;
	timed_out = guard_request_end(rq->guard);
	detail = rq->detail;
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
	{
		/* the answer, if any, did not reach the client */
		rq->status = 0;
		detail = timed_out ? "reason=timeout" :
			toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN ? "reason=shutdown" :
			"reason=client-gone";
	}
	log_request(guard_addr(rq->guard), rq->method, rq->path, rq->status, rq->len,
				(now_monotonic() - rq->started) * 1000.0,
				detail[0] ? detail : "-");
	free(rq->method);
	free(rq->path);
	free(rq->body);
	free(rq);
	*con_cls = NULL;
	pthread_mutex_lock(&flight_lock);
	in_flight--;
	pthread_cond_broadcast(&flight_done);
	pthread_mutex_unlock(&flight_lock);
}

/* libmicrohttpd's own diagnostics (malformed requests, TLS failures). */
static void
MhdLogger(void *cls, const char *fmt, va_list ap)
{
	char		raw[512];
	char		clean[512];

	(void) cls;
	vsnprintf(raw, sizeof(raw), fmt, ap);
	log_text(clean, sizeof(clean), raw);
	log_line("libmicrohttpd: %s", clean);
}

/* Reads a whole (small) file; NULL with errno set on failure. */
static char *
ReadFile(const char *path)
{
	FILE	   *f = fopen(path, "rb");
	char	   *buf = NULL;
	size_t		len = 0;
	size_t		got;

	if (f == NULL)
		return NULL;
	do
	{
		char	   *b = realloc(buf, len + 4097);

		if (b == NULL)
		{
			free(buf);
			fclose(f);
			errno = ENOMEM;
			return NULL;
		}
		buf = b;
		got = fread(buf + len, 1, 4096, f);
		len += got;
	} while (got > 0 && len < 1024 * 1024);
	buf[len] = '\0';
	fclose(f);
	return buf;
}

/* Reads the PEM certificate and key, for MHD_USE_TLS. */
static bool
ReadTlsFiles(char **cert, char **key, char *err, size_t errlen)
{
	*cert = ReadFile(receiver_opts.tls_cert);
	if (*cert == NULL)
	{
		snprintf(err, errlen, "cannot read --tls-cert %s: %s",
				 receiver_opts.tls_cert, strerror(errno));
		return false;
	}
	*key = ReadFile(receiver_opts.tls_key);
	if (*key == NULL)
	{
		snprintf(err, errlen, "cannot read --tls-key %s: %s",
				 receiver_opts.tls_key, strerror(errno));
		return false;
	}
	return true;
}

/* Starts listening; NULL with err filled on failure. */
struct MHD_Daemon *
http_start(char *err, size_t errlen)
{
	static char *cert,
			   *key;
	unsigned int flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
	MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
	struct MHD_Daemon *d;

	pthread_cond_init(&flight_done, NULL);
	if (receiver_opts.listen_addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (!receiver_opts.plain_http)
	{
		if (!ReadTlsFiles(&cert, &key, err, errlen))
			return NULL;
		flags |= MHD_USE_TLS;
	}
	d = MHD_start_daemon(flags, 0, NULL, NULL, AccessHandler, NULL,
						 MHD_OPTION_EXTERNAL_LOGGER, MhdLogger, NULL,
						 MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &receiver_opts.listen_addr,
						 MHD_OPTION_CONNECTION_TIMEOUT, receiver_opts.timeout,
						 MHD_OPTION_CONNECTION_LIMIT, receiver_opts.connections,
						 MHD_OPTION_NOTIFY_COMPLETED, RequestCompleted, NULL,
						 MHD_OPTION_NOTIFY_CONNECTION, guard_notify, NULL,
						 cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
						 MHD_OPTION_HTTPS_MEM_KEY, key,
						 MHD_OPTION_END);
	if (d == NULL)
		snprintf(err, errlen, "cannot listen on %s%s", receiver_opts.listen_text,
				 cert ? " (or the TLS certificate or key is unusable)" : "");
	return d;
}

/* The port actually bound (for port 0). */
int
http_port(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);

	return di ? di->port : -1;
}

/*
 * Stops taking connections, and answers 503 (closing the connection) to
 * any new request on the open ones.
 */
void
http_quiesce(struct MHD_Daemon *d)
{
	MHD_socket	s;

	atomic_store(&stopping, true);
	s = MHD_quiesce_daemon(d);
	if (s != MHD_INVALID_SOCKET)
		close(s);
}

/* Waits until no request is in flight, at most seconds; returns how many are left. */
int
http_wait_idle(double seconds)
{
	double		deadline = now_monotonic() + seconds;
	int			left;

	pthread_mutex_lock(&flight_lock);
	while (in_flight > 0 && now_monotonic() < deadline)
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 50 * 1000 * 1000;
		if (ts.tv_nsec >= 1000 * 1000 * 1000)
		{
			ts.tv_sec++;
			ts.tv_nsec -= 1000 * 1000 * 1000;
		}
		pthread_cond_timedwait(&flight_done, &flight_lock, &ts);
	}
	left = in_flight;
	pthread_mutex_unlock(&flight_lock);
	return left;
}

/* Closes every connection and stops the daemon's threads. */
void
http_stop(struct MHD_Daemon *d)
{
	MHD_stop_daemon(d);
}
