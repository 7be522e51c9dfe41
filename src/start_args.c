/*-------------------------------------------------------------------------
 *
 * start_args.c
 *		The arguments liveid.service_start() and liveid.launch_form()
 *		share, checked in one place, and the service-start fields they make.
 *
 * Both functions take the same leading arguments (sql-api.md) and check
 * them here, before anything is sent: liveid_start_form() checks each rule
 * of liveid-api.md and builds the ordered list of service-start form
 * fields: id_organization first, then id_process or the pair
 * id_process_live + id_process_self, then json (the standard Base64 of the
 * UTF-8 ServiceStartJson text), then the optional fields.  service_start
 * sends that list as pushAsyncCall's b64Data; launch_form writes it as the
 * hidden inputs of an HTML form.  NULL arguments are left out;
 * organization and process fall back to their settings.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "common/base64.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/uuid.h"

#define MAX_SHORT_TEXT 100		/* external_id, op_info: characters */

/* the four ways of routing a call to one operator, in argument order */
static const char *const routing_args[] = {
	"operator_id", "operator_email", "operator_external_id", "direct"
};

/* A uuid argument in its text form, or NULL. */
static char *
UuidArg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return DatumGetCString(DirectFunctionCall1(uuid_out, PG_GETARG_DATUM(argno)));
}

/* A boolean argument as "true"/"false", or NULL. */
static const char *
BoolArg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return PG_GETARG_BOOL(argno) ? "true" : "false";
}

/* The standard Base64 of s converted to UTF-8, palloc'd. */
char *
liveid_base64_utf8(const char *s)
{
	char	   *utf8 = pg_server_to_any(s, strlen(s), PG_UTF8);
	int			len = strlen(utf8);
	int			cap = pg_b64_enc_len(len);
	char	   *out = palloc(cap + 1);
	int			n = pg_b64_encode(utf8, len, out, cap);

	if (n < 0)
		elog(ERROR, "could not encode to Base64");
	out[n] = '\0';
	return out;
}

/*
 * s percent-encoded for a query string, as UTF-8 (what the service reads):
 * only A-Z a-z 0-9 - _ ~ stay.
 */
char *
liveid_url_encode(const char *s)
{
	StringInfoData b;
	const char *utf8 = pg_server_to_any(s, strlen(s), PG_UTF8);

	initStringInfo(&b);
	for (const unsigned char *p = (const unsigned char *) utf8; *p; p++)
	{
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
			(*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '~')
			appendStringInfoChar(&b, (char) *p);
		else
			appendStringInfo(&b, "%%%02X", *p);
	}
	return b.data;
}

/* liveid.url without its trailing slash (as http.c joins it), palloc'd. */
char *
liveid_base_url(void)
{
	const char *base = liveid_url ? liveid_url : "";
	size_t		len = strlen(base);

	if (len == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("liveid.url is not set"),
				 errhint("Set liveid.url to the LiveID+ service's base URL.")));
	if (base[len - 1] == '/')
		len--;
	return pnstrdup(base, len);
}

/* Adds a field to the form when it has a value. */
static void
AddField(LiveidStartForm *form, const char *name, const char *value, bool boolean)
{
	if (value == NULL)
		return;
	Assert(form->nfields < LIVEID_MAX_FORM_FIELDS);
	form->fields[form->nfields].name = name;
	form->fields[form->nfields].value = value;
	form->fields[form->nfields].boolean = boolean;
	form->nfields++;
}

/* Checks an argument of at most MAX_SHORT_TEXT characters. */
static void
CheckShortText(const char *arg, const char *value)
{
	int			n;

	if (value == NULL)
		return;
	n = pg_mbstrlen(value);
	if (n > MAX_SHORT_TEXT)
		liveid_arg_error(arg, psprintf("It has %d characters; LiveID+ accepts at most %d.",
									   n, MAX_SHORT_TEXT),
						 "Pass a shorter text.");
}

/*
 * Sets the call's process, or its pair process_live + process_self: exactly
 * one of them, liveid.process standing in when neither is given.
 */
static void
CheckProcessArgs(FunctionCallInfo fcinfo, LiveidCall *call)
{
	const char *process = UuidArg(fcinfo, LIVEID_ARG_PROCESS);
	const char *live = UuidArg(fcinfo, LIVEID_ARG_PROCESS_LIVE);
	const char *self = UuidArg(fcinfo, LIVEID_ARG_PROCESS_SELF);

	if (process && (live || self))
		liveid_arg_error("process",
						 "Argument \"process\" excludes \"process_live\" and \"process_self\".",
						 "Pass either process, or the pair process_live and process_self.");
	if ((live == NULL) != (self == NULL))
		liveid_arg_error(live ? "process_self" : "process_live",
						 "Arguments \"process_live\" and \"process_self\" go together.",
						 "Pass both (LiveID+ then picks the live or the self process), or process alone.");
	if (process == NULL && live == NULL)
	{
		const char *v = liveid_setting_or(NULL, liveid_process, "liveid.process",
										  "process");

		if (!liveid_is_uuid(v))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("liveid.process is not a UUID: \"%s\"", v),
					 errhint("SET liveid.process to the process UUID Namirial issued.")));
		process = pstrdup(v);
	}
	call->process = process;
	call->process_live = live;
	call->process_self = self;
}

/* Checks redirect_url and redirect_method; returns the URL (or NULL). */
static char *
CheckRedirectArgs(FunctionCallInfo fcinfo, char **method)
{
	char	   *url = liveid_text_arg(fcinfo, LIVEID_ARG_REDIRECT_URL);

	*method = liveid_text_arg(fcinfo, LIVEID_ARG_REDIRECT_METHOD);
	if (url && !liveid_is_http_url(url, false))
		liveid_arg_error("redirect_url",
						 psprintf("\"%s\" is not an absolute http or https URL.", url),
						 "Pass the page the browser returns to, such as https://example.com/done.");
	if (*method && strcmp(*method, "GET") != 0 && strcmp(*method, "POST") != 0)
		liveid_arg_error("redirect_method",
						 psprintf("\"%s\" is not GET or POST.", *method),
						 "Pass 'GET' or 'POST' (LiveID+ uses POST when it is not given).");
	if (*method && url == NULL)
		liveid_arg_error("redirect_method",
						 "Argument \"redirect_method\" only applies with \"redirect_url\".",
						 "Pass redirect_url too, or leave redirect_method out.");
	return url;
}

/* Checks the four ways of routing to one operator: at most one, each well formed. */
static void
CheckRoutingArgs(FunctionCallInfo fcinfo, char **routing)
{
	StringInfoData given;
	int			n = 0;

	routing[0] = UuidArg(fcinfo, LIVEID_ARG_OPERATOR_ID);
	routing[1] = liveid_text_arg(fcinfo, LIVEID_ARG_OPERATOR_EMAIL);
	routing[2] = liveid_text_arg(fcinfo, LIVEID_ARG_OPERATOR_EXTERNAL_ID);
	routing[3] = liveid_text_arg(fcinfo, LIVEID_ARG_DIRECT);
	initStringInfo(&given);
	for (int i = 0; i < lengthof(routing_args); i++)
		if (routing[i])
		{
			appendStringInfo(&given, "%s\"%s\"", n++ ? ", " : "", routing_args[i]);
		}
	if (n > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("arguments \"operator_id\", \"operator_email\", \"operator_external_id\" and \"direct\" are mutually exclusive"),
				 errdetail("Given: %s.", given.data),
				 errhint("Route the call to one operator in one way, or leave all four out.")));
	if (routing[1] && !liveid_is_email(routing[1]))
		liveid_arg_error("operator_email",
						 psprintf("\"%s\" is not an e-mail address.", routing[1]), NULL);
	if (routing[2] && liveid_is_blank(routing[2]))
		liveid_arg_error("operator_external_id", "It must not be empty.", NULL);
	/* never print the token itself */
	if (routing[3] && !liveid_is_jwt(routing[3]))
		liveid_arg_error("direct",
						 "It must be a JWT: three base64url segments separated by dots.",
						 "Pass the token LiveID+ issued for calling that operator.");
}

/*
 * Checks every argument service_start and launch_form share and builds the
 * ordered service-start fields (see the file header).
 */
void
liveid_start_form(FunctionCallInfo fcinfo, LiveidStartForm *form, bool with_secret)
{
	Jsonb	   *customer;
	LiveidCall *call = &form->call;
	char	   *redirect_url,
			   *redirect_method,
			   *op_info;
	char	   *routing[lengthof(routing_args)];

	memset(form, 0, sizeof(LiveidStartForm));

	/* the customer: a whole ServiceStartJson, perhaps made by hand */
	if (PG_ARGISNULL(LIVEID_ARG_CUSTOMER))
		liveid_null_arg_error("customer", "Build the customer with liveid.customer().");
	customer = PG_GETARG_JSONB_P(LIVEID_ARG_CUSTOMER);
	liveid_check_customer(&customer->root);
	if (with_secret)
		customer = liveid_call_secret(customer, call);

	CheckProcessArgs(fcinfo, call);
	call->organization = liveid_setting_or(liveid_text_arg(fcinfo, LIVEID_ARG_ORGANIZATION),
										   liveid_organization, "liveid.organization",
										   "organization");
	call->external_id = liveid_text_arg(fcinfo, LIVEID_ARG_EXTERNAL_ID);
	CheckShortText("external_id", call->external_id);
	redirect_url = CheckRedirectArgs(fcinfo, &redirect_method);
	CheckRoutingArgs(fcinfo, routing);
	op_info = liveid_text_arg(fcinfo, LIVEID_ARG_OP_INFO);
	CheckShortText("op_info", op_info);

	/* the fields, in the order the service expects */
	AddField(form, "id_organization", call->organization, false);
	AddField(form, "id_process", call->process, false);
	AddField(form, "id_process_live", call->process_live, false);
	AddField(form, "id_process_self", call->process_self, false);
	AddField(form, "json",
			 liveid_base64_utf8(JsonbToCString(NULL, &customer->root, VARSIZE(customer))),
			 false);
	AddField(form, "external_id", call->external_id, false);
	AddField(form, "redirectUrl", redirect_url, false);
	AddField(form, "redirectMethod", redirect_method, false);
	AddField(form, "id_operator2Call", routing[0], false);
	AddField(form, "email_operator2Call", routing[1], false);
	AddField(form, "extId_operator2Call", routing[2], false);
	AddField(form, "direct", routing[3], false);
	AddField(form, "opInfo", op_info, false);
	AddField(form, "skipAVrecTest", BoolArg(fcinfo, LIVEID_ARG_SKIP_AV_REC_TEST), true);
	AddField(form, "disableRTCTest", BoolArg(fcinfo, LIVEID_ARG_DISABLE_RTC_TEST), true);
}
