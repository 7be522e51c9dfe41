/*-------------------------------------------------------------------------
 *
 * refresh.c
 *		Keeping the ledger up to date: liveid.refresh_calls(), meant to run
 *		from pg_cron (liveid.schedule_refresh()).
 *
 * Every call that is not final (created, waiting, answered) is asked about
 * with getAsyncRequestInfo, oldest first, with up to liveid.max_concurrency
 * requests in flight at once (liveid_http_batch), each with the key of the
 * call's organization, and its row follows the answer
 * (liveid_ledger_follow, as the ledger's owner).
 *
 * Who may refresh what.  The calls are chosen as the caller, under
 * row-level security: a liveid_user refreshes only the calls it started,
 * liveid_admin all of them.  Everything that can fail locally fails before
 * anything is sent: the arguments, a read-only transaction or a hot standby
 * (25006), parallel mode (25000), a call from inside a ledger write (55000),
 * an organization without a key (22023).
 *
 * Failures.  One request failing (the transport, an HTTP error, an answer
 * too large or not of the documented shape) is a WARNING naming the call,
 * with the SQLSTATE and message liveid.async_request_info() would raise,
 * and the other rows are still updated.  Only when every request failed is
 * it an ERROR (with the first failure's SQLSTATE), so that a pg_cron run
 * against a service that is down fails visibly in cron.job_run_details.
 * An answer of the wrong shape is caught without a subtransaction: reading
 * it only computes and allocates (no locks, buffers or catalog scans are
 * held across its checks), and only its own 58000 errors are caught;
 * anything else (a cancel, out of memory) propagates.  What only the row
 * itself can tell (an owner's constraint or trigger refusing it) stops the
 * whole refresh, as it stops async_request_info.
 *
 * Memory.  Each answer lives in the batch's slot until its row is written;
 * what reading and writing it allocates goes into a context reset after
 * each call, so a refresh of many calls stays small.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/memutils.h"

#define MAX_CALLS 100000		/* max_calls' upper bound */

/* what one refresh counts, and the failure it reports if all fail */
typedef struct Refresh
{
	MemoryContext cxt;			/* the refresh's: the first failure */
	MemoryContext call_cxt;		/* one call's, reset after each */
	int			changed;
	int			failed;
	char	   *first_uid;
	LiveidFailure first;
} Refresh;

/* The max_calls argument: 1 to MAX_CALLS (22023 otherwise). */
static int
MaxCallsArg(FunctionCallInfo fcinfo)
{
	int32		n;

	if (PG_ARGISNULL(0))
		liveid_null_arg_error("max_calls",
							  "Pass how many calls to refresh at most, or leave it out for 1000.");
	n = PG_GETARG_INT32(0);
	if (n <= 0 || n > MAX_CALLS)
		liveid_arg_error("max_calls",
						 psprintf("It is %d; it must be from 1 to %d.", n, MAX_CALLS),
						 "Pass a positive number of calls; the oldest are refreshed first.");
	return n;
}

/*
 * Reads getAsyncRequestInfo's answer into info; false with f filled in
 * when it is not of the documented shape (see the file header).
 */
static bool
ReadInfo(const LiveidResponse *resp, LiveidCallInfo *info, LiveidFailure *f)
{
	MemoryContext cxt = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		liveid_info_read(resp, info);
	}
	PG_CATCH();
	{
		ErrorData  *e;

		MemoryContextSwitchTo(cxt);
		e = CopyErrorData();
		if (e->sqlerrcode != ERRCODE_SYSTEM_ERROR)
			PG_RE_THROW();
		FlushErrorState();
		f->sqlerrcode = e->sqlerrcode;
		f->message = e->message;
		f->detail = e->detail;
		f->hint = e->hint;
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/* Warns of one call that could not be refreshed, and keeps the first. */
static void
NoteFailure(Refresh *r, const LiveidBatchItem *item, const LiveidFailure *f)
{
	const LiveidPendingCall *call = item->arg;
	LiveidRemoteContext remote;
	MemoryContext old;

	liveid_remote_context_push(&remote, item->method, item->path);
	ereport(WARNING,
			(errcode(f->sqlerrcode),
			 errmsg("could not refresh call \"%s\": %s", call->uid, f->message),
			 f->detail ? errdetail_internal("%s", f->detail) : 0,
			 f->hint ? errhint("%s", f->hint) : 0));
	liveid_remote_context_pop(&remote);
	if (r->failed++ > 0)
		return;
	old = MemoryContextSwitchTo(r->cxt);
	r->first_uid = pstrdup(call->uid);
	r->first.sqlerrcode = f->sqlerrcode;
	r->first.message = pstrdup(f->message);
	r->first.detail = f->detail ? pstrdup(f->detail) : NULL;
	r->first.hint = f->hint ? pstrdup(f->hint) : NULL;
	MemoryContextSwitchTo(old);
}

/* The batch's done callback: one call's answer into its ledger row. */
static void
RefreshOne(LiveidBatchItem *item, void *arg)
{
	Refresh    *r = arg;
	const LiveidPendingCall *call = item->arg;
	MemoryContext old = MemoryContextSwitchTo(r->call_cxt);
	LiveidCallInfo info;
	LiveidFailure shape;

	if (item->failure)
		NoteFailure(r, item, item->failure);
	else if (!ReadInfo(item->response, &info, &shape))
		NoteFailure(r, item, &shape);
	else if (liveid_ledger_follow(call->uid, &info))
		r->changed++;
	MemoryContextSwitchTo(old);
	MemoryContextReset(r->call_cxt);
}

/* Raises the ERROR of a refresh whose every request failed. */
static void
pg_attribute_noreturn()
AllFailed(const Refresh *r, int n)
{
	ereport(ERROR,
			(errcode(r->first.sqlerrcode),
			 errmsg("could not refresh any of the %d calls", n),
			 errdetail_internal("The first failure, for call \"%s\": %s%s%s", r->first_uid,
								r->first.message, r->first.detail ? ": " : "",
								r->first.detail ? r->first.detail : ""),
			 r->first.hint ? errhint("%s", r->first.hint) : 0));
}

PG_FUNCTION_INFO_V1(liveid_refresh_calls);

/*
 * liveid.refresh_calls(max_calls): brings up to max_calls calls that are not
 * final up to date, oldest first; returns the number of rows that changed.
 */
Datum
liveid_refresh_calls(PG_FUNCTION_ARGS)
{
	const char *what = "liveid.refresh_calls()";
	int			max_calls = MaxCallsArg(fcinfo);
	MemoryContext old;
	LiveidPendingCall *calls;
	LiveidBatchItem *items;
	Refresh		r = {0};
	int			n;

	liveid_ledger_guard(what);
	PreventCommandDuringRecovery(what);
	PreventCommandIfReadOnly(what);
	PreventCommandIfParallelMode(what);

	r.cxt = AllocSetContextCreate(CurrentMemoryContext, "liveid refresh_calls",
								  ALLOCSET_DEFAULT_SIZES);
	r.call_cxt = AllocSetContextCreate(r.cxt, "liveid refresh_calls call",
									   ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(r.cxt);
	/* as the caller: row-level security decides which calls */
	n = liveid_ledger_pending(max_calls, &calls);
	items = palloc0(sizeof(LiveidBatchItem) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		items[i].method = "GET";
		items[i].path = liveid_info_path(calls[i].uid);
		items[i].key = liveid_key_for(calls[i].organization);
		items[i].arg = &calls[i];
	}
	liveid_http_batch(items, n, liveid_max_concurrency, RefreshOne, &r);
	if (n > 0 && r.failed == n)
		AllFailed(&r, n);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(r.cxt);
	PG_RETURN_INT32(r.changed);
}
