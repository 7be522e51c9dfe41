/*-------------------------------------------------------------------------
 *
 * outbox.c
 *		liveid.enqueue_start() and the statements on liveid.outbox: starts
 *		stored in the caller's transaction, sent after commit by the
 *		background worker (worker.c).
 *
 * An enqueued start is checked exactly as service_start checks it, by the
 * same code (liveid_start_form, liveid_push_body): its ref and, with a
 * server callback, its secret are made now, and so is the pushAsyncCall
 * body.  The row of liveid.outbox holds what the ledger will record and is
 * readable under row-level security; the body, which holds the callback
 * token, goes to liveid.outbox_requests, which only the owner reads, and
 * is deleted once the start is sent or has failed.  Both are written as
 * their owner in a restricted operation, as the ledger is (ledger.c).
 *
 * The worker's side: claim (queued rows due now, FOR UPDATE SKIP LOCKED,
 * marked sending in a transaction that commits before anything is sent),
 * then per start one of sent (its ledger row, in liveid.calls under the
 * same ref, and a NOTIFY), a retry at a later time, or failed (a NOTIFY
 * with status "failed" and no uid).  At its start the worker puts back
 * what a stopped worker left sending: those are the starts that may reach
 * the service twice.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/uuid.h"

static LiveidStatement enqueue_stmt = {
	"INSERT INTO liveid.outbox (ref, organization, process, process_live, process_self, "
	"external_id, method, expire, queued_by, next_attempt_at) "
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
	10,
	{UUIDOID, TEXTOID, UUIDOID, UUIDOID, UUIDOID, TEXTOID, TEXTOID, TIMESTAMPTZOID,
	NAMEOID, TIMESTAMPTZOID},
	NULL
};

static LiveidStatement enqueue_body_stmt = {
	"INSERT INTO liveid.outbox_requests (ref, body, token_sha256) VALUES ($1, $2, $3)",
	3,
	{UUIDOID, TEXTOID, BYTEAOID},
	NULL
};

/* the oldest due first; rows another transaction holds are left for later */
static LiveidStatement claim_stmt = {
	"WITH c AS (SELECT ref FROM liveid.outbox "
	"WHERE state = 'queued' AND next_attempt_at <= $2 "
	"ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED) "
	"UPDATE liveid.outbox o SET state = 'sending', attempts = o.attempts + 1, "
	"next_attempt_at = NULL "
	"FROM c JOIN liveid.outbox_requests r ON r.ref = c.ref WHERE o.ref = c.ref "
	"RETURNING o.ref::text, o.organization, o.process::text, o.process_live::text, "
	"o.process_self::text, o.external_id, o.method, o.expire, o.queued_by::text, "
	"o.attempts, r.body, r.token_sha256",
	2,
	{INT4OID, TIMESTAMPTZOID},
	NULL
};

static LiveidStatement sent_many_stmt = {
	"WITH d AS (DELETE FROM liveid.outbox_requests WHERE ref = ANY ($1)) "
	"UPDATE liveid.outbox o SET state = 'sent', uid = u.uid, sent_at = u.sent_at, "
	"last_error = NULL FROM unnest($1, $2, $3) AS u(ref, uid, sent_at) WHERE o.ref = u.ref",
	3,
	{UUIDARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID},
	NULL
};

static LiveidStatement retry_stmt = {
	"UPDATE liveid.outbox SET state = 'queued', last_error = $2, next_attempt_at = $3 "
	"WHERE ref = $1",
	3,
	{UUIDOID, TEXTOID, TIMESTAMPTZOID},
	NULL
};

static LiveidStatement failed_stmt = {
	"WITH d AS (DELETE FROM liveid.outbox_requests WHERE ref = $1) "
	"UPDATE liveid.outbox SET state = 'failed', last_error = $2 WHERE ref = $1",
	2,
	{UUIDOID, TEXTOID},
	NULL
};

static LiveidStatement requeue_stmt = {
	"UPDATE liveid.outbox SET state = 'queued', next_attempt_at = $1 "
	"WHERE state = 'sending'",
	1,
	{TIMESTAMPTZOID},
	NULL
};

static LiveidStatement next_due_stmt = {
	"SELECT min(next_attempt_at) FROM liveid.outbox WHERE state = 'queued'",
	0,
	{InvalidOid},
	NULL
};

/* A uuid Datum from its checked text form. */
static Datum
UuidDatum(const char *s)
{
	return DirectFunctionCall1(uuid_in, CStringGetDatum(s));
}

/* Runs one statement as the owner of liveid.outbox; the rows it processed. */
static uint64
Execute(LiveidStatement *st, Datum *values, const char *nulls, int expected)
{
	LiveidTableAccess la;
	uint64		processed;
	int			rc;

	liveid_owner_enter(&la, "outbox");
	rc = liveid_owner_execute(st, values, nulls, 0);
	if (rc != expected)
		elog(ERROR, "a statement on liveid.outbox failed: %s", SPI_result_code_string(rc));
	processed = SPI_processed;
	liveid_owner_leave(&la);
	return processed;
}

/*
 * 55000 unless a background worker sends this database's outbox: liveid
 * preloaded and liveid.worker_database naming this database.
 */
static void
CheckWorker(const char *what)
{
	char	   *db = get_database_name(MyDatabaseId);

	if (!liveid_handoff_available() || liveid_worker_database == NULL ||
		strcmp(liveid_worker_database, db) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s needs liveid's background worker for database \"%s\"", what, db),
				 errdetail(!liveid_handoff_available() ?
						   "liveid is not in shared_preload_libraries." :
						   (liveid_worker_database == NULL || liveid_worker_database[0] == '\0') ?
						   "liveid.worker_database is not set." :
						   "liveid.worker_database is \"%s\".", liveid_worker_database),
				 errhint("Set shared_preload_libraries = 'liveid' and liveid.worker_database = '%s' in postgresql.conf and restart the server; or call liveid.service_start().",
						 db)));
}

PG_FUNCTION_INFO_V1(liveid_enqueue_start);

/*
 * liveid.enqueue_start(customer, process, ..., method, expire): checks
 * everything as service_start does and stores the start in the caller's
 * transaction; returns its ref.  Nothing is sent before commit.
 */
Datum
liveid_enqueue_start(PG_FUNCTION_ARGS)
{
	const char *fn = "liveid.enqueue_start()";
	MemoryContext cxt,
				old;
	LiveidStartForm form;
	LiveidCall *call = &form.call;
	TimestampTz expire;
	TimestampTz now = GetCurrentTransactionStartTimestamp();
	char	   *body;
	Datum		values[10];
	char		nulls[10];
	Datum		ref;
	LiveidTableAccess la;
	int			rc;
	pg_uuid_t  *result;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "liveid enqueue_start",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	liveid_start_form(fcinfo, &form, true);
	body = liveid_push_body(fcinfo, &form, &expire);
	/* what the worker would fail on, it fails on here */
	(void) liveid_key_for(call->organization);
	(void) liveid_base_url();
	liveid_ledger_guard(fn);
	PreventCommandDuringRecovery(fn);
	PreventCommandIfReadOnly(fn);
	PreventCommandIfParallelMode(fn);
	CheckWorker(fn);

	ref = UuidDatum(call->ref);
	values[0] = ref;
	nulls[0] = ' ';
	liveid_spi_text(values, nulls, 1, call->organization);
	liveid_spi_uuid(values, nulls, 2, call->process);
	liveid_spi_uuid(values, nulls, 3, call->process_live);
	liveid_spi_uuid(values, nulls, 4, call->process_self);
	liveid_spi_text(values, nulls, 5, call->external_id);
	liveid_spi_text(values, nulls, 6, call->method);
	liveid_spi_time(values, nulls, 7, call->expire);
	values[8] = DirectFunctionCall1(namein,
									CStringGetDatum(GetUserNameFromId(GetUserId(), false)));
	nulls[8] = ' ';
	liveid_spi_time(values, nulls, 9, &now);
	liveid_owner_enter(&la, "outbox");
	rc = liveid_owner_execute(&enqueue_stmt, values, nulls, 0);
	if (rc == SPI_OK_INSERT)
	{
		/* the request beside it: ref, body, the secret's hash */
		values[1] = CStringGetTextDatum(body);
		nulls[1] = ' ';
		values[2] = call->token_sha256 ?
			PointerGetDatum(liveid_bytea(call->token_sha256, PG_SHA256_DIGEST_LENGTH)) : (Datum) 0;
		nulls[2] = call->token_sha256 ? ' ' : 'n';
		rc = liveid_owner_execute(&enqueue_body_stmt, values, nulls, 0);
	}
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "a statement on liveid.outbox failed: %s", SPI_result_code_string(rc));
	liveid_owner_leave(&la);
	liveid_handoff_wake_at_commit();

	MemoryContextSwitchTo(old);
	result = palloc(sizeof(pg_uuid_t));
	memcpy(result, DatumGetUUIDP(ref), sizeof(pg_uuid_t));
	MemoryContextDelete(cxt);
	PG_RETURN_UUID_P(result);
}

/*
 * ---- for worker.c, in its own transactions ----
 */

/* True when the extension is installed in this database. */
bool
liveid_outbox_installed(void)
{
	return OidIsValid(get_extension_oid("liveid", true));
}

/* A column of the current SPI row as text, copied into cxt, or NULL. */
static char *
Column(MemoryContext cxt, int i, int col)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, col);

	return v ? MemoryContextStrdup(cxt, v) : NULL;
}

/*
 * Claims the starts due at now, at most max, as sending; they are
 * palloc'd in the caller's memory context.  How many.
 */
int
liveid_outbox_claim(int max, TimestampTz now, LiveidOutboxStart **out)
{
	MemoryContext cxt = CurrentMemoryContext;
	Datum		values[2] = {Int32GetDatum(max), TimestampTzGetDatum(now)};
	LiveidTableAccess la;
	int			rc,
				n;

	liveid_owner_enter(&la, "outbox");
	rc = liveid_owner_execute(&claim_stmt, values, "  ", 0);
	if (rc != SPI_OK_UPDATE_RETURNING)
		elog(ERROR, "claiming from liveid.outbox failed: %s", SPI_result_code_string(rc));
	n = (int) SPI_processed;
	*out = MemoryContextAllocZero(cxt, sizeof(LiveidOutboxStart) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		LiveidOutboxStart *s = &(*out)[i];
		LiveidCall *c = &s->call;
		bool		isnull;
		Datum		d;

		c->ref = Column(cxt, i, 1);
		c->organization = Column(cxt, i, 2);
		c->process = Column(cxt, i, 3);
		c->process_live = Column(cxt, i, 4);
		c->process_self = Column(cxt, i, 5);
		c->external_id = Column(cxt, i, 6);
		c->method = Column(cxt, i, 7);
		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 8, &isnull);
		if (!isnull)
		{
			s->expire = DatumGetTimestampTz(d);
			c->expire = &s->expire;
		}
		c->created_by = Column(cxt, i, 9);
		s->attempts = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
												  SPI_tuptable->tupdesc, 10, &isnull));
		s->body = Column(cxt, i, 11);
		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 12, &isnull);
		if (!isnull)
		{
			bytea	   *b = DatumGetByteaPP(d);

			if (VARSIZE_ANY_EXHDR(b) == 32)
			{
				uint8	   *h = MemoryContextAlloc(cxt, 32);

				memcpy(h, VARDATA_ANY(b), 32);
				c->token_sha256 = h;
			}
		}
	}
	liveid_owner_leave(&la);
	return n;
}

/*
 * Starts the service accepted (uid and launch_url set): their ledger rows
 * (one statement, and one for their secrets), the outbox rows sent (one
 * more), and the NOTIFY of each new call.
 */
void
liveid_outbox_sent_many(LiveidOutboxStart *const *starts, const TimestampTz *sent_at, int n)
{
	const LiveidCall **calls = palloc(sizeof(LiveidCall *) * n);
	Datum	   *refs = palloc(sizeof(Datum) * n);
	Datum	   *uids = palloc(sizeof(Datum) * n);
	Datum	   *times = palloc(sizeof(Datum) * n);
	bool	   *nulls = palloc0(sizeof(bool) * n);
	Datum		values[3];

	for (int i = 0; i < n; i++)
	{
		calls[i] = &starts[i]->call;
		refs[i] = UuidDatum(starts[i]->call.ref);
		uids[i] = CStringGetTextDatum(starts[i]->call.uid);
		times[i] = TimestampTzGetDatum(sent_at[i]);
	}
	liveid_ledger_insert_many(calls, n);
	values[0] = liveid_array_datum(refs, nulls, n, UUIDOID);
	values[1] = liveid_array_datum(uids, nulls, n, TEXTOID);
	values[2] = liveid_array_datum(times, nulls, n, TIMESTAMPTZOID);
	if (Execute(&sent_many_stmt, values, "   ", SPI_OK_UPDATE) != (uint64) n)
		elog(ERROR, "liveid.outbox lost a start being sent");
	for (int i = 0; i < n; i++)
		liveid_ledger_notify(starts[i]->call.uid, starts[i]->call.ref, "created", NULL);
}

/* A start to send again at retry_at; error says why this attempt failed. */
void
liveid_outbox_retry(const char *ref, const char *error, TimestampTz retry_at)
{
	Datum		values[3] = {UuidDatum(ref), CStringGetTextDatum(error),
	TimestampTzGetDatum(retry_at)};

	Execute(&retry_stmt, values, "   ", SPI_OK_UPDATE);
}

/* A start given up, and its NOTIFY (no uid, status "failed"). */
void
liveid_outbox_failed(const char *ref, const char *error)
{
	Datum		values[2] = {UuidDatum(ref), CStringGetTextDatum(error)};

	Execute(&failed_stmt, values, "  ", SPI_OK_UPDATE);
	liveid_ledger_notify(NULL, ref, "failed", NULL);
}

/*
 * At the worker's start: what a stopped worker left sending is queued
 * again, due at now; how many.
 */
int
liveid_outbox_requeue(TimestampTz now)
{
	Datum		values[1] = {TimestampTzGetDatum(now)};

	return (int) Execute(&requeue_stmt, values, " ", SPI_OK_UPDATE);
}

/* The earliest next_attempt_at of the queued starts, or 0 when none is queued. */
TimestampTz
liveid_outbox_next_due(void)
{
	LiveidTableAccess la;
	TimestampTz next = 0;
	bool		isnull;
	Datum		d;
	int			rc;

	liveid_owner_enter(&la, "outbox");
	rc = liveid_owner_execute(&next_due_stmt, NULL, NULL, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "reading liveid.outbox failed: %s", SPI_result_code_string(rc));
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (!isnull)
		next = DatumGetTimestampTz(d);
	liveid_owner_leave(&la);
	return next;
}
