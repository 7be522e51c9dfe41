/*-------------------------------------------------------------------------
 *
 * ledger.c
 *		The call ledger liveid.calls: service_start records every call it
 *		starts, async_request_info brings a row up to date.
 *
 * Users may read the ledger but not write it, so both write it as the
 * table's owner: SetUserIdAndSecContext() to the owner, with
 * SECURITY_RESTRICTED_OPERATION, so that nothing of the caller's (SET ROLE,
 * an operator in a schema of theirs) runs with the owner's rights.  The
 * caller is GetUserId() taken before the switch: the role in force when
 * service_start was called (after SET ROLE, that role).  We do not make the
 * SQL functions SECURITY DEFINER: the HTTP call, the settings it reads and
 * every check would then run as the owner too.  An ERROR between the switch
 * and its undoing needs no PG_TRY: (sub)transaction abort restores the user,
 * the security context and the GUC nest level.
 *
 * Recording a call is on the path of every start, so it does not go through
 * SQL: the row is built here and stored with ExecSimpleRelationInsert(), the
 * executor's own single-row insert (the one logical replication applies rows
 * with), which checks the table's constraints, inserts into every index and
 * fires row triggers, in the caller's transaction.  No statement is parsed or
 * planned and no operator is looked up, so no search_path is involved;
 * should the owner have put triggers on the ledger, search_path is pinned to
 * pg_catalog, pg_temp around the insert, as it is for the UPDATE below.
 * Columns an owner added are filled with their defaults; one of ours whose
 * type was changed is an error rather than a wrong value.  Statement
 * triggers and rules do not fire: there is no INSERT statement.
 *
 * Bringing a row up to date is an SPI UPDATE whose plan is kept for the
 * backend, run with that pinned search_path.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/uuid.h"

/* the columns service_start writes, with their types */
enum
{
	COL_UID,
	COL_ORGANIZATION,
	COL_PROCESS,
	COL_EXTERNAL_ID,
	COL_LAUNCH_URL,
	COL_CREATED_AT,
	COL_CREATED_BY,
	COL_STATUS,
	COL_CLOSE_STATUS,
	COL_ID_CONFERENCE,
	COL_CLOSED_AT,
	COL_PROCESS_LIVE,
	COL_PROCESS_SELF,
	COL_METHOD,
	COL_EXPIRE,
	NUM_COLS
};

static const struct
{
	const char *name;
	Oid			type;
}			ledger_cols[NUM_COLS] = {
	[COL_UID] = {"uid", TEXTOID},
	[COL_ORGANIZATION] = {"organization", TEXTOID},
	[COL_PROCESS] = {"process", UUIDOID},
	[COL_EXTERNAL_ID] = {"external_id", TEXTOID},
	[COL_LAUNCH_URL] = {"launch_url", TEXTOID},
	[COL_CREATED_AT] = {"created_at", TIMESTAMPTZOID},
	[COL_CREATED_BY] = {"created_by", NAMEOID},
	[COL_STATUS] = {"status", TEXTOID},
	[COL_CLOSE_STATUS] = {"close_status", TEXTOID},
	[COL_ID_CONFERENCE] = {"id_conference", TEXTOID},
	[COL_CLOSED_AT] = {"closed_at", TIMESTAMPTZOID},
	[COL_PROCESS_LIVE] = {"process_live", UUIDOID},
	[COL_PROCESS_SELF] = {"process_self", UUIDOID},
	[COL_METHOD] = {"method", TEXTOID},
	[COL_EXPIRE] = {"expire", TIMESTAMPTZOID},
};

/* the UPDATE of liveid_ledger_update, prepared once per backend */
static SPIPlanPtr update_plan = NULL;

/* what LedgerBecomeOwner() changed, for LedgerRestore() */
typedef struct LedgerAccess
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;	/* 0: search_path untouched */
} LedgerAccess;

/* The OID of liveid.calls; an error if the extension's table is gone. */
static Oid
LedgerRelid(void)
{
	Oid			nsp = get_namespace_oid("liveid", true);
	Oid			relid = OidIsValid(nsp) ? get_relname_relid("calls", nsp) : InvalidOid;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the ledger liveid.calls does not exist"),
				 errhint("CREATE EXTENSION liveid in this database.")));
	return relid;
}

/*
 * Becomes the owner of the ledger rel, in a restricted operation, with
 * search_path pinned when pin_path (see the file header).
 */
static void
LedgerBecomeOwner(LedgerAccess *la, Relation rel, bool pin_path)
{
	GetUserIdAndSecContext(&la->save_userid, &la->save_sec_context);
	SetUserIdAndSecContext(rel->rd_rel->relowner,
						   la->save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	la->save_nestlevel = 0;
	if (pin_path)
	{
		la->save_nestlevel = NewGUCNestLevel();
		(void) set_config_option("search_path", "pg_catalog, pg_temp",
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
								 true, 0, false);
	}
}

/* Undoes LedgerBecomeOwner(). */
static void
LedgerRestore(LedgerAccess *la)
{
	if (la->save_nestlevel > 0)
		AtEOXact_GUC(true, la->save_nestlevel);
	SetUserIdAndSecContext(la->save_userid, la->save_sec_context);
}

/* A text Datum, or a null. */
static void
SetText(Datum *values, bool *isnull, int col, const char *s)
{
	if (s)
		values[col] = CStringGetTextDatum(s);
	else
		isnull[col] = true;
}

/* A uuid Datum from its (checked) text, or a null. */
static void
SetUuid(Datum *values, bool *isnull, int col, const char *s)
{
	if (s)
		values[col] = DirectFunctionCall1(uuid_in, CStringGetDatum(s));
	else
		isnull[col] = true;
}

/*
 * The index in ledger_cols of the column attr, or -1 for a column an owner
 * added; an error if one of ours no longer has its type.
 */
static int
KnownColumn(Form_pg_attribute attr)
{
	for (int i = 0; i < NUM_COLS; i++)
	{
		if (strcmp(NameStr(attr->attname), ledger_cols[i].name) != 0)
			continue;
		if (attr->atttypid != ledger_cols[i].type)
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column \"%s\" of the ledger liveid.calls has type %s, not %s",
							ledger_cols[i].name, format_type_be(attr->atttypid),
							format_type_be(ledger_cols[i].type)),
					 errhint("Give the column back its type, or drop and create the extension again.")));
		return i;
	}
	return -1;
}

/* a ledger row readied by liveid_ledger_prepare() */
struct LiveidLedgerRow
{
	Relation	rel;
	EState	   *estate;
	ResultRelInfo *rri;
	TupleTableSlot *slot;
	int			uid_att;		/* slot positions of uid and launch_url */
	int			url_att;
};

/*
 * Fills the slot of row with the row of call, but uid and launch_url: our
 * columns from call, the others with their defaults (or null).  Every
 * column of ours must be there.  Runs as the ledger's owner (the defaults
 * of an owner's columns may need the owner's rights).
 */
static void
FillRow(LiveidLedgerRow *row, const LiveidCall *call, const char *created_by)
{
	Relation	rel = row->rel;
	TupleDesc	desc = RelationGetDescr(rel);
	TupleTableSlot *slot = row->slot;
	Datum		values[NUM_COLS];
	bool		isnull[NUM_COLS];
	bool		found[NUM_COLS];

	memset(values, 0, sizeof(values));
	memset(isnull, 0, sizeof(isnull));
	memset(found, 0, sizeof(found));
	isnull[COL_UID] = isnull[COL_LAUNCH_URL] = true;	/* set on record */
	SetText(values, isnull, COL_ORGANIZATION, call->organization);
	SetUuid(values, isnull, COL_PROCESS, call->process);
	SetText(values, isnull, COL_EXTERNAL_ID, call->external_id);
	values[COL_CREATED_AT] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	values[COL_CREATED_BY] = DirectFunctionCall1(namein, CStringGetDatum(created_by));
	values[COL_STATUS] = CStringGetTextDatum("created");
	isnull[COL_CLOSE_STATUS] = true;
	isnull[COL_ID_CONFERENCE] = true;
	isnull[COL_CLOSED_AT] = true;
	SetUuid(values, isnull, COL_PROCESS_LIVE, call->process_live);
	SetUuid(values, isnull, COL_PROCESS_SELF, call->process_self);
	SetText(values, isnull, COL_METHOD, call->method);
	if (call->expire)
		values[COL_EXPIRE] = TimestampTzGetDatum(*call->expire);
	else
		isnull[COL_EXPIRE] = true;

	ExecClearTuple(slot);
	for (int a = 0; a < desc->natts; a++)
	{
		Form_pg_attribute attr = TupleDescAttr(desc, a);
		int			col;

		slot->tts_isnull[a] = true;
		slot->tts_values[a] = (Datum) 0;
		if (attr->attisdropped || attr->attgenerated)
			continue;			/* generated ones are computed on insert */
		col = KnownColumn(attr);
		if (col >= 0)
		{
			slot->tts_values[a] = values[col];
			slot->tts_isnull[a] = isnull[col];
			found[col] = true;
			if (col == COL_UID)
				row->uid_att = a;
			else if (col == COL_LAUNCH_URL)
				row->url_att = a;
		}
		else
		{
			Node	   *def = build_column_default(rel, a + 1);

			if (def != NULL)
			{
				ExprState  *state = ExecPrepareExpr((Expr *) def, row->estate);

				slot->tts_values[a] =
					ExecEvalExprSwitchContext(state, GetPerTupleExprContext(row->estate),
											  &slot->tts_isnull[a]);
			}
		}
	}
	for (int i = 0; i < NUM_COLS; i++)
		if (!found[i])
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("the ledger liveid.calls has no column \"%s\"", ledger_cols[i].name),
					 errhint("Add the column back, or drop and create the extension again.")));
}

/*
 * Readies the ledger row of a call about to start (all but its uid and
 * launch URL, which the service's answer gives): opens the table and its
 * indexes, checks the columns, computes the values, and takes the
 * transaction's id.  service_start does this while the service answers.
 */
LiveidLedgerRow *
liveid_ledger_prepare(const LiveidCall *call)
{
	char	   *created_by = GetUserNameFromId(GetUserId(), false);
	LiveidLedgerRow *row = palloc0(sizeof(LiveidLedgerRow));
	RangeTblEntry *rte;
	LedgerAccess la;

	row->rel = table_open(LedgerRelid(), RowExclusiveLock);
	if (row->rel->rd_rel->relkind != RELKIND_RELATION)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("the ledger liveid.calls is not a table")));

	row->estate = CreateExecutorState();
	rte = makeNode(RangeTblEntry);
	rte->rtekind = RTE_RELATION;
	rte->relid = RelationGetRelid(row->rel);
	rte->relkind = row->rel->rd_rel->relkind;
	rte->rellockmode = RowExclusiveLock;
#if PG_VERSION_NUM >= 160000
	{
		RTEPermissionInfo *perm = makeNode(RTEPermissionInfo);

		perm->relid = RelationGetRelid(row->rel);
		rte->perminfoindex = 1;
		ExecInitRangeTable(row->estate, list_make1(rte), list_make1(perm));
	}
#else
	ExecInitRangeTable(row->estate, list_make1(rte));
#endif
	row->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(row->rri, row->rel, 1, NULL, 0);
	/* lets ExecGetTriggerResultRel() find it, as logical replication does */
	row->estate->es_opened_result_relations = list_make1(row->rri);
	ExecOpenIndices(row->rri, false);
	/* what ExecInsertIndexTuples() would build for partial indexes, now */
	for (int i = 0; i < row->rri->ri_NumIndices; i++)
	{
		IndexInfo  *ii = row->rri->ri_IndexRelationInfo[i];

		if (ii->ii_Predicate != NIL && ii->ii_PredicateState == NULL)
			ii->ii_PredicateState = ExecPrepareQual(ii->ii_Predicate, row->estate);
	}
	row->slot = ExecInitExtraTupleSlot(row->estate, RelationGetDescr(row->rel),
									   &TTSOpsVirtual);

	LedgerBecomeOwner(&la, row->rel, false);
	FillRow(row, call, created_by);
	LedgerRestore(&la);

	(void) GetCurrentTransactionId();
	return row;
}

/*
 * Records the call row was readied for, now that the service named it, in
 * the caller's transaction, as the ledger's owner (see the file header).
 */
void
liveid_ledger_record(LiveidLedgerRow *row, const char *uid, const char *launch_url)
{
	TupleTableSlot *slot = row->slot;
	LedgerAccess la;

	slot->tts_values[row->uid_att] = CStringGetTextDatum(uid);
	slot->tts_isnull[row->uid_att] = false;
	slot->tts_values[row->url_att] = CStringGetTextDatum(launch_url);
	slot->tts_isnull[row->url_att] = false;
	ExecStoreVirtualTuple(slot);

	LedgerBecomeOwner(&la, row->rel, row->rel->trigdesc != NULL);
	row->estate->es_output_cid = GetCurrentCommandId(true);
	AfterTriggerBeginQuery();
	ExecSimpleRelationInsert(row->rri, row->estate, slot);
	AfterTriggerEndQuery(row->estate);
	LedgerRestore(&la);

	ExecCloseResultRelations(row->estate);
	ExecResetTupleTable(row->estate->es_tupleTable, false);
	FreeExecutorState(row->estate);
	table_close(row->rel, NoLock);
	pfree(row);

	/* the row is seen by what the caller does next, as after an INSERT */
	CommandCounterIncrement();
}

/*
 * Brings the ledger row of uid up to date, as the ledger's owner; a uid not
 * in the ledger changes nothing, nor does a row already up to date (no new
 * row version for a poll that learnt nothing).
 */
void
liveid_ledger_update(const char *uid, const char *status,
					 const char *close_status, const char *id_conference,
					 const TimestampTz *closed_at)
{
	static Oid	types[] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
	Datum		values[lengthof(types)];
	char		nulls[lengthof(types)];
	Relation	rel;
	LedgerAccess la;
	int			rc;

	memset(nulls, ' ', sizeof(nulls));
	values[0] = CStringGetTextDatum(uid);
	values[1] = CStringGetTextDatum(status);
	if (close_status)
		values[2] = CStringGetTextDatum(close_status);
	else
		nulls[2] = 'n';
	values[3] = CStringGetTextDatum(id_conference);
	if (closed_at)
		values[4] = TimestampTzGetDatum(*closed_at);
	else
		nulls[4] = 'n';

	rel = table_open(LedgerRelid(), RowExclusiveLock);
	LedgerBecomeOwner(&la, rel, true);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (update_plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare("UPDATE liveid.calls SET status = $2, close_status = $3, "
									"id_conference = $4, closed_at = $5 "
									"WHERE uid = $1 AND (status, close_status, id_conference, closed_at) "
									"IS DISTINCT FROM ($2, $3, $4, $5)",
									lengthof(types), types);

		if (p == NULL)
			elog(ERROR, "SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
		SPI_keepplan(p);
		update_plan = p;
	}
	rc = SPI_execute_plan(update_plan, values, nulls, false, 0);
	if (rc != SPI_OK_UPDATE)
		elog(ERROR, "could not update liveid.calls: %s", SPI_result_code_string(rc));
	SPI_finish();
	LedgerRestore(&la);
	table_close(rel, NoLock);
}
