/*-------------------------------------------------------------------------
 *
 * sim.h
 *		Shared declarations of the LiveID+ simulator (liveid-sim).
 *
 * The simulator implements the service as docs/liveid-api.md
 * describes it.  Each file owns one concern; this header says which file
 * each declaration lives in.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LIVEID_SIM_H
#define LIVEID_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <pthread.h>
#include <cjson/cJSON.h>

#define SIM_VERSION "1.0"
#define SIM_MAX_BODY (1024 * 1024)	/* largest request body accepted */
#define SIM_ERRLEN 256

/* ---------------------------------------------------------------------
 * in main.c: options and process-wide flags
 * --------------------------------------------------------------------- */
typedef struct SimOptions
{
	int			port;
	const char *bind;			/* listen address, default 127.0.0.1 */
	const char *config;			/* organizations JSON */
	uint64_t	seed;
	const char *tls_cert;
	const char *tls_key;
	bool		quiet;			/* no request log */
	bool		clock_fixed;	/* --clock given: simulated time is frozen */
	time_t		clock;			/* the frozen time */
	int			token_ttl;		/* seconds a ConferenceToken lives */
	int			callback_backoff_ms;	/* first retry delay */
	int			callback_attempts;	/* attempts before giving up */
	int			callback_threads;	/* deliveries in flight at once */
	const char *callback_ca;	/* CA bundle for https callbacks */
	int			conn_timeout;	/* idle connection timeout, seconds */
	int			latency_ms;		/* every /api/ answer waits this long first */
	int			request_ttl;	/* seconds a finished request is kept; 0: ever */
} SimOptions;

extern SimOptions sim_opts;
extern volatile bool sim_stopping;	/* set on SIGTERM: long waits end */

/* ---------------------------------------------------------------------
 * in util.c: time, randomness, encodings, small JSON helpers
 * --------------------------------------------------------------------- */
extern time_t sim_now(void);	/* simulated wall clock (seconds) */
extern double sim_now_precise(void);	/* real time, for durations */
extern void format_iso8601(time_t t, char *buf, size_t len);	/* UTC "Z" */
extern bool parse_iso8601(const char *s, time_t *out);	/* date or date-time */
extern void random_bytes(void *buf, size_t len);	/* from /dev/urandom */
extern void new_uuid(char out[37]);
extern bool is_uuid(const char *s);
extern bool is_email(const char *s);
extern bool is_jwt_shaped(const char *s);
extern bool is_absolute_http_url(const char *s, bool https_only);
extern bool url_host_is_loopback(const char *url);
extern size_t utf8_length(const char *s);	/* code points; SIZE_MAX if invalid */
/* strict standard Base64; returns malloc'd NUL-terminated bytes or NULL */
extern char *base64_decode(const char *in, size_t *outlen);
extern char *base64_encode(const unsigned char *in, size_t len, bool url);
extern void sleep_ms_interruptible(long ms);
extern char *html_escape(const char *s);	/* malloc'd */
extern char *url_encode(const char *s);	/* malloc'd, RFC 3986 unreserved kept */
extern char *sim_strdup(const char *s);
extern char *read_file(const char *path, size_t *len_out);	/* malloc'd */
extern void json_add_date(cJSON *obj, const char *key, time_t t);	/* null if 0 */
/* look up a string member; NULL if absent or not a string */
extern const char *json_str(const cJSON *obj, const char *key);

/* ---------------------------------------------------------------------
 * in fault.c: fault-triggering organization codes and process ids
 * --------------------------------------------------------------------- */
typedef enum FaultKind
{
	FAULT_NONE = 0,
	FAULT_DELAY,				/* answer normally after N ms */
	FAULT_STATUS,				/* HTTP status N with a JSON error */
	FAULT_NOTJSON,				/* 200 with an HTML body */
	FAULT_SHAPE,				/* 200 JSON of the wrong shape (variant N) */
	FAULT_TRUNCATE,				/* Content-Length promised, half sent */
	FAULT_RESET,				/* TCP reset, no answer */
	FAULT_BIG,					/* N bytes (default 16 MiB), with length */
	FAULT_BIGCHUNKED,			/* N bytes, chunked */
	FAULT_TRICKLE,				/* normal answer, one byte every N ms */
	FAULT_REDIRECT,				/* 3xx (N, default 302) to another host */
	FAULT_ZEROS,				/* 200 [0,0,...,0] of N bytes, with length */
	FAULT_ANSWER,				/* crafted answer number N (fault.c) */
	FAULT_INTERIM,				/* N interim 1xx answers, then the normal one */
	FAULT_ECHO					/* 400, a long error text echoing the apikey */
} FaultKind;

typedef struct Fault
{
	FaultKind	kind;
	long		arg;
} Fault;

/* recognizes "FAULT-KIND[-N]" and "00000000-fa17-4KKK-8000-NNNNNNNNNNNN" */
extern bool fault_parse(const char *s, Fault *out);
extern const char *fault_name(FaultKind kind);

/*
 * The crafted answer number n of FAULT-ANSWER-<n> (malloc'd, *len bytes,
 * may hold NUL bytes) and its status; req_body is the request's body, which
 * answer 0 echoes.  NULL for an unknown n.
 */
extern char *fault_answer(long n, const char *req_body, size_t req_len,
						  int *status, size_t *len);

/* ---------------------------------------------------------------------
 * in outage.c: a transient outage of every /api/ endpoint (POST /sim/outage)
 * --------------------------------------------------------------------- */
/* status 0 ends it; requests -1: no count limit; seconds 0: no time limit */
extern void outage_set(int status, long requests, double seconds);
/* true, with the status to answer, when the outage takes this /api/ request */
extern bool outage_take(int *status);
extern void outage_add_json(cJSON *obj);	/* "active", "status", "requests", "seconds" */
extern long outage_answer_count(void);

/* ---------------------------------------------------------------------
 * in state.c: organizations (from the config), async requests, calls,
 * tokens, audit trails.  All of it is guarded by state_lock.
 * --------------------------------------------------------------------- */
typedef struct Operator
{
	char		id[37];
	char	   *name;
	char	   *email;
	char	   *external_id;
} Operator;

typedef struct Process
{
	char		id[37];
	char	   *name;
	bool		self;			/* a self-identification process */
	bool		video_recording;	/* disableRTCTest is refused */
} Process;

typedef struct Organization
{
	char	   *code;
	char	   *name;
	char	   *api_key;
	char	  **languages;
	int			nlanguages;
	Operator   *operators;
	int			noperators;
	Process    *processes;
	int			nprocesses;
	char	  **callback_hosts;	/* pre-approved https callback hosts */
	int			ncallback_hosts;
	bool		is_virtual;		/* a FAULT-* code: accepts any process */
} Organization;

typedef enum CallStatus
{
	CALL_WAITING,
	CALL_ANSWERED,
	CALL_CLOSED,
	CALL_CANCELLED,
	CALL_EXPIRED
} CallStatus;

typedef struct Call
{
	char		id_conference[37];
	CallStatus	status;
	char		close_status;	/* 'N','S','A','K' or 0 */
	char	   *abort_code;
	char	   *note;
	time_t		start_date;
	time_t		answer_date;
	time_t		end_date;
	const Operator *operator;
	struct Call *next;
} Call;

typedef struct AuditEntry
{
	time_t		date;
	char	   *event;
	char	   *detail;
	struct AuditEntry *next;
} AuditEntry;

typedef struct AsyncRequest
{
	char		uid[37];
	Organization *org;
	char		process_id[37];	/* the process used (id_process or live) */
	char	   *method;			/* "start" | "live" | "sync" */
	time_t		created;
	time_t		expire;			/* 0: never */
	bool		rejected;
	char	   *reject_reason;
	cJSON	   *start;			/* decoded b64Data / form, with "json" decoded
								 * into "json_decoded" */
	Call	   *calls;			/* newest first */
	AuditEntry *audit;			/* oldest first */
	bool		audit_deleted;
	char	   *result;			/* envelope JSON of the last close/error */
	double		settled;		/* real time a call last ended or it was
								 * rejected; 0: never */
	struct AsyncRequest *next;	/* in its uId hash bucket */
	struct AsyncRequest *older;	/* in creation order, for GET /sim/requests */
	struct AsyncRequest *newer;
} AsyncRequest;

extern pthread_mutex_t state_lock;

extern bool state_load_config(const char *path, char *err, size_t errlen);
extern void state_free(void);
extern Organization *org_by_code(const char *code);	/* virtual for faults */
extern Organization *org_by_api_key(const char *key);
extern const Process *org_process(const Organization *org, const char *uuid);
extern const Operator *org_operator(const Organization *org, const char *uuid);
extern int	org_count(void);
extern Organization *org_at(int i);

/* the functions below require state_lock held */
extern AsyncRequest *request_create(Organization *org, const char *process_id,
									const char *method, time_t expire,
									cJSON *start);
extern AsyncRequest *request_find(const char *uid);
extern Call *call_find(const char *id_conference, AsyncRequest **req_out);
extern void request_refresh(AsyncRequest *req);	/* applies expiry */
extern Call *call_create(AsyncRequest *req);	/* a new waiting call */
extern void call_set_status(AsyncRequest *req, Call *call, CallStatus status);
extern void audit_add(AsyncRequest *req, const char *event, const char *fmt,...);
extern void audit_clear(AsyncRequest *req);
extern const char *call_status_name(CallStatus s);
extern cJSON *call_json(const Call *c);	/* getAsyncRequestInfo's shape */
/* a fresh ConferenceToken for a conference; malloc'd */
extern char *token_issue(const char *id_conference);
/* 0 valid; 1 unknown or malformed; 2 expired; 3 for another conference */
extern int	token_check(const char *token, const char *id_conference);
/* waiting calls of a process, for the queue length */
extern int	waiting_calls(const char *process_id);
/* the request can no longer change, and has been so for over --request-ttl */
extern bool request_forgettable(AsyncRequest *req, double real_now);
/* the oldest request held, and the next newer one (NULL at the end) */
extern AsyncRequest *request_oldest(void);
extern AsyncRequest *request_newer(const AsyncRequest *req);
/*
 * requests held now, dropped since the start, and made by pushAsyncCall
 * since the start (take state_lock)
 */
extern void request_counts(long *held, long *dropped, long *pushed);
/* the thread that drops forgettable requests, a few buckets at a time */
extern bool state_sweep_start(void);
extern void state_sweep_stop(void);

/* ---------------------------------------------------------------------
 * in metrics.c: operators on duty, queues and waiting times over a day
 * --------------------------------------------------------------------- */
extern int	metrics_available_operators(const Organization *org, time_t t);
extern int	metrics_queue(const char *process_id, time_t t);
/* average waiting seconds and number of calls in [from, to) */
extern void metrics_waiting(const Organization *org, time_t from, time_t to,
							double *avg_seconds, int *calls);

/* ---------------------------------------------------------------------
 * in validate.c: the service-start rules, shared by the browser form
 * (/app/service-start) and pushAsyncCall's decoded b64Data
 * --------------------------------------------------------------------- */
typedef struct StartInfo
{
	Organization *org;
	const Process *process;		/* id_process, or id_process_live */
	cJSON	   *json_decoded;	/* ServiceStartJson, owned by the caller */
} StartInfo;

/*
 * Checks a service-start field set.  `fields` is an object whose members are
 * the form fields; from_form says the values all come as strings (browser
 * form), otherwise `skipAVrecTest`/`disableRTCTest` must be JSON booleans and
 * `id_organization` must come first.  On failure writes the reason to err,
 * sets *status (400 or 404) and returns false.  Requires state_lock.
 */
extern bool validate_start(const cJSON *fields, bool from_form, StartInfo *info,
						   int *status, char *err, size_t errlen);
/* Checks a decoded ServiceStartJson object alone. */
extern bool validate_service_start_json(const cJSON *json,
										const Organization *org,
										char *err, size_t errlen);

/* ---------------------------------------------------------------------
 * in callback.c: the outbound server callback, delivered by a thread
 * that retries with back-off while the receiver fails
 * --------------------------------------------------------------------- */
extern bool callback_start(void);
extern void callback_stop(void);
/* queue one delivery; body is taken over (malloc'd JSON text) */
extern void callback_enqueue(const char *url, const char *id_conference,
							 const char *process_id, const char *event,
							 char *body);
/* registerAlertEmail: the addresses told when a process's callbacks fail */
extern void alerts_register(const char *process_id, const char *emails);
extern cJSON *callback_log_json(void);	/* GET /sim/callbacks */
extern long callback_count(void);	/* deliveries held now */
extern cJSON *alerts_log_json(void);	/* GET /sim/alerts */

/* ---------------------------------------------------------------------
 * in server.c: HTTP plumbing over libmicrohttpd
 * --------------------------------------------------------------------- */
struct MHD_Connection;

typedef struct SimRequest
{
	struct MHD_Connection *conn;
	const char *method;
	const char *path;			/* without the query string */
	const char *body;			/* NUL-terminated, may be "" */
	size_t		body_len;
	cJSON	   *form;			/* urlencoded/multipart fields, or NULL */
} SimRequest;

typedef struct SimResponse
{
	int			status;
	char	   *body;			/* malloc'd */
	size_t		len;
	const char *content_type;
	char	   *location;		/* malloc'd, for 3xx */
	char	   *www_authenticate;	/* static string or NULL */
	const char *allow;			/* for 405 */
	Fault		fault;			/* applied while sending */
	char		note[96];		/* appended to the log line */
} SimResponse;

extern const char *req_header(const SimRequest *rq, const char *name);
extern const char *req_arg(const SimRequest *rq, const char *name);	/* query */
extern cJSON *req_json_body(const SimRequest *rq);	/* NULL if not JSON */
extern void resp_json(SimResponse *rs, int status, cJSON *obj);	/* frees obj */
extern void resp_error(SimResponse *rs, int status, const char *fmt,...)
			__attribute__((format(printf, 3, 4)));
extern void resp_html(SimResponse *rs, int status, char *html);	/* takes it */
extern void resp_note(SimResponse *rs, const char *fmt,...)
			__attribute__((format(printf, 2, 3)));
extern void resp_redirect(SimResponse *rs, int status, const char *location);
/*
 * Sets up the fault a request names (subject: an organization code or
 * process id); false when the answer is decided and the handler must stop.
 */
extern bool resp_fault_begin(SimRequest *rq, SimResponse *rs, const char *subject);
extern cJSON *server_stats_json(void);	/* GET /sim/stats */
/* POST /sim/latency: the /api/ latency from now on; starts a new peak reading */
extern void server_set_latency(int ms);
extern void server_note_redirected(void);
extern struct MHD_Daemon *server_start(char *err, size_t errlen);
extern void server_stop(struct MHD_Daemon *d);
extern int	server_port(struct MHD_Daemon *d);

/* ---------------------------------------------------------------------
 * in api.c: the LiveID+ endpoints; in control.c: /sim/ and the call page
 * --------------------------------------------------------------------- */
typedef void (*Handler) (SimRequest *rq, SimResponse *rs);

typedef struct Route
{
	const char *method;
	const char *path;
	Handler		handler;
} Route;

extern const Route api_routes[];
extern const Route control_routes[];

/* in control.c: the customer opens the link (shared with service-asyncall) */
extern Call *call_open(AsyncRequest *req, int *status, char *err, size_t errlen);

#endif							/* LIVEID_SIM_H */
