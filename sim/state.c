/*-------------------------------------------------------------------------
 *
 * state.c
 *		What the simulator remembers: organizations from the config, async
 *		requests and their calls, ConferenceTokens and audit trails.
 *
 * Organizations are read once at start and never change, except for the
 * alert e-mails and the "virtual" organizations made on demand for
 * fault-triggering codes (see fault.c), which have their own lock.  Requests,
 * calls and tokens live in memory under state_lock, found through two hash
 * tables (uId, idConference) so that a long benchmark does not slow down.
 *
 * A request that can no longer change (see request_forgettable) is
 * forgotten --request-ttl seconds later: lookups stop finding it at once,
 * and a sweep thread frees it, taking state_lock for a few hundred hash
 * buckets at a time so that no answer waits long for it.
 *
 * Requests are also linked in creation order (oldest to newest), so that
 * GET /sim/requests lists them without sorting; a forgotten request is
 * unlinked from both at once.
 *
 *-------------------------------------------------------------------------
 */
#include "sim.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

pthread_mutex_t state_lock = PTHREAD_MUTEX_INITIALIZER;

static Organization *orgs;
static int	norgs;

/* virtual organizations and processes, made for fault forms */
typedef struct Virtual
{
	Organization org;
	struct Virtual *next;
} Virtual;

typedef struct VirtualProcess
{
	Process		proc;
	struct VirtualProcess *next;
} VirtualProcess;

static pthread_mutex_t virtual_lock = PTHREAD_MUTEX_INITIALIZER;
static Virtual *virtuals;
static VirtualProcess *virtual_processes;

static const char *virtual_languages[] = {"it", "en"};

#define NBUCKETS 65536

typedef struct CallRef
{
	Call	   *call;
	AsyncRequest *req;
	struct CallRef *next;
} CallRef;

static AsyncRequest *req_buckets[NBUCKETS];
static CallRef *call_buckets[NBUCKETS];

/* number of waiting calls per process, kept by call_set_status */
typedef struct WaitCount
{
	char		process_id[37];
	int			n;
	struct WaitCount *next;
} WaitCount;

static WaitCount *wait_counts;

typedef struct Token
{
	char	   *token;
	char		id_conference[37];
	double		expires;		/* real time, to the microsecond */
	struct Token *next;
} Token;

static Token *tokens;

static AsyncRequest *req_oldest;	/* creation order: oldest ... */
static AsyncRequest *req_newest;	/* ... newest */

static long requests_held;		/* requests in req_buckets */
static long requests_dropped;	/* requests forgotten since the start */
static long requests_pushed;	/* made by pushAsyncCall since the start */

static pthread_t sweep_thread;
static bool sweep_started;

/* FNV-1a of a string, reduced to a bucket. */
static unsigned int
Bucket(const char *s)
{
	uint32_t	h = 2166136261u;

	for (; *s; s++)
	{
		h ^= (unsigned char) *s;
		h *= 16777619u;
	}
	return h % NBUCKETS;
}

/* Copies a JSON array of strings; false (with err) if it is not one. */
static bool
LoadStrings(const cJSON *arr, const char *what, char ***out, int *n,
			char *err, size_t errlen)
{
	int			i = 0;
	const cJSON *it;

	*n = 0;
	*out = NULL;
	if (arr == NULL)
		return true;
	if (!cJSON_IsArray(arr))
	{
		snprintf(err, errlen, "%s must be an array of strings", what);
		return false;
	}
	*out = calloc(cJSON_GetArraySize(arr) + 1, sizeof(char *));
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsString(it))
		{
			snprintf(err, errlen, "%s must be an array of strings", what);
			return false;
		}
		(*out)[i++] = sim_strdup(it->valuestring);
	}
	*n = i;
	return true;
}

/* Reads one organization of the config. */
static bool
LoadOrganization(const cJSON *o, Organization *org, char *err, size_t errlen)
{
	const cJSON *arr,
			   *it;
	int			i;

	if (!cJSON_IsObject(o) || !json_str(o, "code") || !json_str(o, "apiKey"))
	{
		snprintf(err, errlen, "each organization needs \"code\" and \"apiKey\"");
		return false;
	}
	org->code = sim_strdup(json_str(o, "code"));
	org->name = sim_strdup(json_str(o, "name") ? json_str(o, "name") : org->code);
	org->api_key = sim_strdup(json_str(o, "apiKey"));
	if (strncmp(org->code, "FAULT-", 6) == 0)
	{
		snprintf(err, errlen, "organization code %s is reserved for faults", org->code);
		return false;
	}
	if (!LoadStrings(cJSON_GetObjectItem(o, "languages"), "languages",
					 &org->languages, &org->nlanguages, err, errlen) ||
		!LoadStrings(cJSON_GetObjectItem(o, "callbackHosts"), "callbackHosts",
					 &org->callback_hosts, &org->ncallback_hosts, err, errlen))
		return false;

	arr = cJSON_GetObjectItem(o, "processes");
	org->processes = calloc(cJSON_GetArraySize(arr) + 1, sizeof(Process));
	i = 0;
	cJSON_ArrayForEach(it, arr)
	{
		Process    *p = &org->processes[i++];

		if (!is_uuid(json_str(it, "id")))
		{
			snprintf(err, errlen, "organization %s: a process without a UUID \"id\"", org->code);
			return false;
		}
		snprintf(p->id, sizeof(p->id), "%s", json_str(it, "id"));
		p->name = sim_strdup(json_str(it, "name") ? json_str(it, "name") : p->id);
		p->self = cJSON_IsTrue(cJSON_GetObjectItem(it, "self"));
		p->video_recording = cJSON_IsTrue(cJSON_GetObjectItem(it, "videoRecording"));
	}
	org->nprocesses = i;

	arr = cJSON_GetObjectItem(o, "operators");
	org->operators = calloc(cJSON_GetArraySize(arr) + 1, sizeof(Operator));
	i = 0;
	cJSON_ArrayForEach(it, arr)
	{
		Operator   *op = &org->operators[i++];

		if (!is_uuid(json_str(it, "id")))
		{
			snprintf(err, errlen, "organization %s: an operator without a UUID \"id\"", org->code);
			return false;
		}
		snprintf(op->id, sizeof(op->id), "%s", json_str(it, "id"));
		op->name = sim_strdup(json_str(it, "name") ? json_str(it, "name") : "Operator");
		op->email = sim_strdup(json_str(it, "email") ? json_str(it, "email") : "");
		op->external_id = sim_strdup(json_str(it, "externalId") ? json_str(it, "externalId") : "");
	}
	org->noperators = i;
	return true;
}

/* Reads the organizations from the JSON config file. */
bool
state_load_config(const char *path, char *err, size_t errlen)
{
	char	   *text = read_file(path, NULL);
	cJSON	   *root,
			   *arr,
			   *it;
	bool		ok = true;
	int			i = 0;

	if (text == NULL)
	{
		snprintf(err, errlen, "cannot read config %s: %m", path);
		return false;
	}
	root = cJSON_Parse(text);
	free(text);
	arr = cJSON_GetObjectItem(root, "organizations");
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
	{
		snprintf(err, errlen, "config %s: expected {\"organizations\": [ … ]}", path);
		cJSON_Delete(root);
		return false;
	}
	norgs = cJSON_GetArraySize(arr);
	orgs = calloc(norgs, sizeof(Organization));
	cJSON_ArrayForEach(it, arr)
	{
		if (!LoadOrganization(it, &orgs[i++], err, errlen))
		{
			ok = false;
			break;
		}
	}
	cJSON_Delete(root);
	return ok;
}

/* Frees everything (at shutdown, so that leak checkers stay quiet). */
/* Frees a request and its calls (already out of the hash tables). */
static void
RequestFree(AsyncRequest *r)
{
	while (r->calls)
	{
		Call	   *c = r->calls;

		r->calls = c->next;
		free(c->abort_code);
		free(c->note);
		free(c);
	}
	audit_clear(r);
	free(r->method);
	free(r->reject_reason);
	free(r->result);
	cJSON_Delete(r->start);
	free(r);
}

void
state_free(void)
{
	for (int b = 0; b < NBUCKETS; b++)
		while (req_buckets[b])
		{
			AsyncRequest *r = req_buckets[b];

			req_buckets[b] = r->next;
			RequestFree(r);
		}
	requests_held = 0;
	req_oldest = req_newest = NULL;
	for (int b = 0; b < NBUCKETS; b++)
		while (call_buckets[b])
		{
			CallRef    *c = call_buckets[b];

			call_buckets[b] = c->next;
			free(c);
		}
	while (wait_counts)
	{
		WaitCount  *w = wait_counts;

		wait_counts = w->next;
		free(w);
	}
	while (tokens)
	{
		Token	   *t = tokens;

		tokens = t->next;
		free(t->token);
		free(t);
	}
}

/* The organization with this code; a virtual one for a fault code. */
Organization *
org_by_code(const char *code)
{
	Fault		f;
	Virtual    *v;

	if (code == NULL)
		return NULL;
	for (int i = 0; i < norgs; i++)
		if (strcmp(orgs[i].code, code) == 0)
			return &orgs[i];
	if (!fault_parse(code, &f))
		return NULL;

	pthread_mutex_lock(&virtual_lock);
	for (v = virtuals; v; v = v->next)
		if (strcmp(v->org.code, code) == 0)
			break;
	if (v == NULL)
	{
		v = calloc(1, sizeof(Virtual));
		v->org.code = sim_strdup(code);
		v->org.name = sim_strdup(code);
		v->org.api_key = sim_strdup("");
		v->org.languages = (char **) virtual_languages;
		v->org.nlanguages = 2;
		/* a virtual organization borrows the first one's operators */
		v->org.operators = orgs[0].operators;
		v->org.noperators = orgs[0].noperators;
		v->org.is_virtual = true;
		v->next = virtuals;
		virtuals = v;
	}
	pthread_mutex_unlock(&virtual_lock);
	return &v->org;
}

/* The organization whose API key this is, or NULL. */
Organization *
org_by_api_key(const char *key)
{
	if (key == NULL || *key == '\0')
		return NULL;
	for (int i = 0; i < norgs; i++)
		if (strcmp(orgs[i].api_key, key) == 0)
			return &orgs[i];
	return NULL;
}

/*
 * A process of the organization; fault process ids belong to every
 * organization and a virtual organization accepts any UUID (as a live
 * process without video recording).
 */
const Process *
org_process(const Organization *org, const char *uuid)
{
	Fault		f;
	VirtualProcess *vp;

	if (org == NULL || !is_uuid(uuid))
		return NULL;
	for (int i = 0; i < org->nprocesses; i++)
		if (strcasecmp(org->processes[i].id, uuid) == 0)
			return &org->processes[i];
	if (!org->is_virtual && !fault_parse(uuid, &f))
		return NULL;

	pthread_mutex_lock(&virtual_lock);
	for (vp = virtual_processes; vp; vp = vp->next)
		if (strcasecmp(vp->proc.id, uuid) == 0)
			break;
	if (vp == NULL)
	{
		vp = calloc(1, sizeof(VirtualProcess));
		snprintf(vp->proc.id, sizeof(vp->proc.id), "%s", uuid);
		vp->proc.name = sim_strdup("Simulated process");
		vp->next = virtual_processes;
		virtual_processes = vp;
	}
	pthread_mutex_unlock(&virtual_lock);
	return &vp->proc;
}

/* An operator of the organization by id, or NULL. */
const Operator *
org_operator(const Organization *org, const char *uuid)
{
	if (org == NULL || uuid == NULL)
		return NULL;
	for (int i = 0; i < org->noperators; i++)
		if (strcasecmp(org->operators[i].id, uuid) == 0)
			return &org->operators[i];
	return NULL;
}

int
org_count(void)
{
	return norgs;
}

Organization *
org_at(int i)
{
	return (i >= 0 && i < norgs) ? &orgs[i] : NULL;
}

/* Creates an async request (state_lock held); start is taken over. */
AsyncRequest *
request_create(Organization *org, const char *process_id, const char *method,
			   time_t expire, cJSON *start)
{
	AsyncRequest *r = calloc(1, sizeof(AsyncRequest));
	unsigned int b;

	new_uuid(r->uid);
	r->org = org;
	snprintf(r->process_id, sizeof(r->process_id), "%s", process_id);
	r->method = sim_strdup(method);
	r->created = sim_now();
	r->expire = expire;
	r->start = start;
	b = Bucket(r->uid);
	r->next = req_buckets[b];
	req_buckets[b] = r;
	r->older = req_newest;
	if (req_newest)
		req_newest->newer = r;
	else
		req_oldest = r;
	req_newest = r;
	requests_held++;
	/* pushAsyncCall's methods are start and live; service-start's is sync */
	if (strcmp(method, "sync") != 0)
		requests_pushed++;
	audit_add(r, "request_created", "method %s", method);
	return r;
}

/* Takes a request out of the creation order (state_lock held). */
static void
UnlinkOrder(AsyncRequest *r)
{
	if (r->older)
		r->older->newer = r->newer;
	else
		req_oldest = r->newer;
	if (r->newer)
		r->newer->older = r->older;
	else
		req_newest = r->older;
	r->older = r->newer = NULL;
}

/* The first request from r on, newer and newer, still held (lock held). */
static AsyncRequest *
HeldFrom(AsyncRequest *r)
{
	double		now = sim_now_precise();

	while (r && request_forgettable(r, now))
		r = r->newer;
	return r;
}

/*
 * The oldest request held (state_lock held); with request_newer() it walks
 * them in creation order, skipping the forgettable ones as request_find does.
 */
AsyncRequest *
request_oldest(void)
{
	return HeldFrom(req_oldest);
}

/* The next newer request held after req, or NULL (state_lock held). */
AsyncRequest *
request_newer(const AsyncRequest *req)
{
	return HeldFrom(req->newer);
}

/* Finds a request by uId (state_lock held). */
AsyncRequest *
request_find(const char *uid)
{
	if (uid == NULL)
		return NULL;
	for (AsyncRequest *r = req_buckets[Bucket(uid)]; r; r = r->next)
		if (strcasecmp(r->uid, uid) == 0)
			return request_forgettable(r, sim_now_precise()) ? NULL : r;
	return NULL;
}

/* The waiting counter of a process, made on first use. */
static WaitCount *
WaitCounter(const char *process_id)
{
	WaitCount  *w;

	for (w = wait_counts; w; w = w->next)
		if (strcasecmp(w->process_id, process_id) == 0)
			return w;
	w = calloc(1, sizeof(WaitCount));
	snprintf(w->process_id, sizeof(w->process_id), "%s", process_id);
	w->next = wait_counts;
	wait_counts = w;
	return w;
}

/* A new waiting call of a request, findable by call_find (state_lock held). */
Call *
call_create(AsyncRequest *req)
{
	Call	   *call = calloc(1, sizeof(Call));
	CallRef    *ref = calloc(1, sizeof(CallRef));
	unsigned int b;

	new_uuid(call->id_conference);
	call->status = CALL_WAITING;
	call->start_date = sim_now();
	call->next = req->calls;
	req->calls = call;
	WaitCounter(req->process_id)->n++;

	b = Bucket(call->id_conference);
	ref->call = call;
	ref->req = req;
	ref->next = call_buckets[b];
	call_buckets[b] = ref;
	return call;
}

/* Moves a call to a new status, keeping the waiting counters (lock held). */
void
call_set_status(AsyncRequest *req, Call *call, CallStatus status)
{
	if (call->status == CALL_WAITING && status != CALL_WAITING)
		WaitCounter(req->process_id)->n--;
	call->status = status;
	if (status != CALL_WAITING && status != CALL_ANSWERED)
	{
		if (call->end_date == 0)
			call->end_date = sim_now();
		req->settled = sim_now_precise();
	}
}

/* Finds a call by idConference (state_lock held). */
Call *
call_find(const char *id_conference, AsyncRequest **req_out)
{
	if (id_conference == NULL)
		return NULL;
	for (CallRef *c = call_buckets[Bucket(id_conference)]; c; c = c->next)
		if (strcasecmp(c->call->id_conference, id_conference) == 0)
		{
			if (request_forgettable(c->req, sim_now_precise()))
				return NULL;
			if (req_out)
				*req_out = c->req;
			return c->call;
		}
	return NULL;
}

/* After its expiry, a request's waiting calls are expired. */
void
request_refresh(AsyncRequest *req)
{
	double		settled = req->settled;
	bool		expired = false;

	if (req->expire == 0 || sim_now() < req->expire)
		return;
	for (Call *c = req->calls; c; c = c->next)
		if (c->status == CALL_WAITING)
		{
			c->end_date = req->expire;
			call_set_status(req, c, CALL_EXPIRED);
			audit_add(req, "call_expired", "call %s expired", c->id_conference);
			expired = true;
		}
	/* the calls ended at the expiry, not when it was noticed */
	if (expired)
		req->settled = settled > req->expire ? settled : req->expire;
}

/*
 * Whether a request can be forgotten at real time real_now (state_lock
 * held): it is finished -- no call waiting or answered, and no new call can
 * come, because it was rejected, or its latest call closed with N, or its
 * expire has passed -- and has been since more than --request-ttl seconds.
 * It has been finished since the later of the end of its last call (or its
 * rejection) and its expire, if that is why.
 */
bool
request_forgettable(AsyncRequest *req, double real_now)
{
	double		since = req->settled;
	bool		expired;

	if (sim_opts.request_ttl <= 0)
		return false;
	request_refresh(req);
	for (Call *c = req->calls; c; c = c->next)
		if (c->status == CALL_WAITING || c->status == CALL_ANSWERED)
			return false;
	expired = req->expire != 0 && sim_now() >= req->expire;
	if (!req->rejected && !expired &&
		!(req->calls && req->calls->status == CALL_CLOSED &&
		  req->calls->close_status == 'N'))
		return false;
	if (expired && req->expire > since)
		since = req->expire;
	return real_now - since > sim_opts.request_ttl;
}

/* Takes a request's calls out of the idConference table (state_lock held). */
static void
UnindexCalls(AsyncRequest *req)
{
	for (Call *c = req->calls; c; c = c->next)
		for (CallRef **prev = &call_buckets[Bucket(c->id_conference)]; *prev;
			 prev = &(*prev)->next)
			if ((*prev)->call == c)
			{
				CallRef    *dead = *prev;

				*prev = dead->next;
				free(dead);
				break;
			}
}

#define SWEEP_BATCH 512			/* hash buckets looked at per lock hold */

/*
 * The sweep: every second (a quarter of --request-ttl if shorter), every
 * bucket of the uId table, SWEEP_BATCH at a time under state_lock;
 * forgettable requests are unlinked under the lock and freed after it.
 */
static void *
SweepLoop(void *arg)
{
	while (!sim_stopping)
	{
		for (int b0 = 0; b0 < NBUCKETS && !sim_stopping; b0 += SWEEP_BATCH)
		{
			AsyncRequest *dead = NULL;
			double		now = sim_now_precise();

			pthread_mutex_lock(&state_lock);
			for (int b = b0; b < b0 + SWEEP_BATCH && b < NBUCKETS; b++)
				for (AsyncRequest **prev = &req_buckets[b]; *prev;)
				{
					AsyncRequest *r = *prev;

					if (request_forgettable(r, now))
					{
						*prev = r->next;
						UnlinkOrder(r);
						UnindexCalls(r);
						r->next = dead;
						dead = r;
						requests_held--;
						requests_dropped++;
					}
					else
						prev = &r->next;
				}
			pthread_mutex_unlock(&state_lock);
			while (dead)
			{
				AsyncRequest *r = dead;

				dead = r->next;
				RequestFree(r);
			}
		}
		sleep_ms_interruptible(sim_opts.request_ttl < 4 ? sim_opts.request_ttl * 250 : 1000);
	}
	return NULL;
}

/* Starts the sweep thread, unless requests are kept forever. */
bool
state_sweep_start(void)
{
	if (sim_opts.request_ttl <= 0)
		return true;
	if (pthread_create(&sweep_thread, NULL, SweepLoop, NULL) != 0)
		return false;
	sweep_started = true;
	return true;
}

/* Waits for the sweep thread to end (sim_stopping set). */
void
state_sweep_stop(void)
{
	if (sweep_started)
		pthread_join(sweep_thread, NULL);
	sweep_started = false;
}

/* Requests held now, forgotten and pushed since the start. */
void
request_counts(long *held, long *dropped, long *pushed)
{
	pthread_mutex_lock(&state_lock);
	*held = requests_held;
	*dropped = requests_dropped;
	*pushed = requests_pushed;
	pthread_mutex_unlock(&state_lock);
}

/* Appends an entry to a request's audit trail (state_lock held). */
void
audit_add(AsyncRequest *req, const char *event, const char *fmt,...)
{
	AuditEntry *a = calloc(1, sizeof(AuditEntry));
	AuditEntry **tail = &req->audit;
	char		buf[512];
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	a->date = sim_now();
	a->event = sim_strdup(event);
	a->detail = sim_strdup(buf);
	while (*tail)
		tail = &(*tail)->next;
	*tail = a;
}

/* Deletes a request's audit trail (state_lock held). */
void
audit_clear(AsyncRequest *req)
{
	while (req->audit)
	{
		AuditEntry *a = req->audit;

		req->audit = a->next;
		free(a->event);
		free(a->detail);
		free(a);
	}
}

/* A call as getAsyncRequestInfo shows it (state_lock held). */
cJSON *
call_json(const Call *c)
{
	cJSON	   *o = cJSON_CreateObject();
	char		cs[2] = {c->close_status, 0};

	cJSON_AddStringToObject(o, "idConference", c->id_conference);
	cJSON_AddStringToObject(o, "status", call_status_name(c->status));
	if (c->close_status)
		cJSON_AddStringToObject(o, "closeStatus", cs);
	else
		cJSON_AddNullToObject(o, "closeStatus");
	json_add_date(o, "startDate", c->start_date);
	json_add_date(o, "endDate", c->end_date);
	return o;
}

/* The status's name as getAsyncRequestInfo spells it. */
const char *
call_status_name(CallStatus s)
{
	switch (s)
	{
		case CALL_WAITING:
			return "waiting";
		case CALL_ANSWERED:
			return "answered";
		case CALL_CLOSED:
			return "closed";
		case CALL_CANCELLED:
			return "cancelled";
		case CALL_EXPIRED:
			return "expired";
	}
	return "unknown";
}

/*
 * Issues a JWT-shaped ConferenceToken for a conference (state_lock held):
 * header and payload are real base64url JSON, the signature random bytes.
 */
char *
token_issue(const char *id_conference)
{
	static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
	char		payload[256];
	unsigned char sig[32];
	char	   *h,
			   *p,
			   *s,
			   *out;
	time_t		now = time(NULL);
	Token	   *t,
			  **prev;
	size_t		len;

	snprintf(payload, sizeof(payload),
			 "{\"idConference\":\"%s\",\"iat\":%ld,\"exp\":%ld}",
			 id_conference, (long) now, (long) (now + sim_opts.token_ttl));
	random_bytes(sig, sizeof(sig));
	h = base64_encode((const unsigned char *) header, strlen(header), true);
	p = base64_encode((const unsigned char *) payload, strlen(payload), true);
	s = base64_encode(sig, sizeof(sig), true);
	len = strlen(h) + strlen(p) + strlen(s) + 3;
	out = malloc(len);
	snprintf(out, len, "%s.%s.%s", h, p, s);
	free(h);
	free(p);
	free(s);

	/* forget tokens long expired, then remember this one */
	for (prev = &tokens; *prev;)
	{
		if ((*prev)->expires + 3600 < now)
		{
			Token	   *dead = *prev;

			*prev = dead->next;
			free(dead->token);
			free(dead);
		}
		else
			prev = &(*prev)->next;
	}
	t = calloc(1, sizeof(Token));
	t->token = sim_strdup(out);
	snprintf(t->id_conference, sizeof(t->id_conference), "%s", id_conference);
	/*
	 * to the microsecond, not the second: a 1-second token issued late in
	 * a second must not expire at the next tick
	 */
	t->expires = sim_now_precise() + sim_opts.token_ttl;
	t->next = tokens;
	tokens = t;
	return out;
}

/* Checks a Bearer token against a conference (state_lock held). */
int
token_check(const char *token, const char *id_conference)
{
	if (token == NULL || !is_jwt_shaped(token))
		return 1;
	for (Token *t = tokens; t; t = t->next)
		if (strcmp(t->token, token) == 0)
		{
			if (id_conference == NULL || strcasecmp(t->id_conference, id_conference) != 0)
				return 3;
			if (sim_now_precise() >= t->expires)
				return 2;
			return 0;
		}
	return 1;
}

/* Number of calls waiting for a process (state_lock held). */
int
waiting_calls(const char *process_id)
{
	for (WaitCount *w = wait_counts; w; w = w->next)
		if (strcasecmp(w->process_id, process_id) == 0)
			return w->n;
	return 0;
}
