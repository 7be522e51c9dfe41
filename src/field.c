/*-------------------------------------------------------------------------
 *
 * field.c
 *		Field objects: their members and HTML attributes as JsonbPair
 *		arrays, in jsonb's key order.
 *
 * The builders (data_field, row_to_data) gather a field's members here and
 * serialize them once; attributes a caller gives are merged in last, so
 * they win over what a builder set (row_to_data's readonly), but never
 * replace datatype, label, value, order or display.  docs/payload.md has
 * the whole design.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "utils/jsonb.h"

/* the members of a field that are not HTML attributes, and who sets them */
static const struct
{
	const char *member;
	const char *data_field_arg; /* in liveid.data_field() */
	const char *row_option;		/* in liveid.row_to_data() */
}			core_members[] =
{
	{"datatype", "datatype => ...", "the option \"datatypes\""},
	{"label", "label => ...", "labels => ..."},
	{"value", "the value argument", "the row's own value"},
	{"order", "\"order\" => ...", "the column's position"},
	{"display", "display => ...", "the options \"hidden\" and \"operator_only\""},
};

/* ---------------------------------------------------------------------
 * Building field objects
 * ---------------------------------------------------------------------
 */

/* Sets or replaces (a later value wins) one member of a field being built. */
JsonbValue *
liveid_set_member(JsonbPair *pairs, int *n, const char *key, int keylen)
{
	for (int i = 0; i < *n; i++)
		if (pairs[i].key.val.string.len == keylen &&
			memcmp(pairs[i].key.val.string.val, key, keylen) == 0)
			return &pairs[i].value;
	liveid_set_string(&pairs[*n].key, key, keylen);
	pairs[*n].order = *n;
	return &pairs[(*n)++].value;
}

/* Orders two object members as jsonb does: shorter keys first, then bytes. */
int
liveid_pair_compare(const void *a, const void *b)
{
	const JsonbValue *ka = &((const JsonbPair *) a)->key;
	const JsonbValue *kb = &((const JsonbPair *) b)->key;

	if (ka->val.string.len != kb->val.string.len)
		return ka->val.string.len < kb->val.string.len ? -1 : 1;
	return memcmp(ka->val.string.val, kb->val.string.val, ka->val.string.len);
}

/* Makes an object JsonbValue of pairs, sorted in jsonb's key order. */
void
liveid_set_object(JsonbValue *v, JsonbPair *pairs, int n)
{
	qsort(pairs, n, sizeof(JsonbPair), liveid_pair_compare);
	v->type = jbvObject;
	v->val.object.nPairs = n;
	v->val.object.pairs = pairs;
}

/* Pushes an object member's value, unpacking a binary container. */
void
liveid_push_value(JsonbParseState **state, const JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;

	if (v->type != jbvBinary)
	{
		pushJsonbValue(state, WJB_VALUE, (JsonbValue *) v);
		return;
	}
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, false)) != WJB_DONE)
		pushJsonbValue(state, tok,
					   tok == WJB_KEY || tok == WJB_VALUE || tok == WJB_ELEM ? &e : NULL);
}

/* A Jsonb of an object's pairs; values may be binary containers. */
Jsonb *
liveid_pairs_to_jsonb(const JsonbPair *pairs, int n)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < n; i++)
	{
		pushJsonbValue(&state, WJB_KEY, (JsonbValue *) &pairs[i].key);
		liveid_push_value(&state, &pairs[i].value);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/*
 * Raises 22023 when attributes hold a member that is not an HTML attribute
 * (datatype, label, value, order, display), saying what sets it instead.
 */
static void
CheckNotCore(const char *key, int keylen, const char *field, bool in_row)
{
	for (int i = 0; i < lengthof(core_members); i++)
		if (strlen(core_members[i].member) == keylen &&
			memcmp(core_members[i].member, key, keylen) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid attributes for data field \"%s\"", field),
					 errdetail("\"%s\" is not an HTML attribute: %s sets it.", core_members[i].member,
							   in_row ? core_members[i].row_option : core_members[i].data_field_arg),
					 errhint("Leave \"%s\" out of the attributes.", core_members[i].member)));
}

/*
 * Adds an attributes object's members to a field being built, after
 * checking that it is an object without core members.
 */
void
liveid_add_attributes(JsonbPair *pairs, int *n, JsonbContainer *attrs,
					  const char *field, bool in_row)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;

	if (!JsonContainerIsObject(attrs) || JsonContainerIsScalar(attrs))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid attributes for data field \"%s\"", field),
				 errdetail("The attributes of a field are a JSON object of HTML attributes."),
				 errhint("Pass an object such as {\"maxlength\": 16, \"required\": true}.")));
	it = JsonbIteratorInit(attrs);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &v, true);
		CheckNotCore(k.val.string.val, k.val.string.len, field, in_row);
		*liveid_set_member(pairs, n, k.val.string.val, k.val.string.len) = v;
	}
}

/* How many members an attributes container has (0 for NULL). */
int
liveid_attribute_count(JsonbContainer *attrs)
{
	return attrs && JsonContainerIsObject(attrs) ? JsonContainerSize(attrs) : 0;
}

