/*-------------------------------------------------------------------------
 *
 * value.c
 *		Value text and datatype inference: what a SQL value becomes in a
 *		data field.
 *
 * The datatype comes from the value's SQL type (and, for text-like types,
 * from a domain's or a column's name); the text is written the same way
 * whatever DateStyle, TimeZone, lc_numeric and extra_float_digits are.
 * docs/payload.md gives every type's datatype and form.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "common/shortest_dec.h"
#include "parser/parse_coerce.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/lsyscache.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

/* ---------------------------------------------------------------------
 * Datatype inference
 * ---------------------------------------------------------------------
 */

/* The datatype a name's words suggest (email, url, tel), or NULL. */
static const char *
NameDatatype(const char *name)
{
	static const struct
	{
		const char *word;
		const char *datatype;
	}			words[] =
	{
		{"email", "email"}, {"mail", "email"},
		{"url", "url"}, {"website", "url"}, {"homepage", "url"}, {"link", "url"},
		{"tel", "tel"}, {"phone", "tel"}, {"telephone", "tel"}, {"mobile", "tel"},
		{"cell", "tel"}, {"fax", "tel"},
	};
	const char *result = NULL;
	const char *p = name;

	while (*p)
	{
		size_t		n = strcspn(p, "_");

		for (int i = 0; i < lengthof(words); i++)
			if (strlen(words[i].word) == n && pg_strncasecmp(p, words[i].word, n) == 0)
				result = words[i].datatype;
		p += n;
		if (*p == '_')
			p++;
	}
	return result;
}

/* The datatype the name of typid's domain (or of a domain under it) suggests. */
static const char *
DomainNameDatatype(Oid typid)
{
	const char *guess = NULL;

	while (guess == NULL)
	{
		HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
		Form_pg_type typ;

		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for type %u", typid);
		typ = (Form_pg_type) GETSTRUCT(tup);
		if (typ->typtype != TYPTYPE_DOMAIN)
		{
			ReleaseSysCache(tup);
			break;
		}
		guess = NameDatatype(NameStr(typ->typname));
		typid = typ->typbasetype;
		ReleaseSysCache(tup);
	}
	return guess;
}

/* the base types written without their output function, and their datatype */
static const struct
{
	Oid			typid;
	LiveidValueKind kind;
	const char *datatype;
}			known_types[] =
{
	{TEXTOID, VK_TEXT, "text"},
	{VARCHAROID, VK_TEXT, "text"},
	{BPCHAROID, VK_TEXT, "text"},
	{INT2OID, VK_INT2, "number"},
	{INT4OID, VK_INT4, "number"},
	{INT8OID, VK_INT8, "number"},
	{FLOAT4OID, VK_FLOAT4, "number"},
	{FLOAT8OID, VK_FLOAT8, "number"},
	{NUMERICOID, VK_NUMERIC, "number"},
	{BOOLOID, VK_BOOL, "checkbox"},
	{DATEOID, VK_DATE, "date"},
	{TIMEOID, VK_TIME, "time"},
	{TIMETZOID, VK_TIMETZ, "time"},
	/* a form has no datetime input: timestamps are text in ISO 8601 */
	{TIMESTAMPOID, VK_TIMESTAMP, "text"},
	{TIMESTAMPTZOID, VK_TIMESTAMPTZ, "text"},
};

/* Works out how a value of typid (in a column colname, or NULL) is sent. */
void
liveid_infer_type(Oid typid, const char *colname, LiveidType *ti)
{
	Oid			base = getBaseType(typid);
	bool		isvarlena;
	int			i;

	for (i = 0; i < lengthof(known_types); i++)
		if (known_types[i].typid == base)
			break;
	ti->guessed = false;
	ti->typoutput = InvalidOid;
	if (i < lengthof(known_types))
	{
		ti->kind = known_types[i].kind;
		ti->datatype = known_types[i].datatype;
	}
	else
	{
		ti->kind = VK_OUTPUT;
		ti->datatype = "text";
		getTypeOutputInfo(base, &ti->typoutput, &isvarlena);
	}
	/* only text-like values can be e-mail addresses, URLs or phone numbers */
	if (TypeCategory(base) == TYPCATEGORY_STRING)
	{
		const char *guess = DomainNameDatatype(typid);

		if (guess == NULL && colname != NULL)
			guess = NameDatatype(colname);
		if (guess != NULL)
		{
			ti->datatype = guess;
			/* tel has no form a value must have, so nothing to fall back from */
			ti->guessed = strcmp(guess, "tel") != 0;
		}
	}
}

/* The part of a date or timestamp a field of this datatype shows. */
LiveidTimeForm
liveid_time_form(LiveidValueKind kind, const char *datatype)
{
	bool		is_date = kind == VK_DATE;
	bool		is_ts = kind == VK_TIMESTAMP || kind == VK_TIMESTAMPTZ;

	if ((is_date || is_ts) && strcmp(datatype, "month") == 0)
		return TF_MONTH;
	if (is_ts && strcmp(datatype, "date") == 0)
		return TF_DATE;
	if (is_ts && strcmp(datatype, "time") == 0)
		return TF_TIME;
	return TF_DEFAULT;
}


/* ---------------------------------------------------------------------
 * Writing values
 * ---------------------------------------------------------------------
 */

/* Raises the error of a value no field can show. */
static void
pg_attribute_noreturn()
ValueError(const char *key, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid value for data field \"%s\"", key),
			 errdetail_internal("%s", detail),
			 errhint("%s", hint)));
}

/* Writes n (0 <= n < 10^width) with leading zeros; returns the end. */
static inline char *
PutDigits(char *p, int n, int width)
{
	for (int i = width - 1; i >= 0; i--)
	{
		p[i] = '0' + n % 10;
		n /= 10;
	}
	return p + width;
}

/* Writes a Julian day as YYYY-MM-DD or YYYY-MM; returns the end. */
static char *
PutDate(char *p, int julian, LiveidTimeForm form, const char *key, const char *what)
{
	int			y,
				m,
				d;

	j2date(julian, &y, &m, &d);
	if (y < 1 || y > 9999)
		ValueError(key,
				   psprintf("The %s is in the year %d%s, outside the years 0001 to 9999 that a form field can show.",
							what, y < 1 ? 1 - y : y, y < 1 ? " BC" : ""),
				   "Pass NULL (sent as an empty value) or a value within those years.");
	p = PutDigits(p, y, 4);
	*p++ = '-';
	p = PutDigits(p, m, 2);
	if (form == TF_MONTH)
		return p;
	*p++ = '-';
	return PutDigits(p, d, 2);
}

/* Writes a time of day in microseconds as HH:MM:SS[.fff]; returns the end. */
static char *
PutTime(char *p, int64 usecs, const char *key)
{
	int			h = (int) (usecs / USECS_PER_HOUR);
	int			ms;

	if (h >= HOURS_PER_DAY)
		ValueError(key, "24:00:00 is not a time of day a form field can show (00:00:00 to 23:59:59.999).",
				   "Pass 00:00:00 (of the next day), or NULL (sent as an empty value).");
	usecs -= h * USECS_PER_HOUR;
	p = PutDigits(p, h, 2);
	*p++ = ':';
	p = PutDigits(p, (int) (usecs / USECS_PER_MINUTE), 2);
	usecs %= USECS_PER_MINUTE;
	*p++ = ':';
	p = PutDigits(p, (int) (usecs / USECS_PER_SEC), 2);
	ms = (int) (usecs % USECS_PER_SEC / 1000);
	if (ms != 0)
	{
		*p++ = '.';
		p = PutDigits(p, ms, 3);
	}
	return p;
}

/* Writes a timestamp (UTC for timestamptz) in the given form; its length. */
static int
TimestampText(Timestamp ts, bool utc, LiveidTimeForm form, char *buf, const char *key)
{
	int64		date,
				time;
	char	   *p = buf;

	if (TIMESTAMP_NOT_FINITE(ts))
		ValueError(key,
				   psprintf("The timestamp \"%s\" has no calendar form.", TIMESTAMP_IS_NOBEGIN(ts) ? "-infinity" : "infinity"),
				   "Pass NULL (sent as an empty value) or a finite timestamp.");
	date = ts / USECS_PER_DAY;
	time = ts % USECS_PER_DAY;
	if (time < 0)
	{
		time += USECS_PER_DAY;
		date -= 1;
	}
	if (form != TF_TIME)
		p = PutDate(p, (int) (date + POSTGRES_EPOCH_JDATE), form, key, "timestamp");
	if (form == TF_DEFAULT)
		*p++ = 'T';
	if (form == TF_DEFAULT || form == TF_TIME)
		p = PutTime(p, time, key);
	if (form == TF_DEFAULT && utc)
		*p++ = 'Z';
	return (int) (p - buf);
}

/*
 * Shortest digits with an exponent ("-1.5e-07") written without it
 * ("-0.00000015"); *len is the length.  float8out's digits, our form.
 */
static char *
WithoutExponent(char *digits, char *e, int *len)
{
	char		mantissa[DOUBLE_SHORTEST_DECIMAL_LEN];
	int			n = 0,
				point = -1,
				exp = atoi(e + 1);
	bool		neg = digits[0] == '-';
	char	   *out,
			   *o;

	/* d.ddde[+-]x: gather the digits, then move the point x places */
	*e = '\0';
	for (const char *p = digits + neg; *p; p++)
	{
		if (*p == '.')
			point = n;
		else
			mantissa[n++] = *p;
	}
	point = (point < 0 ? n : point) + exp;	/* digits before the point */
	o = out = palloc(n + Abs(exp) + 4);
	if (neg)
		*o++ = '-';
	if (point <= 0)
	{
		*o++ = '0';
		*o++ = '.';
		memset(o, '0', -point);
		o += -point;
		memcpy(o, mantissa, n);
		o += n;
	}
	else if (point >= n)
	{
		memcpy(o, mantissa, n);
		o += n;
		memset(o, '0', point - n);
		o += point - n;
	}
	else
	{
		memcpy(o, mantissa, point);
		o += point;
		*o++ = '.';
		memcpy(o, mantissa + point, n - point);
		o += n - point;
	}
	*o = '\0';
	*len = (int) (o - out);
	return out;
}

/* A real or double as plain decimal (no exponent); its length in *len. */
static char *
FloatText(double v, bool is_float4, const char *key, int *len)
{
	char		digits[DOUBLE_SHORTEST_DECIMAL_LEN + 1];
	char	   *e;

	if (isnan(v) || isinf(v))
		ValueError(key,
				   psprintf("%s is not a number a form field can show.",
							isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity")),
				   "Pass NULL (sent as an empty value) or a finite number.");
	/* -0 is 0: a form has no negative zero */
	if (v == 0)
	{
		*len = 1;
		return "0";
	}
	/* the shortest digits that read back as v, as float8out gives them */
	if (is_float4)
		float_to_shortest_decimal_buf((float) v, digits);
	else
		double_to_shortest_decimal_buf(v, digits);
	e = strchr(digits, 'e');
	if (e != NULL)
		return WithoutExponent(digits, e, len);
	*len = strlen(digits);
	return pstrdup(digits);
}

/* A numeric as numeric_out writes it (plain decimal, its scale kept). */
static char *
NumericText(Numeric n, const char *key, int *len)
{
	char	   *s;

	if (numeric_is_nan(n) || numeric_is_inf(n))
		ValueError(key,
				   psprintf("%s is not a number a form field can show.",
							numeric_is_nan(n) ? "NaN" : "Infinity"),
				   "Pass NULL (sent as an empty value) or a finite number.");
	/* numeric_out has no exponent and ignores lc_numeric */
	s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
	*len = strlen(s);
	return s;
}

/* Writes a date in the given form (YYYY-MM-DD or YYYY-MM); its length. */
static int
DateText(DateADT date, LiveidTimeForm form, char *buf, const char *key)
{
	if (DATE_NOT_FINITE(date))
		ValueError(key,
				   psprintf("The date \"%s\" has no calendar form (YYYY-MM-DD).",
							DATE_IS_NOBEGIN(date) ? "-infinity" : "infinity"),
				   "Pass NULL (sent as an empty value) or a finite date.");
	return (int) (PutDate(buf, date + POSTGRES_EPOCH_JDATE, form, key, "date") - buf);
}

/*
 * The text of a non-NULL value for a field: points into the datum, into buf
 * (LIVEID_VALUE_BUF_LEN bytes) or into palloc'd memory; not NUL-terminated.
 */
const char *
liveid_value_text(const LiveidType *ti, LiveidTimeForm form, FmgrInfo *outfn,
				  Datum d, char *buf, int *len, const char *key)
{
	switch (ti->kind)
	{
		case VK_TEXT:
			{
				/* the string as stored: no output function, no copy */
				struct varlena *t = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(d));

				*len = VARSIZE_ANY_EXHDR(t);
				return VARDATA_ANY(t);
			}
		case VK_INT2:
			*len = pg_itoa(DatumGetInt16(d), buf);
			return buf;
		case VK_INT4:
			*len = pg_ltoa(DatumGetInt32(d), buf);
			return buf;
		case VK_INT8:
			*len = pg_lltoa(DatumGetInt64(d), buf);
			return buf;
		case VK_FLOAT4:
			return FloatText(DatumGetFloat4(d), true, key, len);
		case VK_FLOAT8:
			return FloatText(DatumGetFloat8(d), false, key, len);
		case VK_NUMERIC:
			return NumericText(DatumGetNumeric(d), key, len);
		case VK_BOOL:
			*len = DatumGetBool(d) ? 4 : 5;
			return DatumGetBool(d) ? "true" : "false";
		case VK_DATE:
			*len = DateText(DatumGetDateADT(d), form, buf, key);
			return buf;
		case VK_TIME:
			*len = (int) (PutTime(buf, DatumGetTimeADT(d), key) - buf);
			return buf;
		case VK_TIMETZ:
			/* the zone is dropped: the time of day as written */
			*len = (int) (PutTime(buf, DatumGetTimeTzADTP(d)->time, key) - buf);
			return buf;
		case VK_TIMESTAMP:
			*len = TimestampText(DatumGetTimestamp(d), false, form, buf, key);
			return buf;
		case VK_TIMESTAMPTZ:
			*len = TimestampText(DatumGetTimestampTz(d), true, form, buf, key);
			return buf;
		case VK_OUTPUT:
			{
				/* the one kind that follows the session's settings */
				char	   *s = OutputFunctionCall(outfn, d);

				*len = strlen(s);
				return s;
			}
	}
	elog(ERROR, "unexpected value kind %d", (int) ti->kind);
	return NULL;				/* keep compiler quiet */
}

/* True when a guessed email or url datatype suits a non-empty value. */
bool
liveid_guess_fits(const char *datatype, const char *value, int len)
{
	char	   *s = pnstrdup(value, len);

	if (strcmp(datatype, "email") == 0)
		return liveid_is_email(s);
	return liveid_is_http_url(s, false);
}

