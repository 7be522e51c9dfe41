/*-------------------------------------------------------------------------
 *
 * calldata.c
 *		What the service keeps of a call, and the calls that act on it:
 *		conference_data(), audit_data(), delete_audit_data(), reject_call()
 *		and register_alert_email().
 *
 * Who may ask.  Everything is decided locally, before anything is sent.  A
 * liveid_user reaches only the calls it started: the ledger is read as the
 * caller, under its row-level security, by uid (reject_call) or by the
 * conference id the ledger holds for a call (the latest one, as
 * async_request_info recorded it); any other is 22023.  liveid_admin may
 * name any call or conference.  The key sent is that of the organization
 * the ledger recorded (the default key when the ledger has no row, for an
 * administrator); register_alert_email names a process, not a call, and
 * sends the key of liveid.organization.
 *
 * ConferenceTokens.  conferenceData, getAuditData and deleteAuditData take
 * a short-lived token (Authorization: Bearer) that genAPIToken gives for
 * one conference.  Each function asks for one, uses it for its one request
 * and lets it go with the function's memory context: it is never returned,
 * stored or cached, and http.c masks it in any text of the service's that
 * an error shows.
 *
 * Every answer is read in its documented shape (liveid-api.md, "Other
 * APIs"), here and nowhere else; another shape is 58000 naming the member.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/uuid.h"

#define TOKEN_PATH "/api/authenticate/genAPIToken"
#define CONFERENCE_DATA_PATH "/api/v1/conferenceData"
#define AUDIT_PATH "/api/v2/getAuditData"
#define DELETE_AUDIT_PATH "/api/v1/deleteAuditData"
#define REJECT_PATH "/api/v2/rejectCall"
#define ALERT_PATH "/api/v2/registerAlertEmail"

#define MAX_ID_LEN 100			/* an id_conference, a uid */
#define MAX_MODULE_LEN 32
#define MAX_REASON_CHARS 1000
#define MAX_ALERT_EMAILS 20
#define MAX_EMAIL_LEN 254

/* the kinds of JSON value a member may have (a mask) */
#define K_NULL		0x01
#define K_STRING	0x02
#define K_OBJECT	0x04
#define K_ARRAY		0x08
#define K_BOOL		0x10

/* One member of a documented answer: the kinds it may be, and whether it must be there. */
typedef struct AnswerMember
{
	const char *name;
	int			kinds;
	bool		required;
	const char *want;			/* for DETAIL */
} AnswerMember;

/* conferenceData's answer; end_pattern's values are checked apart */
static const AnswerMember conference_data_shape[] = {
	{"call_answer_date", K_STRING | K_NULL, false, "a string or null"},
	{"call_end_date", K_STRING | K_NULL, false, "a string or null"},
	{"call_last_activity", K_STRING | K_NULL, false, "a string or null"},
	{"end_pattern", K_STRING | K_NULL, false, "one of N, A, K, S, or null"},
	{"operator", K_OBJECT | K_NULL, false, "an object or null"},
	{"data", K_OBJECT, true, "an object"},
};

/* Raises the 58000 error of an answer of the wrong shape. */
static void
pg_attribute_noreturn()
ShapeError(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_SYSTEM_ERROR),
			 errmsg("LiveID+ answer does not have the expected shape"),
			 errdetail_internal("%s", detail)));
}

/* The kind (K_*) of a JSON value. */
static int
KindOf(const JsonbValue *v)
{
	switch (v->type)
	{
		case jbvNull:
			return K_NULL;
		case jbvString:
			return K_STRING;
		case jbvBool:
			return K_BOOL;
		case jbvBinary:
			return JsonContainerIsObject(v->val.binary.data) ? K_OBJECT : K_ARRAY;
		default:
			return 0;
	}
}

/* A member of an answer object, or NULL. */
static JsonbValue *
Member(JsonbContainer *obj, const char *key, JsonbValue *v)
{
	return getKeyJsonValueFromContainer(obj, key, strlen(key), v);
}

/* Checks that the answer says "success": true (every answer documents it). */
static void
CheckSuccess(JsonbContainer *answer)
{
	JsonbValue	v;

	if (Member(answer, "success", &v) == NULL || v.type != jbvBool || !v.val.boolean)
		ShapeError("The member \"success\" is not true.");
}

/* Checks an answer's members against a shape. */
static void
CheckShape(JsonbContainer *answer, const AnswerMember *shape, int n)
{
	JsonbValue	v;

	CheckSuccess(answer);
	for (int i = 0; i < n; i++)
	{
		if (Member(answer, shape[i].name, &v) == NULL)
		{
			if (shape[i].required)
				ShapeError(psprintf("The member \"%s\" is missing.", shape[i].name));
		}
		else if ((KindOf(&v) & shape[i].kinds) == 0)
			ShapeError(psprintf("The member \"%s\" is not %s.", shape[i].name, shape[i].want));
	}
}

/*
 * Sends one request and parses its answer as an object.  The error
 * context (LiveID+ <method> <path>) is pushed here, for the request and the
 * reading of its answer; the caller pops it when done reading.
 */
static JsonbContainer *
Send(LiveidRemoteContext *ctx, const char *method, const char *path, const char *body,
	 const char *bearer, const char *key, const char *what, Jsonb **doc)
{
	LiveidResponse *r;
	Jsonb	   *answer;

	liveid_remote_context_push(ctx, method, path);
	r = liveid_http(method, path, body, bearer, key);
	answer = liveid_answer_parse(r->body, r->len);
	if (doc)
		*doc = answer;
	return liveid_answer_object(answer, what);
}

/* A text argument that names a call or conference: 1 to MAX_ID_LEN visible ASCII characters. */
static char *
IdArg(FunctionCallInfo fcinfo, int argno, const char *arg, const char *hint)
{
	char	   *id;
	size_t		len;

	if (PG_ARGISNULL(argno))
		liveid_null_arg_error(arg, hint);
	id = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	len = strlen(id);
	if (len == 0)
		liveid_arg_error(arg, "It must not be empty.", hint);
	if (len > MAX_ID_LEN)
		liveid_arg_error(arg, psprintf("It is %zu bytes long; at most %d are allowed.",
									   len, MAX_ID_LEN), hint);
	for (const char *p = id; *p; p++)
		if ((unsigned char) *p <= ' ' || (unsigned char) *p >= 0x7f)
			liveid_arg_error(arg, "It must be visible ASCII characters only (no spaces or control characters).",
							 hint);
	return id;
}

/* The id_conference argument. */
static char *
ConferenceArg(FunctionCallInfo fcinfo, int argno)
{
	return IdArg(fcinfo, argno, "id_conference",
				 "Pass the id_conference of a call, as liveid.calls records it.");
}

/*
 * A ConferenceToken for the conference id, from genAPIToken with key.  It
 * lives in the caller's memory context and is never shown.
 */
static char *
ConferenceToken(const char *id, const char *key)
{
	LiveidRemoteContext ctx;
	char	   *path = psprintf("%s?idConference=%s", TOKEN_PATH, liveid_url_encode(id));
	JsonbContainer *answer = Send(&ctx, "GET", path, NULL, NULL, key,
								  "{\"success\": true, \"token\": \"...\"}", NULL);
	char	   *token;

	CheckSuccess(answer);
	token = liveid_member_string(answer, "token");
	if (!liveid_is_jwt(token))
		ShapeError("The member \"token\" is not a JWT.");
	liveid_remote_context_pop(&ctx);
	return token;
}

/*
 * One request of a Bearer endpoint about the conference id for the SQL
 * function fn: who may ask and which key is decided by the ledger first,
 * then the token is asked for; the answer as an object, ctx left pushed for
 * its reading.
 */
static JsonbContainer *
SendWithToken(LiveidRemoteContext *ctx, const char *fn, const char *method, const char *base,
			  const char *id, const char *query, const char *what, Jsonb **doc)
{
	const char *key = liveid_key_for(liveid_ledger_conference(id, fn));
	char	   *token = ConferenceToken(id, key);
	char	   *path = psprintf("%s?idConference=%s%s", base, liveid_url_encode(id),
								query ? query : "");

	return Send(ctx, method, path, NULL, token, key, what, doc);
}

/*
 * A function's own short-lived memory context, a child of the caller's (so
 * an ERROR frees it with the rest), switched to; returns the caller's.
 */
static MemoryContext
BeginCall(void)
{
	return MemoryContextSwitchTo(AllocSetContextCreate(CurrentMemoryContext, "liveid call data",
													   ALLOCSET_DEFAULT_SIZES));
}

/* Deletes it, back in the caller's context. */
static void
EndCall(MemoryContext caller)
{
	MemoryContext cxt = MemoryContextSwitchTo(caller);

	MemoryContextDelete(cxt);
}

/* The module argument: NULL (all data), or a short identifier. */
static char *
ModuleArg(FunctionCallInfo fcinfo, int argno)
{
	const char *hint = "Pass a module LiveID+ documents (photo, formfilling), or NULL for all data.";
	char	   *module = liveid_text_arg(fcinfo, argno);
	size_t		len;

	if (module == NULL)
		return NULL;
	len = strlen(module);
	if (len == 0 || len > MAX_MODULE_LEN)
		liveid_arg_error("module", psprintf("It must be 1 to %d characters long.", MAX_MODULE_LEN),
						 hint);
	for (const char *p = module; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			liveid_arg_error("module", "It must be lower-case letters, digits and underscores.", hint);
	return module;
}

/* A copy of a jsonb document in another memory context. */
static Jsonb *
CopyJsonb(MemoryContext cxt, const Jsonb *doc)
{
	Jsonb	   *copy = MemoryContextAlloc(cxt, VARSIZE(doc));

	memcpy(copy, doc, VARSIZE(doc));
	return copy;
}

PG_FUNCTION_INFO_V1(liveid_conference_data);

/*
 * liveid.conference_data(id_conference, module): the data the service holds
 * of a conference (all modules when module is NULL): the answer object as
 * liveid-api.md documents it.
 */
Datum
liveid_conference_data(PG_FUNCTION_ARGS)
{
	MemoryContext caller = BeginCall();
	char	   *id = ConferenceArg(fcinfo, 0);
	char	   *module = ModuleArg(fcinfo, 1);
	LiveidRemoteContext ctx;
	JsonbContainer *answer;
	JsonbValue	v;
	Jsonb	   *doc;

	answer = SendWithToken(&ctx, "liveid.conference_data()", "GET", CONFERENCE_DATA_PATH, id,
						   module ? psprintf("&module=%s", module) : NULL,
						   "{\"success\": true, \"data\": {...}, ...}", &doc);
	CheckShape(answer, conference_data_shape, lengthof(conference_data_shape));
	if (Member(answer, "end_pattern", &v) && v.type == jbvString &&
		(v.val.string.len != 1 || strchr("NAKS", v.val.string.val[0]) == NULL))
		ShapeError("The member \"end_pattern\" is not one of N, A, K, S, or null.");
	liveid_remote_context_pop(&ctx);
	doc = CopyJsonb(caller, doc);
	EndCall(caller);
	PG_RETURN_JSONB_P(doc);
}

PG_FUNCTION_INFO_V1(liveid_audit_data);

/*
 * liveid.audit_data(id_conference): the audit trail of a conference, the
 * answer's "audit" array (an object per entry).
 */
Datum
liveid_audit_data(PG_FUNCTION_ARGS)
{
	MemoryContext caller = BeginCall();
	char	   *id = ConferenceArg(fcinfo, 0);
	LiveidRemoteContext ctx;
	JsonbContainer *answer,
			   *audit;
	JsonbValue	v;
	Jsonb	   *result;

	answer = SendWithToken(&ctx, "liveid.audit_data()", "GET", AUDIT_PATH, id, NULL,
						   "{\"success\": true, \"audit\": [...]}", NULL);
	CheckSuccess(answer);
	audit = liveid_member_array(answer, "audit");
	for (int i = 0; i < liveid_array_length(audit); i++)
		(void) liveid_element_object(audit, i, "an object per entry of \"audit\"");
	liveid_remote_context_pop(&ctx);

	/* the array's own bytes, as a jsonb of its own in the caller's context */
	(void) Member(answer, "audit", &v);
	result = CopyJsonb(caller, JsonbValueToJsonb(&v));
	EndCall(caller);
	PG_RETURN_JSONB_P(result);
}

PG_FUNCTION_INFO_V1(liveid_delete_audit_data);

/* liveid.delete_audit_data(id_conference): the service forgets the audit trail. */
Datum
liveid_delete_audit_data(PG_FUNCTION_ARGS)
{
	MemoryContext caller = BeginCall();
	char	   *id = ConferenceArg(fcinfo, 0);
	LiveidRemoteContext ctx;

	CheckSuccess(SendWithToken(&ctx, "liveid.delete_audit_data()", "DELETE", DELETE_AUDIT_PATH, id, NULL,
							   "{\"success\": true}", NULL));
	liveid_remote_context_pop(&ctx);
	EndCall(caller);
	PG_RETURN_VOID();
}

/* The reason argument: NULL (none given), or at most MAX_REASON_CHARS characters. */
static char *
ReasonArg(FunctionCallInfo fcinfo, int argno)
{
	char	   *reason = liveid_text_arg(fcinfo, argno);

	if (reason && pg_mbstrlen(reason) > MAX_REASON_CHARS)
		liveid_arg_error("reason",
						 psprintf("It is %d characters long; at most %d are allowed.",
								  pg_mbstrlen(reason), MAX_REASON_CHARS),
						 "Shorten the reason.");
	return reason;
}

PG_FUNCTION_INFO_V1(liveid_reject_call);

/*
 * liveid.reject_call(uid, reason): the service cancels a call nobody has
 * answered yet and its link stops working; the ledger row becomes
 * 'rejected'.  Everything that would keep the ledger from following is
 * raised before anything is sent, as for a start.
 */
Datum
liveid_reject_call(PG_FUNCTION_ARGS)
{
	const char *fn = "liveid.reject_call()";
	MemoryContext caller = BeginCall();
	char	   *uid = IdArg(fcinfo, 0, "uid", "Pass the uid of a call, as liveid.calls records it.");
	char	   *reason = ReasonArg(fcinfo, 1);
	const char *key;
	StringInfoData body;
	LiveidRemoteContext ctx;

	liveid_ledger_guard(fn);
	PreventCommandDuringRecovery(fn);
	PreventCommandIfReadOnly(fn);
	PreventCommandIfParallelMode(fn);
	/* 22023 for a liveid_user's other uids; the key of the call's organization */
	key = liveid_key_for(liveid_ledger_lookup(uid, fn));

	initStringInfo(&body);
	appendStringInfoString(&body, "{\"uId\":");
	escape_json(&body, uid);
	if (reason)
	{
		appendStringInfoString(&body, ",\"reason\":");
		escape_json(&body, reason);
	}
	appendStringInfoChar(&body, '}');
	CheckSuccess(Send(&ctx, "PATCH", REJECT_PATH, body.data, NULL, key,
					  "{\"success\": true}", NULL));
	liveid_remote_context_pop(&ctx);
	liveid_ledger_reject(uid);
	EndCall(caller);
	PG_RETURN_VOID();
}

/* The process argument, or liveid.process: a UUID, as text. */
static char *
AlertProcessArg(FunctionCallInfo fcinfo, int argno)
{
	const char *v;

	if (!PG_ARGISNULL(argno))
		return DatumGetCString(DirectFunctionCall1(uuid_out, PG_GETARG_DATUM(argno)));
	v = liveid_setting_or(NULL, liveid_process, "liveid.process", "process");
	if (!liveid_is_uuid(v))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("liveid.process is not a UUID: \"%s\"", v),
				 errhint("SET liveid.process to the process UUID Namirial issued.")));
	return pstrdup(v);
}

/* Raises the 22023 error of the n-th (1-based) address of emails. */
static void
pg_attribute_noreturn()
EmailError(int n, const char *detail)
{
	liveid_arg_error("emails", psprintf("Address %d %s", n, detail),
					 "Pass one or more e-mail addresses, one per argument.");
}

/*
 * The addresses of emails, checked (at least one, at most MAX_ALERT_EMAILS,
 * each an e-mail address without a comma), joined with commas.
 */
static char *
AlertEmailsArg(FunctionCallInfo fcinfo, int argno)
{
	ArrayType  *a;
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	StringInfoData joined;

	if (PG_ARGISNULL(argno))
		liveid_null_arg_error("emails", "Pass one or more e-mail addresses, one per argument.");
	a = PG_GETARG_ARRAYTYPE_P(argno);
	if (ARR_NDIM(a) > 1)
		liveid_arg_error("emails", "It must be a one-dimensional array.", NULL);
	deconstruct_array(a, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	if (n == 0 || n > MAX_ALERT_EMAILS)
		liveid_arg_error("emails",
						 psprintf("It has %d addresses; between 1 and %d are allowed.", n, MAX_ALERT_EMAILS),
						 "Pass one or more e-mail addresses, one per argument.");
	initStringInfo(&joined);
	for (int i = 0; i < n; i++)
	{
		char	   *e = nulls[i] ? NULL : TextDatumGetCString(elems[i]);

		if (e == NULL)
			EmailError(i + 1, "is null.");
		if (*e == '\0')
			EmailError(i + 1, "is empty.");
		if (strlen(e) > MAX_EMAIL_LEN)
			EmailError(i + 1, psprintf("is %zu bytes long; an address has at most %d.",
									   strlen(e), MAX_EMAIL_LEN));
		if (strchr(e, ',') != NULL)
			EmailError(i + 1, "holds a comma, which separates addresses in the request.");
		if (!liveid_is_email(e))
			EmailError(i + 1, psprintf("\"%s\" is not an e-mail address.", e));
		if (i > 0)
			appendStringInfoChar(&joined, ',');
		appendStringInfoString(&joined, e);
	}
	return joined.data;
}

PG_FUNCTION_INFO_V1(liveid_register_alert_email);

/*
 * liveid.register_alert_email(process, VARIADIC emails): the addresses the
 * service notifies when the server callbacks of a process fail; each
 * registration replaces the last.  Sent with the key of liveid.organization.
 */
Datum
liveid_register_alert_email(PG_FUNCTION_ARGS)
{
	MemoryContext caller = BeginCall();
	char	   *process = AlertProcessArg(fcinfo, 0);
	char	   *emails = AlertEmailsArg(fcinfo, 1);
	const char *key = liveid_key_for(NULL);
	StringInfoData body;
	LiveidRemoteContext ctx;

	initStringInfo(&body);
	appendStringInfoString(&body, "{\"processId\":");
	escape_json(&body, process);
	appendStringInfoString(&body, ",\"email\":");
	escape_json(&body, emails);
	appendStringInfoChar(&body, '}');
	CheckSuccess(Send(&ctx, "POST", ALERT_PATH, body.data, NULL, key,
					  "{\"success\": true}", NULL));
	liveid_remote_context_pop(&ctx);
	EndCall(caller);
	PG_RETURN_VOID();
}
