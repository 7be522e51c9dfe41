/*-------------------------------------------------------------------------
 *
 * http.c
 *		The transport to LiveID+: the only file that knows libcurl.
 *
 * One easy handle and one multi handle live for the whole backend, so
 * keep-alive connections and TLS sessions survive between calls.  Options
 * that never change are set once, the header lists once per API key; what
 * follows a setting (timeouts, size cap, CA file) is set on every call, so
 * a SET takes effect on the very next call.
 *
 * The transfer is driven through the multi interface in slices of at most
 * 50 ms, checking QueryCancelPending and ProcDiePending between slices, so
 * a cancel, statement_timeout or pg_terminate_backend stops it promptly;
 * the transfer is then abandoned and CHECK_FOR_INTERRUPTS() raises
 * PostgreSQL's own error.  Nothing here ereports while curl is inside a
 * callback: callbacks only record what happened.
 *
 * A request can be split: liveid_http_begin() sends it, liveid_http_end()
 * waits for the answer, and the caller works in between (service_start
 * readies its ledger row while the service answers).  So the clean-up of a
 * call is not a PG_FINALLY but a reset callback on the call's memory
 * context: it detaches the easy handle and frees the call's malloc'd header
 * list (the one with a Bearer token) whether the call ends, or an ERROR
 * anywhere between begin and end takes its memory away.
 *
 * Every request goes to liveid.url || path: the path is checked so that it
 * cannot name another host or climb out of the base path, redirects are
 * never followed, and only http and https are allowed.  The answer is
 * collected into a buffer allocated with MCXT_ALLOC_NO_OOM in the call's
 * memory context and capped at liveid.max_response_size while receiving.
 *
 * Failures map to the SQLSTATEs of sql-api.md: 08006 for the connection
 * (connect, DNS, TLS, reset, timeout), 28000 for 401/403, 22023 for other
 * 4xx (the service's own error text in DETAIL), 58000 for 5xx, redirects
 * and answers too large.  No message carries the API key or a token.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include <curl/curl.h>

#include "miscadmin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

static CURL *easy = NULL;
static CURLM *multi = NULL;
static char user_agent[128];
static char errbuf[CURL_ERROR_SIZE];

/*
 * What the handle is set up with.  Options that never change are set once
 * (SetUpHandle), again only after an interrupted transfer or a new
 * liveid.ca_file; the header lists are built once per API key.
 */
static bool handle_ready = false;
static char *handle_ca_file = NULL;	/* malloc'd */
static struct curl_slist *headers_plain = NULL;	/* Accept, apikey */
static struct curl_slist *headers_json = NULL;	/* the same + Content-Type */
static const char *headers_key = NULL;	/* the key they hold (stash pointer) */

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
	bool		interrupted;
} Transfer;

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

/* Progress callback: a pending interrupt aborts the transfer. */
static int
Progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow,
		 curl_off_t ultotal, curl_off_t ulnow)
{
	Transfer   *t = clientp;

	if (QueryCancelPending || ProcDiePending)
	{
		t->interrupted = true;
		return 1;
	}
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
	curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, Progress);
	curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
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
	headers_key = NULL;
	for (int i = 0; i < 2 && ok; i++)
	{
		struct curl_slist *list = NULL;

		list = AppendHeader(list, "Accept: ", "application/json", &ok);
		if (i == 1)
			list = AppendHeader(list, "Content-Type: ", "application/json", &ok);
		if (*key)
			list = AppendHeader(list, "apikey: ", key, &ok);
		if (i == 0)
			headers_plain = list;
		else
			headers_json = list;
	}
	if (ok)
		headers_key = key;
	return ok;
}

/* Copies a header list and adds the Bearer token (a call's own list). */
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

/*
 * Refuses a path that could leave liveid.url: it must start with one '/',
 * and may not hold a scheme, "//", '@', a backslash, "..", or control
 * characters or spaces.
 */
void
liveid_check_path(const char *path)
{
	const char *why = NULL;
	size_t		pathlen;

	if (path == NULL || path[0] != '/')
		why = "It must start with \"/\".";
	else if (strstr(path, "//") != NULL)
		why = "It must not contain \"//\".";
	else if (strchr(path, '@') != NULL)
		why = "It must not contain \"@\".";
	else if (strchr(path, '\\') != NULL)
		why = "It must not contain a backslash.";
	else if (strstr(path, "..") != NULL)
		why = "It must not contain \"..\".";
	else
	{
		pathlen = strcspn(path, "?#");
		if (memchr(path, ':', pathlen) != NULL)
			why = "It must not contain a scheme or a port (\":\").";
		for (const char *p = path; *p && why == NULL; p++)
			if ((unsigned char) *p <= ' ' || *p == 0x7f)
				why = "It must not contain spaces or control characters.";
	}
	if (why)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid LiveID+ path"),
				 errdetail("%s Every request goes to a path under liveid.url.", why),
				 errhint("Pass a path such as \"/api/service/getQueue\".")));
}

/* Raises the 08006 error of a transport failure. */
static void
ReportTransportError(CURLcode rc, const char *errbuf, long elapsed_ms,
					 const char *method, const char *path)
{
	const char *what;
	const char *hint = NULL;
	const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);

	switch (rc)
	{
		case CURLE_OPERATION_TIMEDOUT:
			what = "timed out";
			hint = "Raise liveid.timeout or liveid.connect_timeout if the service is slow.";
			break;
		case CURLE_COULDNT_RESOLVE_HOST:
			what = "could not resolve the host of liveid.url";
			hint = "Check liveid.url.";
			break;
		case CURLE_COULDNT_CONNECT:
			what = "could not connect";
			hint = "Check liveid.url and that the service is reachable.";
			break;
		case CURLE_PEER_FAILED_VERIFICATION:
		case CURLE_SSL_CONNECT_ERROR:
		case CURLE_SSL_CACERT_BADFILE:
		case CURLE_SSL_CERTPROBLEM:
		case CURLE_SSL_CIPHER:
		case CURLE_SSL_ISSUER_ERROR:
			what = "TLS handshake failed";
			hint = "Check the service's certificate, or set liveid.ca_file to the CA bundle that signed it.";
			break;
		case CURLE_PARTIAL_FILE:
			what = "connection closed before the whole answer arrived";
			break;
		case CURLE_GOT_NOTHING:
			what = "connection closed without an answer";
			break;
		case CURLE_RECV_ERROR:
		case CURLE_SEND_ERROR:
			what = "connection lost";
			break;
		default:
			what = "request failed";
			break;
	}
	ereport(ERROR,
			(errcode(ERRCODE_CONNECTION_FAILURE),
			 errmsg("LiveID+ %s", what),
			 errdetail_internal("After %ld ms: %s", elapsed_ms, detail),
			 hint ? errhint("%s", hint) : 0,
			 errcontext("LiveID+ %s %s", method, path)));
}

/* A short printable excerpt of an answer body, for DETAIL. */
static char *
Excerpt(const char *body, size_t len)
{
	StringInfoData s;
	size_t		n = Min(len, 200);

	initStringInfo(&s);
	for (size_t i = 0; i < n; i++)
	{
		unsigned char c = (unsigned char) body[i];

		appendStringInfoChar(&s, (c < 0x20 || c == 0x7f) ? ' ' : (char) c);
	}
	if (len > n)
		appendStringInfoString(&s, "...");
	return s.data;
}

/* Raises the error of a non-2xx answer. */
static void
ReportStatus(long status, const char *body, size_t len, const char *method,
			 const char *path, const char *location)
{
	char	   *service_error = len > 0 ? liveid_json_error_text(body, len) : NULL;

	if (status == 401 || status == 403)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("LiveID+ refused the credentials (HTTP %ld)", status),
				 service_error ? errdetail_internal("%s", service_error) : 0,
				 errhint("Check liveid.api_key (and the organization it belongs to)."),
				 errcontext("LiveID+ %s %s", method, path)));
	if (status >= 300 && status < 400)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("LiveID+ answered with a redirect (HTTP %ld), which is not followed", status),
				 location ? errdetail_internal("Location: %s", location) : 0,
				 errhint("Check liveid.url: every request goes to it and nowhere else."),
				 errcontext("LiveID+ %s %s", method, path)));
	if (status >= 400 && status < 500)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("LiveID+ rejected the request (HTTP %ld)", status),
				 errdetail_internal("%s", service_error ? service_error
									: (len > 0 ? Excerpt(body, len) : "(no error text)")),
				 errcontext("LiveID+ %s %s", method, path)));
	ereport(ERROR,
			(errcode(ERRCODE_SYSTEM_ERROR),
			 errmsg("LiveID+ failed (HTTP %ld)", status),
			 errdetail_internal("%s", service_error ? service_error
								: (len > 0 ? Excerpt(body, len) : "(empty answer)")),
			 errcontext("LiveID+ %s %s", method, path)));
}

/* Milliseconds since start. */
static long
ElapsedMs(TimestampTz start)
{
	return (long) ((GetCurrentTimestamp() - start) / 1000);
}

/*
 * A request under way, from liveid_http_begin() to liveid_http_end(), in the
 * memory context of the call.  While it is attached, the easy handle points
 * into it (the Transfer, the body) and may hold a header list of its own;
 * ReleaseCall() undoes both, and runs at the latest when that memory context
 * goes, so an ERROR raised between begin and end leaves the handle clean.
 */
struct LiveidHttpCall
{
	Transfer	t;
	const char *method;
	const char *path;
	struct curl_slist *call_headers;	/* with a Bearer token, or NULL */
	bool		attached;		/* easy is in multi, pointing here */
	bool		finished;		/* the transfer ended (rc is curl's) */
	CURLcode	rc;
	TimestampTz start;
	MemoryContextCallback cleanup;
};

/* the call the easy handle belongs to, if any */
static LiveidHttpCall *active_call = NULL;

/* Detaches the easy handle from call; never raises (also runs in abort). */
static void
ReleaseCall(void *arg)
{
	LiveidHttpCall *call = arg;

	if (!call->attached)
		return;
	curl_multi_remove_handle(multi, easy);
	/* nothing may point at this call's memory once it is over */
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(easy, CURLOPT_XFERINFODATA, NULL);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, NULL);
	if (call->call_headers)
	{
		curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers_plain);
		curl_slist_free_all(call->call_headers);
		call->call_headers = NULL;
	}
	call->attached = false;
	if (active_call == call)
		active_call = NULL;
}

/* Drives the transfer once, without waiting; true when it has ended. */
static bool
Drive(LiveidHttpCall *call)
{
	CURLMcode	mc;
	CURLMsg    *msg;
	int			running = 1;
	int			left;

	mc = curl_multi_perform(multi, &running);
	if (mc != CURLM_OK)
	{
		call->rc = CURLE_FAILED_INIT;
		return call->finished = true;
	}
	while ((msg = curl_multi_info_read(multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE && msg->easy_handle == easy)
		{
			call->rc = msg->data.result;
			call->finished = true;
		}
	if (!running)
		call->finished = true;
	return call->finished;
}

/*
 * Runs the transfer to its end in slices of at most 50 ms, giving up when
 * an interrupt is pending.
 */
static void
Perform(LiveidHttpCall *call)
{
	while (!call->finished)
	{
		if (QueryCancelPending || ProcDiePending)
		{
			call->t.interrupted = true;
			call->rc = CURLE_ABORTED_BY_CALLBACK;
			call->finished = true;
			break;
		}
		if (curl_multi_poll(multi, NULL, 0, 50, NULL) != CURLM_OK)
		{
			call->rc = CURLE_FAILED_INIT;
			call->finished = true;
			break;
		}
		Drive(call);
	}
}

/*
 * Starts one request to liveid.url || path (see the file header): checks
 * it, and sends it as far as it can go without waiting (on a kept-alive
 * connection, all of it).  The caller may do other work before
 * liveid_http_end(), in the same memory context.
 */
LiveidHttpCall *
liveid_http_begin(const char *method, const char *path, const char *body,
				  const char *bearer)
{
	const char *base = liveid_url ? liveid_url : "";
	const char *key = liveid_api_key();
	size_t		baselen = strlen(base);
	StringInfoData url;
	const char *ca_file = liveid_ca_file ? liveid_ca_file : "";
	struct curl_slist *call_headers = NULL;
	LiveidHttpCall *call;

	/* an owner's trigger on the ledger must not send a second request */
	liveid_ledger_guard("a LiveID+ request");
	liveid_check_path(path);
	if (baselen == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("liveid.url is not set"),
				 errhint("Set liveid.url to the LiveID+ service's base URL.")));
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

	EnsureHandles();
	/* a call whose memory outlived an error gives the handle back */
	if (active_call)
		ReleaseCall(active_call);

	initStringInfo(&url);
	appendBinaryStringInfo(&url, base, base[baselen - 1] == '/' ? baselen - 1 : baselen);
	appendStringInfoString(&url, path);

	call = palloc0(sizeof(LiveidHttpCall));
	call->method = method;
	call->path = path;
	call->t.cxt = CurrentMemoryContext;
	call->t.limit = (size_t) liveid_max_response_size;
	call->cleanup.func = ReleaseCall;
	call->cleanup.arg = call;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &call->cleanup);
	errbuf[0] = '\0';
	call->start = GetCurrentTimestamp();

	if (!handle_ready || strcmp(handle_ca_file, ca_file) != 0)
		SetUpHandle(ca_file);
	if (!handle_ready || (headers_key != key && !BuildHeaderLists(key)))
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (bearer)
	{
		bool		ok = true;

		call_headers = WithBearer(body ? headers_json : headers_plain, bearer, &ok);
		if (!ok)
		{
			curl_slist_free_all(call_headers);
			ereport(ERROR,
					(errcode(ERRCODE_OUT_OF_MEMORY),
					 errmsg("out of memory")));
		}
	}

	/* from here on nothing raises until the call is attached */
	curl_easy_setopt(easy, CURLOPT_URL, url.data);
	if (body)
	{
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) strlen(body));
	}
	else
		curl_easy_setopt(easy, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER,
					 call_headers ? call_headers : body ? headers_json : headers_plain);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long) liveid_connect_timeout);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long) liveid_timeout);
	curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) call->t.limit);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &call->t);
	curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &call->t);
	call->call_headers = call_headers;
	call->attached = true;
	active_call = call;

	if (curl_multi_add_handle(multi, easy) != CURLM_OK)
	{
		call->rc = CURLE_FAILED_INIT;
		call->finished = true;
	}
	else
		Drive(call);
	return call;
}

/*
 * Waits for the answer of a call liveid_http_begin() started.  Returns only
 * a 2xx answer; raises everything else.
 */
LiveidResponse *
liveid_http_end(LiveidHttpCall *call)
{
	Transfer   *t = &call->t;
	long		status = 0;
	char	   *location = NULL;
	LiveidResponse *resp;

	Assert(call->attached);
	Perform(call);				/* never raises */
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 300 && status < 400)
	{
		char	   *loc = NULL;

		curl_easy_getinfo(easy, CURLINFO_REDIRECT_URL, &loc);
		if (loc)
			location = pstrdup(loc);	/* palloc raises only on OOM */
	}
	ReleaseCall(call);

	if (t->data)
		t->data[t->len] = '\0'; /* WriteBody always leaves room */
	if (t->interrupted)
	{
		/* start the next call from a clean handle */
		handle_ready = false;
		CHECK_FOR_INTERRUPTS();
		ereport(ERROR,
				(errcode(ERRCODE_QUERY_CANCELED),
				 errmsg("LiveID+ request interrupted")));
	}
	if (t->too_large || call->rc == CURLE_FILESIZE_EXCEEDED)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("LiveID+ answer is larger than liveid.max_response_size (%d bytes)",
						liveid_max_response_size),
				 errdetail("The answer was refused while it arrived, not buffered."),
				 errhint("Raise liveid.max_response_size if such answers are expected."),
				 errcontext("LiveID+ %s %s", call->method, call->path)));
	if (t->out_of_memory)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory while receiving a LiveID+ answer")));
	if (call->rc != CURLE_OK)
		ReportTransportError(call->rc, errbuf, ElapsedMs(call->start), call->method, call->path);
	if (status < 200 || status >= 300)
		ReportStatus(status, t->data ? t->data : "", t->len, call->method, call->path, location);

	resp = palloc(sizeof(LiveidResponse));
	resp->status = status;
	resp->len = t->len;
	resp->body = t->data ? t->data : palloc0(1);
	return resp;
}

/* One request, start to end. */
LiveidResponse *
liveid_http(const char *method, const char *path, const char *body,
			const char *bearer)
{
	return liveid_http_end(liveid_http_begin(method, path, body, bearer));
}
