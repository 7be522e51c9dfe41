/*-------------------------------------------------------------------------
 *
 * secret.c
 *		A call's ref and its server-callback secret.
 *
 * Every call liveid.service_start() makes has a ref, liveid's own UUID of
 * it, made before anything is sent.  A call with a server callback (the
 * customer's liveid_servercallback, or liveid.callback_url) also gets a
 * secret: liveid_ref and a random liveid_token go into otherParams next to
 * the caller's own parameters, so that LiveID+ posts them back with the
 * callback and liveid.receive_callback() can tell a callback of ours from
 * junk.  The ledger keeps only the token's SHA-256 (liveid.call_tokens,
 * which nobody but the owner reads); the token itself exists only in the
 * request sent and in what LiveID+ sends back.
 *
 * The token filters junk; it proves nothing: LiveID+ may show otherParams
 * in the redirect result, which passes through the customer's browser.
 * That is why receive_callback confirms every outcome with the service.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "common/cryptohash.h"
#include "common/sha2.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"

#define TOKEN_BYTES 32			/* of randomness: 64 hex digits */

/* n random bytes, or the can't-happen error */
static void
RandomBytes(uint8 *buf, size_t n)
{
	if (!pg_strong_random(buf, n))
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not generate random bytes for a call's secret")));
}

/* A new version-4 UUID in its text form. */
static char *
NewRef(void)
{
	uint8		b[16];

	RandomBytes(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	return psprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
					b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
					b[10], b[11], b[12], b[13], b[14], b[15]);
}

/* The SHA-256 of len bytes of data, palloc'd (PG_SHA256_DIGEST_LENGTH). */
uint8 *
liveid_sha256(const char *data, size_t len)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8	   *digest = palloc(PG_SHA256_DIGEST_LENGTH);

	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (const uint8 *) data, len) < 0 ||
		pg_cryptohash_final(ctx, digest, PG_SHA256_DIGEST_LENGTH) < 0)
	{
		pg_cryptohash_free(ctx);
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not compute a SHA-256 digest")));
	}
	pg_cryptohash_free(ctx);
	return digest;
}

/* True when the two digests are equal, in time that does not depend on where they differ. */
bool
liveid_digest_equal(const uint8 *a, const uint8 *b)
{
	uint8		diff = 0;

	for (int i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* The member key of object c as a JSON text, or NULL when absent. */
static char *
MemberText(JsonbContainer *c, const char *key, JsonbValue **found)
{
	JsonbValue	k;

	liveid_set_string(&k, key, strlen(key));
	*found = c ? findJsonbValueFromContainer(c, JB_FOBJECT, &k) : NULL;
	if (*found == NULL)
		return NULL;
	if ((*found)->type == jbvBinary)
		return JsonbToCString(NULL, (*found)->val.binary.data, (*found)->val.binary.len);
	if ((*found)->type == jbvString)
	{
		StringInfoData s;

		initStringInfo(&s);
		escape_json(&s, pnstrdup((*found)->val.string.val, (*found)->val.string.len));
		return s.data;
	}
	return NULL;
}

/* 22023 when the caller's otherParams already hold a member of ours. */
static void
CheckOwnParams(JsonbContainer *params)
{
	static const char *const ours[] = {"liveid_ref", "liveid_token"};
	JsonbValue *v;

	for (int i = 0; i < lengthof(ours); i++)
		if (MemberText(params, ours[i], &v) != NULL || v != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("invalid customer member \"liveid_servercallback\""),
					 errdetail("otherParams must not have a member \"%s\": liveid adds it.", ours[i]),
					 errhint("Rename your own parameter; liveid_ref and liveid_token are liveid's.")));
}

/* jsonb a || the object given as JSON text b */
static Jsonb *
Concat(Jsonb *a, const char *b)
{
	Datum		bj = DirectFunctionCall1(jsonb_in, CStringGetDatum(b));

	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(a), bj));
}

/* JSON text of a jsonb container */
static char *
Text(Jsonb *j)
{
	return JsonbToCString(NULL, &j->root, VARSIZE(j));
}

/*
 * Makes call->ref and, when the call has a server callback, its secret:
 * returns the customer with liveid_ref and liveid_token added to
 * otherParams (and liveid.callback_url as its url when it had none), and
 * sets call->token_sha256.  Without a callback the customer is returned as
 * it is and call->token_sha256 is NULL.  The customer has passed
 * liveid_check_customer().
 */
Jsonb *
liveid_call_secret(Jsonb *customer, LiveidCall *call)
{
	JsonbValue *cb_value,
			   *v;
	JsonbContainer *cb = NULL;
	char	   *url_json,
			   *params_json,
			   *cb_json;
	char		token[TOKEN_BYTES * 2 + 1];
	uint8		raw[TOKEN_BYTES];
	Jsonb	   *params,
			   *servercallback;
	StringInfoData s;

	call->ref = NewRef();
	call->token_sha256 = NULL;
	cb_json = MemberText(&customer->root, "liveid_servercallback", &cb_value);
	if (cb_value && cb_value->type == jbvBinary)
		cb = cb_value->val.binary.data;
	url_json = MemberText(cb, "url", &v);
	if (url_json == NULL && liveid_is_blank(liveid_callback_url))
		return customer;		/* no server callback: nothing to secure */
	initStringInfo(&s);
	if (url_json == NULL)
	{
		escape_json(&s, liveid_callback_url);
		url_json = pstrdup(s.data);
	}
	params_json = MemberText(cb, "otherParams", &v);
	if (v != NULL && v->type == jbvBinary)
		CheckOwnParams(v->val.binary.data);

	RandomBytes(raw, sizeof(raw));
	hex_encode((const char *) raw, TOKEN_BYTES, token);
	token[TOKEN_BYTES * 2] = '\0';
	explicit_bzero(raw, sizeof(raw));
	call->token_sha256 = liveid_sha256(token, TOKEN_BYTES * 2);

	/* customer || {"liveid_servercallback": cb || {url, otherParams: p || ours}} */
	resetStringInfo(&s);
	appendStringInfo(&s, "{\"liveid_ref\": \"%s\", \"liveid_token\": \"%s\"}", call->ref, token);
	params = Concat(DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
													   CStringGetDatum(params_json ? params_json : "{}"))),
					s.data);
	resetStringInfo(&s);
	appendStringInfo(&s, "{\"url\": %s, \"otherParams\": %s}", url_json, Text(params));
	servercallback = Concat(DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
															   CStringGetDatum(cb ? cb_json : "{}"))),
							s.data);
	resetStringInfo(&s);
	appendStringInfo(&s, "{\"liveid_servercallback\": %s}", Text(servercallback));
	explicit_bzero(token, sizeof(token));
	return Concat(customer, s.data);
}
