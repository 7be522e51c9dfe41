/*-------------------------------------------------------------------------
 *
 * http.c
 *		The transport to LiveID+: the only file that knows libcurl.
 *
 * One multi handle and a pool of easy handles live for the whole backend,
 * so keep-alive connections (kept by the multi handle, for every easy
 * handle) and TLS sessions survive between calls.  The first easy handle
 * carries the single requests (liveid_http); a batch (liveid_http_batch)
 * uses as many as it has requests in flight.  Options that never change
 * are set once per handle, the single path's header lists once per API
 * key; what follows a setting (timeouts, size cap, CA file, proxy) is set
 * on every request, so a SET takes effect on the very next one.  Single
 * requests and batches share the code that checks a request and points a
 * handle at it (NewRequest, AttachRequest), so confinement, limits and TLS
 * are the same for both.
 *
 * Waiting.  Transfers are driven through curl's multi *socket* interface:
 * curl tells OnSocket() which sockets it wants watched and for what, and
 * OnTimer() when it next wants to act on its own (timeouts, the resolver,
 * connect attempts); both only record.  The backend then sleeps in one
 * WaitEventSet holding its latch, postmaster death and those sockets, for
 * at most the time curl's timer leaves, and hands whatever woke it to
 * curl_multi_socket_action().  The set is kept in step with what curl
 * watches (SyncWaitSet): a new socket is added to it, a changed one
 * modified in place, and the set is rebuilt only when it holds a socket
 * curl closed or no longer watches.  So nothing polls: a waiting backend
 * costs no CPU, and pg_stat_activity shows it waiting with
 * wait_event_type "Extension".
 *
 * Interrupts.  Query cancel, statement_timeout and pg_terminate_backend set
 * the latch.  After each latch wake-up the latch is reset; a pending cancel
 * or termination abandons every transfer at once (each easy handle is
 * taken out of the multi handle, its connection dropped, and the handle is
 * set up afresh on its next use), then CHECK_FOR_INTERRUPTS() raises
 * PostgreSQL's own error.  Other interrupts are served and the wait goes
 * on; postmaster death exits (WL_EXIT_ON_PM_DEATH).  Nothing ereports while
 * curl is inside a callback.
 *
 * A request can be split: liveid_http_begin() sends it, liveid_http_end()
 * waits for the answer, and the caller may work in between.  So the
 * clean-up of a request is not a PG_FINALLY but a reset callback on its
 * memory context: it detaches the easy handle and frees the request's
 * malloc'd header list (the one with a Bearer token) whether the request
 * ends, or an ERROR anywhere between begin and end takes its memory away.
 * A batch's requests live in per-slot memory contexts under the caller's,
 * with the same callback, so an ERROR in the middle of a batch (an
 * interrupt, or the caller's own work on an answer) frees every handle.
 *
 * Confinement.  Every request goes to liveid.url || path: the path is
 * checked so that it cannot name another host or climb out of the base path
 * (encoded dots and slashes included), redirects are never followed, only
 * http and https are spoken, and the server's proxy environment (http_proxy,
 * ALL_PROXY, NO_PROXY...) is ignored: only liveid.proxy names a proxy.  No
 * "Expect: 100-continue" is sent, and interim 1xx answers are read past at
 * once, so neither waits for anything.  The answer is collected into a
 * buffer allocated with MCXT_ALLOC_NO_OOM in the request's memory context
 * and capped at liveid.max_response_size while receiving.
 *
 * Failures are described in one function, DescribeFailure(), with the
 * SQLSTATEs of sql-api.md: 08006 for the transport (saying which and after
 * how long), 28000 for 401/403, 22023 for other 4xx, 58000 for 5xx,
 * redirects and answers too large.  A single request raises that failure;
 * a batch hands it to the caller in its item, and goes on with the others.
 * The service's own text goes to DETAIL short, with control characters
 * escaped and the API key and the request's token masked.  The context line
 * "LiveID+ <method> <path>" is not added here but by one error-context
 * callback the SQL functions push around a whole remote call
 * (liveid_remote_context_push).
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include <limits.h>
#include <curl/curl.h>

#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#define MAX_PATH_BYTES 2048		/* of the path before any '?' */
#define MAX_QUERY_BYTES 8192	/* of the query string */
#define MAX_DETAIL_BYTES 300	/* of the service's text in DETAIL */
#define MAX_HANDLES 256			/* liveid.max_concurrency's maximum */
#define MAX_SOCKETS (2 * MAX_HANDLES + 8)	/* one a transfer, two while connecting */
#define MAX_EVENTS 64			/* events taken from one wait */

/* An easy handle of the pool, and what it is set up with. */
typedef struct Handle
{
	CURL	   *easy;
	bool		ready;			/* the options that never change are set */
	char	   *ca_file;		/* the liveid.ca_file they were set with (malloc'd) */
	LiveidRequest *req;			/* the request attached to it, or NULL */
} Handle;

static CURLM *multi = NULL;
static Handle handles[MAX_HANDLES];	/* [0]: the single requests' */
static int	nhandles = 0;		/* created so far */
static char user_agent[128];
static bool batch_running = false;	/* a batch's requests hold the handles */

/* the single path's header lists, built once per API key */
static struct curl_slist *headers_plain = NULL;	/* Accept, apikey */
static struct curl_slist *headers_json = NULL;	/* + Content-Type, no Expect */
static char *headers_key = NULL;	/* the key they hold (malloc'd, wiped) */

/*
 * A socket curl wants watched, and for what (CURL_POLL_IN/OUT/INOUT); its
 * position in wait_set (-1: not in it yet) and what the set waits for.
 */
typedef struct Watched
{
	curl_socket_t fd;
	int			what;
	int			pos;
	int			built_what;
} Watched;

/* what curl asked for (OnSocket, OnTimer) */
static Watched watched[MAX_SOCKETS];
static int	nwatched = 0;

/*
 * Sockets curl stopped watching that wait_set still holds.  A kept-alive
 * connection's socket is removed at the end of each request and added again
 * at the start of the next: it gets its old position back, so a request on
 * a kept-alive connection builds no new set.  One still here at the next
 * wait makes the set stale (an idle socket must not wake the wait).
 */
static Watched gone[MAX_SOCKETS];
static int	ngone = 0;
static bool socket_closed = true;	/* curl closed a socket: rebuild */
static bool timer_set = false;
static TimestampTz timer_at;

/* the wait set: latch, postmaster death, then the sockets */
static WaitEventSet *wait_set = NULL;
static int	set_sockets = 0;	/* socket events added to it */
static int	set_capacity = 0;	/* socket events it has room for */

/* what a transfer collects; its callbacks only record */
typedef struct Transfer
{
	MemoryContext cxt;
	char	   *data;
	size_t		len;
	size_t		cap;
	size_t		limit;
	bool		too_large;
	bool		out_of_memory;
} Transfer;

/*
 * A request under way, from NewRequest() to its end, in the memory context
 * of the caller (a batch: of its slot).  While it is attached, its easy
 * handle points into it (the Transfer, the body, the error buffer) and may
 * hold a header list of its own; ReleaseRequest() undoes both, and runs at
 * the latest when that memory context goes, so an ERROR raised meanwhile
 * leaves the handle clean.
 */
struct LiveidRequest
{
	Transfer	t;
	Handle	   *h;				/* the easy handle it uses */
	const char *key;			/* the API key sent, to mask it */
	const char *bearer;			/* the token sent, or NULL */
	char	   *url;			/* in UTF-8 */
	const char *body;			/* in UTF-8, or NULL */
	struct curl_slist *call_headers;	/* its own header list, or NULL */
	bool		attached;		/* h's easy handle is in multi, pointing here */
	bool		finished;		/* the transfer ended (rc is curl's) */
	bool		interrupted;	/* abandoned for a cancel or termination */
	CURLcode	rc;
	TimestampTz start;
	long		elapsed_ms;
	char		errbuf[CURL_ERROR_SIZE];
	MemoryContextCallback cleanup;
};

/* Write callback: appends to the buffer, stops past the size limit. */
static size_t
WriteBody(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	Transfer   *t = userdata;
	size_t		n = size * nmemb;

	if (t->len + n > t->limit)
	{
		t->too_large = true;
		return 0;
	}
	if (t->len + n + 1 > t->cap)
	{
		size_t		newcap = Max(t->cap * 2, t->len + n + 1);
		char	   *grown;

		newcap = Min(newcap, t->limit + 1);
		grown = MemoryContextAllocExtended(t->cxt, newcap,
										   MCXT_ALLOC_HUGE | MCXT_ALLOC_NO_OOM);
		if (grown == NULL)
		{
			t->out_of_memory = true;
			return 0;
		}
		if (t->len > 0)
			memcpy(grown, t->data, t->len);
		if (t->data)
			pfree(t->data);
		t->data = grown;
		t->cap = newcap;
	}
	memcpy(t->data + t->len, ptr, n);
	t->len += n;
	return n;
}

/*
 * Socket callback: records which sockets curl wants watched and for what
 * (see "gone" above for a socket that comes back).
 */
static int
OnSocket(CURL *e, curl_socket_t fd, int what, void *clientp, void *socketp)
{
	int			i;

	for (i = 0; i < nwatched; i++)
		if (watched[i].fd == fd)
			break;
	if (what == CURL_POLL_REMOVE || what == CURL_POLL_NONE)
	{
		if (i < nwatched)
		{
			if (watched[i].pos >= 0)
				gone[ngone++] = watched[i];
			watched[i] = watched[--nwatched];
		}
		return 0;
	}
	if (i == nwatched)
	{
		if (nwatched == MAX_SOCKETS)
			return -1;			/* curl fails the transfer */
		watched[i].fd = fd;
		watched[i].pos = -1;
		for (int g = 0; g < ngone; g++)
			if (gone[g].fd == fd)
			{
				watched[i].pos = gone[g].pos;
				watched[i].built_what = gone[g].built_what;
				gone[g] = gone[--ngone];
				break;
			}
		nwatched++;
	}
	watched[i].what = what;
	return 0;
}

/*
 * Close-socket callback: closes it, and has the wait set rebuilt before its
 * next use (epoll forgets a closed socket, and its number may come back as
 * another one).
 */
static int
OnCloseSocket(void *clientp, curl_socket_t fd)
{
	socket_closed = true;
	return close(fd);
}

/* Timer callback: records when curl next wants to act (-1: never). */
static int
OnTimer(CURLM *m, long timeout_ms, void *clientp)
{
	timer_set = (timeout_ms >= 0);
	if (timer_set)
		timer_at = GetCurrentTimestamp() + (TimestampTz) timeout_ms * 1000;
	return 0;
}

/* Creates the backend's multi handle on first use. */
static void
EnsureMulti(void)
{
	if (multi != NULL)
		return;
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not initialize libcurl")));
	multi = curl_multi_init();
	if (multi == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl handle")));
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, OnSocket);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, OnTimer);
	snprintf(user_agent, sizeof(user_agent), "liveid/%s libcurl/%s PostgreSQL/%s",
			 LIVEID_VERSION, curl_version_info(CURLVERSION_NOW)->version,
			 PG_VERSION);
}

/* Easy handle i of the pool, created on first use (EnsureMulti() first). */
static Handle *
GetHandle(int i)
{
	Assert(i >= 0 && i < MAX_HANDLES);
	while (nhandles <= i)
	{
		CURL	   *easy = curl_easy_init();

		if (easy == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("could not create a libcurl handle")));
		handles[nhandles].easy = easy;
		handles[nhandles].ready = false;
		nhandles++;
	}
	return &handles[i];
}

/* Sets the options of a handle that are the same for every request. */
static void
SetUpHandle(Handle *h, const char *ca_file)
{
	CURL	   *easy = h->easy;

	curl_easy_reset(easy);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, user_agent);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, WriteBody);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, OnCloseSocket);
	/* "" means no host is exempt from liveid.proxy, whatever NO_PROXY says */
	curl_easy_setopt(easy, CURLOPT_NOPROXY, "");
	if (*ca_file)
		curl_easy_setopt(easy, CURLOPT_CAINFO, ca_file);
	free(h->ca_file);
	h->ca_file = strdup(ca_file);
	h->ready = (h->ca_file != NULL);
}

/* Appends prefix || value to a header list; the copy made here is wiped. */
static struct curl_slist *
AppendHeader(struct curl_slist *list, const char *prefix, const char *value,
			 bool *ok)
{
	size_t		n = strlen(prefix) + strlen(value) + 1;
	char	   *line = malloc(n);
	struct curl_slist *grown;

	if (line == NULL)
	{
		*ok = false;
		return list;
	}
	snprintf(line, n, "%s%s", prefix, value);
	grown = curl_slist_append(list, line);
	explicit_bzero(line, n);
	free(line);
	if (grown == NULL)
		*ok = false;
	return grown ? grown : list;
}

/*
 * A header list: Accept, for a body Content-Type and an empty Expect, the
 * API key, and the Bearer token when there is one.
 */
static struct curl_slist *
HeaderList(const char *key, bool json, const char *bearer, bool *ok)
{
	struct curl_slist *list = NULL;

	list = AppendHeader(list, "Accept: ", "application/json", ok);
	if (json)
	{
		list = AppendHeader(list, "Content-Type: ", "application/json", ok);
		/* an empty Expect: curl would wait up to 1 s for a 100 otherwise */
		list = AppendHeader(list, "Expect:", "", ok);
	}
	if (*key)
		list = AppendHeader(list, "apikey: ", key, ok);
	if (bearer)
		list = AppendHeader(list, "Authorization: Bearer ", bearer, ok);
	return list;
}

/* (Re)builds the single path's header lists for an API key; false when out of memory. */
static bool
BuildHeaderLists(const char *key)
{
	bool		ok = true;

	if (nhandles > 0)
		curl_easy_setopt(handles[0].easy, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers_plain);
	curl_slist_free_all(headers_json);
	headers_plain = headers_json = NULL;
	if (headers_key)
	{
		explicit_bzero(headers_key, strlen(headers_key));
		free(headers_key);
		headers_key = NULL;
	}
	headers_plain = HeaderList(key, false, NULL, &ok);
	headers_json = HeaderList(key, true, NULL, &ok);
	/* compared by content: the key file's keys move at each reload */
	if (ok)
		headers_key = strdup(key);
	return ok && headers_key != NULL;
}

/* True when s[0..n) holds a percent-encoded '.', '/' or '\'. */
static bool
HasEncodedSeparator(const char *s, size_t n)
{
	for (size_t i = 0; i + 3 <= n; i++)
		if (s[i] == '%' &&
			(pg_strncasecmp(s + i + 1, "2e", 2) == 0 ||
			 pg_strncasecmp(s + i + 1, "2f", 2) == 0 ||
			 pg_strncasecmp(s + i + 1, "5c", 2) == 0))
			return true;
	return false;
}

/* Why a path could leave liveid.url, or NULL when it cannot. */
static const char *
PathProblem(const char *path)
{
	size_t		pathlen;

	if (path == NULL || path[0] != '/')
		return "It must start with \"/\".";
	/* the path proper: what comes before the query string */
	pathlen = strcspn(path, "?");
	if (pathlen > MAX_PATH_BYTES)
		return "Its path is longer than 2048 bytes.";
	if (strlen(path + pathlen) > MAX_QUERY_BYTES)
		return "Its query string is longer than 8192 bytes.";
	if (strstr(path, "//") != NULL)
		return "It must not contain \"//\".";
	if (strchr(path, '@') != NULL)
		return "It must not contain \"@\".";
	if (strchr(path, '\\') != NULL)
		return "It must not contain a backslash.";
	if (strstr(path, "..") != NULL)
		return "It must not contain \"..\".";
	if (HasEncodedSeparator(path, pathlen))
		return "It must not contain an encoded dot, slash or backslash (%2E, %2F, %5C) before the query string.";
	if (memchr(path, ':', strcspn(path, "?#")) != NULL)
		return "It must not contain a scheme or a port (\":\").";
	for (const char *p = path; *p; p++)
		if ((unsigned char) *p <= ' ' || *p == 0x7f)
			return "It must not contain spaces or control characters.";
	return NULL;
}

/*
 * Refuses a path that could leave liveid.url: see PathProblem().  Checked
 * before anything is sent, so an unsafe path is 22023, never a connection
 * error.
 */
void
liveid_check_path(const char *path)
{
	const char *why = PathProblem(path);

	if (why)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid LiveID+ path"),
				 errdetail("%s Every request goes to a path under liveid.url.", why),
				 errhint("Pass a path such as \"/api/service/getQueue\".")));
}

/* Error context callback: "LiveID+ <method> <path>", without the query. */
static void
RemoteContextCallback(void *arg)
{
	LiveidRemoteContext *ctx = arg;

	/* the query string may carry ids; the path says which API it was */
	errcontext("LiveID+ %s %.*s", ctx->method,
			   (int) Min(strcspn(ctx->path, "?"), MAX_PATH_BYTES), ctx->path);
}

/* Pushes the context line of one remote call (see liveid.h). */
void
liveid_remote_context_push(LiveidRemoteContext *ctx, const char *method,
						   const char *path)
{
	ctx->method = method;
	ctx->path = path;
	ctx->cb.callback = RemoteContextCallback;
	ctx->cb.arg = ctx;
	ctx->cb.previous = error_context_stack;
	error_context_stack = &ctx->cb;
}

/* Pops it again, at the end of the remote call. */
void
liveid_remote_context_pop(LiveidRemoteContext *ctx)
{
	if (error_context_stack != &ctx->cb)
		elog(ERROR, "liveid remote context popped out of order");
	error_context_stack = ctx->cb.previous;
}

/* The length of the API key or the request's token at text, or 0. */
static size_t
SecretAt(const LiveidRequest *req, const char *text, size_t len)
{
	const char *secrets[2] = {req->key, req->bearer};

	for (int k = 0; k < 2; k++)
	{
		size_t		n = secrets[k] ? strlen(secrets[k]) : 0;

		if (n > 0 && n <= len && memcmp(text, secrets[k], n) == 0)
			return n;
	}
	return 0;
}

/*
 * The service's text made fit for DETAIL: the API key and the request's
 * token replaced by ********, control characters (and every byte >= 0x80
 * past the part that is valid in the database encoding) escaped as \xNN,
 * and at most about MAX_DETAIL_BYTES, cut at a character boundary.  Secrets
 * are masked before cutting, so no part of one can be left at the cut.
 */
static char *
SafeText(const LiveidRequest *req, const char *text, size_t len)
{
	/* only the start is ever shown, so only the start is verified */
	size_t		valid = pg_encoding_verifymbstr(GetDatabaseEncoding(), text,
												(int) Min(len, 65536));
	StringInfoData s;
	size_t		i = 0;

	initStringInfo(&s);
	while (i < len)
	{
		char		esc[8];
		const char *piece = esc;
		size_t		n = 1;
		size_t		used = SecretAt(req, text + i, len - i);
		unsigned char c = (unsigned char) text[i];

		if (used > 0)
		{
			piece = "********";
			n = 8;
		}
		else if (c < 0x20 || c == 0x7f || (c >= 0x80 && i >= valid))
		{
			n = snprintf(esc, sizeof(esc), "\\x%02x", c);
			used = 1;
		}
		else if (c >= 0x80)
		{
			/* a whole character, so that a cut never splits one */
			piece = text + i;
			n = used = Min((size_t) pg_mblen(text + i), len - i);
		}
		else
		{
			esc[0] = (char) c;
			used = 1;
		}
		if (s.len + n > MAX_DETAIL_BYTES)
		{
			appendStringInfoString(&s, "...");
			break;
		}
		appendBinaryStringInfo(&s, piece, (int) n);
		i += used;
	}
	return s.data;
}

/*
 * The text of a failed answer for DETAIL: the service's {"error": ...}
 * text, else the start of the body; made safe; NULL for an empty body.
 */
static char *
ServiceText(const LiveidRequest *req)
{
	const Transfer *t = &req->t;
	char	   *error_text;

	if (t->len == 0)
		return NULL;
	/* the one place that asks json.c for the service's error text */
	error_text = liveid_answer_error_text(t->data, t->len);
	if (error_text)
		return SafeText(req, error_text, strlen(error_text));
	return SafeText(req, t->data, t->len);
}

/* What a transport failure was, and how to fix it (*hint, or NULL). */
static const char *
TransportFailure(CURLcode rc, const char **hint)
{
	*hint = NULL;
	switch (rc)
	{
		case CURLE_OPERATION_TIMEDOUT:
			*hint = "Raise liveid.timeout or liveid.connect_timeout if the service is slow.";
			return "timed out";
		case CURLE_COULDNT_RESOLVE_HOST:
			*hint = "Check liveid.url.";
			return "could not resolve the host of liveid.url";
		case CURLE_COULDNT_RESOLVE_PROXY:
			*hint = "Check liveid.proxy.";
			return "could not resolve the host of liveid.proxy";
		case CURLE_COULDNT_CONNECT:
			*hint = "Check liveid.url (and liveid.proxy, if set) and that the service is reachable.";
			return "could not connect";
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CIPHER:
		case CURLE_SSL_ISSUER_ERROR:
			*hint = "Check the service's certificate, or set liveid.ca_file to the CA bundle that signed it.";
			return "TLS handshake failed";
		case CURLE_PARTIAL_FILE:
			return "connection closed before the whole answer arrived";
		case CURLE_GOT_NOTHING:
			return "connection closed without an answer";
		case CURLE_RECV_ERROR:
		case CURLE_SEND_ERROR:
			return "connection lost";
		default:
			return "request failed";
	}
}

/*
 * Describes the failure of a request that did not end in a 2xx answer: the
 * one place that maps remote failures to SQLSTATEs (as postgres_fdw's
 * pgfdw_report_error does), with the service's text made safe in DETAIL.
 * Everything is palloc'd in the current memory context.
 */
static void
DescribeFailure(const LiveidRequest *req, long status, const char *location,
				LiveidFailure *f)
{
	const char *text;

	memset(f, 0, sizeof(*f));
	f->sqlerrcode = ERRCODE_SYSTEM_ERROR;
	if (req->t.too_large || req->rc == CURLE_FILESIZE_EXCEEDED)
	{
		f->message = psprintf("LiveID+ answer is larger than liveid.max_response_size (%d bytes)",
							  liveid_max_response_size);
		f->detail = pstrdup("The answer was refused while it arrived, not buffered.");
		f->hint = pstrdup("Raise liveid.max_response_size if such answers are expected.");
		return;
	}
	if (req->rc != CURLE_OK)
	{
		const char *hint;
		const char *what = TransportFailure(req->rc, &hint);
		const char *why = req->errbuf[0] ? req->errbuf : curl_easy_strerror(req->rc);

		f->sqlerrcode = ERRCODE_CONNECTION_FAILURE;
		f->retryable = true;
		f->message = psprintf("LiveID+ %s", what);
		f->detail = psprintf("After %ld ms: %s", req->elapsed_ms,
							 SafeText(req, why, strlen(why)));
		f->hint = hint ? pstrdup(hint) : NULL;
		return;
	}
	text = ServiceText(req);
	if (status == 401 || status == 403)
	{
		f->sqlerrcode = ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION;
		f->message = psprintf("LiveID+ refused the credentials (HTTP %ld)", status);
		f->detail = text ? pstrdup(text) : NULL;
		f->hint = pstrdup("Check the key of this organization in liveid.api_key_file, or liveid.api_key.");
	}
	else if (status >= 300 && status < 400)
	{
		f->message = psprintf("LiveID+ answered with a redirect (HTTP %ld), which is not followed",
							  status);
		f->detail = location ?
			psprintf("Location: %s", SafeText(req, location, strlen(location))) : NULL;
		f->hint = pstrdup("Check liveid.url: every request goes to it and nowhere else.");
	}
	else if (status >= 400 && status < 500)
	{
		f->sqlerrcode = ERRCODE_INVALID_PARAMETER_VALUE;
		f->message = psprintf("LiveID+ rejected the request (HTTP %ld)", status);
		f->detail = pstrdup(text ? text : "(no error text)");
	}
	else
	{
		f->retryable = status >= 500;
		f->message = psprintf("LiveID+ failed (HTTP %ld)", status);
		f->detail = pstrdup(text ? text : "(empty answer)");
	}
}

/*
 * Raises a failure at elevel, as it is (see liveid.h); with prefix (or
 * NULL) in front of its message.
 */
void
liveid_report_failure(int elevel, const LiveidFailure *f, const char *prefix)
{
	ereport(elevel,
			(errcode(f->sqlerrcode),
			 errmsg_internal("%s%s", prefix ? prefix : "", f->message),
			 f->detail ? errdetail_internal("%s", f->detail) : 0,
			 f->hint ? errhint("%s", f->hint) : 0));
}

/*
 * Raises the error of a request that did not end in a 2xx answer; the
 * context line comes from the caller's liveid_remote_context_push().
 */
static void
pg_attribute_noreturn()
ReportRemoteError(const LiveidRequest *req, long status, const char *location)
{
	LiveidFailure f;

	DescribeFailure(req, status, location, &f);
	liveid_report_failure(ERROR, &f, NULL);
	pg_unreachable();
}

/* Detaches a request from its easy handle; never raises (runs in abort). */
static void
ReleaseRequest(void *arg)
{
	LiveidRequest *req = arg;

	if (req->attached)
	{
		Handle	   *h = req->h;

		/* mid-transfer this drops the connection: the next use starts afresh */
		curl_multi_remove_handle(multi, h->easy);
		if (!req->finished)
			h->ready = false;
		/* nothing may point at this request's memory once it is over */
		curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, NULL);
		curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, NULL);
		curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, NULL);
		curl_easy_setopt(h->easy, CURLOPT_PRIVATE, NULL);
		curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER,
						 h == &handles[0] ? headers_plain : NULL);
		req->attached = false;
		if (h->req == req)
			h->req = NULL;
	}
	curl_slist_free_all(req->call_headers);
	req->call_headers = NULL;
}

/* Gives back every handle a request whose memory outlived an error holds. */
static void
ReleaseStale(void)
{
	for (int i = 0; i < nhandles; i++)
		if (handles[i].req)
			ReleaseRequest(handles[i].req);
}

/* Abandons every transfer under way, for a cancel or a termination. */
static void
AbandonAll(void)
{
	for (int i = 0; i < nhandles; i++)
	{
		LiveidRequest *req = handles[i].req;

		if (req)
		{
			ReleaseRequest(req);
			req->interrupted = true;
			req->finished = true;
		}
	}
}

/* Lets curl act on a socket (or on its timer) and notes the transfers that ended. */
static void
Act(curl_socket_t fd, int mask)
{
	CURLMcode	mc;
	CURLMsg    *msg;
	int			running;
	int			left;

	mc = curl_multi_socket_action(multi, fd, mask, &running);
	if (mc != CURLM_OK)
	{
		/* the multi handle itself failed: so did every transfer in it */
		for (int i = 0; i < nhandles; i++)
		{
			LiveidRequest *req = handles[i].req;

			if (req && !req->finished)
			{
				snprintf(req->errbuf, sizeof(req->errbuf), "%s", curl_multi_strerror(mc));
				req->rc = CURLE_FAILED_INIT;
				req->finished = true;
			}
		}
		return;
	}
	while ((msg = curl_multi_info_read(multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
		{
			char	   *p = NULL;

			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &p);
			if (p)
			{
				LiveidRequest *req = (LiveidRequest *) p;

				req->rc = msg->data.result;
				req->finished = true;
			}
		}
}

/* The WaitEventSet flags of what curl wants of a socket. */
static uint32
SocketEvents(int what)
{
	return ((what & CURL_POLL_IN) ? WL_SOCKET_READABLE : 0) |
		((what & CURL_POLL_OUT) ? WL_SOCKET_WRITEABLE : 0);
}

/* Builds wait_set afresh from what curl watches. */
static void
RebuildWaitSet(void)
{
	if (wait_set)
		FreeWaitEventSet(wait_set);
	wait_set = NULL;
	set_sockets = 0;
	ngone = 0;
	socket_closed = false;
	/* room for what a batch adds while connecting, without a rebuild */
	set_capacity = Min(MAX_SOCKETS, Max(8, 2 * nwatched));
	/* kept in wait_set at once, so an ERROR below cannot leak it */
#if PG_VERSION_NUM >= 170000
	wait_set = CreateWaitEventSet(NULL, set_capacity + 2);
#else
	wait_set = CreateWaitEventSet(TopMemoryContext, set_capacity + 2);
#endif
	AddWaitEventToSet(wait_set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
	AddWaitEventToSet(wait_set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
	for (int i = 0; i < nwatched; i++)
	{
		watched[i].pos = AddWaitEventToSet(wait_set, SocketEvents(watched[i].what),
										   watched[i].fd, NULL, NULL);
		watched[i].built_what = watched[i].what;
		set_sockets++;
	}
}

/*
 * Brings wait_set in line with what curl watches.  It is rebuilt only when
 * it holds a socket curl no longer watches (so that an idle socket cannot
 * wake the wait) or closed, or has no room for a new one; otherwise new
 * sockets are added and changed ones modified in place.  So the requests
 * of kept-alive connections create no set and no epoll instance.
 */
static void
SyncWaitSet(void)
{
	int			added = 0;

	for (int i = 0; i < nwatched; i++)
		if (watched[i].pos < 0)
			added++;
	if (socket_closed || wait_set == NULL || ngone > 0 ||
		set_sockets + added > set_capacity)
	{
		RebuildWaitSet();
		return;
	}
	for (int i = 0; i < nwatched; i++)
	{
		Watched    *w = &watched[i];

		if (w->pos < 0)
		{
			w->pos = AddWaitEventToSet(wait_set, SocketEvents(w->what), w->fd, NULL, NULL);
			w->built_what = w->what;
			set_sockets++;
		}
		else if (w->built_what != w->what)
		{
			ModifyWaitEvent(wait_set, w->pos, SocketEvents(w->what), NULL);
			w->built_what = w->what;
		}
	}
}

/* Milliseconds until curl's timer fires (0: now), or -1 when none is set. */
static long
TimerTimeout(void)
{
	TimestampTz now;

	if (!timer_set)
		return -1;
	now = GetCurrentTimestamp();
	if (timer_at <= now)
		return 0;
	/* rounded up, so that the wait never ends just before the timer */
	return (long) Min((timer_at - now + 999) / 1000, (TimestampTz) INT_MAX);
}

/*
 * After a latch wake-up: a cancel or termination (statement_timeout is a
 * cancel) abandons every transfer, leaving the handles ready for the next
 * call, and CHECK_FOR_INTERRUPTS() raises PostgreSQL's own error; other
 * interrupts are served and the wait goes on.  True when it abandoned.
 */
static bool
HandleInterrupts(void)
{
	bool		abandon = (QueryCancelPending || ProcDiePending) &&
		INTERRUPTS_CAN_BE_PROCESSED();

	if (abandon)
		AbandonAll();
	CHECK_FOR_INTERRUPTS();
	return abandon;
}

/*
 * Sleeps once until a socket curl watches is ready, curl's timer fires or
 * the latch is set, and lets curl act on what happened.  The caller looks
 * at its requests afterwards: finished, or interrupted.
 */
static void
WaitOnce(void)
{
	WaitEvent	occurred[MAX_EVENTS];
	long		timeout = TimerTimeout();
	int			n;

	if (timeout == 0)
	{
		Act(CURL_SOCKET_TIMEOUT, 0);
		return;
	}
	SyncWaitSet();
	n = WaitEventSetWait(wait_set, timeout, occurred, lengthof(occurred),
						 PG_WAIT_EXTENSION);
	/* the latch first: a cancel must not wait for curl's work */
	for (int i = 0; i < n; i++)
		if (occurred[i].events & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			/* the abandoned sockets are curl's no more */
			if (HandleInterrupts())
				return;
		}
	for (int i = 0; i < n; i++)
	{
		int			mask = 0;

		if (occurred[i].events & WL_SOCKET_READABLE)
			mask |= CURL_CSELECT_IN;
		if (occurred[i].events & WL_SOCKET_WRITEABLE)
			mask |= CURL_CSELECT_OUT;
		if (mask)
			Act(occurred[i].fd, mask);
	}
	if (TimerTimeout() == 0)
		Act(CURL_SOCKET_TIMEOUT, 0);
}

/* Runs one request's transfer to its end, or until an interrupt abandons it. */
static void
Perform(LiveidRequest *req)
{
	/* an interrupt that came before the latch could show it */
	if (INTERRUPTS_PENDING_CONDITION())
		HandleInterrupts();
	while (!req->finished)
		WaitOnce();
}

/*
 * Refuses what cannot be sent: a request from inside a ledger write, the
 * path (liveid_check_path), and a key or token that would break the header
 * (a missing liveid.url is liveid_base_url()'s).
 */
static void
CheckItem(const char *path, const char *key, const char *bearer)
{
	/* an owner's trigger on the ledger must not send a second request */
	liveid_ledger_guard("a LiveID+ request");
	liveid_check_path(path);
	for (const char *p = key; *p; p++)
		if ((unsigned char) *p < 0x20 || *p == 0x7f)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("liveid.api_key contains control characters"),
					 errhint("Set liveid.api_key to the organization's API key as Namirial issued it.")));
	if (bearer)
		for (const char *p = bearer; *p; p++)
			if ((unsigned char) *p <= ' ' || *p == 0x7f)
				ereport(ERROR,
						(errcode(ERRCODE_SYSTEM_ERROR),
						 errmsg("LiveID+ issued a token that cannot be sent")));
}

/* The same for a request of its own: not while a batch runs. */
static void
CheckRequest(const char *path, const char *key, const char *bearer)
{
	/* nor a batch's done() (can't happen: it writes the ledger, guarded) */
	if (batch_running)
		elog(ERROR, "a LiveID+ request cannot start while a batch of requests is under way");
	CheckItem(path, key, bearer);
}

/*
 * A request of path with key (and bearer, or NULL) for the easy handle h,
 * in the current memory context and released with it: checked
 * (CheckRequest, before anything is sent), its URL and body in UTF-8, the
 * handle set up.  own_headers: the request gets its own header list (a
 * batch's handles), else the single path's lists of this key are used.
 * Not attached yet.
 */
static LiveidRequest *
NewRequest(Handle *h, const char *path, const char *body, const char *bearer,
		   const char *key, bool own_headers)
{
	const char *ca_file = liveid_ca_file ? liveid_ca_file : "";
	LiveidRequest *req;
	StringInfoData url;
	bool		ok = true;

	/* 22023 when liveid.url is not set, still before anything is sent */
	initStringInfo(&url);
	appendStringInfoString(&url, liveid_base_url());
	/* the service speaks UTF-8, whatever the database's encoding */
	appendStringInfoString(&url, pg_server_to_any(path, strlen(path), PG_UTF8));

	req = palloc0(sizeof(LiveidRequest));
	req->h = h;
	req->url = url.data;
	req->body = body ? pg_server_to_any(body, strlen(body), PG_UTF8) : NULL;
	req->key = pstrdup(key);	/* a reload must not move it mid-request */
	req->bearer = bearer ? pstrdup(bearer) : NULL;
	req->t.cxt = CurrentMemoryContext;
	req->t.limit = (size_t) liveid_max_response_size;
	req->cleanup.func = ReleaseRequest;
	req->cleanup.arg = req;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &req->cleanup);

	if (!h->ready || strcmp(h->ca_file, ca_file) != 0)
		SetUpHandle(h, ca_file);
	if (own_headers || bearer)
		req->call_headers = HeaderList(key, body != NULL, bearer, &ok);
	else if (headers_key == NULL || strcmp(headers_key, key) != 0)
		ok = BuildHeaderLists(key);
	if (!h->ready || !ok)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	return req;
}

/*
 * Points the request's easy handle at it (URL, body, headers, the
 * settings) and adds it to the multi handle; never raises.  A handle curl
 * refuses is a finished request that failed.
 */
static void
AttachRequest(LiveidRequest *req, const char *method)
{
	CURL	   *easy = req->h->easy;
	const char *proxy = liveid_proxy ? liveid_proxy : "";

	req->start = GetCurrentTimestamp();
	curl_easy_setopt(easy, CURLOPT_URL, req->url);
	if (req->body)
	{
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(req->body));
	}
	else
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER,
					 req->call_headers ? req->call_headers :
					 req->body ? headers_json : headers_plain);
	/* "" is no proxy at all: the environment's proxy variables are ignored */
	curl_easy_setopt(easy, CURLOPT_PROXY, proxy);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) liveid_connect_timeout);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) liveid_timeout);
	curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) req->t.limit);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &req->t);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, req->errbuf);
	curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *) req);
	req->attached = true;
	req->h->req = req;
	if (curl_multi_add_handle(multi, easy) != CURLM_OK)
	{
		req->rc = CURLE_FAILED_INIT;
		req->finished = true;
	}
}

/*
 * After a request's transfer ended: its status and, for a redirect, where
 * to (*location, or NULL), the handle released, the answer NUL-terminated.
 * True for a 2xx answer.  Out of memory while receiving raises at once.
 */
static bool
Collect(LiveidRequest *req, long *status, char **location)
{
	Transfer   *t = &req->t;

	*status = 0;
	*location = NULL;
	req->elapsed_ms = (long) ((GetCurrentTimestamp() - req->start) / 1000);
	curl_easy_getinfo(req->h->easy, CURLINFO_RESPONSE_CODE, status);
	if (*status >= 300 && *status < 400)
	{
		char	   *loc = NULL;

		curl_easy_getinfo(req->h->easy, CURLINFO_REDIRECT_URL, &loc);
		if (loc)
			*location = pstrdup(loc);	/* palloc raises only on OOM */
	}
	ReleaseRequest(req);
	if (t->data)
		t->data[t->len] = '\0'; /* WriteBody always leaves room */
	if (t->out_of_memory)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while receiving a LiveID+ answer")));
	return req->rc == CURLE_OK && !t->too_large && *status >= 200 && *status < 300;
}

/* The answer of a request that Collect() found good. */
static LiveidResponse *
MakeResponse(LiveidRequest *req, long status)
{
	LiveidResponse *resp = palloc(sizeof(LiveidResponse));

	resp->status = status;
	resp->len = req->t.len;
	resp->body = req->t.data ? req->t.data : palloc0(1);
	return resp;
}

/*
 * Starts one request to liveid.url || path (see the file header): checks
 * it, and sends it as far as it can go without waiting (on a kept-alive
 * connection, all of it).  The caller may do other work before
 * liveid_http_end(), in the same memory context.
 */
LiveidRequest *
liveid_http_begin(const char *method, const char *path, const char *body,
				  const char *bearer, const char *key)
{
	LiveidRequest *req;

	CheckRequest(path, key, bearer);
	EnsureMulti();
	ReleaseStale();
	req = NewRequest(GetHandle(0), path, body, bearer, key, false);
	/* from here on nothing raises */
	AttachRequest(req, method);
	if (!req->finished)
		Act(CURL_SOCKET_TIMEOUT, 0);	/* connect, or send at once */
	return req;
}

/*
 * Waits for the answer of a request liveid_http_begin() started.  Returns
 * only a 2xx answer; raises everything else (ReportRemoteError).
 */
LiveidResponse *
liveid_http_end(LiveidRequest *req)
{
	long		status;
	char	   *location;

	Assert(req->attached || req->finished);
	Perform(req);				/* raises only for an interrupt */
	if (req->interrupted)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("LiveID+ request interrupted")));
	if (!Collect(req, &status, &location))
		ReportRemoteError(req, status, location);
	return MakeResponse(req, status);
}

/* One request, start to end. */
LiveidResponse *
liveid_http(const char *method, const char *path, const char *body,
			const char *bearer, const char *key)
{
	return liveid_http_end(liveid_http_begin(method, path, body, bearer, key));
}

/* A batch's place for one request in flight, with its own memory. */
typedef struct BatchSlot
{
	Handle	   *h;
	MemoryContext cxt;			/* the request, its answer or failure */
	LiveidBatchItem *item;		/* NULL: free */
	LiveidRequest *req;
} BatchSlot;

/* Starts item in a free slot. */
static void
StartItem(BatchSlot *slot, LiveidBatchItem *item)
{
	MemoryContext old = MemoryContextSwitchTo(slot->cxt);

	slot->item = item;
	item->response = NULL;
	item->failure = NULL;
	slot->req = NewRequest(slot->h, item->path, item->body, NULL, item->key, true);
	AttachRequest(slot->req, item->method);
	MemoryContextSwitchTo(old);
}

/*
 * Hands a finished item to done (its answer or its failure, valid until
 * done returns) and frees the slot.
 */
static void
FinishItem(BatchSlot *slot, LiveidBatchDone done, void *arg)
{
	LiveidBatchItem *item = slot->item;
	MemoryContext old = MemoryContextSwitchTo(slot->cxt);
	long		status;
	char	   *location;

	if (Collect(slot->req, &status, &location))
		item->response = MakeResponse(slot->req, status);
	else
	{
		item->failure = palloc(sizeof(LiveidFailure));
		DescribeFailure(slot->req, status, location, item->failure);
	}
	MemoryContextSwitchTo(old);
	done(item, arg);
	item->response = NULL;
	item->failure = NULL;
	slot->item = NULL;
	slot->req = NULL;
	MemoryContextReset(slot->cxt);
}

/* True when a slot's request has ended; raises when it was interrupted. */
static bool
SlotFinished(const BatchSlot *slot)
{
	if (slot->item == NULL || !slot->req->finished)
		return false;
	if (slot->req->interrupted)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("LiveID+ request interrupted")));
	return true;
}

/* Reset callback of a batch's memory: the handles are free again. */
static void
EndBatch(void *arg)
{
	batch_running = false;
}

/*
 * Requests as refill hands them out, up to concurrency of them in flight
 * at once (see liveid.h): refill is asked first, and again each time
 * requests have ended and at least refill_at slots are free (or none is
 * running); it ends when refill has nothing while nothing runs.
 */
void
liveid_http_stream(int concurrency, int refill_at, LiveidBatchRefill refill,
				   LiveidBatchDone done, void *arg)
{
	MemoryContext batch_cxt,
				caller_cxt = CurrentMemoryContext;
	MemoryContextCallback *end_cb;
	BatchSlot  *slots;
	LiveidBatchItem *pending = NULL;
	int			npending = 0,
				next = 0,
				running = 0;
	bool		ask = true;		/* first, then after requests ended */

	concurrency = Max(1, Min(concurrency, MAX_HANDLES));
	refill_at = Max(1, Min(refill_at, concurrency));
	EnsureMulti();
	ReleaseStale();
	batch_cxt = AllocSetContextCreate(caller_cxt, "liveid batch",
									  ALLOCSET_SMALL_SIZES);
	slots = MemoryContextAllocZero(batch_cxt, sizeof(BatchSlot) * concurrency);
	/* whatever ends the batch (an ERROR too) lowers the flag */
	end_cb = MemoryContextAlloc(batch_cxt, sizeof(MemoryContextCallback));
	end_cb->func = EndBatch;
	end_cb->arg = NULL;
	MemoryContextRegisterResetCallback(batch_cxt, end_cb);
	batch_running = true;
	for (int s = 0; s < concurrency; s++)
	{
		slots[s].h = GetHandle(s);
		slots[s].cxt = AllocSetContextCreate(batch_cxt, "liveid batch request",
											 ALLOCSET_SMALL_SIZES);
	}
	if (INTERRUPTS_PENDING_CONDITION())
		(void) HandleInterrupts();
	for (;;)
	{
		int			free_slots = concurrency - running;
		bool		any = false;

		if (ask && next >= npending && free_slots >= (running > 0 ? refill_at : 1))
		{
			npending = refill(arg, free_slots, &pending);
			MemoryContextSwitchTo(caller_cxt);
			Assert(npending <= free_slots);
			next = 0;
			ask = false;
			for (int i = 0; i < npending; i++)
				CheckItem(pending[i].path, pending[i].key, NULL);
		}
		/* refill had nothing, and nothing runs */
		if (running == 0 && next >= npending)
			break;
		for (int s = 0; s < concurrency && next < npending; s++)
			if (slots[s].item == NULL)
			{
				StartItem(&slots[s], &pending[next++]);
				running++;
			}
		for (int s = 0; s < concurrency && !any; s++)
			any = SlotFinished(&slots[s]);
		if (!any)
			WaitOnce();
		/* done() may take its time: the other transfers go on meanwhile */
		for (int s = 0; s < concurrency; s++)
			if (SlotFinished(&slots[s]))
			{
				FinishItem(&slots[s], done, arg);
				running--;
				ask = true;
			}
	}
	MemoryContextDelete(batch_cxt);
}

/* liveid_http_batch's refill: the next items of the array, as many as fit */
typedef struct ArrayRefill
{
	LiveidBatchItem *items;
	int			n;
	int			next;
} ArrayRefill;

typedef struct ArrayBatch
{
	ArrayRefill refill;
	LiveidBatchDone done;
	void	   *arg;
} ArrayBatch;

static int
RefillFromArray(void *arg, int max, LiveidBatchItem **items)
{
	ArrayRefill *r = &((ArrayBatch *) arg)->refill;
	int			n = Min(max, r->n - r->next);

	*items = r->items + r->next;
	r->next += n;
	return n;
}

static void
DoneInArray(LiveidBatchItem *item, void *arg)
{
	ArrayBatch *b = arg;

	b->done(item, b->arg);
}

/*
 * The requests of items, up to concurrency of them in flight at once (see
 * liveid.h).  Each is checked before anything is sent; a slot that frees
 * up takes the next item at once.
 */
void
liveid_http_batch(LiveidBatchItem *items, int n, int concurrency,
				  LiveidBatchDone done, void *arg)
{
	ArrayBatch	b = {{items, n, 0}, done, arg};

	for (int i = 0; i < n; i++)
		CheckRequest(items[i].path, items[i].key, NULL);
	if (n <= 0)
		return;
	(void) liveid_base_url();	/* 22023 when liveid.url is not set */
	liveid_http_stream(Min(concurrency, n), 1, RefillFromArray, DoneInArray, &b);
}
