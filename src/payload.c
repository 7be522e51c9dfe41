/*-------------------------------------------------------------------------
 *
 * payload.c
 *		The SQL builders of a ServiceStartJson: liveid.data_field(), the
 *		aggregate liveid.data_agg() and liveid.customer().
 *
 * row_to_data, the other builder of the data object, has a file of its
 * own (row_to_data.c); value.c writes the values and field.c the field
 * objects.  docs/payload.md says how values, labels and NULLs are written.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include <ctype.h>

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

/* data_field's cache: the value's type and how it is written */
typedef struct FieldCache
{
	Oid			typid;
	LiveidType	type;
	FmgrInfo	outfn;
} FieldCache;

/* Raises the 22023 error of a bad argument. */
static void
pg_attribute_noreturn()
ArgError(const char *arg, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid %s", arg),
			 errdetail_internal("%s", detail),
			 hint ? errhint("%s", hint) : 0));
}

/* Raises the 22023 error of a NULL argument that is required. */
static void
pg_attribute_noreturn()
NullArgError(const char *arg, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("%s must not be NULL", arg),
			 errhint("%s", hint)));
}

/* True when s is empty or only white space. */
static bool
IsBlank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char) *s))
			return false;
	return true;
}

/* ---------------------------------------------------------------------
 * liveid.data_field()
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(liveid_data_field);

/*
 * liveid.data_field(value, label, datatype, "order", display, attributes):
 * one data field, its datatype inferred from value's SQL type unless given.
 */
Datum
liveid_data_field(PG_FUNCTION_ARGS)
{
	FieldCache *cache = (FieldCache *) fcinfo->flinfo->fn_extra;
	Oid			typid = get_fn_expr_argtype(fcinfo->flinfo, 0);
	JsonbContainer *attrs = NULL;
	JsonbPair  *pairs;
	int			n = 0;
	char	   *label;
	const char *key;
	const char *datatype;
	const char *value = "";
	int			len = 0;
	char		buf[LIVEID_VALUE_BUF_LEN];
	Jsonb	   *result;

	if (!OidIsValid(typid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not determine the type of the value of a data field")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a data field needs a label"),
				 errdetail("The label argument is NULL; the label is what the operator sees beside the value."),
				 errhint("Pass label => '...', e.g. liveid.data_field(birth_date, label => 'Date of birth').")));
	label = text_to_cstring(PG_GETARG_TEXT_PP(1));
	key = *label ? label : "(empty label)";

	if (cache == NULL || cache->typid != typid)
	{
		cache = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(FieldCache));
		cache->typid = typid;
		liveid_infer_type(typid, NULL, &cache->type);
		if (cache->type.kind == VK_OUTPUT)
			fmgr_info_cxt(cache->type.typoutput, &cache->outfn, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = cache;
	}
	datatype = PG_ARGISNULL(2) ? cache->type.datatype : text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (!PG_ARGISNULL(0))
	{
		value = liveid_value_text(&cache->type,
								  liveid_time_form(cache->type.kind, datatype),
								  &cache->outfn, PG_GETARG_DATUM(0), buf, &len, key);
		if (PG_ARGISNULL(2) && cache->type.guessed && len > 0 &&
			!liveid_guess_fits(datatype, value, len))
			datatype = "text";
	}
	if (!PG_ARGISNULL(5))
		attrs = &PG_GETARG_JSONB_P(5)->root;

	pairs = palloc(sizeof(JsonbPair) * (5 + liveid_attribute_count(attrs)));
	liveid_set_string(liveid_set_member(pairs, &n, "datatype", 8), datatype, strlen(datatype));
	liveid_set_string(liveid_set_member(pairs, &n, "label", 5), label, strlen(label));
	liveid_set_string(liveid_set_member(pairs, &n, "value", 5), value, len);
	if (!PG_ARGISNULL(3))
	{
		JsonbValue *v = liveid_set_member(pairs, &n, "order", 5);

		v->type = jbvNumeric;
		v->val.numeric = int64_to_numeric(PG_GETARG_INT32(3));
	}
	if (!PG_ARGISNULL(4))
	{
		char	   *display = text_to_cstring(PG_GETARG_TEXT_PP(4));

		liveid_set_string(liveid_set_member(pairs, &n, "display", 7), display, strlen(display));
	}
	if (attrs)
		liveid_add_attributes(pairs, &n, attrs, key, false);

	result = liveid_pairs_to_jsonb(pairs, n);
	liveid_check_data_field(key, &result->root);
	PG_RETURN_JSONB_P(result);
}

/* ---------------------------------------------------------------------
 * liveid.data_agg()
 * ---------------------------------------------------------------------
 */

/* one (key, field) row of data_agg */
typedef struct AggItem
{
	JsonbValue	key;			/* a string */
	Jsonb	   *field;
} AggItem;

/* data_agg's state, in the aggregate's memory context */
typedef struct DataAggState
{
	int			n;
	int			size;
	AggItem    *items;
} DataAggState;

/* Orders two items by key in jsonb's order. */
static int
ItemCompare(const void *a, const void *b)
{
	const JsonbValue *ka = &((const AggItem *) a)->key;
	const JsonbValue *kb = &((const AggItem *) b)->key;

	if (ka->val.string.len != kb->val.string.len)
		return ka->val.string.len < kb->val.string.len ? -1 : 1;
	return memcmp(ka->val.string.val, kb->val.string.val, ka->val.string.len);
}

PG_FUNCTION_INFO_V1(liveid_data_agg_transfn);

/* data_agg's transition: checks the field and keeps it under its key. */
Datum
liveid_data_agg_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt,
				old;
	DataAggState *state;
	char	   *key;
	Jsonb	   *field;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("liveid_data_agg_transfn called in a non-aggregate context")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a data field key must not be NULL"),
				 errdetail("Each row of liveid.data_agg(key, field) gives the key of one field of the data object."),
				 errhint("Give every field a key, or filter the NULL ones out (FILTER (WHERE key IS NOT NULL)).")));
	key = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("data field \"%s\" is NULL", key),
				 errdetail("Each row of liveid.data_agg(key, field) gives one field object."),
				 errhint("Build the field with liveid.data_field(); it gives a NULL value as an empty one.")));
	field = PG_GETARG_JSONB_P(2);
	liveid_check_data_field(key, &field->root);

	old = MemoryContextSwitchTo(aggcxt);
	if (PG_ARGISNULL(0))
	{
		state = palloc(sizeof(DataAggState));
		state->n = 0;
		state->size = 16;
		state->items = palloc(sizeof(AggItem) * state->size);
	}
	else
		state = (DataAggState *) PG_GETARG_POINTER(0);
	if (state->n == state->size)
	{
		state->size *= 2;
		state->items = repalloc(state->items, sizeof(AggItem) * state->size);
	}
	liveid_set_string(&state->items[state->n].key, pstrdup(key), strlen(key));
	state->items[state->n].field = (Jsonb *) DatumGetPointer(datumCopy(PointerGetDatum(field), false, -1));
	state->n++;
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(liveid_data_agg_finalfn);

/*
 * data_agg's final function: the data object, {} when there were no rows;
 * a key given twice is 22023.
 */
Datum
liveid_data_agg_finalfn(PG_FUNCTION_ARGS)
{
	DataAggState *state = PG_ARGISNULL(0) ? NULL : (DataAggState *) PG_GETARG_POINTER(0);
	JsonbParseState *ps = NULL;
	JsonbValue *res;
	AggItem    *items;
	int			n = state ? state->n : 0;

	/* sort a copy: the state may still be used (window aggregates) */
	items = palloc(sizeof(AggItem) * Max(n, 1));
	if (n > 0)
		memcpy(items, state->items, sizeof(AggItem) * n);
	qsort(items, n, sizeof(AggItem), ItemCompare);

	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < n; i++)
	{
		JsonbValue	v;

		if (i > 0 && ItemCompare(&items[i - 1], &items[i]) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("duplicate data field key \"%s\"", items[i].key.val.string.val),
					 errdetail("Each key of a data object names one field."),
					 errhint("Give each row of liveid.data_agg a distinct key.")));
		v.type = jbvBinary;
		v.val.binary.data = &items[i].field->root;
		v.val.binary.len = VARSIZE(items[i].field) - VARHDRSZ;
		pushJsonbValue(&ps, WJB_KEY, &items[i].key);
		liveid_push_value(&ps, &v);
	}
	res = pushJsonbValue(&ps, WJB_END_OBJECT, NULL);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}

/* ---------------------------------------------------------------------
 * liveid.customer()
 * ---------------------------------------------------------------------
 */

/* Pushes an object key. */
static void
PushKey(JsonbParseState **st, const char *key)
{
	JsonbValue	k;

	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	pushJsonbValue(st, WJB_KEY, &k);
}

/* Pushes a key and its string value. */
static void
PushString(JsonbParseState **st, const char *key, const char *value)
{
	JsonbValue	v;

	PushKey(st, key);
	v.type = jbvString;
	v.val.string.val = (char *) value;
	v.val.string.len = strlen(value);
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* Pushes a whole jsonb document as the value of the last key. */
static void
PushJsonb(JsonbParseState **st, Jsonb *jb)
{
	JsonbValue	v;

	v.type = jbvBinary;
	v.val.binary.data = &jb->root;
	v.val.binary.len = VARSIZE(jb) - VARHDRSZ;
	pushJsonbValue(st, WJB_VALUE, &v);
}

PG_FUNCTION_INFO_V1(liveid_customer);

/*
 * liveid.customer(lang, email, name, surname, data, callback_url,
 * callback_params, priority): a validated ServiceStartJson.
 */
Datum
liveid_customer(PG_FUNCTION_ARGS)
{
	static const char *const required[] = {"lang", "email", "name", "surname"};
	char	   *v[lengthof(required)];
	Jsonb	   *data = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	char	   *callback_url = PG_ARGISNULL(5) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(5));
	Jsonb	   *callback_params = PG_ARGISNULL(6) ? NULL : PG_GETARG_JSONB_P(6);
	JsonbParseState *st = NULL;
	JsonbValue *res;
	Jsonb	   *result;

	for (int i = 0; i < lengthof(required); i++)
	{
		if (PG_ARGISNULL(i))
			NullArgError(required[i],
						 "A customer needs a language, an e-mail address, a name and a surname.");
		v[i] = text_to_cstring(PG_GETARG_TEXT_PP(i));
	}
	if (strlen(v[0]) != 2 || v[0][0] < 'a' || v[0][0] > 'z' || v[0][1] < 'a' || v[0][1] > 'z')
		ArgError("lang",
				 psprintf("\"%s\" is not a language code of two lowercase letters.", v[0]),
				 "Pass an ISO 639-1 code such as 'it' or 'en'; liveid.available_languages() lists those the operators speak.");
	if (!liveid_is_email(v[1]))
		ArgError("email", psprintf("\"%s\" is not an e-mail address.", v[1]), NULL);
	for (int i = 2; i < 4; i++)
		if (IsBlank(v[i]))
			ArgError(required[i], "It must not be empty.", NULL);
	/* a NULL data (data_agg over no rows) is no data fields */
	if (data)
		liveid_check_data(&data->root);
	if (callback_url)
		liveid_check_callback_url(callback_url);
	if (callback_params)
	{
		if (callback_url == NULL)
			ArgError("callback_params",
					 "The callback parameters travel with the server callback, so they need callback_url.",
					 "Pass callback_url too.");
		if (!JB_ROOT_IS_OBJECT(callback_params))
			ArgError("callback_params", "It must be a JSON object.",
					 "Pass an object such as '{\"ref\": \"A-12\"}'; LiveID+ posts it back as otherParams.");
	}
	if (!PG_ARGISNULL(7) && (PG_GETARG_INT32(7) < 0 || PG_GETARG_INT32(7) > 10))
		ArgError("priority", psprintf("%d is not from 0 to 10.", PG_GETARG_INT32(7)),
				 "Pass a queue priority level from 0 to 10.");

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	PushString(&st, "lang", v[0]);
	PushString(&st, "liveid_email", v[1]);
	PushString(&st, "liveid_name", v[2]);
	PushString(&st, "liveid_surname", v[3]);
	PushKey(&st, "data");
	if (data)
		PushJsonb(&st, data);
	else
	{
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	if (callback_url)
	{
		PushKey(&st, "liveid_servercallback");
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		PushString(&st, "url", callback_url);
		if (callback_params)
		{
			PushKey(&st, "otherParams");
			PushJsonb(&st, callback_params);
		}
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	if (!PG_ARGISNULL(7))
	{
		JsonbValue	n;

		PushKey(&st, "liveid_priorityQueueLevel");
		n.type = jbvNumeric;
		n.val.numeric = DatumGetNumeric(DirectFunctionCall1(int4_numeric,
															PG_GETARG_DATUM(7)));
		pushJsonbValue(&st, WJB_VALUE, &n);
	}
	res = pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	result = JsonbValueToJsonb(res);

	/* the same rules service_start applies */
	liveid_check_customer(&result->root);
	PG_RETURN_JSONB_P(result);
}
