/*-------------------------------------------------------------------------
 *
 * control.c
 *		The simulator's own endpoints (/sim/): they move a call through its
 *		life as a customer and an operator would, and show what happened.
 *		Also the simulated call page a launch URL leads to.
 *
 * Life of a call:  open -> waiting -> answered -> closed (N, S, A, K)
 *                  waiting -> cancelled (customer) | expired (request)
 *                  waiting | answered -> closed K by an error
 * A close or an error sends the server callback (callback.c) when the
 * ServiceStartJson asked for one, and leaves the LiveIDPlusResult a
 * redirectUrl would carry.
 *
 *-------------------------------------------------------------------------
 */
#include "sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/*
 * The customer opens the link of a request (state_lock held): a new
 * waiting call, or NULL with *status 409 (a call is active or the request
 * completed) or 410 (expired or rejected) and the reason in err.
 */
Call *
call_open(AsyncRequest *req, int *status, char *err, size_t errlen)
{
	Call	   *call;

	request_refresh(req);
	if (req->rejected)
	{
		*status = 410;
		snprintf(err, errlen, "request %s was rejected", req->uid);
		return NULL;
	}
	if (req->expire && sim_now() >= req->expire)
	{
		*status = 410;
		snprintf(err, errlen, "request %s has expired", req->uid);
		return NULL;
	}
	for (Call *c = req->calls; c; c = c->next)
	{
		if (c->status == CALL_WAITING || c->status == CALL_ANSWERED)
		{
			*status = 409;
			snprintf(err, errlen, "call %s of request %s is already %s",
					 c->id_conference, req->uid, call_status_name(c->status));
			return NULL;
		}
		if (c->status == CALL_CLOSED && c->close_status == 'N')
		{
			*status = 409;
			snprintf(err, errlen, "request %s is already completed", req->uid);
			return NULL;
		}
	}
	call = call_create(req);
	audit_add(req, "link_opened", "call %s waiting for an operator", call->id_conference);
	*status = 200;
	return call;
}

/* The body of a control request as a JSON object; 400 answered if not. */
static cJSON *
ControlBody(SimRequest *rq, SimResponse *rs)
{
	cJSON	   *body = req_json_body(rq);

	if (!cJSON_IsObject(body))
	{
		resp_error(rs, 400, "body must be a JSON object");
		cJSON_Delete(body);
		return NULL;
	}
	return body;
}

/* The call a control body names (state_lock held); 400/404 answered if none. */
static Call *
BodyCall(SimResponse *rs, const cJSON *body, AsyncRequest **req)
{
	const char *id = json_str(body, "idConference");
	Call	   *c;

	if (id == NULL)
	{
		resp_error(rs, 400, "idConference: required");
		return NULL;
	}
	if ((c = call_find(id, req)) == NULL)
		resp_error(rs, 404, "idConference: unknown conference '%s'", id);
	else
		request_refresh(*req);
	return c;
}

/* Answers {"success": true, "idConference": …, "status": …}. */
static void
CallAnswer(SimResponse *rs, const Call *c)
{
	cJSON	   *out = cJSON_CreateObject();

	cJSON_AddTrueToObject(out, "success");
	cJSON_AddStringToObject(out, "idConference", c->id_conference);
	cJSON_AddStringToObject(out, "status", call_status_name(c->status));
	resp_json(rs, 200, out);
}

/* A state change of the call a control body names, under state_lock. */
typedef void (*Transition) (const cJSON *body, AsyncRequest *r, Call *c,
							SimResponse *rs);

/* Parses the body, finds the call and applies a transition to it. */
static void
ControlTransition(SimRequest *rq, SimResponse *rs, Transition transition)
{
	cJSON	   *body = ControlBody(rq, rs);
	AsyncRequest *r;
	Call	   *c;

	if (body == NULL)
		return;
	pthread_mutex_lock(&state_lock);
	if ((c = BodyCall(rs, body, &r)) != NULL)
		transition(body, r, c, rs);
	pthread_mutex_unlock(&state_lock);
	cJSON_Delete(body);
}

/* POST /sim/open {"uId"} */
static void
SimOpen(SimRequest *rq, SimResponse *rs)
{
	cJSON	   *body = ControlBody(rq, rs);
	AsyncRequest *r;
	Call	   *c;
	int			status;
	char		err[SIM_ERRLEN];

	if (body == NULL)
		return;
	pthread_mutex_lock(&state_lock);
	if ((r = request_find(json_str(body, "uId"))) == NULL)
		resp_error(rs, 404, "uId: unknown request");
	else if ((c = call_open(r, &status, err, sizeof(err))) == NULL)
		resp_error(rs, status, "%s", err);
	else
		CallAnswer(rs, c);
	pthread_mutex_unlock(&state_lock);
	cJSON_Delete(body);
}

/* The operator a request's start routes the call to, or NULL (any). */
static const Operator *
RoutedOperator(const AsyncRequest *r)
{
	const char *id = json_str(r->start, "id_operator2Call");
	const char *email = json_str(r->start, "email_operator2Call");
	const char *ext = json_str(r->start, "extId_operator2Call");

	for (int i = 0; i < r->org->noperators; i++)
	{
		const Operator *op = &r->org->operators[i];

		if ((id && strcasecmp(op->id, id) == 0) ||
			(email && strcasecmp(op->email, email) == 0) ||
			(ext && strcmp(op->external_id, ext) == 0))
			return op;
	}
	return NULL;
}

/* POST /sim/answer {"idConference", "operator"?} */
static void
AnswerCall(const cJSON *body, AsyncRequest *r, Call *c, SimResponse *rs)
{
	const char *want = json_str(body, "operator");
	const Operator *routed = RoutedOperator(r);
	const Operator *op = want ? org_operator(r->org, want) : routed;
	bool		routing = json_str(r->start, "id_operator2Call") ||
	json_str(r->start, "email_operator2Call") ||
	json_str(r->start, "extId_operator2Call");

	if (c->status != CALL_WAITING)
		resp_error(rs, 409, "call %s is %s, not waiting", c->id_conference,
				   call_status_name(c->status));
	else if (want && op == NULL)
		resp_error(rs, 404, "operator: unknown operator '%s'", want);
	else if (routing && op != routed)
		resp_error(rs, 409, "call %s is routed to another operator", c->id_conference);
	else
	{
		if (op == NULL && r->org->noperators > 0)
			op = &r->org->operators[c->start_date % r->org->noperators];
		c->operator = op;
		c->answer_date = sim_now();
		call_set_status(r, c, CALL_ANSWERED);
		audit_add(r, "call_answered", "call %s answered by %s", c->id_conference,
				  op ? op->name : "an operator");
		CallAnswer(rs, c);
	}
}

/* The route of the transition above. */
static void
SimAnswer(SimRequest *rq, SimResponse *rs)
{
	ControlTransition(rq, rs, AnswerCall);
}

/*
 * Builds the event envelope of a closed call (the union of the two
 * documented callback forms), remembers it as the request's redirect result
 * and queues the server callback (state_lock held).
 */
static void
CallEnded(AsyncRequest *r, Call *c, const char *event, const cJSON *extra)
{
	const cJSON *ssj = cJSON_GetObjectItem(r->start, "json_decoded");
	const cJSON *scb = cJSON_GetObjectItem(ssj, "liveid_servercallback");
	const cJSON *other = cJSON_GetObjectItem(scb, "otherParams");
	const Process *p = org_process(r->org, r->process_id);
	cJSON	   *env = cJSON_CreateObject(),
			   *msg;
	char		cs[2] = {c->close_status, 0};

	cJSON_AddStringToObject(env, "event", event);
	cJSON_AddStringToObject(env, "callID", c->id_conference);
	cJSON_AddStringToObject(env, "idConference", c->id_conference);
	cJSON_AddStringToObject(env, "closeStatus", cs);
	cJSON_AddItemToObject(env, "otherParams",
						  other ? cJSON_Duplicate(other, true) : cJSON_CreateObject());
	msg = cJSON_AddObjectToObject(env, "message");
	cJSON_AddStringToObject(msg, "closeStatus", cs);
	cJSON_AddStringToObject(msg, "note", c->note ? c->note : "");
	cJSON_AddStringToObject(msg, "processId", r->process_id);
	cJSON_AddBoolToObject(msg, "self", p ? p->self : false);
	if (c->close_status == 'A')
		cJSON_AddStringToObject(msg, "abortCode", c->abort_code);
	if (strcmp(event, "close") == 0)
	{
		const cJSON *next = cJSON_GetObjectItem(extra, "nextProcess");
		const cJSON *add = cJSON_GetObjectItem(extra, "additionalData");
		char	   *token = token_issue(c->id_conference);

		cJSON_AddItemToObject(msg, "nextProcess",
							  next ? cJSON_Duplicate(next, true) : cJSON_CreateNull());
		cJSON_AddStringToObject(msg, "token", token);
		cJSON_AddItemToObject(msg, "additionalData",
							  add ? cJSON_Duplicate(add, true) : cJSON_CreateObject());
		free(token);
	}
	free(r->result);
	r->result = cJSON_PrintUnformatted(env);
	if (json_str(scb, "url"))
	{
		callback_enqueue(json_str(scb, "url"), c->id_conference, r->process_id,
						 event, sim_strdup(r->result));
		audit_add(r, "callback_queued", "%s callback for call %s", event, c->id_conference);
	}
	cJSON_Delete(env);
}

/* POST /sim/close {"idConference","closeStatus","abortCode"?,"note"?,…} */
static void
CloseCall(const cJSON *body, AsyncRequest *r, Call *c, SimResponse *rs)
{
	const char *cs = json_str(body, "closeStatus");
	const char *abort_code = json_str(body, "abortCode");

	if (cs == NULL || strlen(cs) != 1 || strchr("NSAK", cs[0]) == NULL)
		resp_error(rs, 400, "closeStatus: must be N, S, A or K");
	else if (cs[0] == 'A' && (abort_code == NULL || *abort_code == '\0'))
		resp_error(rs, 400, "abortCode: required when closeStatus is A");
	else if (c->status != CALL_ANSWERED)
		resp_error(rs, 409, "call %s is %s; only an answered call is closed by its operator",
				   c->id_conference, call_status_name(c->status));
	else
	{
		c->close_status = cs[0];
		c->abort_code = cs[0] == 'A' ? sim_strdup(abort_code) : NULL;
		c->note = sim_strdup(json_str(body, "note") ? json_str(body, "note") : "");
		call_set_status(r, c, CALL_CLOSED);
		audit_add(r, "call_closed", "call %s closed with %s%s%s", c->id_conference,
				  cs, c->abort_code ? " " : "", c->abort_code ? c->abort_code : "");
		CallEnded(r, c, "close", body);
		CallAnswer(rs, c);
	}
}

/* The route of the transition above. */
static void
SimClose(SimRequest *rq, SimResponse *rs)
{
	ControlTransition(rq, rs, CloseCall);
}

/* POST /sim/error {"idConference","error"?} */
static void
ErrorCall(const cJSON *body, AsyncRequest *r, Call *c, SimResponse *rs)
{
	if (c->status != CALL_WAITING && c->status != CALL_ANSWERED)
		resp_error(rs, 409, "call %s is %s; only a waiting or answered call can fail",
				   c->id_conference, call_status_name(c->status));
	else
	{
		c->close_status = 'K';
		c->note = sim_strdup(json_str(body, "error") ? json_str(body, "error")
							 : "unexpected error");
		call_set_status(r, c, CALL_CLOSED);
		audit_add(r, "call_error", "call %s failed: %s", c->id_conference, c->note);
		CallEnded(r, c, "error", body);
		CallAnswer(rs, c);
	}
}

/* The route of the transition above. */
static void
SimError(SimRequest *rq, SimResponse *rs)
{
	ControlTransition(rq, rs, ErrorCall);
}

/* POST /sim/cancel {"idConference"} */
static void
CancelCall(const cJSON *body, AsyncRequest *r, Call *c, SimResponse *rs)
{
	if (c->status != CALL_WAITING)
		resp_error(rs, 409, "call %s is %s; only a waiting call can be cancelled",
				   c->id_conference, call_status_name(c->status));
	else
	{
		call_set_status(r, c, CALL_CANCELLED);
		audit_add(r, "call_cancelled", "the customer left call %s", c->id_conference);
		CallAnswer(rs, c);
	}
}

/* The route of the transition above. */
static void
SimCancel(SimRequest *rq, SimResponse *rs)
{
	ControlTransition(rq, rs, CancelCall);
}

/* The redirect a closed request's browser would follow, or NULL. */
static cJSON *
RedirectJson(const AsyncRequest *r)
{
	const char *url = json_str(r->start, "redirectUrl");
	const char *method = json_str(r->start, "redirectMethod");
	cJSON	   *o;
	char	   *enc;

	if (url == NULL || r->result == NULL)
		return NULL;
	o = cJSON_CreateObject();
	enc = url_encode(r->result);
	cJSON_AddStringToObject(o, "method", method ? method : "POST");
	cJSON_AddStringToObject(o, "url", url);
	cJSON_AddStringToObject(o, "LiveIDPlusResult", enc);
	free(enc);
	return o;
}

/* GET /sim/requests/<uId>: the request as the simulator holds it. */
static void
SimRequestState(SimRequest *rq, SimResponse *rs)
{
	const char *uid = rq->path + strlen("/sim/requests/");
	AsyncRequest *r;

	pthread_mutex_lock(&state_lock);
	if ((r = request_find(uid)) == NULL)
		resp_error(rs, 404, "uId: unknown request '%s'", uid);
	else
	{
		cJSON	   *out = cJSON_CreateObject(),
				   *calls,
				   *redirect;
		const cJSON *scb = cJSON_GetObjectItem(cJSON_GetObjectItem(r->start, "json_decoded"),
											   "liveid_servercallback");

		request_refresh(r);
		cJSON_AddTrueToObject(out, "success");
		cJSON_AddStringToObject(out, "uId", r->uid);
		cJSON_AddStringToObject(out, "organization", r->org->code);
		cJSON_AddStringToObject(out, "processId", r->process_id);
		cJSON_AddStringToObject(out, "method", r->method);
		json_add_date(out, "created", r->created);
		json_add_date(out, "expire", r->expire);
		cJSON_AddBoolToObject(out, "rejected", r->rejected);
		if (r->reject_reason)
			cJSON_AddStringToObject(out, "rejectReason", r->reject_reason);
		if (json_str(r->start, "external_id"))
			cJSON_AddStringToObject(out, "externalId", json_str(r->start, "external_id"));
		if (json_str(scb, "url"))
			cJSON_AddStringToObject(out, "callbackUrl", json_str(scb, "url"));
		calls = cJSON_AddArrayToObject(out, "calls");
		for (Call *c = r->calls; c; c = c->next)
		{
			cJSON	   *o = call_json(c);

			if (c->abort_code)
				cJSON_AddStringToObject(o, "abortCode", c->abort_code);
			if (c->note)
				cJSON_AddStringToObject(o, "note", c->note);
			if (c->operator)
				cJSON_AddStringToObject(o, "operator", c->operator->id);
			cJSON_AddItemToArray(calls, o);
		}
		redirect = RedirectJson(r);
		cJSON_AddItemToObject(out, "redirect", redirect ? redirect : cJSON_CreateNull());
		resp_json(rs, 200, out);
	}
	pthread_mutex_unlock(&state_lock);
}

/* GET /sim/requests[?externalId=]: every request held, oldest first. */
static void
SimRequestList(SimRequest *rq, SimResponse *rs)
{
	const char *want = req_arg(rq, "externalId");
	cJSON	   *out = cJSON_CreateObject();
	cJSON	   *list;

	cJSON_AddTrueToObject(out, "success");
	list = cJSON_AddArrayToObject(out, "requests");
	pthread_mutex_lock(&state_lock);
	for (AsyncRequest *r = request_oldest(); r; r = request_newer(r))
	{
		const char *ext = json_str(r->start, "external_id");
		cJSON	   *o;

		if (want && (ext == NULL || strcmp(ext, want) != 0))
			continue;
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "uId", r->uid);
		if (ext)
			cJSON_AddStringToObject(o, "externalId", ext);
		cJSON_AddStringToObject(o, "organization", r->org->code);
		cJSON_AddStringToObject(o, "method", r->method);
		cJSON_AddBoolToObject(o, "rejected", r->rejected);
		json_add_date(o, "created", r->created);
		cJSON_AddItemToArray(list, o);
	}
	pthread_mutex_unlock(&state_lock);
	resp_json(rs, 200, out);	/* printed outside the lock: it is a copy */
}

/*
 * How the call page sends the browser back to redirectUrl with the result:
 * a form posting LiveIDPlusResult, or a link carrying it in the query
 * (malloc'd HTML, or NULL without a redirect).
 */
static char *
RedirectHtml(const AsyncRequest *r)
{
	const char *url = json_str(r->start, "redirectUrl");
	const char *method = json_str(r->start, "redirectMethod");
	char	   *out,
			   *eurl,
			   *eval;

	if (url == NULL || r->result == NULL)
		return NULL;
	eurl = html_escape(url);
	if (method && strcmp(method, "GET") == 0)
	{
		char	   *enc = url_encode(r->result);

		eval = html_escape(enc);
		free(enc);
		out = malloc(strlen(eurl) + strlen(eval) + 256);
		sprintf(out, "<p><a id=\"redirect\" href=\"%s%sLiveIDPlusResult=%s\">"
				"Return to the organization</a></p>",
				eurl, strchr(url, '?') ? "&amp;" : "?", eval);
	}
	else
	{
		eval = html_escape(r->result);
		out = malloc(strlen(eurl) + strlen(eval) + 256);
		sprintf(out, "<form id=\"redirect\" method=\"post\" action=\"%s\">"
				"<input type=\"hidden\" name=\"LiveIDPlusResult\" value=\"%s\">"
				"<button type=\"submit\">Return to the organization</button></form>",
				eurl, eval);
	}
	free(eurl);
	free(eval);
	return out;
}

/* GET /app/call?uId=: the simulated call page. */
static void
CallPage(SimRequest *rq, SimResponse *rs)
{
	const char *uid = req_arg(rq, "uId");
	AsyncRequest *r;
	char		html[4096];
	const char *state;
	bool		active = false;
	char	   *org_name,
			   *back,
			   *page;

	pthread_mutex_lock(&state_lock);
	if ((r = request_find(uid)) == NULL)
	{
		pthread_mutex_unlock(&state_lock);
		resp_error(rs, 404, "uId: unknown request");
		return;
	}
	request_refresh(r);
	if (r->calls == NULL)
		state = "Not started yet: open the link to begin.";
	else
	{
		switch (r->calls->status)
		{
			case CALL_WAITING:
				state = "Compatibility test passed. Waiting for an operator&hellip;";
				active = true;
				break;
			case CALL_ANSWERED:
				state = "In a call with an operator.";
				active = true;
				break;
			case CALL_CLOSED:
				state = r->calls->close_status == 'N' ? "Identification completed. Thank you!"
					: "The call has ended.";
				break;
			case CALL_CANCELLED:
				state = "You left the call.";
				break;
			default:
				state = "This link has expired.";
				break;
		}
	}
	org_name = html_escape(r->org->name);
	back = RedirectHtml(r);
	snprintf(html, sizeof(html),
			 "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">%s"
			 "<title>LiveID+ (simulated) - %s</title>"
			 "<style>body{font-family:sans-serif;max-width:40em;margin:3em auto;color:#223}"
			 "h1{color:#0a4d8c}</style></head><body>"
			 "<h1>Video identification with %s</h1>"
			 "<p id=\"status\" data-status=\"%s\">%s</p>"
			 "<p><small>Simulated by liveid-sim: the call is driven by its /sim/ endpoints.</small></p>",
			 active ? "<meta http-equiv=\"refresh\" content=\"3\">" : "",
			 org_name, org_name,
			 r->calls ? call_status_name(r->calls->status) : "new", state);
	free(org_name);
	pthread_mutex_unlock(&state_lock);
	page = malloc(strlen(html) + (back ? strlen(back) : 0) + 32);
	sprintf(page, "%s%s</body></html>\n", html, back ? back : "");
	free(back);
	resp_html(rs, 200, page);
}

/* GET /sim/health */
static void
SimHealth(SimRequest *rq, SimResponse *rs)
{
	cJSON	   *out = cJSON_CreateObject();
	char		now[32];

	format_iso8601(sim_now(), now, sizeof(now));
	cJSON_AddTrueToObject(out, "success");
	cJSON_AddStringToObject(out, "version", SIM_VERSION);
	cJSON_AddStringToObject(out, "now", now);
	resp_json(rs, 200, out);
}

/* GET /sim/callbacks */
static void
SimCallbacks(SimRequest *rq, SimResponse *rs)
{
	resp_json(rs, 200, callback_log_json());
}

/* GET /sim/alerts */
static void
SimAlerts(SimRequest *rq, SimResponse *rs)
{
	resp_json(rs, 200, alerts_log_json());
}

/* GET /sim/stats */
static void
SimStats(SimRequest *rq, SimResponse *rs)
{
	resp_json(rs, 200, server_stats_json());
}

/* POST /sim/latency {"ms"}: the latency of every /api/ answer from now on. */
static void
SimLatency(SimRequest *rq, SimResponse *rs)
{
	cJSON	   *body = ControlBody(rq, rs);
	cJSON	   *ms;
	cJSON	   *out;

	if (body == NULL)
		return;
	ms = cJSON_GetObjectItemCaseSensitive(body, "ms");
	if (!cJSON_IsNumber(ms) || ms->valuedouble < 0 || ms->valuedouble > 60000 ||
		ms->valuedouble != (double) (int) ms->valuedouble)
		resp_error(rs, 400, "ms: a whole number of milliseconds from 0 to 60000 is required");
	else
	{
		server_set_latency((int) ms->valuedouble);
		out = cJSON_CreateObject();
		cJSON_AddTrueToObject(out, "success");
		cJSON_AddNumberToObject(out, "ms", ms->valuedouble);
		resp_json(rs, 200, out);
	}
	cJSON_Delete(body);
}

/* Answers the outage in force: {"success": true, "active", …}. */
static void
OutageAnswer(SimResponse *rs)
{
	cJSON	   *out = cJSON_CreateObject();

	cJSON_AddTrueToObject(out, "success");
	outage_add_json(out);
	resp_json(rs, 200, out);
}

/*
 * POST /sim/outage {"status", "requests"?, "seconds"?}: the next `requests`
 * /api/ requests, or those of the next `seconds` seconds, whichever runs
 * out first, answer `status` (400..599); status, requests or seconds 0
 * ends the outage.
 */
static void
SimOutage(SimRequest *rq, SimResponse *rs)
{
	cJSON	   *body = ControlBody(rq, rs);
	const cJSON *st,
			   *n,
			   *sec,
			   *it;
	bool		end;

	if (body == NULL)
		return;
	st = cJSON_GetObjectItemCaseSensitive(body, "status");
	n = cJSON_GetObjectItemCaseSensitive(body, "requests");
	sec = cJSON_GetObjectItemCaseSensitive(body, "seconds");
	cJSON_ArrayForEach(it, body)
	{
		if (strcmp(it->string, "status") != 0 && strcmp(it->string, "requests") != 0 &&
			strcmp(it->string, "seconds") != 0)
		{
			resp_error(rs, 400, "%s: unknown member; only status, requests and seconds", it->string);
			goto done;
		}
	}
	if (st && (!cJSON_IsNumber(st) || st->valuedouble != (double) (int) st->valuedouble ||
			   (st->valuedouble != 0 && (st->valuedouble < 400 || st->valuedouble > 599))))
	{
		resp_error(rs, 400, "status: an HTTP status from 400 to 599 (4xx or 5xx) is required, or 0 to end the outage");
		goto done;
	}
	if (n && (!cJSON_IsNumber(n) || n->valuedouble < 0 || n->valuedouble > 1e9 ||
			  n->valuedouble != (double) (long) n->valuedouble))
	{
		resp_error(rs, 400, "requests: a whole number of requests from 0 to 1000000000 is required");
		goto done;
	}
	if (sec && (!cJSON_IsNumber(sec) || !(sec->valuedouble >= 0) || sec->valuedouble > 86400))
	{
		resp_error(rs, 400, "seconds: a number of seconds from 0 to 86400 is required");
		goto done;
	}
	end = (st && st->valuedouble == 0) || (n && n->valuedouble == 0) ||
		(sec && sec->valuedouble == 0);
	if (!end && st == NULL)
	{
		resp_error(rs, 400, "status: required (400 to 599), or 0 to end the outage");
		goto done;
	}
	if (!end && n == NULL && sec == NULL)
	{
		resp_error(rs, 400, "requests or seconds: at least one is required (0 ends the outage)");
		goto done;
	}
	if (end)
		outage_set(0, 0, 0);
	else
		outage_set((int) st->valuedouble, n ? (long) n->valuedouble : -1,
				   sec ? sec->valuedouble : 0);
	OutageAnswer(rs);
done:
	cJSON_Delete(body);
}

/* GET /sim/outage: the outage in force. */
static void
SimOutageState(SimRequest *rq, SimResponse *rs)
{
	OutageAnswer(rs);
}

/* GET /sim/redirected: where fault redirects point; counts the hit. */
static void
SimRedirected(SimRequest *rq, SimResponse *rs)
{
	cJSON	   *out = cJSON_CreateObject();

	server_note_redirected();
	cJSON_AddTrueToObject(out, "success");
	cJSON_AddBoolToObject(out, "redirected", true);
	resp_json(rs, 200, out);
}

const Route control_routes[] = {
	{"GET", "/sim/health", SimHealth},
	{"POST", "/sim/open", SimOpen},
	{"POST", "/sim/answer", SimAnswer},
	{"POST", "/sim/close", SimClose},
	{"POST", "/sim/error", SimError},
	{"POST", "/sim/cancel", SimCancel},
	{"GET", "/sim/requests", SimRequestList},
	{"GET", "/sim/requests/", SimRequestState},
	{"GET", "/sim/callbacks", SimCallbacks},
	{"GET", "/sim/alerts", SimAlerts},
	{"GET", "/sim/stats", SimStats},
	{"POST", "/sim/latency", SimLatency},
	{"POST", "/sim/outage", SimOutage},
	{"GET", "/sim/outage", SimOutageState},
	{"GET", "/sim/redirected", SimRedirected},
	{"GET", "/app/call", CallPage},
	{NULL, NULL, NULL}
};
