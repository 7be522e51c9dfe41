/*-------------------------------------------------------------------------
 *
 * json.c
 *		LiveID+ answers: from the bytes received to jsonb, typed members of
 *		an answer, and the error text of a failed one.
 *
 * An answer is untrusted text.  liveid_answer_parse() admits it only if
 * the bytes are valid UTF-8 without a NUL byte (58000 otherwise, naming the
 * byte offset and the bytes in hex, never the raw bytes), converts it to
 * the database encoding (an untranslatable character keeps PostgreSQL's own
 * error, 22P05), and has jsonb_writer.c turn it into jsonb: byte for byte
 * what jsonb_in makes of the same text, so numbers keep every digit as
 * written and strings are whole; \u0000, an escape the database encoding
 * cannot represent, a number outside numeric's range, malformed JSON,
 * text after the value and nesting deeper than LIVEID_ANSWER_MAX_DEPTH are
 * 58000 with the character position and a short escaped excerpt.  An empty
 * answer is no value: NULL, which liveid.request returns as SQL NULL and
 * liveid_answer_object() refuses.
 *
 * Why not cJSON (used before): it keeps numbers as doubles (0.1 and
 * 9007199254740993 came back changed), cuts strings at \u0000, lets invalid
 * UTF-8 through, and its malloc'd tree plus the JsonbValue tree built from
 * it took 580 MB for a 7.9 MB answer [0,0,...].  Why not jsonb_in: its
 * JsonbValue tree costs about 50 bytes per element (about 450 MB for the
 * same text).  The bound met instead, for any answer within
 * liveid.max_response_size, is a peak under 10 times the answer's size:
 * the text (and its converted copy in a database that is not UTF-8), the
 * result written once at its exact size (at most 6 times the text, for
 * [0,0,...]: a 4-byte JEntry and an 8-byte numeric per 2 bytes), and pass
 * 1's records, 4 to 28 bytes per container or object member (see
 * jsonb_writer.c).  sql/answers.sql checks it on four shapes; [0,0,...]
 * measures 7.1 times.
 *
 * The accessors read the parsed jsonb and raise 58000 "does not have the
 * expected shape" naming the member; they add no error context: the caller
 * pushes the one of its remote call.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include <math.h>

#include "catalog/namespace.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

/* characters of liveid_answer_error_text(), "..." included */
#define ERROR_TEXT_CHARS 300

/* ----------------------------------------------------------------------
 * parsing
 * ----------------------------------------------------------------------
 */

/* Raises 58000 unless body is valid UTF-8 without a NUL byte. */
static void
CheckUtf8(const char *body, int len)
{
	int			ok = pg_encoding_verifymbstr(PG_UTF8, body, len);
	StringInfoData bytes;
	int			n;

	if (ok >= len)
		return;
	if (body[ok] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("LiveID+ answer is not valid UTF-8"),
				 errdetail("At byte %d: a NUL byte, which text cannot hold.", ok + 1)));
	/* the bytes of the character that failed, in hex as PostgreSQL shows them */
	n = Min(pg_utf_mblen((const unsigned char *) body + ok), len - ok);
	initStringInfo(&bytes);
	for (int i = 0; i < n; i++)
		appendStringInfo(&bytes, "%s0x%02x", i ? " " : "", (unsigned char) body[ok + i]);
	ereport(ERROR,
			(errcode(ERRCODE_SYSTEM_ERROR),
			 errmsg("LiveID+ answer is not valid UTF-8"),
			 errdetail("At byte %d: the byte sequence %s is not UTF-8.", ok + 1, bytes.data)));
}

/*
 * An answer body (len bytes) as jsonb in CurrentMemoryContext, NULL when it
 * is empty; 58000 (or 22P05, 54000) as the file header says otherwise.
 */
Jsonb *
liveid_answer_parse(const char *body, size_t len)
{
	char	   *text;
	int			text_len;
	Jsonb	   *result;

	if (len == 0)
		return NULL;
	/* http.c caps answers at liveid.max_response_size, at most MaxAllocSize */
	if (len > MaxAllocSize)
		elog(ERROR, "LiveID+ answer of %zu bytes is too large", len);
	CheckUtf8(body, (int) len);
	text = pg_any_to_server(body, (int) len, PG_UTF8);
	/* a converted copy has no NUL byte either: its length is its strlen */
	text_len = (text == body) ? (int) len : (int) strlen(text);
	result = liveid_jsonb_from_text(text, text_len);
	if (text != body)
		pfree(text);
	return result;
}

/* ----------------------------------------------------------------------
 * typed members
 * ----------------------------------------------------------------------
 */

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

/* The answer's top-level object; 58000 if it is empty or not an object. */
JsonbContainer *
liveid_answer_object(Jsonb *answer, const char *what)
{
	if (answer == NULL)
		ShapeError("The answer is empty (%s expected).", what);
	if (!JB_ROOT_IS_OBJECT(answer))
		ShapeError("The answer is not a JSON object (%s expected).", what);
	return &answer->root;
}

/* A member, or NULL when absent. */
static JsonbValue *
Lookup(JsonbContainer *obj, const char *key)
{
	return getKeyJsonValueFromContainer(obj, key, strlen(key), NULL);
}

/* A member that must be present and not null. */
static JsonbValue *
Member(JsonbContainer *obj, const char *key, const char *type)
{
	JsonbValue *v = Lookup(obj, key);
	char		what[128];

	if (v == NULL || v->type == jbvNull)
	{
		snprintf(what, sizeof(what), "\"%s\" (%s)", key, type);
		ShapeError("The member %s is missing.", what);
	}
	return v;
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

/* An integer member (a number with no fraction, within int32). */
int32
liveid_member_int(JsonbContainer *obj, const char *key)
{
	JsonbValue *v = Member(obj, key, "an integer");
	bool		error = false;
	int32		result;

	if (v->type != jbvNumeric)
		WrongType(key, "an integer");
	/* numeric_int4 rounds: the value must equal its rounding */
	result = numeric_int4_opt_error(v->val.numeric, &error);
	if (error ||
		!DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(v->val.numeric),
										  DirectFunctionCall1(int4_numeric,
															  Int32GetDatum(result)))))
		WrongType(key, "an integer");
	return result;
}

/* A number member, as a finite double. */
double
liveid_member_number(JsonbContainer *obj, const char *key)
{
	JsonbValue *v = Member(obj, key, "a number");
	double		result;

	if (v->type != jbvNumeric)
		WrongType(key, "a number");
	result = DatumGetFloat8(DirectFunctionCall1(numeric_float8_no_overflow,
												NumericGetDatum(v->val.numeric)));
	if (!isfinite(result))
		WrongType(key, "a number");
	return result;
}

/* A string member, palloc'd; required and not null. */
char *
liveid_member_string(JsonbContainer *obj, const char *key)
{
	JsonbValue *v = Member(obj, key, "a string");

	if (v->type != jbvString)
		WrongType(key, "a string");
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* A string member, palloc'd, or NULL when it is absent or null. */
char *
liveid_member_string_or_null(JsonbContainer *obj, const char *key)
{
	JsonbValue *v = Lookup(obj, key);

	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type != jbvString)
		WrongType(key, "a string or null");
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* A member that is a container of the given kind. */
static JsonbContainer *
ContainerMember(JsonbContainer *obj, const char *key, bool want_object)
{
	const char *type = want_object ? "an object" : "an array";
	JsonbValue *v = Member(obj, key, type);
	JsonbContainer *c;

	if (v->type != jbvBinary)
		WrongType(key, type);
	c = v->val.binary.data;
	if (want_object ? !JsonContainerIsObject(c) : !JsonContainerIsArray(c))
		WrongType(key, type);
	return c;
}

/* An array member. */
JsonbContainer *
liveid_member_array(JsonbContainer *obj, const char *key)
{
	return ContainerMember(obj, key, false);
}

/* An object member. */
JsonbContainer *
liveid_member_object(JsonbContainer *obj, const char *key)
{
	return ContainerMember(obj, key, true);
}

/* The number of elements of an array (from liveid_member_array). */
int
liveid_array_length(JsonbContainer *arr)
{
	return (int) JsonContainerSize(arr);
}

/* Element i of an array, which must be an object; what names it. */
JsonbContainer *
liveid_element_object(JsonbContainer *arr, int i, const char *what)
{
	JsonbValue *v = getIthJsonbValueFromContainer(arr, (uint32) i);

	if (v == NULL || v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		ShapeError("The answer is not a JSON object (%s expected).", what);
	return v->val.binary.data;
}

/* Element i of an array, which must be a string, palloc'd; what names the array. */
char *
liveid_element_string(JsonbContainer *arr, int i, const char *what)
{
	JsonbValue *v = getIthJsonbValueFromContainer(arr, (uint32) i);

	if (v == NULL || v->type != jbvString)
		ShapeError("An element of %s is not a string.", what);
	return pnstrdup(v->val.string.val, v->val.string.len);
}

/* ----------------------------------------------------------------------
 * the error text of a failed answer: never raises
 * ----------------------------------------------------------------------
 */

/* the output of ErrorText: bounded, valid in the database encoding */
typedef struct TextOut
{
	char	   *buf;
	int			len;
	int			chars;
	int			cut_len;		/* len at the last point where "..." still fits */
	bool		full;
} TextOut;

/* Appends one piece of chars characters (bytes of n), unless it is full. */
static void
Put(TextOut *o, const char *piece, int n, int chars)
{
	if (o->full)
		return;
	if (o->chars + chars > ERROR_TEXT_CHARS)
	{
		/* too long: cut where "..." fits */
		memcpy(o->buf + o->cut_len, "...", 4);
		o->len = o->cut_len + 3;
		o->full = true;
		return;
	}
	memcpy(o->buf + o->len, piece, n);
	o->len += n;
	o->chars += chars;
	if (o->chars <= ERROR_TEXT_CHARS - 3)
		o->cut_len = o->len;
	o->buf[o->len] = '\0';
}

/* Appends a byte as \xNN (a control character or a byte that is not UTF-8). */
static void
PutHex(TextOut *o, unsigned char c)
{
	char		hex[5];

	snprintf(hex, sizeof(hex), "\\x%02x", c);
	Put(o, hex, 4, 4);
}

/*
 * Appends a code point in the database encoding; one it cannot represent
 * (or a surrogate) as \uXXXX text.  The conversion is asked not to raise.
 */
static void
PutCodePoint(TextOut *o, pg_wchar cp)
{
	static Oid	proc = InvalidOid;
	unsigned char utf8[8];
	unsigned char conv[8 * MAX_CONVERSION_GROWTH + 1];
	int			enc = GetDatabaseEncoding();
	int			n;

	if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0))
	{
		PutHex(o, (unsigned char) cp);
		return;
	}
	if (cp < 0x80)
	{
		char		c = (char) cp;

		Put(o, &c, 1, 1);
		return;
	}
	if (cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff))
	{
		unicode_to_utf8(cp, utf8);
		n = pg_utf_mblen(utf8);
		if (enc == PG_UTF8 || enc == PG_SQL_ASCII)
		{
			Put(o, (char *) utf8, n, 1);
			return;
		}
		/* the catalog lookup is made once: the database encoding never changes */
		if (!OidIsValid(proc))
			proc = FindDefaultConversionProc(PG_UTF8, enc);
		if (OidIsValid(proc) &&
			pg_do_encoding_conversion_buf(proc, PG_UTF8, enc, utf8, n, conv,
										  sizeof(conv), true) == n)
		{
			Put(o, (char *) conv, (int) strlen((char *) conv), 1);
			return;
		}
	}
	{
		char		esc[12];

		snprintf(esc, sizeof(esc), cp > 0xffff ? "\\U%08x" : "\\u%04x", cp);
		Put(o, esc, (int) strlen(esc), (int) strlen(esc));
	}
}

/* The 4 hex digits at s as a number, or -1. */
static int
Hex4(const char *s, const char *end)
{
	int			v = 0;

	if (end - s < 4)
		return -1;
	for (int i = 0; i < 4; i++)
	{
		char		c = s[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v |= (c | 0x20) - 'a' + 10;
		else
			return -1;
	}
	return v;
}

/* Decodes one escape at s (after the backslash) into o; returns its end. */
static const char *
PutEscape(TextOut *o, const char *s, const char *end)
{
	static const char simple[] = "b\bf\fn\nr\rt\t\"\"\\\\//";
	int			cp;

	for (int i = 0; s < end && simple[i]; i += 2)
		if (*s == simple[i])
		{
			PutCodePoint(o, (unsigned char) simple[i + 1]);
			return s + 1;
		}
	if (s >= end || *s != 'u' || (cp = Hex4(s + 1, end)) < 0)
	{
		/* not an escape: the backslash as it is */
		Put(o, "\\", 1, 1);
		return s;
	}
	s += 5;
	/* a surrogate pair makes one code point */
	if (cp >= 0xd800 && cp <= 0xdbff && end - s >= 6 && s[0] == '\\' && s[1] == 'u')
	{
		int			lo = Hex4(s + 2, end);

		if (lo >= 0xdc00 && lo <= 0xdfff)
		{
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			s += 6;
		}
	}
	PutCodePoint(o, (pg_wchar) cp);
	return s;
}

/* Decodes the raw JSON string s..end (no quotes) into o. */
static void
DecodeString(TextOut *o, const char *s, const char *end)
{
	while (s < end && !o->full)
	{
		unsigned char c = (unsigned char) *s;
		int			l;

		if (c == '\\')
			s = PutEscape(o, s + 1, end);
		else if (c < 0x80)
		{
			PutCodePoint(o, c);
			s++;
		}
		else if ((l = pg_utf_mblen((const unsigned char *) s)) <= end - s &&
				 pg_utf8_islegal((const unsigned char *) s, l))
		{
			PutCodePoint(o, utf8_to_unicode((const unsigned char *) s));
			s += l;
		}
		else
		{
			PutHex(o, c);
			s++;
		}
	}
}

/* Skips blanks. */
static const char *
SkipBlanks(const char *s, const char *end)
{
	while (s < end && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++;
	return s;
}

/* The end of the string whose opening quote is at s (end if unterminated). */
static const char *
StringEnd(const char *s, const char *end)
{
	for (s++; s < end && *s != '"'; s++)
		if (*s == '\\')
			s++;
	return Min(s, end);
}

/*
 * Skips one value at s, loosely: a string, a container (strings in it
 * respected) or a bare word; returns where it ends.
 */
static const char *
SkipValue(const char *s, const char *end)
{
	int			depth = 0;

	while (s < end)
	{
		char		c = *s;

		if (c == '"')
		{
			s = StringEnd(s, end);
			if (s < end)
				s++;
		}
		else if (c == '{' || c == '[')
			depth++, s++;
		else if (c == '}' || c == ']')
		{
			if (depth == 0)
				return s;
			depth--, s++;
		}
		else if (depth == 0 && strchr(", \t\r\n", c))
			return s;
		else
			s++;
		/* a string or a container just ended */
		if (depth == 0 && (c == '"' || c == '}' || c == ']'))
			return s;
	}
	return end;
}

/*
 * The service's own "error" string of a failed answer (the last top-level
 * member "error" that is a string), decoded, control characters as \xNN,
 * valid in the database encoding, at most ERROR_TEXT_CHARS characters with
 * "..." at the cut; NULL if there is none.  Never raises: a failure answer
 * may be anything, so it is scanned loosely and nothing past what was read
 * needs to be valid.
 */
char *
liveid_answer_error_text(const char *body, size_t len)
{
	const char *s = body,
			   *end = body + len;
	const char *found = NULL,
			   *found_end = NULL;
	TextOut		o = {0};

	s = SkipBlanks(s, end);
	if (s >= end || *s != '{')
		return NULL;
	for (s++;;)
	{
		const char *key;
		const char *key_end;

		s = SkipBlanks(s, end);
		if (s >= end || *s != '"')
			break;
		key = s + 1;
		key_end = StringEnd(s, end);
		if (key_end >= end)
			break;
		s = SkipBlanks(key_end + 1, end);
		if (s >= end || *s != ':')
			break;
		s = SkipBlanks(s + 1, end);
		if (key_end - key == 5 && memcmp(key, "error", 5) == 0)
		{
			/* the last one counts, as in jsonb */
			found = (s < end && *s == '"') ? s + 1 : NULL;
			found_end = found ? StringEnd(s, end) : NULL;
		}
		s = SkipBlanks(SkipValue(s, end), end);
		if (s >= end || *s != ',')
			break;
		s++;
	}
	if (found == NULL)
		return NULL;
	/* a character takes at most 12 bytes here (an escape) */
	o.buf = palloc_extended(ERROR_TEXT_CHARS * 12 + 8, MCXT_ALLOC_NO_OOM);
	if (o.buf == NULL)
		return NULL;
	o.buf[0] = '\0';
	DecodeString(&o, found, found_end);
	return o.buf;
}
