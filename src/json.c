/*-------------------------------------------------------------------------
 *
 * json.c
 *		LiveID+ answers as JSON: the only file that knows cJSON.
 *
 * A parsed tree is malloc'd by cJSON; it is owned by a reset callback of
 * the memory context that was current when it was parsed, so an ERROR (or
 * the end of the call) frees it with that context and nothing leaks.
 * Accessors return C values and raise 58000 naming the member when an
 * answer does not have the documented shape.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include <cjson/cJSON.h>
#include <math.h>

#include "utils/jsonb.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

/* the answer being read, for messages */
static const char *ctx_method = "";
static const char *ctx_path = "";

/* owns a cJSON tree until its memory context goes */
typedef struct TreeOwner
{
	MemoryContextCallback cb;
	cJSON	   *tree;
} TreeOwner;

/* Reset callback: frees the tree. */
static void
FreeTree(void *arg)
{
	TreeOwner  *o = arg;

	cJSON_Delete(o->tree);
	o->tree = NULL;
}

/* Remembers which answer is being read, for 58000 messages. */
void
liveid_json_set_context(const char *method, const char *path)
{
	ctx_method = method;
	ctx_path = path;
}

/* Raises the 58000 error of an answer of the wrong shape. */
static void
pg_attribute_noreturn()
ShapeError(const char *fmt, const char *name)
{
	char		detail[256];

	snprintf(detail, sizeof(detail), fmt, name);
	ereport(ERROR,
			(errcode(ERRCODE_SYSTEM_ERROR),
			 errmsg("LiveID+ answer does not have the expected shape"),
			 errdetail_internal("%s", detail)));
}

/* Parses an answer body (NUL-terminated at len); 58000 if it is not JSON. */
LiveidJson *
liveid_json_parse(const char *text, size_t len, const char *method,
				  const char *path)
{
	TreeOwner  *owner;
	cJSON	   *tree;

	liveid_json_set_context(method, path);
	owner = palloc0(sizeof(TreeOwner));
	tree = cJSON_ParseWithLengthOpts(text, len + 1, NULL, true);
	if (tree == NULL)
	{
		char		excerpt[81];
		size_t		n = Min(len, 80);

		for (size_t i = 0; i < n; i++)
			excerpt[i] = ((unsigned char) text[i] < 0x20) ? ' ' : text[i];
		excerpt[n] = '\0';
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("LiveID+ answer is not JSON"),
				 errdetail_internal("The answer begins: %s%s", excerpt, len > n ? "..." : "")));
	}
	owner->tree = tree;
	owner->cb.func = FreeTree;
	owner->cb.arg = owner;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, &owner->cb);
	return tree;
}

/* The service's {"error": "..."} text of a failed answer, or NULL. */
char *
liveid_json_error_text(const char *text, size_t len)
{
	cJSON	   *tree = cJSON_ParseWithLengthOpts(text, len + 1, NULL, true);
	const cJSON *err;
	char	   *result = NULL;

	err = cJSON_GetObjectItemCaseSensitive(tree, "error");
	if (cJSON_IsString(err))
	{
		/* no ERROR may escape while the tree is held */
		size_t		n = strlen(err->valuestring);

		result = palloc_extended(n + 1, MCXT_ALLOC_NO_OOM);
		if (result)
			memcpy(result, err->valuestring, n + 1);
	}
	cJSON_Delete(tree);
	return result;
}

/* Builds a JsonbValue tree from a cJSON node. */
static JsonbValue *
ToJsonbValue(const cJSON *node, JsonbParseState **state, bool top)
{
	JsonbValue	v;

	if (cJSON_IsObject(node) || cJSON_IsArray(node))
	{
		bool		obj = cJSON_IsObject(node);
		const cJSON *child;
		JsonbValue *res;

		pushJsonbValue(state, obj ? WJB_BEGIN_OBJECT : WJB_BEGIN_ARRAY, NULL);
		cJSON_ArrayForEach(child, node)
		{
			if (obj)
			{
				JsonbValue	k;

				k.type = jbvString;
				k.val.string.val = child->string;
				k.val.string.len = strlen(child->string);
				pushJsonbValue(state, WJB_KEY, &k);
			}
			ToJsonbValue(child, state, false);
		}
		res = pushJsonbValue(state, obj ? WJB_END_OBJECT : WJB_END_ARRAY, NULL);
		return res;
	}

	if (cJSON_IsString(node))
	{
		v.type = jbvString;
		v.val.string.val = node->valuestring;
		v.val.string.len = strlen(node->valuestring);
	}
	else if (cJSON_IsNumber(node))
	{
		char		buf[64];

		if (!isfinite(node->valuedouble))
			ShapeError("%s", "a number out of range");
		if (node->valuedouble == rint(node->valuedouble) && fabs(node->valuedouble) < 1e15)
			snprintf(buf, sizeof(buf), "%.0f", node->valuedouble);
		else
			snprintf(buf, sizeof(buf), "%.17g", node->valuedouble);
		v.type = jbvNumeric;
		v.val.numeric = DatumGetNumeric(DirectFunctionCall3(numeric_in,
															CStringGetDatum(buf),
															ObjectIdGetDatum(InvalidOid),
															Int32GetDatum(-1)));
	}
	else if (cJSON_IsBool(node))
	{
		v.type = jbvBool;
		v.val.boolean = cJSON_IsTrue(node);
	}
	else
		v.type = jbvNull;

	if (top)
	{
		/* a scalar at the top is wrapped in a raw-scalar array */
		pushJsonbValue(state, WJB_BEGIN_ARRAY, NULL);
		(*state)->contVal.val.array.rawScalar = true;
		pushJsonbValue(state, WJB_ELEM, &v);
		return pushJsonbValue(state, WJB_END_ARRAY, NULL);
	}
	return pushJsonbValue(state, (*state)->contVal.type == jbvArray ? WJB_ELEM : WJB_VALUE, &v);
}

/* A parsed answer as jsonb. */
Jsonb *
liveid_json_to_jsonb(const LiveidJson *json)
{
	JsonbParseState *state = NULL;

	return JsonbValueToJsonb(ToJsonbValue(json, &state, true));
}

/* The answer as an object (58000 otherwise). */
const LiveidJson *
liveid_json_object(const LiveidJson *json, const char *what)
{
	if (!cJSON_IsObject(json))
		ShapeError("The answer is not a JSON object (%s expected).", what);
	return json;
}

/* A member that must be present. */
static const cJSON *
Member(const LiveidJson *obj, const char *key, const char *type)
{
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, key);
	char		what[128];

	if (m == NULL || cJSON_IsNull(m))
	{
		snprintf(what, sizeof(what), "\"%s\" (%s)", key, type);
		ShapeError("The member %s is missing.", what);
	}
	return m;
}

/* Raises the error of a member of the wrong type. */
static void
pg_attribute_noreturn()
WrongType(const char *key, const char *type)
{
	char		what[128];

	snprintf(what, sizeof(what), "\"%s\" is not %s", key, type);
	ShapeError("The member %s.", what);
}

/* An integer member. */
int32
liveid_json_int(const LiveidJson *obj, const char *key)
{
	const cJSON *m = Member(obj, key, "an integer");

	if (!cJSON_IsNumber(m) || m->valuedouble != rint(m->valuedouble) ||
		m->valuedouble < PG_INT32_MIN || m->valuedouble > PG_INT32_MAX)
		WrongType(key, "an integer");
	return (int32) m->valuedouble;
}

/* A number member. */
double
liveid_json_number(const LiveidJson *obj, const char *key)
{
	const cJSON *m = Member(obj, key, "a number");

	if (!cJSON_IsNumber(m) || !isfinite(m->valuedouble))
		WrongType(key, "a number");
	return m->valuedouble;
}

/* A string member, palloc'd. */
char *
liveid_json_string(const LiveidJson *obj, const char *key)
{
	const cJSON *m = Member(obj, key, "a string");

	if (!cJSON_IsString(m))
		WrongType(key, "a string");
	return pstrdup(m->valuestring);
}

/* An array member. */
const LiveidJson *
liveid_json_array(const LiveidJson *obj, const char *key)
{
	const cJSON *m = Member(obj, key, "an array");

	if (!cJSON_IsArray(m))
		WrongType(key, "an array");
	return m;
}

/* An object member. */
const LiveidJson *
liveid_json_member_object(const LiveidJson *obj, const char *key)
{
	const cJSON *m = Member(obj, key, "an object");

	if (!cJSON_IsObject(m))
		WrongType(key, "an object");
	return m;
}

int
liveid_json_array_size(const LiveidJson *arr)
{
	return cJSON_GetArraySize(arr);
}

const LiveidJson *
liveid_json_array_item(const LiveidJson *arr, int i)
{
	return cJSON_GetArrayItem(arr, i);
}

/* An array element that must be a string, palloc'd. */
char *
liveid_json_item_string(const LiveidJson *item, const char *what)
{
	if (!cJSON_IsString(item))
		ShapeError("An element of %s is not a string.", what);
	return pstrdup(item->valuestring);
}
