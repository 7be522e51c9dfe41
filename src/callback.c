/*-------------------------------------------------------------------------
 *
 * callback.c
 *		Server callbacks: liveid.receive_callback().
 *
 * LiveID+ posts a callback when a call closes (close) or fails (error); a
 * receiver outside the database (receiver/, liveid-receiver) hands each
 * body to receive_callback.  The body is untrusted three times over:
 *
 * - Its shape: either documented form is accepted, the flat one
 *   (closeStatus, otherParams, idConference) and the event envelope (event,
 *   callID, message {closeStatus, abortCode, note, ...}), or their union;
 *   the parts they share must agree.  Anything else is 22023.
 * - Its origin: LiveID+ signs nothing.  The call is found by
 *   otherParams.liveid_ref and authenticated by otherParams.liveid_token,
 *   the per-call secret service_start added (secret.c); a wrong or missing
 *   one is 28000 and nothing is stored, whichever part was wrong.
 * - Its claim: the secret may have travelled through the customer's
 *   browser too (the redirect result), so it proves no outcome.  Before the
 *   ledger takes one, the call is asked for with getAsyncRequestInfo; the
 *   ledger records what the service says, the event what the callback
 *   claimed and what was confirmed, and a difference is flagged and logged
 *   as a warning.
 *
 * The event keeps the body without its secrets (otherParams.liveid_token
 * and the ConferenceToken message.token).  A repeated delivery of the same
 * body (LiveID+ retries until it gets a 2xx) is the same event: its id is
 * returned again and the service is not asked again.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/uuid.h"

#define MAX_CALLBACK_SIZE (1024 * 1024)	/* a body, as jsonb */
#define MAX_NAME_LEN 100		/* idConference, abortCode */
#define MAX_NOTE_LEN 4000		/* an operator's note, bytes */

/* what a callback says */
typedef struct Callback
{
	const char *event;
	const char *id_conference;
	const char *close_status;
	const char *abort_code;
	const char *note;
	const char *ref;			/* otherParams.liveid_ref, or NULL */
	const char *token;			/* otherParams.liveid_token, or NULL */
} Callback;

/* Raises the 22023 of a body that is not a server callback. */
static void
pg_attribute_noreturn()
NotACallback(const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("payload is not a LiveID+ server callback"),
			 errdetail_internal("%s", detail),
			 errhint("Pass the JSON body LiveID+ posted, as it arrived.")));
}

/* Raises the 28000 of a callback that is not one of ours; says nothing of why. */
static void
pg_attribute_noreturn()
NotAuthenticated(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("server callback not authenticated"),
			 errdetail("Its otherParams do not carry the liveid_ref and liveid_token of a call started with a server callback."),
			 errhint("Only callbacks of calls liveid.service_start() started with a callback URL are accepted.")));
}

/* member key of object c (NULL when c is NULL or has none) */
static JsonbValue *
Get(JsonbContainer *c, const char *key)
{
	return c ? getKeyJsonValueFromContainer(c, key, strlen(key), NULL) : NULL;
}

/* an object member, NULL when absent; 22023 when of another type */
static JsonbContainer *
GetObject(JsonbContainer *c, const char *key)
{
	JsonbValue *v = Get(c, key);

	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type != jbvBinary || !JsonContainerIsObject(v->val.binary.data))
		NotACallback(psprintf("The member \"%s\" is not an object.", key));
	return v->val.binary.data;
}

/*
 * A string member of at most maxlen bytes, NULL when absent or null;
 * 22023 when of another type or too long (printable: printable ASCII only).
 */
static const char *
GetString(JsonbContainer *c, const char *key, int maxlen, bool printable)
{
	JsonbValue *v = Get(c, key);
	char	   *s;

	if (v == NULL || v->type == jbvNull)
		return NULL;
	if (v->type != jbvString)
		NotACallback(psprintf("The member \"%s\" is not a string.", key));
	if (v->val.string.len > maxlen)
		NotACallback(psprintf("The member \"%s\" is longer than %d bytes.", key, maxlen));
	s = pnstrdup(v->val.string.val, v->val.string.len);
	for (int i = 0; printable && s[i]; i++)
		if ((unsigned char) s[i] <= ' ' || (unsigned char) s[i] >= 0x7f)
			NotACallback(psprintf("The member \"%s\" is not printable ASCII.", key));
	return s;
}

/* The one value of two members that name the same thing (either may be absent). */
static const char *
Agree(const char *a, const char *b, const char *what)
{
	if (a && b && strcmp(a, b) != 0)
		NotACallback(psprintf("The body names two different %s.", what));
	return a ? a : b;
}

/* Reads and checks a callback body (see the file header). */
static void
ReadCallback(Jsonb *payload, Callback *cb)
{
	JsonbContainer *root = &payload->root;
	JsonbContainer *message,
			   *params;

	if (!JB_ROOT_IS_OBJECT(payload) || JB_ROOT_IS_SCALAR(payload))
		NotACallback("A server callback is a JSON object.");
	if (VARSIZE(payload) > MAX_CALLBACK_SIZE)
		NotACallback(psprintf("It is larger than %d bytes.", MAX_CALLBACK_SIZE));
	message = GetObject(root, "message");
	cb->event = GetString(root, "event", MAX_NAME_LEN, true);
	if (cb->event && strcmp(cb->event, "close") != 0 && strcmp(cb->event, "error") != 0)
		NotACallback("The member \"event\" is neither close nor error.");
	cb->id_conference = Agree(GetString(root, "idConference", MAX_NAME_LEN, true),
							  GetString(root, "callID", MAX_NAME_LEN, true),
							  "conferences (idConference and callID)");
	cb->close_status = Agree(GetString(root, "closeStatus", 1, true),
							 GetString(message, "closeStatus", 1, true),
							 "close statuses");
	if (cb->close_status == NULL && cb->event && strcmp(cb->event, "error") == 0)
		cb->close_status = "K";
	if (cb->event == NULL)
		cb->event = "close";
	if (cb->id_conference == NULL)
		NotACallback("It names no conference (idConference or callID).");
	if (cb->close_status == NULL || strlen(cb->close_status) != 1 ||
		strchr("NSAK", cb->close_status[0]) == NULL)
		NotACallback("Its closeStatus is missing or not one of N, S, A, K.");
	cb->abort_code = GetString(message, "abortCode", MAX_NAME_LEN, false);
	cb->note = GetString(message, "note", MAX_NOTE_LEN, false);

	/* the secret: any shape of it that is not ours is a 28000 */
	params = NULL;
	{
		JsonbValue *p = Get(root, "otherParams");

		if (p && p->type == jbvBinary && JsonContainerIsObject(p->val.binary.data))
			params = p->val.binary.data;
	}
	cb->ref = NULL;
	cb->token = NULL;
	if (params)
	{
		JsonbValue *r = Get(params, "liveid_ref");
		JsonbValue *t = Get(params, "liveid_token");

		if (r && r->type == jbvString)
			cb->ref = pnstrdup(r->val.string.val, r->val.string.len);
		if (t && t->type == jbvString)
			cb->token = pnstrdup(t->val.string.val, t->val.string.len);
	}
	if (cb->ref && !liveid_is_uuid(cb->ref))
		cb->ref = NULL;
}

/* The body without its secrets: otherParams.liveid_token and message.token. */
static Jsonb *
WithoutSecrets(Jsonb *payload)
{
	static const char *const paths[][2] = {
		{"otherParams", "liveid_token"}, {"message", "token"}
	};
	Datum		j = JsonbPGetDatum(payload);

	for (int i = 0; i < lengthof(paths); i++)
	{
		Datum		elems[2] = {CStringGetTextDatum(paths[i][0]),
		CStringGetTextDatum(paths[i][1])};
		ArrayType  *path = construct_array(elems, 2, TEXTOID, -1, false, TYPALIGN_INT);

		j = DirectFunctionCall2(jsonb_delete_path, j, PointerGetDatum(path));
	}
	return DatumGetJsonbP(j);
}

/*
 * Asks the service about the call (getAsyncRequestInfo with its
 * organization's key) and fills in what it says of the conference the
 * callback names (or of the latest, when it does not know that one).
 */
static void
Confirm(const LiveidCallRef *call, const Callback *cb, LiveidCallInfo *info,
		LiveidEvent *ev)
{
	const char *path = liveid_info_path(call->uid);
	const LiveidConference *c = NULL;
	LiveidRemoteContext remote;

	liveid_remote_context_push(&remote, "GET", path);
	liveid_info_read(liveid_http("GET", path, NULL, NULL, liveid_key_for(call->organization)),
					 info);
	liveid_remote_context_pop(&remote);
	for (int i = 0; i < info->n && c == NULL; i++)
		if (strcmp(info->conferences[i].id_conference, cb->id_conference) == 0)
			c = &info->conferences[i];
	ev->confirmed_status = c ? c->status : NULL;
	ev->confirmed_close_status = c ? c->close_status : NULL;
	ev->mismatch = c == NULL || strcmp(c->status, "closed") != 0 ||
		c->close_status == NULL || strcmp(c->close_status, cb->close_status) != 0;
	if (ev->mismatch)
		ereport(WARNING,
				(errmsg("server callback for call \"%s\" claims close status %s, but LiveID+ reports %s",
						call->uid, cb->close_status,
						c == NULL ? "no such conference" :
						psprintf("status %s, close status %s", c->status,
								 c->close_status ? c->close_status : "none")),
				 errdetail("The ledger records what LiveID+ reports; liveid.call_events keeps the claim, flagged as a mismatch.")));
}

PG_FUNCTION_INFO_V1(liveid_receive_callback);

/*
 * liveid.receive_callback(payload): stores one server callback and brings
 * its call up to date; returns the event's id (the same for a repeated
 * delivery).
 */
Datum
liveid_receive_callback(PG_FUNCTION_ARGS)
{
	MemoryContext cxt,
				old;
	Callback	cb;
	LiveidCallRef call;
	LiveidCallInfo info;
	LiveidEvent ev = {0};
	Jsonb	   *stored;
	char	   *text;
	int64		id;

	/* everything local first: nothing is sent for what cannot be stored */
	liveid_ledger_guard("liveid.receive_callback()");
	PreventCommandDuringRecovery("liveid.receive_callback()");
	PreventCommandIfReadOnly("liveid.receive_callback()");
	PreventCommandIfParallelMode("liveid.receive_callback()");
	cxt = AllocSetContextCreate(CurrentMemoryContext, "liveid receive_callback",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	ReadCallback(PG_GETARG_JSONB_P(0), &cb);
	if (cb.ref == NULL || cb.token == NULL || !liveid_ledger_by_ref(cb.ref, &call) ||
		call.token_sha256 == NULL ||
		!liveid_digest_equal(liveid_sha256(cb.token, strlen(cb.token)), call.token_sha256))
		NotAuthenticated();

	stored = WithoutSecrets(PG_GETARG_JSONB_P(0));
	text = JsonbToCString(NULL, &stored->root, VARSIZE(stored));
	ev.digest = liveid_sha256(text, strlen(text));
	id = liveid_event_find(cb.ref, ev.digest);
	if (id < 0)
	{
		Confirm(&call, &cb, &info, &ev);
		ev.uid = call.uid;
		ev.ref = cb.ref;
		ev.id_conference = cb.id_conference;
		ev.event = cb.event;
		ev.close_status = cb.close_status;
		ev.abort_code = cb.abort_code;
		ev.note = cb.note;
		ev.payload = stored;
		id = liveid_event_insert(&ev);
		(void) liveid_ledger_follow(call.uid, &info);
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	PG_RETURN_INT64(id);
}
