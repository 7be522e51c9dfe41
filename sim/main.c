/*-------------------------------------------------------------------------
 *
 * main.c
 *		liveid-sim: command line, start-up and a clean stop on SIGTERM.
 *
 *-------------------------------------------------------------------------
 */
#include "sim.h"

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

SimOptions	sim_opts = {
	.port = -1,
	.bind = "127.0.0.1",
	.seed = 1,
	.token_ttl = 120,
	.callback_backoff_ms = 1000,
	.callback_attempts = 8,
	.callback_threads = 1,
	.conn_timeout = 30,
	.request_ttl = 3600,
};
volatile bool sim_stopping = false;

static const char usage[] =
"Usage: liveid-sim --port N [--config FILE] [--seed N] [--tls-cert F --tls-key F]\n"
"                  [--bind ADDR] [--clock TIME] [--quiet] [--token-ttl S]\n"
"                  [--callback-backoff-ms MS] [--callback-attempts N] [--callback-threads N]\n"
"                  [--callback-ca FILE] [--conn-timeout S] [--latency-ms MS]\n"
"                  [--request-ttl S]\n"
"A simulator of the LiveID+ service (see sim/README.md).\n";

/* Parses a whole non-negative decimal within [min, max]; exits 2 if not. */
static long
NumberArg(const char *opt, const char *s, long min, long max)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < min || v > max)
	{
		fprintf(stderr, "liveid-sim: %s: expected a number from %ld to %ld, got \"%s\"\n",
				opt, min, max, s);
		exit(2);
	}
	return v;
}

/* The default config: config.json beside the binary. */
static const char *
DefaultConfig(void)
{
	static char path[PATH_MAX];
	char		exe[PATH_MAX];
	ssize_t		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0)
		return "sim/config.json";
	exe[n] = '\0';
	snprintf(path, sizeof(path), "%s/config.json", dirname(exe));
	return path;
}

/* Reads the command line into sim_opts. */
static void
ParseOptions(int argc, char **argv)
{
	enum
	{
		O_PORT = 1, O_CONFIG, O_SEED, O_CERT, O_KEY, O_BIND, O_CLOCK, O_QUIET,
		O_TTL, O_BACKOFF, O_ATTEMPTS, O_CB_THREADS, O_CBCA, O_CONNTO, O_LATENCY, O_REQTTL, O_HELP
	};
	static const struct option longopts[] = {
		{"port", required_argument, NULL, O_PORT},
		{"config", required_argument, NULL, O_CONFIG},
		{"seed", required_argument, NULL, O_SEED},
		{"tls-cert", required_argument, NULL, O_CERT},
		{"tls-key", required_argument, NULL, O_KEY},
		{"bind", required_argument, NULL, O_BIND},
		{"clock", required_argument, NULL, O_CLOCK},
		{"quiet", no_argument, NULL, O_QUIET},
		{"token-ttl", required_argument, NULL, O_TTL},
		{"callback-backoff-ms", required_argument, NULL, O_BACKOFF},
		{"callback-attempts", required_argument, NULL, O_ATTEMPTS},
		{"callback-threads", required_argument, NULL, O_CB_THREADS},
		{"callback-ca", required_argument, NULL, O_CBCA},
		{"conn-timeout", required_argument, NULL, O_CONNTO},
		{"latency-ms", required_argument, NULL, O_LATENCY},
		{"request-ttl", required_argument, NULL, O_REQTTL},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0}
	};
	int			c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
	{
		switch (c)
		{
			case O_PORT:
				sim_opts.port = (int) NumberArg("--port", optarg, 0, 65535);
				break;
			case O_CONFIG:
				sim_opts.config = optarg;
				break;
			case O_SEED:
				sim_opts.seed = (uint64_t) NumberArg("--seed", optarg, 0, LONG_MAX);
				break;
			case O_CERT:
				sim_opts.tls_cert = optarg;
				break;
			case O_KEY:
				sim_opts.tls_key = optarg;
				break;
			case O_BIND:
				sim_opts.bind = optarg;
				break;
			case O_CLOCK:
				if (!parse_iso8601(optarg, &sim_opts.clock))
				{
					fprintf(stderr, "liveid-sim: --clock: not an ISO 8601 time: \"%s\"\n", optarg);
					exit(2);
				}
				sim_opts.clock_fixed = true;
				break;
			case O_QUIET:
				sim_opts.quiet = true;
				break;
			case O_TTL:
				sim_opts.token_ttl = (int) NumberArg("--token-ttl", optarg, 1, 86400);
				break;
			case O_BACKOFF:
				sim_opts.callback_backoff_ms = (int) NumberArg("--callback-backoff-ms", optarg, 1, 600000);
				break;
			case O_ATTEMPTS:
				sim_opts.callback_attempts = (int) NumberArg("--callback-attempts", optarg, 1, 100);
				break;
			case O_CB_THREADS:
				sim_opts.callback_threads = (int) NumberArg("--callback-threads", optarg, 1, 32);
				break;
			case O_CBCA:
				sim_opts.callback_ca = optarg;
				break;
			case O_CONNTO:
				sim_opts.conn_timeout = (int) NumberArg("--conn-timeout", optarg, 1, 3600);
				break;
			case O_LATENCY:
				sim_opts.latency_ms = (int) NumberArg("--latency-ms", optarg, 0, 60000);
				break;
			case O_REQTTL:
				sim_opts.request_ttl = (int) NumberArg("--request-ttl", optarg, 0, 100000000);
				break;
			case O_HELP:
				fputs(usage, stdout);
				exit(0);
			default:
				fprintf(stderr, "liveid-sim: unknown or incomplete option \"%s\"\n%s",
						argv[optind - 1], usage);
				exit(2);
		}
	}
	if (optind < argc)
	{
		fprintf(stderr, "liveid-sim: unexpected argument \"%s\"\n%s", argv[optind], usage);
		exit(2);
	}
	if (sim_opts.port < 0)
	{
		fprintf(stderr, "liveid-sim: --port is required\n%s", usage);
		exit(2);
	}
	if ((sim_opts.tls_cert == NULL) != (sim_opts.tls_key == NULL))
	{
		fprintf(stderr, "liveid-sim: --tls-cert and --tls-key go together\n");
		exit(2);
	}
	if (sim_opts.config == NULL)
		sim_opts.config = DefaultConfig();
}

int
main(int argc, char **argv)
{
	char		err[512];
	struct MHD_Daemon *d;
	sigset_t	set;
	int			sig;

	ParseOptions(argc, argv);

	/* every thread inherits this mask; main waits for the signals */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!state_load_config(sim_opts.config, err, sizeof(err)))
	{
		fprintf(stderr, "liveid-sim: %s\n", err);
		return 1;
	}
	if (!callback_start())
	{
		fprintf(stderr, "liveid-sim: cannot start the callback thread\n");
		return 1;
	}
	if (!state_sweep_start())
	{
		fprintf(stderr, "liveid-sim: cannot start the sweep thread\n");
		return 1;
	}
	if ((d = server_start(err, sizeof(err))) == NULL)
	{
		fprintf(stderr, "liveid-sim: %s\n", err);
		return 1;
	}
	printf("%d\n", server_port(d));
	fflush(stdout);
	if (!sim_opts.quiet)
		fprintf(stderr, "liveid-sim %s listening on %s://%s:%d (config %s, seed %llu%s)\n",
				SIM_VERSION, sim_opts.tls_cert ? "https" : "http", sim_opts.bind,
				server_port(d), sim_opts.config, (unsigned long long) sim_opts.seed,
				sim_opts.clock_fixed ? ", clock frozen" : "");

	sigwait(&set, &sig);
	sim_stopping = true;
	if (!sim_opts.quiet)
		fprintf(stderr, "liveid-sim: %s received, stopping\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	server_stop(d);
	callback_stop();
	state_sweep_stop();
	state_free();
	return 0;
}
