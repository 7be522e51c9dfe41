/*-------------------------------------------------------------------------
 *
 * result.c
 *		liveid.parse_result(): the LiveIDPlusResult redirect parameter,
 *		decoded and checked.
 *
 * With a redirectUrl, LiveID+ sends the customer's browser back to the
 * integrator's page with the event as JSON in the parameter
 * LiveIDPlusResult (liveid-api.md, "Outbound"), in the query string
 * (redirectMethod GET) or in an application/x-www-form-urlencoded form
 * body (POST).  What reaches the application is one of three forms, told
 * apart by how the text starts (after white space):
 *
 *	"%"           the parameter's value, still URL-encoded (%XX escapes of
 *				  UTF-8 bytes, "+" a space, as in a form body);
 *	"{" "[" ...   the value already decoded: raw JSON text;
 *	anything else a whole query string (a leading "?" allowed) or form body,
 *				  in which the parameter must appear exactly once.
 *
 * The result passes through the customer's browser: it is the customer's
 * word, not the service's.  So parse_result records nothing and proves
 * nothing; an application confirms an outcome with async_request_info()
 * before acting on it.  And because it would otherwise land in the
 * application's own tables, the two secrets it may carry are removed from
 * what is returned: the ConferenceToken (message.token) and the per-call
 * callback secret (otherParams.liveid_token).
 *
 * Everything in it is untrusted.  The text is bounded (MAX_RESULT_BYTES),
 * percent-decoding is strict, the decoded bytes must be UTF-8 without a NUL
 * and are converted to the database encoding (a character it lacks keeps
 * PostgreSQL's own error, 22P05), and the JSON is checked with PostgreSQL's
 * own parser before jsonb_writer.c writes it: nesting is bounded by
 * LIVEID_ANSWER_MAX_DEPTH and every number must fit numeric, so the writer
 * cannot fail afterwards.  Every refusal is 22P02 naming what is wrong; a
 * DETAIL gives a position, never the text there (it may hold a token),
 * except for a short excerpt of an unknown event name.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "access/detoast.h"
#include "catalog/pg_type.h"
#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"

#define RESULT_PARAM "LiveIDPlusResult"
#define MAX_RESULT_BYTES (1024 * 1024)	/* of the text given */
#define EVENT_EXCERPT_CHARS 40

/* the events of liveid-api.md, "Outbound" */
static const char *const result_events[] = {
	"close", "error", "WEBRTCTEST_OK", "WEBRTCTEST_KO",
	"WEBRTCTEST_CALLANSWERED", "WEBRTCTEST_CALLNOTANSWERED",
	"WEBRTCTEST_CALLCANCELLED", "status_call"
};

/* What a member documented with a type must be. */
typedef enum MemberRule
{
	MR_BOOLEAN,
	MR_STRING,
	MR_OBJECT,
	MR_CLOSE_STATUS				/* one of N S A K */
} MemberRule;

/*
 * The members whose type liveid-api.md gives: of the envelope when inner is
 * false, else of its "message" object; event NULL for every event.
 */
typedef struct MemberCheck
{
	const char *event;
	bool		inner;
	const char *member;
	MemberRule	rule;
	bool		required;
} MemberCheck;

static const MemberCheck member_checks[] = {
	{"close", false, "message", MR_OBJECT, true},
	{"error", false, "message", MR_OBJECT, true},
	{"WEBRTCTEST_CALLNOTANSWERED", false, "retry", MR_BOOLEAN, false},
	{NULL, false, "closeStatus", MR_CLOSE_STATUS, false},
	{NULL, false, "otherParams", MR_OBJECT, false},
	{NULL, true, "closeStatus", MR_CLOSE_STATUS, false},
	{NULL, true, "self", MR_BOOLEAN, false},
	{NULL, true, "abortCode", MR_STRING, false},
};

/* state of the JSON check: nesting depth */
typedef struct JsonCheck
{
	JsonLexContext *lex;
	char	   *text;
	int			depth;
} JsonCheck;

/* Raises the 22P02 error of a result that is not one. */
static void
pg_attribute_noreturn()
ResultError(const char *what, const char *detail, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
			 errmsg("invalid LiveIDPlusResult: %s", what),
			 detail ? errdetail_internal("%s", detail) : 0,
			 hint ? errhint("%s", hint) : 0));
}

/* The value of a hexadecimal digit, or -1. */
static int
HexDigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The bytes of a URL-encoded value (len bytes at s), NUL-terminated: %XX
 * decoded, "+" a space.  A "%" without two hexadecimal digits, and a %00,
 * are refused with their byte position.
 */
static char *
PercentDecode(const char *s, int len, int *outlen)
{
	StringInfoData b;

	initStringInfo(&b);
	for (int i = 0; i < len; i++)
	{
		int			hi,
					lo;

		if (s[i] != '%')
		{
			appendStringInfoChar(&b, s[i] == '+' ? ' ' : s[i]);
			continue;
		}
		hi = (i + 1 < len) ? HexDigit(s[i + 1]) : -1;
		lo = (hi >= 0 && i + 2 < len) ? HexDigit(s[i + 2]) : -1;
		if (lo < 0)
			ResultError("bad percent-encoding",
						psprintf("At byte %d, \"%%\" is not followed by two hexadecimal digits.",
								 i + 1),
						"Pass the value as the browser sent it, or decoded.");
		if (hi == 0 && lo == 0)
			ResultError("it holds a NUL byte",
						psprintf("At byte %d, %%00 decodes to a NUL byte, which text cannot hold.",
								 i + 1),
						NULL);
		appendStringInfoChar(&b, (char) (hi * 16 + lo));
		i += 2;
	}
	*outlen = b.len;
	return b.data;
}

/*
 * Decoded bytes (UTF-8, as browsers encode) in the database encoding; a
 * character the database lacks keeps PostgreSQL's own error (22P05).
 */
static char *
DecodedToServer(char *bytes, int len)
{
	int			ok = pg_encoding_verifymbstr(PG_UTF8, bytes, len);

	if (ok < len)
	{
		StringInfoData hex;
		int			n = Min(pg_utf_mblen((const unsigned char *) bytes + ok), len - ok);

		initStringInfo(&hex);
		for (int i = 0; i < n; i++)
			appendStringInfo(&hex, "%s0x%02x", i ? " " : "", (unsigned char) bytes[ok + i]);
		ResultError("not valid UTF-8 after decoding",
					psprintf("At byte %d of the decoded value: the byte sequence %s is not UTF-8.",
							 ok + 1, hex.data),
					"A URL-encoded LiveIDPlusResult carries UTF-8 bytes as %XX escapes.");
	}
	/* a converted copy is NUL-terminated, as bytes is */
	return pg_any_to_server(bytes, len, PG_UTF8);
}

/*
 * The still-encoded value of the parameter in a query string or form body
 * (len bytes at s); 22P02 when it is missing or given more than once.
 */
static const char *
FindParameter(const char *s, int len, int *vlen)
{
	const char *end = s + len;
	const char *found = NULL;
	const int	plen = strlen(RESULT_PARAM);

	if (s < end && *s == '?')
		s++;
	for (;;)
	{
		const char *amp = memchr(s, '&', end - s);
		const char *pair_end = amp ? amp : end;
		const char *eq = memchr(s, '=', pair_end - s);
		const char *name_end = eq ? eq : pair_end;

		if (name_end - s == plen && memcmp(s, RESULT_PARAM, plen) == 0)
		{
			if (found)
				ResultError("the parameter " RESULT_PARAM " is given twice",
							"A query string or form body must hold it once.", NULL);
			found = eq ? eq + 1 : pair_end;
			*vlen = (int) (pair_end - found);
		}
		if (amp == NULL)
			break;
		s = amp + 1;
	}
	if (found == NULL)
		ResultError("the parameter " RESULT_PARAM " is missing",
					"The text is neither a JSON value, nor a URL-encoded one, nor a query string or form body with that parameter.",
					"Pass the parameter's value, or the query string (what follows \"?\" in the URL) or form body that holds it.");
	return found;
}

/* JSON text, in the database encoding, of the result in whatever form it came. */
static char *
ResultText(const char *s, int len)
{
	int			n;
	char	   *bytes;

	while (len > 0 && isspace((unsigned char) *s))
		s++, len--;
	while (len > 0 && isspace((unsigned char) s[len - 1]))
		len--;
	if (len == 0)
		ResultError("it is empty", NULL,
					"Pass the parameter's value, or the query string or form body that holds it.");
	if (strchr("{[\"-0123456789", *s))
		return pnstrdup(s, len);	/* already decoded, in the database encoding */
	if (*s != '%')
		s = FindParameter(s, len, &len);
	bytes = PercentDecode(s, len, &n);
	if (n == 0)
		ResultError("it is empty", "The parameter " RESULT_PARAM " has no value.", NULL);
	return DecodedToServer(bytes, n);
}

/* The 1-based character position of the current token. */
static int
TokenPosition(JsonCheck *c)
{
	char	   *at = c->lex->token_start ? c->lex->token_start : c->text;

	return pg_mbstrlen_with_len(c->text, (int) (at - c->text)) + 1;
}

/* Counts one more level of nesting; refuses one too many. */
static void
CheckBegin(void *state)
{
	JsonCheck  *c = state;

	if (++c->depth > LIVEID_ANSWER_MAX_DEPTH)
		ResultError("it is nested too deeply",
					psprintf("At character %d, more than %d arrays and objects are nested.",
							 TokenPosition(c), LIVEID_ANSWER_MAX_DEPTH),
					NULL);
}

/* Leaves one level of nesting. */
static void
CheckEnd(void *state)
{
	((JsonCheck *) state)->depth--;
}

/*
 * Refuses a number numeric cannot hold (as jsonb_in would, but 22P02):
 * numeric_in's range error is caught and raised again as ours, as
 * jsonb_writer.c does; any other error is left as it is.
 */
static void
CheckScalar(void *state, char *token, JsonTokenType tokentype)
{
	MemoryContext cxt = CurrentMemoryContext;
	int			pos;

	if (tokentype != JSON_TOKEN_NUMBER)
		return;
	pos = TokenPosition((JsonCheck *) state);
	PG_TRY();
	{
		(void) DirectFunctionCall3(numeric_in, CStringGetDatum(token),
								   ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1));
	}
	PG_CATCH();
	{
		ErrorData  *ed;

		MemoryContextSwitchTo(cxt);
		ed = CopyErrorData();
		if (ed->sqlerrcode != ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE)
			PG_RE_THROW();
		FlushErrorState();
		ResultError("it has a number out of range",
					psprintf("At character %d, a number does not fit type numeric.", pos),
					NULL);
	}
	PG_END_TRY();
}

/* What a JSON parser error means, for DETAIL. */
static const char *
JsonProblem(JsonParseErrorType err)
{
	switch (err)
	{
		case JSON_ESCAPING_INVALID:
			return "an invalid escape in a string";
		case JSON_ESCAPING_REQUIRED:
			return "a control character not escaped in a string";
		case JSON_UNICODE_ESCAPE_FORMAT:
			return "a \\u escape without four hexadecimal digits";
		case JSON_UNICODE_HIGH_SURROGATE:
		case JSON_UNICODE_LOW_SURROGATE:
			return "a \\u escape of an unpaired UTF-16 surrogate";
		case JSON_UNICODE_HIGH_ESCAPE:
			return "a \\u escape the database encoding cannot represent";
		case JSON_EXPECTED_END:
			return "text after the JSON value";
		case JSON_EXPECTED_MORE:
			return "the text ends before the JSON value does";
		default:
			return "a token that is not valid here";
	}
}

/* The jsonb of JSON text, checked first (see the file header). */
static Jsonb *
ParseJson(char *text)
{
	JsonCheck	c = {0};
	JsonSemAction sem = {0};
	JsonParseErrorType err;
	int			len = strlen(text);

	c.text = text;
	c.lex = makeJsonLexContextCstringLen(text, len, GetDatabaseEncoding(), true);
	sem.semstate = &c;
	sem.object_start = sem.array_start = CheckBegin;
	sem.object_end = sem.array_end = CheckEnd;
	sem.scalar = CheckScalar;
	err = pg_parse_json(c.lex, &sem);
	if (err == JSON_UNICODE_CODE_POINT_ZERO)
		ResultError("it holds a NUL character",
					psprintf("At character %d, a string holds the escape \\u0000, which text cannot hold.",
							 TokenPosition(&c)),
					NULL);
	if (err != JSON_SUCCESS)
		ResultError("it is not JSON",
					psprintf("At character %d: %s.", TokenPosition(&c), JsonProblem(err)),
					"Pass the value of the parameter " RESULT_PARAM " as the browser delivered it.");
	return liveid_jsonb_from_text(text, len);
}

/* A member of an object, or NULL. */
static JsonbValue *
Member(JsonbContainer *obj, const char *key, JsonbValue *v)
{
	return getKeyJsonValueFromContainer(obj, key, strlen(key), v);
}

/* True when v is a JSON object. */
static bool
IsObject(const JsonbValue *v)
{
	return v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
}

/* True when v satisfies rule. */
static bool
Satisfies(const JsonbValue *v, MemberRule rule)
{
	switch (rule)
	{
		case MR_BOOLEAN:
			return v->type == jbvBool;
		case MR_STRING:
			return v->type == jbvString;
		case MR_OBJECT:
			return IsObject(v);
		case MR_CLOSE_STATUS:
			return v->type == jbvString && v->val.string.len == 1 &&
				strchr("NSAK", v->val.string.val[0]) != NULL;
	}
	return false;
}

/* The event of the envelope, checked; 22P02 when absent or unknown. */
static char *
ResultEvent(JsonbContainer *root)
{
	JsonbValue	v;
	char	   *event;

	if (!JsonContainerIsObject(root))
		ResultError("it is not a JSON object",
					JsonContainerIsScalar(root) ? "It is a JSON scalar." : "It is a JSON array.",
					NULL);
	if (Member(root, "event", &v) == NULL || v.type != jbvString)
		ResultError("it has no event",
					"The object has no string member \"event\".", NULL);
	event = pnstrdup(v.val.string.val, v.val.string.len);
	for (int i = 0; i < lengthof(result_events); i++)
		if (strcmp(event, result_events[i]) == 0)
			return event;
	if (pg_mbstrlen(event) > EVENT_EXCERPT_CHARS)
		event = psprintf("%s...", pnstrdup(event, pg_mbcharcliplen(event, strlen(event),
																   EVENT_EXCERPT_CHARS)));
	ResultError(psprintf("unknown event \"%s\"", event),
				"LiveID+ documents the events close, error, WEBRTCTEST_OK, WEBRTCTEST_KO, "
				"WEBRTCTEST_CALLANSWERED, WEBRTCTEST_CALLNOTANSWERED, WEBRTCTEST_CALLCANCELLED and status_call.",
				NULL);
}

/* Checks the members liveid-api.md gives a type (member_checks). */
static void
CheckMembers(JsonbContainer *root, const char *event)
{
	static const char *const wants[] = {"a boolean", "a string", "an object",
	"one of N, S, A, K"};
	JsonbValue	message,
				v;
	bool		has_message = Member(root, "message", &message) && IsObject(&message);

	for (int i = 0; i < lengthof(member_checks); i++)
	{
		const MemberCheck *mc = &member_checks[i];
		JsonbContainer *obj = mc->inner ? message.val.binary.data : root;
		const char *name = mc->inner ? psprintf("message.%s", mc->member) : mc->member;

		if ((mc->event && strcmp(mc->event, event) != 0) || (mc->inner && !has_message))
			continue;
		if (Member(obj, mc->member, &v) == NULL)
		{
			if (mc->required)
				ResultError(psprintf("member \"%s\" is missing", name),
							psprintf("A %s event has %s \"%s\".", event,
									 wants[mc->rule], mc->member),
							NULL);
			continue;
		}
		if (!Satisfies(&v, mc->rule))
			ResultError(psprintf("member \"%s\" is not %s", name, wants[mc->rule]),
						NULL, NULL);
	}
}

/* The result without the member key of its object member outer, if both are there. */
static Jsonb *
WithoutSecret(Jsonb *result, const char *outer, const char *key)
{
	JsonbValue	v,
				inner;
	Datum		path[2];

	if (Member(&result->root, outer, &v) == NULL || !IsObject(&v) ||
		Member(v.val.binary.data, key, &inner) == NULL)
		return result;
	path[0] = CStringGetTextDatum(outer);
	path[1] = CStringGetTextDatum(key);
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_delete_path, JsonbPGetDatum(result),
											  PointerGetDatum(construct_array(path, 2, TEXTOID, -1,
																			  false, TYPALIGN_INT))));
}

PG_FUNCTION_INFO_V1(liveid_parse_result);

/*
 * liveid.parse_result(result): the event a LiveIDPlusResult carries, as
 * jsonb, without its secrets (see the file header).  Records nothing.
 */
Datum
liveid_parse_result(PG_FUNCTION_ARGS)
{
	Size		size = toast_raw_datum_size(PG_GETARG_DATUM(0)) - VARHDRSZ;
	text	   *arg;
	Jsonb	   *result;
	char	   *event;

	/* refused before it is detoasted */
	if (size > MAX_RESULT_BYTES)
		ResultError("it is too large",
					psprintf("It is %zu bytes long; at most %d are accepted.",
							 size, MAX_RESULT_BYTES),
					NULL);
	arg = PG_GETARG_TEXT_PP(0);
	result = ParseJson(ResultText(VARDATA_ANY(arg), VARSIZE_ANY_EXHDR(arg)));
	event = ResultEvent(&result->root);
	CheckMembers(&result->root, event);
	result = WithoutSecret(result, "message", "token");
	result = WithoutSecret(result, "otherParams", "liveid_token");
	PG_RETURN_JSONB_P(result);
}
