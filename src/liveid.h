/*-------------------------------------------------------------------------
 *
 * liveid.h
 *		Private declarations of the liveid extension; each section names
 *		the file that owns it.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LIVEID_H
#define LIVEID_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "datatype/timestamp.h"
#include "utils/jsonb.h"

#define LIVEID_VERSION "1.0"

/* in liveid.c: settings (read at each call) */
extern char *liveid_url;
extern char *liveid_organization;
extern char *liveid_process;
extern int	liveid_connect_timeout;	/* ms */
extern int	liveid_timeout;			/* ms */
extern char *liveid_ca_file;
extern int	liveid_max_response_size;	/* bytes */
extern const char *liveid_api_key(void);	/* the real key, never shown */

/* in http.c: the only file that knows libcurl */
typedef struct LiveidResponse
{
	long		status;			/* always 2xx: anything else was raised */
	char	   *body;			/* palloc'd, NUL-terminated */
	size_t		len;
} LiveidResponse;

/*
 * One request to liveid.url || path.  body is JSON text or NULL; bearer a
 * ConferenceToken for the endpoints that take one, or NULL.  Raises on any
 * failure with the SQLSTATE of sql-api.md; returns only 2xx answers.
 */
extern LiveidResponse *liveid_http(const char *method, const char *path,
								   const char *body, const char *bearer);

/*
 * The same in two steps: begin sends the request, end waits for the answer
 * (and raises as liveid_http does); between them the caller may work, in
 * the same memory context.  An ERROR in between abandons the request.
 */
typedef struct LiveidHttpCall LiveidHttpCall;
extern LiveidHttpCall *liveid_http_begin(const char *method, const char *path,
										 const char *body, const char *bearer);
extern LiveidResponse *liveid_http_end(LiveidHttpCall *call);
extern void liveid_check_path(const char *path);	/* 22023 if unsafe */

/*
 * in json.c: LiveID+ answers as jsonb (see the file header), and
 * jsonb_writer.c, which writes the jsonb
 */
#define LIVEID_ANSWER_MAX_DEPTH 1000	/* arrays and objects nested */
#define LIVEID_EXCERPT_CHARS 60		/* of an answer, in an error's DETAIL */

/*
 * An answer body as jsonb, exactly as jsonb_in would make it of the text
 * converted to the database encoding; NULL when len is 0.  58000 if it is
 * not valid UTF-8, has a NUL byte or \u0000, is not JSON or nests deeper
 * than LIVEID_ANSWER_MAX_DEPTH.
 */
extern Jsonb *liveid_answer_parse(const char *body, size_t len);
/* the same from text already in the database encoding, no NUL byte */
extern Jsonb *liveid_jsonb_from_text(char *text, int len);
/* a failed answer's "error" text, short and escaped, or NULL; never raises */
extern char *liveid_answer_error_text(const char *body, size_t len);
/* http.c's name of it, until http.c calls liveid_answer_error_text */
#define liveid_json_error_text(body, len) liveid_answer_error_text(body, len)

/*
 * Typed members of an answer: 58000 "does not have the expected shape"
 * naming the member (what names the expected shape), no error context of
 * their own.  Strings are palloc'd.
 */
extern JsonbContainer *liveid_answer_object(Jsonb *answer, const char *what);
extern int32 liveid_member_int(JsonbContainer *obj, const char *key);
extern double liveid_member_number(JsonbContainer *obj, const char *key);
extern char *liveid_member_string(JsonbContainer *obj, const char *key);
extern char *liveid_member_string_or_null(JsonbContainer *obj, const char *key);
extern JsonbContainer *liveid_member_array(JsonbContainer *obj, const char *key);
extern JsonbContainer *liveid_member_object(JsonbContainer *obj, const char *key);
extern int	liveid_array_length(JsonbContainer *arr);
extern JsonbContainer *liveid_element_object(JsonbContainer *arr, int i,
											 const char *what);
extern char *liveid_element_string(JsonbContainer *arr, int i, const char *what);

/* in utility.c: the utility APIs (set-returning) and liveid.request */
extern const char *liveid_setting_or(const char *arg, const char *setting,
									 const char *setting_name,
									 const char *what);

/*
 * in rules.c: the field rules of liveid-api.md (ServiceStartJson and its
 * data fields), shared by every builder and by service_start.  Each raises
 * 22023 (22P02 for malformed text) naming the field, with the rule in DETAIL
 * and the fix in HINT.
 */
extern const char *const liveid_datatypes[];	/* NULL-terminated */
extern bool liveid_is_datatype(const char *s);
extern bool liveid_is_uuid(const char *s);
extern bool liveid_is_email(const char *s);
extern bool liveid_is_http_url(const char *s, bool https_only);
extern bool liveid_is_jwt(const char *s);
extern int	liveid_digits(const char *p, int n);	/* -1 unless all digits */
/* one data field object; key names it in messages */
extern void liveid_check_data_field(const char *key, JsonbContainer *field);
/* a whole data object: field key -> field object */
extern void liveid_check_data(JsonbContainer *data);
/* a whole ServiceStartJson, as liveid.customer builds it */
extern void liveid_check_customer(JsonbContainer *customer);
/* the callback URL rule (https, no credentials, loopback http allowed) */
extern void liveid_check_callback_url(const char *url);

/*
 * in ledger.c: the call ledger liveid.calls, written as its owner in the
 * caller's transaction.
 */
typedef struct LiveidCall
{
	const char *organization;
	const char *process;		/* NULL with the pair */
	const char *process_live;
	const char *process_self;
	const char *external_id;	/* or NULL */
	const char *method;
	const TimestampTz *expire;	/* or NULL */
} LiveidCall;

/*
 * A call's row is readied while the service answers (prepare), and stored
 * once the answer names the call (record).
 */
typedef struct LiveidLedgerRow LiveidLedgerRow;
extern LiveidLedgerRow *liveid_ledger_prepare(const LiveidCall *call);
extern void liveid_ledger_record(LiveidLedgerRow *row, const char *uid,
								 const char *launch_url);
extern void liveid_ledger_update(const char *uid, const char *status,
								 const char *close_status,
								 const char *id_conference,
								 const TimestampTz *closed_at);

#endif							/* LIVEID_H */
