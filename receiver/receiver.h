/*-------------------------------------------------------------------------
 *
 * receiver.h
 *		liveid-receiver: declarations shared by its files, each under the
 *		name of the file that defines it.
 *
 * The receiver takes LiveID+ server callbacks (HTTPS POSTs with a JSON
 * body) and hands each to the database as
 * SELECT liveid.receive_callback($1::jsonb), answering only once that has
 * committed.  See README.md beside this file.
 *
 *-------------------------------------------------------------------------
 */
#ifndef LIVEID_RECEIVER_H
#define LIVEID_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define RECEIVER_NAME "liveid-receiver"

/* the command line, checked (main.c) */
typedef struct ReceiverOptions
{
	struct sockaddr_storage listen_addr;	/* numeric IPv4 or IPv6 */
	char		listen_text[80];	/* as given, for the log */
	const char *dsn;
	const char *path;
	const char *tls_cert;
	const char *tls_key;
	bool		plain_http;
	size_t		max_body;
	unsigned int connections;
	unsigned int timeout;		/* seconds: a request must arrive in it */
	unsigned int pool_size;
	unsigned int query_timeout; /* seconds: a pool slot and the statement */
	unsigned int connect_timeout;	/* seconds, when the DSN sets none */
} ReceiverOptions;

/* in main.c */
extern ReceiverOptions receiver_opts;

/* in log.c */
extern double now_monotonic(void);
extern void log_line(const char *fmt,...) __attribute__((format(printf, 1, 2)));
extern void log_token(char *dst, size_t dstlen, const char *src);
extern void log_text(char *dst, size_t dstlen, const char *src);
extern void log_request(const char *addr, const char *method, const char *path,
						int status, size_t bytes, double ms, const char *detail);

/* in pool.c: the outcome of one SELECT liveid.receive_callback(...) */
typedef enum CallKind
{
	CALL_OK,					/* event_id is set: it has committed */
	CALL_ERROR,					/* the server raised sqlstate */
	CALL_UNREACHABLE,			/* no connection, or it broke meanwhile */
	CALL_TIMEOUT,				/* no answer within --query-timeout */
	CALL_BUSY,					/* no free connection within it */
	CALL_BAD_ANSWER				/* an answer that is not one bigint */
} CallKind;

typedef struct CallResult
{
	CallKind	kind;
	char		sqlstate[6];	/* CALL_ERROR only */
	long long	event_id;		/* CALL_OK only */
} CallResult;

extern bool pool_init(char *err, size_t errlen);
extern void pool_describe(char *dst, size_t dstlen);
extern void pool_call(const char *body, CallResult *res);
extern void pool_close(void);

/* in answer.c */
extern int	answer_status(const CallResult *res);
extern const char *answer_text(int status);
extern void answer_detail(const CallResult *res, char *dst, size_t dstlen);

/* in guard.c: per-connection state, and the deadline it is held to */
typedef struct ConnGuard ConnGuard;
struct MHD_Connection;
enum MHD_ConnectionNotificationCode;

extern void guard_notify(void *cls, struct MHD_Connection *conn,
						 void **socket_context,
						 enum MHD_ConnectionNotificationCode toe);
extern ConnGuard *guard_of(struct MHD_Connection *conn);
extern const char *guard_addr(const ConnGuard *g);
extern void guard_request_begin(ConnGuard *g);
extern void guard_set_busy(ConnGuard *g, bool busy);
extern bool guard_request_end(ConnGuard *g);
extern bool guard_start(char *err, size_t errlen);
extern void guard_stop(void);

/* in http.c */
struct MHD_Daemon;
extern struct MHD_Daemon *http_start(char *err, size_t errlen);
extern int	http_port(struct MHD_Daemon *d);
extern void http_quiesce(struct MHD_Daemon *d);
extern int	http_wait_idle(double seconds);
extern void http_stop(struct MHD_Daemon *d);

#endif							/* LIVEID_RECEIVER_H */
