/*-------------------------------------------------------------------------
 *
 * start.c
 *		Starting calls: liveid.service_start() and liveid.launch_form().
 *
 * Both check their arguments in start_args.c.  service_start sends the
 * service-start fields as pushAsyncCall's b64Data (the Base64 of the JSON
 * object of the fields, booleans as JSON booleans) and records the call in
 * liveid.calls (ledger.c); launch_form writes them as the hidden inputs of
 * an HTML form (booleans as "true"/"false") that a browser posts to the
 * synchronous /app/service-start.
 *
 * The ledger row is part of the caller's transaction.  Everything that
 * could keep it from being written is checked before the request goes out
 * (liveid_ledger_ready); if the transaction rolls back after the service
 * answered, the ledger has no row while the service holds a live request:
 * handoff.c then gives its uId to the background worker, which rejects it
 * (without the worker it stays valid until it expires, at `expire` or the
 * service's own limit).  enqueue_start (outbox.c) builds the same body and
 * leaves the sending to the worker, after commit.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "common/hashfn.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"


/* Appends s with & < > " ' escaped for HTML text and attribute values. */
static void
AppendHtml(StringInfo b, const char *s)
{
	for (; *s; s++)
	{
		switch (*s)
		{
			case '&':
				appendStringInfoString(b, "&amp;");
				break;
			case '<':
				appendStringInfoString(b, "&lt;");
				break;
			case '>':
				appendStringInfoString(b, "&gt;");
				break;
			case '"':
				appendStringInfoString(b, "&quot;");
				break;
			case '\'':
				appendStringInfoString(b, "&#39;");
				break;
			default:
				appendStringInfoChar(b, *s);
				break;
		}
	}
}

/* pushAsyncCall's b64Data: the Base64 of the fields as a JSON object. */
static char *
B64Data(const LiveidStartForm *form)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	for (int i = 0; i < form->nfields; i++)
	{
		const LiveidFormField *f = &form->fields[i];

		if (i > 0)
			appendStringInfoChar(&s, ',');
		escape_json(&s, f->name);
		appendStringInfoChar(&s, ':');
		if (f->boolean)
			appendStringInfoString(&s, f->value);
		else
			escape_json(&s, f->value);
	}
	appendStringInfoChar(&s, '}');
	return liveid_base64_utf8(s.data);
}

/* A time as ISO 8601 in UTC with milliseconds. */
static char *
IsoUtc(TimestampTz t)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(t) || timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
		liveid_arg_error("expire", "It must be a finite time.", NULL);
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
					tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min,
					tm.tm_sec, (int) (fsec / 1000));
}

/*
 * The body of pushAsyncCall: b64Data, method and the optional expiry, each
 * checked here (service_start's and enqueue_start's own arguments); sets
 * the form's call method and expire (pointing at *expire).
 */
char *
liveid_push_body(FunctionCallInfo fcinfo, LiveidStartForm *form, TimestampTz *expire)
{
	LiveidCall *call = &form->call;
	StringInfoData body;
	const char *method = "start";

	if (!PG_ARGISNULL(LIVEID_ARG_METHOD))
	{
		method = liveid_text_arg(fcinfo, LIVEID_ARG_METHOD);
		if (strcmp(method, "start") != 0 && strcmp(method, "live") != 0)
			liveid_arg_error("method", psprintf("\"%s\" is not start or live.", method),
							 "Pass 'start' (the default, recommended) or 'live'.");
	}
	call->method = method;
	call->expire = NULL;
	if (!PG_ARGISNULL(LIVEID_ARG_EXPIRE))
	{
		*expire = PG_GETARG_TIMESTAMPTZ(LIVEID_ARG_EXPIRE);
		if (*expire <= GetCurrentTimestamp())
			liveid_arg_error("expire", "It is not in the future.",
							 "Pass the time after which the call is removed, such as now() + interval '1 day'.");
		call->expire = expire;
	}

	initStringInfo(&body);
	/* Base64 needs no JSON escaping, and method is start or live */
	appendStringInfo(&body, "{\"b64Data\":\"%s\",\"method\":\"%s\"", B64Data(form), method);
	if (call->expire)
	{
		appendStringInfoString(&body, ",\"expire\":");
		escape_json(&body, IsoUtc(*expire));
	}
	appendStringInfoChar(&body, '}');
	return body.data;
}

/*
 * The uId of pushAsyncCall's answer: a non-empty printable name of at most
 * LIVEID_MAX_UID_LEN bytes (58000 otherwise), since it goes into the ledger and
 * into the launch URL.
 */
char *
liveid_push_answer_uid(const LiveidResponse *r)
{
	JsonbContainer *answer;
	char	   *uid;
	size_t		len;
	bool		ok;

	answer = liveid_answer_object(liveid_answer_parse(r->body, r->len), "{\"uId\": ...}");
	uid = liveid_member_string(answer, "uId");
	len = strlen(uid);
	ok = len > 0 && len <= LIVEID_MAX_UID_LEN;
	for (size_t i = 0; ok && i < len; i++)
		ok = (unsigned char) uid[i] > ' ' && (unsigned char) uid[i] < 0x7f;
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("LiveID+ answer does not have the expected shape"),
				 errdetail_internal("The member \"uId\" is not a name of 1 to %d printable ASCII characters.",
									LIVEID_MAX_UID_LEN)));
	return uid;
}

/* The link the customer opens to join the call uid. */
char *
liveid_launch_url(const char *uid)
{
	return psprintf("%s/app/service-asyncall?uId=%s", liveid_base_url(),
					liveid_url_encode(uid));
}

PG_FUNCTION_INFO_V1(liveid_service_start);

/*
 * liveid.service_start(customer, process, organization, ..., method,
 * expire): checks everything, starts an asynchronous call (pushAsyncCall),
 * records it in liveid.calls and returns its launch URL.
 */
Datum
liveid_service_start(PG_FUNCTION_ARGS)
{
	MemoryContext cxt,
				old;
	LiveidStartForm form;
	LiveidCall *call = &form.call;
	TimestampTz expire;
	char	   *body;
	const char *key;
	LiveidRemoteContext remote;
	text	   *result;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "liveid service_start",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	liveid_start_form(fcinfo, &form, true);
	body = liveid_push_body(fcinfo, &form, &expire);
	/* nothing goes out that the ledger could not record */
	liveid_ledger_ready("liveid.service_start()");
	key = liveid_key_for(call->organization);

	liveid_remote_context_push(&remote, "POST", LIVEID_PATH_PUSH);
	call->uid = liveid_push_answer_uid(liveid_http("POST", LIVEID_PATH_PUSH, body, NULL, key));
	liveid_remote_context_pop(&remote);
	/* from now on, a rollback has the worker reject the call (handoff.c) */
	liveid_handoff_track(call->uid, call->organization);
	call->launch_url = liveid_launch_url(call->uid);
	liveid_ledger_insert(call);

	MemoryContextSwitchTo(old);
	result = cstring_to_text(call->launch_url);
	MemoryContextDelete(cxt);
	PG_RETURN_TEXT_P(result);
}

PG_FUNCTION_INFO_V1(liveid_launch_form);

/*
 * liveid.launch_form(customer, process, organization, ..., mode): the HTML
 * a browser needs to POST the same fields to <liveid.url>/app/service-start,
 * in a new tab (standalone) or in an iframe (embedded).
 *
 * The form is started by its submit button, not by an inline script, so
 * that it works on pages whose Content-Security-Policy forbids inline
 * scripts; a page that wants it to start at once calls form.submit().
 */
Datum
liveid_launch_form(PG_FUNCTION_ARGS)
{
	MemoryContext cxt,
				old;
	LiveidStartForm form;
	const char *mode = "standalone";
	bool		embedded;
	char	   *action;
	char		frame[32];
	StringInfoData html;
	text	   *result;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "liveid launch_form",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	liveid_start_form(fcinfo, &form, false);
	if (!PG_ARGISNULL(LIVEID_ARG_METHOD))
		mode = liveid_text_arg(fcinfo, LIVEID_ARG_METHOD);
	if (strcmp(mode, "standalone") != 0 && strcmp(mode, "embedded") != 0)
		liveid_arg_error("mode", psprintf("\"%s\" is not standalone or embedded.", mode),
				 "Pass 'standalone' (a new tab) or 'embedded' (an iframe in the page).");
	embedded = (strcmp(mode, "embedded") == 0);
	action = psprintf("%s/app/service-start", liveid_base_url());

	initStringInfo(&html);
	if (embedded)
	{
		uint32		h = 0;

		/* a frame name of its own, so that a page can hold several */
		for (int i = 0; i < form.nfields; i++)
			h = hash_combine(h, hash_bytes((const unsigned char *) form.fields[i].value,
										   strlen(form.fields[i].value)));
		snprintf(frame, sizeof(frame), "liveid-%08x", h);
		appendStringInfo(&html,
						 "<iframe name=\"%s\" title=\"LiveID+ video identification\" "
						 "allow=\"geolocation; camera; microphone\" "
						 "style=\"width: 100%%; height: 40em; border: 0\"></iframe>\n",
						 frame);
	}
	else
		strlcpy(frame, "_blank", sizeof(frame));

	appendStringInfoString(&html, "<form method=\"post\" action=\"");
	AppendHtml(&html, action);
	appendStringInfo(&html, "\" target=\"%s\" accept-charset=\"UTF-8\">\n", frame);
	for (int i = 0; i < form.nfields; i++)
	{
		appendStringInfoString(&html, "<input type=\"hidden\" name=\"");
		AppendHtml(&html, form.fields[i].name);
		appendStringInfoString(&html, "\" value=\"");
		AppendHtml(&html, form.fields[i].value);
		appendStringInfoString(&html, "\">\n");
	}
	appendStringInfoString(&html,
						   "<button type=\"submit\">Start the video identification</button>\n"
						   "</form>\n");

	MemoryContextSwitchTo(old);
	result = cstring_to_text(html.data);
	MemoryContextDelete(cxt);
	PG_RETURN_TEXT_P(result);
}
