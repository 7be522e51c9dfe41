/*-------------------------------------------------------------------------
 *
 * outage.c
 *		A transient outage of the LiveID+ API (POST /sim/outage): for the
 *		next N requests, or for S seconds, or until either runs out, every
 *		/api/ request is answered with one HTTP status and a JSON error,
 *		and nothing else is done.
 *
 * server.c asks outage_take() about every /api/ request before routing
 * it, so an outage answer creates, changes and checks nothing (no apikey,
 * no body); it still waits for the API latency like any /api/ answer and
 * is counted in the status classes of /sim/stats, and here as an outage
 * answer.  The /sim/ control endpoints and the /app/ pages never see it.
 * The outage is a few numbers under outage_lock, held only to read or
 * change them; the time limit is real time, also with --clock.
 *
 *-------------------------------------------------------------------------
 */
#include "sim.h"

#include <stdatomic.h>

static pthread_mutex_t outage_lock = PTHREAD_MUTEX_INITIALIZER;
static int	outage_status;		/* 0: no outage */
static long outage_requests;	/* answers left; -1: not limited by count */
static double outage_until;		/* real time it ends; 0: not limited by time */
static atomic_long outage_answers;	/* outage answers since the start */

/* Ends the outage (outage_lock held). */
static void
EndOutage(void)
{
	outage_status = 0;
	outage_requests = -1;
	outage_until = 0;
}

/* Whether an outage is in force now; ends one that ran out (lock held). */
static bool
OutageActive(double now)
{
	if (outage_status == 0)
		return false;
	if (outage_requests == 0 || (outage_until > 0 && now >= outage_until))
	{
		EndOutage();
		return false;
	}
	return true;
}

/*
 * Starts an outage answering status (400..599) for the next `requests`
 * /api/ requests (-1: any number) and `seconds` seconds from now (0: no
 * time limit); status 0 ends the outage in force.  At least one limit is
 * the caller's business (control.c checks the body).
 */
void
outage_set(int status, long requests, double seconds)
{
	pthread_mutex_lock(&outage_lock);
	if (status == 0)
		EndOutage();
	else
	{
		outage_status = status;
		outage_requests = requests;
		outage_until = seconds > 0 ? sim_now_precise() + seconds : 0;
	}
	pthread_mutex_unlock(&outage_lock);
}

/*
 * Called for every /api/ request: true, with the status to answer, when an
 * outage takes this request (it then counts against the outage's requests).
 */
bool
outage_take(int *status)
{
	bool		taken = false;

	pthread_mutex_lock(&outage_lock);
	if (OutageActive(sim_now_precise()))
	{
		*status = outage_status;
		if (outage_requests > 0)
			outage_requests--;
		taken = true;
	}
	pthread_mutex_unlock(&outage_lock);
	if (taken)
		atomic_fetch_add(&outage_answers, 1);
	return taken;
}

/*
 * The outage in force, as /sim/outage answers it, added to obj:
 * "active", and while active "status", "requests" (answers left, or null
 * without a count) and "seconds" (left, or null without a time limit).
 */
void
outage_add_json(cJSON *obj)
{
	double		now = sim_now_precise();

	pthread_mutex_lock(&outage_lock);
	if (!OutageActive(now))
		cJSON_AddFalseToObject(obj, "active");
	else
	{
		cJSON_AddTrueToObject(obj, "active");
		cJSON_AddNumberToObject(obj, "status", outage_status);
		if (outage_requests >= 0)
			cJSON_AddNumberToObject(obj, "requests", (double) outage_requests);
		else
			cJSON_AddNullToObject(obj, "requests");
		if (outage_until > 0)
			cJSON_AddNumberToObject(obj, "seconds",
									(double) (long) ((outage_until - now) * 1000.0) / 1000.0);
		else
			cJSON_AddNullToObject(obj, "seconds");
	}
	pthread_mutex_unlock(&outage_lock);
}

/* Outage answers sent since the start (GET /sim/stats: outageAnswers). */
long
outage_answer_count(void)
{
	return atomic_load(&outage_answers);
}
