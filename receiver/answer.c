/*-------------------------------------------------------------------------
 *
 * answer.c
 *		Which HTTP status answers an outcome of receive_callback, and the
 *		fixed texts of the answers.
 *
 * LiveID+ retries a callback on anything but a 2xx, so a 4xx says "this
 * will never be taken" (a wrong token, a body that is not a callback) and a
 * 5xx "try again": 503 while the database cannot take it (unreachable,
 * read-only, shutting down, out of connections), 500 for any other
 * failure.  A broken connection of the receiver's own has no SQLSTATE (it
 * is CALL_UNREACHABLE); a class 08 SQLSTATE in a result was raised by the
 * function (the service could not be reached to confirm an outcome), and
 * is one of those other failures.  The texts are fixed: nothing of the body, the token or the
 * server's message reaches the client.
 *
 *-------------------------------------------------------------------------
 */
#include "receiver.h"

#include <stdio.h>
#include <string.h>

/* SQLSTATEs (a class when two characters long) and their status, in order */
typedef struct StateRule
{
	const char *state;
	int			status;
} StateRule;

static const StateRule state_rules[] = {
	{"28", 403},				/* invalid_authorization_specification */
	{"22", 400},				/* data_exception: not a callback, bad JSON */
	{"25006", 503},				/* read_only_sql_transaction: a standby */
	{"57P01", 503},				/* admin_shutdown */
	{"57P02", 503},				/* crash_shutdown */
	{"57P03", 503},				/* cannot_connect_now */
	{"53300", 503},				/* too_many_connections */
	{NULL, 0}
};

/* The HTTP status that answers res. */
int
answer_status(const CallResult *res)
{
	switch (res->kind)
	{
		case CALL_OK:
			return 200;
		case CALL_UNREACHABLE:
		case CALL_TIMEOUT:
		case CALL_BUSY:
			return 503;
		case CALL_BAD_ANSWER:
			return 500;
		case CALL_ERROR:
			break;
	}
	for (const StateRule *r = state_rules; r->state; r++)
		if (strncmp(res->sqlstate, r->state, strlen(r->state)) == 0)
			return r->status;
	return 500;
}

/* The fixed "error" text of an answer with that status. */
const char *
answer_text(int status)
{
	switch (status)
	{
		case 400:
			return "the body is not a LiveID+ callback";
		case 403:
			return "the callback's token is not valid";
		case 404:
			return "not found";
		case 405:
			return "method not allowed: use POST";
		case 413:
			return "the body is too large";
		case 503:
			return "the database is unavailable; retry later";
		default:
			return "internal error; retry later";
	}
}

/* The log's detail of res: event=N, sqlstate=XXXXX or reason=word. */
void
answer_detail(const CallResult *res, char *dst, size_t dstlen)
{
	static const char *const reasons[] = {
		[CALL_UNREACHABLE] = "database-unreachable",
		[CALL_TIMEOUT] = "query-timeout",
		[CALL_BUSY] = "no-free-connection",
		[CALL_BAD_ANSWER] = "bad-answer",
	};

	if (res->kind == CALL_OK)
		snprintf(dst, dstlen, "event=%lld", res->event_id);
	else if (res->kind == CALL_ERROR)
		snprintf(dst, dstlen, "sqlstate=%s", res->sqlstate);
	else
		snprintf(dst, dstlen, "reason=%s", reasons[res->kind]);
}
