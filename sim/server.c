/*-------------------------------------------------------------------------
 *
 * server.c
 *		HTTP plumbing over libmicrohttpd: bodies, routing, responses, faults
 *		that happen while sending, and the request log.
 *
 * Each connection has its own thread (MHD_USE_THREAD_PER_CONNECTION), so a
 * handler may sleep (a delay fault) and a response may trickle without
 * holding up other clients; keep-alive comes from libmicrohttpd.  A request
 * body is collected up to SIM_MAX_BODY; beyond it the answer is 413 and the
 * connection is closed.  Faults named by a request (fault.c) are set up by
 * resp_fault_begin() and finished here when the response is sent.
 *
 * Latency.  Every answer of the LiveID+ API (/api/, not the /sim/ control
 * endpoints nor the /app/ pages) is held back for the current latency
 * (--latency-ms, then POST /sim/latency) after it is built, in its own
 * connection's thread, so other connections go on meanwhile.  The API
 * requests between arrival and that answer are counted as in flight, and
 * the highest count since the last change of latency is the peak that
 * GET /sim/stats shows (apiPeakInFlight): how many requests a client
 * really had outstanding at once.
 *
 * Outage.  While POST /sim/outage has one in force (outage.c), an /api/
 * request is answered with its status and a JSON error before it is
 * routed, so nothing else happens; the answer still waits for the latency.
 *
 *-------------------------------------------------------------------------
 */
#include "sim.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* per-request state, from the first call of the handler to completion */
typedef struct ConnCtx
{
	char	   *buf;
	size_t		len;
	size_t		cap;
	bool		too_large;
	double		started;
	cJSON	   *form;
	bool		form_bad;
	char	   *form_key;		/* the field being received in pieces */
	char	   *form_val;
} ConnCtx;

/* state of a streamed (faulty) response */
typedef struct Stream
{
	FaultKind	kind;
	char	   *body;
	size_t		len;
	size_t		limit;			/* bytes to send before stopping */
	long		arg;
} Stream;

static atomic_long stat_requests;
static atomic_long stat_2xx;
static atomic_long stat_4xx;
static atomic_long stat_5xx;
static atomic_long stat_faults;
static atomic_long stat_redirected;
static atomic_long stat_connections;
static atomic_long stat_expect;
static atomic_int api_latency_ms;
static atomic_long api_in_flight;
static atomic_long api_peak;
static char last_user_agent[256];
static int	listen_port;

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

/* A header of the request, or NULL. */
const char *
req_header(const SimRequest *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

/* A query-string argument of the request, or NULL. */
const char *
req_arg(const SimRequest *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* The body parsed as JSON, or NULL when it is not JSON. */
cJSON *
req_json_body(const SimRequest *rq)
{
	const char *end = NULL;
	cJSON	   *j;

	if (rq->body_len == 0 || strlen(rq->body) != rq->body_len)
		return NULL;
	j = cJSON_ParseWithOpts(rq->body, &end, true);
	return j;
}

/* Answers a JSON object; obj is freed. */
void
resp_json(SimResponse *rs, int status, cJSON *obj)
{
	free(rs->body);
	rs->status = status;
	rs->body = cJSON_PrintUnformatted(obj);
	rs->len = strlen(rs->body);
	rs->content_type = "application/json";
	cJSON_Delete(obj);
}

/* Answers {"success": false, "error": <message>}. */
void
resp_error(SimResponse *rs, int status, const char *fmt,...)
{
	char		msg[SIM_ERRLEN * 2];
	va_list		ap;
	cJSON	   *o = cJSON_CreateObject();

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cJSON_AddFalseToObject(o, "success");
	cJSON_AddStringToObject(o, "error", msg);
	resp_json(rs, status, o);
}

/* Answers an HTML page; html (malloc'd) is taken over. */
void
resp_html(SimResponse *rs, int status, char *html)
{
	free(rs->body);
	rs->status = status;
	rs->body = html;
	rs->len = strlen(html);
	rs->content_type = "text/html; charset=utf-8";
}

/* Appends to the note the log line ends with. */
void
resp_note(SimResponse *rs, const char *fmt,...)
{
	size_t		used = strlen(rs->note);
	va_list		ap;

	if (used > 0 && used + 1 < sizeof(rs->note))
		rs->note[used++] = ' ';
	va_start(ap, fmt);
	vsnprintf(rs->note + used, sizeof(rs->note) - used, fmt, ap);
	va_end(ap);
}

/* Answers a redirect to location. */
void
resp_redirect(SimResponse *rs, int status, const char *location)
{
	char	   *page = malloc(strlen(location) * 2 + 128);

	sprintf(page, "<html><body>Redirecting to <a href=\"%s\">%s</a></body></html>",
			location, location);
	resp_html(rs, status, page);
	free(rs->location);
	rs->location = sim_strdup(location);
}

/*
 * Answers FAULT_ECHO: a 400 whose error text is about 2000 characters long,
 * holds control characters and echoes the request's apikey (and its
 * Authorization header, if any), as a careless service might.  The client must shorten, escape and mask it.
 */
static void
EchoError(SimRequest *rq, SimResponse *rs)
{
	const char *key = req_header(rq, "apikey");
	const char *auth = req_header(rq, "Authorization");
	static const char filler[] = " the request was refused after a long explanation;";
	char		text[2048];
	size_t		n;
	cJSON	   *o = cJSON_CreateObject();

	n = (size_t) snprintf(text, sizeof(text),
						  "simulated echo: apikey \"%s\"%s%.700s%s refused\x01\x07\x1b[31m red\r\n\ttab;",
						  key ? key : "", auth ? " authorization \"" : "", auth ? auth : "",
						  auth ? "\"" : "");
	while (n + sizeof(filler) < 2000)
	{
		memcpy(text + n, filler, sizeof(filler) - 1);
		n += sizeof(filler) - 1;
	}
	text[n] = '\0';
	cJSON_AddFalseToObject(o, "success");
	cJSON_AddStringToObject(o, "error", text);
	resp_json(rs, 400, o);
}

/*
 * Looks at what a request names (an organization code or process id) and
 * sets up its fault.  Returns true when the handler should go on and build
 * its normal answer (no fault, or a fault applied to that answer: DELAY,
 * already waited here, TRICKLE, TRUNCATE, SHAPE); false when the answer is
 * already decided.
 */
bool
resp_fault_begin(SimRequest *rq, SimResponse *rs, const char *subject)
{
	Fault		f;

	if (!fault_parse(subject, &f))
		return true;
	rs->fault = f;
	atomic_fetch_add(&stat_faults, 1);
	resp_note(rs, "fault=%s", fault_name(f.kind));
	switch (f.kind)
	{
		case FAULT_DELAY:
			sleep_ms_interruptible(f.arg);
			return true;
		case FAULT_INTERIM:		/* written before the answer, in AccessHandler */
		case FAULT_TRICKLE:
		case FAULT_TRUNCATE:
		case FAULT_SHAPE:
			return true;
		case FAULT_STATUS:
			resp_error(rs, (int) f.arg, "simulated status %ld", f.arg);
			return false;
		case FAULT_NOTJSON:
			resp_html(rs, 200, sim_strdup(
							"<!DOCTYPE html>\n<html><head><title>LiveID+ maintenance</title></head>"
							"<body><h1>Service temporarily unavailable</h1>"
							"<p>We are performing scheduled maintenance.</p></body></html>\n"));
			return false;
		case FAULT_REDIRECT:
			{
				const char *host = req_header(rq, "Host");
				const char *other = (host && strncmp(host, "127.0.0.1", 9) == 0)
				? "localhost" : "127.0.0.1";
				char		loc[256];

				snprintf(loc, sizeof(loc), "%s://%s:%d/sim/redirected",
						 sim_opts.tls_cert ? "https" : "http", other, listen_port);
				resp_redirect(rs, (int) f.arg, loc);
				return false;
			}
		case FAULT_ECHO:
			EchoError(rq, rs);
			return false;
		case FAULT_RESET:
		case FAULT_BIG:
		case FAULT_BIGCHUNKED:
		case FAULT_ZEROS:
			rs->status = 200;
			return false;
		case FAULT_ANSWER:
			free(rs->body);
			rs->body = fault_answer(f.arg, rq->body, rq->body_len, &rs->status, &rs->len);
			rs->content_type = "application/json";
			return false;
		case FAULT_NONE:
			break;
	}
	return true;
}

/* Replaces every member but "success" by a value of another type. */
static void
WrongTypes(cJSON *o)
{
	cJSON	   *it = o->child;

	while (it)
	{
		cJSON	   *next = it->next;
		cJSON	   *repl;

		if (strcmp(it->string, "success") == 0)
		{
			it = next;
			continue;
		}
		if (cJSON_IsNumber(it))
			repl = cJSON_CreateString("many");
		else if (cJSON_IsString(it))
			repl = cJSON_CreateNumber(42);
		else if (cJSON_IsArray(it))
			repl = cJSON_CreateObject();
		else
			repl = cJSON_CreateArray();
		repl->string = sim_strdup(it->string);
		cJSON_ReplaceItemViaPointer(o, it, repl);
		it = next;
	}
}

/* Makes the normal JSON answer wrong in shape (FAULT_SHAPE variant n). */
static void
ApplyShape(SimResponse *rs, long variant)
{
	cJSON	   *o = rs->body ? cJSON_Parse(rs->body) : NULL;

	if (o == NULL)
		o = cJSON_CreateObject();
	if (variant == 1)
	{
		cJSON_Delete(o);
		o = cJSON_CreateObject();
		cJSON_AddTrueToObject(o, "success");
		cJSON_AddStringToObject(o, "message", "ok");
	}
	else if (variant == 2)
		WrongTypes(o);
	else
	{
		cJSON	   *arr = cJSON_CreateArray();

		cJSON_AddItemToArray(arr, o);
		o = arr;
	}
	resp_json(rs, rs->status, o);
}

/* Content reader for streamed faults; may sleep (one thread a connection). */
static ssize_t
StreamReader(void *cls, uint64_t pos, char *out, size_t max)
{
	Stream	   *s = cls;
	size_t		n;

	if (sim_stopping)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (pos >= s->limit)
		return (s->kind == FAULT_TRUNCATE) ? MHD_CONTENT_READER_END_WITH_ERROR
			: MHD_CONTENT_READER_END_OF_STREAM;
	n = s->limit - pos;
	if (n > max)
		n = max;
	switch (s->kind)
	{
		case FAULT_TRICKLE:
			sleep_ms_interruptible(s->arg);
			out[0] = s->body[pos];
			return 1;
		case FAULT_TRUNCATE:
			memcpy(out, s->body + pos, n);
			return n;
		case FAULT_ZEROS:		/* [0,0,...,0], a space after it for an even size */
			for (size_t i = 0; i < n; i++)
			{
				uint64_t	p = pos + i;
				uint64_t	close = (s->limit - 1) & ~(uint64_t) 1;

				out[i] = p == 0 ? '[' : p == close ? ']' : p > close ? ' ' : (p & 1) ? '0' : ',';
			}
			return n;
		default:				/* BIG, BIGCHUNKED: {"success":true,"padding":"xxx…"} */
			{
				static const char head[] = "{\"success\":true,\"padding\":\"";

				for (size_t i = 0; i < n; i++)
				{
					uint64_t	p = pos + i;

					if (p < sizeof(head) - 1)
						out[i] = head[p];
					else if (p == s->limit - 2)
						out[i] = '"';
					else if (p == s->limit - 1)
						out[i] = '}';
					else
						out[i] = 'x';
				}
				return n;
			}
	}
}

/* Frees a Stream when its response is destroyed. */
static void
StreamFree(void *cls)
{
	Stream	   *s = cls;

	free(s->body);
	free(s);
}

/* Turns a finished SimResponse into an MHD response. */
static struct MHD_Response *
BuildResponse(SimResponse *rs)
{
	struct MHD_Response *r;
	Stream	   *s;

	if (rs->fault.kind == FAULT_SHAPE)
		ApplyShape(rs, rs->fault.arg);

	switch (rs->fault.kind)
	{
		case FAULT_TRICKLE:
		case FAULT_TRUNCATE:
		case FAULT_BIG:
		case FAULT_BIGCHUNKED:
		case FAULT_ZEROS:
			s = calloc(1, sizeof(Stream));
			s->kind = rs->fault.kind;
			s->arg = rs->fault.arg;
			s->body = rs->body;
			s->len = rs->len;
			rs->body = NULL;
			if (s->kind == FAULT_TRICKLE)
				s->limit = s->len;
			else if (s->kind == FAULT_TRUNCATE)
				s->limit = s->len / 2;
			else
				s->limit = (size_t) s->arg < 32 && s->kind != FAULT_ZEROS ? 32 : (size_t) s->arg;
			r = MHD_create_response_from_callback(
												  s->kind == FAULT_BIGCHUNKED ? MHD_SIZE_UNKNOWN :
												  s->kind == FAULT_TRUNCATE ? s->len : s->limit,
												  s->kind == FAULT_TRICKLE ? 64 : 64 * 1024,
												  StreamReader, s, StreamFree);
			MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
			rs->len = s->kind == FAULT_TRUNCATE ? s->len : s->limit;
			return r;
		default:
			break;
	}
	r = MHD_create_response_from_buffer(rs->len, rs->body, MHD_RESPMEM_MUST_FREE);
	rs->body = NULL;
	if (rs->content_type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rs->content_type);
	if (rs->location)
		MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, rs->location);
	if (rs->www_authenticate)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, rs->www_authenticate);
	if (rs->allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, rs->allow);
	return r;
}

/* Writes the request's log line (never a header, so never a key or token). */
static void
LogRequest(struct MHD_Connection *conn, const char *method, const char *url,
		   const char *status, size_t bytes, double started, const char *note)
{
	const union MHD_ConnectionInfo *ci;
	char		addr[INET6_ADDRSTRLEN] = "?";
	char		ts[32];
	struct timespec now;
	struct tm	tm;

	if (sim_opts.quiet)
		return;
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *) ci->client_addr)->sin_addr,
				  addr, sizeof(addr));
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s.%03ldZ %s %s %s %s %zuB %.1fms%s%s\n",
			ts, now.tv_nsec / 1000000, addr, method, url, status, bytes,
			(sim_now_precise() - started) * 1000.0,
			(note && *note) ? " " : "", note ? note : "");
	pthread_mutex_unlock(&log_lock);
}

/* Counts an answer's status class (requests are counted on arrival). */
static void
CountStatus(int status)
{
	if (status < 300)
		atomic_fetch_add(&stat_2xx, 1);
	else if (status >= 400 && status < 500)
		atomic_fetch_add(&stat_4xx, 1);
	else if (status >= 500)
		atomic_fetch_add(&stat_5xx, 1);
}

/* Queues a plain JSON error right away (413 and other early refusals). */
static enum MHD_Result
QueueEarlyError(struct MHD_Connection *conn, ConnCtx *ctx, const char *method,
				const char *url, int status, const char *msg)
{
	SimResponse rs = {0};
	struct MHD_Response *r;
	enum MHD_Result ret;
	char		st[8];

	resp_error(&rs, status, "%s", msg);
	r = BuildResponse(&rs);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	snprintf(st, sizeof(st), "%d", status);
	CountStatus(status);
	LogRequest(conn, method, url, st, rs.len, ctx->started, "");
	return ret;
}

/* Post-processor iterator: collects form fields into ctx->form. */
static enum MHD_Result
FormIterator(void *cls, enum MHD_ValueKind kind, const char *key,
			 const char *filename, const char *content_type,
			 const char *transfer_encoding, const char *data, uint64_t off,
			 size_t size)
{
	ConnCtx    *ctx = cls;
	size_t		old;

	if (key == NULL)
		return MHD_YES;
	if (ctx->form_key == NULL || strcmp(ctx->form_key, key) != 0 || off == 0)
	{
		if (ctx->form_key)
		{
			cJSON_AddItemToObject(ctx->form, ctx->form_key,
								  cJSON_CreateString(ctx->form_val));
			free(ctx->form_key);
			free(ctx->form_val);
		}
		ctx->form_key = sim_strdup(key);
		ctx->form_val = sim_strdup("");
	}
	old = strlen(ctx->form_val);
	if (size > 0)
	{
		if (memchr(data, '\0', size) != NULL)
			ctx->form_bad = true;
		ctx->form_val = realloc(ctx->form_val, old + size + 1);
		memcpy(ctx->form_val + old, data, size);
		ctx->form_val[old + size] = '\0';
	}
	return MHD_YES;
}

/* Parses an urlencoded or multipart body into ctx->form. */
static void
ParseForm(struct MHD_Connection *conn, ConnCtx *ctx)
{
	struct MHD_PostProcessor *pp;

	ctx->form = cJSON_CreateObject();
	pp = MHD_create_post_processor(conn, 16 * 1024, FormIterator, ctx);
	if (pp == NULL)
	{
		ctx->form_bad = true;
		return;
	}
	if (ctx->len > 0 && MHD_post_process(pp, ctx->buf, ctx->len) != MHD_YES)
		ctx->form_bad = true;
	MHD_destroy_post_processor(pp);
	if (ctx->form_key)
	{
		cJSON_AddItemToObject(ctx->form, ctx->form_key, cJSON_CreateString(ctx->form_val));
		free(ctx->form_key);
		free(ctx->form_val);
		ctx->form_key = ctx->form_val = NULL;
	}
}

/* Finds the route of a request; sets *allow when only the method is wrong. */
static Handler
FindRoute(const char *method, const char *path, const char **allow)
{
	const Route *tables[] = {api_routes, control_routes};

	*allow = NULL;
	for (int t = 0; t < 2; t++)
		for (const Route *r = tables[t]; r->path; r++)
		{
			size_t		n = strlen(r->path);
			bool		prefix = r->path[n - 1] == '/';

			if (prefix ? strncmp(path, r->path, n) != 0 || path[n] == '\0'
				: strcmp(path, r->path) != 0)
				continue;
			if (strcmp(method, r->method) == 0)
				return r->handler;
			*allow = r->method;
		}
	return NULL;
}

/*
 * Resets the connection.  With SO_LINGER 0 a close() sends RST, but
 * libmicrohttpd shuts the socket down (FIN) before closing it, so the
 * socket is closed here at once: dup2() puts an unconnected socket in its
 * place, which libmicrohttpd then closes harmlessly.
 */
static void
ResetConnection(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct linger lg = {1, 0};
	int			dummy;

	if (ci == NULL)
		return;
	setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	dummy = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (dummy >= 0)
	{
		dup2(dummy, ci->connect_fd);
		close(dummy);
	}
}

/*
 * Writes FAULT_INTERIM's n interim answers (102, 103, 100 in turn) on the
 * connection's socket, before libmicrohttpd writes the real one: it has no
 * API for 1xx answers.  Plain HTTP only (raw bytes would break a TLS
 * stream); the socket may be non-blocking, so a full buffer is waited on.
 */
static void
WriteInterim(struct MHD_Connection *conn, long n)
{
	static const char *const interim[] = {
		"HTTP/1.1 102 Processing\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: </sim/health>; rel=preload\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\n",
	};
	const union MHD_ConnectionInfo *ci =
	MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

	if (ci == NULL || sim_opts.tls_cert)
		return;
	for (long i = 0; i < n; i++)
	{
		const char *p = interim[i % 3];
		size_t		left = strlen(p);

		while (left > 0)
		{
			ssize_t		w = send(ci->connect_fd, p, left, MSG_NOSIGNAL);
			struct pollfd pfd = {ci->connect_fd, POLLOUT, 0};

			if (w > 0)
			{
				p += w;
				left -= (size_t) w;
			}
			else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				(void) poll(&pfd, 1, 1000);
			else
				return;
		}
	}
}

/* Counts an API request in flight from now on, and the peak. */
static void
ApiBegin(void)
{
	long		now = atomic_fetch_add(&api_in_flight, 1) + 1;
	long		peak = atomic_load(&api_peak);

	while (now > peak && !atomic_compare_exchange_weak(&api_peak, &peak, now))
		;
}

/* Holds an API answer back for the latency; it is then no longer in flight. */
static void
ApiEnd(void)
{
	int			ms = atomic_load(&api_latency_ms);

	if (ms > 0)
		sleep_ms_interruptible(ms);
	atomic_fetch_sub(&api_in_flight, 1);
}

/* Sets the API latency and starts a new peak reading from the requests in flight. */
void
server_set_latency(int ms)
{
	atomic_store(&api_latency_ms, ms);
	atomic_store(&api_peak, atomic_load(&api_in_flight));
}

/* The libmicrohttpd access handler: collects the body, then dispatches. */
static enum MHD_Result
AccessHandler(void *cls, struct MHD_Connection *conn, const char *url,
			  const char *method, const char *version, const char *upload_data,
			  size_t *upload_data_size, void **con_cls)
{
	ConnCtx    *ctx = *con_cls;
	SimRequest	rq = {0};
	SimResponse rs = {0};
	struct MHD_Response *r;
	enum MHD_Result ret;
	const char *ctype;
	const char *allow;
	Handler		h;
	char		st[16];
	bool		api;
	int			outage;

	if (ctx == NULL)
	{
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
													 MHD_HTTP_HEADER_CONTENT_LENGTH);

		ctx = calloc(1, sizeof(ConnCtx));
		ctx->started = sim_now_precise();
		*con_cls = ctx;
		/*
		 * counted as it arrives, not when answered: a delayed answer must
		 * not show up in a later reading as if it were a later request
		 */
		atomic_fetch_add(&stat_requests, 1);
		/* a client that waits for "100 Continue" before sending its body */
		if (MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT))
			atomic_fetch_add(&stat_expect, 1);
		if (cl && strtoull(cl, NULL, 10) > SIM_MAX_BODY)
		{
			ctx->too_large = true;
			return QueueEarlyError(conn, ctx, method, url, 413,
								   "request body larger than 1 MiB");
		}
		return MHD_YES;
	}
	if (*upload_data_size > 0)
	{
		if (!ctx->too_large && ctx->len + *upload_data_size > SIM_MAX_BODY)
		{
			ctx->too_large = true;
			*upload_data_size = 0;
			return QueueEarlyError(conn, ctx, method, url, 413,
								   "request body larger than 1 MiB");
		}
		if (!ctx->too_large)
		{
			if (ctx->len + *upload_data_size + 1 > ctx->cap)
			{
				ctx->cap = (ctx->len + *upload_data_size + 1) * 2;
				ctx->buf = realloc(ctx->buf, ctx->cap);
			}
			memcpy(ctx->buf + ctx->len, upload_data, *upload_data_size);
			ctx->len += *upload_data_size;
			ctx->buf[ctx->len] = '\0';
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (ctx->too_large)
		return MHD_YES;			/* the 413 is already queued */

	{
		const char *ua = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
													 MHD_HTTP_HEADER_USER_AGENT);

		pthread_mutex_lock(&log_lock);
		snprintf(last_user_agent, sizeof(last_user_agent), "%s", ua ? ua : "");
		pthread_mutex_unlock(&log_lock);
	}
	rq.conn = conn;
	rq.method = method;
	rq.path = url;
	rq.body = ctx->buf ? ctx->buf : "";
	rq.body_len = ctx->len;
	ctype = req_header(&rq, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (strcmp(method, "POST") == 0 && ctype &&
		(strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0 ||
		 strncasecmp(ctype, "multipart/form-data", 19) == 0))
	{
		ParseForm(conn, ctx);
		rq.form = ctx->form_bad ? NULL : ctx->form;
	}

	api = strncmp(url, "/api/", 5) == 0;
	if (api)
		ApiBegin();
	if (api && outage_take(&outage))
	{
		resp_error(&rs, outage, "simulated outage: status %d", outage);
		resp_note(&rs, "outage");
	}
	else if ((h = FindRoute(method, url, &allow)) != NULL)
		h(&rq, &rs);
	else if (allow)
	{
		resp_error(&rs, 405, "method %s not allowed here; use %s", method, allow);
		rs.allow = allow;
	}
	else
		resp_error(&rs, 404, "no such endpoint: %s", url);
	if (api)
		ApiEnd();

	if (rs.fault.kind == FAULT_RESET)
	{
		ResetConnection(conn);
		CountStatus(599);
		LogRequest(conn, method, url, "RESET", 0, ctx->started, rs.note);
		free(rs.body);
		free(rs.location);
		return MHD_NO;
	}
	if (rs.fault.kind == FAULT_INTERIM)
		WriteInterim(conn, rs.fault.arg);
	r = BuildResponse(&rs);
	if (rs.fault.kind == FAULT_TRUNCATE)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(conn, rs.status, r);
	MHD_destroy_response(r);
	snprintf(st, sizeof(st), "%d", rs.status);
	CountStatus(rs.status);
	LogRequest(conn, method, url, st, rs.len, ctx->started, rs.note);
	free(rs.location);
	return ret;
}

/* Frees the request context once libmicrohttpd is done with it. */
static void
RequestCompleted(void *cls, struct MHD_Connection *conn, void **con_cls,
				 enum MHD_RequestTerminationCode toe)
{
	ConnCtx    *ctx = *con_cls;

	if (ctx == NULL)
		return;
	free(ctx->buf);
	cJSON_Delete(ctx->form);
	free(ctx->form_key);
	free(ctx->form_val);
	free(ctx);
	*con_cls = NULL;
}

/* Counts accepted connections (keep-alive reuse shows as few of them). */
static void
ConnectionNotify(void *cls, struct MHD_Connection *conn, void **socket_context,
				 enum MHD_ConnectionNotificationCode toe)
{
	if (toe == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&stat_connections, 1);
}

/* libmicrohttpd's own diagnostics (malformed requests and the like). */
static void
MhdLogger(void *cls, const char *fmt, va_list ap)
{
	if (sim_opts.quiet)
		return;
	pthread_mutex_lock(&log_lock);
	fputs("liveid-sim: ", stderr);
	vfprintf(stderr, fmt, ap);
	pthread_mutex_unlock(&log_lock);
}

/* Starts the daemon; NULL with err filled on failure. */
struct MHD_Daemon *
server_start(char *err, size_t errlen)
{
	static char *cert,
			   *key;
	static struct sockaddr_in sa;
	unsigned int flags = MHD_USE_THREAD_PER_CONNECTION |
	MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
	struct MHD_Daemon *d;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t) sim_opts.port);
	if (inet_pton(AF_INET, sim_opts.bind, &sa.sin_addr) != 1)
	{
		snprintf(err, errlen, "--bind: not an IPv4 address: %s", sim_opts.bind);
		return NULL;
	}
	if (sim_opts.tls_cert)
	{
		cert = read_file(sim_opts.tls_cert, NULL);
		key = read_file(sim_opts.tls_key, NULL);
		if (cert == NULL || key == NULL)
		{
			snprintf(err, errlen, "cannot read --tls-cert %s or --tls-key %s",
					 sim_opts.tls_cert, sim_opts.tls_key);
			return NULL;
		}
		flags |= MHD_USE_TLS;
	}
	d = MHD_start_daemon(flags, (uint16_t) sim_opts.port, NULL, NULL,
						 AccessHandler, NULL,
						 MHD_OPTION_EXTERNAL_LOGGER, MhdLogger, NULL,
						 MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &sa,
						 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) sim_opts.conn_timeout,
						 MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 1000,
						 MHD_OPTION_NOTIFY_COMPLETED, RequestCompleted, NULL,
						 MHD_OPTION_NOTIFY_CONNECTION, ConnectionNotify, NULL,
						 sim_opts.tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
						 MHD_OPTION_HTTPS_MEM_KEY, key,
						 MHD_OPTION_END);
	if (d == NULL)
	{
		snprintf(err, errlen, "cannot listen on %s:%d%s", sim_opts.bind, sim_opts.port,
				 sim_opts.tls_cert ? " (or the TLS certificate/key is unusable)" : "");
		return NULL;
	}
	listen_port = server_port(d);
	server_set_latency(sim_opts.latency_ms);
	return d;
}

/* Stops the daemon (waits for connection threads). */
void
server_stop(struct MHD_Daemon *d)
{
	MHD_stop_daemon(d);
}

/* The port actually bound (for --port 0). */
int
server_port(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);

	return di ? di->port : -1;
}

/* Counters for GET /sim/stats. */
cJSON *
server_stats_json(void)
{
	cJSON	   *o = cJSON_CreateObject();
	long		held,
				dropped,
				pushed;

	request_counts(&held, &dropped, &pushed);
	cJSON_AddTrueToObject(o, "success");
	cJSON_AddNumberToObject(o, "requests", (double) atomic_load(&stat_requests));
	cJSON_AddNumberToObject(o, "status2xx", (double) atomic_load(&stat_2xx));
	cJSON_AddNumberToObject(o, "status4xx", (double) atomic_load(&stat_4xx));
	cJSON_AddNumberToObject(o, "status5xx", (double) atomic_load(&stat_5xx));
	cJSON_AddNumberToObject(o, "faults", (double) atomic_load(&stat_faults));
	cJSON_AddNumberToObject(o, "redirectedHits", (double) atomic_load(&stat_redirected));
	cJSON_AddNumberToObject(o, "connections", (double) atomic_load(&stat_connections));
	cJSON_AddNumberToObject(o, "expectHeaders", (double) atomic_load(&stat_expect));
	cJSON_AddNumberToObject(o, "latencyMs", (double) atomic_load(&api_latency_ms));
	cJSON_AddNumberToObject(o, "apiInFlight", (double) atomic_load(&api_in_flight));
	cJSON_AddNumberToObject(o, "apiPeakInFlight", (double) atomic_load(&api_peak));
	cJSON_AddNumberToObject(o, "requestsHeld", (double) held);
	cJSON_AddNumberToObject(o, "requestsDropped", (double) dropped);
	cJSON_AddNumberToObject(o, "callbacksHeld", (double) callback_count());
	cJSON_AddNumberToObject(o, "pushes", (double) pushed);
	cJSON_AddNumberToObject(o, "outageAnswers", (double) outage_answer_count());
	pthread_mutex_lock(&log_lock);
	cJSON_AddStringToObject(o, "lastUserAgent", last_user_agent);
	pthread_mutex_unlock(&log_lock);
	return o;
}

/* Counts a request that followed a fault redirect. */
void
server_note_redirected(void)
{
	atomic_fetch_add(&stat_redirected, 1);
}
