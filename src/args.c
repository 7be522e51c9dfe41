/*-------------------------------------------------------------------------
 *
 * args.c
 *		What every SQL function of liveid does with its arguments: the
 *		22023 errors of a bad or missing one, text arguments, and the
 *		settings that stand in for a NULL one.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "utils/builtins.h"

/* Raises the 22023 error of a bad argument. */
void
liveid_arg_error(const char *arg, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for argument \"%s\"", arg),
			 errdetail_internal("%s", detail),
			 hint ? errhint("%s", hint) : 0));
}

/* Raises the 22023 error of a NULL argument that is required. */
void
liveid_null_arg_error(const char *arg, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("argument \"%s\" must not be null", arg),
			 errhint("%s", hint)));
}

/* A text argument as a C string, or NULL. */
char *
liveid_text_arg(FunctionCallInfo fcinfo, int argno)
{
	if (PG_ARGISNULL(argno))
		return NULL;
	return text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

/* True when s is empty or only white space. */
bool
liveid_is_blank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char) *s))
			return false;
	return true;
}

/*
 * The argument, or the setting when the argument is NULL; 22023 with a
 * hint naming the setting when neither is given.
 */
const char *
liveid_setting_or(const char *arg, const char *setting, const char *setting_name,
				  const char *what)
{
	const char *v = arg ? arg : setting;

	if (v == NULL || *v == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("no %s given", what),
				 arg ? errdetail("The argument \"%s\" is empty.", what)
				 : errdetail("The argument \"%s\" is NULL and %s is not set.", what, setting_name),
				 errhint("Pass %s => ..., or SET %s.", what, setting_name)));
	/* a code or id this long is no one's: refuse it rather than send it */
	if (strlen(v) > LIVEID_MAX_CODE_LEN)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid value for argument \"%s\"", what),
				 errdetail("It is %zu bytes long; LiveID+ codes and ids have at most %d.",
						   strlen(v), LIVEID_MAX_CODE_LEN),
				 errhint("Pass the %s as Namirial issued it.", what)));
	return v;
}
