/*-------------------------------------------------------------------------
 *
 * utility.c
 *		liveid.request() and the utility APIs as set-returning functions.
 *
 * Each function makes one HTTP call in a short-lived memory context, reads
 * the answer's documented shape (liveid-api.md, "Utility APIs") here and
 * nowhere else, with json.c's typed members of the parsed jsonb, and fills
 * a tuplestore (materialize mode).  The context is a child of the caller's,
 * so an ERROR frees it with the rest.  From the request to the end of
 * reading its answer, http.c's error-context callback names the call
 * ("LiveID+ POST /path"): neither http.c's errors nor the accessors add one
 * of their own.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "fmgr.h"
#include "funcapi.h"
#include "datatype/timestamp.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"
#include "utils/uuid.h"

/*
 * One remote call to an endpoint and its parsed answer, in a short-lived
 * memory context; from its request to the end of reading its answer every
 * error names it ("LiveID+ POST /path").
 */
typedef struct RemoteCall
{
	MemoryContext cxt;
	MemoryContext old;
	JsonbContainer *answer;
	LiveidRemoteContext context;
} RemoteCall;

/* Starts a remote call: its memory context and its error context. */
static void
RemoteBegin(RemoteCall *c, const char *method, const char *path)
{
	c->cxt = AllocSetContextCreate(CurrentMemoryContext, "liveid call",
								   ALLOCSET_DEFAULT_SIZES);
	c->old = MemoryContextSwitchTo(c->cxt);
	liveid_remote_context_push(&c->context, method, path);
}

/* Ends it: everything of the call is freed. */
static void
RemoteEnd(RemoteCall *c)
{
	liveid_remote_context_pop(&c->context);
	MemoryContextSwitchTo(c->old);
	MemoryContextDelete(c->cxt);
}

/*
 * POSTs a JSON body with org's key (NULL: the default organization's) and
 * parses the answer as an object (in c's context).
 */
static void
RemotePost(RemoteCall *c, const char *org, const char *path, const char *body,
		   const char *what)
{
	const char *key = liveid_key_for(org);	/* 22023 before anything is sent */
	LiveidResponse *r;

	RemoteBegin(c, "POST", path);
	r = liveid_http("POST", path, body, NULL, key);
	c->answer = liveid_answer_object(liveid_answer_parse(r->body, r->len), what);
}

/* The organization argument (text, may be NULL) or liveid.organization. */
static const char *
OrganizationArg(FunctionCallInfo fcinfo, int argno)
{
	return liveid_setting_or(PG_ARGISNULL(argno) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(argno)),
							 liveid_organization, "liveid.organization", "organization");
}

/*
 * liveid.process, checked as a UUID (22023 saying which setting is wrong);
 * NULL when it is not set, unless required (then 22023 with a hint).
 */
char *
liveid_process_setting(bool required)
{
	const char *v;
	bool		ok;

	if (!required && (liveid_process == NULL || *liveid_process == '\0'))
		return NULL;
	v = liveid_setting_or(NULL, liveid_process, "liveid.process", "process");
	ok = strlen(v) == 36;
	for (int i = 0; ok && i < 36; i++)
	{
		if (i == 8 || i == 13 || i == 18 || i == 23)
			ok = v[i] == '-';
		else
			ok = isxdigit((unsigned char) v[i]);
	}
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("liveid.process is not a UUID: \"%s\"", v),
				 errhint("SET liveid.process to the process UUID Namirial issued.")));
	return pstrdup(v);
}

/* The process argument (uuid, may be NULL) or liveid.process, as text. */
static char *
ProcessArg(FunctionCallInfo fcinfo, int argno)
{
	if (!PG_ARGISNULL(argno))
		return DatumGetCString(DirectFunctionCall1(uuid_out, PG_GETARG_DATUM(argno)));
	return liveid_process_setting(true);
}

/* {"<key>": "<value>"} with the value JSON-escaped. */
char *
liveid_one_member_body(const char *key, const char *value)
{
	StringInfoData b;

	initStringInfo(&b);
	appendStringInfoChar(&b, '{');
	escape_json(&b, key);
	appendStringInfoChar(&b, ':');
	escape_json(&b, value);
	appendStringInfoChar(&b, '}');
	return b.data;
}

PG_FUNCTION_INFO_V1(liveid_request);

/*
 * liveid.request(method, path, body): one authenticated call, its JSON
 * answer as jsonb (NULL for an empty answer), parsed straight into the
 * function's memory context.
 */
Datum
liveid_request(PG_FUNCTION_ARGS)
{
	static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
	char	   *method,
			   *path,
			   *body = NULL;
	bool		known = false;
	const char *key;
	RemoteCall	c;
	LiveidResponse *r;
	Jsonb	   *result = NULL;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must not be NULL", PG_ARGISNULL(0) ? "method" : "path")));
	method = text_to_cstring(PG_GETARG_TEXT_PP(0));
	path = text_to_cstring(PG_GETARG_TEXT_PP(1));
	for (int i = 0; i < lengthof(methods); i++)
		known |= (pg_strcasecmp(method, methods[i]) == 0);
	if (!known)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unsupported HTTP method \"%s\"", method),
				 errhint("Use GET, POST, PUT, PATCH or DELETE.")));
	for (char *p = method; *p; p++)
		*p = pg_toupper((unsigned char) *p);
	liveid_check_path(path);
	if (!PG_ARGISNULL(2))
	{
		Jsonb	   *jb = PG_GETARG_JSONB_P(2);

		body = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	}

	/* the default organization's key */
	key = liveid_key_for(NULL);
	RemoteBegin(&c, method, path);
	r = liveid_http(method, path, body, NULL, key);
	/* the result outlives the call's context */
	MemoryContextSwitchTo(c.old);
	result = liveid_answer_parse(r->body, r->len);
	MemoryContextSwitchTo(c.cxt);
	RemoteEnd(&c);
	if (result == NULL)
		PG_RETURN_NULL();
	PG_RETURN_JSONB_P(result);
}

/* Puts one row into the materialized result. */
static void
PutRow(FunctionCallInfo fcinfo, Datum *values, bool *nulls)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/*
 * The answer of a utility API that is one integer member (shape
 * {"member": n}), read as its SQL function reads it: 58000 otherwise.
 */
int32
liveid_integer_answer(const LiveidResponse *r, const char *member)
{
	char		shape[64];

	snprintf(shape, sizeof(shape), "{\"%s\": n}", member);
	return liveid_member_int(liveid_answer_object(liveid_answer_parse(r->body, r->len), shape),
							 member);
}

/*
 * The utility APIs whose answer is one integer member: one row of the
 * subject (organization or process, made by the caller) and that integer;
 * org's key is sent (NULL: the default organization's).
 */
static Datum
IntegerRow(FunctionCallInfo fcinfo, const char *org, const char *path,
		   const char *body, const char *member, Datum subject)
{
	const char *key = liveid_key_for(org);	/* 22023 before anything is sent */
	RemoteCall	c;
	LiveidResponse *r;
	Datum		values[2];
	bool		nulls[2] = {false, false};

	RemoteBegin(&c, "POST", path);
	r = liveid_http("POST", path, body, NULL, key);
	values[0] = subject;
	values[1] = Int32GetDatum(liveid_integer_answer(r, member));
	PutRow(fcinfo, values, nulls);
	RemoteEnd(&c);
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(liveid_available_operators);

/* liveid.available_operators(organization): one row. */
Datum
liveid_available_operators(PG_FUNCTION_ARGS)
{
	const char *org;

	InitMaterializedSRF(fcinfo, 0);
	org = OrganizationArg(fcinfo, 0);
	return IntegerRow(fcinfo, org, LIVEID_PATH_OPERATORS,
					  liveid_one_member_body("orgCode", org), "availableOperators",
					  CStringGetTextDatum(org));
}

PG_FUNCTION_INFO_V1(liveid_queue);

/* liveid.queue(process): one row. */
Datum
liveid_queue(PG_FUNCTION_ARGS)
{
	char	   *process;

	InitMaterializedSRF(fcinfo, 0);
	process = ProcessArg(fcinfo, 0);
	/* a process has no organization here: the default one's key */
	return IntegerRow(fcinfo, NULL, LIVEID_PATH_QUEUE,
					  liveid_one_member_body("id_process", process), "queue",
					  DirectFunctionCall1(uuid_in, CStringGetDatum(process)));
}

PG_FUNCTION_INFO_V1(liveid_available_languages);

/* liveid.available_languages(organization): one row per language. */
Datum
liveid_available_languages(PG_FUNCTION_ARGS)
{
	const char *org;
	RemoteCall	c;
	JsonbContainer *langs;
	int			n;
	Datum		values[2];
	bool		nulls[2] = {false, false};
	char	  **codes;

	InitMaterializedSRF(fcinfo, 0);
	org = OrganizationArg(fcinfo, 0);
	RemotePost(&c, org, "/api/service/availableLanguages", liveid_one_member_body("orgCode", org),
			 "{\"languages\": [...]}");
	langs = liveid_member_array(c.answer, "languages");
	n = liveid_array_length(langs);
	codes = palloc(sizeof(char *) * Max(n, 1));
	for (int i = 0; i < n; i++)
		codes[i] = liveid_element_string(langs, i, "\"languages\"");
	MemoryContextSwitchTo(c.old);
	values[0] = CStringGetTextDatum(org);
	for (int i = 0; i < n; i++)
	{
		values[1] = CStringGetTextDatum(codes[i]);
		PutRow(fcinfo, values, nulls);
	}
	MemoryContextSwitchTo(c.cxt);
	RemoteEnd(&c);
	return (Datum) 0;
}

/* A "YYYY-MM-DD" date of an answer as the timestamptz of its UTC midnight. */
static TimestampTz
DayStart(const char *s)
{
	int			y,
				m,
				d,
				n = 0;

	if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 || s[10] != '\0' ||
		m < 1 || m > 12 || d < 1 || d > day_tab[isleap(y)][m - 1] || !IS_VALID_JULIAN(y, m, d))
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("LiveID+ answer does not have the expected shape"),
				 errdetail_internal("The member \"date\" is not a date (YYYY-MM-DD): \"%s\".", s)));
	return (TimestampTz) (date2j(y, m, d) - POSTGRES_EPOCH_JDATE) * USECS_PER_DAY;
}

/* An interval of (fractional) seconds. */
static Interval *
SecondsInterval(double seconds)
{
	Interval   *iv = palloc0(sizeof(Interval));

	if (seconds < 0 || seconds > 1e9)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("LiveID+ answer does not have the expected shape"),
				 errdetail_internal("The member \"averageWaitingSeconds\" is out of range: %g.", seconds)));
	iv->time = (TimeOffset) rint(seconds * USECS_PER_SEC);
	return iv;
}

/* One period of waiting times from a {averageWaitingSeconds, calls} object. */
static void
ReadWaiting(JsonbContainer *o, TimestampTz from, TimestampTz to, LiveidWaiting *w)
{
	double		avg = liveid_member_number(o, "averageWaitingSeconds");

	w->calls = liveid_member_int(o, "calls");
	w->average_wait = SecondsInterval(avg);
	w->from = from;
	w->to = to;
}

/*
 * getDailyWaitingTimes' answer, read as daily_waiting_times reads it: a
 * period per day of the last week ([day, day + 1) in UTC), then the last
 * 60 minutes ([answered_at - 1h, answered_at)), into *rows (palloc'd);
 * returns how many (the last is the 60 minutes).  58000 for another shape.
 */
int
liveid_waiting_answer(const LiveidResponse *r, TimestampTz answered_at,
					  LiveidWaiting **rows)
{
	JsonbContainer *answer;
	JsonbContainer *week;
	int			n;

	answer = liveid_answer_object(liveid_answer_parse(r->body, r->len),
								  "{\"lastWeek\": [...], \"last60Minutes\": {...}}");
	week = liveid_member_array(answer, "lastWeek");
	n = liveid_array_length(week);
	*rows = palloc(sizeof(LiveidWaiting) * (n + 1));
	for (int i = 0; i < n; i++)
	{
		JsonbContainer *day = liveid_element_object(week, i, "an object per day in \"lastWeek\"");
		TimestampTz from = DayStart(liveid_member_string(day, "date"));

		ReadWaiting(day, from, from + USECS_PER_DAY, &(*rows)[i]);
	}
	ReadWaiting(liveid_member_object(answer, "last60Minutes"),
				answered_at - USECS_PER_HOUR, answered_at, &(*rows)[n]);
	return n + 1;
}

PG_FUNCTION_INFO_V1(liveid_daily_waiting_times);

/*
 * liveid.daily_waiting_times(organization): a row per day of the last week
 * ([day, day + 1) in UTC) and one for the last 60 minutes ([now - 1h, now),
 * now being when the answer arrived).
 */
Datum
liveid_daily_waiting_times(PG_FUNCTION_ARGS)
{
	const char *org;
	const char *key;
	RemoteCall	c;
	LiveidResponse *r;
	LiveidWaiting *rows;
	int			n;

	InitMaterializedSRF(fcinfo, 0);
	org = OrganizationArg(fcinfo, 0);
	key = liveid_key_for(org);	/* 22023 before anything is sent */
	RemoteBegin(&c, "POST", LIVEID_PATH_WAITING);
	r = liveid_http("POST", LIVEID_PATH_WAITING, liveid_one_member_body("orgCode", org),
					NULL, key);
	n = liveid_waiting_answer(r, GetCurrentTimestamp(), &rows);
	MemoryContextSwitchTo(c.old);
	for (int i = 0; i < n; i++)
	{
		Datum		values[5];
		bool		nulls[5] = {false, false, false, false, false};

		values[0] = CStringGetTextDatum(org);
		values[1] = TimestampTzGetDatum(rows[i].from);
		values[2] = TimestampTzGetDatum(rows[i].to);
		values[3] = IntervalPGetDatum(rows[i].average_wait);
		values[4] = Int32GetDatum(rows[i].calls);
		PutRow(fcinfo, values, nulls);
	}
	MemoryContextSwitchTo(c.cxt);
	RemoteEnd(&c);
	return (Datum) 0;
}
