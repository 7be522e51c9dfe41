/*-------------------------------------------------------------------------
 *
 * customer.c
 *		liveid.customer(): a validated ServiceStartJson.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

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
	char	   *callback_url = liveid_text_arg(fcinfo, 5);
	Jsonb	   *callback_params = PG_ARGISNULL(6) ? NULL : PG_GETARG_JSONB_P(6);
	JsonbParseState *st = NULL;
	JsonbValue *res;
	Jsonb	   *result;

	for (int i = 0; i < lengthof(required); i++)
	{
		if (PG_ARGISNULL(i))
			liveid_null_arg_error(required[i],
						 "A customer needs a language, an e-mail address, a name and a surname.");
		v[i] = text_to_cstring(PG_GETARG_TEXT_PP(i));
	}
	if (strlen(v[0]) != 2 || v[0][0] < 'a' || v[0][0] > 'z' || v[0][1] < 'a' || v[0][1] > 'z')
		liveid_arg_error("lang",
				 psprintf("\"%s\" is not a language code of two lowercase letters.", v[0]),
				 "Pass an ISO 639-1 code such as 'it' or 'en'; liveid.available_languages() lists those the operators speak.");
	if (!liveid_is_email(v[1]))
		liveid_arg_error("email", psprintf("\"%s\" is not an e-mail address.", v[1]), NULL);
	for (int i = 2; i < 4; i++)
		if (liveid_is_blank(v[i]))
			liveid_arg_error(required[i], "It must not be empty.", NULL);
	/* a NULL data (data_agg over no rows) is no data fields */
	if (data)
		liveid_check_data(&data->root);
	if (callback_url)
		liveid_check_callback_url(callback_url);
	if (callback_params)
	{
		if (callback_url == NULL)
			liveid_arg_error("callback_params",
					 "The callback parameters travel with the server callback, so they need callback_url.",
					 "Pass callback_url too.");
		if (!JB_ROOT_IS_OBJECT(callback_params))
			liveid_arg_error("callback_params", "It must be a JSON object.",
					 "Pass an object such as '{\"ref\": \"A-12\"}'; LiveID+ posts it back as otherParams.");
	}
	if (!PG_ARGISNULL(7) && (PG_GETARG_INT32(7) < 0 || PG_GETARG_INT32(7) > 10))
		liveid_arg_error("priority", psprintf("%d is not from 0 to 10.", PG_GETARG_INT32(7)),
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
