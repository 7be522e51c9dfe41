/*-------------------------------------------------------------------------
 *
 * main.c
 *		liveid-receiver: the command line, start-up, and a clean stop on
 *		SIGTERM or SIGINT.
 *
 * A bad command line exits 2 with a message; a start-up that fails (the
 * address is taken, the certificate unreadable) exits 1.  Once listening,
 * the bound port is printed on stdout, one line, so that a test or a
 * script may start it with port 0.  The signals are blocked in every
 * thread and taken by sigwait() here: on the first, the listener closes,
 * the requests in flight finish (new ones on open connections get 503),
 * then everything stops and the exit status is 0.
 *
 *-------------------------------------------------------------------------
 */
#include "receiver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ReceiverOptions receiver_opts = {
	.path = "/liveid/callback",
	.max_body = 64 * 1024,
	.connections = 64,
	.timeout = 10,
	.pool_size = 4,
	.query_timeout = 30,
	.connect_timeout = 5,
};

static const char usage[] =
"Usage: liveid-receiver --listen ADDR:PORT --dsn CONNINFO [OPTION]...\n"
"Receives LiveID+ server callbacks (HTTPS POSTs) and stores each with\n"
"SELECT liveid.receive_callback(body), answering once it has committed.\n"
"\n"
"  --listen ADDR:PORT      a numeric IPv4 address, or [IPv6]; port 0 picks a\n"
"                          free port (the port is printed on stdout)\n"
"  --dsn CONNINFO          libpq connection string or URI; without it, the\n"
"                          environment variable LIVEID_RECEIVER_DSN\n"
"  --path P                the callback path (default /liveid/callback)\n"
"  --tls-cert F --tls-key F  PEM certificate (chain) and private key\n"
"  --plain-http            plain HTTP, for a TLS proxy in front (no TLS files)\n"
"  --max-body BYTES        largest body taken (default 65536)\n"
"  --connections N         most client connections at once (default 64)\n"
"  --timeout S             seconds a client has to send a whole request, and\n"
"                          the idle timeout of a connection (default 10)\n"
"  --pool N                database connections (default 4)\n"
"  --query-timeout S       seconds a request may wait for the database (default 30)\n"
"  --connect-timeout S     connect_timeout when the DSN sets none (default 5;\n"
"                          libpq waits 2 s at least)\n"
"  --help                  show this text\n"
"The log goes to stderr.  See receiver/README.md.\n";

/* Exits 2 with a message about the command line. */
static void
BadUsage(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", RECEIVER_NAME);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry \"%s --help\" for more information.\n", RECEIVER_NAME);
	exit(2);
}

/* Parses a whole decimal within [min, max]; exits 2 if it is not one. */
static unsigned long
NumberArg(const char *opt, const char *s, unsigned long min, unsigned long max)
{
	char		msg[160];
	char	   *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end != '\0' || *s == '-' || v < min || v > max)
	{
		snprintf(msg, sizeof(msg), "%s: expected a whole number from %lu to %lu, got \"%%s\"",
				 opt, min, max);
		BadUsage(msg, s);
	}
	return v;
}

/* Parses --listen: "1.2.3.4:PORT" or "[::1]:PORT". */
static void
ListenArg(const char *s)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *) &receiver_opts.listen_addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &receiver_opts.listen_addr;
	char		host[64];
	const char *colon;
	size_t		hl;
	bool		v6 = s[0] == '[';
	unsigned long port;

	colon = v6 ? strstr(s, "]:") : strrchr(s, ':');
	if (colon == NULL || colon == s)
		BadUsage("--listen: expected ADDR:PORT or [IPV6]:PORT, got \"%s\"", s);
	hl = (size_t) (colon - s) - (v6 ? 1 : 0);
	if (hl == 0 || hl >= sizeof(host))
		BadUsage("--listen: expected ADDR:PORT or [IPV6]:PORT, got \"%s\"", s);
	memcpy(host, s + (v6 ? 1 : 0), hl);
	host[hl] = '\0';
	port = NumberArg("--listen's port", colon + (v6 ? 2 : 1), 0, 65535);
	memset(&receiver_opts.listen_addr, 0, sizeof(receiver_opts.listen_addr));
	if (v6 && inet_pton(AF_INET6, host, &in6->sin6_addr) == 1)
	{
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t) port);
	}
	else if (!v6 && inet_pton(AF_INET, host, &in4->sin_addr) == 1)
	{
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t) port);
	}
	else
		BadUsage("--listen: not a numeric IPv4 address or [IPv6] address: \"%s\"", s);
	snprintf(receiver_opts.listen_text, sizeof(receiver_opts.listen_text), "%s", s);
}

/* Checks --path: absolute, printable, no query or fragment, not too long. */
static void
PathArg(const char *s)
{
	if (s[0] != '/' || strlen(s) > 200)
		BadUsage("--path: expected an absolute path of at most 200 bytes, got \"%s\"", s);
	for (const char *p = s; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '?' || *p == '#' || *p == '%')
			BadUsage("--path: only printable ASCII without spaces, '?', '#' or '%%': \"%s\"", s);
	receiver_opts.path = s;
}

/*
 * Takes --dsn: a copy is kept, and the argument itself overwritten, so that
 * a password in it does not stay visible to ps.
 */
static void
DsnArg(char *s)
{
	receiver_opts.dsn = strdup(s);
	memset(s, '*', strlen(s));
}

/* Checks the combination of options once all are read. */
static void
CheckOptions(void)
{
	const char *env = getenv("LIVEID_RECEIVER_DSN");

	if (receiver_opts.listen_text[0] == '\0')
		BadUsage("%s", "--listen ADDR:PORT is required");
	if (receiver_opts.dsn == NULL && env && env[0])
		receiver_opts.dsn = strdup(env);
	if (receiver_opts.dsn == NULL)
		BadUsage("%s", "--dsn CONNINFO (or the environment variable LIVEID_RECEIVER_DSN) is required");
	if ((receiver_opts.tls_cert == NULL) != (receiver_opts.tls_key == NULL))
		BadUsage("%s", "--tls-cert and --tls-key go together");
	if (receiver_opts.plain_http && receiver_opts.tls_cert)
		BadUsage("%s", "--plain-http and --tls-cert exclude each other");
	if (!receiver_opts.plain_http && receiver_opts.tls_cert == NULL)
		BadUsage("%s", "no TLS certificate: give --tls-cert and --tls-key, or --plain-http "
				 "to serve plain HTTP behind a TLS proxy");
}

/* Reads the command line into receiver_opts; exits 2 on a bad one. */
static void
ParseOptions(int argc, char **argv)
{
	enum
	{
		O_LISTEN = 1, O_DSN, O_PATH, O_CERT, O_KEY, O_PLAIN, O_MAXBODY, O_CONNS,
		O_TIMEOUT, O_POOL, O_QTIMEOUT, O_CTIMEOUT, O_HELP
	};
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, O_LISTEN},
		{"dsn", required_argument, NULL, O_DSN},
		{"path", required_argument, NULL, O_PATH},
		{"tls-cert", required_argument, NULL, O_CERT},
		{"tls-key", required_argument, NULL, O_KEY},
		{"plain-http", no_argument, NULL, O_PLAIN},
		{"max-body", required_argument, NULL, O_MAXBODY},
		{"connections", required_argument, NULL, O_CONNS},
		{"timeout", required_argument, NULL, O_TIMEOUT},
		{"pool", required_argument, NULL, O_POOL},
		{"query-timeout", required_argument, NULL, O_QTIMEOUT},
		{"connect-timeout", required_argument, NULL, O_CTIMEOUT},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0}
	};
	int			c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case O_LISTEN: ListenArg(optarg); break;
			case O_DSN: DsnArg(optarg); break;
			case O_PATH: PathArg(optarg); break;
			case O_CERT: receiver_opts.tls_cert = optarg; break;
			case O_KEY: receiver_opts.tls_key = optarg; break;
			case O_PLAIN: receiver_opts.plain_http = true; break;
			case O_MAXBODY: receiver_opts.max_body = NumberArg("--max-body", optarg, 16, 16 * 1024 * 1024); break;
			case O_CONNS: receiver_opts.connections = NumberArg("--connections", optarg, 1, 1000); break;
			case O_TIMEOUT: receiver_opts.timeout = NumberArg("--timeout", optarg, 1, 3600); break;
			case O_POOL: receiver_opts.pool_size = NumberArg("--pool", optarg, 1, 100); break;
			case O_QTIMEOUT: receiver_opts.query_timeout = NumberArg("--query-timeout", optarg, 1, 3600); break;
			case O_CTIMEOUT: receiver_opts.connect_timeout = NumberArg("--connect-timeout", optarg, 2, 3600); break;
			case O_HELP: fputs(usage, stdout); exit(0);
			default:
				BadUsage("bad option or missing argument: \"%s\"", argv[optind - 1]);
		}
	}
	if (optind < argc)
		BadUsage("unexpected argument: \"%s\"", argv[optind]);
	CheckOptions();
}

/* Starts the pool, the watchdog and the listener; exits on failure. */
static struct MHD_Daemon *
StartUp(void)
{
	struct MHD_Daemon *d;
	char		err[512];
	char		db[400];

	if (!pool_init(err, sizeof(err)))
	{
		fprintf(stderr, "%s: %s\n", RECEIVER_NAME, err);
		exit(2);
	}
	if (!guard_start(err, sizeof(err)) || (d = http_start(err, sizeof(err))) == NULL)
	{
		log_line("cannot start: %s", err);
		exit(1);
	}
	pool_describe(db, sizeof(db));
	log_line("listening on %s port %d (%s), path %s; database %s; pool %u, "
			 "connections %u, timeout %u s, body at most %zu bytes",
			 receiver_opts.listen_text, http_port(d),
			 receiver_opts.plain_http ? "plain HTTP" : "HTTPS", receiver_opts.path,
			 db, receiver_opts.pool_size, receiver_opts.connections,
			 receiver_opts.timeout, receiver_opts.max_body);
	/* the port last: whoever reads it may rely on the line above */
	printf("%d\n", http_port(d));
	fflush(stdout);
	return d;
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	sigset_t	stop;
	int			sig = 0;
	int			left;

	ParseOptions(argc, argv);
	/* blocked before any thread starts, so every thread inherits it */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);
	signal(SIGPIPE, SIG_IGN);

	d = StartUp();
	while (sigwait(&stop, &sig) != 0)
		;
	log_line("stopping on %s: finishing the requests in flight",
			 sig == SIGTERM ? "SIGTERM" : "SIGINT");
	http_quiesce(d);
	left = http_wait_idle(receiver_opts.query_timeout + receiver_opts.timeout + 1.0);
	if (left > 0)
		log_line("%d requests still unfinished; closing their connections", left);
	http_stop(d);
	guard_stop();
	pool_close();
	log_line("stopped");
	return 0;
}
