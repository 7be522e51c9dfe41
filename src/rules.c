/*-------------------------------------------------------------------------
 *
 * rules.c
 *		The field rules of liveid-api.md: ServiceStartJson and its data
 *		fields, checked in one place for every builder and for service_start.
 *
 * A data field is an object with `datatype` (one of the nine HTML input
 * types the service knows), `label` and `value` (strings), optionally
 * `display` ("none" or "operator"), `order` (a number) and the HTML
 * attributes disabled, readonly, required (booleans), maxlength, size
 * (non-negative integers), max, min, step (strings or numbers), pattern,
 * placeholder, title (strings).  A non-empty value must suit its datatype
 * (the same formats the service's form inputs accept).  Every failure is
 * 22023 naming the field and the member, with the rule in DETAIL.
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

/* the kinds of value a data field member may have */
typedef enum MemberKind
{
	MK_DATATYPE, MK_STRING, MK_DISPLAY, MK_NUMBER, MK_BOOL, MK_COUNT, MK_STRING_OR_NUMBER
} MemberKind;

static const struct
{
	const char *name;
	MemberKind	kind;
	bool		required;
}			field_members[] =
{
	{"datatype", MK_DATATYPE, true},
	{"label", MK_STRING, true},
	{"value", MK_STRING, true},
	{"display", MK_DISPLAY, false},
	{"order", MK_NUMBER, false},
	{"disabled", MK_BOOL, false},
	{"readonly", MK_BOOL, false},
	{"required", MK_BOOL, false},
	{"maxlength", MK_COUNT, false},
	{"size", MK_COUNT, false},
	{"max", MK_STRING_OR_NUMBER, false},
	{"min", MK_STRING_OR_NUMBER, false},
	{"step", MK_STRING_OR_NUMBER, false},
	{"pattern", MK_STRING, false},
	{"placeholder", MK_STRING, false},
	{"title", MK_STRING, false},
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

/* Raises the error of one data field rule. */
static void
pg_attribute_noreturn()
FieldError(const char *key, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid data field \"%s\"", key),
			 errdetail_internal("%s", detail),
			 hint ? errhint("%s", hint) : 0));
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

/* Checks that a non-empty value suits its datatype. */
static void
CheckValueFormat(const char *key, const char *datatype, const char *value)
{
	const char *want = NULL;

	if (*value == '\0')
		return;
	if (strcmp(datatype, "date") == 0 && !IsDate(value))
		want = "a date YYYY-MM-DD";
	else if (strcmp(datatype, "month") == 0 && !IsMonth(value))
		want = "a month YYYY-MM";
	else if (strcmp(datatype, "time") == 0 && !IsTime(value))
		want = "a time HH:MM, HH:MM:SS or HH:MM:SS.fff";
	else if (strcmp(datatype, "number") == 0 && !IsNumber(value))
		want = "a decimal number such as -12.5 (no spaces, separators or locale)";
	else if (strcmp(datatype, "email") == 0 && !liveid_is_email(value))
		want = "an e-mail address";
	else if (strcmp(datatype, "url") == 0 && !liveid_is_http_url(value, false))
		want = "an absolute http or https URL";
	if (want)
		FieldError(key, psprintf("The value \"%s\" of a %s field is not %s.", value, datatype, want),
				   "Pass a value in that form, or another datatype.");
}

/* True for a numeric value that is a whole number in [0, max]. */
static bool
IsCount(const JsonbValue *v, long max)
{
	char	   *n,
			   *dot;

	if (v->type != jbvNumeric)
		return false;
	n = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(v->val.numeric)));
	if (n[0] == '-' || strlen(n) > 18)
		return false;
	if ((dot = strchr(n, '.')) != NULL)
	{
		for (const char *p = dot + 1; *p; p++)
			if (*p != '0')
				return false;
		*dot = '\0';
	}
	return atol(n) <= max;
}

/* The text of a string JsonbValue, palloc'd. */
static char *
JbvText(const JsonbValue *v)
{
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* Checks one data field object. */
void
liveid_check_data_field(const char *key, JsonbContainer *field)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	bool		seen[lengthof(field_members)] = {0};
	char	   *datatype = NULL,
			   *value = NULL;

	if (key == NULL || *key == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a data field key must not be empty")));
	if (!JsonContainerIsObject(field))
		FieldError(key, "A data field must be a JSON object.", NULL);

	it = JsonbIteratorInit(field);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *name;
		int			m;

		if (tok != WJB_KEY)
			continue;
		name = JbvText(&k);
		tok = JsonbIteratorNext(&it, &v, true);
		for (m = 0; m < lengthof(field_members); m++)
			if (strcmp(name, field_members[m].name) == 0)
				break;
		if (m == lengthof(field_members))
			FieldError(key, psprintf("\"%s\" is not a member of a data field.", name),
					   "A field has datatype, label, value, display, order and the HTML attributes disabled, readonly, required, maxlength, max, min, pattern, placeholder, size, step, title.");
		seen[m] = true;
		switch (field_members[m].kind)
		{
			case MK_DATATYPE:
				if (v.type != jbvString || !liveid_is_datatype(JbvText(&v)))
					FieldError(key, "\"datatype\" must be one of text, date, email, number, tel, checkbox, month, time, url.", NULL);
				datatype = JbvText(&v);
				break;
			case MK_STRING:
				if (v.type != jbvString)
					FieldError(key, psprintf("\"%s\" must be a string.", name), NULL);
				if (strcmp(name, "value") == 0)
					value = JbvText(&v);
				break;
			case MK_DISPLAY:
				if (v.type != jbvString ||
					(strcmp(JbvText(&v), "none") != 0 && strcmp(JbvText(&v), "operator") != 0))
					FieldError(key, "\"display\" must be \"none\" or \"operator\".", NULL);
				break;
			case MK_NUMBER:
				if (v.type != jbvNumeric)
					FieldError(key, psprintf("\"%s\" must be a number.", name), NULL);
				break;
			case MK_BOOL:
				if (v.type != jbvBool)
					FieldError(key, psprintf("\"%s\" must be true or false.", name), NULL);
				break;
			case MK_COUNT:
				if (!IsCount(&v, PG_INT32_MAX))
					FieldError(key, psprintf("\"%s\" must be a non-negative integer.", name), NULL);
				break;
			case MK_STRING_OR_NUMBER:
				if (v.type != jbvString && v.type != jbvNumeric)
					FieldError(key, psprintf("\"%s\" must be a string or a number.", name), NULL);
				break;
		}
	}
	for (int m = 0; m < lengthof(field_members); m++)
		if (field_members[m].required && !seen[m])
			FieldError(key, psprintf("The member \"%s\" is required.", field_members[m].name), NULL);
	CheckValueFormat(key, datatype, value);
}

/* Checks a whole data object (field key -> field). */
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
				 errmsg("data must be a JSON object of fields"),
				 errhint("Build it with liveid.row_to_data, liveid.data_agg or liveid.data_field.")));
	it = JsonbIteratorInit(data);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &v, true);
		if (v.type != jbvBinary)
			FieldError(JbvText(&k), "A data field must be a JSON object.", NULL);
		liveid_check_data_field(JbvText(&k), v.val.binary.data);
	}
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

/* Raises the error of one ServiceStartJson rule. */
static void
pg_attribute_noreturn()
CustomerError(const char *member, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid customer: %s", member),
			 errdetail_internal("%s", detail),
			 errhint("Build the customer with liveid.customer().")));
}

/* A required non-empty string member of the customer. */
static char *
CustomerString(const JsonbValue *v, const char *member)
{
	char	   *s;
	bool		blank = true;

	if (v == NULL || v->type != jbvString)
		CustomerError(member, psprintf("\"%s\" is required and must be a string.", member));
	s = JbvText(v);
	for (const char *p = s; *p; p++)
		blank &= isspace((unsigned char) *p) != 0;
	if (blank)
		CustomerError(member, psprintf("\"%s\" must not be empty.", member));
	return s;
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
		CustomerError("liveid_servercallback", "It must be an object {\"url\", \"otherParams\"}.");
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
				CustomerError("liveid_servercallback", "\"url\" must be a string.");
			liveid_check_callback_url(JbvText(&m));
			has_url = true;
		}
		else if (strcmp(name, "otherParams") == 0)
		{
			if (m.type != jbvBinary || !JsonContainerIsObject(m.val.binary.data))
				CustomerError("liveid_servercallback", "\"otherParams\" must be a JSON object.");
		}
		else
			CustomerError("liveid_servercallback",
						  psprintf("\"%s\" is not a member of liveid_servercallback (url, otherParams).", name));
	}
	if (!has_url)
		CustomerError("liveid_servercallback", "\"url\" is required.");
}

/* Checks a whole ServiceStartJson. */
void
liveid_check_customer(JsonbContainer *customer)
{
	static const char *const members[] = {
		"lang", "liveid_email", "liveid_name", "liveid_surname", "data",
		"liveid_servercallback", "liveid_priorityQueueLevel"
	};
	JsonbValue	vals[lengthof(members)];
	bool		seen[lengthof(members)] = {0};
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;
	char	   *lang;

	if (!JsonContainerIsObject(customer))
		CustomerError("not an object", "A customer is the ServiceStartJson object.");
	it = JsonbIteratorInit(customer);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *name;
		int			m;

		if (tok != WJB_KEY)
			continue;
		name = JbvText(&k);
		tok = JsonbIteratorNext(&it, &v, true);
		for (m = 0; m < lengthof(members); m++)
			if (strcmp(name, members[m]) == 0)
				break;
		if (m == lengthof(members))
			CustomerError(name, psprintf("\"%s\" is not a member of ServiceStartJson.", name));
		seen[m] = true;
		vals[m] = v;
	}

	lang = CustomerString(seen[0] ? &vals[0] : NULL, "lang");
	if (strlen(lang) != 2 || !islower((unsigned char) lang[0]) || !islower((unsigned char) lang[1]))
		CustomerError("lang", psprintf("\"%s\" is not a two-letter lowercase language code (ISO 639-1) such as \"it\".", lang));
	if (!liveid_is_email(CustomerString(seen[1] ? &vals[1] : NULL, "liveid_email")))
		CustomerError("liveid_email", "It is not an e-mail address.");
	CustomerString(seen[2] ? &vals[2] : NULL, "liveid_name");
	CustomerString(seen[3] ? &vals[3] : NULL, "liveid_surname");
	if (!seen[4] || vals[4].type != jbvBinary)
		CustomerError("data", "\"data\" is required and must be an object of fields.");
	liveid_check_data(vals[4].val.binary.data);
	if (seen[5])
		CheckServerCallback(&vals[5]);
	if (seen[6] && !IsCount(&vals[6], 10))
		CustomerError("liveid_priorityQueueLevel", "It must be an integer from 0 to 10.");
}
