/*-------------------------------------------------------------------------
 *
 * util.c
 *		Time, randomness, encodings and small checks shared by the simulator.
 *
 *-------------------------------------------------------------------------
 */
#include "sim.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

/* The simulated wall clock: real time, or frozen by --clock. */
time_t
sim_now(void)
{
	if (sim_opts.clock_fixed)
		return sim_opts.clock;
	return time(NULL);
}

/* Real time with sub-second precision, for measuring durations. */
double
sim_now_precise(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Formats t as an ISO 8601 UTC date-time ("2026-11-24T10:30:00Z"). */
void
format_iso8601(time_t t, char *buf, size_t len)
{
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Parses digits [p, p+n) into *out; false unless all are digits. */
static bool
ParseDigits(const char *p, int n, int *out)
{
	int			v = 0;

	for (int i = 0; i < n; i++)
	{
		if (!isdigit((unsigned char) p[i]))
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return true;
}

/*
 * Parses an ISO 8601 date ("2026-11-24", midnight UTC) or date-time
 * ("2026-11-24T10:30:00[.fff](Z|+01:00|+0100)"; a space may replace the T;
 * no zone means UTC).
 */
bool
parse_iso8601(const char *s, time_t *out)
{
	struct tm	tm = {0};
	int			y, mo, d, h = 0, mi = 0, se = 0;
	long		offset = 0;
	const char *p = s;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (strlen(s) < 10 || !ParseDigits(p, 4, &y) || p[4] != '-' ||
		!ParseDigits(p + 5, 2, &mo) || p[7] != '-' || !ParseDigits(p + 8, 2, &d))
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
		return false;
	if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return false;
	p += 10;
	if (*p == 'T' || *p == ' ')
	{
		p++;
		if (!ParseDigits(p, 2, &h) || p[2] != ':' || !ParseDigits(p + 3, 2, &mi))
			return false;
		p += 5;
		if (*p == ':')
		{
			if (!ParseDigits(p + 1, 2, &se))
				return false;
			p += 3;
			if (*p == '.')
			{
				p++;
				if (!isdigit((unsigned char) *p))
					return false;
				while (isdigit((unsigned char) *p))
					p++;
			}
		}
		if (h > 23 || mi > 59 || se > 60)
			return false;
		if (*p == 'Z')
			p++;
		else if (*p == '+' || *p == '-')
		{
			int			oh, om;
			int			sign = (*p == '-') ? -1 : 1;

			p++;
			if (!ParseDigits(p, 2, &oh))
				return false;
			p += 2;
			if (*p == ':')
				p++;
			if (!ParseDigits(p, 2, &om))
				return false;
			p += 2;
			offset = sign * (oh * 3600L + om * 60L);
		}
	}
	if (*p != '\0')
		return false;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	*out = timegm(&tm) - offset;
	return true;
}

/* Fills buf with bytes from /dev/urandom (ids and tokens, not the traffic). */
void
random_bytes(void *buf, size_t len)
{
	static int	fd = -1;
	size_t		got = 0;

	if (fd < 0)
		fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	while (fd >= 0 && got < len)
	{
		ssize_t		n = read(fd, (char *) buf + got, len - got);

		if (n <= 0 && errno != EINTR)
			break;
		if (n > 0)
			got += n;
	}
	if (got < len)
	{
		fprintf(stderr, "liveid-sim: cannot read /dev/urandom\n");
		abort();
	}
}

/* A random (version 4) UUID in its canonical lowercase form. */
void
new_uuid(char out[37])
{
	unsigned char b[16];

	random_bytes(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(out, 37,
			 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
			 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7],
			 b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* True for the textual form 8-4-4-4-12 of hex digits (any case). */
bool
is_uuid(const char *s)
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

/* A plausible e-mail address: local@domain.tld, no spaces, one @. */
bool
is_email(const char *s)
{
	const char *at,
			   *dot;

	if (s == NULL || strlen(s) > 254)
		return false;
	at = strchr(s, '@');
	if (at == NULL || at == s || strchr(at + 1, '@') != NULL)
		return false;
	for (const char *p = s; *p; p++)
		if ((unsigned char) *p <= ' ' || *p == ',' || *p == ';' ||
			*p == '<' || *p == '>' || *p == '"' || *p == '(' || *p == ')' ||
			*p == '[' || *p == ']' || *p == '\\' || (unsigned char) *p == 0x7f)
			return false;
	dot = strrchr(at + 1, '.');
	if (dot == NULL || dot == at + 1 || dot[1] == '\0' || strstr(at, "..") != NULL)
		return false;
	return true;
}

/* Three non-empty base64url segments separated by dots. */
bool
is_jwt_shaped(const char *s)
{
	int			segments = 1,
				seglen = 0;

	if (s == NULL || *s == '\0')
		return false;
	for (const char *p = s; *p; p++)
	{
		if (*p == '.')
		{
			if (seglen == 0)
				return false;
			segments++;
			seglen = 0;
		}
		else if (isalnum((unsigned char) *p) || *p == '-' || *p == '_')
			seglen++;
		else
			return false;
	}
	return segments == 3 && seglen > 0;
}

/*
 * Splits an absolute http(s) URL's authority; host is copied to hostbuf
 * (brackets removed).  Returns false when the URL is not absolute http(s)
 * or has an empty or malformed host.
 */
static bool
SplitUrl(const char *url, bool *https, bool *userinfo, char *hostbuf, size_t hostlen)
{
	const char *p,
			   *end,
			   *at,
			   *h;
	size_t		n;

	if (url == NULL)
		return false;
	if (strncasecmp(url, "https://", 8) == 0)
	{
		*https = true;
		p = url + 8;
	}
	else if (strncasecmp(url, "http://", 7) == 0)
	{
		*https = false;
		p = url + 7;
	}
	else
		return false;
	for (const char *q = url; *q; q++)
		if ((unsigned char) *q <= ' ' || (unsigned char) *q == 0x7f || *q == '\\')
			return false;
	end = p + strcspn(p, "/?#");
	at = memchr(p, '@', end - p);
	*userinfo = (at != NULL);
	h = at ? at + 1 : p;
	if (*h == '[')
	{
		const char *close = memchr(h, ']', end - h);

		if (close == NULL)
			return false;
		n = close - h - 1;
		h++;
	}
	else
	{
		const char *colon = memchr(h, ':', end - h);

		n = (colon ? colon : end) - h;
		if (colon && colon + 1 < end)
		{
			for (const char *q = colon + 1; q < end; q++)
				if (!isdigit((unsigned char) *q))
					return false;
		}
	}
	if (n == 0 || n >= hostlen)
		return false;
	memcpy(hostbuf, h, n);
	hostbuf[n] = '\0';
	return true;
}

/* An absolute http or https URL with a host (https only if asked). */
bool
is_absolute_http_url(const char *s, bool https_only)
{
	bool		https,
				userinfo;
	char		host[256];

	if (!SplitUrl(s, &https, &userinfo, host, sizeof(host)))
		return false;
	return https || !https_only;
}

/* True when the URL's host is localhost, 127.0.0.0/8 or ::1. */
bool
url_host_is_loopback(const char *url)
{
	bool		https,
				userinfo;
	char		host[256];

	if (!SplitUrl(url, &https, &userinfo, host, sizeof(host)))
		return false;
	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0)
		return true;
	if (strncmp(host, "127.", 4) == 0)
	{
		int			dots = 0;

		for (const char *p = host; *p; p++)
		{
			if (*p == '.')
				dots++;
			else if (!isdigit((unsigned char) *p))
				return false;
		}
		return dots == 3;
	}
	return false;
}

/* Number of code points of a UTF-8 string; SIZE_MAX when it is not UTF-8. */
size_t
utf8_length(const char *s)
{
	const unsigned char *p = (const unsigned char *) s;
	size_t		n = 0;

	while (*p)
	{
		int			extra;
		unsigned int cp;

		if (*p < 0x80)
		{
			p++;
			n++;
			continue;
		}
		else if ((*p & 0xe0) == 0xc0)
		{
			extra = 1;
			cp = *p & 0x1f;
		}
		else if ((*p & 0xf0) == 0xe0)
		{
			extra = 2;
			cp = *p & 0x0f;
		}
		else if ((*p & 0xf8) == 0xf0)
		{
			extra = 3;
			cp = *p & 0x07;
		}
		else
			return SIZE_MAX;
		p++;
		for (int i = 0; i < extra; i++, p++)
		{
			if ((*p & 0xc0) != 0x80)
				return SIZE_MAX;
			cp = (cp << 6) | (*p & 0x3f);
		}
		if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) ||
			(extra == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
			(cp >= 0xd800 && cp <= 0xdfff))
			return SIZE_MAX;
		n++;
	}
	return n;
}

static const char b64std[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64url[] =
"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Value of a standard Base64 digit, or -1. */
static int
B64Value(char c)
{
	const char *p = (c != '\0') ? strchr(b64std, c) : NULL;

	return p ? (int) (p - b64std) : -1;
}

/*
 * Decodes strict standard Base64: length a multiple of 4, only the
 * alphabet, '=' padding only at the end, no whitespace, zero unused bits.
 */
char *
base64_decode(const char *in, size_t *outlen)
{
	size_t		len = strlen(in),
				pad = 0,
				o = 0;
	char	   *out;

	if (len % 4 != 0)
		return NULL;
	if (len >= 1 && in[len - 1] == '=')
		pad++;
	if (len >= 2 && in[len - 2] == '=')
		pad++;
	out = malloc(len / 4 * 3 + 1);
	if (out == NULL)
		return NULL;
	for (size_t i = 0; i < len; i += 4)
	{
		int			v[4];
		bool		last = (i + 4 == len);

		for (int k = 0; k < 4; k++)
		{
			if (last && in[i + k] == '=' && k >= 4 - (int) pad)
				v[k] = 0;
			else if ((v[k] = B64Value(in[i + k])) < 0)
			{
				free(out);
				return NULL;
			}
		}
		out[o++] = (char) ((v[0] << 2) | (v[1] >> 4));
		if (!(last && pad == 2))
			out[o++] = (char) (((v[1] & 0xf) << 4) | (v[2] >> 2));
		else if (v[1] & 0xf)
		{
			free(out);
			return NULL;
		}
		if (!(last && pad >= 1))
			out[o++] = (char) (((v[2] & 0x3) << 6) | v[3]);
		else if (pad == 1 && (v[2] & 0x3))
		{
			free(out);
			return NULL;
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* Encodes bytes as standard Base64 (padded) or base64url (unpadded). */
char *
base64_encode(const unsigned char *in, size_t len, bool url)
{
	const char *alpha = url ? b64url : b64std;
	char	   *out = malloc(len / 3 * 4 + 5);
	size_t		o = 0,
				i;

	if (out == NULL)
		abort();
	for (i = 0; i + 2 < len; i += 3)
	{
		out[o++] = alpha[in[i] >> 2];
		out[o++] = alpha[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
		out[o++] = alpha[((in[i + 1] & 0xf) << 2) | (in[i + 2] >> 6)];
		out[o++] = alpha[in[i + 2] & 0x3f];
	}
	if (i < len)
	{
		out[o++] = alpha[in[i] >> 2];
		if (i + 1 < len)
		{
			out[o++] = alpha[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
			out[o++] = alpha[(in[i + 1] & 0xf) << 2];
		}
		else
			out[o++] = alpha[(in[i] & 3) << 4];
		if (!url)
		{
			while (o % 4)
				out[o++] = '=';
		}
	}
	out[o] = '\0';
	return out;
}

/* Sleeps ms milliseconds in short slices, returning early on shutdown. */
void
sleep_ms_interruptible(long ms)
{
	while (ms > 0 && !sim_stopping)
	{
		long		slice = ms > 50 ? 50 : ms;
		struct timespec ts = {slice / 1000, (slice % 1000) * 1000000L};

		nanosleep(&ts, NULL);
		ms -= slice;
	}
}

/* strdup that aborts on exhaustion, and maps NULL to NULL. */
char *
sim_strdup(const char *s)
{
	char	   *r;

	if (s == NULL)
		return NULL;
	r = strdup(s);
	if (r == NULL)
		abort();
	return r;
}

/* Reads a whole file into a malloc'd NUL-terminated string, or NULL. */
char *
read_file(const char *path, size_t *len_out)
{
	FILE	   *f = fopen(path, "rb");
	char	   *buf = NULL;
	long		len;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 &&
		fseek(f, 0, SEEK_SET) == 0 && (buf = malloc(len + 1)) != NULL)
	{
		if (fread(buf, 1, len, f) == (size_t) len)
		{
			buf[len] = '\0';
			if (len_out)
				*len_out = (size_t) len;
		}
		else
		{
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

/* Adds an ISO 8601 date member, or null when t is 0. */
void
json_add_date(cJSON *obj, const char *key, time_t t)
{
	char		date[32];

	if (t == 0)
	{
		cJSON_AddNullToObject(obj, key);
		return;
	}
	format_iso8601(t, date, sizeof(date));
	cJSON_AddStringToObject(obj, key, date);
}

/* A string member of obj, or NULL when absent or of another type. */
const char *
json_str(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

/* Escapes text for HTML element content and attribute values. */
char *
html_escape(const char *s)
{
	size_t		n = 1;
	char	   *out,
			   *o;

	for (const char *p = s; *p; p++)
		n += (*p == '&') ? 5 : (*p == '<' || *p == '>') ? 4 : (*p == '"' || *p == '\'') ? 6 : 1;
	o = out = malloc(n);
	if (out == NULL)
		abort();
	for (const char *p = s; *p; p++)
	{
		switch (*p)
		{
			case '&':
				o = stpcpy(o, "&amp;");
				break;
			case '<':
				o = stpcpy(o, "&lt;");
				break;
			case '>':
				o = stpcpy(o, "&gt;");
				break;
			case '"':
				o = stpcpy(o, "&quot;");
				break;
			case '\'':
				o = stpcpy(o, "&#39;");
				break;
			default:
				*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

/* Percent-encodes everything but RFC 3986's unreserved characters. */
char *
url_encode(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char	   *out = malloc(strlen(s) * 3 + 1),
			   *o = out;

	if (out == NULL)
		abort();
	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~')
			*o++ = (char) *p;
		else
		{
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}
