/*-------------------------------------------------------------------------
 *
 * api.c
 *		The LiveID+ endpoints, as liveid-api.md describes them.
 *
 * Every /api/ call is authenticated by the organization's key in the
 * `apikey` header (401 without it; 403 when it names another organization's
 * data); the ConferenceToken endpoints take a Bearer token instead.  The
 * organization code or process id a call names may trigger a fault
 * (resp_fault_begin), once the caller is authenticated.
 *
 *-------------------------------------------------------------------------
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The organization whose key the request carries; 401 answered if none. */
static Organization *
Authenticate(SimRequest *rq, SimResponse *rs)
{
	Organization *org = org_by_api_key(req_header(rq, "apikey"));

	if (org == NULL)
	{
		resp_error(rs, 401, req_header(rq, "apikey") ? "invalid apikey" : "missing apikey header");
		rs->www_authenticate = "apikey";
	}
	return org;
}

/* The body as a JSON object; 400 answered if it is not one. */
static cJSON *
JsonObjectBody(SimRequest *rq, SimResponse *rs)
{
	cJSON	   *body = req_json_body(rq);

	if (!cJSON_IsObject(body))
	{
		resp_error(rs, 400, body ? "body must be a JSON object" : "body is not valid JSON");
		cJSON_Delete(body);
		return NULL;
	}
	return body;
}

/* A required string member; 400 answered if absent or empty. */
static const char *
RequiredString(SimResponse *rs, const cJSON *body, const char *key)
{
	const char *v = json_str(body, key);

	if (v == NULL || *v == '\0')
		resp_error(rs, 400, "%s: required string missing", key);
	return (v && *v) ? v : NULL;
}

/* True when keyorg may act on org; 403 answered otherwise. */
static bool
Authorized(SimResponse *rs, const Organization *keyorg, const Organization *org)
{
	if (org->is_virtual || org == keyorg)
		return true;
	resp_error(rs, 403, "the apikey does not belong to organization %s", org->code);
	return false;
}

/*
 * The organization named by a body's orgCode, authorized and with its fault
 * set up; NULL when the answer is already decided.
 */
static Organization *
NamedOrganization(SimRequest *rq, SimResponse *rs, const cJSON *body,
				  const Organization *keyorg)
{
	const char *code = RequiredString(rs, body, "orgCode");
	Organization *org;

	if (code == NULL)
		return NULL;
	org = org_by_code(code);
	if (org == NULL)
	{
		resp_error(rs, 404, "orgCode: unknown organization '%s'", code);
		return NULL;
	}
	if (!Authorized(rs, keyorg, org) || !resp_fault_begin(rq, rs, code))
		return NULL;
	resp_note(rs, "org=%s", org->code);
	return org;
}

/*
 * The process named by id for the key's organization: 400 if not a UUID,
 * 403 if it belongs to another organization, 404 if unknown.
 */
static const Process *
KeyProcess(SimResponse *rs, const Organization *keyorg, const char *field,
		   const char *id)
{
	const Process *p;

	if (!is_uuid(id))
	{
		resp_error(rs, 400, "%s: not a UUID: '%s'", field, id);
		return NULL;
	}
	p = org_process(keyorg, id);
	if (p)
		return p;
	for (int i = 0; i < org_count(); i++)
		if (org_at(i) != keyorg && org_process(org_at(i), id))
		{
			resp_error(rs, 403, "%s: process %s belongs to another organization", field, id);
			return NULL;
		}
	resp_error(rs, 404, "%s: unknown process '%s'", field, id);
	return NULL;
}

/* Fills the answer of a utility API about an organization. */
typedef void (*OrgAnswer) (const Organization *org, cJSON *out);

/*
 * The common part of the utility APIs that take {"orgCode"}: authenticate,
 * find and authorize the organization, set up its fault, answer
 * {"success": true, "orgCode": …} plus what fill adds.
 */
static void
OrgUtility(SimRequest *rq, SimResponse *rs, OrgAnswer fill)
{
	Organization *keyorg,
			   *org;
	cJSON	   *body,
			   *out;

	if (!(keyorg = Authenticate(rq, rs)) || !(body = JsonObjectBody(rq, rs)))
		return;
	if ((org = NamedOrganization(rq, rs, body, keyorg)) != NULL)
	{
		out = cJSON_CreateObject();
		cJSON_AddTrueToObject(out, "success");
		cJSON_AddStringToObject(out, "orgCode", org->code);
		fill(org, out);
		resp_json(rs, 200, out);
	}
	cJSON_Delete(body);
}

/* getAvailableOperators: operators on duty and free now. */
static void
AvailableOperatorsAnswer(const Organization *org, cJSON *out)
{
	cJSON_AddNumberToObject(out, "availableOperators",
							metrics_available_operators(org, sim_now()));
}

/* POST /api/service/getAvailableOperators */
static void
GetAvailableOperators(SimRequest *rq, SimResponse *rs)
{
	OrgUtility(rq, rs, AvailableOperatorsAnswer);
}

/* availableLanguages: the organization's languages. */
static void
LanguagesAnswer(const Organization *org, cJSON *out)
{
	cJSON	   *langs = cJSON_AddArrayToObject(out, "languages");

	for (int i = 0; i < org->nlanguages; i++)
		cJSON_AddItemToArray(langs, cJSON_CreateString(org->languages[i]));
}

/* POST /api/service/availableLanguages */
static void
AvailableLanguages(SimRequest *rq, SimResponse *rs)
{
	OrgUtility(rq, rs, LanguagesAnswer);
}

/* getDailyWaitingTimes: the last seven UTC days and the last hour. */
static void
WaitingTimesAnswer(const Organization *org, cJSON *out)
{
	time_t		now = sim_now(),
				today = now - now % 86400;
	cJSON	   *week = cJSON_AddArrayToObject(out, "lastWeek"),
			   *hour;
	double		avg;
	int			calls;

	for (int d = 7; d >= 1; d--)
	{
		cJSON	   *day = cJSON_CreateObject();
		time_t		from = today - d * 86400L;
		char		date[32];

		format_iso8601(from, date, sizeof(date));
		date[10] = '\0';
		metrics_waiting(org, from, from + 86400, &avg, &calls);
		cJSON_AddStringToObject(day, "date", date);
		cJSON_AddNumberToObject(day, "averageWaitingSeconds", avg);
		cJSON_AddNumberToObject(day, "calls", calls);
		cJSON_AddItemToArray(week, day);
	}
	hour = cJSON_AddObjectToObject(out, "last60Minutes");
	metrics_waiting(org, now - 3600, now, &avg, &calls);
	cJSON_AddNumberToObject(hour, "averageWaitingSeconds", avg);
	cJSON_AddNumberToObject(hour, "calls", calls);
}

/* POST /api/service/getDailyWaitingTimes */
static void
GetDailyWaitingTimes(SimRequest *rq, SimResponse *rs)
{
	OrgUtility(rq, rs, WaitingTimesAnswer);
}

/* POST /api/service/getQueue */
static void
GetQueue(SimRequest *rq, SimResponse *rs)
{
	Organization *keyorg;
	const char *id;
	cJSON	   *body,
			   *out;

	if (!(keyorg = Authenticate(rq, rs)) || !(body = JsonObjectBody(rq, rs)))
		return;
	if ((id = RequiredString(rs, body, "id_process")) != NULL &&
		KeyProcess(rs, keyorg, "id_process", id) != NULL &&
		resp_fault_begin(rq, rs, id))
	{
		out = cJSON_CreateObject();
		cJSON_AddTrueToObject(out, "success");
		cJSON_AddStringToObject(out, "id_process", id);
		cJSON_AddNumberToObject(out, "queue", metrics_queue(id, sim_now()));
		resp_note(rs, "org=%s process=%s", keyorg->code, id);
		resp_json(rs, 200, out);
	}
	cJSON_Delete(body);
}

/* The organization code or process id a start payload names, for faults. */
static const char *
StartSubject(const cJSON *fields)
{
	const char *keys[] = {"id_process", "id_process_live", "id_process_self", "id_organization"};
	Fault		f;

	for (int i = 0; i < 4; i++)
		if (fault_parse(json_str(fields, keys[i]), &f))
			return json_str(fields, keys[i]);
	return NULL;
}

/* POST /api/service/pushAsyncCall */
static void
PushAsyncCall(SimRequest *rq, SimResponse *rs)
{
	Organization *keyorg;
	cJSON	   *body,
			   *fields = NULL,
			   *out;
	const char *b64,
			   *method = "live";
	const cJSON *m,
			   *e;
	char	   *decoded = NULL;
	size_t		dlen;
	time_t		expire = 0;
	StartInfo	info = {0};
	int			status;
	char		err[SIM_ERRLEN];

	if (!(keyorg = Authenticate(rq, rs)) || !(body = JsonObjectBody(rq, rs)))
		return;
	for (cJSON *it = body->child; it; it = it->next)
		if (strcmp(it->string, "b64Data") != 0 && strcmp(it->string, "method") != 0 &&
			strcmp(it->string, "expire") != 0)
		{
			resp_error(rs, 400, "unknown member '%s'", it->string);
			goto done;
		}
	if ((b64 = RequiredString(rs, body, "b64Data")) == NULL)
		goto done;
	if ((decoded = base64_decode(b64, &dlen)) == NULL)
	{
		resp_error(rs, 400, "b64Data: not valid standard Base64");
		goto done;
	}
	if (strlen(decoded) != dlen || utf8_length(decoded) == SIZE_MAX)
	{
		resp_error(rs, 400, "b64Data: the decoded bytes are not UTF-8 text");
		goto done;
	}
	fields = cJSON_ParseWithOpts(decoded, NULL, true);
	if (!cJSON_IsObject(fields))
	{
		resp_error(rs, 400, "b64Data: the decoded text is not a JSON object");
		goto done;
	}
	if (!resp_fault_begin(rq, rs, StartSubject(fields)))
		goto done;

	m = cJSON_GetObjectItemCaseSensitive(body, "method");
	if (m && !(cJSON_IsString(m) && (strcmp(m->valuestring, "start") == 0 ||
									 strcmp(m->valuestring, "live") == 0)))
	{
		resp_error(rs, 400, "method: must be \"start\" or \"live\"");
		goto done;
	}
	if (m)
		method = m->valuestring;
	e = cJSON_GetObjectItemCaseSensitive(body, "expire");
	if (e && !cJSON_IsNull(e))
	{
		if (!cJSON_IsString(e) || !parse_iso8601(e->valuestring, &expire))
		{
			resp_error(rs, 400, "expire: not an ISO 8601 date or date-time");
			goto done;
		}
		if (expire <= sim_now())
		{
			resp_error(rs, 400, "expire: %s is not in the future", e->valuestring);
			goto done;
		}
	}

	pthread_mutex_lock(&state_lock);
	if (!validate_start(fields, false, &info, &status, err, sizeof(err)))
	{
		pthread_mutex_unlock(&state_lock);
		resp_error(rs, status, "b64Data: %s", err);
		goto done;
	}
	if (!Authorized(rs, keyorg, info.org))
	{
		pthread_mutex_unlock(&state_lock);
		cJSON_Delete(info.json_decoded);
		goto done;
	}
	{
		AsyncRequest *r;

		cJSON_AddItemToObject(fields, "json_decoded", info.json_decoded);
		r = request_create(info.org, info.process->id, method, expire, fields);
		fields = NULL;			/* the request owns it now */
		out = cJSON_CreateObject();
		cJSON_AddTrueToObject(out, "success");
		cJSON_AddStringToObject(out, "uId", r->uid);
		resp_note(rs, "org=%s uId=%s", r->org->code, r->uid);
	}
	pthread_mutex_unlock(&state_lock);
	resp_json(rs, 200, out);

done:
	free(decoded);
	cJSON_Delete(fields);
	cJSON_Delete(body);
}

/* A small HTML page in the simulated LiveID+ look; body_html is trusted. */
static char *
Page(const char *title, const char *body_html)
{
	const char *fmt =
	"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	"<title>LiveID+ (simulated) - %s</title>"
	"<style>body{font-family:sans-serif;max-width:40em;margin:3em auto;color:#223}"
	"h1{color:#0a4d8c}.error{color:#a00}</style></head>"
	"<body><h1>%s</h1>%s</body></html>\n";
	size_t		n = strlen(fmt) + strlen(title) * 2 + strlen(body_html) + 1;
	char	   *out = malloc(n);

	snprintf(out, n, fmt, title, title, body_html);
	return out;
}

/* An error page with the reason in <p id="error">. */
static void
ErrorPage(SimResponse *rs, int status, const char *title, const char *reason)
{
	char	   *esc = html_escape(reason);
	char	   *body = malloc(strlen(esc) + 64);

	sprintf(body, "<p id=\"error\" class=\"error\">%s</p>", esc);
	resp_html(rs, status, Page(title, body));
	free(esc);
	free(body);
}

/* POST /app/service-start: the browser form of a synchronous start. */
static void
ServiceStart(SimRequest *rq, SimResponse *rs)
{
	StartInfo	info = {0};
	int			status;
	char		err[SIM_ERRLEN];
	AsyncRequest *r;
	Call	   *call;
	char		html[1024];
	cJSON	   *fields;

	if (rq->form == NULL)
	{
		ErrorPage(rs, 400, "Bad request",
				  "expected a form POST (application/x-www-form-urlencoded or multipart/form-data)");
		return;
	}
	if (!resp_fault_begin(rq, rs, StartSubject(rq->form)))
		return;
	pthread_mutex_lock(&state_lock);
	if (!validate_start(rq->form, true, &info, &status, err, sizeof(err)))
	{
		pthread_mutex_unlock(&state_lock);
		ErrorPage(rs, 400, "Bad request", err);
		return;
	}
	fields = cJSON_Duplicate(rq->form, true);
	cJSON_AddItemToObject(fields, "json_decoded", info.json_decoded);
	r = request_create(info.org, info.process->id, "sync", 0, fields);
	call = call_create(r);
	audit_add(r, "link_opened", "synchronous start, call %s", call->id_conference);
	snprintf(html, sizeof(html),
			 "<p>Compatibility test passed: camera, microphone and connection are fine.</p>"
			 "<p id=\"status\">Waiting for an operator&hellip;</p>"
			 "<p>Conference <code id=\"idConference\">%s</code></p>"
			 "<p><a href=\"/app/call?uId=%s\">Call page</a></p>",
			 call->id_conference, r->uid);
	resp_note(rs, "org=%s idConference=%s", r->org->code, call->id_conference);
	pthread_mutex_unlock(&state_lock);
	resp_html(rs, 200, Page("Video identification", html));
}

/* GET /app/service-asyncall?uId=: the customer opens the launch URL. */
static void
ServiceAsyncall(SimRequest *rq, SimResponse *rs)
{
	const char *uid = req_arg(rq, "uId");
	AsyncRequest *r;
	int			status;
	char		err[SIM_ERRLEN];
	char		loc[128];

	pthread_mutex_lock(&state_lock);
	r = request_find(uid);
	if (r == NULL)
	{
		pthread_mutex_unlock(&state_lock);
		ErrorPage(rs, 404, "Link not found", "This identification link does not exist.");
		return;
	}
	request_refresh(r);
	if (call_open(r, &status, err, sizeof(err)) == NULL && status == 410)
	{
		pthread_mutex_unlock(&state_lock);
		ErrorPage(rs, 410, "Link no longer valid", err);
		return;
	}
	/* an active or completed call: the page shows it */
	snprintf(loc, sizeof(loc), "/app/call?uId=%s", r->uid);
	pthread_mutex_unlock(&state_lock);
	resp_redirect(rs, 302, loc);
}

/* GET /api/v2/getAsyncRequestInfo?uId= */
static void
GetAsyncRequestInfo(SimRequest *rq, SimResponse *rs)
{
	Organization *keyorg;
	const char *uid = req_arg(rq, "uId");
	AsyncRequest *r;
	cJSON	   *out,
			   *calls;
	const Call *stack[256];
	int			n = 0;

	if (!(keyorg = Authenticate(rq, rs)))
		return;
	if (uid == NULL || *uid == '\0')
	{
		resp_error(rs, 400, "uId: required query parameter missing");
		return;
	}
	pthread_mutex_lock(&state_lock);
	r = request_find(uid);
	if (r == NULL)
		resp_error(rs, 404, "uId: unknown request '%s'", uid);
	else if (Authorized(rs, keyorg, r->org))
	{
		request_refresh(r);
		out = cJSON_CreateObject();
		cJSON_AddTrueToObject(out, "success");
		cJSON_AddStringToObject(out, "uId", r->uid);
		calls = cJSON_AddArrayToObject(out, "calls");
		for (const Call *c = r->calls; c && n < 256; c = c->next)
			stack[n++] = c;
		while (n > 0)			/* oldest first */
			cJSON_AddItemToArray(calls, call_json(stack[--n]));
		resp_json(rs, 200, out);
	}
	pthread_mutex_unlock(&state_lock);
}

/* POST /api/v2/registerAlertEmail */
static void
RegisterAlertEmail(SimRequest *rq, SimResponse *rs)
{
	Organization *keyorg;
	cJSON	   *body;
	const char *pid,
			   *emails;

	if (!(keyorg = Authenticate(rq, rs)) || !(body = JsonObjectBody(rq, rs)))
		return;
	if ((pid = RequiredString(rs, body, "processId")) == NULL ||
		(emails = RequiredString(rs, body, "email")) == NULL ||
		KeyProcess(rs, keyorg, "processId", pid) == NULL)
		goto done;
	{
		char	   *copy = sim_strdup(emails),
				   *save = NULL;

		for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		{
			while (*tok == ' ')
				tok++;
			for (char *end = tok + strlen(tok); end > tok && end[-1] == ' ';)
				*--end = '\0';
			if (!is_email(tok))
			{
				resp_error(rs, 400, "email: '%s' is not an e-mail address", tok);
				free(copy);
				goto done;
			}
		}
		free(copy);
	}
	if (!resp_fault_begin(rq, rs, pid))
		goto done;
	alerts_register(pid, emails);
	{
		cJSON	   *out = cJSON_CreateObject();

		cJSON_AddTrueToObject(out, "success");
		resp_json(rs, 200, out);
	}
done:
	cJSON_Delete(body);
}

/* Answers a new ConferenceToken for the conference id. */
static void
IssueToken(SimResponse *rs, const char *id)
{
	cJSON	   *out = cJSON_CreateObject();
	char	   *token = token_issue(id);

	cJSON_AddTrueToObject(out, "success");
	cJSON_AddStringToObject(out, "token", token);
	free(token);
	resp_json(rs, 200, out);
}

/* GET /api/authenticate/genAPIToken?idConference= */
static void
GenApiToken(SimRequest *rq, SimResponse *rs)
{
	Organization *keyorg;
	const char *id = req_arg(rq, "idConference");
	AsyncRequest *r;

	if (!(keyorg = Authenticate(rq, rs)))
		return;
	if (id == NULL || *id == '\0')
	{
		resp_error(rs, 400, "idConference: required query parameter missing");
		return;
	}
	/* faults: FAULT-<kind> gets a token (its fault is the Bearer call's), a fault process id form its fault here */
	if (strncmp(id, "FAULT-", 6) != 0 && !resp_fault_begin(rq, rs, id))
		return;
	pthread_mutex_lock(&state_lock);
	if (strncmp(id, "FAULT-", 6) == 0)
		IssueToken(rs, id);
	else if (call_find(id, &r) == NULL)
		resp_error(rs, 404, "idConference: unknown conference '%s'", id);
	else if (Authorized(rs, keyorg, r->org))
		IssueToken(rs, id);
	pthread_mutex_unlock(&state_lock);
}

/*
 * Checks the Bearer token for ?idConference= and finds the call
 * (state_lock held); answers 400/401/404 and returns NULL on failure.
 */
static Call *
BearerCall(SimRequest *rq, SimResponse *rs, AsyncRequest **req)
{
	const char *auth = req_header(rq, "Authorization");
	const char *id = req_arg(rq, "idConference");
	static const char *why[] = {"", "invalid token", "token expired",
	"token issued for another conference"};
	int			rc;
	Call	   *call;

	if (auth == NULL || strncasecmp(auth, "Bearer ", 7) != 0)
	{
		resp_error(rs, 401, "missing Authorization: Bearer token");
		rs->www_authenticate = "Bearer";
		return NULL;
	}
	if (id == NULL || *id == '\0')
	{
		resp_error(rs, 400, "idConference: required query parameter missing");
		return NULL;
	}
	if ((rc = token_check(auth + 7, id)) != 0)
	{
		resp_error(rs, 401, "%s", why[rc]);
		rs->www_authenticate = "Bearer error=\"invalid_token\"";
		return NULL;
	}
	/* a FAULT-<kind> conference's fault (state_lock held: a delay holds the others up) */
	if (strncmp(id, "FAULT-", 6) == 0 && !resp_fault_begin(rq, rs, id))
		return NULL;
	if ((call = call_find(id, req)) == NULL)
		resp_error(rs, 404, "idConference: unknown conference '%s'", id);
	return call;
}

/* A 1x1 PNG, the simulated document photo. */
static const char tiny_png[] =
"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

/* GET /api/v1/conferenceData?idConference=&module= */
static void
ConferenceData(SimRequest *rq, SimResponse *rs)
{
	const char *module = req_arg(rq, "module");
	AsyncRequest *r;
	Call	   *c;

	if (module && strcmp(module, "photo") != 0 && strcmp(module, "formfilling") != 0)
	{
		resp_error(rs, 400, "module: must be photo or formfilling");
		return;
	}
	pthread_mutex_lock(&state_lock);
	if ((c = BearerCall(rq, rs, &r)) != NULL)
	{
		cJSON	   *out = cJSON_CreateObject(),
				   *data;
		char		cs[2] = {c->close_status, 0};

		cJSON_AddTrueToObject(out, "success");
		json_add_date(out, "call_answer_date", c->answer_date);
		json_add_date(out, "call_end_date", c->end_date);
		json_add_date(out, "call_last_activity",
				c->end_date ? c->end_date : c->answer_date ? c->answer_date : c->start_date);
		if (c->close_status)
			cJSON_AddStringToObject(out, "end_pattern", cs);
		else
			cJSON_AddNullToObject(out, "end_pattern");
		if (c->operator)
		{
			cJSON	   *op = cJSON_AddObjectToObject(out, "operator");

			cJSON_AddStringToObject(op, "id", c->operator->id);
			cJSON_AddStringToObject(op, "name", c->operator->name);
			cJSON_AddStringToObject(op, "external_id", c->operator->external_id);
		}
		else
			cJSON_AddNullToObject(out, "operator");
		data = cJSON_AddObjectToObject(out, "data");
		if (module == NULL || strcmp(module, "formfilling") == 0)
		{
			cJSON	   *m = cJSON_AddObjectToObject(data, "module_1");
			cJSON	   *fields = cJSON_AddObjectToObject(m, "fields");
			const cJSON *d = cJSON_GetObjectItem(cJSON_GetObjectItem(r->start, "json_decoded"), "data");
			const cJSON *f;

			cJSON_AddStringToObject(m, "type", "formfilling");
			cJSON_ArrayForEach(f, d)
				cJSON_AddStringToObject(fields, f->string,
										json_str(f, "value") ? json_str(f, "value") : "");
		}
		if (module == NULL || strcmp(module, "photo") == 0)
		{
			cJSON	   *m = cJSON_AddObjectToObject(data, module ? "module_1" : "module_2");
			cJSON	   *imgs = cJSON_AddArrayToObject(m, "images");
			cJSON	   *img = cJSON_CreateObject();

			cJSON_AddStringToObject(m, "type", "photo");
			cJSON_AddStringToObject(img, "name", "document_front.png");
			cJSON_AddStringToObject(img, "mime", "image/png");
			cJSON_AddStringToObject(img, "content", tiny_png);
			cJSON_AddItemToArray(imgs, img);
		}
		resp_json(rs, 200, out);
	}
	pthread_mutex_unlock(&state_lock);
}

/* GET /api/v2/getAuditData?idConference= */
static void
GetAuditData(SimRequest *rq, SimResponse *rs)
{
	AsyncRequest *r;

	pthread_mutex_lock(&state_lock);
	if (BearerCall(rq, rs, &r) != NULL)
	{
		cJSON	   *out = cJSON_CreateObject(),
				   *arr;

		cJSON_AddTrueToObject(out, "success");
		arr = cJSON_AddArrayToObject(out, "audit");
		for (AuditEntry *a = r->audit; a; a = a->next)
		{
			cJSON	   *e = cJSON_CreateObject();

			json_add_date(e, "date", a->date);
			cJSON_AddStringToObject(e, "event", a->event);
			cJSON_AddStringToObject(e, "detail", a->detail);
			cJSON_AddItemToArray(arr, e);
		}
		resp_json(rs, 200, out);
	}
	pthread_mutex_unlock(&state_lock);
}

/* DELETE /api/v1/deleteAuditData?idConference= */
static void
DeleteAuditData(SimRequest *rq, SimResponse *rs)
{
	AsyncRequest *r;

	pthread_mutex_lock(&state_lock);
	if (BearerCall(rq, rs, &r) != NULL)
	{
		cJSON	   *out = cJSON_CreateObject();

		audit_clear(r);
		r->audit_deleted = true;
		cJSON_AddTrueToObject(out, "success");
		resp_json(rs, 200, out);
	}
	pthread_mutex_unlock(&state_lock);
}

/* PATCH /api/v2/rejectCall */
static void
RejectCall(SimRequest *rq, SimResponse *rs)
{
	Organization *keyorg;
	cJSON	   *body;
	const char *uid,
			   *reason;
	AsyncRequest *r;

	if (!(keyorg = Authenticate(rq, rs)) || !(body = JsonObjectBody(rq, rs)))
		return;
	if ((uid = RequiredString(rs, body, "uId")) == NULL)
		goto done;
	if (cJSON_GetObjectItem(body, "reason") && !cJSON_IsNull(cJSON_GetObjectItem(body, "reason"))
		&& !json_str(body, "reason"))
	{
		resp_error(rs, 400, "reason: must be a string");
		goto done;
	}
	reason = json_str(body, "reason");
	pthread_mutex_lock(&state_lock);
	r = request_find(uid);
	if (r == NULL)
		resp_error(rs, 404, "uId: unknown request '%s'", uid);
	else if (Authorized(rs, keyorg, r->org))
	{
		bool		closed = false,
					answered = false;

		request_refresh(r);
		for (Call *c = r->calls; c; c = c->next)
		{
			closed |= (c->status == CALL_CLOSED);
			answered |= (c->status == CALL_ANSWERED);
		}
		if (closed)
			resp_error(rs, 409, "a call of request %s is already closed", uid);
		else if (answered)
			resp_error(rs, 409, "a call of request %s is in progress", uid);
		else if (r->rejected)
			resp_error(rs, 409, "request %s is already rejected", uid);
		else
		{
			cJSON	   *out = cJSON_CreateObject();

			r->rejected = true;
			r->settled = sim_now_precise();
			r->reject_reason = sim_strdup(reason ? reason : "");
			for (Call *c = r->calls; c; c = c->next)
				if (c->status == CALL_WAITING)
					call_set_status(r, c, CALL_CANCELLED);
			audit_add(r, "request_rejected", "%s", reason ? reason : "");
			cJSON_AddTrueToObject(out, "success");
			resp_json(rs, 200, out);
		}
	}
	pthread_mutex_unlock(&state_lock);
done:
	cJSON_Delete(body);
}

const Route api_routes[] = {
	{"POST", "/api/service/pushAsyncCall", PushAsyncCall},
	{"GET", "/app/service-asyncall", ServiceAsyncall},
	{"POST", "/app/service-start", ServiceStart},
	{"GET", "/api/v2/getAsyncRequestInfo", GetAsyncRequestInfo},
	{"POST", "/api/service/getAvailableOperators", GetAvailableOperators},
	{"POST", "/api/service/getQueue", GetQueue},
	{"POST", "/api/service/availableLanguages", AvailableLanguages},
	{"POST", "/api/service/getDailyWaitingTimes", GetDailyWaitingTimes},
	{"POST", "/api/v2/registerAlertEmail", RegisterAlertEmail},
	{"GET", "/api/authenticate/genAPIToken", GenApiToken},
	{"GET", "/api/v1/conferenceData", ConferenceData},
	{"GET", "/api/v2/getAuditData", GetAuditData},
	{"DELETE", "/api/v1/deleteAuditData", DeleteAuditData},
	{"PATCH", "/api/v2/rejectCall", RejectCall},
	{NULL, NULL, NULL}
};
