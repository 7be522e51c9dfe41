/*-------------------------------------------------------------------------
 *
 * worker.c
 *		The background worker: sends the outbox of liveid.worker_database
 *		after commit, and rejects the calls of rolled-back transactions.
 *
 * Registered by _PG_init when liveid is preloaded and
 * liveid.worker_database is set; started once recovery has finished, so
 * a hot standby never runs it (a promoted one starts it), restarted
 * LIVEID_WORKER_RESTART seconds after it dies.  It connects as the
 * bootstrap superuser and writes liveid's tables as their owner in a
 * restricted operation, as every backend does (ledger.c): no role's code
 * runs with its rights.
 *
 * The requests are a stream (liveid_http_stream, one curl multi handle),
 * up to liveid.max_concurrency in flight.  Each time some end, the refill
 * runs one transaction, while the others stay in flight:
 *   1. record what ended: the accepted starts' ledger rows in one
 *      subtransaction (a few statements for all); if that fails, each in
 *      a subtransaction of its own, so that a row an owner's trigger
 *      refuses fails alone (the call the service started for it is then
 *      rejected); retries and failures each in their own;
 *   2. take the rejections that are due (handoff.c) and claim as many
 *      starts as slots are free (outbox.c), marked sending; commit; they
 *      are sent as the refill returns.
 * A start is thus sent only after the starts that ended before it are
 * recorded: never more than liveid.max_concurrency are sent and not
 * recorded, which bounds what a crash can send twice.  The stream ends
 * when nothing is due and nothing is in flight.  With nothing to send it sleeps on its latch until the earliest retry is
 * due, or until a commit that enqueued starts, or a rollback that handed
 * over calls, sets the latch: there is no polling of the outbox.  Only
 * while the extension is not installed in its database does it look again
 * every LIVEID_WORKER_INSTALL_CHECK seconds, since nothing announces a
 * CREATE EXTENSION or a restore of queued starts.
 *
 * Retries.  A transport failure or a 5xx is retried after
 * liveid.outbox_retry_delay * 2^(attempts - 1) (at most an hour), with
 * jitter (a half to the whole of it), until liveid.outbox_max_attempts;
 * then, as at once for any other answer (a 4xx, a redirect, an answer too
 * large or of another shape), the start fails with last_error.
 *
 * Stopping.  SIGTERM lets the requests in flight finish (within
 * liveid.timeout), records them and exits: a clean stop sends nothing
 * twice.  It exits with status 1, so that after a SIGTERM outside a
 * shutdown (pg_terminate_backend) the postmaster starts it again.  What a
 * crash leaves sending (at most liveid.max_concurrency starts) is sent
 * again by the next worker; the first request of such a start may have
 * reached the service, whose request then nobody is told of: it expires.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include <limits.h>
#include <math.h>

#include "access/xact.h"
#include "common/pg_prng.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#define LIVEID_WORKER_RESTART 5	/* s after it dies */
#define LIVEID_WORKER_INSTALL_CHECK 10	/* s between looks for the extension */
#define REJECT_PATH "/api/v2/rejectCall"
#define MAX_BACKOFF_MS (3600 * 1000)

/* the requests claimed in one refill, their memory freed once all are recorded */
typedef struct Wave
{
	MemoryContext cxt;			/* holds the wave itself, its items and results */
	int			left;			/* items not recorded yet */
} Wave;

/* one request: a start or a rejection, and how it ended */
typedef struct RoundItem
{
	Wave	   *wave;
	LiveidOutboxStart *start;	/* or NULL */
	LiveidReject *reject;		/* or NULL */
	bool		ok;				/* the service accepted it */
	char	   *answer;			/* its 2xx answer, when ok */
	size_t		answer_len;
	bool		retryable;
	char	   *error;			/* when not ok */
	TimestampTz ended_at;
} RoundItem;

static volatile sig_atomic_t got_sigterm = false;
static MemoryContext worker_cxt = NULL;
/* requests that ended and are not recorded yet */
static RoundItem **finished = NULL;
static int	nfinished = 0;
static int	finished_cap = 0;
static bool requeued = false;	/* the outbox's leftovers were put back */
static bool stream_installed;	/* the extension was there when the stream began */
static bool stream_looked = false;	/* ... once per stream */

static void
HandleSigterm(SIGNAL_ARGS)
{
	int			save_errno = errno;

	got_sigterm = true;
	SetLatch(MyLatch);
	errno = save_errno;
}

/* From _PG_init, while shared_preload_libraries is processed. */
void
liveid_worker_register(void)
{
	BackgroundWorker w;

	if (liveid_worker_database == NULL || liveid_worker_database[0] == '\0')
		return;
	memset(&w, 0, sizeof(w));
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = LIVEID_WORKER_RESTART;
	strlcpy(w.bgw_library_name, "liveid", BGW_MAXLEN);
	strlcpy(w.bgw_function_name, "liveid_worker_main", BGW_MAXLEN);
	snprintf(w.bgw_name, BGW_MAXLEN, "liveid worker for database %s", liveid_worker_database);
	strlcpy(w.bgw_type, "liveid worker", BGW_MAXLEN);
	RegisterBackgroundWorker(&w);
}

/* The back-off before attempt attempts + 1, with jitter. */
static TimestampTz
RetryAt(TimestampTz now, int attempts)
{
	double		ms = (double) liveid_outbox_retry_delay * pow(2.0, Min(attempts - 1, 30));

	ms = Min(ms, (double) MAX_BACKOFF_MS);
	ms *= 0.5 + 0.5 * pg_prng_double(&pg_global_prng_state);
	return TimestampTzPlusMilliseconds(now, (int64) ms);
}

/* "message: detail" of an error, for last_error and the log. */
static char *
ErrorText(const char *message, const char *detail)
{
	return detail ? psprintf("%s: %s", message, detail) : pstrdup(message);
}

/* The current error as ErrorText, the error state flushed; in cxt. */
static char *
CaughtError(MemoryContext cxt)
{
	ErrorData  *e;
	char	   *text;

	MemoryContextSwitchTo(cxt);
	e = CopyErrorData();
	FlushErrorState();
	text = ErrorText(e->message, e->detail);
	FreeErrorData(e);
	return text;
}

/* Runs fn(arg) in a subtransaction; NULL, or the error it raised (in cxt). */
static char *
InSubtransaction(void (*fn) (void *), void *arg, MemoryContext cxt)
{
	MemoryContext old = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	char	   *error = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(old);
	PG_TRY();
	{
		fn(arg);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		error = CaughtError(cxt);
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(old);
	CurrentResourceOwner = owner;
	return error;
}

/*
 * The uId of an accepted start, read from its answer and kept in its
 * wave, so that a failure of the ledger can still reject it.
 */
static void
ReadUid(RoundItem *it)
{
	LiveidCall *c = &it->start->call;
	LiveidResponse r = {200, it->answer, it->answer_len};
	MemoryContext old = MemoryContextSwitchTo(it->wave->cxt);

	c->uid = liveid_push_answer_uid(&r);
	c->launch_url = liveid_launch_url(c->uid);
	MemoryContextSwitchTo(old);
}

/* A start the service accepted: its uId, then its rows. */
static void
RecordSent(void *arg)
{
	RoundItem  *it = arg;

	ReadUid(it);
	liveid_outbox_sent_many(&it->start, &it->ended_at, 1);
}

static void
RecordFailed(void *arg)
{
	RoundItem  *it = arg;

	liveid_outbox_failed(it->start->call.ref, it->error);
}

static void
RecordRetry(void *arg)
{
	RoundItem  *it = arg;

	liveid_outbox_retry(it->start->call.ref, it->error,
						RetryAt(it->ended_at, it->start->attempts));
}

/* What one start brought, in its own subtransaction. */
static void
RecordStart(RoundItem *it)
{
	LiveidOutboxStart *s = it->start;
	char	   *error;

	if (it->ok)
	{
		error = InSubtransaction(RecordSent, it, it->wave->cxt);
		if (error == NULL)
			return;
		it->retryable = false;
		if (s->call.uid == NULL)
		{
			/* an answer of another shape: the service may hold a call, never resend */
			it->error = psprintf("the service accepted the start, but %s", error);
		}
		else
		{
			/* the service holds a call the ledger refused: reject it */
			ereport(WARNING,
					(errmsg("liveid worker: the ledger refused the call \"%s\" of start %s; it is rejected",
							s->call.uid, s->call.ref),
					 errdetail_internal("%s", error)));
			liveid_handoff_reject(s->call.uid, s->call.organization);
			it->error = psprintf("the service started call %s, which liveid.calls refused (%s)",
								 s->call.uid, error);
		}
	}
	if (it->retryable && s->attempts < liveid_outbox_max_attempts)
		error = InSubtransaction(RecordRetry, it, it->wave->cxt);
	else
	{
		ereport(LOG,
				(errmsg("liveid worker: start %s failed after %d attempts", s->call.ref,
						s->attempts),
				 errdetail_internal("%s", it->error)));
		error = InSubtransaction(RecordFailed, it, it->wave->cxt);
	}
	if (error)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("liveid worker could not record the outcome of start %s", s->call.ref),
				 errdetail_internal("%s", error)));
}

/* What one rejection brought. */
static void
RecordReject(RoundItem *it)
{
	LiveidReject *r = it->reject;

	if (it->ok)
	{
		ereport(LOG,
				(errmsg("liveid worker: rejected the call \"%s\", whose transaction rolled back",
						r->uid)));
		liveid_handoff_settle(r, true, 0);
	}
	else if (it->retryable && r->attempts < liveid_outbox_max_attempts)
		liveid_handoff_settle(r, false, RetryAt(it->ended_at, r->attempts));
	else
	{
		ereport(WARNING,
				(errmsg("liveid worker could not reject the call \"%s\", whose transaction rolled back",
						r->uid),
				 errdetail_internal("%s", it->error),
				 errhint("Its link stays valid until the service's request expires.")));
		liveid_handoff_settle(r, true, 0);
	}
}

/* Every accepted start that ended (the usual case: one subtransaction). */
static void
RecordAllSent(void *arg)
{
	LiveidOutboxStart **starts = palloc(sizeof(LiveidOutboxStart *) * nfinished);
	TimestampTz *sent_at = palloc(sizeof(TimestampTz) * nfinished);
	int			n = 0;

	for (int i = 0; i < nfinished; i++)
		if (finished[i]->start && finished[i]->ok)
		{
			ReadUid(finished[i]);
			starts[n] = finished[i]->start;
			sent_at[n++] = finished[i]->ended_at;
		}
	liveid_outbox_sent_many(starts, sent_at, n);
}

/*
 * Records the requests that ended, in the current transaction: the
 * accepted starts together, and one by one only when that fails; then
 * frees the waves all of whose requests are recorded.
 */
static void
RecordFinished(void)
{
	int			nok = 0;
	bool		together = false;

	for (int i = 0; i < nfinished; i++)
		nok += (finished[i]->start && finished[i]->ok);
	if (nok > 1)
		together = (InSubtransaction(RecordAllSent, NULL, CurrentMemoryContext) == NULL);
	for (int i = 0; i < nfinished; i++)
	{
		RoundItem  *it = finished[i];

		if (it->start && !(together && it->ok))
			RecordStart(it);
		else if (it->reject)
			RecordReject(it);
	}
	for (int i = 0; i < nfinished; i++)
	{
		Wave	   *w = finished[i]->wave;

		if (--w->left == 0)
			MemoryContextDelete(w->cxt);
	}
	nfinished = 0;
}

/* An item ended, to be recorded at the next refill. */
static void
Finished(RoundItem *it)
{
	if (nfinished == finished_cap)
	{
		finished_cap = finished_cap ? finished_cap * 2 : 64;
		finished = finished ?
			repalloc(finished, sizeof(RoundItem *) * finished_cap) :
			MemoryContextAlloc(worker_cxt, sizeof(RoundItem *) * finished_cap);
	}
	finished[nfinished++] = it;
}

/* the stream's done: how a request ended, kept in its wave */
static void
ItemDone(LiveidBatchItem *bi, void *arg)
{
	RoundItem  *it = bi->arg;
	MemoryContext old = MemoryContextSwitchTo(it->wave->cxt);

	it->ended_at = GetCurrentTimestamp();
	if (bi->failure)
	{
		it->ok = false;
		it->retryable = bi->failure->retryable;
		it->error = ErrorText(bi->failure->message, bi->failure->detail);
	}
	else
	{
		it->ok = true;
		it->answer = palloc(bi->response->len + 1);
		memcpy(it->answer, bi->response->body, bi->response->len + 1);
		it->answer_len = bi->response->len;
	}
	MemoryContextSwitchTo(old);
	Finished(it);
}

/* The request of a start: its key, or a failure without a request. */
static bool
StartItem(RoundItem *it, LiveidBatchItem *bi)
{
	bi->method = "POST";
	bi->path = LIVEID_PATH_PUSH;
	bi->body = it->start->body;
	bi->arg = it;
	PG_TRY();
	{
		bi->key = liveid_key_for(it->start->call.organization);
	}
	PG_CATCH();
	{
		it->error = CaughtError(it->wave->cxt);
		bi->key = NULL;
	}
	PG_END_TRY();
	return bi->key != NULL;
}

/* The request of a rejection, or a failure without a request. */
static bool
RejectItem(RoundItem *it, LiveidBatchItem *bi)
{
	StringInfoData body;

	if (!it->reject->same_url)
	{
		it->error = pstrdup("It was started against another liveid.url than the worker's.");
		return false;
	}
	initStringInfo(&body);
	appendStringInfoString(&body, "{\"uId\":");
	escape_json(&body, it->reject->uid);
	appendStringInfoString(&body, ",\"reason\":\"the transaction that started it rolled back\"}");
	bi->method = "PATCH";
	bi->path = REJECT_PATH;
	bi->body = body.data;
	bi->arg = it;
	PG_TRY();
	{
		bi->key = liveid_key_for(it->reject->organization);
	}
	PG_CATCH();
	{
		it->error = CaughtError(it->wave->cxt);
		bi->key = NULL;
	}
	PG_END_TRY();
	return bi->key != NULL;
}

/*
 * The requests of a wave's starts and rejections (in the wave's memory),
 * into batch; an item that cannot be sent (no key) has ended already.
 * How many are to be sent.
 */
static int
WaveItems(Wave *wave, LiveidOutboxStart *starts, int nstarts, LiveidReject *rejects,
		  TimestampTz now, LiveidBatchItem *batch)
{
	int			nsend = 0;

	for (int i = 0; i < wave->left; i++)
	{
		RoundItem  *it = palloc0(sizeof(RoundItem));
		bool		send;

		it->wave = wave;
		if (i < nstarts)
		{
			it->start = &starts[i];
			send = StartItem(it, &batch[nsend]);
		}
		else
		{
			it->reject = &rejects[i - nstarts];
			send = RejectItem(it, &batch[nsend]);
		}
		if (send)
			nsend++;
		else
		{
			it->ended_at = now;
			Finished(it);
		}
	}
	return nsend;
}

/*
 * The stream's refill, in one transaction: records what ended, then takes
 * the rejections due and claims starts, up to max requests together
 * (committed as sending before anything is sent).  None once SIGTERM came.
 */
static int
Refill(void *arg, int max, LiveidBatchItem **out)
{
	TimestampTz now;
	LiveidReject *rejects;
	LiveidOutboxStart *starts = NULL;
	int			nrejects,
				nstarts = 0,
				nsend;
	bool		installed;
	Wave	   *wave;
	MemoryContext cxt;
	LiveidBatchItem *batch;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	RecordFinished();
	if (got_sigterm)
	{
		PopActiveSnapshot();
		CommitTransactionCommand();
		return 0;
	}
	if (!stream_looked)
	{
		stream_installed = liveid_outbox_installed();
		stream_looked = true;
	}
	installed = stream_installed;
	now = GetCurrentTimestamp();
	if (installed && !requeued)
	{
		int			left = liveid_outbox_requeue(now);

		if (left > 0)
			ereport(LOG,
					(errmsg("liveid worker: %d starts were in flight when the previous worker stopped; they are sent again",
							left),
					 errdetail("Their first request may have reached the service, whose request for it then expires unused.")));
		requeued = true;
	}

	cxt = AllocSetContextCreate(worker_cxt, "liveid worker wave", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(cxt);
	wave = palloc0(sizeof(Wave));
	wave->cxt = cxt;
	rejects = palloc(sizeof(LiveidReject) * max);
	nrejects = liveid_handoff_take(rejects, max, now);
	if (installed && nrejects < max)
	{
		liveid_ledger_ready("the liveid worker");
		nstarts = liveid_outbox_claim(max - nrejects, now, &starts);
	}
	wave->left = nstarts + nrejects;
	batch = palloc0(sizeof(LiveidBatchItem) * Max(wave->left, 1));
	nsend = WaveItems(wave, starts, nstarts, rejects, now, batch);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	if (wave->left == 0)
		MemoryContextDelete(cxt);
	*out = batch;
	return nsend;
}

/* ms from now until t (0: none), for WaitLatch; -1 for no timeout. */
static long
MsUntil(TimestampTz t, TimestampTz now)
{
	if (t == 0)
		return -1;
	if (t <= now)
		return 0;
	return (long) Min((t - now + 999) / 1000, (TimestampTz) INT_MAX);
}

/*
 * One round (see the file header): the stream until nothing is due, then
 * what ended is recorded; the time to wait before the next round, in ms
 * (0: at once, -1: until the latch is set).
 */
static long
Round(void)
{
	TimestampTz now,
				next,
				r;
	bool		installed;
	long		wait;

	MemoryContextSwitchTo(worker_cxt);
	stream_looked = false;
	pgstat_report_activity(STATE_RUNNING, "sending");
	liveid_http_stream(liveid_max_concurrency, 1,
					   Refill, ItemDone, NULL);
	pgstat_report_activity(STATE_IDLE, NULL);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	RecordFinished();
	now = GetCurrentTimestamp();
	installed = liveid_outbox_installed();
	next = (installed && !got_sigterm) ? liveid_outbox_next_due() : 0;
	/* no commit announces CREATE EXTENSION or a restore: look again in a while */
	if (!installed)
		next = TimestampTzPlusMilliseconds(now, LIVEID_WORKER_INSTALL_CHECK * 1000);
	r = liveid_handoff_next_due();
	if (r != 0 && (next == 0 || r < next))
		next = r;
	wait = MsUntil(next, now);
	PopActiveSnapshot();
	CommitTransactionCommand();
	pgstat_report_stat(false);
	MemoryContextSwitchTo(worker_cxt);
	return wait;
}

/* The worker's entry point. */
void
liveid_worker_main(Datum arg)
{
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, HandleSigterm);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(liveid_worker_database, NULL, 0);
	pgstat_report_appname("liveid worker");
	liveid_handoff_attach_worker();
	worker_cxt = AllocSetContextCreate(TopMemoryContext, "liveid worker",
									   ALLOCSET_DEFAULT_SIZES);
	ereport(LOG,
			(errmsg("liveid worker started for database \"%s\"", liveid_worker_database)));

	for (;;)
	{
		long		wait;

		ResetLatch(MyLatch);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		if (got_sigterm)
			break;
		CHECK_FOR_INTERRUPTS();
		wait = Round();
		if (wait != 0 && !got_sigterm)
			(void) WaitLatch(MyLatch,
							 WL_LATCH_SET | WL_EXIT_ON_PM_DEATH | (wait > 0 ? WL_TIMEOUT : 0),
							 wait, PG_WAIT_EXTENSION);
	}
	/* Round() let what was in flight end and recorded it: nothing goes twice */
	ereport(LOG, (errmsg("liveid worker stopped")));

	/*
	 * Exit status 1, not 0: the postmaster unregisters a background worker
	 * that exits with 0 and never starts it again, so a pg_terminate_backend
	 * of the worker would leave the outbox unsent until the next server
	 * start.  With 1 it is started again after LIVEID_WORKER_RESTART
	 * seconds; at a shutdown the postmaster starts no worker anyway.
	 */
	proc_exit(1);
}
