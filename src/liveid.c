/*-------------------------------------------------------------------------
 *
 * liveid.c
 *		Module magic, _PG_init and the liveid.* settings.
 *
 * The API key is a secret: it must not be readable by anyone through SHOW,
 * current_setting(), pg_settings (including its reset_val column, which
 * bypasses show hooks) or an error message.  So the setting never holds
 * the key itself: its check hook moves each new key into a private stash
 * and stores an opaque handle in its place ("\001liveid-key:N"); the
 * assign hook resolves the handle, and the show hook masks it.  RESET,
 * SET LOCAL and transaction rollback restore handles, which stay valid
 * for the life of the backend.  A key set in ALTER ROLE/DATABASE or a
 * function's SET clause is refused: those catalogs are readable by all.
 * The key file, liveid.api_key_file, is keys.c's.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/memutils.h"

PG_MODULE_MAGIC;

char	   *liveid_url = NULL;
char	   *liveid_organization = NULL;
char	   *liveid_process = NULL;
int			liveid_connect_timeout = 2000;
int			liveid_timeout = 10000;
char	   *liveid_ca_file = NULL;
char	   *liveid_proxy = NULL;
int			liveid_max_response_size = 8 * 1024 * 1024;
char	   *liveid_api_key_file = NULL;
char	   *liveid_callback_url = NULL;
int			liveid_max_concurrency = 16;
int			liveid_metrics_retention = 30 * 24 * 3600;	/* s */
char	   *liveid_worker_database = NULL;
int			liveid_outbox_max_attempts = 10;
int			liveid_outbox_retry_delay = 1000;	/* ms */

static char *api_key_handle = NULL;	/* the GUC's own variable */
static const char *api_key_current = "";

#define KEY_HANDLE_PREFIX "\001liveid-key:"

/* the stash of keys ever set in this backend; handles index it */
static char **key_stash = NULL;
static int	key_stash_len = 0;
static int	key_stash_cap = 0;

void		_PG_init(void);

/* The API key in force (empty when none): for http.c only. */
const char *
liveid_api_key(void)
{
	return api_key_current;
}

/* malloc'd copy of s, as GUC string values are on PostgreSQL 15. */
static char *
GucStrdup(const char *s)
{
#if PG_VERSION_NUM >= 160000
	return guc_strdup(LOG, s);
#else
	return strdup(s);
#endif
}

/* Frees a GUC string value. */
static void
GucFree(void *p)
{
#if PG_VERSION_NUM >= 160000
	guc_free(p);
#else
	free(p);
#endif
}

/* The stash index of a key, adding it if new; -1 when out of memory. */
static int
StashKey(const char *key)
{
	char	   *copy;

	for (int i = 0; i < key_stash_len; i++)
		if (strcmp(key_stash[i], key) == 0)
			return i;
	if (key_stash_len == key_stash_cap)
	{
		int			newcap = key_stash_cap ? key_stash_cap * 2 : 4;
		char	  **grown = MemoryContextAllocExtended(TopMemoryContext,
													   newcap * sizeof(char *),
													   MCXT_ALLOC_NO_OOM);

		if (grown == NULL)
			return -1;
		if (key_stash_len > 0)
			memcpy(grown, key_stash, key_stash_len * sizeof(char *));
		key_stash = grown;
		key_stash_cap = newcap;
	}
	copy = MemoryContextAllocExtended(TopMemoryContext, strlen(key) + 1,
									  MCXT_ALLOC_NO_OOM);
	if (copy == NULL)
		return -1;
	strcpy(copy, key);
	key_stash[key_stash_len] = copy;
	return key_stash_len++;
}

/* The stash index a handle names, or -1 when it is not a handle. */
static int
HandleIndex(const char *value)
{
	size_t		plen = strlen(KEY_HANDLE_PREFIX);
	char	   *end;
	long		i;

	if (value == NULL || strncmp(value, KEY_HANDLE_PREFIX, plen) != 0)
		return -1;
	i = strtol(value + plen, &end, 10);
	if (*end != '\0' || i < 0 || i >= key_stash_len)
		return -1;
	return (int) i;
}

/* check hook of liveid.api_key: swaps the key for a handle. */
static bool
CheckApiKey(char **newval, void **extra, GucSource source)
{
	char		handle[64];
	int			idx;

	/*
	 * ALTER ROLE/DATABASE ... SET and a function's SET clause validate with
	 * PGC_S_TEST and then store the value in catalogs every role reads:
	 * refuse those, with a message of our own that never holds the value.
	 */
	if (source == PGC_S_TEST)
	{
		GUC_check_errmsg("liveid.api_key cannot be stored in ALTER ROLE, ALTER DATABASE or a function's SET clause");
		GUC_check_errdetail("Those settings are kept in catalogs that every role can read.");
		GUC_check_errhint("Put the key in the file that liveid.api_key_file names, or in the server's configuration file.");
		return false;
	}

	/*
	 * Never fail on the value itself: PostgreSQL would print it in the
	 * error.  A key that cannot be sent is refused by http.c instead.
	 */
	if (*newval == NULL || **newval == '\0' || HandleIndex(*newval) >= 0)
		return true;
	idx = StashKey(*newval);
	if (idx < 0)
	{
		GUC_check_errcode(ERRCODE_OUT_OF_MEMORY);
		return false;
	}
	snprintf(handle, sizeof(handle), "%s%d", KEY_HANDLE_PREFIX, idx);
	GucFree(*newval);
	*newval = GucStrdup(handle);
	return *newval != NULL;
}

/* assign hook of liveid.api_key: resolves the handle. */
static void
AssignApiKey(const char *newval, void *extra)
{
	int			idx = HandleIndex(newval);

	api_key_current = idx >= 0 ? key_stash[idx] : "";
}

/* show hook of liveid.api_key: never the key, only whether one is set. */
static const char *
ShowApiKey(void)
{
	return (api_key_current && *api_key_current) ? "********" : "";
}

/*
 * The host part of an http(s) URL setting (after the scheme), or NULL with
 * the GUC error detail set when v does not start with one of the schemes.
 */
static const char *
UrlHost(const char *v, const char *setting, const char *expected)
{
	if (strncmp(v, "https://", 8) == 0)
		return v + 8;
	if (strncmp(v, "http://", 7) == 0)
		return v + 7;
	GUC_check_errdetail("%s must %s.", setting, expected);
	return NULL;
}

/* check hook of liveid.url: an absolute http(s) URL, nothing after the path. */
static bool
CheckUrl(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;
	const char *host;
	size_t		hostlen;

	if (v == NULL)
		return true;
	host = UrlHost(v, "liveid.url", "start with https:// or http://");
	if (host == NULL)
		return false;
	hostlen = strcspn(host, "/");
	if (hostlen == 0)
	{
		GUC_check_errdetail("liveid.url has no host.");
		return false;
	}
	for (const char *p = v; *p; p++)
		if ((unsigned char) *p <= ' ' || *p == 0x7f || *p == '\\' ||
			*p == '?' || *p == '#' || *p == '"' || *p == '<' || *p == '>')
		{
			GUC_check_errdetail("liveid.url must be a plain base URL: no spaces, query, fragment or backslash.");
			return false;
		}
	if (memchr(host, '@', hostlen) != NULL)
	{
		GUC_check_errdetail("liveid.url must not carry credentials; the API key goes in liveid.api_key.");
		return false;
	}
	return true;
}

/*
 * check hook of liveid.callback_url: empty, or an absolute https URL with a
 * host and no credentials (LiveID+ posts only to https endpoints).
 */
static bool
CheckCallbackUrl(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;
	const char *host;
	size_t		hostlen;

	if (v == NULL || *v == '\0')
		return true;
	if (strncmp(v, "https://", 8) != 0)
	{
		GUC_check_errdetail("liveid.callback_url must be empty or start with https://.");
		return false;
	}
	host = v + 8;
	hostlen = strcspn(host, "/?#");
	for (const char *p = v; *p; p++)
		if ((unsigned char) *p <= ' ' || *p == 0x7f || *p == '\\' || *p == '"' ||
			*p == '<' || *p == '>')
		{
			GUC_check_errdetail("liveid.callback_url must not contain spaces, quotes or backslashes.");
			return false;
		}
	if (hostlen == 0 || memchr(host, '@', hostlen) != NULL)
	{
		GUC_check_errdetail("liveid.callback_url must name a host, without credentials.");
		return false;
	}
	return true;
}

/*
 * check hook of liveid.proxy: empty (no proxy), or http(s)://host[:port]
 * with nothing else: no credentials, path, query or fragment.
 */
static bool
CheckProxy(char **newval, void **extra, GucSource source)
{
	const char *v = *newval;
	const char *host;
	size_t		hostlen;
	bool		ok = true;

	if (v == NULL || *v == '\0')
		return true;
	host = UrlHost(v, "liveid.proxy", "be empty or start with http:// or https://");
	if (host == NULL)
		return false;
	hostlen = strcspn(host, "/");
	if (memchr(host, '@', strlen(host)) != NULL)
	{
		/* a message of our own: the default one would show the password */
		GUC_check_errmsg("invalid value for parameter \"liveid.proxy\"");
		GUC_check_errdetail("liveid.proxy must not carry credentials.");
		return false;
	}
	/* host[:port], then at most a "/" */
	for (size_t i = 0; i < hostlen && ok; i++)
		ok = isalnum((unsigned char) host[i]) || strchr("-.:[]", host[i]) != NULL;
	if (!ok || hostlen == 0 || host[0] == ':' ||
		(host[hostlen] != '\0' && strcmp(host + hostlen, "/") != 0))
	{
		GUC_check_errdetail("liveid.proxy must be http(s)://host[:port], with nothing after the port.");
		return false;
	}
	return true;
}

/* The settings of the background worker and its outbox (worker.c). */
static void
DefineWorkerSettings(void)
{
	DefineCustomStringVariable("liveid.worker_database",
							   "Database whose outbox liveid's background worker sends; empty: no worker.",
							   "The worker also rejects the calls of rolled-back transactions, whatever their database.",
							   &liveid_worker_database, "",
							   PGC_POSTMASTER, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("liveid.outbox_max_attempts",
							"Times the background worker sends a start (or a rejection) before it gives up.",
							"Only transport failures and 5xx answers are tried again.",
							&liveid_outbox_max_attempts, 10, 1, 100,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("liveid.outbox_retry_delay",
							"The background worker's first back-off after a failed attempt; it doubles with each.",
							"Each wait is between half of it and all of it (jitter), at most an hour.",
							&liveid_outbox_retry_delay, 1000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
}

/* The service, its keys, and the defaults of a call. */
static void
DefineServiceSettings(void)
{
	DefineCustomStringVariable("liveid.url",
							   "Base URL of the LiveID+ service; every request goes to a path under it.",
							   NULL, &liveid_url,
							   "https://liveid.test.namirialtsp.com",
							   PGC_SUSET, 0, CheckUrl, NULL, NULL);
	DefineCustomStringVariable("liveid.api_key",
							   "Organization API key, sent in the apikey header. Never shown.",
							   NULL, &api_key_handle, "",
							   PGC_SUSET,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   CheckApiKey, AssignApiKey, ShowApiKey);
	DefineCustomStringVariable("liveid.api_key_file",
							   "File of API keys, one ORGANIZATION=key per line; readable only by the server's user.",
							   "A call uses its organization's key, else the file's \"*\", else liveid.api_key.",
							   &liveid_api_key_file, "",
							   PGC_SIGHUP, GUC_SUPERUSER_ONLY,
							   NULL, liveid_assign_api_key_file, NULL);
	DefineCustomStringVariable("liveid.organization",
							   "Default organization code.",
							   NULL, &liveid_organization, "",
							   PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("liveid.process",
							   "Default process UUID.",
							   NULL, &liveid_process, "",
							   PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("liveid.callback_url",
							   "Server-callback URL service_start uses when the customer has none (https, approved by Namirial).",
							   "Calls started with a callback carry liveid_ref and a per-call liveid_token in otherParams.",
							   &liveid_callback_url, "",
							   PGC_SUSET, 0, CheckCallbackUrl, NULL, NULL);
}

/* How requests are made: time limits, TLS, proxy, sizes, concurrency. */
static void
DefineTransportSettings(void)
{
	DefineCustomIntVariable("liveid.connect_timeout",
							"Time limit to connect to LiveID+ (TCP and TLS).",
							NULL, &liveid_connect_timeout, 2000, 1, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("liveid.timeout",
							"Time limit of a whole LiveID+ request.",
							NULL, &liveid_timeout, 10000, 1, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomStringVariable("liveid.ca_file",
							   "CA bundle to verify LiveID+'s certificate; empty: the system's.",
							   NULL, &liveid_ca_file, "",
							   PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomStringVariable("liveid.proxy",
							   "HTTP proxy to reach LiveID+ through, http(s)://host[:port]; empty: none.",
							   "The server's proxy environment (http_proxy, ALL_PROXY, NO_PROXY...) is never used.",
							   &liveid_proxy, "",
							   PGC_SUSET, 0, CheckProxy, NULL, NULL);
	DefineCustomIntVariable("liveid.max_response_size",
							"Largest LiveID+ answer accepted; larger ones are refused, not buffered.",
							NULL, &liveid_max_response_size, 8 * 1024 * 1024,
							1024, MaxAllocSize, PGC_SUSET, GUC_UNIT_BYTE,
							NULL, NULL, NULL);
	DefineCustomIntVariable("liveid.max_concurrency",
							"Requests in flight at once for the functions that fan out.",
							NULL, &liveid_max_concurrency, 16, 1, 256,
							PGC_SUSET, 0, NULL, NULL, NULL);
}

/* Module load: defines the settings and reserves the prefix. */
void
_PG_init(void)
{
	DefineServiceSettings();
	DefineTransportSettings();
	DefineCustomIntVariable("liveid.metrics_retention",
							"How long liveid.collect_metrics() keeps snapshots.",
							"Each snapshot deletes those older than this, in its transaction.",
							&liveid_metrics_retention, 30 * 24 * 3600, 60, INT_MAX,
							PGC_SUSET, GUC_UNIT_S, NULL, NULL, NULL);
	DefineWorkerSettings();
	MarkGUCPrefixReserved("liveid");

	if (process_shared_preload_libraries_in_progress)
	{
		liveid_handoff_init();
		liveid_worker_register();
	}

	/*
	 * Until this library is loaded, a liveid.api_key from the server's
	 * configuration is a plain placeholder that SHOW reveals; only
	 * preloading closes that window in every backend.
	 */
	if (!process_shared_preload_libraries_in_progress && *api_key_current)
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("liveid is not in shared_preload_libraries"),
				 errdetail("Until liveid is loaded in a session, a liveid.api_key set in the server configuration can be read with SHOW."),
				 errhint("Add liveid to shared_preload_libraries and restart the server.")));
}
