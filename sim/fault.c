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
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
