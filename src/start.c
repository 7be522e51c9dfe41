/*-------------------------------------------------------------------------
 *
 * start.c
 *		Starting calls: liveid.customer(), liveid.service_start(),
 *		liveid.launch_form() and liveid.async_request_info().
 *
 * service_start and launch_form take the same arguments and check them in
 * one place, CollectStartFields(), which also builds the ordered list of
 * service-start form fields (liveid-api.md): id_organization first, then
 * id_process or the pair id_process_live + id_process_self, then json (the
 * standard Base64 of the UTF-8 ServiceStartJson text), then the optional
 * fields.  service_start sends that list as pushAsyncCall's b64Data (the
 * Base64 of the JSON object of the fields, booleans as JSON booleans);
 * launch_form writes it as the hidden inputs of an HTML form (booleans as
 * "true"/"false").
 *
 * The ledger.  service_start records every call it starts in liveid.calls
 * and async_request_info brings a row up to date with what the service
 * says, both through ledger.c.
 *
 * The row is part of the caller's transaction, written after the service
 * answered.  If the transaction then rolls back, the ledger has no row
 * while the service holds a request nobody was told about; nothing starts
 * unless someone opens its launch URL, and the request expires by itself
 * (at `expire`, or the service's own limit).
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "common/hashfn.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#define PUSH_PATH "/api/service/pushAsyncCall"
#define INFO_PATH "/api/v2/getAsyncRequestInfo"
#define MAX_SHORT_TEXT 100		/* external_id, op_info: characters */

/* the arguments service_start and launch_form share, by position */
enum
{
	ARG_CUSTOMER,
	ARG_PROCESS,
	ARG_ORGANIZATION,
	ARG_EXTERNAL_ID,
	ARG_REDIRECT_URL,
	ARG_REDIRECT_METHOD,
	ARG_OPERATOR_ID,
	ARG_OPERATOR_EMAIL,
	ARG_OPERATOR_EXTERNAL_ID,
	ARG_DIRECT,
	ARG_OP_INFO,
	ARG_SKIP_AV_REC_TEST,
	ARG_DISABLE_RTC_TEST,
	ARG_PROCESS_LIVE,
	ARG_PROCESS_SELF,
	ARG_METHOD,					/* service_start; launch_form: mode */
	ARG_EXPIRE					/* service_start only */
};

/* one service-start form field */
typedef struct FormField
{
	const char *name;
	const char *value;			/* "true"/"false" for a boolean */
	bool		boolean;		/* a JSON boolean in b64Data */
} FormField;

#define MAX_FORM_FIELDS 16

/* the ordered fields of a start, and what the ledger records of them */
typedef struct StartForm
{
	FormField	fields[MAX_FORM_FIELDS];
	int			nfields;
	LiveidCall	call;			/* what the ledger records of them */
} StartForm;

/* Raises the 22023 error of a bad argument. */
static void
pg_attribute_noreturn()
ArgError(const char *arg, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid %s", arg),
			 errdetail_internal("%s", detail),
			 hint ? errhint("%s", hint) : 0));
}

/* Raises the 22023 error of a NULL argument that is required. */
static void
pg_attribute_noreturn()
NullArgError(const char *arg, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s must not be NULL", arg),
			 errhint("%s", hint)));
}

/* A text argument as a C string, or NULL. */
static char *
TextArg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/* A uuid argument in its text form, or NULL. */
static char *
UuidArg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return DatumGetCString(DirectFunctionCall1(uuid_out, PG_GETARG_DATUM(argno)));
}

/* A boolean argument as "true"/"false", or NULL. */
static const char *
BoolArg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return PG_GETARG_BOOL(argno) ? "true" : "false";
}

/* True when s is empty or only white space. */
static bool
IsBlank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char) *s))
			return false;
	return true;
}

/* The standard Base64 of s converted to UTF-8, palloc'd. */
static char *
Base64Utf8(const char *s)
{
	char	   *utf8 = pg_server_to_any(s, strlen(s), PG_UTF8);
	int			len = strlen(utf8);
	int			cap = pg_b64_enc_len(len);
	char	   *out = palloc(cap + 1);
	int			n = pg_b64_encode(utf8, len, out, cap);

	if (n < 0)
		elog(ERROR, "could not encode to Base64");
	out[n] = '\0';
	return out;
}

/* s percent-encoded for a query string: only A-Z a-z 0-9 - _ ~ stay. */
static char *
UrlEncode(const char *s)
{
	StringInfoData b;

	initStringInfo(&b);
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			(*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '~')
			appendStringInfoChar(&b, (char) *p);
		else
			appendStringInfo(&b, "%%%02X", *p);
	}
	return b.data;
}

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

/* liveid.url without its trailing slash (as http.c joins it), palloc'd. */
static char *
BaseUrl(void)
{
	const char *base = liveid_url ? liveid_url : "";
	size_t		len = strlen(base);

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("liveid.url is not set"),
				 errhint("Set liveid.url to the LiveID+ service's base URL.")));
	if (base[len - 1] == '/')
		len--;
	return pnstrdup(base, len);
}

/* Adds a field to the form when it has a value. */
static void
AddField(StartForm *form, const char *name, const char *value, bool boolean)
{
	if (value == NULL)
		return;
	Assert(form->nfields < MAX_FORM_FIELDS);
	form->fields[form->nfields].name = name;
	form->fields[form->nfields].value = value;
	form->fields[form->nfields].boolean = boolean;
	form->nfields++;
}

/* Checks an argument of at most MAX_SHORT_TEXT characters. */
static void
CheckShortText(const char *arg, const char *value)
{
	int			n;

	if (value == NULL)
		return;
	n = pg_mbstrlen(value);
	if (n > MAX_SHORT_TEXT)
		ArgError(arg, psprintf("It has %d characters; LiveID+ accepts at most %d.",
							   n, MAX_SHORT_TEXT),
				 "Pass a shorter text.");
}

/*
 * Checks every argument service_start and launch_form share and builds the
 * ordered service-start fields (see the file header).  NULL arguments are
 * left out; organization and process fall back to their settings.
 */
static void
CollectStartFields(FunctionCallInfo fcinfo, StartForm *form)
{
	static const char *const routing_args[] = {
		"operator_id", "operator_email", "operator_external_id", "direct"
	};
	Jsonb	   *customer;
	char	   *process,
			   *process_live,
			   *process_self,
			   *external_id,
			   *redirect_url,
			   *redirect_method,
			   *op_info;
	char	   *routing[lengthof(routing_args)];
	const char *organization;
	int			nrouting = 0;

	memset(form, 0, sizeof(StartForm));

	/* the customer: a whole ServiceStartJson */
	if (PG_ARGISNULL(ARG_CUSTOMER))
		NullArgError("customer", "Build the customer with liveid.customer().");
	customer = PG_GETARG_JSONB_P(ARG_CUSTOMER);
	liveid_check_customer(&customer->root);

	/* exactly one of process or the pair, after defaults */
	process = UuidArg(fcinfo, ARG_PROCESS);
	process_live = UuidArg(fcinfo, ARG_PROCESS_LIVE);
	process_self = UuidArg(fcinfo, ARG_PROCESS_SELF);
	if (process && (process_live || process_self))
		ArgError("process",
				 "process excludes process_live and process_self.",
				 "Pass either process, or the pair process_live and process_self.");
	if ((process_live == NULL) != (process_self == NULL))
		ArgError(process_live ? "process_self" : "process_live",
				 "process_live and process_self go together.",
				 "Pass both (LiveID+ then picks the live or the self process), or process alone.");
	if (process == NULL && process_live == NULL)
	{
		const char *v = liveid_setting_or(NULL, liveid_process, "liveid.process",
										  "process");

		if (!liveid_is_uuid(v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("liveid.process is not a UUID: \"%s\"", v),
					 errhint("SET liveid.process to the process UUID Namirial issued.")));
		process = pstrdup(v);
	}

	organization = liveid_setting_or(TextArg(fcinfo, ARG_ORGANIZATION),
									 liveid_organization, "liveid.organization",
									 "organization");

	external_id = TextArg(fcinfo, ARG_EXTERNAL_ID);
	CheckShortText("external_id", external_id);

	redirect_url = TextArg(fcinfo, ARG_REDIRECT_URL);
	if (redirect_url && !liveid_is_http_url(redirect_url, false))
		ArgError("redirect_url",
				 psprintf("\"%s\" is not an absolute http or https URL.", redirect_url),
				 "Pass the page the browser returns to, such as https://example.com/done.");
	redirect_method = TextArg(fcinfo, ARG_REDIRECT_METHOD);
	if (redirect_method && strcmp(redirect_method, "GET") != 0 &&
		strcmp(redirect_method, "POST") != 0)
		ArgError("redirect_method",
				 psprintf("\"%s\" is not GET or POST.", redirect_method),
				 "Pass 'GET' or 'POST' (LiveID+ uses POST when it is not given).");
	if (redirect_method && redirect_url == NULL)
		ArgError("redirect_method",
				 "redirect_method only applies with redirect_url.",
				 "Pass redirect_url too, or leave redirect_method out.");

	/* the four ways of routing to one operator: at most one */
	routing[0] = UuidArg(fcinfo, ARG_OPERATOR_ID);
	routing[1] = TextArg(fcinfo, ARG_OPERATOR_EMAIL);
	routing[2] = TextArg(fcinfo, ARG_OPERATOR_EXTERNAL_ID);
	routing[3] = TextArg(fcinfo, ARG_DIRECT);
	for (int i = 0; i < lengthof(routing_args); i++)
		nrouting += (routing[i] != NULL);
	if (nrouting > 1)
	{
		StringInfoData given;

		initStringInfo(&given);
		for (int i = 0; i < lengthof(routing_args); i++)
			if (routing[i])
				appendStringInfo(&given, "%s%s", given.len ? ", " : "", routing_args[i]);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("operator_id, operator_email, operator_external_id and direct are mutually exclusive"),
				 errdetail("Given: %s.", given.data),
				 errhint("Route the call to one operator in one way, or leave all four out.")));
	}
	if (routing[1] && !liveid_is_email(routing[1]))
		ArgError("operator_email",
				 psprintf("\"%s\" is not an e-mail address.", routing[1]), NULL);
	if (routing[2] && IsBlank(routing[2]))
		ArgError("operator_external_id", "It must not be empty.", NULL);
	/* never print the token itself */
	if (routing[3] && !liveid_is_jwt(routing[3]))
		ArgError("direct",
				 "It must be a JWT: three base64url segments separated by dots.",
				 "Pass the token LiveID+ issued for calling that operator.");

	op_info = TextArg(fcinfo, ARG_OP_INFO);
	CheckShortText("op_info", op_info);

	/* the fields, in the order the service expects */
	form->call.organization = organization;
	form->call.process = process;
	form->call.process_live = process_live;
	form->call.process_self = process_self;
	form->call.external_id = external_id;
	AddField(form, "id_organization", organization, false);
	AddField(form, "id_process", process, false);
	AddField(form, "id_process_live", process_live, false);
	AddField(form, "id_process_self", process_self, false);
	AddField(form, "json",
			 Base64Utf8(JsonbToCString(NULL, &customer->root, VARSIZE(customer))),
			 false);
	AddField(form, "external_id", external_id, false);
	AddField(form, "redirectUrl", redirect_url, false);
	AddField(form, "redirectMethod", redirect_method, false);
	AddField(form, "id_operator2Call", routing[0], false);
	AddField(form, "email_operator2Call", routing[1], false);
	AddField(form, "extId_operator2Call", routing[2], false);
	AddField(form, "direct", routing[3], false);
	AddField(form, "opInfo", op_info, false);
	AddField(form, "skipAVrecTest", BoolArg(fcinfo, ARG_SKIP_AV_REC_TEST), true);
	AddField(form, "disableRTCTest", BoolArg(fcinfo, ARG_DISABLE_RTC_TEST), true);
}

/* pushAsyncCall's b64Data: the Base64 of the fields as a JSON object. */
static char *
B64Data(const StartForm *form)
{
	StringInfoData s;

	initStringInfo(&s);
	appendStringInfoChar(&s, '{');
	for (int i = 0; i < form->nfields; i++)
	{
		const FormField *f = &form->fields[i];

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
	return Base64Utf8(s.data);
}

/* A time as ISO 8601 in UTC with milliseconds. */
static char *
IsoUtc(TimestampTz t)
{
	struct pg_tm tm;
	fsec_t		fsec;

	if (TIMESTAMP_NOT_FINITE(t) || timestamp2tm(t, NULL, &tm, &fsec, NULL, NULL) != 0)
		ArgError("expire", "It must be a finite time.", NULL);
	return psprintf("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
					tm.tm_year, tm.tm_mon, tm.tm_mday, tm.tm_hour, tm.tm_min,
					tm.tm_sec, (int) (fsec / 1000));
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
	StartForm	form;
	const char *method = "start";
	TimestampTz expire = 0;
	bool		has_expire = !PG_ARGISNULL(ARG_EXPIRE);
	StringInfoData body;
	LiveidResponse *r;
	const LiveidJson *answer;
	char	   *uid;
	char	   *launch_url;
	LiveidHttpCall *pending;
	LiveidLedgerRow *row;
	text	   *result;

	/* refuse before the service holds a request the ledger cannot record */
	PreventCommandIfReadOnly("liveid.service_start()");

	cxt = AllocSetContextCreate(CurrentMemoryContext, "liveid service_start",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	CollectStartFields(fcinfo, &form);
	if (!PG_ARGISNULL(ARG_METHOD))
	{
		method = TextArg(fcinfo, ARG_METHOD);
		if (strcmp(method, "start") != 0 && strcmp(method, "live") != 0)
			ArgError("method", psprintf("\"%s\" is not start or live.", method),
					 "Pass 'start' (the default, recommended) or 'live'.");
	}
	if (has_expire)
	{
		expire = PG_GETARG_TIMESTAMPTZ(ARG_EXPIRE);
		if (expire <= GetCurrentTimestamp())
			ArgError("expire", "It is not in the future.",
					 "Pass the time after which the call is removed, such as now() + interval '1 day'.");
	}

	initStringInfo(&body);
	/* Base64 needs no JSON escaping, and method is start or live */
	appendStringInfo(&body, "{\"b64Data\":\"%s\",\"method\":\"%s\"", B64Data(&form), method);
	if (has_expire)
	{
		appendStringInfoString(&body, ",\"expire\":");
		escape_json(&body, IsoUtc(expire));
	}
	appendStringInfoChar(&body, '}');

	/* the ledger row is readied while the service answers */
	pending = liveid_http_begin("POST", PUSH_PATH, body.data, NULL);
	form.call.method = method;
	form.call.expire = has_expire ? &expire : NULL;
	row = liveid_ledger_prepare(&form.call);
	r = liveid_http_end(pending);

	answer = liveid_json_object(liveid_json_parse(r->body, r->len, "POST", PUSH_PATH),
								"{\"uId\": ...}");
	uid = liveid_json_string(answer, "uId");
	if (*uid == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("LiveID+ answer does not have the expected shape"),
				 errdetail_internal("The member \"uId\" is empty."),
				 errcontext("LiveID+ POST %s", PUSH_PATH)));

	launch_url = psprintf("%s/app/service-asyncall?uId=%s", BaseUrl(), UrlEncode(uid));
	liveid_ledger_record(row, uid, launch_url);

	MemoryContextSwitchTo(old);
	result = cstring_to_text(launch_url);
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
	StartForm	form;
	const char *mode = "standalone";
	bool		embedded;
	char	   *action;
	char		frame[32];
	StringInfoData html;
	text	   *result;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "liveid launch_form",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	CollectStartFields(fcinfo, &form);
	if (!PG_ARGISNULL(ARG_METHOD))
		mode = TextArg(fcinfo, ARG_METHOD);
	if (strcmp(mode, "standalone") != 0 && strcmp(mode, "embedded") != 0)
		ArgError("mode", psprintf("\"%s\" is not standalone or embedded.", mode),
				 "Pass 'standalone' (a new tab) or 'embedded' (an iframe in the page).");
	embedded = (strcmp(mode, "embedded") == 0);
	action = psprintf("%s/app/service-start", BaseUrl());

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

/*
 * An ISO 8601 time of an answer: YYYY-MM-DDTHH:MM[:SS[.f...]] then Z or
 * +HH[:MM] / -HH[:MM]; 58000 naming the member otherwise.  Each part is
 * read only after the one before it matched, so p never passes the end.
 */
static TimestampTz
AnswerTime(const char *s, const char *member, const char *path)
{
	struct pg_tm tm = {0};
	fsec_t		fsec = 0;
	int			tz = 0;
	const char *p = s;
	TimestampTz result;
	bool		ok;

	ok = strlen(s) >= 17 && s[4] == '-' && s[7] == '-' &&
		(s[10] == 'T' || s[10] == ' ') && s[13] == ':';
	if (ok)
	{
		tm.tm_year = liveid_digits(s, 4);
		tm.tm_mon = liveid_digits(s + 5, 2);
		tm.tm_mday = liveid_digits(s + 8, 2);
		tm.tm_hour = liveid_digits(s + 11, 2);
		tm.tm_min = liveid_digits(s + 14, 2);
		ok = tm.tm_year >= 1 && tm.tm_mon >= 1 && tm.tm_mon <= 12 &&
			tm.tm_mday >= 1 && tm.tm_mday <= day_tab[isleap(tm.tm_year)][tm.tm_mon - 1] &&
			tm.tm_hour >= 0 && tm.tm_hour <= 23 && tm.tm_min >= 0 && tm.tm_min <= 59;
		p = s + 16;
	}
	if (ok && *p == ':')
	{
		tm.tm_sec = liveid_digits(p + 1, 2);
		ok = tm.tm_sec >= 0 && tm.tm_sec <= 59;
		if (ok)
			p += 3;
		if (ok && *p == '.')
		{
			int			scale = 100000;

			ok = isdigit((unsigned char) p[1]);
			for (p++; ok && isdigit((unsigned char) *p); p++, scale /= 10)
				fsec += (*p - '0') * scale;
		}
	}
	if (ok && *p == 'Z')
		p++;
	else if (ok && (*p == '+' || *p == '-'))
	{
		int			sign = (*p == '+') ? 1 : -1;
		int			hh = liveid_digits(p + 1, 2),
					mm = 0;

		ok = hh >= 0 && hh <= 15;
		if (ok)
		{
			p += 3;
			if (*p == ':')
				p++;
			if (*p != '\0')
			{
				mm = liveid_digits(p, 2);
				ok = mm >= 0 && mm <= 59;
				if (ok)
					p += 2;
			}
		}
		tz = -sign * (hh * SECS_PER_HOUR + mm * SECS_PER_MINUTE);
	}
	else
		ok = false;
	if (!ok || *p != '\0' || tm2timestamp(&tm, fsec, &tz, &result) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("LiveID+ answer does not have the expected shape"),
				 errdetail_internal("The member \"%s\" is not an ISO 8601 time: \"%s\".",
									member, s),
				 errcontext("LiveID+ GET %s", path)));
	return result;
}

/*
 * A member of a call (as jsonb) that is a string or null or absent (NULL);
 * 58000 otherwise.  json.c's accessors take every member as required.
 */
static char *
NullableString(Jsonb *item, const char *member, const char *path)
{
	JsonbValue *v = getKeyJsonValueFromContainer(&item->root, member, strlen(member), NULL);

	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("LiveID+ answer does not have the expected shape"),
				 errdetail_internal("The member \"%s\" is not a string or null.", member),
				 errcontext("LiveID+ GET %s", path)));
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* one call of getAsyncRequestInfo's answer */
typedef struct CallInfo
{
	char	   *id_conference;
	char	   *status;
	char	   *close_status;	/* or NULL */
	TimestampTz started_at;
	TimestampTz ended_at;
	bool		ended;
} CallInfo;

PG_FUNCTION_INFO_V1(liveid_async_request_info);

/*
 * liveid.async_request_info(uid): one row per call of an asynchronous
 * request (none before the customer opens the link), and the ledger row
 * brought up to date with the latest of them.
 */
Datum
liveid_async_request_info(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	MemoryContext cxt,
				old;
	char	   *uid;
	char	   *path;
	LiveidResponse *r;
	const LiveidJson *answer,
			   *calls;
	CallInfo   *rows;
	int			n,
				latest = -1;

	InitMaterializedSRF(fcinfo, 0);
	if (PG_ARGISNULL(0))
		NullArgError("uid", "Pass the uid of a call, as liveid.calls records it.");
	cxt = AllocSetContextCreate(CurrentMemoryContext, "liveid async_request_info",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	uid = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (*uid == '\0')
		ArgError("uid", "It must not be empty.",
				 "Pass the uid of a call, as liveid.calls records it.");

	path = psprintf("%s?uId=%s", INFO_PATH, UrlEncode(uid));
	r = liveid_http("GET", path, NULL, NULL);
	answer = liveid_json_object(liveid_json_parse(r->body, r->len, "GET", path),
								"{\"calls\": [...]}");
	calls = liveid_json_array(answer, "calls");
	n = liveid_json_array_size(calls);
	rows = palloc0(sizeof(CallInfo) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		const LiveidJson *item = liveid_json_object(liveid_json_array_item(calls, i),
													"an object per call in \"calls\"");
		Jsonb	   *item_jb = liveid_json_to_jsonb(item);
		CallInfo   *c = &rows[i];
		char	   *end;

		c->id_conference = liveid_json_string(item, "idConference");
		c->status = liveid_json_string(item, "status");
		c->close_status = NullableString(item_jb, "closeStatus", path);
		c->started_at = AnswerTime(liveid_json_string(item, "startDate"), "startDate", path);
		end = NullableString(item_jb, "endDate", path);
		c->ended = (end != NULL);
		if (end)
			c->ended_at = AnswerTime(end, "endDate", path);
		/* the latest call: the last started (the later one on a tie) */
		if (latest < 0 || c->started_at >= rows[latest].started_at)
			latest = i;
	}

	for (int i = 0; i < n; i++)
	{
		Datum		values[6];
		bool		nulls[6] = {false, false, false, false, false, false};

		values[0] = CStringGetTextDatum(uid);
		values[1] = CStringGetTextDatum(rows[i].id_conference);
		values[2] = CStringGetTextDatum(rows[i].status);
		if (rows[i].close_status)
			values[3] = CStringGetTextDatum(rows[i].close_status);
		else
			nulls[3] = true;
		values[4] = TimestampTzGetDatum(rows[i].started_at);
		if (rows[i].ended)
			values[5] = TimestampTzGetDatum(rows[i].ended_at);
		else
			nulls[5] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}

	/*
	 * The ledger follows the service; in a read-only transaction (a standby,
	 * SET TRANSACTION READ ONLY) the answer is still returned, the ledger
	 * left as it is.
	 */
	if (latest >= 0 && !XactReadOnly)
	{
		const CallInfo *c = &rows[latest];
		bool		closed = (strcmp(c->status, "closed") == 0 && c->ended);

		liveid_ledger_update(uid, c->status, c->close_status, c->id_conference,
							 closed ? &c->ended_at : NULL);
	}

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return (Datum) 0;
}
