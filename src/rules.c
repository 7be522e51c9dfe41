/*-------------------------------------------------------------------------
 *
 * rules.c
 *		The rules of liveid-api.md for a data field and a ServiceStartJson,
 *		on C values: each builder checks what it is about to write, once.
 *
 * A data field has a datatype (one of the nine HTML input types the
 * service knows), a label and a value (strings), optionally a display
 * ("none" or "operator"), an order (a number) and the HTML attributes
 * disabled, readonly, required (booleans), maxlength, size (non-negative
 * integers), max, min, step (strings or numbers), pattern, placeholder,
 * title (strings).  A non-empty value must suit its datatype (the formats
 * the service's form inputs accept).  A customer has a two-letter language,
 * an e-mail address, a name and a surname, an optional https callback URL
 * without credentials and an optional priority from 0 to 10.
 *
 * The builders call these rules on the values they write; walk.c feeds
 * them what arrives as jsonb.  Every failure is 22023 naming the field, or
 * the customer's argument or member, with the rule in DETAIL.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include <ctype.h>

#include "mb/pg_wchar.h"
#include "utils/datetime.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"

const char *const liveid_datatypes[] = {
	"text", "date", "email", "number", "tel", "checkbox", "month", "time", "url", NULL
};

/* True for one of the nine datatypes. */
bool
liveid_is_datatype(const char *s)
{
	for (int i = 0; liveid_datatypes[i]; i++)
		if (strcmp(s, liveid_datatypes[i]) == 0)
			return true;
	return false;
}

/* True for the textual UUID form 8-4-4-4-12. */
bool
liveid_is_uuid(const char *s)
{
	if (s == NULL || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++)
	{
		if (i == 8 || i == 13 || i == 18 || i == 23)
		{
			if (s[i] != '-')
				return false;
		}
		else if (!isxdigit((unsigned char) s[i]))
			return false;
	}
	return true;
}

/* A plausible e-mail address: one @, a dotted domain, no spaces or commas. */
bool
liveid_is_email(const char *s)
{
	const char *at,
			   *dot;

	if (s == NULL || strlen(s) > 254)
		return false;
	at = strchr(s, '@');
	if (at == NULL || at == s || strchr(at + 1, '@') != NULL)
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char) *p <= ' ' || strchr(",;<>\"()[]\\", *p) != NULL ||
			(unsigned char) *p == 0x7f)
			return false;
	dot = strrchr(at + 1, '.');
	return dot != NULL && dot != at + 1 && dot[1] != '\0' && strstr(at, "..") == NULL;
}

/*
 * Splits an absolute http(s) URL: sets *https, *userinfo and whether the
 * host is non-empty; false when it is not an absolute http(s) URL.
 */
static bool
SplitUrl(const char *url, bool *https, bool *userinfo)
{
	const char *p;
	size_t		authority;

	if (url == NULL)
		return false;
	if (pg_strncasecmp(url, "https://", 8) == 0)
	{
		*https = true;
		p = url + 8;
	}
	else if (pg_strncasecmp(url, "http://", 7) == 0)
	{
		*https = false;
		p = url + 7;
	}
	else
		return false;
	for (const char *q = url; *q; q++)
		if ((unsigned char) *q <= ' ' || *q == 0x7f || *q == '\\')
			return false;
	authority = strcspn(p, "/?#");
	*userinfo = memchr(p, '@', authority) != NULL;
	/* a host: something before any port */
	return authority > 0 && p[0] != ':' && p[0] != '@';
}

/* An absolute http(s) URL with a host (https only if asked). */
bool
liveid_is_http_url(const char *s, bool https_only)
{
	bool		https,
				userinfo;

	return SplitUrl(s, &https, &userinfo) && (https || !https_only);
}

/* Three non-empty base64url segments separated by dots. */
bool
liveid_is_jwt(const char *s)
{
	int			segments = 1,
				len = 0;

	if (s == NULL || *s == '\0')
		return false;
	for (const char *p = s; *p; p++)
	{
		if (*p == '.')
		{
			if (len == 0)
				return false;
			segments++;
			len = 0;
		}
		else if (isalnum((unsigned char) *p) || *p == '-' || *p == '_')
			len++;
		else
			return false;
	}
	return segments == 3 && len > 0;
}


/* Digits [p, p+n) as a number, or -1 when they are not all digits. */
int
liveid_digits(const char *p, int n)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (!isdigit((unsigned char) p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* YYYY-MM-DD, a real calendar date. */
static bool
IsDate(const char *s)
{
	int			y,
				m,
				d;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return false;
	y = liveid_digits(s, 4);
	m = liveid_digits(s + 5, 2);
	d = liveid_digits(s + 8, 2);
	if (y < 1 || m < 1 || m > 12 || d < 1)
		return false;
	return d <= day_tab[isleap(y)][m - 1];
}

/* YYYY-MM. */
static bool
IsMonth(const char *s)
{
	int			m;

	if (strlen(s) != 7 || s[4] != '-' || liveid_digits(s, 4) < 1)
		return false;
	m = liveid_digits(s + 5, 2);
	return m >= 1 && m <= 12;
}

/* HH:MM, HH:MM:SS or HH:MM:SS.f to .fff. */
static bool
IsTime(const char *s)
{
	size_t		n = strlen(s);

	if (n < 5 || s[2] != ':' || liveid_digits(s, 2) < 0 || liveid_digits(s, 2) > 23 ||
		liveid_digits(s + 3, 2) < 0 || liveid_digits(s + 3, 2) > 59)
		return false;
	if (n == 5)
		return true;
	if (s[5] != ':' || n < 8 || liveid_digits(s + 6, 2) < 0 || liveid_digits(s + 6, 2) > 59)
		return false;
	if (n == 8)
		return true;
	return s[8] == '.' && n >= 10 && n <= 12 && liveid_digits(s + 9, (int) n - 9) >= 0;
}

/* A decimal number: -?digits(.digits)?([eE][+-]?digits)? */
static bool
IsNumber(const char *s)
{
	const char *p = s;

	if (*p == '-')
		p++;
	if (!isdigit((unsigned char) *p))
		return false;
	while (isdigit((unsigned char) *p))
		p++;
	if (*p == '.')
	{
		p++;
		if (!isdigit((unsigned char) *p))
			return false;
		while (isdigit((unsigned char) *p))
			p++;
	}
	if (*p == 'e' || *p == 'E')
	{
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char) *p))
			return false;
		while (isdigit((unsigned char) *p))
			p++;
	}
	return *p == '\0';
}


/* Raises the error of one data field rule. */
void
liveid_field_error(const char *key, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid data field \"%s\"", key),
			 errdetail_internal("%s", detail),
			 hint ? errhint("%s", hint) : 0));
}

/* Checks the key of a data field: a non-empty string. */
void
liveid_check_field_key(const char *key)
{
	if (key == NULL || *key == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a data field key must not be empty"),
				 errdetail("Each key of a data object names one field."),
				 errhint("Give the field a key of at least one character.")));
}

/* Checks a field's datatype: one of the nine (NULL is none of them). */
void
liveid_check_field_datatype(const char *key, const char *datatype)
{
	if (datatype == NULL)
		liveid_field_error(key, "The member \"datatype\" must be a string, one of text, date, email, number, tel, checkbox, month, time, url.", NULL);
	if (!liveid_is_datatype(datatype))
		liveid_field_error(key, psprintf("\"%s\" is not a datatype; a datatype is one of text, date, email, number, tel, checkbox, month, time, url.", datatype),
						   NULL);
}

/* Checks a field's display: "none" or "operator" (NULL is neither). */
void
liveid_check_field_display(const char *key, const char *display)
{
	if (display == NULL)
		liveid_field_error(key, "The member \"display\" must be a string, \"none\" or \"operator\".", NULL);
	if (strcmp(display, "none") != 0 && strcmp(display, "operator") != 0)
		liveid_field_error(key, psprintf("\"%s\" is not a display; a display is \"none\" (hidden) or \"operator\" (shown to the operator only).", display),
						   NULL);
}

/* Checks that a non-empty value [value, value+len) suits its datatype. */
void
liveid_check_field_value(const char *key, const char *datatype,
						 const char *value, int len)
{
	const char *want = NULL;
	char	   *s;

	/* text, tel and checkbox take any value, and "" suits every datatype */
	if (len == 0 || strcmp(datatype, "text") == 0 || strcmp(datatype, "tel") == 0 ||
		strcmp(datatype, "checkbox") == 0)
		return;
	/* the values of row_to_data and data_field are not NUL-terminated */
	s = pnstrdup(value, len);
	if (strcmp(datatype, "date") == 0 && !IsDate(s))
		want = "a date YYYY-MM-DD";
	else if (strcmp(datatype, "month") == 0 && !IsMonth(s))
		want = "a month YYYY-MM";
	else if (strcmp(datatype, "time") == 0 && !IsTime(s))
		want = "a time HH:MM, HH:MM:SS or HH:MM:SS.fff";
	else if (strcmp(datatype, "number") == 0 && !IsNumber(s))
		want = "a decimal number such as -12.5 (no spaces, separators or locale)";
	else if (strcmp(datatype, "email") == 0 && !liveid_is_email(s))
		want = "an e-mail address";
	else if (strcmp(datatype, "url") == 0 && !liveid_is_http_url(s, false))
		want = "an absolute http or https URL";
	if (want)
		liveid_field_error(key, psprintf("The value \"%s\" of a %s field is not %s.", s, datatype, want),
						   "Pass a value in that form, or another datatype.");
	pfree(s);
}

/* True for a JSON number that is a whole number of at most 18 digits. */
bool
liveid_whole_number(const JsonbValue *v, int64 *n)
{
	char	   *text,
			   *digits;
	size_t		len;

	if (v->type != jbvNumeric)
		return false;
	text = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	digits = text + (text[0] == '-');
	len = strspn(digits, "0123456789");
	/* a scale of zeros only (2.00) is still whole; NaN has no digits */
	if (len == 0 || len > 18 ||
		(digits[len] != '\0' && (digits[len] != '.' ||
								 strspn(digits + len + 1, "0") != strlen(digits + len + 1))))
		return false;
	digits[len] = '\0';
	*n = strtoll(text, NULL, 10);
	return true;
}

/* the HTML attributes of a data field and the JSON values they take */
typedef enum AttributeKind
{
	AK_BOOL, AK_COUNT, AK_STRING_OR_NUMBER, AK_STRING
} AttributeKind;

static const struct
{
	const char *name;
	AttributeKind kind;
}			attributes[] =
{
	{"disabled", AK_BOOL},
	{"readonly", AK_BOOL},
	{"required", AK_BOOL},
	{"maxlength", AK_COUNT},
	{"size", AK_COUNT},
	{"max", AK_STRING_OR_NUMBER},
	{"min", AK_STRING_OR_NUMBER},
	{"step", AK_STRING_OR_NUMBER},
	{"pattern", AK_STRING},
	{"placeholder", AK_STRING},
	{"title", AK_STRING},
};

/* Checks one HTML attribute of a field: a known name, a value of its kind. */
void
liveid_check_field_attribute(const char *key, const char *name, int namelen,
							 const JsonbValue *v)
{
	char	   *n = pnstrdup(name, namelen);
	int64		count;

	for (int i = 0; i < lengthof(attributes); i++)
	{
		if (strcmp(n, attributes[i].name) != 0)
			continue;
		switch (attributes[i].kind)
		{
			case AK_BOOL:
				if (v->type != jbvBool)
					liveid_field_error(key, psprintf("\"%s\" must be true or false.", n), NULL);
				break;
			case AK_COUNT:
				if (!liveid_whole_number(v, &count) || count < 0 || count > PG_INT32_MAX)
					liveid_field_error(key, psprintf("\"%s\" must be a non-negative integer.", n), NULL);
				break;
			case AK_STRING_OR_NUMBER:
				if (v->type != jbvString && v->type != jbvNumeric)
					liveid_field_error(key, psprintf("\"%s\" must be a string or a number.", n), NULL);
				break;
			case AK_STRING:
				if (v->type != jbvString)
					liveid_field_error(key, psprintf("\"%s\" must be a string.", n), NULL);
				break;
		}
		return;
	}
	liveid_field_error(key, psprintf("\"%s\" is not a member of a data field.", n),
					   "A field has datatype, label, value, display, order and the HTML attributes disabled, readonly, required, maxlength, max, min, pattern, placeholder, size, step, title.");
}

/* Checks a server callback URL: https, a host, no credentials. */
void
liveid_check_callback_url(const char *url)
{
	bool		https = false,
				userinfo = false;

	if (!SplitUrl(url, &https, &userinfo) || !https)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid callback URL"),
				 errdetail("The server callback URL must be an absolute https URL."),
				 errhint("LiveID+ posts results only to https endpoints it has approved.")));
	if (userinfo)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid callback URL"),
				 errdetail("The server callback URL must not carry credentials."),
				 errhint("Put a secret of yours in the callback parameters (otherParams) and check it on arrival.")));
}

/*
 * Raises the error of one customer rule, naming liveid.customer()'s
 * argument arg, or the ServiceStartJson member name when member is true.
 */
static void
pg_attribute_noreturn()
CustomerError(bool member, const char *arg, const char *name,
			  const char *detail, const char *hint)
{
	if (member)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid customer member \"%s\"", name),
				 errdetail_internal("%s", detail),
				 errhint("Build the customer with liveid.customer().")));
	liveid_arg_error(arg, detail, hint);
}

/* Checks the customer's language: two lowercase ASCII letters (ISO 639-1). */
void
liveid_check_customer_lang(const char *lang, bool member)
{
	if (strlen(lang) != 2 || lang[0] < 'a' || lang[0] > 'z' || lang[1] < 'a' || lang[1] > 'z')
		CustomerError(member, "lang", "lang",
					  psprintf("\"%s\" is not a language code of two lowercase letters.", lang),
					  "Pass an ISO 639-1 code such as 'it' or 'en'; liveid.available_languages() lists those the operators speak.");
}

/* Checks the customer's e-mail address. */
void
liveid_check_customer_email(const char *email, bool member)
{
	if (!liveid_is_email(email))
		CustomerError(member, "email", "liveid_email",
					  psprintf("\"%s\" is not an e-mail address.", email), NULL);
}

/* Checks the customer's name or surname (which): not only white space. */
void
liveid_check_customer_name(const char *which, const char *name, bool member)
{
	char	   *json_name = psprintf("liveid_%s", which);

	for (const char *p = name; *p; p++)
		if (!isspace((unsigned char) *p))
			return;
	CustomerError(member, which, json_name,
				  psprintf("A %s must not be empty or only white space.", which), NULL);
}

/* Checks the customer's queue priority level: 0 to 10. */
void
liveid_check_customer_priority(int64 level, bool member)
{
	if (level < 0 || level > 10)
		CustomerError(member, "priority", "liveid_priorityQueueLevel",
					  psprintf("%lld is not a queue priority level from 0 to 10.", (long long) level),
					  "Pass a queue priority level from 0 to 10.");
}
