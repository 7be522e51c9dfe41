/*-------------------------------------------------------------------------
 *
 * payload.c
 *		The payload builders: liveid.data_field(), liveid.row_to_data() and
 *		the aggregate liveid.data_agg(), which make the `data` object of a
 *		ServiceStartJson (liveid-api.md, "ServiceStartJson").
 *
 * A data field is {"datatype", "label", "value", ["order"], ["display"],
 * [HTML attributes]}; the rules of a field live in rules.c and every field
 * built here passes liveid_check_data_field().
 *
 * Datatype inference and how values are written
 * ---------------------------------------------
 * The datatype of a field comes from the SQL type of its value (a domain
 * counts as its base type, except for its name, see email/url/tel below).
 * The value is always a JSON string.  For every type below but "anything
 * else" it is written the same way whatever DateStyle, TimeZone,
 * lc_numeric and extra_float_digits are:
 *
 *	date			"date"; "YYYY-MM-DD".  Only the years 0001 to 9999 can be
 *					written so: -infinity, infinity and dates outside those
 *					years are 22023.
 *	time, timetz	"time"; "HH:MM:SS", then ".fff" (milliseconds, further
 *					digits dropped, not rounded) when the milliseconds are not
 *					zero.  timetz drops its zone: the time as written.
 *					24:00:00 is not a time of day a form takes: 22023.
 *	smallint, integer, bigint, numeric, real, double precision
 *					"number"; plain decimal: an optional "-", digits, and
 *					optionally "." and digits; never an exponent, a locale's
 *					decimal comma or a thousands separator.  numeric keeps its
 *					scale (1.50 stays "1.50").  real and double precision give
 *					the shortest digits that read back as the same value (as
 *					float8out with extra_float_digits >= 1) written without
 *					exponent (1e+20 is "100000000000000000000", 1.5e-07 is
 *					"0.00000015"), -0 as "0".  NaN, Infinity, -Infinity: 22023.
 *	boolean			"checkbox"; "true" or "false".
 *	timestamp		"text"; ISO 8601 "YYYY-MM-DDTHH:MM:SS", then ".fff" as for
 *					time.  timestamptz: the same in UTC followed by "Z"
 *					("2026-11-24T21:59:40Z").  Infinite values and years
 *					outside 0001 to 9999: 22023.
 *	email, url, tel	when the base type is text-like (type category S: text,
 *					varchar, char, name, citext, ...) and a name says so: the
 *					name of the value's domain (or of a domain it is based on,
 *					the nearest first) or else, in row_to_data, the column's
 *					name.  A name is split into words at underscores, words
 *					are compared ignoring ASCII case, and when several words
 *					match the last one decides:
 *						email, mail						-> "email"
 *						url, website, homepage, link	-> "url"
 *						tel, phone, telephone, mobile, cell, fax -> "tel"
 *					(customer_email, e_mail, mobile_phone, home_page_url; not
 *					emails or phonenumber).  Because it is a guess from a name,
 *					a non-empty value that does not have the form the service
 *					requires (liveid_is_email, liveid_is_http_url) is sent as
 *					"text" instead, row by row; tel has no required form.
 *	anything else	"text"; the value as the type's output function writes it
 *					(text, varchar and char as stored, char with its padding;
 *					so interval follows IntervalStyle, bytea bytea_output and
 *					money lc_monetary).
 *
 * NULL values, the one rule: a NULL value is the empty string "" in a field
 * that stays, with the datatype, label and order a value would have had, so
 * the operator sees the field empty.  The service accepts "" for every
 * datatype.
 *
 * A datatype given by the caller (data_field's datatype argument,
 * row_to_data's "datatypes" option) is used as given, and the value written
 * as above for its SQL type, except that a date, timestamp or timestamptz
 * value is written "YYYY-MM" for a "month" field, and a timestamp or
 * timestamptz value "YYYY-MM-DD" for a "date" field and "HH:MM:SS[.fff]"
 * for a "time" field (timestamptz in UTC).  The field is then checked
 * against the rules, so a value that does not suit the datatype is 22023.
 *
 * row_to_data(r, labels, options)
 * -------------------------------
 * One field per column of r, dropped columns skipped, keyed by the column's
 * name.  The label is labels' string for the column, else the column's
 * comment (when r's type is a table's, view's or composite type's row
 * type), else the name made readable: underscores become spaces (runs of
 * them one space, leading and trailing ones dropped), the first character
 * upper-cased per the database's default collation, the rest as it is
 * (birth_date -> "Birth date", IBAN -> "IBAN"; a name of underscores only
 * stays as it is).  order is the column's position among the non-dropped
 * columns, 1 first; excluded columns keep their numbers, so the others do
 * not move.  options is an object with any of:
 *	exclude, hidden, operator_only, readonly
 *		true (every column), false (none) or an array of column names;
 *		hidden sets display "none", operator_only display "operator",
 *		readonly the attribute readonly: true.  A column named in hidden or
 *		operator_only wins over true in the other; a column named in both,
 *		or both true, is 22023.
 *	datatypes	{"column": "month", ...}: the datatype as given (above).
 *	attributes	{"column": {"maxlength": 16, ...}, ...}: HTML attributes
 *		merged into the field last (so they win over readonly); datatype,
 *		label, value, order and display there are 22023.
 * 22023 names the culprit for: labels or options not an object, an unknown
 * option, a value of the wrong JSON type, a column name r does not have
 * (case matters; dropped columns are unknown), two columns of r with the
 * same name (a query's), and a field that breaks the rules (checked once
 * per call site with an empty value, and per row for a given datatype).
 * A NULL row gives NULL.
 *
 * data_field(value, label, ...) needs a label (22023 when NULL); its
 * messages name the field by its label.  data_agg(key, field) checks each
 * field with liveid_check_data_field() as it arrives; a NULL key or field is
 * 22023, a key given twice is 22023 (at the end), and no rows give {}.
 *
 * Performance of row_to_data
 * --------------------------
 * Everything that does not depend on the row's values is worked out once
 * per call site and kept in fn_extra, keyed on the row type (id, typmod and
 * the type cache's tuple descriptor identifier) and the bytes of the labels
 * and options arguments: the column keys, datatypes, labels, orders,
 * displays, attributes and output functions, already in the form of the
 * finished JsonbValue tree with every object's members in jsonb's key
 * order.  Each row then only deforms the tuple, writes each value's text
 * into the tree and serializes the tree with JsonbValueToJsonb().
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/tupdesc.h"
#include "catalog/pg_class.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/comment.h"
#include "common/shortest_dec.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "parser/parse_coerce.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "utils/datetime.h"
#include "utils/formatting.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/numeric.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/typcache.h"

/* how a value of some SQL type is written */
typedef enum ValueKind
{
	VK_TEXT,					/* text, varchar, char: the string as stored */
	VK_INT2,
	VK_INT4,
	VK_INT8,
	VK_FLOAT4,
	VK_FLOAT8,
	VK_NUMERIC,
	VK_BOOL,
	VK_DATE,
	VK_TIME,
	VK_TIMETZ,
	VK_TIMESTAMP,
	VK_TIMESTAMPTZ,
	VK_OUTPUT					/* anything else: its output function */
} ValueKind;

/* which part of a date or timestamp a field shows */
typedef enum TimeForm
{
	TF_DEFAULT,					/* the type's own form */
	TF_DATE,					/* YYYY-MM-DD */
	TF_MONTH,					/* YYYY-MM */
	TF_TIME						/* HH:MM:SS[.fff] */
} TimeForm;

/* what a SQL type becomes in a field */
typedef struct TypeInfo
{
	ValueKind	kind;
	const char *datatype;		/* the inferred datatype */
	bool		guessed;		/* email or url from a name: values must fit */
	Oid			typoutput;		/* output function, for VK_OUTPUT */
} TypeInfo;

/* longest value text written into a fixed buffer: bigint, timestamps */
#define VALUE_BUF_LEN 32

/* data_field's cache: the value's type and how it is written */
typedef struct FieldCache
{
	Oid			typid;
	TypeInfo	type;
	FmgrInfo	outfn;
} FieldCache;

/* one column of row_to_data's plan */
typedef struct PlanColumn
{
	int			attno;			/* index in the tuple descriptor */
	const char *name;
	TypeInfo	type;
	const char *datatype;		/* the field's datatype (inferred or given) */
	TimeForm	form;
	bool		check;			/* datatype given: check every value */
	FmgrInfo	outfn;
	JsonbValue *datatype_v;		/* its "datatype" member's value */
	JsonbValue *value_v;		/* its "value" member's value */
	char		buf[VALUE_BUF_LEN];
} PlanColumn;

/* row_to_data's cache: everything that does not depend on the values */
typedef struct RowPlan
{
	MemoryContext cxt;			/* owns the plan; child of fn_mcxt */
	Oid			typid;
	int32		typmod;
	uint64		tupdesc_id;		/* the type cache's, for named row types */
	Jsonb	   *labels;			/* copies of the arguments (or NULL) */
	Jsonb	   *options;
	TupleDesc	tupdesc;
	Datum	   *values;
	bool	   *nulls;
	int			ncolumns;
	PlanColumn *columns;
	JsonbValue	data;			/* the data object, its values set per row */
} RowPlan;

/* what the labels and options say about one column */
typedef struct ColumnSpec
{
	bool		dropped;
	int			order;			/* position among the non-dropped columns */
	const char *label;
	bool		exclude;
	bool		hidden;			/* named in "hidden" */
	bool		operator_only;	/* named in "operator_only" */
	bool		readonly;
	const char *datatype;		/* from "datatypes", or NULL */
	JsonbContainer *attributes; /* from "attributes", or NULL */
} ColumnSpec;

/* the members of a field that are not HTML attributes, and who sets them */
static const struct
{
	const char *member;
	const char *data_field_arg; /* in liveid.data_field() */
	const char *row_option;		/* in liveid.row_to_data() */
}			core_members[] =
{
	{"datatype", "datatype => ...", "the option \"datatypes\""},
	{"label", "label => ...", "labels => ..."},
	{"value", "the value argument", "the row's own value"},
	{"order", "\"order\" => ...", "the column's position"},
	{"display", "display => ...", "the options \"hidden\" and \"operator_only\""},
};

/* the option keys of row_to_data */
#define ROW_OPTIONS "exclude, hidden, operator_only, readonly, datatypes and attributes"


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

/* Works out how a value of typid (in a column colname, or NULL) is sent. */
static void
InferType(Oid typid, const char *colname, TypeInfo *ti)
{
	Oid			base = getBaseType(typid);
	bool		isvarlena;

	ti->guessed = false;
	ti->typoutput = InvalidOid;
	ti->datatype = "text";
	switch (base)
	{
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
			ti->kind = VK_TEXT;
			break;
		case INT2OID:
			ti->kind = VK_INT2;
			ti->datatype = "number";
			break;
		case INT4OID:
			ti->kind = VK_INT4;
			ti->datatype = "number";
			break;
		case INT8OID:
			ti->kind = VK_INT8;
			ti->datatype = "number";
			break;
		case FLOAT4OID:
			ti->kind = VK_FLOAT4;
			ti->datatype = "number";
			break;
		case FLOAT8OID:
			ti->kind = VK_FLOAT8;
			ti->datatype = "number";
			break;
		case NUMERICOID:
			ti->kind = VK_NUMERIC;
			ti->datatype = "number";
			break;
		case BOOLOID:
			ti->kind = VK_BOOL;
			ti->datatype = "checkbox";
			break;
		case DATEOID:
			ti->kind = VK_DATE;
			ti->datatype = "date";
			break;
		case TIMEOID:
			ti->kind = VK_TIME;
			ti->datatype = "time";
			break;
		case TIMETZOID:
			ti->kind = VK_TIMETZ;
			ti->datatype = "time";
			break;
		case TIMESTAMPOID:
			ti->kind = VK_TIMESTAMP;
			break;
		case TIMESTAMPTZOID:
			ti->kind = VK_TIMESTAMPTZ;
			break;
		default:
			ti->kind = VK_OUTPUT;
			getTypeOutputInfo(base, &ti->typoutput, &isvarlena);
			break;
	}
	if (TypeCategory(base) == TYPCATEGORY_STRING)
	{
		const char *guess = DomainNameDatatype(typid);

		if (guess == NULL && colname != NULL)
			guess = NameDatatype(colname);
		if (guess != NULL)
		{
			ti->datatype = guess;
			ti->guessed = strcmp(guess, "tel") != 0;
		}
	}
}

/* The part of a date or timestamp a field of this datatype shows. */
static TimeForm
FormFor(ValueKind kind, const char *datatype)
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
PutDate(char *p, int julian, TimeForm form, const char *key, const char *what)
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
TimestampText(Timestamp ts, bool utc, TimeForm form, char *buf, const char *key)
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

/* A real or double as plain decimal (no exponent); its length in *len. */
static char *
FloatText(double v, bool is_float4, const char *key, int *len)
{
	char		digits[DOUBLE_SHORTEST_DECIMAL_LEN + 1];
	char		mantissa[DOUBLE_SHORTEST_DECIMAL_LEN];
	char	   *e,
			   *out,
			   *o;
	int			n = 0,
				point = -1,
				exp;
	bool		neg;

	if (isnan(v) || isinf(v))
		ValueError(key,
				   psprintf("%s is not a number a form field can show.",
							isnan(v) ? "NaN" : (v > 0 ? "Infinity" : "-Infinity")),
				   "Pass NULL (sent as an empty value) or a finite number.");
	if (v == 0)
	{
		*len = 1;
		return "0";
	}
	if (is_float4)
		float_to_shortest_decimal_buf((float) v, digits);
	else
		double_to_shortest_decimal_buf(v, digits);
	e = strchr(digits, 'e');
	if (e == NULL)
	{
		*len = strlen(digits);
		return pstrdup(digits);
	}

	/* d.ddde[+-]x: move the point x places */
	exp = atoi(e + 1);
	*e = '\0';
	neg = digits[0] == '-';
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

/*
 * The text of a non-NULL value for a field: points into the datum, into buf
 * (VALUE_BUF_LEN bytes) or into palloc'd memory; not NUL-terminated.
 */
static const char *
ValueText(const TypeInfo *ti, TimeForm form, FmgrInfo *outfn, Datum d,
		  char *buf, int *len, const char *key)
{
	switch (ti->kind)
	{
		case VK_TEXT:
			{
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
			{
				Numeric		n = DatumGetNumeric(d);
				char	   *s;

				if (numeric_is_nan(n) || numeric_is_inf(n))
					ValueError(key,
							   psprintf("%s is not a number a form field can show.",
										numeric_is_nan(n) ? "NaN" : "Infinity"),
							   "Pass NULL (sent as an empty value) or a finite number.");
				s = DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(n)));
				*len = strlen(s);
				return s;
			}
		case VK_BOOL:
			*len = DatumGetBool(d) ? 4 : 5;
			return DatumGetBool(d) ? "true" : "false";
		case VK_DATE:
			{
				DateADT		date = DatumGetDateADT(d);

				if (DATE_NOT_FINITE(date))
					ValueError(key,
							   psprintf("The date \"%s\" has no calendar form (YYYY-MM-DD).",
										DATE_IS_NOBEGIN(date) ? "-infinity" : "infinity"),
							   "Pass NULL (sent as an empty value) or a finite date.");
				*len = (int) (PutDate(buf, date + POSTGRES_EPOCH_JDATE, form, key, "date") - buf);
				return buf;
			}
		case VK_TIME:
			*len = (int) (PutTime(buf, DatumGetTimeADT(d), key) - buf);
			return buf;
		case VK_TIMETZ:
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
				char	   *s = OutputFunctionCall(outfn, d);

				*len = strlen(s);
				return s;
			}
	}
	elog(ERROR, "unexpected value kind %d", (int) ti->kind);
	return NULL;				/* keep compiler quiet */
}

/* True when a guessed email or url datatype suits a non-empty value. */
static bool
GuessFits(const char *datatype, const char *value, int len)
{
	char	   *s = pnstrdup(value, len);

	if (strcmp(datatype, "email") == 0)
		return liveid_is_email(s);
	return liveid_is_http_url(s, false);
}


/* ---------------------------------------------------------------------
 * Building field objects
 * ---------------------------------------------------------------------
 */

/* A JsonbValue string (not copied). */
static inline void
SetString(JsonbValue *v, const char *s, int len)
{
	v->type = jbvString;
	v->val.string.val = (char *) s;
	v->val.string.len = len;
}

/* Sets or replaces (a later value wins) one member of a field being built. */
static JsonbValue *
SetMember(JsonbPair *pairs, int *n, const char *key, int keylen)
{
	for (int i = 0; i < *n; i++)
		if (pairs[i].key.val.string.len == keylen &&
			memcmp(pairs[i].key.val.string.val, key, keylen) == 0)
			return &pairs[i].value;
	SetString(&pairs[*n].key, key, keylen);
	pairs[*n].order = *n;
	return &pairs[(*n)++].value;
}

/* Orders two object members as jsonb does: shorter keys first, then bytes. */
static int
PairCompare(const void *a, const void *b)
{
	const JsonbValue *ka = &((const JsonbPair *) a)->key;
	const JsonbValue *kb = &((const JsonbPair *) b)->key;

	if (ka->val.string.len != kb->val.string.len)
		return ka->val.string.len < kb->val.string.len ? -1 : 1;
	return memcmp(ka->val.string.val, kb->val.string.val, ka->val.string.len);
}

/* Makes an object JsonbValue of pairs, sorted in jsonb's key order. */
static void
SetObject(JsonbValue *v, JsonbPair *pairs, int n)
{
	qsort(pairs, n, sizeof(JsonbPair), PairCompare);
	v->type = jbvObject;
	v->val.object.nPairs = n;
	v->val.object.pairs = pairs;
}

/* Pushes an object member's value, unpacking a binary container. */
static void
PushValue(JsonbParseState **state, const JsonbValue *v)
{
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;

	if (v->type != jbvBinary)
	{
		pushJsonbValue(state, WJB_VALUE, (JsonbValue *) v);
		return;
	}
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, false)) != WJB_DONE)
		pushJsonbValue(state, tok,
					   tok == WJB_KEY || tok == WJB_VALUE || tok == WJB_ELEM ? &e : NULL);
}

/* A Jsonb of an object's pairs; values may be binary containers. */
static Jsonb *
PairsToJsonb(const JsonbPair *pairs, int n)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < n; i++)
	{
		pushJsonbValue(&state, WJB_KEY, (JsonbValue *) &pairs[i].key);
		PushValue(&state, &pairs[i].value);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

/*
 * Raises 22023 when attributes hold a member that is not an HTML attribute
 * (datatype, label, value, order, display), saying what sets it instead.
 */
static void
CheckNotCore(const char *key, int keylen, const char *field, bool in_row)
{
	for (int i = 0; i < lengthof(core_members); i++)
		if (strlen(core_members[i].member) == keylen &&
			memcmp(core_members[i].member, key, keylen) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid attributes for data field \"%s\"", field),
					 errdetail("\"%s\" is not an HTML attribute: %s sets it.", core_members[i].member,
							   in_row ? core_members[i].row_option : core_members[i].data_field_arg),
					 errhint("Leave \"%s\" out of the attributes.", core_members[i].member)));
}

/*
 * Adds an attributes object's members to a field being built, after
 * checking that it is an object without core members.
 */
static void
AddAttributes(JsonbPair *pairs, int *n, JsonbContainer *attrs, const char *field,
			  bool in_row)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;

	if (!JsonContainerIsObject(attrs) || JsonContainerIsScalar(attrs))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid attributes for data field \"%s\"", field),
				 errdetail("The attributes of a field are a JSON object of HTML attributes."),
				 errhint("Pass an object such as {\"maxlength\": 16, \"required\": true}.")));
	it = JsonbIteratorInit(attrs);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &v, true);
		CheckNotCore(k.val.string.val, k.val.string.len, field, in_row);
		*SetMember(pairs, n, k.val.string.val, k.val.string.len) = v;
	}
}

/* How many members an attributes container has (0 for NULL). */
static int
AttributeCount(JsonbContainer *attrs)
{
	return attrs && JsonContainerIsObject(attrs) ? JsonContainerSize(attrs) : 0;
}


/* ---------------------------------------------------------------------
 * liveid.data_field()
 * ---------------------------------------------------------------------
 */

PG_FUNCTION_INFO_V1(liveid_data_field);

/*
 * liveid.data_field(value, label, datatype, "order", display, attributes):
 * one data field, its datatype inferred from value's SQL type unless given.
 */
Datum
liveid_data_field(PG_FUNCTION_ARGS)
{
	FieldCache *cache = (FieldCache *) fcinfo->flinfo->fn_extra;
	Oid			typid = get_fn_expr_argtype(fcinfo->flinfo, 0);
	JsonbContainer *attrs = NULL;
	JsonbPair  *pairs;
	int			n = 0;
	char	   *label;
	const char *key;
	const char *datatype;
	const char *value = "";
	int			len = 0;
	char		buf[VALUE_BUF_LEN];
	Jsonb	   *result;

	if (!OidIsValid(typid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("could not determine the type of the value of a data field")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a data field needs a label"),
				 errdetail("The label argument is NULL; the label is what the operator sees beside the value."),
				 errhint("Pass label => '...', e.g. liveid.data_field(birth_date, label => 'Date of birth').")));
	label = text_to_cstring(PG_GETARG_TEXT_PP(1));
	key = *label ? label : "(empty label)";

	if (cache == NULL || cache->typid != typid)
	{
		cache = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt, sizeof(FieldCache));
		cache->typid = typid;
		InferType(typid, NULL, &cache->type);
		if (cache->type.kind == VK_OUTPUT)
			fmgr_info_cxt(cache->type.typoutput, &cache->outfn, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = cache;
	}
	datatype = PG_ARGISNULL(2) ? cache->type.datatype : text_to_cstring(PG_GETARG_TEXT_PP(2));
	if (!PG_ARGISNULL(0))
	{
		value = ValueText(&cache->type, FormFor(cache->type.kind, datatype), &cache->outfn,
						  PG_GETARG_DATUM(0), buf, &len, key);
		if (PG_ARGISNULL(2) && cache->type.guessed && len > 0 &&
			!GuessFits(datatype, value, len))
			datatype = "text";
	}
	if (!PG_ARGISNULL(5))
		attrs = &PG_GETARG_JSONB_P(5)->root;

	pairs = palloc(sizeof(JsonbPair) * (5 + AttributeCount(attrs)));
	SetString(SetMember(pairs, &n, "datatype", 8), datatype, strlen(datatype));
	SetString(SetMember(pairs, &n, "label", 5), label, strlen(label));
	SetString(SetMember(pairs, &n, "value", 5), value, len);
	if (!PG_ARGISNULL(3))
	{
		JsonbValue *v = SetMember(pairs, &n, "order", 5);

		v->type = jbvNumeric;
		v->val.numeric = int64_to_numeric(PG_GETARG_INT32(3));
	}
	if (!PG_ARGISNULL(4))
	{
		char	   *display = text_to_cstring(PG_GETARG_TEXT_PP(4));

		SetString(SetMember(pairs, &n, "display", 7), display, strlen(display));
	}
	if (attrs)
		AddAttributes(pairs, &n, attrs, key, false);

	result = PairsToJsonb(pairs, n);
	liveid_check_data_field(key, &result->root);
	PG_RETURN_JSONB_P(result);
}


/* ---------------------------------------------------------------------
 * liveid.row_to_data()
 * ---------------------------------------------------------------------
 */

/* The column named name[0..len) among the non-dropped ones, or -1. */
static int
FindColumn(TupleDesc tupdesc, const char *name, int len)
{
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (!att->attisdropped && strlen(NameStr(att->attname)) == len &&
			memcmp(NameStr(att->attname), name, len) == 0)
			return i;
	}
	return -1;
}

/* "a, b, c": the row's column names, for messages. */
static char *
ColumnList(TupleDesc tupdesc)
{
	StringInfoData s;

	initStringInfo(&s);
	for (int i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);

		if (att->attisdropped)
			continue;
		appendStringInfo(&s, "%s%s", s.len ? ", " : "", NameStr(att->attname));
	}
	return s.data;
}

/* The index of a column an argument names; 22023 naming both otherwise. */
static int
NamedColumn(TupleDesc tupdesc, const JsonbValue *name, const char *where)
{
	int			i;

	if (name->type != jbvString)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s", where),
				 errdetail("Columns are named by JSON strings."),
				 errhint("Write the column names as strings, e.g. [\"birth_date\"].")));
	i = FindColumn(tupdesc, name->val.string.val, name->val.string.len);
	if (i < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s names an unknown column \"%s\"", where,
						pnstrdup(name->val.string.val, name->val.string.len)),
				 errdetail("The row's columns are: %s.", ColumnList(tupdesc)),
				 errhint("Name the row's columns exactly (case matters).")));
	return i;
}

/* Reads labels: an object column name -> label string. */
static void
ReadLabels(Jsonb *labels, TupleDesc tupdesc, ColumnSpec *spec)
{
	JsonbIterator *it;
	JsonbValue	k,
				v;
	JsonbIteratorToken tok;

	if (!JB_ROOT_IS_OBJECT(labels))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid labels"),
				 errdetail("labels must be a JSON object that maps a column name to its label."),
				 errhint("Pass e.g. labels => '{\"birth_date\": \"Date of birth\"}'.")));
	it = JsonbIteratorInit(&labels->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		int			i;

		if (tok != WJB_KEY)
			continue;
		tok = JsonbIteratorNext(&it, &v, true);
		i = NamedColumn(tupdesc, &k, "labels");
		if (v.type != jbvString)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid label for column \"%s\"", NameStr(TupleDescAttr(tupdesc, i)->attname)),
					 errdetail("A label must be a JSON string."),
					 errhint("Pass e.g. labels => '{\"birth_date\": \"Date of birth\"}'.")));
		spec[i].label = pnstrdup(v.val.string.val, v.val.string.len);
	}
}

/*
 * Reads a column-list option (exclude, hidden, operator_only, readonly):
 * true (every column), false (none) or an array of column names.  Sets the
 * flag at offset in each named ColumnSpec; returns true for "true".
 */
static bool
ReadColumnList(const char *option, const JsonbValue *v, TupleDesc tupdesc,
			   ColumnSpec *spec, size_t offset)
{
	JsonbIterator *it;
	JsonbValue	e;
	JsonbIteratorToken tok;
	char	   *where;

	if (v->type == jbvBool)
		return v->val.boolean;
	if (v->type != jbvBinary || !JsonContainerIsArray(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid option \"%s\"", option),
				 errdetail("\"%s\" must be true (every column) or a JSON array of column names.", option),
				 errhint("Pass e.g. options => '{\"%s\": [\"birth_date\"]}'.", option)));
	where = psprintf("option \"%s\"", option);
	it = JsonbIteratorInit(v->val.binary.data);
	while ((tok = JsonbIteratorNext(&it, &e, true)) != WJB_DONE)
	{
		if (tok != WJB_ELEM)
			continue;
		*(bool *) ((char *) &spec[NamedColumn(tupdesc, &e, where)] + offset) = true;
	}
	return false;
}

/* Reads an option that maps a column name to something: the pairs' container. */
static JsonbContainer *
ColumnMap(const char *option, const JsonbValue *v, const char *example)
{
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid option \"%s\"", option),
				 errdetail("\"%s\" must be a JSON object keyed by column name.", option),
				 errhint("Pass e.g. options => '{\"%s\": %s}'.", option, example)));
	return v->val.binary.data;
}

/* Reads options (see ROW_OPTIONS) into the column specs. */
static void
ReadOptions(Jsonb *options, TupleDesc tupdesc, ColumnSpec *spec)
{
	JsonbIterator *it;
	JsonbValue	k,
				v,
				e;
	JsonbIteratorToken tok;
	bool		exclude_all = false,
				hidden_all = false,
				operator_all = false,
				readonly_all = false;

	if (!JB_ROOT_IS_OBJECT(options))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid options"),
				 errdetail("options must be a JSON object with the keys " ROW_OPTIONS "."),
				 errhint("Pass e.g. options => '{\"hidden\": [\"id\"], \"readonly\": true}'.")));
	it = JsonbIteratorInit(&options->root);
	while ((tok = JsonbIteratorNext(&it, &k, true)) != WJB_DONE)
	{
		char	   *name;

		if (tok != WJB_KEY)
			continue;
		name = pnstrdup(k.val.string.val, k.val.string.len);
		tok = JsonbIteratorNext(&it, &v, true);
		if (strcmp(name, "exclude") == 0)
			exclude_all = ReadColumnList(name, &v, tupdesc, spec, offsetof(ColumnSpec, exclude));
		else if (strcmp(name, "hidden") == 0)
			hidden_all = ReadColumnList(name, &v, tupdesc, spec, offsetof(ColumnSpec, hidden));
		else if (strcmp(name, "operator_only") == 0)
			operator_all = ReadColumnList(name, &v, tupdesc, spec, offsetof(ColumnSpec, operator_only));
		else if (strcmp(name, "readonly") == 0)
			readonly_all = ReadColumnList(name, &v, tupdesc, spec, offsetof(ColumnSpec, readonly));
		else if (strcmp(name, "datatypes") == 0 || strcmp(name, "attributes") == 0)
		{
			bool		datatypes = name[0] == 'd';
			JsonbIterator *mit = JsonbIteratorInit(ColumnMap(name, &v, datatypes ?
															 "{\"expiry\": \"month\"}" :
															 "{\"fiscal_code\": {\"maxlength\": 16}}"));

			while ((tok = JsonbIteratorNext(&mit, &e, true)) != WJB_DONE)
			{
				JsonbValue	m;
				int			i;

				if (tok != WJB_KEY)
					continue;
				i = NamedColumn(tupdesc, &e, psprintf("option \"%s\"", name));
				tok = JsonbIteratorNext(&mit, &m, true);
				if (datatypes)
				{
					if (m.type != jbvString)
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("invalid datatype for column \"%s\"", NameStr(TupleDescAttr(tupdesc, i)->attname)),
								 errdetail("A datatype is a JSON string: one of text, date, email, number, tel, checkbox, month, time, url."),
								 errhint("Pass e.g. options => '{\"datatypes\": {\"expiry\": \"month\"}}'.")));
					spec[i].datatype = pnstrdup(m.val.string.val, m.val.string.len);
				}
				else
				{
					if (m.type != jbvBinary || !JsonContainerIsObject(m.val.binary.data))
						ereport(ERROR,
								(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
								 errmsg("invalid attributes for data field \"%s\"", NameStr(TupleDescAttr(tupdesc, i)->attname)),
								 errdetail("The attributes of a field are a JSON object of HTML attributes."),
								 errhint("Pass e.g. options => '{\"attributes\": {\"fiscal_code\": {\"maxlength\": 16}}}'.")));
					spec[i].attributes = m.val.binary.data;
				}
			}
		}
		else
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("unknown option \"%s\"", name),
					 errdetail("The options of liveid.row_to_data are " ROW_OPTIONS "."),
					 errhint("Check the spelling; option names are lower case.")));
	}

	if (hidden_all && operator_all)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("options \"hidden\" and \"operator_only\" are both true"),
				 errdetail("A field has one display: \"none\" (hidden) or \"operator\" (operator_only)."),
				 errhint("Make one of them true and list the exceptions in the other.")));
	for (int i = 0; i < tupdesc->natts; i++)
	{
		ColumnSpec *s = &spec[i];

		if (s->hidden && s->operator_only)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("column \"%s\" is both hidden and operator_only", NameStr(TupleDescAttr(tupdesc, i)->attname)),
					 errdetail("A field has one display: \"none\" (hidden) or \"operator\" (operator_only)."),
					 errhint("Name the column in only one of the two options.")));
		/* a column named in one list wins over "true" in the other */
		s->hidden |= hidden_all && !s->operator_only;
		s->operator_only |= operator_all && !s->hidden;
		s->exclude |= exclude_all;
		s->readonly |= readonly_all;
	}
}

/* A column's name made readable: birth_date -> "Birth date". */
static char *
ReadableName(const char *name)
{
	StringInfoData s;
	char	   *upper;
	int			first;

	initStringInfo(&s);
	for (const char *p = name; *p; p++)
	{
		if (*p != '_')
			appendStringInfoChar(&s, *p);
		else if (s.len > 0 && p[1] != '\0' && p[1] != '_')
			appendStringInfoChar(&s, ' ');
	}
	if (s.len == 0)
		return pstrdup(name);
	first = pg_mblen(s.data);
	upper = str_toupper(s.data, first, DEFAULT_COLLATION_OID);
	return psprintf("%s%s", upper, s.data + first);
}

/* Raises 22023 when two included columns have the same name (sorted pairs). */
static void
CheckUniqueKeys(const JsonbPair *pairs, int n)
{
	for (int i = 1; i < n; i++)
		if (PairCompare(&pairs[i - 1], &pairs[i]) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("the row has two columns named \"%s\"",
							pnstrdup(pairs[i].key.val.string.val, pairs[i].key.val.string.len)),
					 errdetail("Each column becomes the data field of its name, and field keys are unique."),
					 errhint("Give the columns distinct aliases, or exclude one of them.")));
}

/* The type cache's identifier of a named row type's descriptor (0 for records). */
static uint64
TupdescId(Oid typid)
{
	if (typid == RECORDOID)
		return 0;
	return lookup_type_cache(typid, TYPECACHE_TUPDESC)->tupDesc_identifier;
}

/* True when a jsonb argument equals the plan's copy (both may be NULL). */
static bool
SameJsonb(const Jsonb *a, const Jsonb *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return a == b || (VARSIZE(a) == VARSIZE(b) && memcmp(a, b, VARSIZE(a)) == 0);
}

/* A copy of a (detoasted) jsonb in the current context; NULL stays NULL. */
static Jsonb *
CopyJsonb(const Jsonb *j)
{
	Jsonb	   *copy;

	if (j == NULL)
		return NULL;
	copy = palloc(VARSIZE(j));
	memcpy(copy, j, VARSIZE(j));
	return copy;
}

/* A jsonb argument, detoasted (NULL for SQL NULL). */
static Jsonb *
JsonbArg(FunctionCallInfo fcinfo, int argno)
{
	return PG_ARGISNULL(argno) ? NULL : PG_GETARG_JSONB_P(argno);
}

/*
 * Works out the plan of a row type and of the labels and options: the
 * data object's tree with every field's members but the values.
 */
static RowPlan *
MakeRowPlan(MemoryContext parent, Oid typid, int32 typmod, Jsonb *labels, Jsonb *options)
{
	MemoryContext cxt = AllocSetContextCreate(parent, "liveid row_to_data plan",
											  ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	RowPlan    *plan = palloc0(sizeof(RowPlan));
	TupleDesc	td = lookup_rowtype_tupdesc(typid, typmod);
	Oid			relid = typid == RECORDOID ? InvalidOid : get_typ_typrelid(typid);
	ColumnSpec *spec;
	JsonbPair  *fields;
	int			position = 0;

	plan->cxt = cxt;
	plan->typid = typid;
	plan->typmod = typmod;
	plan->tupdesc_id = TupdescId(typid);
	plan->tupdesc = CreateTupleDescCopyConstr(td);
	ReleaseTupleDesc(td);
	td = plan->tupdesc;
	plan->labels = CopyJsonb(labels);
	plan->options = CopyJsonb(options);
	plan->values = palloc(sizeof(Datum) * Max(td->natts, 1));
	plan->nulls = palloc(sizeof(bool) * Max(td->natts, 1));
	plan->columns = palloc0(sizeof(PlanColumn) * Max(td->natts, 1));

	spec = palloc0(sizeof(ColumnSpec) * Max(td->natts, 1));
	for (int i = 0; i < td->natts; i++)
	{
		spec[i].dropped = TupleDescAttr(td, i)->attisdropped;
		spec[i].order = spec[i].dropped ? 0 : ++position;
	}
	if (labels)
		ReadLabels(labels, td, spec);
	if (options)
		ReadOptions(options, td, spec);

	fields = palloc(sizeof(JsonbPair) * Max(td->natts, 1));
	for (int i = 0; i < td->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(td, i);
		PlanColumn *c = &plan->columns[plan->ncolumns];
		ColumnSpec *s = &spec[i];
		JsonbPair  *pairs;
		JsonbValue *v;
		int			n = 0;
		const char *label = s->label;

		if (s->dropped || s->exclude)
			continue;
		c->attno = i;
		c->name = NameStr(att->attname);
		InferType(att->atttypid, c->name, &c->type);
		if (c->type.kind == VK_OUTPUT)
			fmgr_info_cxt(c->type.typoutput, &c->outfn, cxt);
		c->datatype = s->datatype ? s->datatype : c->type.datatype;
		c->check = s->datatype != NULL;
		c->form = FormFor(c->type.kind, c->datatype);
		if (label == NULL && OidIsValid(relid))
			label = GetComment(relid, RelationRelationId, att->attnum);
		if (label == NULL)
			label = ReadableName(c->name);

		pairs = palloc(sizeof(JsonbPair) * (6 + AttributeCount(s->attributes)));
		c->datatype_v = SetMember(pairs, &n, "datatype", 8);
		SetString(c->datatype_v, c->datatype, strlen(c->datatype));
		SetString(SetMember(pairs, &n, "label", 5), label, strlen(label));
		SetString(SetMember(pairs, &n, "value", 5), "", 0);
		v = SetMember(pairs, &n, "order", 5);
		v->type = jbvNumeric;
		v->val.numeric = int64_to_numeric(s->order);
		if (s->hidden || s->operator_only)
			SetString(SetMember(pairs, &n, "display", 7),
					  s->hidden ? "none" : "operator", s->hidden ? 4 : 8);
		if (s->readonly)
		{
			v = SetMember(pairs, &n, "readonly", 8);
			v->type = jbvBool;
			v->val.boolean = true;
		}
		if (s->attributes)
			AddAttributes(pairs, &n, s->attributes, c->name, true);
		/* what the caller supplied follows the rules (with an empty value) */
		if (labels || options)
			liveid_check_data_field(c->name, &PairsToJsonb(pairs, n)->root);

		SetObject(&fields[plan->ncolumns].value, pairs, n);
		/* the members moved while sorting: find the two set per row */
		for (int m = 0; m < n; m++)
		{
			if (pairs[m].key.val.string.len == 8 && memcmp(pairs[m].key.val.string.val, "datatype", 8) == 0)
				c->datatype_v = &pairs[m].value;
			else if (pairs[m].key.val.string.len == 5 && memcmp(pairs[m].key.val.string.val, "value", 5) == 0)
				c->value_v = &pairs[m].value;
		}
		SetString(&fields[plan->ncolumns].key, c->name, strlen(c->name));
		fields[plan->ncolumns].order = plan->ncolumns;
		plan->ncolumns++;
	}
	SetObject(&plan->data, fields, plan->ncolumns);
	CheckUniqueKeys(fields, plan->ncolumns);
	MemoryContextSwitchTo(old);
	return plan;
}

/* Checks a field whose datatype the caller gave, with this row's value. */
static void
CheckGivenDatatype(const PlanColumn *c)
{
	JsonbPair	pairs[3];

	SetString(&pairs[0].key, "datatype", 8);
	pairs[0].value = *c->datatype_v;
	SetString(&pairs[1].key, "label", 5);
	SetString(&pairs[1].value, "", 0);
	SetString(&pairs[2].key, "value", 5);
	pairs[2].value = *c->value_v;
	liveid_check_data_field(c->name, &PairsToJsonb(pairs, 3)->root);
}

PG_FUNCTION_INFO_V1(liveid_row_to_data);

/*
 * liveid.row_to_data(r, labels, options): a row as the data object, one
 * field per column; NULL for a NULL row.
 */
Datum
liveid_row_to_data(PG_FUNCTION_ARGS)
{
	RowPlan    *plan = (RowPlan *) fcinfo->flinfo->fn_extra;
	HeapTupleHeader td;
	HeapTupleData tuple;
	Oid			typid;
	int32		typmod;
	Jsonb	   *labels,
			   *options;

	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	td = PG_GETARG_HEAPTUPLEHEADER(0);
	typid = HeapTupleHeaderGetTypeId(td);
	typmod = HeapTupleHeaderGetTypMod(td);
	labels = JsonbArg(fcinfo, 1);
	options = JsonbArg(fcinfo, 2);

	if (plan == NULL || plan->typid != typid || plan->typmod != typmod ||
		!SameJsonb(labels, plan->labels) || !SameJsonb(options, plan->options) ||
		(typid != RECORDOID && plan->tupdesc_id != TupdescId(typid)))
	{
		if (plan)
			MemoryContextDelete(plan->cxt);
		fcinfo->flinfo->fn_extra = NULL;
		plan = MakeRowPlan(fcinfo->flinfo->fn_mcxt, typid, typmod, labels, options);
		fcinfo->flinfo->fn_extra = plan;
	}

	tuple.t_len = HeapTupleHeaderGetDatumLength(td);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = td;
	heap_deform_tuple(&tuple, plan->tupdesc, plan->values, plan->nulls);

	for (int i = 0; i < plan->ncolumns; i++)
	{
		PlanColumn *c = &plan->columns[i];
		const char *value = "";
		const char *datatype = c->datatype;
		int			len = 0;

		if (!plan->nulls[c->attno])
		{
			value = ValueText(&c->type, c->form, &c->outfn, plan->values[c->attno],
							  c->buf, &len, c->name);
			if (c->type.guessed && !c->check && len > 0 &&
				!GuessFits(c->datatype, value, len))
				datatype = "text";
		}
		SetString(c->value_v, value, len);
		SetString(c->datatype_v, datatype, strlen(datatype));
		if (c->check)
			CheckGivenDatatype(c);
	}
	PG_RETURN_JSONB_P(JsonbValueToJsonb(&plan->data));
}


/* ---------------------------------------------------------------------
 * liveid.data_agg()
 * ---------------------------------------------------------------------
 */

/* one (key, field) row of data_agg */
typedef struct AggItem
{
	JsonbValue	key;			/* a string */
	Jsonb	   *field;
} AggItem;

/* data_agg's state, in the aggregate's memory context */
typedef struct DataAggState
{
	int			n;
	int			size;
	AggItem    *items;
} DataAggState;

/* Orders two items by key in jsonb's order. */
static int
ItemCompare(const void *a, const void *b)
{
	const JsonbValue *ka = &((const AggItem *) a)->key;
	const JsonbValue *kb = &((const AggItem *) b)->key;

	if (ka->val.string.len != kb->val.string.len)
		return ka->val.string.len < kb->val.string.len ? -1 : 1;
	return memcmp(ka->val.string.val, kb->val.string.val, ka->val.string.len);
}

PG_FUNCTION_INFO_V1(liveid_data_agg_transfn);

/* data_agg's transition: checks the field and keeps it under its key. */
Datum
liveid_data_agg_transfn(PG_FUNCTION_ARGS)
{
	MemoryContext aggcxt,
				old;
	DataAggState *state;
	char	   *key;
	Jsonb	   *field;

	if (!AggCheckCallContext(fcinfo, &aggcxt))
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("liveid_data_agg_transfn called in a non-aggregate context")));
	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a data field key must not be NULL"),
				 errdetail("Each row of liveid.data_agg(key, field) gives the key of one field of the data object."),
				 errhint("Give every field a key, or filter the NULL ones out (FILTER (WHERE key IS NOT NULL)).")));
	key = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("data field \"%s\" is NULL", key),
				 errdetail("Each row of liveid.data_agg(key, field) gives one field object."),
				 errhint("Build the field with liveid.data_field(); it gives a NULL value as an empty one.")));
	field = PG_GETARG_JSONB_P(2);
	liveid_check_data_field(key, &field->root);

	old = MemoryContextSwitchTo(aggcxt);
	if (PG_ARGISNULL(0))
	{
		state = palloc(sizeof(DataAggState));
		state->n = 0;
		state->size = 16;
		state->items = palloc(sizeof(AggItem) * state->size);
	}
	else
		state = (DataAggState *) PG_GETARG_POINTER(0);
	if (state->n == state->size)
	{
		state->size *= 2;
		state->items = repalloc(state->items, sizeof(AggItem) * state->size);
	}
	SetString(&state->items[state->n].key, pstrdup(key), strlen(key));
	state->items[state->n].field = CopyJsonb(field);
	state->n++;
	MemoryContextSwitchTo(old);
	PG_RETURN_POINTER(state);
}

PG_FUNCTION_INFO_V1(liveid_data_agg_finalfn);

/*
 * data_agg's final function: the data object, {} when there were no rows;
 * a key given twice is 22023.
 */
Datum
liveid_data_agg_finalfn(PG_FUNCTION_ARGS)
{
	DataAggState *state = PG_ARGISNULL(0) ? NULL : (DataAggState *) PG_GETARG_POINTER(0);
	JsonbParseState *ps = NULL;
	JsonbValue *res;
	AggItem    *items;
	int			n = state ? state->n : 0;

	/* sort a copy: the state may still be used (window aggregates) */
	items = palloc(sizeof(AggItem) * Max(n, 1));
	if (n > 0)
		memcpy(items, state->items, sizeof(AggItem) * n);
	qsort(items, n, sizeof(AggItem), ItemCompare);

	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	for (int i = 0; i < n; i++)
	{
		JsonbValue	v;

		if (i > 0 && ItemCompare(&items[i - 1], &items[i]) == 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("duplicate data field key \"%s\"", items[i].key.val.string.val),
					 errdetail("Each key of a data object names one field."),
					 errhint("Give each row of liveid.data_agg a distinct key.")));
		v.type = jbvBinary;
		v.val.binary.data = &items[i].field->root;
		v.val.binary.len = VARSIZE(items[i].field) - VARHDRSZ;
		pushJsonbValue(&ps, WJB_KEY, &items[i].key);
		PushValue(&ps, &v);
	}
	res = pushJsonbValue(&ps, WJB_END_OBJECT, NULL);
	PG_RETURN_JSONB_P(JsonbValueToJsonb(res));
}
