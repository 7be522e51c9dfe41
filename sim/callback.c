/*-------------------------------------------------------------------------
 *
 * callback.c
 *		The outbound server callback: POSTed by delivery threads that
 *		retry with back-off while the receiver fails.
 *
 * A delivery is queued when a call closes or fails (control.c).  Each of
 * the --callback-threads threads (default 1: one delivery at a time) takes
 * the oldest due delivery no other thread is sending, POSTs it with its own
 * libcurl handle, its connection kept alive (redirects not
 * followed, short timeouts), and on anything but a 2xx schedules the next
 * attempt after --callback-backoff-ms, doubling up to 60 s.  After
 * --callback-attempts failures it gives up and "sends" the alert e-mails
 * registered for the process (registerAlertEmail), which /sim/alerts shows.
 * Deliveries are kept for /sim/callbacks, a delivered or given-up one for
 * --request-ttl seconds (0: forever); bodies are never logged (they
 * carry the ConferenceToken).
 *
 *-------------------------------------------------------------------------
 */
#include "sim.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct Delivery
{
	char	   *url;
	char		id_conference[37];
	char		process_id[37];
	char	   *event;
	char	   *body;
	int			attempts;
	bool		delivered;
	bool		gave_up;
	bool		sending;		/* a thread is posting it now */
	long		last_status;
	char		last_error[CURL_ERROR_SIZE];
	double		next_at;
	double		queued_at;
	double		done_at;		/* delivered or given up then */
	struct Delivery *next;
} Delivery;

typedef struct Alert
{
	char		process_id[37];
	char	   *emails;
	struct Alert *next;
} Alert;

typedef struct SentAlert
{
	char	   *emails;
	char	   *subject;
	time_t		date;
	struct SentAlert *next;
} SentAlert;

static pthread_mutex_t cb_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cb_cond = PTHREAD_COND_INITIALIZER;
static pthread_t *cb_threads;
static int	cb_nthreads;
static bool cb_running;
static Delivery *deliveries;	/* oldest first */
static long ndeliveries;
static Alert *alerts;
static SentAlert *sent_alerts;

/* Discards the receiver's answer. */
static size_t
DiscardBody(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	return size * nmemb;
}

/* POSTs one attempt; returns the HTTP status (0 when none came back). */
static long
PostOnce(CURL *curl, const char *url, const char *body, char *errbuf)
{
	struct curl_slist *headers = NULL;
	long		status = 0;
	CURLcode	rc;

	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "User-Agent: LiveID+ (liveid-sim " SIM_VERSION ")");
	curl_easy_reset(curl);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, DiscardBody);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
	if (sim_opts.callback_ca)
		curl_easy_setopt(curl, CURLOPT_CAINFO, sim_opts.callback_ca);
	errbuf[0] = '\0';
	rc = curl_easy_perform(curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	else if (errbuf[0] == '\0')
		snprintf(errbuf, CURL_ERROR_SIZE, "%s", curl_easy_strerror(rc));
	curl_slist_free_all(headers);
	return status;
}

/* Records the alert e-mail sent when a delivery is given up (cb_lock held). */
static void
SendAlert(const Delivery *d)
{
	for (Alert *a = alerts; a; a = a->next)
		if (strcasecmp(a->process_id, d->process_id) == 0)
		{
			SentAlert  *s = calloc(1, sizeof(SentAlert));
			char		subject[256];

			snprintf(subject, sizeof(subject),
					 "LiveID+ server callback failed for conference %s after %d attempts",
					 d->id_conference, d->attempts);
			s->emails = sim_strdup(a->emails);
			s->subject = sim_strdup(subject);
			s->date = sim_now();
			s->next = sent_alerts;
			sent_alerts = s;
			if (!sim_opts.quiet)
				fprintf(stderr, "liveid-sim: alert e-mail to %s: %s\n", a->emails, subject);
			return;
		}
}

/* The delivery thread's loop. */
static void *
DeliveryLoop(void *arg)
{
	CURL	   *curl = curl_easy_init();
	char		errbuf[CURL_ERROR_SIZE];

	pthread_mutex_lock(&cb_lock);
	while (cb_running)
	{
		double		now = sim_now_precise(),
					earliest = now + 0.5;
		Delivery   *due = NULL;

		for (Delivery **prev = &deliveries, *d; (d = *prev) != NULL;
			 prev = &d->next)
		{
			/* forget what is over and older than --request-ttl */
			while ((d->delivered || d->gave_up) && sim_opts.request_ttl > 0 &&
				   now - d->done_at > sim_opts.request_ttl)
			{
				*prev = d->next;
				free(d->url);
				free(d->event);
				free(d->body);
				free(d);
				ndeliveries--;
				if ((d = *prev) == NULL)
					break;
			}
			if (d == NULL)
				break;
			if (d->delivered || d->gave_up || d->sending)
				continue;
			if (d->next_at <= now)
			{
				due = d;
				break;
			}
			if (d->next_at < earliest)
				earliest = d->next_at;
		}
		if (due == NULL)
		{
			struct timespec ts;

			ts.tv_sec = (time_t) earliest;
			ts.tv_nsec = (long) ((earliest - ts.tv_sec) * 1e9);
			pthread_cond_timedwait(&cb_cond, &cb_lock, &ts);
			continue;
		}

		/* the attempt itself runs without the lock */
		{
			char	   *url = sim_strdup(due->url);
			char	   *body = sim_strdup(due->body);
			long		status;

			due->sending = true;
			pthread_mutex_unlock(&cb_lock);
			status = PostOnce(curl, url, body, errbuf);
			free(url);
			free(body);
			pthread_mutex_lock(&cb_lock);
			due->sending = false;
			/* another thread may now find a delivery this one passed over */
			pthread_cond_broadcast(&cb_cond);

			due->attempts++;
			due->last_status = status;
			snprintf(due->last_error, sizeof(due->last_error), "%s",
					 status ? "" : errbuf);
			if (status >= 200 && status < 300)
			{
				due->delivered = true;
				due->done_at = sim_now_precise();
			}
			else if (due->attempts >= sim_opts.callback_attempts)
			{
				due->gave_up = true;
				due->done_at = sim_now_precise();
				SendAlert(due);
			}
			else
			{
				double		delay = sim_opts.callback_backoff_ms / 1000.0;

				for (int i = 1; i < due->attempts && delay < 60.0; i++)
					delay *= 2;
				due->next_at = sim_now_precise() + (delay > 60.0 ? 60.0 : delay);
			}
			if (!sim_opts.quiet)
				fprintf(stderr, "liveid-sim: callback %s %s attempt %d: %s%ld%s%s\n",
						due->event, due->id_conference, due->attempts,
						status ? "HTTP " : "", status,
						status ? "" : " ", status ? "" : due->last_error);
		}
	}
	pthread_mutex_unlock(&cb_lock);
	curl_easy_cleanup(curl);
	return NULL;
}

/* Starts the delivery threads. */
bool
callback_start(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return false;
	cb_running = true;
	cb_threads = calloc(sim_opts.callback_threads, sizeof(pthread_t));
	if (cb_threads == NULL)
		return false;
	for (cb_nthreads = 0; cb_nthreads < sim_opts.callback_threads; cb_nthreads++)
		if (pthread_create(&cb_threads[cb_nthreads], NULL, DeliveryLoop, NULL) != 0)
			return false;
	return true;
}

/* Stops the delivery threads and frees the log. */
void
callback_stop(void)
{
	pthread_mutex_lock(&cb_lock);
	cb_running = false;
	pthread_cond_broadcast(&cb_cond);
	pthread_mutex_unlock(&cb_lock);
	for (int i = 0; i < cb_nthreads; i++)
		pthread_join(cb_threads[i], NULL);
	free(cb_threads);
	cb_threads = NULL;
	cb_nthreads = 0;
	while (deliveries)
	{
		Delivery   *d = deliveries;

		deliveries = d->next;
		free(d->url);
		free(d->event);
		free(d->body);
		free(d);
	}
	while (alerts)
	{
		Alert	   *a = alerts;

		alerts = a->next;
		free(a->emails);
		free(a);
	}
	while (sent_alerts)
	{
		SentAlert  *s = sent_alerts;

		sent_alerts = s->next;
		free(s->emails);
		free(s->subject);
		free(s);
	}
	curl_global_cleanup();
}

/* Queues a delivery, due at once. */
void
callback_enqueue(const char *url, const char *id_conference,
				 const char *process_id, const char *event, char *body)
{
	Delivery   *d = calloc(1, sizeof(Delivery));
	Delivery  **tail;

	d->url = sim_strdup(url);
	snprintf(d->id_conference, sizeof(d->id_conference), "%s", id_conference);
	snprintf(d->process_id, sizeof(d->process_id), "%s", process_id);
	d->event = sim_strdup(event);
	d->body = body;
	d->queued_at = d->next_at = sim_now_precise();
	pthread_mutex_lock(&cb_lock);
	for (tail = &deliveries; *tail; tail = &(*tail)->next)
		;
	*tail = d;
	ndeliveries++;
	pthread_cond_signal(&cb_cond);
	pthread_mutex_unlock(&cb_lock);
}

/* Registers (replacing) the alert addresses of a process. */
void
alerts_register(const char *process_id, const char *emails)
{
	Alert	   *a;

	pthread_mutex_lock(&cb_lock);
	for (a = alerts; a; a = a->next)
		if (strcasecmp(a->process_id, process_id) == 0)
			break;
	if (a == NULL)
	{
		a = calloc(1, sizeof(Alert));
		snprintf(a->process_id, sizeof(a->process_id), "%s", process_id);
		a->next = alerts;
		alerts = a;
	}
	free(a->emails);
	a->emails = sim_strdup(emails);
	pthread_mutex_unlock(&cb_lock);
}

/* Deliveries held now, for GET /sim/stats. */
long
callback_count(void)
{
	long		n;

	pthread_mutex_lock(&cb_lock);
	n = ndeliveries;
	pthread_mutex_unlock(&cb_lock);
	return n;
}

/* Every delivery held, for GET /sim/callbacks. */
cJSON *
callback_log_json(void)
{
	cJSON	   *o = cJSON_CreateObject();
	cJSON	   *arr = cJSON_AddArrayToObject(o, "callbacks");

	cJSON_AddTrueToObject(o, "success");
	pthread_mutex_lock(&cb_lock);
	for (Delivery *d = deliveries; d; d = d->next)
	{
		cJSON	   *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "url", d->url);
		cJSON_AddStringToObject(e, "event", d->event);
		cJSON_AddStringToObject(e, "idConference", d->id_conference);
		cJSON_AddStringToObject(e, "processId", d->process_id);
		cJSON_AddNumberToObject(e, "attempts", d->attempts);
		cJSON_AddBoolToObject(e, "delivered", d->delivered);
		cJSON_AddBoolToObject(e, "gaveUp", d->gave_up);
		if (d->last_status)
			cJSON_AddNumberToObject(e, "lastStatus", d->last_status);
		else
			cJSON_AddNullToObject(e, "lastStatus");
		cJSON_AddStringToObject(e, "lastError", d->last_error);
		cJSON_AddItemToArray(arr, e);
	}
	pthread_mutex_unlock(&cb_lock);
	return o;
}

/* Alert e-mails "sent", for GET /sim/alerts. */
cJSON *
alerts_log_json(void)
{
	cJSON	   *o = cJSON_CreateObject();
	cJSON	   *arr = cJSON_AddArrayToObject(o, "alerts");

	cJSON_AddTrueToObject(o, "success");
	pthread_mutex_lock(&cb_lock);
	for (SentAlert *s = sent_alerts; s; s = s->next)
	{
		cJSON	   *e = cJSON_CreateObject();
		char		date[32];

		format_iso8601(s->date, date, sizeof(date));
		cJSON_AddStringToObject(e, "to", s->emails);
		cJSON_AddStringToObject(e, "subject", s->subject);
		cJSON_AddStringToObject(e, "date", date);
		cJSON_AddItemToArray(arr, e);
	}
	pthread_mutex_unlock(&cb_lock);
	return o;
}
