/*-------------------------------------------------------------------------
 *
 * ledger.c
 *		The call ledger liveid.calls: written only as its owner, read by
 *		callers under row-level security; and, the same way, the metrics
 *		snapshots of liveid.metrics (at the end of the file).
 *
 * Who runs what.  Users may read the ledger (the calls they started, by
 * row-level security) but not write it, so every row is written as the
 * table's owner: SetUserIdAndSecContext() to the owner in a
 * SECURITY_RESTRICTED_OPERATION, with search_path pinned to
 * "pg_catalog, pg_temp" for the whole write.  Whatever the write evaluates
 * (column defaults, CHECK constraints, index expressions, triggers, and the
 * functions they call with unqualified names) therefore resolves names as
 * the owner wrote them, never through a schema of the caller's; and inside
 * the restricted operation nothing can SET ROLE, create temporary objects or
 * leave deferred work behind.  This is what pg_cron's job_metadata.c does
 * for its tables, and the same reason CREATE INDEX and REFRESH MATERIALIZED
 * VIEW pin the path.  The SQL functions are not SECURITY DEFINER: the HTTP
 * call, the settings it reads and every check would then run as the owner.
 *
 * Every statement goes through SPI with a plan kept for the backend, so the
 * table's own definition applies (defaults, generated columns, constraints,
 * indexes, rules, row and statement triggers), and a change of the table
 * replans on the next use.  Plans made under the pinned path are always
 * used under it, so the plan cache never replans for a path change.  An
 * ERROR between the switch and its undoing needs no PG_TRY for the user and
 * the path: (sub)transaction abort restores the user, the security context
 * and the GUC nest level; only our own "writing" flag is reset by hand.
 *
 * Failing before sending.  A start must not leave the service holding a
 * call the ledger cannot record, so liveid_ledger_ready() is called before
 * pushAsyncCall goes out and raises everything that can be known then: a
 * read-only transaction or a hot standby (25006), parallel mode (25000), a
 * liveid function called from inside a ledger write (55000), and a ledger
 * that is missing or whose INSERT no longer plans (a dropped column, a
 * changed type that does not cast).  What can still fail after the answer
 * is what only the row itself can tell: a constraint or a trigger of the
 * owner's refusing it.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/plancache.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/uuid.h"

/* the path every ledger statement runs with */
#define LEDGER_SEARCH_PATH "pg_catalog, pg_temp"

/* A statement of the ledger and its plan, kept for the backend (liveid.h). */
typedef LiveidStatement LedgerStatement;

static LedgerStatement insert_stmt = {
	"INSERT INTO liveid.calls (uid, organization, process, external_id, launch_url, "
	"created_at, created_by, status, process_live, process_self, method, expire, ref) "
	"VALUES ($1, $2, $3, $4, $5, $6, $7, 'created', $8, $9, $10, $11, $12)",
	12,
	{TEXTOID, TEXTOID, UUIDOID, TEXTOID, TEXTOID, TIMESTAMPTZOID, NAMEOID,
	UUIDOID, UUIDOID, TEXTOID, TIMESTAMPTZOID, UUIDOID},
	NULL
};

/* the hash of a call's callback secret, beside it */
static LedgerStatement token_stmt = {
	"INSERT INTO liveid.call_tokens (ref, token_sha256) VALUES ($1, $2)",
	2,
	{UUIDOID, BYTEAOID},
	NULL
};

/*
 * a poll that learnt nothing new writes no new row version; a call
 * rejected with reject_call stays rejected, whatever its conference became
 */
static LedgerStatement update_stmt = {
	"UPDATE liveid.calls SET status = $2, close_status = $3, id_conference = $4, "
	"closed_at = $5 WHERE uid = $1 AND status <> 'rejected' "
	"AND (status, close_status, id_conference, closed_at) "
	"IS DISTINCT FROM ($2, $3, $4, $5) RETURNING ref::text",
	5,
	{TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID},
	NULL
};

/* a call nobody opened before its expire passed */
static LedgerStatement expire_stmt = {
	"UPDATE liveid.calls SET status = 'expired', closed_at = expire "
	"WHERE uid = $1 AND status = 'created' AND expire <= $2 RETURNING ref::text",
	2,
	{TEXTOID, TIMESTAMPTZOID},
	NULL
};

/* run as the caller, so that row-level security decides what it finds */
static LedgerStatement lookup_stmt = {
	"SELECT organization FROM liveid.calls WHERE uid = $1",
	1,
	{TEXTOID},
	NULL
};

/* run as the caller: a liveid_user refreshes only the calls it started */
static LedgerStatement pending_stmt = {
	"SELECT uid, organization FROM liveid.calls "
	"WHERE status IN ('created', 'waiting', 'answered') "
	"ORDER BY created_at, uid LIMIT $1",
	1,
	{INT4OID},
	NULL
};

/* true while a ledger statement runs: nothing of liveid may start then */
static bool ledger_writing = false;

/* who ran before a ledger statement, for LedgerLeave() (liveid.h) */
typedef LiveidTableAccess LedgerAccess;

/* Raises the can't-happen error of an SPI call that failed. */
static void
pg_attribute_noreturn()
SpiFailed(const char *what, int rc)
{
	elog(ERROR, "%s failed on a table of liveid: %s", what, SPI_result_code_string(rc));
}

/*
 * Raises 55000 when called from inside a ledger write: a trigger, default or
 * constraint of the owner's that calls liveid would otherwise send a second
 * request from within the first one's bookkeeping.  http.c calls it before
 * every request.
 */
void
liveid_ledger_guard(const char *what)
{
	if (ledger_writing)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("%s cannot run while liveid writes its ledger", what),
				 errdetail("A default, constraint, index expression or trigger on a table liveid writes (liveid.calls, liveid.metrics) called liveid."),
				 errhint("Call liveid from your own code after the statement, not from objects on liveid.calls.")));
}

/*
 * The OID of the extension's table liveid.<name> (what: "ledger" or
 * "metrics"); 42P01 when it is gone.
 */
static Oid
TableRelid(const char *name, const char *what)
{
	Oid			nsp = get_namespace_oid("liveid", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid(name, nsp) : InvalidOid;

	if (!OidIsValid(relid) || get_rel_relkind(relid) != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the %s table \"liveid.%s\" does not exist", what, name),
				 errhint("Drop and create the extension liveid again to restore it.")));
	return relid;
}

/* The OID of liveid.calls. */
static Oid
LedgerRelid(void)
{
	return TableRelid("calls", "ledger");
}

/* The owner of a table. */
static Oid
TableOwner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * Enters a ledger statement: as the ledger's owner in a restricted operation
 * when as_owner, else as the caller; with search_path pinned either way (a
 * caller's own operators must not change what a lookup means).
 */
static void
TableEnter(LedgerAccess *la, Oid owner)
{
	bool		as_owner = OidIsValid(owner);

	GetUserIdAndSecContext(&la->save_userid, &la->save_sec_context);
	if (as_owner)
		SetUserIdAndSecContext(owner,
							   la->save_sec_context |
							   SECURITY_LOCAL_USERID_CHANGE |
							   SECURITY_RESTRICTED_OPERATION);
	la->save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", LEDGER_SEARCH_PATH,
							 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
							 true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		SpiFailed("SPI_connect", SPI_ERROR_CONNECT);
}

/* The same for the ledger: as its owner when as_owner. */
static void
LedgerEnter(LedgerAccess *la, bool as_owner)
{
	TableEnter(la, as_owner ? TableOwner(LedgerRelid()) : InvalidOid);
}

/* Leaves a statement entered with TableEnter() or LedgerEnter(). */
static void
LedgerLeave(LedgerAccess *la)
{
	SPI_finish();
	AtEOXact_GUC(true, la->save_nestlevel);
	SetUserIdAndSecContext(la->save_userid, la->save_sec_context);
}

/* The kept plan of a statement, prepared on first use (inside LedgerEnter). */
static SPIPlanPtr
LedgerPlan(LedgerStatement *st)
{
	if (st->plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(st->sql, st->nargs, st->argtypes);

		if (p == NULL)
			SpiFailed("SPI_prepare", SPI_result);
		if (SPI_keepplan(p) != 0)
			SpiFailed("SPI_keepplan", SPI_ERROR_ARGUMENT);
		st->plan = p;
	}
	return st->plan;
}

/*
 * Runs a ledger statement with the ledger flag raised; the flag goes down
 * again whatever happens.
 */
static int
LedgerExecute(LedgerStatement *st, Datum *values, const char *nulls, long tcount)
{
	int			rc;

	ledger_writing = true;
	PG_TRY();
	{
		rc = SPI_execute_plan(LedgerPlan(st), values, nulls, false, tcount);
	}
	PG_FINALLY();
	{
		ledger_writing = false;
	}
	PG_END_TRY();
	return rc;
}

/*
 * Raises, before anything is sent, everything that would keep a start from
 * being recorded (see the file header); what names the SQL function.
 */
void
liveid_ledger_ready(const char *what)
{
	LedgerAccess la;
	CachedPlan *cplan;

	liveid_ledger_guard(what);
	PreventCommandDuringRecovery(what);
	PreventCommandIfReadOnly(what);
	PreventCommandIfParallelMode(what);

	/*
	 * The INSERT must still plan against the table as it is now.  Taking the
	 * lock the INSERT takes anyway processes any invalidation a change of
	 * the table sent; a plan still valid after that needs no work.  Else it
	 * is planned again now, as the owner under the pinned path it runs
	 * with, so that a table whose row no longer fits fails here.
	 */
	LockRelationOid(LedgerRelid(), RowExclusiveLock);
	if (insert_stmt.plan == NULL || !SPI_plan_is_valid(insert_stmt.plan))
	{
		LedgerEnter(&la, true);
		cplan = SPI_plan_get_cached_plan(LedgerPlan(&insert_stmt));
		if (cplan == NULL)
			SpiFailed("SPI_plan_get_cached_plan", SPI_result);
		ReleaseCachedPlan(cplan, CurrentResourceOwner);
		LedgerLeave(&la);
	}

	/* the transaction id is taken now rather than after the answer */
	(void) GetCurrentTransactionId();
}

/* A text Datum or a null, for an SPI statement's values and nulls (liveid.h). */
void
liveid_spi_text(Datum *values, char *nulls, int i, const char *s)
{
	values[i] = s ? CStringGetTextDatum(s) : (Datum) 0;
	nulls[i] = s ? ' ' : 'n';
}

/* A uuid Datum from its checked text form, or a null (liveid.h). */
void
liveid_spi_uuid(Datum *values, char *nulls, int i, const char *s)
{
	values[i] = s ? DirectFunctionCall1(uuid_in, CStringGetDatum(s)) : (Datum) 0;
	nulls[i] = s ? ' ' : 'n';
}

/* A bytea of len bytes (liveid.h). */
bytea *
liveid_bytea(const uint8 *data, size_t len)
{
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	memcpy(VARDATA(b), data, len);
	return b;
}

/* A timestamptz Datum, or a null (liveid.h). */
void
liveid_spi_time(Datum *values, char *nulls, int i, const TimestampTz *t)
{
	values[i] = t ? TimestampTzGetDatum(*t) : (Datum) 0;
	nulls[i] = t ? ' ' : 'n';
}

/*
 * Records a call the service has just started (call->uid and
 * call->launch_url set), in the caller's transaction, as the ledger's owner.
 * liveid_ledger_ready() must have run in this transaction.
 */
void
liveid_ledger_insert(const LiveidCall *call)
{
	Datum		values[12];
	char		nulls[12];
	TimestampTz created_at = call->created_at ? *call->created_at :
		GetCurrentTransactionStartTimestamp();
	const char *created_by = call->created_by ? call->created_by :
		GetUserNameFromId(GetUserId(), false);
	LedgerAccess la;
	int			rc;

	liveid_spi_text(values, nulls, 0, call->uid);
	liveid_spi_text(values, nulls, 1, call->organization);
	liveid_spi_uuid(values, nulls, 2, call->process);
	liveid_spi_text(values, nulls, 3, call->external_id);
	liveid_spi_text(values, nulls, 4, call->launch_url);
	liveid_spi_time(values, nulls, 5, &created_at);
	values[6] = DirectFunctionCall1(namein, CStringGetDatum(created_by));
	nulls[6] = ' ';
	liveid_spi_uuid(values, nulls, 7, call->process_live);
	liveid_spi_uuid(values, nulls, 8, call->process_self);
	liveid_spi_text(values, nulls, 9, call->method);
	liveid_spi_time(values, nulls, 10, call->expire);
	liveid_spi_uuid(values, nulls, 11, call->ref);

	LedgerEnter(&la, true);
	rc = LedgerExecute(&insert_stmt, values, nulls, 0);
	if (rc != SPI_OK_INSERT)
		SpiFailed("INSERT", rc);
	if (call->token_sha256)
	{
		Datum		token[2] = {values[11],
		PointerGetDatum(liveid_bytea(call->token_sha256, PG_SHA256_DIGEST_LENGTH))};

		rc = LedgerExecute(&token_stmt, token, "  ", 0);
		if (rc != SPI_OK_INSERT)
			SpiFailed("INSERT", rc);
	}
	LedgerLeave(&la);
}

/* the same for many calls at once (the worker's rounds): one statement each */
static LedgerStatement insert_many_stmt = {
	"INSERT INTO liveid.calls (uid, organization, process, external_id, launch_url, "
	"created_at, created_by, status, process_live, process_self, method, expire, ref) "
	"SELECT u.uid, u.organization, u.process, u.external_id, u.launch_url, $6, "
	"u.created_by, 'created', u.process_live, u.process_self, u.method, u.expire, u.ref "
	"FROM unnest($1, $2, $3, $4, $5, $7, $8, $9, $10, $11, $12) "
	"AS u(uid, organization, process, external_id, launch_url, created_by, "
	"process_live, process_self, method, expire, ref)",
	12,
	{TEXTARRAYOID, TEXTARRAYOID, UUIDARRAYOID, TEXTARRAYOID, TEXTARRAYOID, TIMESTAMPTZOID,
	NAMEARRAYOID, UUIDARRAYOID, UUIDARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID, UUIDARRAYOID},
	NULL
};

static LedgerStatement token_many_stmt = {
	"INSERT INTO liveid.call_tokens (ref, token_sha256) SELECT * FROM unnest($1, $2)",
	2,
	{UUIDARRAYOID, BYTEAARRAYOID},
	NULL
};

/* An array Datum of n elements of type elemtype (nulls[i]: a null element). */
Datum
liveid_array_datum(Datum *elems, bool *nulls, int n, Oid elemtype)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			dims[1] = {n};
	int			lbs[1] = {1};

	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	return PointerGetDatum(construct_md_array(elems, nulls, 1, dims, lbs, elemtype,
											  typlen, typbyval, typalign));
}

/* A text element, or a null. */
static void
TextElem(Datum *e, bool *isnull, const char *s)
{
	*e = s ? CStringGetTextDatum(s) : (Datum) 0;
	*isnull = (s == NULL);
}

/* A uuid element from its checked text form, or a null. */
static void
UuidElem(Datum *e, bool *isnull, const char *s)
{
	*e = s ? DirectFunctionCall1(uuid_in, CStringGetDatum(s)) : (Datum) 0;
	*isnull = (s == NULL);
}

/*
 * Records n calls the service has just started, as liveid_ledger_insert()
 * does one, in one statement (and one for their secrets); created_at is
 * the transaction's start for all.
 */
void
liveid_ledger_insert_many(const LiveidCall *const *calls, int n)
{
	Datum	   *e = palloc(sizeof(Datum) * n);
	bool	   *en = palloc(sizeof(bool) * n);
	Datum	   *te = palloc(sizeof(Datum) * n);
	bool	   *tn = palloc0(sizeof(bool) * n);
	Datum		values[12];
	int			ntokens = 0;
	LedgerAccess la;
	int			rc;

#define COLUMN(i, elem, field, type) \
	do { \
		for (int k = 0; k < n; k++) \
			elem(&e[k], &en[k], calls[k]->field); \
		values[i] = liveid_array_datum(e, en, n, type); \
	} while (0)

	COLUMN(0, TextElem, uid, TEXTOID);
	COLUMN(1, TextElem, organization, TEXTOID);
	COLUMN(2, UuidElem, process, UUIDOID);
	COLUMN(3, TextElem, external_id, TEXTOID);
	COLUMN(4, TextElem, launch_url, TEXTOID);
	values[5] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	for (int k = 0; k < n; k++)
	{
		const char *by = calls[k]->created_by ? calls[k]->created_by :
			GetUserNameFromId(GetUserId(), false);

		e[k] = DirectFunctionCall1(namein, CStringGetDatum(by));
		en[k] = false;
	}
	values[6] = liveid_array_datum(e, en, n, NAMEOID);
	COLUMN(7, UuidElem, process_live, UUIDOID);
	COLUMN(8, UuidElem, process_self, UUIDOID);
	COLUMN(9, TextElem, method, TEXTOID);
	for (int k = 0; k < n; k++)
	{
		e[k] = calls[k]->expire ? TimestampTzGetDatum(*calls[k]->expire) : (Datum) 0;
		en[k] = (calls[k]->expire == NULL);
	}
	values[10] = liveid_array_datum(e, en, n, TIMESTAMPTZOID);
	COLUMN(11, UuidElem, ref, UUIDOID);
#undef COLUMN

	LedgerEnter(&la, true);
	rc = LedgerExecute(&insert_many_stmt, values, "            ", 0);
	if (rc != SPI_OK_INSERT)
		SpiFailed("INSERT", rc);
	for (int k = 0; k < n; k++)
		if (calls[k]->token_sha256)
		{
			UuidElem(&e[ntokens], &en[ntokens], calls[k]->ref);
			te[ntokens++] = PointerGetDatum(liveid_bytea(calls[k]->token_sha256,
													 PG_SHA256_DIGEST_LENGTH));
		}
	if (ntokens > 0)
	{
		Datum		token[2] = {liveid_array_datum(e, en, ntokens, UUIDOID),
		liveid_array_datum(te, tn, ntokens, BYTEAOID)};

		rc = LedgerExecute(&token_many_stmt, token, "  ", 0);
		if (rc != SPI_OK_INSERT)
			SpiFailed("INSERT", rc);
	}
	LedgerLeave(&la);
}

/*
 * Sends NOTIFY liveid_calls with {"uid", "ref", "status", "close_status"}
 * of a ledger row that changed (delivered at commit, as NOTIFY is).
 */
void
liveid_ledger_notify(const char *uid, const char *ref, const char *status,
					 const char *close_status)
{
	StringInfoData p;

	initStringInfo(&p);
	appendStringInfoString(&p, "{\"uid\": ");
	if (uid)
		escape_json(&p, uid);
	else
		appendStringInfoString(&p, "null");
	appendStringInfo(&p, ", \"ref\": \"%s\", \"status\": ", ref);
	escape_json(&p, status);
	appendStringInfoString(&p, ", \"close_status\": ");
	if (close_status)
		escape_json(&p, close_status);
	else
		appendStringInfoString(&p, "null");
	appendStringInfoChar(&p, '}');
	Async_Notify("liveid_calls", p.data);
}

/*
 * Runs one UPDATE of a ledger row as the owner; the ref of the row it
 * changed, or NULL when it changed none.
 */
static char *
LedgerChange(LedgerStatement *st, Datum *values, const char *nulls)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	LedgerAccess la;
	char	   *ref = NULL;
	int			rc;

	LedgerEnter(&la, true);
	rc = LedgerExecute(st, values, nulls, 0);
	if (rc != SPI_OK_UPDATE_RETURNING)
		SpiFailed("UPDATE", rc);
	if (SPI_processed > 0)
		ref = MemoryContextStrdup(caller_cxt,
								  SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1));
	LedgerLeave(&la);
	return ref;
}

/*
 * Brings the ledger row of uid up to date with what getAsyncRequestInfo
 * said (info), as the ledger's owner: the latest conference's status and
 * close status, closed_at when it ended (closed, cancelled or expired);
 * with no conference yet, expired once its expire passed.  A uid not in the
 * ledger, or a row already so, changes nothing.  True when the row changed;
 * it is then notified.
 */
bool
liveid_ledger_follow(const char *uid, const LiveidCallInfo *info)
{
	Datum		values[5];
	char		nulls[5];
	char	   *ref;
	const char *status = "expired",
			   *close_status = NULL;

	liveid_spi_text(values, nulls, 0, uid);
	if (info->latest >= 0)
	{
		const LiveidConference *c = &info->conferences[info->latest];
		bool		ended = strcmp(c->status, "waiting") != 0 &&
			strcmp(c->status, "answered") != 0;
		TimestampTz end = c->ended ? c->ended_at : GetCurrentTransactionStartTimestamp();

		status = c->status;
		close_status = c->close_status;
		liveid_spi_text(values, nulls, 1, c->status);
		liveid_spi_text(values, nulls, 2, c->close_status);
		liveid_spi_text(values, nulls, 3, c->id_conference);
		liveid_spi_time(values, nulls, 4, ended ? &end : NULL);
		ref = LedgerChange(&update_stmt, values, nulls);
	}
	else
	{
		TimestampTz now = GetCurrentTransactionStartTimestamp();

		liveid_spi_time(values, nulls, 1, &now);
		ref = LedgerChange(&expire_stmt, values, nulls);
	}
	if (ref)
		liveid_ledger_notify(uid, ref, status, close_status);
	return ref != NULL;
}

/* True when the current user has the rights of liveid_admin (or is superuser). */
static bool
IsLedgerAdmin(void)
{
	Oid			admin = get_role_oid("liveid_admin", true);

	return superuser() || (OidIsValid(admin) && has_privs_of_role(GetUserId(), admin));
}

/*
 * Runs a lookup statement of one text argument as the caller (row-level
 * security decides what it finds): the organization of the first row, or
 * NULL; *found says whether there was one.
 */
static char *
VisibleOrganization(LedgerStatement *st, const char *arg, bool *found)
{
	Datum		values[1];
	char		nulls[1];
	MemoryContext caller_cxt = CurrentMemoryContext;
	LedgerAccess la;
	char	   *organization = NULL;
	int			rc;

	liveid_spi_text(values, nulls, 0, arg);
	LedgerEnter(&la, false);
	rc = LedgerExecute(st, values, nulls, 1);
	if (rc != SPI_OK_SELECT)
		SpiFailed("SELECT", rc);
	*found = SPI_processed > 0;
	if (*found)
	{
		char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		/* copied out of SPI's memory, which LedgerLeave() frees */
		organization = v ? MemoryContextStrdup(caller_cxt, v) : NULL;
	}
	LedgerLeave(&la);
	return organization;
}

/*
 * The organization of the call uid as the caller may see it.  A liveid_user
 * sees only the calls it started (row-level security), and may ask the
 * service only about those: any other uid is 22023, before anything is
 * sent.  liveid_admin may ask about any uid; NULL when the ledger has none.
 * what names the SQL function, for the 55000 of a call from a ledger write.
 */
char *
liveid_ledger_lookup(const char *uid, const char *what)
{
	bool		found;
	char	   *organization;

	liveid_ledger_guard(what);
	organization = VisibleOrganization(&lookup_stmt, uid, &found);
	if (!found && !IsLedgerAdmin())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no call with uid \"%s\" is visible in liveid.calls", uid),
				 errdetail("A member of liveid_user may look up only the calls it started."),
				 errhint("Pass the uid of a call you started, or ask a member of liveid_admin.")));
	return organization;
}

/*
 * The calls that are not final (created, waiting, answered) the caller may
 * see, oldest first, at most max of them, into *calls (palloc'd in the
 * current memory context); returns how many.  Run as the caller, so that
 * row-level security decides which (refresh.c).
 */
int
liveid_ledger_pending(int max, LiveidPendingCall **calls)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	Datum		values[1] = {Int32GetDatum(max)};
	LedgerAccess la;
	int			rc;
	int			n;

	LedgerEnter(&la, false);
	rc = LedgerExecute(&pending_stmt, values, " ", 0);
	if (rc != SPI_OK_SELECT)
		SpiFailed("SELECT", rc);
	n = (int) SPI_processed;
	*calls = MemoryContextAlloc(caller_cxt, sizeof(LiveidPendingCall) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		HeapTuple	t = SPI_tuptable->vals[i];
		TupleDesc	d = SPI_tuptable->tupdesc;

		/* copied out of SPI's memory, which LedgerLeave() frees */
		(*calls)[i].uid = MemoryContextStrdup(caller_cxt, SPI_getvalue(t, d, 1));
		(*calls)[i].organization = MemoryContextStrdup(caller_cxt, SPI_getvalue(t, d, 2));
	}
	LedgerLeave(&la);
	return n;
}

/*
 * Server callbacks (callback.c).  A callback's call is found by its ref as
 * the owner: the role liveid-receiver logs in with sees no ledger row, and
 * needs none, since the callback authenticates itself with its secret.
 */
static LedgerStatement by_ref_stmt = {
	"SELECT c.uid, c.organization, t.token_sha256 FROM liveid.calls c "
	"LEFT JOIN liveid.call_tokens t ON t.ref = c.ref WHERE c.ref = $1",
	1,
	{UUIDOID},
	NULL
};

static LedgerStatement event_find_stmt = {
	"SELECT id FROM liveid.call_events WHERE ref = $1 AND payload_sha256 = $2",
	2,
	{UUIDOID, BYTEAOID},
	NULL
};

/* a concurrent delivery of the same body inserts nothing: find_stmt finds it */
static LedgerStatement event_insert_stmt = {
	"INSERT INTO liveid.call_events (uid, ref, id_conference, event, close_status, "
	"abort_code, note, confirmed_status, confirmed_close_status, mismatch, payload, "
	"payload_sha256) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) "
	"ON CONFLICT ON CONSTRAINT call_events_delivery_key DO NOTHING RETURNING id",
	12,
	{TEXTOID, UUIDOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	BOOLOID, JSONBOID, BYTEAOID},
	NULL
};

/*
 * The call whose ref is ref, as the owner sees it: false when there is
 * none.  token_sha256 is NULL for a call without a server callback.
 */
bool
liveid_ledger_by_ref(const char *ref, LiveidCallRef *out)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	Datum		values[1];
	char		nulls[1];
	LedgerAccess la;
	bool		found;
	int			rc;

	liveid_ledger_guard("liveid.receive_callback()");
	liveid_spi_uuid(values, nulls, 0, ref);
	LedgerEnter(&la, true);
	rc = LedgerExecute(&by_ref_stmt, values, nulls, 1);
	if (rc != SPI_OK_SELECT)
		SpiFailed("SELECT", rc);
	found = SPI_processed > 0;
	if (found)
	{
		HeapTuple	t = SPI_tuptable->vals[0];
		TupleDesc	d = SPI_tuptable->tupdesc;
		bool		isnull;
		Datum		h;

		out->uid = MemoryContextStrdup(caller_cxt, SPI_getvalue(t, d, 1));
		out->organization = MemoryContextStrdup(caller_cxt, SPI_getvalue(t, d, 2));
		h = SPI_getbinval(t, d, 3, &isnull);
		out->token_sha256 = NULL;
		if (!isnull && VARSIZE_ANY_EXHDR(DatumGetPointer(h)) == PG_SHA256_DIGEST_LENGTH)
		{
			out->token_sha256 = MemoryContextAlloc(caller_cxt, PG_SHA256_DIGEST_LENGTH);
			memcpy(out->token_sha256, VARDATA_ANY(DatumGetPointer(h)), PG_SHA256_DIGEST_LENGTH);
		}
	}
	LedgerLeave(&la);
	return found;
}

/* Runs an event statement as the owner; the id it returned, or -1. */
static int64
EventStatement(LedgerStatement *st, Datum *values, const char *nulls, int expected)
{
	LedgerAccess la;
	int64		id = -1;
	int			rc;

	LedgerEnter(&la, true);
	rc = LedgerExecute(st, values, nulls, 1);
	if (rc != expected)
		SpiFailed(expected == SPI_OK_SELECT ? "SELECT" : "INSERT", rc);
	if (SPI_processed > 0)
	{
		bool		isnull;

		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
										 &isnull));
	}
	LedgerLeave(&la);
	return id;
}

/* The id of the event of call ref whose stored body has this digest, or -1. */
int64
liveid_event_find(const char *ref, const uint8 *digest)
{
	Datum		values[2];
	char		nulls[2] = {' ', ' '};

	liveid_spi_uuid(values, nulls, 0, ref);
	values[1] = PointerGetDatum(liveid_bytea(digest, PG_SHA256_DIGEST_LENGTH));
	return EventStatement(&event_find_stmt, values, nulls, SPI_OK_SELECT);
}

/*
 * Stores one event (or finds the same delivery stored meanwhile by a
 * concurrent transaction); returns its id.
 */
int64
liveid_event_insert(const LiveidEvent *ev)
{
	Datum		values[12];
	char		nulls[12];
	int64		id;

	liveid_spi_text(values, nulls, 0, ev->uid);
	liveid_spi_uuid(values, nulls, 1, ev->ref);
	liveid_spi_text(values, nulls, 2, ev->id_conference);
	liveid_spi_text(values, nulls, 3, ev->event);
	liveid_spi_text(values, nulls, 4, ev->close_status);
	liveid_spi_text(values, nulls, 5, ev->abort_code);
	liveid_spi_text(values, nulls, 6, ev->note);
	liveid_spi_text(values, nulls, 7, ev->confirmed_status);
	liveid_spi_text(values, nulls, 8, ev->confirmed_close_status);
	values[9] = BoolGetDatum(ev->mismatch);
	nulls[9] = ' ';
	values[10] = JsonbPGetDatum(ev->payload);
	nulls[10] = ' ';
	values[11] = PointerGetDatum(liveid_bytea(ev->digest, PG_SHA256_DIGEST_LENGTH));
	nulls[11] = ' ';
	id = EventStatement(&event_insert_stmt, values, nulls, SPI_OK_INSERT_RETURNING);
	if (id < 0)
		id = liveid_event_find(ev->ref, ev->digest);
	if (id < 0)
		elog(ERROR, "a callback event of call %s was neither stored nor found", ev->uid);
	return id;
}

/* ---- for calldata.c: calls named by their conference, and rejected calls ---- */

/*
 * run as the caller, so that row-level security decides what it finds: the
 * call's latest conference, or one a callback of it named
 */
static LedgerStatement conference_stmt = {
	"SELECT c.organization FROM liveid.calls c WHERE c.id_conference = $1 "
	"OR EXISTS (SELECT FROM liveid.call_events e WHERE e.uid = c.uid AND e.id_conference = $1) "
	"ORDER BY c.created_at DESC LIMIT 1",
	1,
	{TEXTOID},
	NULL
};

static LedgerStatement reject_stmt = {
	"UPDATE liveid.calls SET status = 'rejected', closed_at = now() WHERE uid = $1 "
	"RETURNING ref::text",
	1,
	{TEXTOID},
	NULL
};

/*
 * The organization of the call whose conference (as the ledger records it)
 * is id_conference, as the caller may see it: 22023 for a liveid_user when
 * none is visible, before anything is sent; NULL for liveid_admin when the
 * ledger has none.
 */
char *
liveid_ledger_conference(const char *id_conference, const char *what)
{
	bool		found;
	char	   *organization;

	liveid_ledger_guard(what);
	organization = VisibleOrganization(&conference_stmt, id_conference, &found);
	if (!found && !IsLedgerAdmin())
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no call with id_conference \"%s\" is visible in liveid.calls", id_conference),
				 errdetail("A member of liveid_user may name only the conferences of calls it started."),
				 errhint("Call liveid.async_request_info() on the call first, or ask a member of liveid_admin.")));
	return organization;
}

/* Records that the call uid was rejected, as the ledger's owner, and notifies it. */
void
liveid_ledger_reject(const char *uid)
{
	Datum		values[1];
	char		nulls[1];
	char	   *ref;

	liveid_spi_text(values, nulls, 0, uid);
	ref = LedgerChange(&reject_stmt, values, nulls);
	if (ref)
		liveid_ledger_notify(uid, ref, "rejected", NULL);
}

/*
 * ---- for metrics.c: the snapshots of liveid.metrics ----
 *
 * Written like the ledger (see the file header): as liveid.metrics' owner
 * in a restricted operation, under the pinned path, with the ledger flag
 * raised, so that an object on the table calling liveid is 55000.
 */
static LedgerStatement metrics_insert_stmt = {
	"INSERT INTO liveid.metrics (taken_at, organization, process, available_operators, "
	"waiting, average_wait, calls) "
	"SELECT $1, $2, NULL, $3, NULL, $4, $5 "
	"UNION ALL SELECT $1, $2, u.p, NULL, u.w, NULL, NULL FROM unnest($6, $7) AS u(p, w)",
	7,
	{TIMESTAMPTZOID, TEXTOID, INT4OID, INTERVALOID, INT4OID, UUIDARRAYOID, INT4ARRAYOID},
	NULL
};

static LedgerStatement metrics_prune_stmt = {
	"DELETE FROM liveid.metrics WHERE taken_at < $1",
	1,
	{TIMESTAMPTZOID},
	NULL
};

/* run as the caller: the processes of an organization's calls, in order */
static LedgerStatement metrics_processes_stmt = {
	"SELECT DISTINCT v.p FROM liveid.calls c, "
	"LATERAL (VALUES (c.process), (c.process_live), (c.process_self)) AS v(p) "
	"WHERE c.organization = $1 AND v.p IS NOT NULL ORDER BY v.p LIMIT $2",
	2,
	{TEXTOID, INT4OID},
	NULL
};

/* The OID of liveid.metrics. */
static Oid
MetricsRelid(void)
{
	return TableRelid("metrics", "metrics");
}

/*
 * Raises, before anything is sent, what would keep a snapshot from being
 * written: 55000 inside a ledger write, 25006 on a standby or in a
 * read-only transaction, 25000 in parallel mode, 42P01 without the table.
 */
void
liveid_metrics_ready(const char *what)
{
	liveid_ledger_guard(what);
	PreventCommandDuringRecovery(what);
	PreventCommandIfReadOnly(what);
	PreventCommandIfParallelMode(what);
	LockRelationOid(MetricsRelid(), RowExclusiveLock);
	(void) GetCurrentTransactionId();
}

/*
 * The distinct processes (process, process_live, process_self) of the
 * calls of organization the caller may see, at most max, as uuid Datums
 * palloc'd in the current memory context; returns how many.
 */
int
liveid_metrics_processes(const char *organization, int max, Datum **processes)
{
	MemoryContext caller_cxt = CurrentMemoryContext;
	Datum		values[2] = {CStringGetTextDatum(organization), Int32GetDatum(max)};
	LedgerAccess la;
	int			rc;
	int			n;

	LedgerEnter(&la, false);
	rc = LedgerExecute(&metrics_processes_stmt, values, "  ", 0);
	if (rc != SPI_OK_SELECT)
		SpiFailed("SELECT", rc);
	n = (int) SPI_processed;
	*processes = MemoryContextAlloc(caller_cxt, sizeof(Datum) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		bool		isnull;
		Datum		d = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);

		/* copied out of SPI's memory, which LedgerLeave() frees */
		(*processes)[i] = PointerGetDatum(MemoryContextAlloc(caller_cxt, UUID_LEN));
		memcpy(DatumGetPointer((*processes)[i]), DatumGetPointer(d), UUID_LEN);
	}
	LedgerLeave(&la);
	return n;
}

/*
 * Writes one snapshot as liveid.metrics' owner, then deletes the snapshots
 * taken before prune_before; returns the rows written.
 * liveid_metrics_ready() must have run in this transaction.
 */
int
liveid_metrics_write(const LiveidSnapshot *snap, TimestampTz prune_before)
{
	Datum		values[7];
	Datum		prune[1] = {TimestampTzGetDatum(prune_before)};
	LedgerAccess la;
	int			written;
	int			rc;

	values[0] = TimestampTzGetDatum(snap->taken_at);
	values[1] = CStringGetTextDatum(snap->organization);
	values[2] = Int32GetDatum(snap->available_operators);
	values[3] = IntervalPGetDatum(snap->average_wait);
	values[4] = Int32GetDatum(snap->calls);
	values[5] = PointerGetDatum(construct_array(snap->processes, snap->nprocesses,
												UUIDOID, UUID_LEN, false, TYPALIGN_CHAR));
	values[6] = PointerGetDatum(construct_array(snap->waiting, snap->nprocesses,
												INT4OID, sizeof(int32), true, TYPALIGN_INT));

	TableEnter(&la, TableOwner(MetricsRelid()));
	rc = LedgerExecute(&metrics_insert_stmt, values, "       ", 0);
	if (rc != SPI_OK_INSERT)
		SpiFailed("INSERT", rc);
	written = (int) SPI_processed;
	rc = LedgerExecute(&metrics_prune_stmt, prune, " ", 0);
	if (rc != SPI_OK_DELETE)
		SpiFailed("DELETE", rc);
	LedgerLeave(&la);
	return written;
}

/*
 * ---- for outbox.c: the outbox, written the same way ----
 *
 * As the owner of liveid.<table> in a restricted operation, under the
 * pinned path, with the ledger flag raised.
 */
void
liveid_owner_enter(LiveidTableAccess *la, const char *table)
{
	TableEnter(la, TableOwner(TableRelid(table, "outbox")));
}

int
liveid_owner_execute(LiveidStatement *st, Datum *values, const char *nulls, long tcount)
{
	return LedgerExecute(st, values, nulls, tcount);
}

void
liveid_owner_leave(LiveidTableAccess *la)
{
	LedgerLeave(la);
}
