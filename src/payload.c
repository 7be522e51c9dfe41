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

/* ---------------------------------------------------------------------
 * liveid.data_field()
 * ---------------------------------------------------------------------
 */

/* data_field's cache for its call site: the value's type, inferred once. */
static FieldCache *
FieldCacheFor(FunctionCallInfo fcinfo)
{
	FieldCache *cache = (FieldCache *) fcinfo->flinfo->fn_extra;
	Oid			typid = get_fn_expr_argtype(fcinfo->flinfo, 0);

	if (!OidIsValid(typid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not determine the type of the value of a data field"),
				 errhint("Cast the value, e.g. liveid.data_field('x'::text, 'Label').")));
	/* anyelement: the type is the same at each call of a call site */
	if (cache == NULL || cache->typid != typid)
	{
		cache = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(FieldCache));
		cache->typid = typid;
		liveid_infer_type(typid, NULL, &cache->type);
		if (cache->type.kind == VK_OUTPUT)
			fmgr_info_cxt(cache->type.typoutput, &cache->outfn, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = cache;
	}
	return cache;
}

/*
 * data_field's datatype and value text, each checked once: a given
 * datatype must be one of the nine and suit the value; an inferred one
 * suits it by construction (a guessed email or url the value does not fit
 * becomes text).
 */
static void
FieldValue(FunctionCallInfo fcinfo, FieldCache *cache, const char *key,
		   const char **datatype, const char **value, int *len, char *buf)
{
	bool		given = !PG_ARGISNULL(2);

	*datatype = given ? text_to_cstring(PG_GETARG_TEXT_PP(2)) : cache->type.datatype;
	*value = "";
	*len = 0;
	if (given)
		liveid_check_field_datatype(key, *datatype);
	if (!PG_ARGISNULL(0))
	{
		*value = liveid_value_text(&cache->type,
								   liveid_time_form(cache->type.kind, *datatype),
								   &cache->outfn, PG_GETARG_DATUM(0),
								   buf, len, key);
		if (!given && cache->type.guessed && *len > 0 &&
			!liveid_guess_fits(*datatype, *value, *len))
			*datatype = "text";
	}
	if (given)
		liveid_check_field_value(key, *datatype, *value, *len);
}

PG_FUNCTION_INFO_V1(liveid_data_field);

/*
 * liveid.data_field(value, label, datatype, "order", display, attributes):
 * one data field, its datatype inferred from value's SQL type unless given,
 * without a label when label is NULL.  Each argument is checked as it is
 * written; the field is serialized once.
 */
Datum
liveid_data_field(PG_FUNCTION_ARGS)
{
	FieldCache *cache = FieldCacheFor(fcinfo);
	JsonbContainer *attrs = PG_ARGISNULL(5) ? NULL : &PG_GETARG_JSONB_P(5)->root;
	char	   *label;
	const char *key;
	const char *datatype;
	const char *value;
	char	   *display = NULL;
	int			len;
	char		buf[LIVEID_VALUE_BUF_LEN];
	JsonbPair  *pairs;
	int			n = 0;
	JsonbValue	field;

	/*
	 * The field has no key yet: messages name it by its label.  Without one
	 * it is left out (data_agg gives the field its key made readable).
	 */
	label = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	key = label == NULL ? "(no label)" : *label ? label : "(empty label)";
	FieldValue(fcinfo, cache, key, &datatype, &value, &len, buf);
	if (!PG_ARGISNULL(4))
	{
		display = text_to_cstring(PG_GETARG_TEXT_PP(4));
		liveid_check_field_display(key, display);
	}

	pairs = palloc(sizeof(JsonbPair) * (5 + liveid_attribute_count(attrs)));
	liveid_set_string(liveid_set_member(pairs, &n, "datatype", 8), datatype, strlen(datatype));
	if (label)
		liveid_set_string(liveid_set_member(pairs, &n, "label", 5), label, strlen(label));
	liveid_set_string(liveid_set_member(pairs, &n, "value", 5), value, len);
	if (!PG_ARGISNULL(3))
	{
		JsonbValue *v = liveid_set_member(pairs, &n, "order", 5);

		v->type = jbvNumeric;
		v->val.numeric = int64_to_numeric(PG_GETARG_INT32(3));
	}
	if (display)
		liveid_set_string(liveid_set_member(pairs, &n, "display", 7), display, strlen(display));
	/* the attributes are checked in the walk that adds them */
	if (attrs)
		liveid_add_attributes(pairs, &n, attrs, key, false);

	liveid_set_object(&field, pairs, n);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(&field));
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
	return liveid_key_compare(&((const AggItem *) a)->key, &((const AggItem *) b)->key);
}

/* A checked field without a label, with the label its key made readable. */
static Jsonb *
WithKeyLabel(Jsonb *field, const char *key)
{
	JsonbParseState *ps = NULL;
	JsonbIterator *it = JsonbIteratorInit(&field->root);
	JsonbIteratorToken tok;
	JsonbValue	v,
			   *res = NULL;
	char	   *label = liveid_readable_name(key);

	/* copy the members over (walk.c checked them), the label last */
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_END_OBJECT)
		{
			JsonbValue	k;

			liveid_set_string(&k, "label", 5);
			pushJsonbValue(&ps, WJB_KEY, &k);
			liveid_set_string(&v, label, strlen(label));
			pushJsonbValue(&ps, WJB_VALUE, &v);
		}
		res = pushJsonbValue(&ps, tok, tok < WJB_BEGIN_ARRAY ? &v : NULL);
	}
	/* pushJsonbValue sorts the object's members into jsonb's key order */
	return JsonbValueToJsonb(res);
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
	/* the caller made the field: walk it once, now, naming its key */
	if (!liveid_check_data_field(key, &field->root, false))
		field = WithKeyLabel(field, key);

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
	/* key and field outlive this call: copies in the aggregate's context */
	liveid_set_string(&state->items[state->n].key, pstrdup(key), strlen(key));
	state->items[state->n].field =
		(Jsonb *) DatumGetPointer(datumCopy(PointerGetDatum(field), false, -1));
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
		/* a binary container: pushJsonbValue copies its contents in */
		pushJsonbValue(&ps, WJB_VALUE, &v);
	}
	res = pushJsonbValue(&ps, WJB_END_OBJECT, NULL);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}

/* ---------------------------------------------------------------------
 * liveid.customer()
 * ---------------------------------------------------------------------
 */

/* liveid.customer()'s arguments, once checked */
typedef struct CustomerArgs
{
	char	   *text[4];		/* lang, email, name, surname */
	Jsonb	   *data;			/* or NULL: no fields */
	char	   *callback_url;	/* or NULL */
	Jsonb	   *callback_params;	/* or NULL */
	bool		has_priority;
	int32		priority;
} CustomerArgs;

/* Reads liveid.customer()'s arguments, checking each by its rule once. */
static void
ReadCustomerArgs(FunctionCallInfo fcinfo, CustomerArgs *a)
{
	static const char *const required[] = {"lang", "email", "name", "surname"};

	for (int i = 0; i < lengthof(required); i++)
	{
		if (PG_ARGISNULL(i))
			liveid_null_arg_error(required[i],
						 "A customer needs a language, an e-mail address, a name and a surname.");
		a->text[i] = text_to_cstring(PG_GETARG_TEXT_PP(i));
	}
	liveid_check_customer_lang(a->text[0], false);
	liveid_check_customer_email(a->text[1], false);
	liveid_check_customer_name("name", a->text[2], false);
	liveid_check_customer_name("surname", a->text[3], false);

	/* a NULL data (data_agg over no rows) is no data fields */
	a->data = PG_ARGISNULL(4) ? NULL : PG_GETARG_JSONB_P(4);
	/* the caller's fields are the one part that arrives as jsonb: walk it */
	if (a->data)
		liveid_check_data(&a->data->root);
	a->callback_url = PG_ARGISNULL(5) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(5));
	if (a->callback_url)
		liveid_check_callback_url(a->callback_url);
	a->callback_params = PG_ARGISNULL(6) ? NULL : PG_GETARG_JSONB_P(6);
	if (a->callback_params)
	{
		if (a->callback_url == NULL)
			liveid_arg_error("callback_params",
					 "The callback parameters travel with the server callback, so they need \"callback_url\".",
					 "Pass \"callback_url\" too.");
		if (!JB_ROOT_IS_OBJECT(a->callback_params))
			liveid_arg_error("callback_params", "The callback parameters must be a JSON object.",
					 "Pass an object such as '{\"ref\": \"A-12\"}'; LiveID+ posts it back as otherParams.");
	}
	a->has_priority = !PG_ARGISNULL(7);
	a->priority = a->has_priority ? PG_GETARG_INT32(7) : 0;
	if (a->has_priority)
		liveid_check_customer_priority(a->priority, false);
}

/* Pushes a key and, unless NULL, its string value. */
static void
PushString(JsonbParseState **st, const char *key, const char *value)
{
	JsonbValue	v;

	liveid_set_string(&v, key, strlen(key));
	pushJsonbValue(st, WJB_KEY, &v);
	if (value == NULL)
		return;
	liveid_set_string(&v, value, strlen(value));
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
	/* pushJsonbValue copies a binary container's contents in */
	pushJsonbValue(st, WJB_VALUE, &v);
}

/* The ServiceStartJson of checked arguments. */
static Jsonb *
BuildCustomer(const CustomerArgs *a)
{
	static const char *const members[] = {"lang", "liveid_email", "liveid_name", "liveid_surname"};
	JsonbParseState *st = NULL;

	pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < lengthof(members); i++)
		PushString(&st, members[i], a->text[i]);
	PushString(&st, "data", NULL);
	if (a->data)
		PushJsonb(&st, a->data);
	else
	{
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	if (a->callback_url)
	{
		PushString(&st, "liveid_servercallback", NULL);
		pushJsonbValue(&st, WJB_BEGIN_OBJECT, NULL);
		PushString(&st, "url", a->callback_url);
		if (a->callback_params)
		{
			PushString(&st, "otherParams", NULL);
			PushJsonb(&st, a->callback_params);
		}
		pushJsonbValue(&st, WJB_END_OBJECT, NULL);
	}
	if (a->has_priority)
	{
		JsonbValue	n;

		PushString(&st, "liveid_priorityQueueLevel", NULL);
		n.type = jbvNumeric;
		n.val.numeric = int64_to_numeric(a->priority);
		pushJsonbValue(&st, WJB_VALUE, &n);
	}
	return JsonbValueToJsonb(pushJsonbValue(&st, WJB_END_OBJECT, NULL));
}

PG_FUNCTION_INFO_V1(liveid_customer);

/*
 * liveid.customer(lang, email, name, surname, data, callback_url,
 * callback_params, priority): a ServiceStartJson that passes the rules
 * service_start applies, each of them run once, on the arguments.
 */
Datum
liveid_customer(PG_FUNCTION_ARGS)
{
	CustomerArgs args;

	ReadCustomerArgs(fcinfo, &args);
	PG_RETURN_JSONB_P(BuildCustomer(&args));
}
