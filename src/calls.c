/*-------------------------------------------------------------------------
 *
 * calls.c
 *		Following calls after their start: liveid.async_request_info().
 *
 * A call's outcome comes from the service (getAsyncRequestInfo), and the
 * ledger row follows what it says about the latest conference.  Who may ask
 * is decided by the ledger before anything is sent: a liveid_user only
 * about the calls it started (row-level security on liveid.calls),
 * liveid_admin about any.  Everything in the answer is checked before it
 * reaches a row: statuses and close statuses are those of liveid-api.md,
 * times ISO 8601.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#define INFO_PATH "/api/v2/getAsyncRequestInfo"

/* the statuses of liveid-api.md, and the close statuses */
static const char *const conference_statuses[] = {
	"waiting", "answered", "closed", "cancelled", "expired"
};
static const char *const close_statuses[] = {"N", "S", "A", "K"};

/*
 * An ISO 8601 time of an answer: YYYY-MM-DDTHH:MM[:SS[.f...]] then Z or
 * +HH[:MM] / -HH[:MM]; 58000 naming the member otherwise.  Each part is
 * read only after the one before it matched, so p never passes the end.
 */
static TimestampTz
AnswerTime(const char *s, const char *member)
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
									member, s)));
	return result;
}

/* True when s is one of the n words. */
static bool
OneOf(const char *s, const char *const *words, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(s, words[i]) == 0)
			return true;
	return false;
}

/* Raises the 58000 error of a member whose value is not one the API knows. */
static void
pg_attribute_noreturn()
UnknownValue(const char *member, const char *value)
{
	ereport(ERROR,
			(errcode(ERRCODE_SYSTEM_ERROR),
			 errmsg("LiveID+ answer does not have the expected shape"),
			 errdetail_internal("The member \"%s\" has a value LiveID+ does not document: \"%.40s\".",
								member, value)));
}

/* One conference of getAsyncRequestInfo's answer, checked. */
static void
ReadConference(JsonbContainer *item, LiveidConference *c)
{
	char	   *end;

	c->id_conference = liveid_member_string(item, "idConference");
	c->status = liveid_member_string(item, "status");
	if (!OneOf(c->status, conference_statuses, lengthof(conference_statuses)))
		UnknownValue("status", c->status);
	c->close_status = liveid_member_string_or_null(item, "closeStatus");
	if (c->close_status && !OneOf(c->close_status, close_statuses, lengthof(close_statuses)))
		UnknownValue("closeStatus", c->close_status);
	c->started_at = AnswerTime(liveid_member_string(item, "startDate"), "startDate");
	end = liveid_member_string_or_null(item, "endDate");
	c->ended = (end != NULL);
	if (end)
		c->ended_at = AnswerTime(end, "endDate");
}

/* Puts the conferences of a call into the materialized result. */
static void
PutConferences(FunctionCallInfo fcinfo, const char *uid, const LiveidConference *rows, int n)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;

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
}

/* The path of getAsyncRequestInfo for uid. */
char *
liveid_info_path(const char *uid)
{
	return psprintf("%s?uId=%s", INFO_PATH, liveid_url_encode(uid));
}

/*
 * getAsyncRequestInfo's answer r, checked, into info: every conference and
 * the latest of them (the last started, the later one on a tie; -1 when
 * the customer has not opened the link yet).  58000 for another shape.
 */
void
liveid_info_read(const LiveidResponse *r, LiveidCallInfo *info)
{
	JsonbContainer *answer,
			   *calls;
	int			n;

	answer = liveid_answer_object(liveid_answer_parse(r->body, r->len), "{\"calls\": [...]}");
	calls = liveid_member_array(answer, "calls");
	n = liveid_array_length(calls);
	info->conferences = palloc0(sizeof(LiveidConference) * Max(n, 1));
	info->n = n;
	info->latest = -1;
	for (int i = 0; i < n; i++)
	{
		LiveidConference *c = &info->conferences[i];

		ReadConference(liveid_element_object(calls, i, "an object per call in \"calls\""), c);
		if (info->latest < 0 || c->started_at >= info->conferences[info->latest].started_at)
			info->latest = i;
	}
}

/* The uid argument: 1 to LIVEID_MAX_UID_LEN characters (22023 otherwise). */
char *
liveid_uid_arg(FunctionCallInfo fcinfo, int argno)
{
	char	   *uid;
	size_t		len;

	if (PG_ARGISNULL(argno))
		liveid_null_arg_error("uid", "Pass the uid of a call, as liveid.calls records it.");
	uid = text_to_cstring(PG_GETARG_TEXT_PP(argno));
	len = strlen(uid);
	if (len == 0 || len > LIVEID_MAX_UID_LEN)
		liveid_arg_error("uid",
						 len == 0 ? "It must not be empty." :
						 psprintf("It is %zu bytes long; a uid has at most %d.", len, LIVEID_MAX_UID_LEN),
						 "Pass the uid of a call, as liveid.calls records it.");
	return uid;
}

PG_FUNCTION_INFO_V1(liveid_async_request_info);

/*
 * liveid.async_request_info(uid): one row per conference of a call (none
 * before the customer opens the link), and the ledger row brought up to
 * date with the latest of them.
 */
Datum
liveid_async_request_info(PG_FUNCTION_ARGS)
{
	MemoryContext cxt,
				old;
	char	   *uid;
	char	   *path;
	const char *key;
	LiveidCallInfo info;
	bool		write_ledger;
	LiveidRemoteContext remote;

	InitMaterializedSRF(fcinfo, 0);
	cxt = AllocSetContextCreate(CurrentMemoryContext, "liveid async_request_info",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	uid = liveid_uid_arg(fcinfo, 0);

	/*
	 * Everything local first: who may ask about this call, and whether the
	 * ledger can follow.  In a read-only transaction (a standby, SET
	 * TRANSACTION READ ONLY) the answer is still returned, the ledger left
	 * as it is; a parallel worker could not write it, so it is refused.
	 */
	/* the key of the call's organization (NULL for an admin: the default) */
	key = liveid_key_for(liveid_ledger_lookup(uid, "liveid.async_request_info()"));
	PreventCommandIfParallelMode("liveid.async_request_info()");
	write_ledger = !XactReadOnly;

	path = liveid_info_path(uid);
	liveid_remote_context_push(&remote, "GET", path);
	liveid_info_read(liveid_http("GET", path, NULL, NULL, key), &info);
	liveid_remote_context_pop(&remote);

	/* the tuplestore copies the rows; cxt goes with everything else */
	PutConferences(fcinfo, uid, info.conferences, info.n);
	if (write_ledger)
		(void) liveid_ledger_follow(uid, &info);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	return (Datum) 0;
}
