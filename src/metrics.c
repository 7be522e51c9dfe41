/*-------------------------------------------------------------------------
 *
 * metrics.c
 *		liveid.collect_metrics(): one snapshot of an organization's operators,
 *		waiting times and queues into liveid.metrics, meant to run from
 *		pg_cron (liveid.schedule_metrics()).
 *
 * A snapshot is the organization's row (getAvailableOperators, and
 * getDailyWaitingTimes' last 60 minutes) and one row per process
 * (getQueue).  The processes are the argument, or else liveid.process (when
 * set) and every process of the organization's calls in the ledger (as the
 * caller sees them), without duplicates, at most MAX_PROCESSES.  All the
 * requests run at once through liveid_http_batch (up to
 * liveid.max_concurrency in flight), with the organization's key, and each
 * answer is read by utility.c exactly as its SQL function reads it.
 *
 * All or nothing.  Any request failing raises its error as the single
 * function would (its SQLSTATE, message, DETAIL and HINT, with the
 * subject in front), which abandons the others, and nothing is written;
 * so a pg_cron run against a failing service is a failed run.  Everything
 * that can fail locally fails before anything is sent: the arguments, a
 * read-only transaction or a hot standby (25006), parallel mode (25000), a
 * call from inside a ledger write (55000), an organization without a key
 * (22023).  The rows are written by ledger.c as the table's owner, all with
 * the same taken_at; then the snapshots older than liveid.metrics_retention
 * are deleted, in the same transaction.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

#define MAX_PROCESSES 1000

/* what each request of a snapshot asks */
typedef enum PartKind
{
	PART_OPERATORS,
	PART_WAITING,
	PART_QUEUE
} PartKind;

typedef struct Part
{
	PartKind	kind;
	int			index;			/* of the process, for PART_QUEUE */
	const char *subject;		/* named in front of a failure */
} Part;

/* a snapshot being taken */
typedef struct Snapshot
{
	LiveidSnapshot snap;
	MemoryContext answer_cxt;	/* one answer's reading, reset after each */
} Snapshot;

/* Orders uuid Datums by their bytes. */
static int
UuidCompare(const void *a, const void *b)
{
	return memcmp(DatumGetPointer(*(const Datum *) a),
				  DatumGetPointer(*(const Datum *) b), UUID_LEN);
}

/* Sorts n uuid Datums and removes duplicates; how many remain. */
static int
SortUnique(Datum *d, int n)
{
	int			m = 0;

	if (n == 0)
		return 0;
	qsort(d, n, sizeof(Datum), UuidCompare);
	for (int i = 1; i < n; i++)
		if (UuidCompare(&d[m], &d[i]) != 0)
			d[++m] = d[i];
	return m + 1;
}

/* 22023 unless n processes are at most MAX_PROCESSES. */
static void
CheckProcessCount(int n)
{
	if (n > MAX_PROCESSES)
		liveid_arg_error("processes",
						 psprintf("It has %d distinct processes; at most %d are allowed.",
								  n, MAX_PROCESSES),
						 "Pass fewer processes, or take several snapshots.");
}

/* The processes argument: its distinct elements (22023 for a NULL one). */
static int
ProcessesArg(ArrayType *arr, Datum **out)
{
	bool	   *nulls;
	int			n;

	if (ARR_NDIM(arr) > 1)
		liveid_arg_error("processes", "It must be a one-dimensional array.",
						 "Pass ARRAY['<uuid>', ...]::uuid[].");
	deconstruct_array(arr, UUIDOID, UUID_LEN, false, TYPALIGN_CHAR, out, &nulls, &n);
	for (int i = 0; i < n; i++)
		if (nulls[i])
			liveid_arg_error("processes",
							 psprintf("Element %d is NULL.", i + 1),
							 "Pass process UUIDs only, or leave processes out for the ledger's.");
	n = SortUnique(*out, n);
	CheckProcessCount(n);
	return n;
}

/* No processes argument: liveid.process (if set) and the ledger's. */
static int
DefaultProcesses(const char *org, Datum **out)
{
	char	   *setting = liveid_process_setting(false);
	Datum	   *ledger;
	int			n = liveid_metrics_processes(org, MAX_PROCESSES + 1, &ledger);

	*out = palloc(sizeof(Datum) * (n + 1));
	memcpy(*out, ledger, sizeof(Datum) * n);
	if (setting)
		(*out)[n++] = DirectFunctionCall1(uuid_in, CStringGetDatum(setting));
	n = SortUnique(*out, n);
	CheckProcessCount(n);
	return n;
}

/* One request of the snapshot: a POST of body to path for part. */
static void
SetItem(LiveidBatchItem *item, const char *path, char *body, const char *key,
		Part *part, PartKind kind, int index, const char *subject)
{
	part->kind = kind;
	part->index = index;
	part->subject = subject;
	item->method = "POST";
	item->path = path;
	item->body = body;
	item->key = key;
	item->arg = part;
}

/*
 * Reads one answer into the snapshot (in the snapshot's context), under the
 * error context naming its request; a failure raises (see the file header).
 */
static void
ReadPart(LiveidBatchItem *item, Snapshot *s)
{
	const Part *part = item->arg;
	MemoryContext snap_cxt = CurrentMemoryContext;
	LiveidWaiting *rows;
	int			n;

	if (item->failure)
		liveid_report_failure(ERROR, item->failure,
							  psprintf("could not take the snapshot of %s: ", part->subject));
	MemoryContextSwitchTo(s->answer_cxt);
	switch (part->kind)
	{
		case PART_OPERATORS:
			s->snap.available_operators =
				liveid_integer_answer(item->response, "availableOperators");
			break;
		case PART_QUEUE:
			s->snap.waiting[part->index] =
				Int32GetDatum(liveid_integer_answer(item->response, "queue"));
			break;
		case PART_WAITING:
			n = liveid_waiting_answer(item->response, GetCurrentTimestamp(), &rows);
			s->snap.calls = rows[n - 1].calls;
			s->snap.average_wait = MemoryContextAlloc(snap_cxt, sizeof(Interval));
			*s->snap.average_wait = *rows[n - 1].average_wait;
			break;
	}
	MemoryContextSwitchTo(snap_cxt);
	MemoryContextReset(s->answer_cxt);
}

/* The batch's done callback. */
static void
SnapshotDone(LiveidBatchItem *item, void *arg)
{
	LiveidRemoteContext remote;

	liveid_remote_context_push(&remote, item->method, item->path);
	ReadPart(item, arg);
	liveid_remote_context_pop(&remote);
}

/* Sends every request of the snapshot at once and reads the answers. */
static void
TakeSnapshot(Snapshot *s)
{
	const char *org = s->snap.organization;
	const char *key = liveid_key_for(org);	/* 22023 before anything is sent */
	int			n = s->snap.nprocesses + 2;
	LiveidBatchItem *items = palloc0(sizeof(LiveidBatchItem) * n);
	Part	   *parts = palloc0(sizeof(Part) * n);
	char	   *org_body = liveid_one_member_body("orgCode", org);
	char	   *org_subject = psprintf("organization \"%s\"", org);

	SetItem(&items[0], LIVEID_PATH_OPERATORS, org_body, key, &parts[0],
			PART_OPERATORS, 0, org_subject);
	SetItem(&items[1], LIVEID_PATH_WAITING, org_body, key, &parts[1],
			PART_WAITING, 0, org_subject);
	for (int i = 0; i < s->snap.nprocesses; i++)
	{
		char	   *p = DatumGetCString(DirectFunctionCall1(uuid_out, s->snap.processes[i]));

		SetItem(&items[i + 2], LIVEID_PATH_QUEUE, liveid_one_member_body("id_process", p),
				key, &parts[i + 2], PART_QUEUE, i, psprintf("process \"%s\"", p));
	}
	s->answer_cxt = AllocSetContextCreate(CurrentMemoryContext, "liveid metrics answer",
										  ALLOCSET_DEFAULT_SIZES);
	liveid_http_batch(items, n, liveid_max_concurrency, SnapshotDone, s);
	MemoryContextDelete(s->answer_cxt);
}

PG_FUNCTION_INFO_V1(liveid_collect_metrics);

/*
 * liveid.collect_metrics(organization, processes): one snapshot; returns
 * the rows written.
 */
Datum
liveid_collect_metrics(PG_FUNCTION_ARGS)
{
	const char *what = "liveid.collect_metrics()";
	MemoryContext cxt = AllocSetContextCreate(CurrentMemoryContext, "liveid collect_metrics",
											  ALLOCSET_DEFAULT_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Snapshot	s = {0};
	int			written;

	s.snap.organization = liveid_setting_or(liveid_text_arg(fcinfo, 0), liveid_organization,
											"liveid.organization", "organization");
	if (!PG_ARGISNULL(1))
		s.snap.nprocesses = ProcessesArg(PG_GETARG_ARRAYTYPE_P(1), &s.snap.processes);
	liveid_metrics_ready(what);
	if (PG_ARGISNULL(1))
		s.snap.nprocesses = DefaultProcesses(s.snap.organization, &s.snap.processes);
	s.snap.waiting = palloc0(sizeof(Datum) * Max(s.snap.nprocesses, 1));
	TakeSnapshot(&s);
	s.snap.taken_at = GetCurrentTimestamp();
	written = liveid_metrics_write(&s.snap, s.snap.taken_at -
								   (TimestampTz) liveid_metrics_retention * USECS_PER_SEC);
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	PG_RETURN_INT32(written);
}
