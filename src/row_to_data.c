/*-------------------------------------------------------------------------
 *
 * row_to_data.c
 *		liveid.row_to_data(): a row as the data object, one field per
 *		column, with the plan it keeps per call site.
 *
 * Everything that does not depend on the row's values (keys, datatypes,
 * labels, orders, displays, attributes, output functions) is worked out
 * once per call site and kept in fn_extra as the finished JsonbValue tree;
 * each row then only writes its value texts into the tree and serializes
 * it.  docs/payload.md describes labels, options and the plan.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "access/htup_details.h"
#include "access/tupdesc.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/comment.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/typcache.h"

/* one column of row_to_data's plan */
typedef struct PlanColumn
{
	int			attno;			/* index in the tuple descriptor */
	const char *name;
	LiveidType	type;
	const char *datatype;		/* the field's datatype (inferred or given) */
	LiveidTimeForm form;
	bool		check;			/* datatype given: check every value */
	FmgrInfo	outfn;
	JsonbValue *datatype_v;		/* its "datatype" member's value */
	JsonbValue *value_v;		/* its "value" member's value */
	char		buf[LIVEID_VALUE_BUF_LEN];
} PlanColumn;

/* row_to_data's cache: everything that does not depend on the values */
typedef struct RowPlan
{
	MemoryContext cxt;			/* owns the plan; child of fn_mcxt */
	Oid			typid;
	int32		typmod;
	uint64		tupdesc_id;		/* the type cache's, for named row types */
	Jsonb	   *labels;			/* copies of the arguments (or NULL) */
	Jsonb	   *options;
	TupleDesc	tupdesc;
	Datum	   *values;
	bool	   *nulls;
	int			ncolumns;
	PlanColumn *columns;
	JsonbValue	data;			/* the data object, its values set per row */
} RowPlan;

/* what the labels and options say about one column */
typedef struct ColumnSpec
{
	bool		dropped;
	int			order;			/* position among the non-dropped columns */
	const char *label;
	bool		exclude;
	bool		hidden;			/* named in "hidden" */
	bool		operator_only;	/* named in "operator_only" */
	bool		readonly;
	const char *datatype;		/* from "datatypes", or NULL */
	JsonbContainer *attributes; /* from "attributes", or NULL */
} ColumnSpec;

/* the option keys of row_to_data */
#define ROW_OPTIONS "exclude, hidden, operator_only, readonly, datatypes and attributes"

/* The column named name[0..len) among the non-dropped ones, or -1. */
static int
FindColumn(TupleDesc tupdesc, const char *name, int len)
{
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (!att->attisdropped && strlen(NameStr(att->attname)) == len &&
			memcmp(NameStr(att->attname), name, len) == 0)
			return i;
	}
	return -1;
}

/* "a, b, c": the row's column names, for messages. */
static char *
ColumnList(TupleDesc tupdesc)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (att->attisdropped)
			continue;
		appendStringInfo(&s, "%s%s", s.len ? ", " : "", NameStr(att->attname));
	}
	return s.data;
}

/* The index of a column an argument names; 22023 naming both otherwise. */
static int
NamedColumn(TupleDesc tupdesc, const JsonbValue *name, const char *where)
{
	int			i;

	if (name->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for %s", where),
				 errdetail("Columns are named by JSON strings."),
				 errhint("Write the column names as strings, e.g. [\"birth_date\"].")));
	i = FindColumn(tupdesc, name->val.string.val, name->val.string.len);
	if (i < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s names an unknown column \"%s\"", where,
						pnstrdup(name->val.string.val, name->val.string.len)),
				 errdetail("The row's columns are: %s.", ColumnList(tupdesc)),
				 errhint("Name the row's columns exactly (case matters).")));
	return i;
}

/* Reads labels: an object column name -> label string. */
static void
ReadLabels(Jsonb *labels, TupleDesc tupdesc, ColumnSpec *spec)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;

	if (!JB_ROOT_IS_OBJECT(labels))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for argument \"labels\""),
				 errdetail("The labels are a JSON object that maps a column name to its label."),
				 errhint("Pass e.g. labels => '{\"birth_date\": \"Date of birth\"}'.")));
	it = JsonbIteratorInit(&labels->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		int			i;

		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &v, true);
		i = NamedColumn(tupdesc, &k, "argument \"labels\"");
		if (v.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid label for column \"%s\"", NameStr(TupleDescAttr(tupdesc, i)->attname)),
					 errdetail("A label must be a JSON string."),
					 errhint("Pass e.g. labels => '{\"birth_date\": \"Date of birth\"}'.")));
		spec[i].label = pnstrdup(v.val.string.val, v.val.string.len);
	}
}

/*
 * Reads a column-list option (exclude, hidden, operator_only, readonly):
 * true (every column), false (none) or an array of column names.  Sets the
 * flag at offset in each named ColumnSpec; returns true for "true".
 */
static bool
ReadColumnList(const char *option, const JsonbValue *v, TupleDesc tupdesc,
			   ColumnSpec *spec, size_t offset)
{
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;
	char	   *where;

	if (v->type == jbvBool)
		return v->val.boolean;
	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\"", option),
				 errdetail("\"%s\" must be true (every column) or a JSON array of column names.", option),
				 errhint("Pass e.g. options => '{\"%s\": [\"birth_date\"]}'.", option)));
	where = psprintf("option \"%s\"", option);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		*(bool *) ((char *) &spec[NamedColumn(tupdesc, &e, where)] + offset) = true;
	}
	return false;
}

/* Reads an option that maps a column name to something: the pairs' container. */
static JsonbContainer *
ColumnMap(const char *option, const JsonbValue *v, const char *example)
{
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for option \"%s\"", option),
				 errdetail("\"%s\" must be a JSON object keyed by column name.", option),
				 errhint("Pass e.g. options => '{\"%s\": %s}'.", option, example)));
	return v->val.binary.data;
}

/* the column-list options, and the flag of ColumnSpec each sets */
static const struct
{
	const char *name;
	size_t		offset;
}			column_lists[] =
{
	{"exclude", offsetof(ColumnSpec, exclude)},
	{"hidden", offsetof(ColumnSpec, hidden)},
	{"operator_only", offsetof(ColumnSpec, operator_only)},
	{"readonly", offsetof(ColumnSpec, readonly)},
};

/* indexes into column_lists */
enum
{
	LIST_EXCLUDE, LIST_HIDDEN, LIST_OPERATOR_ONLY, LIST_READONLY
};

/*
 * Reads an option that maps column names to something (datatypes: a
 * datatype string; attributes: an object of HTML attributes) into the
 * column specs.  What the values say is checked once they are written.
 */
static void
ReadColumnMap(const char *option, const JsonbValue *v, TupleDesc tupdesc,
			  ColumnSpec *spec)
{
	bool		datatypes = strcmp(option, "datatypes") == 0;
	JsonbIterator *it;
	JsonbValue	k,
				m;
	JsonbIteratorToken tok;

	it = JsonbIteratorInit(ColumnMap(option, v, datatypes ? "{\"expiry\": \"month\"}" :
									 "{\"fiscal_code\": {\"maxlength\": 16}}"));
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		int			i;

		if (tok != WJB_KEY)
			continue;
		i = NamedColumn(tupdesc, &k, psprintf("option \"%s\"", option));
		tok = JsonbIteratorNext(&it, &m, true);
		if (datatypes)
		{
			if (m.type != jbvString)
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid datatype for column \"%s\"", NameStr(TupleDescAttr(tupdesc, i)->attname)),
						 errdetail("A datatype is a JSON string: one of text, date, email, number, tel, checkbox, month, time, url."),
						 errhint("Pass e.g. options => '{\"datatypes\": {\"expiry\": \"month\"}}'.")));
			spec[i].datatype = pnstrdup(m.val.string.val, m.val.string.len);
		}
		else
		{
			if (m.type != jbvBinary || !JsonContainerIsObject(m.val.binary.data))
				ereport(ERROR,
						(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						 errmsg("invalid attributes for data field \"%s\"", NameStr(TupleDescAttr(tupdesc, i)->attname)),
						 errdetail("The attributes of a field are a JSON object of HTML attributes."),
						 errhint("Pass e.g. options => '{\"attributes\": {\"fiscal_code\": {\"maxlength\": 16}}}'.")));
			/* points into the plan's copy of options, which lives as long */
			spec[i].attributes = m.val.binary.data;
		}
	}
}

/*
 * Applies the column lists given as true (all[i]) to every column, and
 * refuses a column both hidden and operator_only.
 */
static void
ResolveColumnLists(TupleDesc tupdesc, ColumnSpec *spec, const bool *all)
{
	if (all[LIST_HIDDEN] && all[LIST_OPERATOR_ONLY])
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options \"hidden\" and \"operator_only\" are both true"),
				 errdetail("A field has one display: \"none\" (hidden) or \"operator\" (operator_only)."),
				 errhint("Make one of them true and list the exceptions in the other.")));
	for (int i = 0; i < tupdesc->natts; i++)
	{
		ColumnSpec *s = &spec[i];

		if (s->hidden && s->operator_only)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("column \"%s\" is in both \"hidden\" and \"operator_only\"", NameStr(TupleDescAttr(tupdesc, i)->attname)),
					 errdetail("A field has one display: \"none\" (hidden) or \"operator\" (operator_only)."),
					 errhint("Name the column in only one of the two options.")));
		/* a column named in one list wins over "true" in the other */
		s->hidden |= all[LIST_HIDDEN] && !s->operator_only;
		s->operator_only |= all[LIST_OPERATOR_ONLY] && !s->hidden;
		s->exclude |= all[LIST_EXCLUDE];
		s->readonly |= all[LIST_READONLY];
	}
}

/* Reads options (see ROW_OPTIONS) into the column specs. */
static void
ReadOptions(Jsonb *options, TupleDesc tupdesc, ColumnSpec *spec)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	bool		all[lengthof(column_lists)] = {0};

	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for argument \"options\""),
				 errdetail("The options are a JSON object with the keys " ROW_OPTIONS "."),
				 errhint("Pass e.g. options => '{\"hidden\": [\"id\"], \"readonly\": true}'.")));
	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *name;
		int			l;

		if (tok != WJB_KEY)
			continue;
		name = pnstrdup(k.val.string.val, k.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		for (l = 0; l < lengthof(column_lists); l++)
			if (strcmp(name, column_lists[l].name) == 0)
				break;
		if (l < lengthof(column_lists))
			all[l] = ReadColumnList(name, &v, tupdesc, spec, column_lists[l].offset);
		else if (strcmp(name, "datatypes") == 0 || strcmp(name, "attributes") == 0)
			ReadColumnMap(name, &v, tupdesc, spec);
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\"", name),
					 errdetail("The options of liveid.row_to_data are " ROW_OPTIONS "."),
					 errhint("Check the spelling; option names are lower case.")));
	}
	ResolveColumnLists(tupdesc, spec, all);
}

/*
 * A column's name or a field's key made readable: birth_date -> "Birth
 * date" (data_agg labels a label-less field with it too).
 */
char *
liveid_readable_name(const char *name)
{
	StringInfoData s;
	char	   *upper;
	int			first;

	initStringInfo(&s);
	for (const char *p = name; *p; p++)
	{
		if (*p != '_')
			appendStringInfoChar(&s, *p);
		else if (s.len > 0 && p[1] != '\0' && p[1] != '_')
			appendStringInfoChar(&s, ' ');
	}
	if (s.len == 0)
		return pstrdup(name);
	first = pg_mblen(s.data);
	upper = str_toupper(s.data, first, DEFAULT_COLLATION_OID);
	return psprintf("%s%s", upper, s.data + first);
}

/* Raises 22023 when two included columns have the same name (sorted pairs). */
static void
CheckUniqueKeys(const JsonbPair *pairs, int n)
{
	for (int i = 1; i < n; i++)
		if (liveid_pair_compare(&pairs[i - 1], &pairs[i]) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the row has two columns named \"%s\"",
							pnstrdup(pairs[i].key.val.string.val, pairs[i].key.val.string.len)),
					 errdetail("Each column becomes the data field of its name, and field keys are unique."),
					 errhint("Give the columns distinct aliases, or exclude one of them.")));
}

/* The type cache's identifier of a named row type's descriptor (0 for records). */
static uint64
TupdescId(Oid typid)
{
	if (typid == RECORDOID)
		return 0;
	return lookup_type_cache(typid, TYPECACHE_TUPDESC)->tupDesc_identifier;
}

/* True when a jsonb argument equals the plan's copy (both may be NULL). */
static bool
SameJsonb(const Jsonb *a, const Jsonb *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return a == b || (VARSIZE(a) == VARSIZE(b) && memcmp(a, b, VARSIZE(a)) == 0);
}

/* A copy of a (detoasted) jsonb in the current context; NULL stays NULL. */
static Jsonb *
CopyJsonb(const Jsonb *j)
{
	Jsonb	   *copy;

	if (j == NULL)
		return NULL;
	copy = palloc(VARSIZE(j));
	memcpy(copy, j, VARSIZE(j));
	return copy;
}

/* A jsonb argument, detoasted (NULL for SQL NULL). */
static Jsonb *
JsonbArg(FunctionCallInfo fcinfo, int argno)
{
	return PG_ARGISNULL(argno) ? NULL : PG_GETARG_JSONB_P(argno);
}

/*
 * What the labels and options say about each column of td, with each
 * column's position among the non-dropped ones.
 */
static ColumnSpec *
ReadColumnSpecs(TupleDesc td, Jsonb *labels, Jsonb *options)
{
	ColumnSpec *spec = palloc0(sizeof(ColumnSpec) * Max(td->natts, 1));
	int			position = 0;

	for (int i = 0; i < td->natts; i++)
	{
		spec[i].dropped = TupleDescAttr(td, i)->attisdropped;
		spec[i].order = spec[i].dropped ? 0 : ++position;
	}
	if (labels)
		ReadLabels(labels, td, spec);
	if (options)
		ReadOptions(options, td, spec);
	return spec;
}

/* The pair among a field's sorted pairs whose key is key[0..len), or NULL. */
static JsonbValue *
FindMember(JsonbPair *pairs, int n, const char *key, int len)
{
	for (int m = 0; m < n; m++)
		if (pairs[m].key.val.string.len == len &&
			memcmp(pairs[m].key.val.string.val, key, len) == 0)
			return &pairs[m].value;
	return NULL;
}

/*
 * Plans one column's field as *field: every member but the value, each
 * checked once here as it is written (a given datatype, the attributes);
 * the rest is ours and follows the rules by construction.
 */
static void
PlanField(PlanColumn *c, Form_pg_attribute att, const ColumnSpec *s, Oid relid,
		  MemoryContext cxt, JsonbValue *field)
{
	const char *label = s->label;
	JsonbPair  *pairs;
	JsonbValue *v;
	int			n = 0;

	c->name = NameStr(att->attname);
	liveid_infer_type(att->atttypid, c->name, &c->type);
	if (c->type.kind == VK_OUTPUT)
		fmgr_info_cxt(c->type.typoutput, &c->outfn, cxt);
	c->datatype = s->datatype ? s->datatype : c->type.datatype;
	/* a given datatype is checked now, and against each row's value */
	c->check = s->datatype != NULL;
	if (c->check)
		liveid_check_field_datatype(c->name, c->datatype);
	c->form = liveid_time_form(c->type.kind, c->datatype);
	if (label == NULL && OidIsValid(relid))
		label = GetComment(relid, RelationRelationId, att->attnum);
	if (label == NULL)
		label = liveid_readable_name(c->name);

	pairs = palloc(sizeof(JsonbPair) * (6 + liveid_attribute_count(s->attributes)));
	liveid_set_string(liveid_set_member(pairs, &n, "datatype", 8), c->datatype, strlen(c->datatype));
	liveid_set_string(liveid_set_member(pairs, &n, "label", 5), label, strlen(label));
	liveid_set_string(liveid_set_member(pairs, &n, "value", 5), "", 0);
	v = liveid_set_member(pairs, &n, "order", 5);
	v->type = jbvNumeric;
	v->val.numeric = int64_to_numeric(s->order);
	if (s->hidden || s->operator_only)
		liveid_set_string(liveid_set_member(pairs, &n, "display", 7),
						  s->hidden ? "none" : "operator", s->hidden ? 4 : 8);
	if (s->readonly)
	{
		v = liveid_set_member(pairs, &n, "readonly", 8);
		v->type = jbvBool;
		v->val.boolean = true;
	}
	/* last, so that they win over readonly; checked in the walk that adds them */
	if (s->attributes)
		liveid_add_attributes(pairs, &n, s->attributes, c->name, true);

	liveid_set_object(field, pairs, n);
	/* the members moved while sorting: find the two set per row */
	c->datatype_v = FindMember(pairs, n, "datatype", 8);
	c->value_v = FindMember(pairs, n, "value", 5);
}

/*
 * Works out the plan of a row type and of the labels and options: the
 * data object's tree with every field's members but the values.
 */
static RowPlan *
MakeRowPlan(MemoryContext parent, Oid typid, int32 typmod, Jsonb *labels, Jsonb *options)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "liveid row_to_data plan",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	RowPlan    *plan = palloc0(sizeof(RowPlan));
	TupleDesc	td = lookup_rowtype_tupdesc(typid, typmod);
	Oid			relid = typid == RECORDOID ? InvalidOid : get_typ_typrelid(typid);
	ColumnSpec *spec;
	JsonbPair  *fields;

	plan->cxt = cxt;
	plan->typid = typid;
	plan->typmod = typmod;
	plan->tupdesc_id = TupdescId(typid);
	plan->tupdesc = CreateTupleDescCopyConstr(td);
	ReleaseTupleDesc(td);
	td = plan->tupdesc;
	plan->labels = CopyJsonb(labels);
	plan->options = CopyJsonb(options);
	plan->values = palloc(sizeof(Datum) * Max(td->natts, 1));
	plan->nulls = palloc(sizeof(bool) * Max(td->natts, 1));
	plan->columns = palloc0(sizeof(PlanColumn) * Max(td->natts, 1));

	/*
	 * Read the plan's own copies: the tree points into them (attributes),
	 * and the arguments may be gone by the next row that reuses the plan.
	 */
	spec = ReadColumnSpecs(td, plan->labels, plan->options);
	fields = palloc(sizeof(JsonbPair) * Max(td->natts, 1));
	for (int i = 0; i < td->natts; i++)
	{
		PlanColumn *c = &plan->columns[plan->ncolumns];

		if (spec[i].dropped || spec[i].exclude)
			continue;
		c->attno = i;
		PlanField(c, TupleDescAttr(td, i), &spec[i], relid, cxt,
				  &fields[plan->ncolumns].value);
		liveid_set_string(&fields[plan->ncolumns].key, c->name, strlen(c->name));
		fields[plan->ncolumns].order = plan->ncolumns;
		plan->ncolumns++;
	}
	liveid_set_object(&plan->data, fields, plan->ncolumns);
	CheckUniqueKeys(fields, plan->ncolumns);
	MemoryContextSwitchTo(old);
	return plan;
}

PG_FUNCTION_INFO_V1(liveid_row_to_data);

/*
 * liveid.row_to_data(r, labels, options): a row as the data object, one
 * field per column; NULL for a NULL row.
 */
Datum
liveid_row_to_data(PG_FUNCTION_ARGS)
{
	RowPlan    *plan = (RowPlan *) fcinfo->flinfo->fn_extra;
	HeapTupleHeader td;
	HeapTupleData tuple;
	Oid			typid;
	int32		typmod;
	Jsonb	   *labels,
			   *options;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	td = PG_GETARG_HEAPTUPLEHEADER(0);
	typid = HeapTupleHeaderGetTypeId(td);
	typmod = HeapTupleHeaderGetTypMod(td);
	labels = JsonbArg(fcinfo, 1);
	options = JsonbArg(fcinfo, 2);

	/*
	 * A plan holds for one row type and one pair of labels and options; an
	 * ALTER of a named row type changes its type cache identifier.
	 */
	if (plan == NULL || plan->typid != typid || plan->typmod != typmod ||
		!SameJsonb(labels, plan->labels) || !SameJsonb(options, plan->options) ||
		(typid != RECORDOID && plan->tupdesc_id != TupdescId(typid)))
	{
		if (plan)
			MemoryContextDelete(plan->cxt);
		/* an error while planning must not leave the freed plan behind */
		fcinfo->flinfo->fn_extra = NULL;
		plan = MakeRowPlan(fcinfo->flinfo->fn_mcxt, typid, typmod, labels, options);
		fcinfo->flinfo->fn_extra = plan;
	}

	tuple.t_len = HeapTupleHeaderGetDatumLength(td);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = td;
	heap_deform_tuple(&tuple, plan->tupdesc, plan->values, plan->nulls);

	for (int i = 0; i < plan->ncolumns; i++)
	{
		PlanColumn *c = &plan->columns[i];
		const char *value = "";
		const char *datatype = c->datatype;
		int			len = 0;

		/* NULL is "" in a field that stays; the text points into the row,
		 * c->buf or palloc'd memory, all alive until the tree is serialized */
		if (!plan->nulls[c->attno])
		{
			value = liveid_value_text(&c->type, c->form, &c->outfn,
									  plan->values[c->attno], c->buf, &len,
									  c->name);
			/* a datatype guessed from a name gives way to text row by row */
			if (c->type.guessed && !c->check && len > 0 &&
				!liveid_guess_fits(c->datatype, value, len))
				datatype = "text";
		}
		liveid_set_string(c->value_v, value, len);
		liveid_set_string(c->datatype_v, datatype, strlen(datatype));
		/* only a given datatype can disagree with a value */
		if (c->check)
			liveid_check_field_value(c->name, datatype, value, len);
	}
	PG_RETURN_JSONB_P(JsonbValueToJsonb(&plan->data));
}

