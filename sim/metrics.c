/*-------------------------------------------------------------------------
 *
 * metrics.c
 *		Simulated traffic: operators on duty, queue lengths, waiting times.
 *
 * A working day has a rhythm, in Europe/Rome time: operators arrive from
 * 08:00, are busiest mid-morning and mid-afternoon, thin out at lunch and
 * leave by 20:00; Saturday has a short morning shift; nights and Sundays
 * are empty.  Every figure is a function of (seed, organization or process,
 * time slot) only, through a hash, so a seed and a clock reproduce it.
 *
 *-------------------------------------------------------------------------
 */
#include "sim.h"

#include <math.h>
#include <string.h>

/* splitmix64: a good 64-bit mix. */
static uint64_t
Mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* A reproducible number in [0, 1) for (seed, key, slot, salt). */
static double
Noise(const char *key, int64_t slot, int salt)
{
	uint64_t	h = Mix(sim_opts.seed ^ 0x4c49564549442bULL);

	for (const char *p = key; *p; p++)
		h = Mix(h ^ (unsigned char) *p);
	h = Mix(h ^ (uint64_t) slot);
	h = Mix(h ^ (uint64_t) salt);
	return (h >> 11) * (1.0 / 9007199254740992.0);
}

/* Day of month of the last Sunday of a month (UTC calendar). */
static int
LastSunday(int year, int month)
{
	struct tm	tm = {0};
	time_t		t;

	tm.tm_year = year - 1900;
	tm.tm_mon = month;			/* the first of the next month ... */
	tm.tm_mday = 1;
	t = timegm(&tm) - 86400;	/* ... minus one day */
	gmtime_r(&t, &tm);
	return tm.tm_mday - tm.tm_wday;
}

/* Rome's offset from UTC at t: CET, or CEST between the EU switch dates. */
static int
RomeOffset(time_t t)
{
	struct tm	tm,
				start = {0},
				end = {0};
	time_t		ts,
				te;

	gmtime_r(&t, &tm);
	start.tm_year = end.tm_year = tm.tm_year;
	start.tm_mon = 2;
	start.tm_mday = LastSunday(tm.tm_year + 1900, 2);
	start.tm_hour = 1;
	end.tm_mon = 9;
	end.tm_mday = LastSunday(tm.tm_year + 1900, 9);
	end.tm_hour = 1;
	ts = timegm(&start);
	te = timegm(&end);
	return (t >= ts && t < te) ? 7200 : 3600;
}

/* Local hour (fractional) and weekday (0 = Sunday) in Rome at t. */
static void
RomeTime(time_t t, double *hour, int *wday)
{
	time_t		local = t + RomeOffset(t);
	struct tm	tm;

	gmtime_r(&local, &tm);
	*hour = tm.tm_hour + tm.tm_min / 60.0 + tm.tm_sec / 3600.0;
	*wday = tm.tm_wday;
}

/* The share of operators on duty at a local hour and weekday, 0..1. */
static double
Staffing(double h, int wday)
{
	if (wday == 0)
		return 0.0;
	if (wday == 6)
		return (h >= 9.0 && h < 13.0) ? 0.4 : 0.0;
	if (h < 8.0 || h >= 20.0)
		return 0.0;
	if (h < 9.0)
		return 0.3 + 0.5 * (h - 8.0);
	if (h < 12.5)
		return 0.9;
	if (h < 14.0)
		return 0.55;
	if (h < 17.5)
		return 0.9;
	if (h < 19.0)
		return 0.65;
	return 0.35;
}

/* Customer demand at a local hour: peaks mid-morning and mid-afternoon. */
static double
Demand(double h, int wday)
{
	double		base = Staffing(h, wday);

	if (base == 0.0)
		return 0.0;
	return base * (0.75 + 0.25 * sin((h - 8.0) / 12.0 * 2.0 * M_PI * 2.0 - M_PI / 2.0) + 0.25);
}

/* Operators available (on duty and not in a call) for an organization. */
int
metrics_available_operators(const Organization *org, time_t t)
{
	double		h;
	int			wday,
				on_duty,
				busy;
	int64_t		minute = t / 60;

	RomeTime(t, &h, &wday);
	on_duty = (int) lround(Staffing(h, wday) * org->noperators);
	if (on_duty == 0)
		return 0;
	busy = (int) floor(on_duty * Demand(h, wday) * (0.3 + 0.6 * Noise(org->code, minute, 1)));
	return on_duty - busy > 0 ? on_duty - busy : 0;
}

/* People in the queue of a process: simulated demand plus real waiting calls. */
int
metrics_queue(const char *process_id, time_t t)
{
	double		h;
	int			wday,
				real;
	int64_t		minute = t / 60;
	int			simulated;

	RomeTime(t, &h, &wday);
	simulated = (int) floor(Demand(h, wday) * 7.0 * Noise(process_id, minute, 2));
	pthread_mutex_lock(&state_lock);
	real = waiting_calls(process_id);
	pthread_mutex_unlock(&state_lock);
	return simulated + real;
}

/*
 * Average waiting seconds and number of calls of an organization in
 * [from, to), summed over ten-minute slots (one-minute slots for spans of
 * two hours or less).
 */
void
metrics_waiting(const Organization *org, time_t from, time_t to,
				double *avg_seconds, int *calls)
{
	time_t		step = (to - from <= 7200) ? 60 : 600;
	double		total_calls = 0.0,
				weighted = 0.0;
	double		rate = (org->noperators > 0 ? org->noperators : 1) * 2.5;	/* calls/hour */

	for (time_t t = from; t < to; t += step)
	{
		double		h,
					d,
					n,
					wait;
		int			wday;

		RomeTime(t, &h, &wday);
		d = Demand(h, wday);
		if (d == 0.0)
			continue;
		n = d * rate * (step / 3600.0) * (0.6 + 0.8 * Noise(org->code, t / step, 3));
		wait = 8.0 + 90.0 * d * (0.5 + Noise(org->code, t / step, 4));
		total_calls += n;
		weighted += n * wait;
	}
	*calls = (int) lround(total_calls);
	*avg_seconds = total_calls > 0.0 ? round(weighted / total_calls * 10.0) / 10.0 : 0.0;
}
