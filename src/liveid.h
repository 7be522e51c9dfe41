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

#include "fmgr.h"
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
extern char *liveid_api_key_file;
extern char *liveid_callback_url;	/* "": none */
extern int	liveid_max_concurrency;
extern int	liveid_metrics_retention;	/* s */
extern char *liveid_worker_database;	/* "": no background worker */
extern int	liveid_outbox_max_attempts;
extern int	liveid_outbox_retry_delay;	/* ms, the first back-off */

/*
 * in keys.c: the key file and which key a call sends.  liveid_key_for()
 * is the key of organization (NULL or "": liveid.organization), else the
 * file's "*", else liveid.api_key; 22023 naming the organization when
 * there is none.  The result stays valid until the next reload.
 */
extern void liveid_assign_api_key_file(const char *newval, void *extra);
extern const char *liveid_key_for(const char *organization);

/*
 * in args.c: arguments of the SQL functions.  A bad one is 22023 naming it
 * (DETAIL the rule, HINT the fix); a NULL organization or process falls back
 * to its setting (22023 with a hint naming it when neither is given).
 */
extern void liveid_arg_error(const char *arg, const char *detail,
							 const char *hint) pg_attribute_noreturn();
extern void liveid_null_arg_error(const char *arg,
								  const char *hint) pg_attribute_noreturn();
extern char *liveid_text_arg(FunctionCallInfo fcinfo, int argno);
extern bool liveid_is_blank(const char *s);
extern const char *liveid_setting_or(const char *arg, const char *setting,
									 const char *setting_name,
									 const char *what);
#define LIVEID_MAX_CODE_LEN 100	/* an organization code, a process id */

/* in http.c: the only file that knows libcurl */
typedef struct LiveidResponse
{
	long		status;			/* always 2xx: anything else was raised */
	char	   *body;			/* palloc'd, NUL-terminated */
	size_t		len;
} LiveidResponse;

/*
 * One request to liveid.url || path with the API key key (liveid_key_for).
 * body is JSON text or NULL; bearer a ConferenceToken for the endpoints
 * that take one, or NULL.  Raises on any
 * failure with the SQLSTATE of sql-api.md; returns only 2xx answers.  The
 * wait is interruptible (cancel, statement_timeout, termination) and shows
 * in pg_stat_activity as wait_event_type 'Extension'.
 */
extern LiveidResponse *liveid_http(const char *method, const char *path,
								   const char *body, const char *bearer,
								   const char *key);

/*
 * The same in two steps: begin sends the request, end waits for the answer
 * (and raises as liveid_http does); between them the caller may work, in
 * the same memory context.  An ERROR in between abandons the request.
 */
typedef struct LiveidRequest LiveidRequest;
extern LiveidRequest *liveid_http_begin(const char *method, const char *path,
										const char *body, const char *bearer,
										const char *key);
extern LiveidResponse *liveid_http_end(LiveidRequest *req);
extern void liveid_check_path(const char *path);	/* 22023 if unsafe */

/*
 * A failed request, as liveid_http would raise it: its SQLSTATE, message,
 * DETAIL and HINT (either may be NULL), never holding a key or a token.
 * liveid_report_failure raises it at elevel, prefix (or NULL) in front of
 * the message.
 */
typedef struct LiveidFailure
{
	bool		retryable;		/* a transport failure or a 5xx: worth another try */
	int			sqlerrcode;
	char	   *message;
	char	   *detail;
	char	   *hint;
} LiveidFailure;
extern void liveid_report_failure(int elevel, const LiveidFailure *f,
								  const char *prefix);

/*
 * Several requests, up to concurrency (at most 256) in flight at once in
 * the same wait: method, path, body (or NULL) and key in; as each ends,
 * done(item, arg) gets its 2xx answer in item->response, or item->failure
 * (anything liveid_http would raise but an interrupt or out of memory,
 * which raise at once), valid until done returns; done runs in the
 * caller's memory context and may raise, which abandons the rest, but may
 * not start a request of its own.  Every item is checked (path,
 * key, liveid.url) before anything is sent.
 */
typedef struct LiveidBatchItem
{
	const char *method;
	const char *path;
	const char *body;
	const char *key;
	void	   *arg;			/* the caller's */
	LiveidResponse *response;
	LiveidFailure *failure;
} LiveidBatchItem;
typedef void (*LiveidBatchDone) (LiveidBatchItem *item, void *arg);
extern void liveid_http_batch(LiveidBatchItem *items, int n, int concurrency,
							  LiveidBatchDone done, void *arg);

/*
 * The same with items handed out as slots free up: refill(arg, max,
 * &items) returns up to max items (an array the caller keeps valid until
 * each is done), each checked before it is sent; it is called first, then
 * whenever requests have ended and refill_at slots are free (or nothing
 * runs), and may run transactions (it is called between waits, in no
 * transfer's callback).  The stream ends when refill returns 0 while
 * nothing runs.  done as for liveid_http_batch.
 */
typedef int (*LiveidBatchRefill) (void *arg, int max, LiveidBatchItem **items);
extern void liveid_http_stream(int concurrency, int refill_at, LiveidBatchRefill refill,
							   LiveidBatchDone done, void *arg);

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

/*
 * in value.c: what a SQL value becomes in a data field, its datatype and
 * its text, the same whatever the session's settings (docs/payload.md).
 */
typedef enum LiveidValueKind
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
} LiveidValueKind;

/* which part of a date or timestamp a field shows */
typedef enum LiveidTimeForm
{
	TF_DEFAULT,					/* the type's own form */
	TF_DATE,					/* YYYY-MM-DD */
	TF_MONTH,					/* YYYY-MM */
	TF_TIME						/* HH:MM:SS[.fff] */
} LiveidTimeForm;

/* what a SQL type becomes in a field */
typedef struct LiveidType
{
	LiveidValueKind kind;
	const char *datatype;		/* the inferred datatype */
	bool		guessed;		/* email or url from a name: values must fit */
	Oid			typoutput;		/* output function, for VK_OUTPUT */
} LiveidType;

/* longest value text written into a fixed buffer: bigint, timestamps */
#define LIVEID_VALUE_BUF_LEN 32

/* how a value of typid (in a column colname, or NULL) is sent */
extern void liveid_infer_type(Oid typid, const char *colname, LiveidType *type);
extern LiveidTimeForm liveid_time_form(LiveidValueKind kind, const char *datatype);

/*
 * The text of a non-NULL value: points into the datum, into buf
 * (LIVEID_VALUE_BUF_LEN bytes) or into palloc'd memory; not NUL-terminated.
 * 22023 naming the field key for a value no field can show.
 */
extern const char *liveid_value_text(const LiveidType *type, LiveidTimeForm form,
									 FmgrInfo *outfn, Datum d, char *buf,
									 int *len, const char *key);
/* true when a guessed email or url datatype suits a non-empty value */
extern bool liveid_guess_fits(const char *datatype, const char *value, int len);

/*
 * in field.c: field objects being built as JsonbPair arrays, and jsonb's
 * key order.
 */

/* A JsonbValue string (not copied). */
static inline void
liveid_set_string(JsonbValue *v, const char *s, int len)
{
	v->type = jbvString;
	v->val.string.val = (char *) s;
	v->val.string.len = len;
}

/* sets or replaces (a later value wins) one member; its value to fill in */
extern JsonbValue *liveid_set_member(JsonbPair *pairs, int *n,
									 const char *key, int keylen);
/* jsonb's order of keys: shorter first, then bytes; and of pairs by key */
extern int	liveid_key_compare(const JsonbValue *a, const JsonbValue *b);
extern int	liveid_pair_compare(const void *a, const void *b);
/* an object JsonbValue of pairs, sorted in jsonb's key order */
extern void liveid_set_object(JsonbValue *v, JsonbPair *pairs, int n);
/* adds an attributes object's members, checked (in_row: for row_to_data) */
extern void liveid_add_attributes(JsonbPair *pairs, int *n, JsonbContainer *attrs,
								  const char *field, bool in_row);
extern int	liveid_attribute_count(JsonbContainer *attrs);	/* 0 for NULL */

/* in row_to_data.c: a name made readable as a label (birth_date -> Birth date) */
extern char *liveid_readable_name(const char *name);

/*
 * in rules.c: the rules of liveid-api.md for a data field and a
 * ServiceStartJson, on C values; the builders check what they are about to
 * write, once.  Each raises 22023 naming the field, or the customer's
 * argument or member, with the rule in DETAIL.
 */
extern const char *const liveid_datatypes[];	/* NULL-terminated */
extern bool liveid_is_datatype(const char *s);
extern bool liveid_is_uuid(const char *s);
extern bool liveid_is_email(const char *s);
extern bool liveid_is_http_url(const char *s, bool https_only);
extern bool liveid_is_jwt(const char *s);
extern int	liveid_digits(const char *p, int n);	/* -1 unless all digits */
/* a JSON number that is whole (2.00 is), of at most 18 digits */
extern bool liveid_whole_number(const JsonbValue *v, int64 *n);

/* the parts of a data field; key names the field in messages */
extern void liveid_field_error(const char *key, const char *detail,
							   const char *hint) pg_attribute_noreturn();
extern void liveid_check_field_key(const char *key);
extern void liveid_check_field_datatype(const char *key, const char *datatype);
extern void liveid_check_field_display(const char *key, const char *display);
/* a non-empty value must suit its datatype; value need not end in NUL */
extern void liveid_check_field_value(const char *key, const char *datatype,
									 const char *value, int len);
/* an HTML attribute: a known name and a JSON value of its kind */
extern void liveid_check_field_attribute(const char *key, const char *name,
										 int namelen, const JsonbValue *v);

/*
 * the parts of a customer; member says whether the value is a
 * ServiceStartJson's member (service_start) or liveid.customer()'s argument
 */
extern void liveid_check_customer_lang(const char *lang, bool member);
extern void liveid_check_customer_email(const char *email, bool member);
/* which: "name" or "surname" */
extern void liveid_check_customer_name(const char *which, const char *name,
									   bool member);
extern void liveid_check_customer_priority(int64 level, bool member);
/* the callback URL rule (https, a host, no credentials) */
extern void liveid_check_callback_url(const char *url);

/*
 * in walk.c: what arrives as jsonb from a caller, walked once into the
 * rules of rules.c.
 */
/*
 * one data field object; key names it in messages.  need_label: a field
 * without a label is 22023 (else it is accepted); returns whether it has one
 */
extern bool liveid_check_data_field(const char *key, JsonbContainer *field,
									bool need_label);
/* a whole data object: field key -> field object */
extern void liveid_check_data(JsonbContainer *data);
/* a whole ServiceStartJson, as service_start gets it */
extern void liveid_check_customer(JsonbContainer *customer);

/* gets each member of an attributes object once it passed the rules */
typedef void (*LiveidMemberFn) (void *arg, const JsonbValue *name,
								const JsonbValue *value);

/*
 * The attributes a builder got for field key (in_row: row_to_data's
 * "attributes" option, else data_field's argument): HTML attributes only.
 */
extern void liveid_walk_attributes(const char *key, JsonbContainer *attrs,
								   bool in_row, LiveidMemberFn fn, void *arg);

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
	const char *ref;			/* liveid's own id (secret.c) */
	const uint8 *token_sha256;	/* of the callback secret, or NULL: no callback */
	const char *created_by;		/* NULL: the current user (the outbox's enqueuer) */
	const TimestampTz *created_at;	/* NULL: the transaction's start */
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

/* what getAsyncRequestInfo says of a call (calls.c) */
typedef struct LiveidCallInfo
{
	LiveidConference *conferences;
	int			n;
	int			latest;			/* index of the latest, -1: none yet */
} LiveidCallInfo;

/* 55000 when called from inside a ledger write (what: the SQL function) */
extern void liveid_ledger_guard(const char *what);
/* before a start is sent: everything that would keep it from being recorded */
extern void liveid_ledger_ready(const char *what);
extern void liveid_ledger_insert(const LiveidCall *call);
/* the same for n calls in one statement (the worker's), created now */
extern void liveid_ledger_insert_many(const LiveidCall *const *calls, int n);
/* an array Datum of n elements of elemtype; nulls[i] a null element */
extern Datum liveid_array_datum(Datum *elems, bool *nulls, int n, Oid elemtype);
/* brings the row of uid up to date with info; true when it changed (and was notified) */
extern bool liveid_ledger_follow(const char *uid, const LiveidCallInfo *info);
/* NOTIFY liveid_calls of one changed row */
extern void liveid_ledger_notify(const char *uid, const char *ref, const char *status,
								 const char *close_status);
/* the organization of a call the caller may see; 22023 for a liveid_user's other uids */
extern char *liveid_ledger_lookup(const char *uid, const char *what);

/* a call that is not final yet (created, waiting, answered) */
typedef struct LiveidPendingCall
{
	char	   *uid;
	char	   *organization;
} LiveidPendingCall;

/* the caller's calls that are not final, oldest first, at most max; how many */
extern int	liveid_ledger_pending(int max, LiveidPendingCall **calls);

/*
 * in ledger.c, for outbox.c: statements on another table of liveid,
 * written as the ledger is (as the table's owner in a restricted
 * operation, path pinned, plans kept for the backend).
 */
typedef struct LiveidStatement
{
	const char *sql;
	int			nargs;
	Oid			argtypes[12];
	struct _SPI_plan *plan;		/* kept once prepared */
} LiveidStatement;

typedef struct LiveidTableAccess
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
} LiveidTableAccess;

/* as the owner of liveid.<table> (42P01 when it is gone), SPI connected */
extern void liveid_owner_enter(LiveidTableAccess *la, const char *table);
extern int	liveid_owner_execute(LiveidStatement *st, Datum *values,
								 const char *nulls, long tcount);
/* a statement's value i: text, uuid (from its text) or timestamptz; NULL a null */
extern void liveid_spi_text(Datum *values, char *nulls, int i, const char *s);
extern void liveid_spi_uuid(Datum *values, char *nulls, int i, const char *s);
extern void liveid_spi_time(Datum *values, char *nulls, int i, const TimestampTz *t);
extern bytea *liveid_bytea(const uint8 *data, size_t len);	/* palloc'd */
extern void liveid_owner_leave(LiveidTableAccess *la);

/* in ledger.c, for callback.c: a call found by its ref, and its events */
typedef struct LiveidCallRef
{
	char	   *uid;
	char	   *organization;
	uint8	   *token_sha256;	/* NULL: the call has no server callback */
} LiveidCallRef;

/* one server callback, as liveid.call_events stores it */
typedef struct LiveidEvent
{
	const char *uid;
	const char *ref;
	const char *id_conference;
	const char *event;			/* close or error */
	const char *close_status;	/* what the callback claimed */
	const char *abort_code;		/* or NULL */
	const char *note;			/* or NULL */
	const char *confirmed_status;	/* what getAsyncRequestInfo said, or NULL */
	const char *confirmed_close_status;
	bool		mismatch;
	Jsonb	   *payload;		/* the body without its secrets */
	const uint8 *digest;		/* SHA-256 of payload's text */
} LiveidEvent;

extern bool liveid_ledger_by_ref(const char *ref, LiveidCallRef *out);
extern int64 liveid_event_find(const char *ref, const uint8 *digest);
extern int64 liveid_event_insert(const LiveidEvent *ev);

/*
 * in ledger.c, for calldata.c: the organization of the call whose
 * conference is id_conference, as liveid_ledger_lookup() gives it for a uid;
 * and a call's row marked 'rejected'.
 */
extern char *liveid_ledger_conference(const char *id_conference, const char *what);
extern void liveid_ledger_reject(const char *uid);

/*
 * in ledger.c, for metrics.c: one snapshot of liveid.metrics, written as the
 * table's owner as the ledger is.  processes are uuid Datums.
 */
typedef struct LiveidSnapshot
{
	TimestampTz taken_at;		/* the same for all its rows */
	const char *organization;
	int32		available_operators;
	Interval   *average_wait;
	int32		calls;
	int			nprocesses;
	Datum	   *processes;
	Datum	   *waiting;		/* int4 Datums, one per process */
} LiveidSnapshot;

/* before anything is sent: 55000, 25006, 25000, 42P01 */
extern void liveid_metrics_ready(const char *what);
/* the distinct processes of an organization's calls (as the caller), at most max */
extern int	liveid_metrics_processes(const char *organization, int max, Datum **processes);
/* writes snap, then deletes the snapshots taken before prune_before; rows written */
extern int	liveid_metrics_write(const LiveidSnapshot *snap, TimestampTz prune_before);

/*
 * in result.c: liveid.parse_result(), the LiveIDPlusResult redirect
 * parameter; in calldata.c: conference_data(), audit_data(),
 * delete_audit_data(), reject_call(), register_alert_email().  Both only
 * export their SQL functions.
 */

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

/*
 * in start.c, for outbox.c: pushAsyncCall's body of a checked form (its
 * method and expire checked too), the uId of its answer (58000 for another
 * shape) and the launch URL of a uId.
 */
#define LIVEID_PATH_PUSH "/api/service/pushAsyncCall"
extern char *liveid_push_body(FunctionCallInfo fcinfo, LiveidStartForm *form,
							  TimestampTz *expire);
extern char *liveid_push_answer_uid(const LiveidResponse *r);
extern char *liveid_launch_url(const char *uid);

/* with_secret: the call gets a ref and, with a server callback, its secret (secret.c) */
extern void liveid_start_form(FunctionCallInfo fcinfo, LiveidStartForm *form,
							  bool with_secret);
extern char *liveid_base_url(void);	/* liveid.url without a trailing slash */
extern char *liveid_url_encode(const char *s);
extern char *liveid_base64_utf8(const char *s);

/*
 * in calls.c: following calls.  The uid argument of a function (22023 when
 * empty or too long); getAsyncRequestInfo's path and its answer, checked.
 */
extern char *liveid_uid_arg(FunctionCallInfo fcinfo, int argno);
extern char *liveid_info_path(const char *uid);
extern void liveid_info_read(const LiveidResponse *r, LiveidCallInfo *info);

/*
 * in utility.c: the utility answers, read exactly as the SQL functions read
 * them (58000 for another shape), for metrics.c too.
 */
#define LIVEID_PATH_OPERATORS "/api/service/getAvailableOperators"
#define LIVEID_PATH_QUEUE "/api/service/getQueue"
#define LIVEID_PATH_WAITING "/api/service/getDailyWaitingTimes"
extern char *liveid_one_member_body(const char *key, const char *value);
/* liveid.process checked as a UUID (22023); NULL when unset unless required */
extern char *liveid_process_setting(bool required);
/* {"member": n}: getAvailableOperators (availableOperators), getQueue (queue) */
extern int32 liveid_integer_answer(const LiveidResponse *r, const char *member);

/* a period of getDailyWaitingTimes: [from, to) */
typedef struct LiveidWaiting
{
	TimestampTz from;
	TimestampTz to;
	Interval   *average_wait;
	int32		calls;
} LiveidWaiting;

/* the days of the last week, then the last 60 minutes before answered_at */
extern int	liveid_waiting_answer(const LiveidResponse *r, TimestampTz answered_at,
								  LiveidWaiting **rows);

/* in secret.c: a call's ref and callback secret, and the digests they need */
extern Jsonb *liveid_call_secret(Jsonb *customer, LiveidCall *call);
extern uint8 *liveid_sha256(const char *data, size_t len);
extern bool liveid_digest_equal(const uint8 *a, const uint8 *b);

/*
 * in handoff.c: what backends and the background worker share.  The
 * worker's latch (set at the commit of a transaction that enqueued
 * starts) and the starts of rolled-back transactions, which the worker
 * rejects at the service.
 */
#define LIVEID_REJECT_SLOTS 4096
#define LIVEID_MAX_UID_LEN 100	/* a uId the service names a call with */

extern void liveid_handoff_init(void);	/* from _PG_init, when preloaded */
extern bool liveid_handoff_available(void);	/* preloaded: shared memory is there */
/* after the service started a call in this transaction: rejected if it aborts */
extern void liveid_handoff_track(const char *uid, const char *organization);
/* the worker is woken when this transaction commits */
extern void liveid_handoff_wake_at_commit(void);

/* for worker.c */
extern void liveid_handoff_reject(const char *uid, const char *organization);
typedef struct LiveidReject
{
	int			slot;
	char		uid[LIVEID_MAX_UID_LEN + 1];
	char		organization[LIVEID_MAX_CODE_LEN + 1];
	bool		same_url;		/* started against the worker's liveid.url */
	int			attempts;
} LiveidReject;
extern void liveid_handoff_attach_worker(void);	/* the latch to set is MyLatch */
extern void liveid_handoff_detach_worker(int code, Datum arg);
/* the rejects due now, at most max, marked taken; how many */
extern int	liveid_handoff_take(LiveidReject *out, int max, TimestampTz now);
/* a taken reject done with (done), or due again at retry_at */
extern void liveid_handoff_settle(const LiveidReject *r, bool done, TimestampTz retry_at);
/* the earliest time a waiting reject is due, or 0 when none waits */
extern TimestampTz liveid_handoff_next_due(void);

/*
 * in outbox.c, for worker.c: the outbox's statements, in the worker's
 * transactions, as the owner of liveid.outbox.
 */
typedef struct LiveidOutboxStart
{
	LiveidCall	call;			/* as the ledger records it; uid, launch_url once sent */
	TimestampTz expire;			/* call.expire points here */
	char	   *body;			/* pushAsyncCall's */
	int			attempts;		/* this one included */
} LiveidOutboxStart;

extern bool liveid_outbox_installed(void);
extern int	liveid_outbox_claim(int max, TimestampTz now, LiveidOutboxStart **out);
/* starts the service accepted, in a few statements; sent_at[i] of starts[i] */
extern void liveid_outbox_sent_many(LiveidOutboxStart *const *starts, const TimestampTz *sent_at,
									int n);
extern void liveid_outbox_retry(const char *ref, const char *error, TimestampTz retry_at);
extern void liveid_outbox_failed(const char *ref, const char *error);
extern int	liveid_outbox_requeue(TimestampTz now);
extern TimestampTz liveid_outbox_next_due(void);

/* in worker.c: the background worker that sends the outbox */
extern void liveid_worker_register(void);	/* from _PG_init, when preloaded */
extern PGDLLEXPORT void liveid_worker_main(Datum arg);

#endif							/* LIVEID_H */
