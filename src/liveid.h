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
#include "fmgr.h"

#define LIVEID_VERSION "1.0"

/* in liveid.c: settings (read at each call) */
extern char *liveid_url;
extern char *liveid_organization;
extern char *liveid_process;
extern int	liveid_connect_timeout;	/* ms */
extern int	liveid_timeout;			/* ms */
extern char *liveid_ca_file;
extern char *liveid_proxy;		/* "" or NULL: no proxy, whatever the environment says */
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
 * failure with the SQLSTATE of sql-api.md; returns only 2xx answers.  The
 * wait is interruptible (cancel, statement_timeout, termination) and shows
 * in pg_stat_activity as wait_event_type 'Extension'.
 */
extern LiveidResponse *liveid_http(const char *method, const char *path,
								   const char *body, const char *bearer);

/*
 * The same in two steps: begin sends the request, end waits for the answer
 * (and raises as liveid_http does); between them the caller may work, in
 * the same memory context.  An ERROR in between abandons the request.
 */
typedef struct LiveidRequest LiveidRequest;
extern LiveidRequest *liveid_http_begin(const char *method, const char *path,
										const char *body, const char *bearer);
extern LiveidResponse *liveid_http_end(LiveidRequest *req);
extern void liveid_check_path(const char *path);	/* 22023 if unsafe */

/* in http.c: the context line "LiveID+ <method> <path>" of every error of one remote call */
typedef struct LiveidRemoteContext
{
	ErrorContextCallback cb;
	const char *method;
	const char *path;			/* shown without its query string */
} LiveidRemoteContext;
extern void liveid_remote_context_push(LiveidRemoteContext *ctx, const char *method,
									   const char *path);
extern void liveid_remote_context_pop(LiveidRemoteContext *ctx);

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
#define LIVEID_MAX_CODE_LEN 100	/* an organization code, a process id */
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
 * in ledger.c: the call ledger liveid.calls, written only as its owner.
 * A LiveidCall is one LiveID+ call: an asynchronous request the service
 * started and its row in the ledger.  A LiveidConference is one conference
 * of a call (the customer opening the link makes one), as
 * getAsyncRequestInfo reports them.
 */
typedef struct LiveidCall
{
	const char *uid;			/* the service's uId, once it answered */
	const char *organization;
	const char *process;		/* NULL with the pair */
	const char *process_live;
	const char *process_self;
	const char *external_id;	/* or NULL */
	const char *method;
	const TimestampTz *expire;	/* or NULL */
	const char *launch_url;		/* once uid is known */
} LiveidCall;

typedef struct LiveidConference
{
	char	   *id_conference;
	char	   *status;
	char	   *close_status;	/* or NULL */
	TimestampTz started_at;
	TimestampTz ended_at;		/* when ended */
	bool		ended;
} LiveidConference;

/* 55000 when called from inside a ledger write (what: the SQL function) */
extern void liveid_ledger_guard(const char *what);
/* before a start is sent: everything that would keep it from being recorded */
extern void liveid_ledger_ready(const char *what);
extern void liveid_ledger_insert(const LiveidCall *call);
extern void liveid_ledger_update(const char *uid, const LiveidConference *latest);
/* the organization of a call the caller may see; 22023 for a liveid_user's other uids */
extern char *liveid_ledger_lookup(const char *uid);

/*
 * in start_args.c: the arguments service_start and launch_form share, by
 * position, checked in one place, and the ordered service-start fields
 * they make (liveid-api.md).
 */
enum
{
	LIVEID_ARG_CUSTOMER,
	LIVEID_ARG_PROCESS,
	LIVEID_ARG_ORGANIZATION,
	LIVEID_ARG_EXTERNAL_ID,
	LIVEID_ARG_REDIRECT_URL,
	LIVEID_ARG_REDIRECT_METHOD,
	LIVEID_ARG_OPERATOR_ID,
	LIVEID_ARG_OPERATOR_EMAIL,
	LIVEID_ARG_OPERATOR_EXTERNAL_ID,
	LIVEID_ARG_DIRECT,
	LIVEID_ARG_OP_INFO,
	LIVEID_ARG_SKIP_AV_REC_TEST,
	LIVEID_ARG_DISABLE_RTC_TEST,
	LIVEID_ARG_PROCESS_LIVE,
	LIVEID_ARG_PROCESS_SELF,
	LIVEID_ARG_METHOD,			/* service_start; launch_form: mode */
	LIVEID_ARG_EXPIRE			/* service_start only */
};

typedef struct LiveidFormField
{
	const char *name;
	const char *value;			/* "true"/"false" for a boolean */
	bool		boolean;		/* a JSON boolean in b64Data */
} LiveidFormField;

#define LIVEID_MAX_FORM_FIELDS 16

typedef struct LiveidStartForm
{
	LiveidFormField fields[LIVEID_MAX_FORM_FIELDS];
	int			nfields;
	LiveidCall	call;			/* what the ledger records of them */
} LiveidStartForm;

extern void liveid_start_form(FunctionCallInfo fcinfo, LiveidStartForm *form);
extern void liveid_arg_error(const char *arg, const char *detail,
							 const char *hint) pg_attribute_noreturn();
extern void liveid_null_arg_error(const char *arg,
								  const char *hint) pg_attribute_noreturn();
extern char *liveid_text_arg(FunctionCallInfo fcinfo, int argno);
extern bool liveid_is_blank(const char *s);
extern char *liveid_base_url(void);	/* liveid.url without a trailing slash */
extern char *liveid_url_encode(const char *s);
extern char *liveid_base64_utf8(const char *s);

#endif							/* LIVEID_H */
