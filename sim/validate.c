/*-------------------------------------------------------------------------
 *
 * validate.c
 *		The service-start rules, shared by the browser form
 *		(/app/service-start) and pushAsyncCall's decoded b64Data, and the
 *		checks of the ServiceStartJson carried Base64-encoded in `json`.
 *
 * Every failure writes a reason that starts with the field's name (for
 * ServiceStartJson members, a path such as json.data.birth_date.value) and
 * answers 400, or 404 for an unknown organization or process.
 *
 *-------------------------------------------------------------------------
 */
#include "sim.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* the service-start fields; anything else is refused */
static const char *const StartFields[] = {
	"id_organization", "id_process", "id_process_live", "id_process_self",
	"json", "external_id", "redirectUrl", "redirectMethod",
	"id_operator2Call", "email_operator2Call", "extId_operator2Call",
	"direct", "opInfo", "skipAVrecTest", "disableRTCTest", NULL
};

/* the members of a ServiceStartJson */
static const char *const JsonMembers[] = {
	"lang", "liveid_email", "liveid_name", "liveid_surname", "data",
	"liveid_servercallback", "liveid_priorityQueueLevel", NULL
};

/* the members of liveid_servercallback */
static const char *const CallbackMembers[] = {"url", "otherParams", NULL};

/* the datatypes of a data field */
static const char *const DataTypes[] = {
	"text", "date", "email", "number", "tel", "checkbox", "month", "time",
	"url", NULL
};

/* the kinds of value a data field's member may hold */
typedef enum AttrKind
{
	ATTR_DATATYPE,				/* one of DataTypes */
	ATTR_DISPLAY,				/* "none" or "operator" */
	ATTR_STRING,
	ATTR_NUMBER,
	ATTR_BOOL,
	ATTR_COUNT,					/* a non-negative integer */
	ATTR_LIMIT					/* a string or a number */
} AttrKind;

/* what each kind must be, for the reason; indexed by AttrKind */
static const char *const AttrWant[] = {
	"one of text, date, email, number, tel, checkbox, month, time, url",
	"\"none\" or \"operator\"", "a string", "a number", "a boolean",
	"a non-negative integer", "a string or a number"
};

/* the members a data field may have; the first three are required */
static const struct
{
	const char *name;
	AttrKind	kind;
}			DataFieldMembers[] = {
	{"datatype", ATTR_DATATYPE}, {"label", ATTR_STRING}, {"value", ATTR_STRING},
	{"display", ATTR_DISPLAY}, {"order", ATTR_NUMBER},
	{"disabled", ATTR_BOOL}, {"readonly", ATTR_BOOL}, {"required", ATTR_BOOL},
	{"maxlength", ATTR_COUNT}, {"size", ATTR_COUNT},
	{"max", ATTR_LIMIT}, {"min", ATTR_LIMIT}, {"step", ATTR_LIMIT},
	{"pattern", ATTR_STRING}, {"placeholder", ATTR_STRING},
	{"title", ATTR_STRING}, {NULL, ATTR_STRING}
};

#define NREQUIRED_DATA_MEMBERS 3

/* the routing fields, of which at most one may be given */
static const char *const RoutingFields[] = {
	"id_operator2Call", "email_operator2Call", "extId_operator2Call",
	"direct", NULL
};

#define MAX_SHORT_TEXT 100		/* external_id, opInfo: code points */

/* Writes a formatted reason into err. */
static bool __attribute__((format(printf, 3, 4)))
SetError(char *err, size_t errlen, const char *fmt,...)
{
	va_list		ap;

	if (err != NULL && errlen > 0)
	{
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return false;
}

/* True when name is one of the NULL-terminated list. */
static bool
InList(const char *name, const char *const *list)
{
	for (int i = 0; list[i] != NULL; i++)
		if (strcmp(name, list[i]) == 0)
			return true;
	return false;
}

/* The member of obj with exactly this name (case-sensitive), or NULL. */
static const cJSON *
Member(const cJSON *obj, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(obj, name);
}

/*
 * Checks that every member of obj is named in allowed and that no name
 * repeats; on failure returns the offending member and sets *duplicate.
 */
static const cJSON *
BadMember(const cJSON *obj, const char *const *allowed, bool *duplicate)
{
	for (const cJSON *m = obj->child; m != NULL; m = m->next)
	{
		*duplicate = m->string != NULL && Member(obj, m->string) != m;
		if (m->string == NULL || !InList(m->string, allowed) || *duplicate)
			return m;
	}
	*duplicate = false;
	return NULL;
}

/* True when the string is empty or only ASCII white space. */
static bool
IsBlank(const char *s)
{
	for (; *s; s++)
		if (!isspace((unsigned char) *s))
			return false;
	return true;
}

/* True when the number is an integer value within [lo, hi]. */
static bool
IsIntegerIn(const cJSON *item, double lo, double hi)
{
	double		v;

	if (!cJSON_IsNumber(item))
		return false;
	v = item->valuedouble;
	return isfinite(v) && v == floor(v) && v >= lo && v <= hi;
}

/* True when s has exactly the shape of pat, where 'd' stands for a digit. */
static bool
Shape(const char *s, const char *pat)
{
	for (; *pat != '\0'; s++, pat++)
		if (*pat == 'd' ? !isdigit((unsigned char) *s) : *s != *pat)
			return false;
	return *s == '\0';
}

/* The value of the n digits at s (already known to be digits). */
static int
Num(const char *s, int n)
{
	int			v = 0;

	while (n-- > 0)
		v = v * 10 + (*s++ - '0');
	return v;
}

/* Skips a non-empty run of ASCII digits; NULL when there is none. */
static const char *
SkipDigits(const char *p)
{
	const char *q = p;

	while (isdigit((unsigned char) *q))
		q++;
	return q > p ? q : NULL;
}

/* A real calendar date YYYY-MM-DD (proleptic Gregorian, year 0001 on). */
static bool
IsDate(const char *s)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int			y,
				m,
				d;

	if (!Shape(s, "dddd-dd-dd"))
		return false;
	y = Num(s, 4);
	m = Num(s + 5, 2);
	d = Num(s + 8, 2);
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	return m != 2 || d < 29 || (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
}

/* A month YYYY-MM. */
static bool
IsMonth(const char *s)
{
	return Shape(s, "dddd-dd") && Num(s, 4) >= 1 &&
		Num(s + 5, 2) >= 1 && Num(s + 5, 2) <= 12;
}

/* A time HH:MM, HH:MM:SS or HH:MM:SS.fff (one to three fraction digits). */
static bool
IsTime(const char *s)
{
	if (!Shape(s, "dd:dd") && !Shape(s, "dd:dd:dd") &&
		!Shape(s, "dd:dd:dd.d") && !Shape(s, "dd:dd:dd.dd") &&
		!Shape(s, "dd:dd:dd.ddd"))
		return false;
	return Num(s, 2) <= 23 && Num(s + 3, 2) <= 59 &&
		(s[5] == '\0' || Num(s + 6, 2) <= 59);
}

/* A decimal number: -?digits(.digits)?([eE][+-]?digits)? */
static bool
IsDecimal(const char *s)
{
	const char *p = SkipDigits(s + (*s == '-'));

	if (p != NULL && *p == '.')
		p = SkipDigits(p + 1);
	if (p != NULL && (*p == 'e' || *p == 'E'))
		p = SkipDigits(p + 1 + (p[1] == '+' || p[1] == '-'));
	return p != NULL && *p == '\0';
}

/* An absolute http(s) URL, in the shape of the other value checkers. */
static bool
IsHttpUrl(const char *s)
{
	return is_absolute_http_url(s, false);
}

/* the datatypes whose non-empty values have a format, and their checkers */
static const struct
{
	const char *type;
	bool		(*check) (const char *);
	const char *want;
}			ValueFormats[] = {
	{"date", IsDate, "a date YYYY-MM-DD"},
	{"month", IsMonth, "a month YYYY-MM"},
	{"time", IsTime, "a time HH:MM[:SS[.fff]]"},
	{"number", IsDecimal, "a decimal number"},
	{"email", is_email, "an e-mail address"},
	{"url", IsHttpUrl, "an absolute http(s) URL"},
	{NULL, NULL, NULL}
};

/* Checks one data field's non-empty value against its datatype. */
static bool
CheckDataValue(const char *key, const char *type, const char *v,
			   char *err, size_t errlen)
{
	if (*v == '\0')
		return true;
	for (int i = 0; ValueFormats[i].type != NULL; i++)
		if (strcmp(type, ValueFormats[i].type) == 0 && !ValueFormats[i].check(v))
			return SetError(err, errlen,
							"json.data.%s.value: '%.60s' is not %s (datatype %s)",
							key, v, ValueFormats[i].want, type);
	return true;
}

/* True when a data field member's value suits its kind. */
static bool
AttrValueOk(const cJSON *m, AttrKind kind)
{
	switch (kind)
	{
		case ATTR_DATATYPE:
			return cJSON_IsString(m) && InList(m->valuestring, DataTypes);
		case ATTR_DISPLAY:
			return cJSON_IsString(m) &&
				(strcmp(m->valuestring, "none") == 0 ||
				 strcmp(m->valuestring, "operator") == 0);
		case ATTR_STRING:
			return cJSON_IsString(m);
		case ATTR_NUMBER:
			return cJSON_IsNumber(m);
		case ATTR_BOOL:
			return cJSON_IsBool(m);
		case ATTR_COUNT:
			return IsIntegerIn(m, 0, 2147483647.0);
		case ATTR_LIMIT:
			return cJSON_IsString(m) || cJSON_IsNumber(m);
	}
	return false;
}

/* Checks one member of json.data: its members, their types, its value. */
static bool
CheckDataField(const cJSON *field, char *err, size_t errlen)
{
	const char *key = field->string;
	int			i;

	if (!cJSON_IsObject(field))
		return SetError(err, errlen, "json.data.%s: must be an object", key);
	for (const cJSON *m = field->child; m != NULL; m = m->next)
	{
		for (i = 0; DataFieldMembers[i].name != NULL; i++)
			if (strcmp(m->string, DataFieldMembers[i].name) == 0)
				break;
		if (DataFieldMembers[i].name == NULL)
			return SetError(err, errlen, "json.data.%s.%s: unknown member",
							key, m->string);
		if (Member(field, m->string) != m)
			return SetError(err, errlen, "json.data.%s.%s: duplicate member",
							key, m->string);
		if (!AttrValueOk(m, DataFieldMembers[i].kind))
			return SetError(err, errlen, "json.data.%s.%s: must be %s", key,
							m->string, AttrWant[DataFieldMembers[i].kind]);
	}
	for (i = 0; i < NREQUIRED_DATA_MEMBERS; i++)
		if (Member(field, DataFieldMembers[i].name) == NULL)
			return SetError(err, errlen, "json.data.%s.%s: required", key,
							DataFieldMembers[i].name);
	return CheckDataValue(key, json_str(field, "datatype"),
						  json_str(field, "value"), err, errlen);
}

/* Checks json.data: an object (possibly empty) of well-formed fields. */
static bool
CheckData(const cJSON *data, char *err, size_t errlen)
{
	if (data == NULL)
		return SetError(err, errlen, "json.data: required");
	if (!cJSON_IsObject(data))
		return SetError(err, errlen, "json.data: must be an object");
	for (const cJSON *f = data->child; f != NULL; f = f->next)
	{
		if (f->string == NULL || f->string[0] == '\0')
			return SetError(err, errlen, "json.data: a field has an empty key");
		if (Member(data, f->string) != f)
			return SetError(err, errlen, "json.data.%s: duplicate field",
							f->string);
		if (!CheckDataField(f, err, errlen))
			return false;
	}
	return true;
}

/*
 * Copies the host of an absolute http(s) URL (brackets of an IPv6 literal
 * kept) and says whether the authority carries userinfo.
 */
static bool
UrlAuthority(const char *url, char *host, size_t hostlen, bool *userinfo)
{
	const char *auth = strstr(url, "://");
	size_t		alen,
				hlen;
	const char *h;

	if (auth == NULL)
		return false;
	auth += 3;
	alen = strcspn(auth, "/?#\\");
	*userinfo = memchr(auth, '@', alen) != NULL;
	h = auth;
	if (*h == '[')
	{
		const char *close = memchr(h, ']', alen);

		if (close == NULL)
			return false;
		hlen = (size_t) (close - h) + 1;
	}
	else
	{
		const char *colon = memchr(h, ':', alen);

		hlen = colon != NULL ? (size_t) (colon - h) : alen;
	}
	if (hlen == 0 || hlen >= hostlen)
		return false;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	return true;
}

/* Checks json.liveid_servercallback: url (approved or loopback), otherParams. */
static bool
CheckServerCallback(const cJSON *cb, const Organization *org,
					char *err, size_t errlen)
{
	const cJSON *bad,
			   *url,
			   *other;
	bool		dup,
				userinfo = false,
				approved = false;
	char		host[256];
	const char *u;

	if (!cJSON_IsObject(cb))
		return SetError(err, errlen, "json.liveid_servercallback: must be an object");
	if ((bad = BadMember(cb, CallbackMembers, &dup)) != NULL)
		return SetError(err, errlen, "json.liveid_servercallback.%s: %s",
						bad->string, dup ? "duplicate member" : "unknown member");
	other = Member(cb, "otherParams");
	if (other != NULL && !cJSON_IsObject(other))
		return SetError(err, errlen,
						"json.liveid_servercallback.otherParams: must be an object");
	url = Member(cb, "url");
	if (url == NULL)
		return SetError(err, errlen, "json.liveid_servercallback.url: required");
	if (!cJSON_IsString(url))
		return SetError(err, errlen,
						"json.liveid_servercallback.url: must be a string");
	u = url->valuestring;
	if (!is_absolute_http_url(u, false) ||
		!UrlAuthority(u, host, sizeof(host), &userinfo))
		return SetError(err, errlen,
						"json.liveid_servercallback.url: '%.100s' is not an "
						"absolute http(s) URL", u);
	if (userinfo)
		return SetError(err, errlen,
						"json.liveid_servercallback.url: must not carry "
						"credentials (user:password@)");
	if (url_host_is_loopback(u))
		return true;
	if (strncasecmp(u, "https://", 8) == 0 && org != NULL)
	{
		approved = org->is_virtual;
		for (int i = 0; !approved && i < org->ncallback_hosts; i++)
			approved = strcasecmp(host, org->callback_hosts[i]) == 0;
	}
	if (!approved)
		return SetError(err, errlen,
						"json.liveid_servercallback.url: must be https on a "
						"pre-approved host (or http(s) on loopback); '%.100s' "
						"is not approved for organization '%s'",
						u, org != NULL ? org->code : "");
	return true;
}

/* Two lowercase ASCII letters, whatever the locale. */
static bool
IsLangCode(const char *s)
{
	return s[0] >= 'a' && s[0] <= 'z' && s[1] >= 'a' && s[1] <= 'z' &&
		s[2] == '\0';
}

/* Checks json's customer members: lang, liveid_email, name and surname. */
static bool
CheckCustomer(const cJSON *json, char *err, size_t errlen)
{
	static const char *const names[] = {"liveid_name", "liveid_surname", NULL};
	const cJSON *lang = Member(json, "lang"),
			   *email = Member(json, "liveid_email");

	if (lang == NULL)
		return SetError(err, errlen, "json.lang: required");
	if (!cJSON_IsString(lang) || !IsLangCode(lang->valuestring))
		return SetError(err, errlen,
						"json.lang: must be two lowercase letters (e.g. \"en\")");
	if (email == NULL)
		return SetError(err, errlen, "json.liveid_email: required");
	if (!cJSON_IsString(email) || !is_email(email->valuestring))
		return SetError(err, errlen,
						"json.liveid_email: must be an e-mail address");
	for (int i = 0; names[i] != NULL; i++)
	{
		const cJSON *n = Member(json, names[i]);

		if (n == NULL)
			return SetError(err, errlen, "json.%s: required", names[i]);
		if (!cJSON_IsString(n))
			return SetError(err, errlen, "json.%s: must be a string", names[i]);
		if (IsBlank(n->valuestring))
			return SetError(err, errlen, "json.%s: must not be empty", names[i]);
	}
	return true;
}

/* Checks a decoded ServiceStartJson object alone. */
bool
validate_service_start_json(const cJSON *json, const Organization *org,
							char *err, size_t errlen)
{
	const cJSON *bad,
			   *cb,
			   *level;
	bool		dup;

	if (!cJSON_IsObject(json))
		return SetError(err, errlen, "json: must be a JSON object");
	if ((bad = BadMember(json, JsonMembers, &dup)) != NULL)
		return SetError(err, errlen, "json.%s: %s", bad->string,
						dup ? "duplicate member" : "unknown member");
	if (!CheckCustomer(json, err, errlen))
		return false;
	if ((cb = Member(json, "liveid_servercallback")) != NULL &&
		!CheckServerCallback(cb, org, err, errlen))
		return false;
	level = Member(json, "liveid_priorityQueueLevel");
	if (level != NULL && !IsIntegerIn(level, 0, 10))
		return SetError(err, errlen,
						"json.liveid_priorityQueueLevel: must be an integer "
						"from 0 to 10");
	return CheckData(Member(json, "data"), err, errlen);
}

/*
 * Checks the member set of the fields: known names, no repeats, strings
 * (or booleans where allowed), and id_organization first outside a form.
 */
static bool
CheckFieldSet(const cJSON *fields, bool from_form, char *err, size_t errlen)
{
	const cJSON *bad;
	bool		dup;

	if (!cJSON_IsObject(fields))
		return SetError(err, errlen, from_form ? "id_organization: required" :
						"b64Data: must decode to a JSON object");
	if ((bad = BadMember(fields, StartFields, &dup)) != NULL)
	{
		if (dup)
			return SetError(err, errlen, "%s: duplicate field", bad->string);
		return SetError(err, errlen, "unknown field '%s'",
						bad->string != NULL ? bad->string : "");
	}
	for (const cJSON *m = fields->child; m != NULL; m = m->next)
	{
		bool		boolean = strcmp(m->string, "skipAVrecTest") == 0 ||
			strcmp(m->string, "disableRTCTest") == 0;

		if (boolean && from_form)
		{
			if (!cJSON_IsString(m) || (strcmp(m->valuestring, "true") != 0 &&
									   strcmp(m->valuestring, "false") != 0))
				return SetError(err, errlen,
								"%s: must be \"true\" or \"false\"", m->string);
		}
		else if (boolean)
		{
			if (!cJSON_IsBool(m))
				return SetError(err, errlen, "%s: must be a JSON boolean",
								m->string);
		}
		else if (!cJSON_IsString(m))
			return SetError(err, errlen, "%s: must be a string", m->string);
	}
	if (!from_form && fields->child != NULL &&
		strcmp(fields->child->string, "id_organization") != 0 &&
		Member(fields, "id_organization") != NULL)
		return SetError(err, errlen, "id_organization: must be the first member");
	return true;
}

/* Looks up one process field of the organization, checking its kind. */
static bool
CheckOneProcess(const cJSON *fields, const char *name, int want_self,
				const Organization *org, const Process **out,
				int *status, char *err, size_t errlen)
{
	const char *id = json_str(fields, name);

	if (!is_uuid(id))
		return SetError(err, errlen, "%s: '%.64s' is not a UUID", name, id);
	if ((*out = org_process(org, id)) == NULL)
	{
		*status = 404;
		return SetError(err, errlen,
						"%s: unknown process '%s' for organization '%s'",
						name, id, org->code);
	}
	if (want_self >= 0 && (*out)->self != (want_self == 1))
		return SetError(err, errlen, "%s: process '%s' is %sa self-identification "
						"process", name, id, want_self ? "not " : "");
	return true;
}

/* Checks id_process, or the pair id_process_live + id_process_self. */
static bool
CheckProcesses(const cJSON *fields, StartInfo *info,
			   int *status, char *err, size_t errlen)
{
	bool		single = Member(fields, "id_process") != NULL,
				live = Member(fields, "id_process_live") != NULL,
				self = Member(fields, "id_process_self") != NULL;
	const Process *ignored;

	if (single && (live || self))
		return SetError(err, errlen, "id_process: excludes id_process_live "
						"and id_process_self");
	if (single)
		return CheckOneProcess(fields, "id_process", -1, info->org,
							   &info->process, status, err, errlen);
	if (!live && !self)
		return SetError(err, errlen, "id_process: required (or the pair "
						"id_process_live + id_process_self)");
	if (!live)
		return SetError(err, errlen, "id_process_live: required with "
						"id_process_self");
	if (!self)
		return SetError(err, errlen, "id_process_self: required with "
						"id_process_live");
	return CheckOneProcess(fields, "id_process_live", 0, info->org,
						   &info->process, status, err, errlen) &&
		CheckOneProcess(fields, "id_process_self", 1, info->org,
						&ignored, status, err, errlen);
}

/* Decodes and checks `json`; on success info->json_decoded holds the tree. */
static bool
CheckJsonField(const cJSON *fields, StartInfo *info, char *err, size_t errlen)
{
	const char *b64 = json_str(fields, "json");
	const char *end = NULL;
	char	   *text;
	size_t		len;
	cJSON	   *tree;

	if (b64 == NULL)
		return SetError(err, errlen, "json: required");
	if ((text = base64_decode(b64, &len)) == NULL)
		return SetError(err, errlen, "json: not valid Base64");
	if (memchr(text, '\0', len) != NULL || utf8_length(text) == SIZE_MAX)
	{
		free(text);
		return SetError(err, errlen, "json: the decoded text is not valid UTF-8 "
						"(or contains a NUL byte)");
	}
	tree = cJSON_ParseWithLengthOpts(text, len + 1, &end, true);
	if (tree == NULL)
	{
		long		at = end != NULL ? (long) (end - text) : 0;

		free(text);
		return SetError(err, errlen, "json: the decoded text is not valid JSON "
						"(at byte %ld)", at);
	}
	free(text);
	if (!cJSON_IsObject(tree))
	{
		cJSON_Delete(tree);
		return SetError(err, errlen, "json: must be a JSON object");
	}
	if (!validate_service_start_json(tree, info->org, err, errlen))
	{
		cJSON_Delete(tree);
		return false;
	}
	info->json_decoded = tree;
	return true;
}

/* Checks external_id, opInfo, redirectUrl and redirectMethod. */
static bool
CheckOptional(const cJSON *fields, char *err, size_t errlen)
{
	static const char *const texts[] = {"external_id", "opInfo", NULL};
	const char *s;

	for (int i = 0; texts[i] != NULL; i++)
	{
		size_t		n;

		if ((s = json_str(fields, texts[i])) == NULL)
			continue;
		n = utf8_length(s);
		if (n == SIZE_MAX)
			return SetError(err, errlen, "%s: not valid UTF-8", texts[i]);
		if (n > MAX_SHORT_TEXT)
			return SetError(err, errlen, "%s: at most %d characters (got %zu)",
							texts[i], MAX_SHORT_TEXT, n);
	}
	if ((s = json_str(fields, "redirectUrl")) != NULL &&
		!is_absolute_http_url(s, false))
		return SetError(err, errlen,
						"redirectUrl: '%.100s' is not an absolute http(s) URL", s);
	if ((s = json_str(fields, "redirectMethod")) != NULL &&
		strcmp(s, "GET") != 0 && strcmp(s, "POST") != 0)
		return SetError(err, errlen, "redirectMethod: must be GET or POST");
	return true;
}

/* Checks the operator-routing fields: at most one, each well formed. */
static bool
CheckRouting(const cJSON *fields, const Organization *org,
			 char *err, size_t errlen)
{
	int			given = 0;
	const char *s;

	for (int i = 0; RoutingFields[i] != NULL; i++)
		if (Member(fields, RoutingFields[i]) != NULL)
			given++;
	if (given > 1)
		return SetError(err, errlen, "id_operator2Call, email_operator2Call, "
						"extId_operator2Call and direct are mutually exclusive");
	if ((s = json_str(fields, "id_operator2Call")) != NULL)
	{
		if (!is_uuid(s))
			return SetError(err, errlen, "id_operator2Call: '%.64s' is not a UUID",
							s);
		if (!org->is_virtual && org_operator(org, s) == NULL)
			return SetError(err, errlen, "id_operator2Call: unknown operator "
							"'%s' for organization '%s'", s, org->code);
	}
	if ((s = json_str(fields, "email_operator2Call")) != NULL && !is_email(s))
		return SetError(err, errlen,
						"email_operator2Call: must be an e-mail address");
	if ((s = json_str(fields, "extId_operator2Call")) != NULL && *s == '\0')
		return SetError(err, errlen, "extId_operator2Call: must not be empty");
	if ((s = json_str(fields, "direct")) != NULL && !is_jwt_shaped(s))
		return SetError(err, errlen, "direct: must be a JWT "
						"(three base64url segments)");
	return true;
}

/* Refuses disableRTCTest for a process with video recording. */
static bool
CheckRtcTest(const cJSON *fields, const StartInfo *info,
			 char *err, size_t errlen)
{
	const cJSON *m = Member(fields, "disableRTCTest");
	bool		on = cJSON_IsTrue(m) ||
		(cJSON_IsString(m) && strcmp(m->valuestring, "true") == 0);

	if (on && info->process->video_recording)
		return SetError(err, errlen, "disableRTCTest: refused, process '%s' "
						"has video recording", info->process->id);
	return true;
}

/*
 * Checks a service-start field set (browser form or pushAsyncCall b64Data).
 * On success fills info (the caller owns info->json_decoded); on failure
 * writes the reason, sets *status (400 or 404) and leaves nothing allocated
 * (info->json_decoded is NULL; org and process may be set).
 */
bool
validate_start(const cJSON *fields, bool from_form, StartInfo *info,
			   int *status, char *err, size_t errlen)
{
	const char *code;

	info->org = NULL;
	info->process = NULL;
	info->json_decoded = NULL;
	*status = 400;

	if (!CheckFieldSet(fields, from_form, err, errlen))
		return false;

	code = json_str(fields, "id_organization");
	if (code == NULL || *code == '\0')
		return SetError(err, errlen, "id_organization: required");
	if ((info->org = org_by_code(code)) == NULL)
	{
		*status = 404;
		return SetError(err, errlen,
						"id_organization: unknown organization '%.64s'", code);
	}

	if (!CheckProcesses(fields, info, status, err, errlen) ||
		!CheckJsonField(fields, info, err, errlen))
		goto fail;
	if (!CheckOptional(fields, err, errlen) ||
		!CheckRouting(fields, info->org, err, errlen) ||
		!CheckRtcTest(fields, info, err, errlen))
		goto fail;

	*status = 200;
	return true;

fail:
	cJSON_Delete(info->json_decoded);
	info->json_decoded = NULL;
	return false;
}
