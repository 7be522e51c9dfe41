/*-------------------------------------------------------------------------
 *
 * field.c
 *		Field objects: their members and HTML attributes as JsonbPair
 *		arrays, in jsonb's key order.
 *
 * The builders (data_field, row_to_data) gather a field's members here,
 * sort them once in jsonb's key order and serialize the tree once with
 * JsonbValueToJsonb(); nothing is serialized to be read again.  Attributes
 * a caller gives are merged in last, so they win over what a builder set
 * (row_to_data's readonly), but never replace datatype, label, value,
 * order or display.  docs/payload.md has the whole design.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "utils/jsonb.h"

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

/* Orders two string keys as jsonb does: shorter keys first, then bytes. */
int
liveid_key_compare(const JsonbValue *a, const JsonbValue *b)
{
	if (a->val.string.len != b->val.string.len)
		return a->val.string.len < b->val.string.len ? -1 : 1;
	return memcmp(a->val.string.val, b->val.string.val, a->val.string.len);
}

/* Orders two object members by key as jsonb does (a qsort comparator). */
int
liveid_pair_compare(const void *a, const void *b)
{
	return liveid_key_compare(&((const JsonbPair *) a)->key, &((const JsonbPair *) b)->key);
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

/* a field being built, for AddMember */
typedef struct FieldBuild
{
	JsonbPair  *pairs;
	int		   *n;
} FieldBuild;

/* Adds (or replaces) one attribute that passed the rules. */
static void
AddMember(void *arg, const JsonbValue *name, const JsonbValue *value)
{
	FieldBuild *b = (FieldBuild *) arg;

	*liveid_set_member(b->pairs, b->n, name->val.string.val, name->val.string.len) = *value;
}

/*
 * Adds an attributes object's members to a field being built, in the one
 * walk that checks them (an object of HTML attributes only, each of its
 * kind).  The values point into attrs, which must outlive the field.
 */
void
liveid_add_attributes(JsonbPair *pairs, int *n, JsonbContainer *attrs,
					  const char *field, bool in_row)
{
	FieldBuild	b = {pairs, n};

	liveid_walk_attributes(field, attrs, in_row, AddMember, &b);
}

/* How many members an attributes container has (0 for NULL). */
int
liveid_attribute_count(JsonbContainer *attrs)
{
	return attrs && JsonContainerIsObject(attrs) ? JsonContainerSize(attrs) : 0;
}

