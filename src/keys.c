/*-------------------------------------------------------------------------
 *
 * keys.c
 *		The key file liveid.api_key_file, and which key a call sends.
 *
 * The file holds one ORGANIZATION=key per line ("*" for any organization
 * not listed), '#' comments and blank lines.  Like ssl_key_file it must be
 * readable by the server's OS user only.  It is read by the assign hook of
 * its setting: PostgreSQL runs that hook in the postmaster at start and in
 * every process at each reload (SIGHUP) for a setting the configuration
 * names, changed or not, so the keys follow the file exactly when the
 * server's configuration does, with no stat() on each call and no reading
 * in the middle of a transaction.  Backends inherit the postmaster's keys
 * at fork.  A file that cannot be used keeps the keys in force and says why
 * at LOG (in the postmaster when liveid is preloaded, each backend then
 * repeating it at DEBUG2 only), with the line number and never a key.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include <sys/stat.h>
#include <unistd.h>

#include "miscadmin.h"
#include "utils/memutils.h"

/* the longest line of the key file */
#define KEY_LINE_MAX 1024

typedef struct KeyEntry
{
	char	   *organization;	/* "*" for any other */
	char	   *key;
} KeyEntry;

/* the keys in force: all in their own memory context, wiped when replaced */
typedef struct KeySet
{
	MemoryContext cxt;
	KeyEntry   *entries;
	int			n;
	int			cap;
} KeySet;

static KeySet *keys_in_force = NULL;

/* the postmaster read the file (liveid preloaded): backends inherit this */
static bool read_by_postmaster = false;

/* Wipes and frees a key set. */
static void
FreeKeySet(KeySet *set)
{
	if (set == NULL)
		return;
	for (int i = 0; i < set->n; i++)
		explicit_bzero(set->entries[i].key, strlen(set->entries[i].key));
	MemoryContextDelete(set->cxt);
}

/* Trims blanks at both ends of s in place; returns its new start. */
static char *
Trim(char *s)
{
	char	   *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
					   end[-1] == '\r' || end[-1] == '\n'))
		*--end = '\0';
	return s;
}

/* True when an organization code or a key is printable ASCII, no blanks. */
static bool
Printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char) *s <= ' ' || (unsigned char) *s >= 0x7f)
			return false;
	return true;
}

/*
 * Adds the line "ORGANIZATION=key" (already trimmed) to set; false, with
 * *why set, when it is not one.
 */
static bool
AddLine(KeySet *set, char *line, const char **why)
{
	char	   *eq = strchr(line, '=');
	char	   *org,
			   *key;

	if (eq == NULL)
	{
		*why = "It has no \"=\".";
		return false;
	}
	*eq = '\0';
	org = Trim(line);
	key = Trim(eq + 1);
	if (*org == '\0' || strlen(org) > LIVEID_MAX_CODE_LEN || !Printable(org))
	{
		*why = "The organization code before \"=\" must be 1 to 100 printable characters without blanks.";
		return false;
	}
	if (*key == '\0' || !Printable(key))
	{
		*why = "The key after \"=\" must be printable characters without blanks.";
		return false;
	}
	for (int i = 0; i < set->n; i++)
		if (strcmp(set->entries[i].organization, org) == 0)
		{
			*why = "The organization is listed on an earlier line too.";
			return false;
		}
	if (set->n == set->cap)
	{
		set->cap = set->cap ? set->cap * 2 : 8;
		set->entries = set->entries
			? repalloc(set->entries, set->cap * sizeof(KeyEntry))
			: palloc(set->cap * sizeof(KeyEntry));
	}
	set->entries[set->n].organization = pstrdup(org);
	set->entries[set->n].key = pstrdup(key);
	set->n++;
	return true;
}

/*
 * Checks that the open file is a regular file of the server's user that
 * nobody else may read, logging why not at elevel.
 */
static bool
CheckKeyFileAccess(FILE *f, const char *path, int elevel)
{
	struct stat st;

	/* fstat of the open file: what was checked is what is read */
	if (fstat(fileno(f), &st) != 0)
	{
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("could not stat key file \"%s\": %m", path)));
		return false;
	}
	if (!S_ISREG(st.st_mode))
	{
		ereport(elevel,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("key file \"%s\" is not a regular file", path)));
		return false;
	}
	if (st.st_uid != geteuid())
	{
		ereport(elevel,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("key file \"%s\" must be owned by the database user", path),
				 errdetail("The previous API keys stay in use.")));
		return false;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
	{
		ereport(elevel,
				(errcode(ERRCODE_CONFIG_FILE_ERROR),
				 errmsg("key file \"%s\" has group or world access", path),
				 errdetail("File must have permissions u=rw (0600) or less; the previous API keys stay in use.")));
		return false;
	}
	return true;
}

/* Reads the lines of an open key file into set; false (logged) on a bad one. */
static bool
ReadKeyLines(FILE *f, const char *path, KeySet *set, int elevel)
{
	char		buf[KEY_LINE_MAX + 2];
	int			lineno = 0;
	bool		ok = true;

	while (ok && fgets(buf, sizeof(buf), f) != NULL)
	{
		size_t		len = strlen(buf);
		const char *why = NULL;
		char	   *line;

		lineno++;
		if (len > KEY_LINE_MAX && buf[len - 1] != '\n')
			why = "It is longer than 1024 bytes.";
		else
		{
			line = Trim(buf);
			if (*line != '\0' && *line != '#')
				(void) AddLine(set, line, &why);
		}
		if (why)
		{
			/* the line number only: the line may hold a key */
			ereport(elevel,
					(errcode(ERRCODE_CONFIG_FILE_ERROR),
					 errmsg("invalid line %d in key file \"%s\"", lineno, path),
					 errdetail("%s Each line must be ORGANIZATION=key, a comment starting with \"#\", or blank; the previous API keys stay in use.", why)));
			ok = false;
		}
	}
	if (ok && ferror(f))
	{
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("could not read key file \"%s\": %m", path),
				 errdetail("The previous API keys stay in use.")));
		ok = false;
	}
	explicit_bzero(buf, sizeof(buf));
	return ok;
}

/* Reads the key file at path into a new key set; NULL (logged) if unusable. */
static KeySet *
LoadKeyFile(const char *path, int elevel)
{
	MemoryContext cxt,
				old;
	KeySet	   *set;
	FILE	   *f;
	bool		ok;

	f = fopen(path, "r");
	if (f == NULL)
	{
		ereport(elevel,
				(errcode_for_file_access(),
				 errmsg("could not open key file \"%s\": %m", path),
				 errdetail("The previous API keys stay in use.")));
		return NULL;
	}
	/* no stdio buffer of the file's text may outlive the read */
	setvbuf(f, NULL, _IONBF, 0);
	cxt = AllocSetContextCreate(TopMemoryContext, "liveid keys",
								ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	set = palloc0(sizeof(KeySet));
	set->cxt = cxt;
	ok = CheckKeyFileAccess(f, path, elevel) && ReadKeyLines(f, path, set, elevel);
	MemoryContextSwitchTo(old);
	fclose(f);
	if (!ok)
	{
		FreeKeySet(set);
		return NULL;
	}
	return set;
}

/*
 * assign hook of liveid.api_key_file: (re)reads the file, or drops the
 * file's keys when the setting is empty.
 */
void
liveid_assign_api_key_file(const char *newval, void *extra)
{
	/*
	 * When preloaded, the postmaster says it once and every backend reads
	 * the same file quietly; a backend that loaded liveid itself says it.
	 */
	int			elevel = (IsUnderPostmaster && read_by_postmaster) ? DEBUG2 : LOG;
	KeySet	   *set = NULL;

	if (!IsUnderPostmaster)
		read_by_postmaster = true;

	if (newval != NULL && *newval != '\0')
	{
		set = LoadKeyFile(newval, elevel);
		if (set == NULL)
			return;				/* keep what is in force */
	}
	FreeKeySet(keys_in_force);
	keys_in_force = set;
}

/* The file's key of organization (exact code, or "*"), or NULL. */
static const char *
FileKey(const char *organization)
{
	if (keys_in_force == NULL)
		return NULL;
	for (int i = 0; i < keys_in_force->n; i++)
		if (strcmp(keys_in_force->entries[i].organization, organization) == 0)
			return keys_in_force->entries[i].key;
	return NULL;
}

/*
 * The key a call for organization sends (NULL or "": liveid.organization):
 * the file's key of that organization, else the file's "*", else
 * liveid.api_key.  22023 when there is none, before anything is sent.
 */
const char *
liveid_key_for(const char *organization)
{
	const char *org = (organization && *organization) ? organization
		: (liveid_organization ? liveid_organization : "");
	const char *key = NULL;

	if (*org)
		key = FileKey(org);
	if (key == NULL)
		key = FileKey("*");
	if (key == NULL && *liveid_api_key())
		key = liveid_api_key();
	if (key == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 *org ? errmsg("no LiveID+ API key for organization \"%s\"", org)
				 : errmsg("no LiveID+ API key is set"),
				 errhint("Put the organization's key in the file liveid.api_key_file names, or set liveid.api_key.")));
	return key;
}
