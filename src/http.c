/*-------------------------------------------------------------------------
 *
 * http.c
 *		The transport to LiveID+: the only file that knows libcurl.
 *
 * One easy handle and one multi handle live for the whole backend, so
 * keep-alive connections and TLS sessions survive between calls.  Options
 * that never change are set once, the header lists once per API key; what
 * follows a setting (timeouts, size cap, CA file, proxy) is set on every
 * call, so a SET takes effect on the very next call.
 *
 * Waiting.  The transfer is driven through curl's multi *socket* interface:
 * curl tells OnSocket() which sockets it wants watched and for what, and
 * OnTimer() when it next wants to act on its own (timeouts, the resolver,
 * connect attempts); both only record.  The backend then sleeps in one
 * WaitEventSet holding its latch, postmaster death and those sockets
 * (rebuilt only when the set of sockets changes, their read/write flags
 * adjusted in place), for at most the time curl's timer leaves, and hands
 * whatever woke it to curl_multi_socket_action().  So nothing polls: a
 * waiting backend costs no CPU, and pg_stat_activity shows it waiting with
 * wait_event_type "Extension".
 *
 * Interrupts.  Query cancel, statement_timeout and pg_terminate_backend set
 * the latch.  After each latch wake-up the latch is reset; a pending cancel
 * or termination abandons the transfer at once (the easy handle is taken
 * out of the multi handle, its connection dropped, and the handle is set up
 * afresh on the next call), then CHECK_FOR_INTERRUPTS() raises PostgreSQL's
 * own error.  Other interrupts are served and the wait goes on; postmaster
 * death exits (WL_EXIT_ON_PM_DEATH).  Nothing ereports while curl is inside
 * a callback.
 *
 * A request can be split: liveid_http_begin() sends it, liveid_http_end()
 * waits for the answer, and the caller may work in between.  So the
 * clean-up of a
 * request is not a PG_FINALLY but a reset callback on its memory context:
 * it detaches the easy handle and frees the request's malloc'd header list
 * (the one with a Bearer token) whether the request ends, or an ERROR
 * anywhere between begin and end takes its memory away.
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
 * Failures are mapped in one function, ReportRemoteError(), to the
 * SQLSTATEs of sql-api.md: 08006 for the transport (saying which and after
 * how long), 28000 for 401/403, 22023 for other 4xx, 58000 for 5xx,
 * redirects and answers too large.  The service's own text goes to DETAIL
 * short, with control characters escaped and the API key and the request's
 * token masked.  The context line "LiveID+ <method> <path>" is not added
 * here but by one error-context callback the SQL functions push around a
 * whole remote call (liveid_remote_context_push).
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
#define MAX_SOCKETS 8			/* curl uses one, two while connecting */

static CURL *easy = NULL;
static CURLM *multi = NULL;
static char user_agent[128];
static char errbuf[CURL_ERROR_SIZE];

/*
 * What the handle is set up with.  Options that never change are set once
 * (SetUpHandle), again only after an abandoned transfer or a new
 * liveid.ca_file; the header lists are built once per API key.
 */
static bool handle_ready = false;
static char *handle_ca_file = NULL;	/* malloc'd */
static struct curl_slist *headers_plain = NULL;	/* Accept, apikey */
static struct curl_slist *headers_json = NULL;	/* + Content-Type, no Expect */
static char *headers_key = NULL;	/* the key they hold (malloc'd, wiped) */

/* a socket curl wants watched, and for what (CURL_POLL_IN/OUT/INOUT) */
typedef struct Watched
{
	curl_socket_t fd;
	int			what;
} Watched;

/* what curl asked for (OnSocket, OnTimer) */
static Watched watched[MAX_SOCKETS];
static int	nwatched = 0;
static bool socket_closed = true;	/* curl closed a socket: rebuild */
static bool timer_set = false;
static TimestampTz timer_at;

/* the wait set built from it: latch, postmaster death, then the sockets */
static WaitEventSet *wait_set = NULL;
static Watched built[MAX_SOCKETS];
static int	built_pos[MAX_SOCKETS];
static int	nbuilt = 0;

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
 * A request under way, from liveid_http_begin() to liveid_http_end(), in the
 * memory context of the caller.  While it is attached, the easy handle
 * points into it (the Transfer, the body) and may hold a header list of its
 * own; ReleaseRequest() undoes both, and runs at the latest when that memory
 * context goes, so an ERROR raised between begin and end leaves the handle
 * clean.
 */
struct LiveidRequest
{
	Transfer	t;
	const char *key;			/* the API key sent, to mask it */
	const char *bearer;			/* the token sent, or NULL */
	struct curl_slist *call_headers;	/* with a Bearer token, or NULL */
	bool		attached;		/* easy is in multi, pointing here */
	bool		finished;		/* the transfer ended (rc is curl's) */
	bool		interrupted;	/* abandoned for a cancel or termination */
	CURLcode	rc;
	TimestampTz start;
	long		elapsed_ms;
	MemoryContextCallback cleanup;
};

/* the request the easy handle belongs to, if any */
static LiveidRequest *active_request = NULL;

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
 * Socket callback: records which sockets curl wants watched and for what.
 * A kept-alive connection's socket is removed at the end of each request
 * and added again at the start of the next: SyncWaitSet() keeps it in the
 * wait set meanwhile, so a request on a kept-alive connection builds no
 * new set.
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
			watched[i] = watched[--nwatched];
		return 0;
	}
	if (i == nwatched)
	{
		if (nwatched == MAX_SOCKETS)
			return -1;			/* curl fails the transfer */
		watched[nwatched++].fd = fd;
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

/* Creates the backend's handles on first use. */
static void
EnsureHandles(void)
{
	if (easy != NULL)
		return;
	if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not initialize libcurl")));
	multi = curl_multi_init();
	easy = curl_easy_init();
	if (multi == NULL || easy == NULL)
	{
		if (multi)
			curl_multi_cleanup(multi);
		if (easy)
			curl_easy_cleanup(easy);
		multi = NULL;
		easy = NULL;
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("could not create a libcurl handle")));
	}
	curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, OnSocket);
	curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, OnTimer);
	snprintf(user_agent, sizeof(user_agent), "liveid/%s libcurl/%s PostgreSQL/%s",
			 LIVEID_VERSION, curl_version_info(CURLVERSION_NOW)->version,
			 PG_VERSION);
}

/* Sets the options that are the same for every call. */
static void
SetUpHandle(const char *ca_file)
{
	curl_easy_reset(easy);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, user_agent);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, WriteBody);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(easy, CURLOPT_CLOSESOCKETFUNCTION, OnCloseSocket);
	/* "" means no host is exempt from liveid.proxy, whatever NO_PROXY says */
	curl_easy_setopt(easy, CURLOPT_NOPROXY, "");
	if (*ca_file)
		curl_easy_setopt(easy, CURLOPT_CAINFO, ca_file);
	free(handle_ca_file);
	handle_ca_file = strdup(ca_file);
	handle_ready = (handle_ca_file != NULL);
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

/* (Re)builds the header lists for an API key; false when out of memory. */
static bool
BuildHeaderLists(const char *key)
{
	bool		ok = true;

	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers_plain);
	curl_slist_free_all(headers_json);
	headers_plain = headers_json = NULL;
	if (headers_key)
	{
		explicit_bzero(headers_key, strlen(headers_key));
		free(headers_key);
		headers_key = NULL;
	}
	for (int i = 0; i < 2 && ok; i++)
	{
		struct curl_slist *list = NULL;

		list = AppendHeader(list, "Accept: ", "application/json", &ok);
		if (i == 1)
		{
			list = AppendHeader(list, "Content-Type: ", "application/json", &ok);
			/* an empty Expect: curl would wait up to 1 s for a 100 otherwise */
			list = AppendHeader(list, "Expect:", "", &ok);
		}
		if (*key)
			list = AppendHeader(list, "apikey: ", key, &ok);
		if (i == 0)
			headers_plain = list;
		else
			headers_json = list;
	}
	/* compared by content: the key file's keys move at each reload */
	if (ok)
		headers_key = strdup(key);
	return ok && headers_key != NULL;
}

/* Copies a header list and adds the Bearer token (a request's own list). */
static struct curl_slist *
WithBearer(const struct curl_slist *base, const char *bearer, bool *ok)
{
	struct curl_slist *list = NULL;

	for (const struct curl_slist *h = base; h && *ok; h = h->next)
	{
		struct curl_slist *grown = curl_slist_append(list, h->data);

		if (grown == NULL)
			*ok = false;
		else
			list = grown;
	}
	return AppendHeader(list, "Authorization: Bearer ", bearer, ok);
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
 * Raises the error of a request that did not end in a 2xx answer: the one
 * place that maps remote failures to SQLSTATEs (as postgres_fdw's
 * pgfdw_report_error does), with the service's text made safe in DETAIL.
 * The context line comes from the caller's liveid_remote_context_push().
 */
static void
pg_attribute_noreturn()
ReportRemoteError(const LiveidRequest *req, long status, const char *location)
{
	const char *text;
	const char *hint;

	if (req->t.out_of_memory)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while receiving a LiveID+ answer")));
	if (req->t.too_large || req->rc == CURLE_FILESIZE_EXCEEDED)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("LiveID+ answer is larger than liveid.max_response_size (%d bytes)",
						liveid_max_response_size),
				 errdetail("The answer was refused while it arrived, not buffered."),
				 errhint("Raise liveid.max_response_size if such answers are expected.")));
	if (req->rc != CURLE_OK)
	{
		const char *what = TransportFailure(req->rc, &hint);
		const char *why = errbuf[0] ? errbuf : curl_easy_strerror(req->rc);

		ereport(ERROR,
				(errcode(ERRCODE_CONNECTION_FAILURE),
				 errmsg("LiveID+ %s", what),
				 errdetail_internal("After %ld ms: %s", req->elapsed_ms,
									SafeText(req, why, strlen(why))),
				 hint ? errhint("%s", hint) : 0));
	}
	text = ServiceText(req);
	if (status == 401 || status == 403)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("LiveID+ refused the credentials (HTTP %ld)", status),
				 text ? errdetail_internal("%s", text) : 0,
				 errhint("Check the key of this organization in liveid.api_key_file, or liveid.api_key.")));
	if (status >= 300 && status < 400)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("LiveID+ answered with a redirect (HTTP %ld), which is not followed", status),
				 location ? errdetail_internal("Location: %s",
											   SafeText(req, location, strlen(location))) : 0,
				 errhint("Check liveid.url: every request goes to it and nowhere else.")));
	if (status >= 400 && status < 500)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("LiveID+ rejected the request (HTTP %ld)", status),
				 errdetail_internal("%s", text ? text : "(no error text)")));
	ereport(ERROR,
			(errcode(ERRCODE_SYSTEM_ERROR),
			 errmsg("LiveID+ failed (HTTP %ld)", status),
			 errdetail_internal("%s", text ? text : "(empty answer)")));
}

/* Detaches the easy handle from a request; never raises (runs in abort). */
static void
ReleaseRequest(void *arg)
{
	LiveidRequest *req = arg;

	if (!req->attached)
		return;
	/* mid-transfer this drops the connection: the next call starts afresh */
	curl_multi_remove_handle(multi, easy);
	if (!req->finished)
		handle_ready = false;
	/* nothing may point at this request's memory once it is over */
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, NULL);
	if (req->call_headers)
	{
		curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers_plain);
		curl_slist_free_all(req->call_headers);
		req->call_headers = NULL;
	}
	req->attached = false;
	if (active_request == req)
		active_request = NULL;
}

/* Lets curl act on a socket (or on its timer) and notes the transfer's end. */
static void
Act(LiveidRequest *req, curl_socket_t fd, int mask)
{
	CURLMcode	mc;
	CURLMsg    *msg;
	int			running;
	int			left;

	mc = curl_multi_socket_action(multi, fd, mask, &running);
	if (mc != CURLM_OK)
	{
		snprintf(errbuf, sizeof(errbuf), "%s", curl_multi_strerror(mc));
		req->rc = CURLE_FAILED_INIT;
		req->finished = true;
		return;
	}
	while ((msg = curl_multi_info_read(multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy)
		{
			req->rc = msg->data.result;
			req->finished = true;
		}
}

/* The WaitEventSet flags of what curl wants of a socket. */
static uint32
SocketEvents(int what)
{
	return ((what & CURL_POLL_IN) ? WL_SOCKET_READABLE : 0) |
		((what & CURL_POLL_OUT) ? WL_SOCKET_WRITEABLE : 0);
}

/* The position in the built wait set of socket fd, or -1. */
static int
BuiltPosition(curl_socket_t fd)
{
	for (int i = 0; i < nbuilt; i++)
		if (built[i].fd == fd)
			return i;
	return -1;
}

/*
 * Brings wait_set in line with what curl watches.  It is rebuilt only when
 * curl watches a socket the set does not hold, holds one curl no longer
 * watches (so that an idle socket cannot wake the wait), or closed a
 * socket; otherwise only the flags that changed are modified.  So the
 * requests of a kept-alive connection create no set and no epoll instance.
 */
static void
SyncWaitSet(void)
{
	bool		rebuild = socket_closed || wait_set == NULL || nwatched != nbuilt;

	for (int i = 0; i < nwatched && !rebuild; i++)
		rebuild = BuiltPosition(watched[i].fd) < 0;
	if (rebuild)
	{
		if (wait_set)
			FreeWaitEventSet(wait_set);
		wait_set = NULL;
		nbuilt = 0;
		socket_closed = false;
		/* kept in wait_set at once, so an ERROR below cannot leak it */
#if PG_VERSION_NUM >= 170000
		wait_set = CreateWaitEventSet(NULL, MAX_SOCKETS + 2);
#else
		wait_set = CreateWaitEventSet(TopMemoryContext, MAX_SOCKETS + 2);
#endif
		AddWaitEventToSet(wait_set, WL_LATCH_SET, PGINVALID_SOCKET, MyLatch, NULL);
		AddWaitEventToSet(wait_set, WL_EXIT_ON_PM_DEATH, PGINVALID_SOCKET, NULL, NULL);
		for (int i = 0; i < nwatched; i++)
		{
			built_pos[i] = AddWaitEventToSet(wait_set, SocketEvents(watched[i].what),
											 watched[i].fd, NULL, NULL);
			built[i] = watched[i];
			nbuilt = i + 1;
		}
		return;
	}
	/* the same sockets: only their flags may differ */
	for (int i = 0; i < nwatched; i++)
	{
		int			b = BuiltPosition(watched[i].fd);

		if (built[b].what != watched[i].what)
		{
			ModifyWaitEvent(wait_set, built_pos[b], SocketEvents(watched[i].what), NULL);
			built[b].what = watched[i].what;
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
 * cancel) abandons the transfer, leaving the handle ready for the next
 * call, and CHECK_FOR_INTERRUPTS() raises PostgreSQL's own error; other
 * interrupts are served and the wait goes on.
 */
static void
HandleInterrupts(LiveidRequest *req)
{
	if ((QueryCancelPending || ProcDiePending) && INTERRUPTS_CAN_BE_PROCESSED())
	{
		ReleaseRequest(req);
		req->interrupted = true;
		req->finished = true;
	}
	CHECK_FOR_INTERRUPTS();
}

/*
 * Sleeps once until a socket curl watches is ready, curl's timer fires or
 * the latch is set, and lets curl act on what happened.
 */
static void
WaitOnce(LiveidRequest *req)
{
	WaitEvent	occurred[MAX_SOCKETS + 2];
	long		timeout = TimerTimeout();
	int			n;

	if (timeout == 0)
	{
		Act(req, CURL_SOCKET_TIMEOUT, 0);
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
			HandleInterrupts(req);
			if (req->finished)
				return;
		}
	for (int i = 0; i < n && !req->finished; i++)
	{
		int			mask = 0;

		if (occurred[i].events & WL_SOCKET_READABLE)
			mask |= CURL_CSELECT_IN;
		if (occurred[i].events & WL_SOCKET_WRITEABLE)
			mask |= CURL_CSELECT_OUT;
		if (mask)
			Act(req, occurred[i].fd, mask);
	}
	if (!req->finished && TimerTimeout() == 0)
		Act(req, CURL_SOCKET_TIMEOUT, 0);
}

/* Runs the transfer to its end, or until an interrupt abandons it. */
static void
Perform(LiveidRequest *req)
{
	/* an interrupt that came before the latch could show it */
	if (INTERRUPTS_PENDING_CONDITION())
		HandleInterrupts(req);
	while (!req->finished)
		WaitOnce(req);
	req->elapsed_ms = (long) ((GetCurrentTimestamp() - req->start) / 1000);
}

/*
 * Refuses what cannot be sent: a request from inside a ledger write, the
 * path (liveid_check_path), and a key or token that would break the header
 * (a missing liveid.url is liveid_base_url()'s).
 */
static void
CheckRequest(const char *path, const char *key, const char *bearer)
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

/* Points the easy handle at a request: URL, body, headers, the settings. */
static void
AttachRequest(LiveidRequest *req, const char *method, const char *url,
			  const char *body)
{
	const char *proxy = liveid_proxy ? liveid_proxy : "";

	curl_easy_setopt(easy, CURLOPT_URL, url);
	if (body)
	{
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(body));
	}
	else
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER,
					 req->call_headers ? req->call_headers : body ? headers_json : headers_plain);
	/* "" is no proxy at all: the environment's proxy variables are ignored */
	curl_easy_setopt(easy, CURLOPT_PROXY, proxy);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) liveid_connect_timeout);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) liveid_timeout);
	curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) req->t.limit);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &req->t);
	req->attached = true;
	active_request = req;
}

/* A new request in the current memory context, released with it. */
static LiveidRequest *
NewRequest(const char *key, const char *bearer)
{
	LiveidRequest *req = palloc0(sizeof(LiveidRequest));

	req->key = pstrdup(key);	/* a reload must not move it mid-request */
	req->bearer = bearer ? pstrdup(bearer) : NULL;
	req->t.cxt = CurrentMemoryContext;
	req->t.limit = (size_t) liveid_max_response_size;
	req->cleanup.func = ReleaseRequest;
	req->cleanup.arg = req;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &req->cleanup);
	return req;
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
	const char *ca_file = liveid_ca_file ? liveid_ca_file : "";
	StringInfoData url;
	LiveidRequest *req;

	CheckRequest(path, key, bearer);
	EnsureHandles();
	/* a request whose memory outlived an error gives the handle back */
	if (active_request)
		ReleaseRequest(active_request);

	/* 22023 when liveid.url is not set, still before anything is sent */
	initStringInfo(&url);
	appendStringInfoString(&url, liveid_base_url());
	/* the service speaks UTF-8, whatever the database's encoding */
	appendStringInfoString(&url, pg_server_to_any(path, strlen(path), PG_UTF8));
	if (body)
		body = pg_server_to_any(body, strlen(body), PG_UTF8);
	req = NewRequest(key, bearer);
	errbuf[0] = '\0';
	req->start = GetCurrentTimestamp();

	if (!handle_ready || strcmp(handle_ca_file, ca_file) != 0)
		SetUpHandle(ca_file);
	if (!handle_ready ||
		((headers_key == NULL || strcmp(headers_key, key) != 0) && !BuildHeaderLists(key)))
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (bearer)
	{
		bool		ok = true;

		req->call_headers = WithBearer(body ? headers_json : headers_plain, bearer, &ok);
		if (!ok)
		{
			curl_slist_free_all(req->call_headers);
			req->call_headers = NULL;
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		}
	}

	/* from here on nothing raises */
	AttachRequest(req, method, url.data, body);
	if (curl_multi_add_handle(multi, easy) != CURLM_OK)
	{
		req->rc = CURLE_FAILED_INIT;
		req->finished = true;
	}
	else
		Act(req, CURL_SOCKET_TIMEOUT, 0);	/* connect, or send at once */
	return req;
}

/*
 * Waits for the answer of a request liveid_http_begin() started.  Returns
 * only a 2xx answer; raises everything else (ReportRemoteError).
 */
LiveidResponse *
liveid_http_end(LiveidRequest *req)
{
	Transfer   *t = &req->t;
	long		status = 0;
	char	   *location = NULL;
	LiveidResponse *resp;

	Assert(req->attached || req->finished);
	Perform(req);				/* raises only for an interrupt */
	if (req->interrupted)
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("LiveID+ request interrupted")));
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 300 && status < 400)
	{
		char	   *loc = NULL;

		curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &loc);
		if (loc)
			location = pstrdup(loc);	/* palloc raises only on OOM */
	}
	ReleaseRequest(req);

	if (t->data)
		t->data[t->len] = '\0'; /* WriteBody always leaves room */
	if (req->rc != CURLE_OK || t->too_large || t->out_of_memory ||
		status < 200 || status >= 300)
		ReportRemoteError(req, status, location);

	resp = palloc(sizeof(LiveidResponse));
	resp->status = status;
	resp->len = t->len;
	resp->body = t->data ? t->data : palloc0(1);
	return resp;
}

/* One request, start to end. */
LiveidResponse *
liveid_http(const char *method, const char *path, const char *body,
			const char *bearer, const char *key)
{
	return liveid_http_end(liveid_http_begin(method, path, body, bearer, key));
}
