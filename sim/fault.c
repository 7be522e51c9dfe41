/*-------------------------------------------------------------------------
 *
 * fault.c
 *		Organization codes and process ids that make the simulator misbehave.
 *
 * A test written in SQL alone can only choose what it names, so faults are
 * named: "FAULT-<KIND>[-<N>]" as an organization code, or the UUID
 * "00000000-fa17-4KKK-8000-NNNNNNNNNNNN" as a process id (KKK the kind's
 * number in hex, N decimal).  See README.md, "Faults".
 *
 *-------------------------------------------------------------------------
 */
#include "sim.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* the crafted answers of FAULT-ANSWER-<n>, see fault_answer() */
#define FAULT_ANSWERS 23

static const struct
{
	FaultKind	kind;
	const char *name;
	bool		needs_arg;
	long		default_arg;
}			fault_kinds[] =
{
	{FAULT_DELAY, "DELAY", true, 0},
	{FAULT_STATUS, "STATUS", true, 0},
	{FAULT_NOTJSON, "NOTJSON", false, 0},
	{FAULT_SHAPE, "SHAPE", false, 1},
	{FAULT_TRUNCATE, "TRUNCATE", false, 0},
	{FAULT_RESET, "RESET", false, 0},
	{FAULT_BIG, "BIG", false, 16L * 1024 * 1024},
	{FAULT_BIGCHUNKED, "BIGCHUNKED", false, 16L * 1024 * 1024},
	{FAULT_TRICKLE, "TRICKLE", true, 0},
	{FAULT_REDIRECT, "REDIRECT", false, 302},
	{FAULT_ZEROS, "ZEROS", false, 16L * 1024 * 1024},
	{FAULT_ANSWER, "ANSWER", true, 0},
	{FAULT_INTERIM, "INTERIM", false, 1},
	{FAULT_ECHO, "ECHO", false, 0},
};

#define NKINDS (sizeof(fault_kinds) / sizeof(fault_kinds[0]))

/* Index of a kind in fault_kinds. */
static int
KindIndex(FaultKind kind)
{
	for (size_t i = 0; i < NKINDS; i++)
		if (fault_kinds[i].kind == kind)
			return (int) i;
	return -1;
}

/* Checks an argument against its kind's range; fills in defaults. */
static bool
FinishFault(int idx, bool has_arg, long arg, Fault *out)
{
	FaultKind	kind = fault_kinds[idx].kind;

	if (!has_arg)
	{
		if (fault_kinds[idx].needs_arg)
			return false;
		arg = fault_kinds[idx].default_arg;
	}
	if (kind == FAULT_STATUS && (arg < 100 || arg > 599))
		return false;
	if (kind == FAULT_REDIRECT && (arg < 300 || arg > 399))
		return false;
	if (kind == FAULT_SHAPE && (arg < 1 || arg > 3))
		return false;
	if ((kind == FAULT_DELAY || kind == FAULT_TRICKLE) && arg > 600000)
		return false;
	if ((kind == FAULT_BIG || kind == FAULT_BIGCHUNKED) && (arg < 1 || arg > 1L << 30))
		return false;
	if (kind == FAULT_ZEROS && (arg < 3 || arg > 1L << 30))
		return false;
	if (kind == FAULT_ANSWER && (arg < 0 || arg >= FAULT_ANSWERS))
		return false;
	if (kind == FAULT_INTERIM && (arg < 1 || arg > 100))
		return false;
	out->kind = kind;
	out->arg = arg;
	return true;
}

/* Parses a decimal number of at most 12 digits; false if anything else. */
static bool
ParseNumber(const char *s, size_t n, long *out)
{
	long		v = 0;

	if (n == 0 || n > 12)
		return false;
	for (size_t i = 0; i < n; i++)
	{
		if (!isdigit((unsigned char) s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* Recognizes a fault-triggering organization code or process id. */
bool
fault_parse(const char *s, Fault *out)
{
	out->kind = FAULT_NONE;
	out->arg = 0;
	if (s == NULL)
		return false;

	if (strncmp(s, "FAULT-", 6) == 0)
	{
		const char *name = s + 6;
		const char *dash = strchr(name, '-');
		size_t		namelen = dash ? (size_t) (dash - name) : strlen(name);

		for (size_t i = 0; i < NKINDS; i++)
		{
			long		arg = 0;

			if (strlen(fault_kinds[i].name) != namelen ||
				strncmp(fault_kinds[i].name, name, namelen) != 0)
				continue;
			if (dash && !ParseNumber(dash + 1, strlen(dash + 1), &arg))
				return false;
			return FinishFault((int) i, dash != NULL, arg, out);
		}
		return false;
	}

	if (is_uuid(s) && strncasecmp(s, "00000000-fa17-4", 15) == 0 &&
		strncmp(s + 18, "-8000-", 6) == 0)
	{
		char		hex[4] = {s[15], s[16], s[17], 0};
		long		code = strtol(hex, NULL, 16);
		long		arg;
		int			idx;

		if (code < 1 || code > (long) NKINDS || !ParseNumber(s + 24, 12, &arg))
			return false;
		idx = KindIndex(fault_kinds[code - 1].kind);
		return FinishFault(idx, arg != 0, arg, out);
	}
	return false;
}

/* The kind's name, for the log. */
const char *
fault_name(FaultKind kind)
{
	int			idx = KindIndex(kind);

	return idx >= 0 ? fault_kinds[idx].name : "NONE";
}

/* A malloc'd copy of n bytes (which may hold NUL bytes). */
static char *
Bytes(const char *s, size_t n, size_t *len)
{
	char	   *b = malloc(n + 1);

	memcpy(b, s, n);
	b[n] = '\0';
	*len = n;
	return b;
}

#define LITERAL(s, len) Bytes(s, sizeof(s) - 1, len)

/* depth nested empty arrays: [[[...]]] */
static char *
Nested(int depth, size_t *len)
{
	char	   *b = malloc(2 * depth + 1);

	memset(b, '[', depth);
	memset(b + depth, ']', depth);
	b[2 * depth] = '\0';
	*len = 2 * depth;
	return b;
}

/*
 * A 400 whose "error" is about 2000 characters: JSON escapes of control
 * characters, non-ASCII text in and outside Latin-1.
 */
static char *
LongError(size_t *len)
{
	static const char head[] = "{\"success\":false,\"error\":\"";
	static const char tail[] = "\"}";
	size_t		cap = 8192,
				n = 0;
	char	   *b = malloc(cap);

	memcpy(b, head, sizeof(head) - 1);
	n = sizeof(head) - 1;
	/* 58 segments of 35 characters once decoded: 2030 */
	for (int i = 0; i < 58; i++)
		n += (size_t) snprintf(b + n, cap - n,
							   "line %02d:\\tbell \\u0007 esc \\u001b caf\xc3\xa9 \xe2\x82\xac end.\\r\\n", i);
	memcpy(b + n, tail, sizeof(tail));
	*len = n + sizeof(tail) - 1;
	return b;
}

/*
 * About 7.9 MB of JSON in one of the shapes liveid's memory bound is
 * measured on: 19 {"b":[0,...],"a":[0,...]} (two halves, keys out of
 * order), 20 ["ab","ab",...], 21 a flat object of distinct keys in
 * descending order {"k0658333":0,...}.
 */
static char *
Big(long shape, size_t *len)
{
	const size_t target = 7900000;
	char	   *b = malloc(target + 64);
	size_t		n = 0;

	if (shape == 19)
	{
		n += (size_t) sprintf(b, "{\"b\":[0");
		while (n < target / 2)
			n += (size_t) sprintf(b + n, ",0");
		n += (size_t) sprintf(b + n, "],\"a\":[0");
		while (n < target - 2)
			n += (size_t) sprintf(b + n, ",0");
		n += (size_t) sprintf(b + n, "]}");
	}
	else if (shape == 20)
	{
		n += (size_t) sprintf(b, "[\"ab\"");
		while (n < target - 1)
			n += (size_t) sprintf(b + n, ",\"ab\"");
		n += (size_t) sprintf(b + n, "]");
	}
	else
	{
		long		k = (long) (target / 12);

		n += (size_t) sprintf(b, "{\"k%07ld\":0", k--);
		while (n < target - 1)
			n += (size_t) sprintf(b + n, ",\"k%07ld\":0", k--);
		n += (size_t) sprintf(b + n, "}");
	}
	*len = n;
	return b;
}

/* FAULT-ANSWER-0: the request's "answer" member, sent as it is. */
static char *
Echo(const char *req_body, size_t req_len, int *status, size_t *len)
{
	cJSON	   *req = (req_body && strlen(req_body) == req_len) ? cJSON_Parse(req_body) : NULL;
	const char *answer = json_str(req, "answer");
	char	   *b;

	if (answer == NULL)
	{
		static const char e[] = "{\"success\":false,\"error\":\"FAULT-ANSWER-0 needs a string member answer\"}";

		*status = 400;
		b = LITERAL(e, len);
	}
	else
		b = Bytes(answer, strlen(answer), len);
	cJSON_Delete(req);
	return b;
}

/* The crafted answer number n of FAULT-ANSWER-<n>; see README.md. */
char *
fault_answer(long n, const char *req_body, size_t req_len, int *status, size_t *len)
{
	*status = 200;
	switch (n)
	{
		case 0:
			return Echo(req_body, req_len, status, len);
		case 1:
			return LITERAL("{\"success\":true,\"text\":\"bad \xc3\x28 byte\"}", len);
		case 2:
			return LITERAL("{\"success\":true,\"text\":\"nul \0 byte\"}", len);
		case 3:
			return LITERAL("{\"success\":true,\"text\":\"cut\\u0000here\"}", len);
		case 4:
			return LITERAL("{\"a\":0.1,\"b\":9007199254740993,\"c\":-1.5e300,\"d\":1e-400,"
						   "\"e\":123456789012345678901234567890.000000000000000000001,"
						   "\"f\":-0,\"g\":1E+2,\"h\":0.10}", len);
		case 5:
			return LITERAL("{\"latin\":\"caff\xc3\xa8 cr\xc3\xa8me\",\"escaped\":\"caf\\u00e9 \\u00E8\","
						   "\"raw\":\"\xe2\x82\xac \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80\","
						   "\"pair\":\"\\ud83d\\ude00\",\"euro\":\"\\u20ac\"}", len);
		case 6:
			return Nested(1001, len);
		case 7:
			return LITERAL("{\"success\":true} []", len);
		case 8:
			return LITERAL("{\"success\":true,\"text\":\"lone \\ud800 surrogate\"}", len);
		case 9:
			*status = 400;
			return LongError(len);
		case 10:
			return LITERAL("{\"latin\":\"caff\xc3\xa8 cr\xc3\xa8me \xc2\xbd\",\"escaped\":\"caf\\u00e9 \\u00bd\"}", len);
		case 11:
			return LITERAL("{\"success\":true,\"euro\":\"5 \\u20ac\"}", len);
		case 12:
			return Nested(1000, len);
		case 13:
			return LITERAL("{\"success\":true,}", len);
		case 14:
			return LITERAL("{\"success\":true,\"n\":\x01}", len);
		case 15:
			return LITERAL("{\"success\":true,\"n\":1e140000}", len);
		case 16:
			*status = 400;
			return LITERAL("{\"success\":false,\"error\":\"raw \x01\x02 ctl, bad \xff byte, "
						   "nul \\u0000 escape, caf\xc3\xa9 \\ud83d\\ude00 end", len);
		case 17:
			return LITERAL("{\"success\":true,\"availableOperators\":7.0,"
						   "\"languages\":[\"it\",\"caf\\u00e8\",\"\xe6\x97\xa5\"],"
						   "\"lastWeek\":[{\"date\":\"2026-11-17\",\"averageWaitingSeconds\":0.1,\"calls\":2e0}],"
						   "\"last60Minutes\":{\"averageWaitingSeconds\":12.5,\"calls\":1}}", len);
		case 18:
			return LITERAL("{\"success\":true,\"availableOperators\":2147483648,"
						   "\"languages\":[\"it\",null],"
						   "\"lastWeek\":[{\"date\":\"2026-11-17\",\"averageWaitingSeconds\":1e400,\"calls\":2}],"
						   "\"last60Minutes\":{\"averageWaitingSeconds\":1,\"calls\":1}}", len);
		case 19:
		case 20:
		case 21:
			return Big(n, len);
		case 22:
			return LITERAL("{\"success\":true,\"token\":\"not a jwt\",\"end_pattern\":\"X\","
						   "\"data\":{},\"audit\":[{\"event\":\"x\"},1]}", len);
	}
	return NULL;
}
