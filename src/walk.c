/*-------------------------------------------------------------------------
 *
 * walk.c
 *		What arrives as jsonb from a caller, walked once into the rules of
 *		rules.c: a data object, a data field, a field's attributes and a
 *		whole ServiceStartJson.
 *
 * The builders check the values they write themselves; this file is for
 * what they did not write: data_agg's fields, customer()'s data argument,
 * the attributes of data_field and row_to_data, and the customer
 * service_start gets.  Each object is iterated once: its JSON types are
 * checked here, and each member's value goes to the rule that owns it.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "utils/jsonb.h"

/* what a walk of a field object accepts */
typedef enum WalkMode
{
	WALK_FIELD,					/* a whole field: core members and attributes */
	WALK_DATA_FIELD_ATTRS,		/* data_field's attributes: attributes only */
	WALK_ROW_ATTRS				/* row_to_data's attributes: attributes only */
} WalkMode;

/*
 * The members of a field that are not HTML attributes: the JSON type each
 * takes, and what sets it in data_field and in row_to_data (whose
 * attributes may not).
 */
static const struct
{
	const char *name;
	enum jbvType type;
	const char *data_field_setter;	/* in liveid.data_field() */
	const char *row_setter;		/* in liveid.row_to_data() */
}			core_members[] =
{
	{"datatype", jbvString, "the argument \"datatype\" sets it", "the option \"datatypes\" sets it"},
	{"label", jbvString, "the argument \"label\" sets it", "the argument \"labels\" sets it"},
	{"value", jbvString, "the argument \"value\" sets it", "the row's own value sets it"},
	{"order", jbvNumeric, "the argument \"order\" sets it", "the column's position sets it"},
	{"display", jbvString, "the argument \"display\" sets it", "the options \"hidden\" and \"operator_only\" set it"},
};

/* indexes into core_members */
enum
{
	CORE_DATATYPE, CORE_LABEL, CORE_VALUE, CORE_ORDER, CORE_DISPLAY
};

/* The text of a string JsonbValue, palloc'd. */
static char *
JbvText(const JsonbValue *v)
{
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* The index of a core member named by a key, or -1 for an attribute. */
static int
CoreMember(const JsonbValue *k)
{
	for (int m = 0; m < lengthof(core_members); m++)
		if (strlen(core_members[m].name) == k->val.string.len &&
			memcmp(core_members[m].name, k->val.string.val, k->val.string.len) == 0)
			return m;
	return -1;
}

/* Raises the error of a field object that is not an object. */
static void
pg_attribute_noreturn()
NotAnObject(const char *key, WalkMode mode)
{
	if (mode == WALK_FIELD)
		liveid_field_error(key, "A data field must be a JSON object.", NULL);
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid attributes for data field \"%s\"", key),
			 errdetail("The attributes of a field are a JSON object of HTML attributes."),
			 errhint("Pass an object such as {\"maxlength\": 16, \"required\": true}.")));
}

/* Raises the error of a core member in a builder's attributes. */
static void
pg_attribute_noreturn()
CoreInAttributes(const char *key, int m, WalkMode mode)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid attributes for data field \"%s\"", key),
			 errdetail("\"%s\" is not an HTML attribute; %s.", core_members[m].name,
					   mode == WALK_ROW_ATTRS ? core_members[m].row_setter :
					   core_members[m].data_field_setter),
			 errhint("Leave \"%s\" out of the attributes.", core_members[m].name)));
}

/*
 * Checks one core member of a whole field: its JSON type here, its value
 * by the rule of rules.c; datatype and display have no other type.
 */
static void
CheckCoreMember(const char *key, int m, const JsonbValue *v)
{
	const char *text = v->type == jbvString ? JbvText(v) : NULL;

	if (m == CORE_DATATYPE)
		liveid_check_field_datatype(key, text);
	else if (m == CORE_DISPLAY)
		liveid_check_field_display(key, text);
	else if (v->type != core_members[m].type)
		liveid_field_error(key, psprintf(core_members[m].type == jbvString ?
										 "The member \"%s\" must be a string." :
										 "The member \"%s\" must be a number.",
										 core_members[m].name), NULL);
}

/* Raises the error of a field that reaches the service without a label. */
static void
pg_attribute_noreturn()
NoLabel(const char *key)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("data field \"%s\" has no label", key),
			 errdetail("The operator sees each field under its label; liveid.data_agg and liveid.row_to_data label a field from its key, liveid.data_field only when given one."),
			 errhint("Give liveid.data_field a label, or build the data with liveid.data_agg or liveid.row_to_data.")));
}

/*
 * Walks a field object once: each member to its rule, then (for a whole
 * field) the required members and the value against the datatype.  fn, if
 * not NULL, gets each member after it passed.  Returns whether the field
 * has a label; need_label makes its absence 22023.
 */
static bool
WalkField(const char *key, JsonbContainer *obj, WalkMode mode, bool need_label,
		  LiveidMemberFn fn, void *arg)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	bool		seen[lengthof(core_members)] = {0};
	JsonbValue	datatype = {0},
				value = {0};

	if (!JsonContainerIsObject(obj) || JsonContainerIsScalar(obj))
		NotAnObject(key, mode);
	it = JsonbIteratorInit(obj);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		int			m;

		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &v, true);
		m = CoreMember(&k);
		if (m < 0)
			liveid_check_field_attribute(key, k.val.string.val, k.val.string.len, &v);
		else if (mode != WALK_FIELD)
			CoreInAttributes(key, m, mode);
		else
		{
			CheckCoreMember(key, m, &v);
			seen[m] = true;
			/* kept for the value's check, which needs both */
			if (m == CORE_DATATYPE)
				datatype = v;
			else if (m == CORE_VALUE)
				value = v;
		}
		if (fn)
			fn(arg, &k, &v);
	}
	if (mode != WALK_FIELD)
		return false;
	/*
	 * datatype and value are required; a label only where the field goes
	 * to the service (data_agg gives a label-less field one)
	 */
	for (int m = CORE_DATATYPE; m <= CORE_VALUE; m++)
		if (!seen[m] && m != CORE_LABEL)
			liveid_field_error(key, psprintf("The member \"%s\" is required.", core_members[m].name), NULL);
	if (!seen[CORE_LABEL] && need_label)
		NoLabel(key);
	liveid_check_field_value(key, JbvText(&datatype), value.val.string.val,
							 value.val.string.len);
	return seen[CORE_LABEL];
}

/*
 * Checks one data field object a caller made; returns whether it has a
 * label (need_label: it must).
 */
bool
liveid_check_data_field(const char *key, JsonbContainer *field, bool need_label)
{
	liveid_check_field_key(key);
	return WalkField(key, field, WALK_FIELD, need_label, NULL, NULL);
}

/* Walks the attributes a builder got, handing each to fn once it passed. */
void
liveid_walk_attributes(const char *key, JsonbContainer *attrs, bool in_row,
					   LiveidMemberFn fn, void *arg)
{
	(void) WalkField(key, attrs, in_row ? WALK_ROW_ATTRS : WALK_DATA_FIELD_ATTRS, false,
					 fn, arg);
}

/* Checks a whole data object a caller made (field key -> field). */
void
liveid_check_data(JsonbContainer *data)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;

	if (!JsonContainerIsObject(data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid data object"),
				 errdetail("A data object is a JSON object that maps each field key to a field object."),
				 errhint("Build it with liveid.row_to_data, liveid.data_agg or liveid.data_field.")));
	it = JsonbIteratorInit(data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &v, true);
		if (v.type != jbvBinary)
			liveid_field_error(JbvText(&k), "A data field must be a JSON object.", NULL);
		/* the data goes to the service: every field needs its label */
		(void) liveid_check_data_field(JbvText(&k), v.val.binary.data, true);
	}
}

/*
 * Raises the error of a ServiceStartJson that is not shaped as one, naming
 * the member (NULL: the customer as a whole).
 */
static void
pg_attribute_noreturn()
CustomerShapeError(const char *member, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 member ? errmsg("invalid customer member \"%s\"", member) :
			 errmsg("invalid customer"),
			 errdetail_internal("%s", detail),
			 errhint("Build the customer with liveid.customer().")));
}

/* A required string member of the customer (NULL when absent), as text. */
static char *
CustomerString(const JsonbValue *v, const char *member)
{
	if (v == NULL || v->type != jbvString)
		CustomerShapeError(member, psprintf("The member \"%s\" is required and must be a string.", member));
	return JbvText(v);
}

/* Checks the liveid_servercallback object. */
static void
CheckServerCallback(const JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	k,
				m;
	JsonbIteratorToken tok;
	bool		has_url = false;

	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		CustomerShapeError("liveid_servercallback", "The server callback is a JSON object with \"url\" and optionally \"otherParams\".");
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *name;

		if (tok != WJB_KEY)
			continue;
		name = JbvText(&k);
		tok = JsonbIteratorNext(&it, &m, true);
		if (strcmp(name, "url") == 0)
		{
			if (m.type != jbvString)
				CustomerShapeError("liveid_servercallback", "The member \"url\" must be a string.");
			liveid_check_callback_url(JbvText(&m));
			has_url = true;
		}
		else if (strcmp(name, "otherParams") == 0)
		{
			if (m.type != jbvBinary || !JsonContainerIsObject(m.val.binary.data))
				CustomerShapeError("liveid_servercallback", "The member \"otherParams\" must be a JSON object.");
		}
		else
			CustomerShapeError("liveid_servercallback",
							   psprintf("\"%s\" is not a member of the server callback, which has \"url\" and \"otherParams\".", name));
	}
	if (!has_url)
		CustomerShapeError("liveid_servercallback", "The member \"url\" is required.");
}

/* the members of a ServiceStartJson, in the order they are checked */
static const char *const customer_members[] = {
	"lang", "liveid_email", "liveid_name", "liveid_surname", "data",
	"liveid_servercallback", "liveid_priorityQueueLevel"
};

/* Checks a whole ServiceStartJson: each member once, by its rule. */
void
liveid_check_customer(JsonbContainer *customer)
{
	JsonbValue	vals[lengthof(customer_members)];
	const JsonbValue *member[lengthof(customer_members)] = {0};
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	int64		level;

	if (!JsonContainerIsObject(customer))
		CustomerShapeError(NULL, "A customer is a ServiceStartJson, a JSON object.");
	/* gather first: the rules run in a fixed order whatever the key order */
	it = JsonbIteratorInit(customer);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *name;
		int			m;

		if (tok != WJB_KEY)
			continue;
		name = JbvText(&k);
		tok = JsonbIteratorNext(&it, &v, true);
		for (m = 0; m < lengthof(customer_members); m++)
			if (strcmp(name, customer_members[m]) == 0)
				break;
		if (m == lengthof(customer_members))
			CustomerShapeError(name, psprintf("\"%s\" is not a member of a ServiceStartJson.", name));
		vals[m] = v;
		member[m] = &vals[m];
	}

	liveid_check_customer_lang(CustomerString(member[0], "lang"), true);
	liveid_check_customer_email(CustomerString(member[1], "liveid_email"), true);
	liveid_check_customer_name("name", CustomerString(member[2], "liveid_name"), true);
	liveid_check_customer_name("surname", CustomerString(member[3], "liveid_surname"), true);
	if (member[4] == NULL || member[4]->type != jbvBinary)
		CustomerShapeError("data", "The member \"data\" is required and must be a JSON object of fields.");
	liveid_check_data(member[4]->val.binary.data);
	if (member[5])
		CheckServerCallback(member[5]);
	if (member[6])
	{
		if (!liveid_whole_number(member[6], &level))
			CustomerShapeError("liveid_priorityQueueLevel", "The member \"liveid_priorityQueueLevel\" must be an integer from 0 to 10.");
		liveid_check_customer_priority(level, true);
	}
}
