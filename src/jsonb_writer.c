/*-------------------------------------------------------------------------
 *
 * jsonb_writer.c
 *		JSON text (in the database encoding) to jsonb, written straight into
 *		one buffer of the exact final size, without a JsonbValue tree.
 *
 * The text is read twice by one walker (Walk) over PostgreSQL's own JSON
 * lexer, so what is accepted, and how strings and numbers are read, is what
 * jsonb_in does.  The result is byte for byte the jsonb of jsonb_in: the
 * layout of utils/jsonb.h and of convertToJsonb() in jsonb_util.c.
 *
 * Pass 1 checks everything (the only pass that can fail) and measures: for
 * each container, in document order, its number of children (and for an
 * object where its member records start); for each object member, in
 * document order, its rank among the object's sorted, unique keys (or -1
 * for a duplicate that loses to a later one) and where its key and its
 * value go.  An object's layout is known once its members are: keys sorted
 * by (length, bytes), the last of equal keys kept, all keys first and then
 * the values in key order, numerics and containers padded to 4 bytes.  The
 * size of a container does not depend on where it lands (it starts aligned
 * and its padding is relative to its start), so a parent can place its
 * children before pass 2 writes them.
 *
 * Pass 2 allocates the result once and writes each value at its final
 * place as the walk meets it: an object's members need no reordering
 * afterwards because each one's place is already known.
 *
 * Memory beyond the text and the result: 4 bytes per array, 8 per object
 * and 12 per object member, kept from pass 1 to pass 2 in fixed chunks (so
 * never copied or doubled on growth); while pass 1 reads an object, 12
 * bytes per member read so far (16 while it sorts them), and a copy of the
 * keys that have escapes (the others are read from the text); the last
 * number read.  The result is allocated once, at its exact size.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "common/jsonapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/memutils.h"
#include "utils/numeric.h"

/* open containers there is room for at first */
#define INITIAL_FRAMES 16

/*
 * Entries of one chunk of a Vec: small enough that a chunk (at most 6 kB)
 * stays an ordinary palloc chunk, so that the many small answers cost no
 * large allocation and no zeroing of one; a 7.9 MB answer takes a few
 * thousand chunks.
 */
#define VEC_CHUNK 512

/* a growing array in fixed chunks: growth never copies or doubles */
typedef struct Vec
{
	char	  **chunks;
	int			nchunks;
	int			maxchunks;
	uint32		n;				/* entries used */
	Size		elem;			/* bytes per entry */
} Vec;

/* where an object member goes (pass 1 writes it, pass 2 reads it) */
typedef struct MemberRec
{
	int32		rank;			/* among the kept keys; -1: a dropped duplicate */
	uint32		key_off;		/* key's offset in the object's data */
	uint32		val_off;		/* value's offset there, before its padding */
} MemberRec;

/* a member of an object still open in pass 1 */
typedef struct OpenMember
{
	uint32		key_at;			/* offset in the text, or KEY_IN_ARENA | arena offset */
	uint32		key_len;
	uint32		val_size;		/* VAL_ALIGNED | size */
} OpenMember;

#define KEY_IN_ARENA	0x80000000
#define VAL_ALIGNED		0x80000000

/* an open container in pass 1 */
typedef struct Frame1
{
	bool		is_object;
	uint32		word;			/* its first entry in Writer.words */
	uint32		count;			/* children (members for an object) so far */
	uint32		data_len;		/* array: data bytes so far, padding included */
	uint32		open_at;		/* object: its first OpenMember */
	int			arena_at;		/* object: arena length at its start */
} Frame1;

/* an open container in pass 2 */
typedef struct Frame2
{
	bool		is_object;
	bool		skip;			/* in a dropped duplicate: nothing is written */
	Size		start;			/* where it begins, before its padding */
	Size		jentries;		/* its JEntry array */
	Size		data;			/* its data */
	Size		end;			/* the end of what is written so far */
	uint32		count;			/* elements, or pairs kept */
	uint32		next;			/* next element, or next member in text order */
	uint32		members_at;		/* object: its first MemberRec */
	int32		rank;			/* object: rank of the member being read */
	Size		val_start;		/* object: where that member's value goes */
} Frame2;

/* the state of a conversion */
typedef struct Writer
{
	JsonLexContext *lex;
	char	   *text;
	int			len;
	int			pass;			/* 1 or 2 */
	int			depth;			/* containers open */
	bool	   *kinds;			/* per depth: an object? */
	int			max_frames;		/* room in kinds and the pass's frames */
	uint32		tokens;
	bool		in_lex;			/* json_lex is running (for the error handler) */
	bool		in_number;		/* numeric_in is running (likewise) */
	bool		raw_scalar;		/* the text is one scalar */

	/* the last number read, as numeric_in made it */
	MemoryContext numcxt;
	char	   *num_token;
	int			num_token_len;
	Numeric		num;

	/* pass 1 results, read by pass 2 */
	Vec			words;			/* per container: count (+ members_at for objects) */
	Vec			members;		/* MemberRec, objects in the order they end */
	Size		total;			/* the result's size */

	/* pass 1 state */
	Frame1	   *f1;
	OpenMember *open;
	uint32		nopen;
	uint32		maxopen;
	StringInfoData arena;		/* keys with escapes, while their object is open */

	/* pass 2 state */
	Frame2	   *f2;
	Frame2		raw_frame;		/* the one-element array of a raw scalar */
	uint32		next_word;
	char	   *out;
} Writer;

/* Starts an empty Vec of entries of elem bytes. */
static void
VecInit(Vec *v, Size elem)
{
	memset(v, 0, sizeof(Vec));
	v->elem = elem;
}

/* Appends a zeroed entry and returns its index. */
static uint32
VecPush(Vec *v)
{
	int			c = v->n / VEC_CHUNK;

	if (c >= v->nchunks)
	{
		if (v->nchunks == v->maxchunks)
		{
			v->maxchunks = Max(16, v->maxchunks * 2);
			v->chunks = v->chunks ? repalloc(v->chunks, sizeof(char *) * v->maxchunks)
				: palloc(sizeof(char *) * v->maxchunks);
		}
		v->chunks[v->nchunks++] = palloc0(v->elem * VEC_CHUNK);
	}
	return v->n++;
}

/* The entry at index i. */
static inline void *
VecAt(Vec *v, uint32 i)
{
	return v->chunks[i / VEC_CHUNK] + v->elem * (i % VEC_CHUNK);
}

/* The word at index i of Writer.words. */
static inline uint32 *
Word(Writer *w, uint32 i)
{
	return (uint32 *) VecAt(&w->words, i);
}

/* ----------------------------------------------------------------------
 * errors: 58000 with a position and an escaped excerpt, never raw bytes
 * ----------------------------------------------------------------------
 */

/* Where the current token starts (the end of the text after the last). */
static const char *
TokenAt(Writer *w)
{
	const char *at = w->lex->token_start;

	if (at == NULL || at < w->text || at > w->text + w->len)
		return w->text + w->len;
	return at;
}

/* The 1-based character position of a place in the text. */
static int
CharPos(Writer *w, const char *at)
{
	int			off = (int) (at - w->text);

	return pg_mbstrlen_with_len(w->text, off) + 1;
}

/*
 * At most LIVEID_EXCERPT_CHARS characters of the text from at, control
 * characters as \xNN, "..." when cut.
 */
static char *
Excerpt(Writer *w, const char *at)
{
	StringInfoData s;
	const char *end = w->text + w->len;
	int			chars = 0;

	initStringInfo(&s);
	while (at < end && chars < LIVEID_EXCERPT_CHARS)
	{
		unsigned char c = (unsigned char) *at;
		int			l = Min(pg_mblen(at), (int) (end - at));

		if (c < 0x20 || c == 0x7f)
			appendStringInfo(&s, "\\x%02x", c);
		else
			appendBinaryStringInfo(&s, at, l);
		at += l;
		chars++;
	}
	if (at < end)
		appendStringInfoString(&s, "...");
	return s.data;
}

/* Raises "not JSON": what is wrong, where, and the text there. */
static void
pg_attribute_noreturn()
NotJson(Writer *w, const char *what)
{
	const char *at = TokenAt(w);

	if (at >= w->text + w->len)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("LiveID+ answer is not JSON"),
				 errdetail("At character %d: %s; the answer ends there.",
						   CharPos(w, at), what)));
	ereport(ERROR,
			(errcode(ERRCODE_SYSTEM_ERROR),
			 errmsg("LiveID+ answer is not JSON"),
			 errdetail("At character %d: %s; the text there: \"%s\".",
					   CharPos(w, at), what, Excerpt(w, at))));
}

/* Raises the error of a lexer failure. */
static void
pg_attribute_noreturn()
LexError(Writer *w, JsonParseErrorType err)
{
	if (err == JSON_UNICODE_CODE_POINT_ZERO)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("LiveID+ answer has a string with \\u0000"),
				 errdetail("At character %d: a string holds the escape \\u0000, which text cannot hold.",
						   CharPos(w, TokenAt(w)))));
	switch (err)
	{
		case JSON_ESCAPING_INVALID:
			NotJson(w, "an invalid escape in a string");
		case JSON_ESCAPING_REQUIRED:
			NotJson(w, "a control character not escaped in a string");
		case JSON_UNICODE_ESCAPE_FORMAT:
			NotJson(w, "a \\u escape without four hexadecimal digits");
		case JSON_UNICODE_HIGH_SURROGATE:
		case JSON_UNICODE_LOW_SURROGATE:
			NotJson(w, "a \\u escape of an unpaired UTF-16 surrogate");
		case JSON_UNICODE_HIGH_ESCAPE:
			NotJson(w, "a \\u escape the database encoding cannot represent");
		default:
			NotJson(w, "an invalid token");
	}
}

/* Raises the error of a \u escape with no equivalent in the database encoding. */
static void
pg_attribute_noreturn()
EscapeError(Writer *w)
{
	ereport(ERROR,
			(errcode(ERRCODE_SYSTEM_ERROR),
			 errmsg("LiveID+ answer has a character the database encoding cannot represent"),
			 errdetail("At character %d: a \\u escape in a string has no equivalent in encoding \"%s\".",
					   CharPos(w, TokenAt(w)), GetDatabaseEncodingName())));
}

/* Raises the error of a number numeric_in refuses (out of its range). */
static void
pg_attribute_noreturn()
NumberError(Writer *w)
{
	ereport(ERROR,
			(errcode(ERRCODE_SYSTEM_ERROR),
			 errmsg("LiveID+ answer has a number out of range"),
			 errdetail("At character %d: the number does not fit type numeric: \"%s\".",
					   CharPos(w, TokenAt(w)), Excerpt(w, TokenAt(w)))));
}

/* Raises jsonb's own error of a container too large (as convertJsonbValue). */
static void
pg_attribute_noreturn()
ContainerTooLarge(bool is_object)
{
	ereport(ERROR,
			(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
			 errmsg("total size of jsonb %s elements exceeds the maximum of %u bytes",
					is_object ? "object" : "array", JENTRY_OFFLENMASK)));
}

/* Raises jsonb's own error of a string too long (as checkStringLen). */
static void
CheckStringLen(size_t len)
{
	if (len > JENTRY_OFFLENMASK)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("string too long to represent as jsonb string"),
				 errdetail("Due to an implementation restriction, jsonb strings cannot exceed %d bytes.",
						   JENTRY_OFFLENMASK)));
}

/* ----------------------------------------------------------------------
 * tokens and numbers
 * ----------------------------------------------------------------------
 */

/* Reads the next token; raises on a lexical error. */
static void
Lex(Writer *w)
{
	JsonParseErrorType err;

	/* json_lex may raise from pg_unicode_to_server: the handler must know */
	w->in_lex = true;
	err = json_lex(w->lex);
	w->in_lex = false;
	if (err != JSON_SUCCESS)
		LexError(w, err);
	if ((++w->tokens & 0xFFFF) == 0)
		CHECK_FOR_INTERRUPTS();
}

/*
 * The current number token as numeric_in makes it, as jsonb_in does.  The
 * last one is kept: a repeated number (an array of zeros) costs nothing.
 */
static Numeric
CurrentNumber(Writer *w)
{
	const char *tok = w->lex->token_start;
	int			n = (int) (w->lex->token_terminator - tok);
	MemoryContext old;

	if (w->num != NULL && n == w->num_token_len && memcmp(tok, w->num_token, n) == 0)
		return w->num;
	MemoryContextReset(w->numcxt);
	w->num = NULL;
	old = MemoryContextSwitchTo(w->numcxt);
	w->num_token = pnstrdup(tok, n);
	w->num_token_len = n;
	w->in_number = true;
	w->num = DatumGetNumeric(DirectFunctionCall3(numeric_in,
												 CStringGetDatum(w->num_token),
												 ObjectIdGetDatum(InvalidOid),
												 Int32GetDatum(-1)));
	w->in_number = false;
	MemoryContextSwitchTo(old);
	return w->num;
}

/* ----------------------------------------------------------------------
 * pass 1: check and measure
 * ----------------------------------------------------------------------
 */

/*
 * Accounts a finished child (size bytes, aligned or not) to its parent, the
 * frame at level (-1: the child is the whole value).
 */
static void
Child1(Writer *w, int level, Size size, bool aligned)
{
	Frame1	   *f;

	if (level < 0)
	{
		/*
		 * A container comes after the varlena header; a raw scalar after it,
		 * the array header and one JEntry (so it is aligned too).
		 */
		w->total = (w->raw_scalar ? VARHDRSZ + 2 * sizeof(uint32) : VARHDRSZ) + size;
		return;
	}
	f = &w->f1[level];
	if (f->is_object)
	{
		w->open[w->nopen - 1].val_size = (uint32) size | (aligned ? VAL_ALIGNED : 0);
		return;
	}
	{
		Size		start = aligned ? INTALIGN(f->data_len) : f->data_len;

		if (start + size > JENTRY_OFFLENMASK)
			ContainerTooLarge(false);
		f->data_len = (uint32) (start + size);
		f->count++;
	}
}

/* Opens a container. */
static void
Begin1(Writer *w, bool is_object)
{
	Frame1	   *f = &w->f1[w->depth - 1];

	f->is_object = is_object;
	f->word = VecPush(&w->words);
	if (is_object)
		VecPush(&w->words);
	f->count = 0;
	f->data_len = 0;
	f->open_at = w->nopen;
	f->arena_at = w->arena.len;
}

/* Records an object key (the current string token). */
static void
Key1(Writer *w)
{
	Frame1	   *f = &w->f1[w->depth - 1];
	JsonLexContext *lex = w->lex;
	char	   *raw = lex->token_start + 1;
	int			raw_len = (int) (lex->token_terminator - lex->token_start) - 2;
	OpenMember *m;

	CheckStringLen(lex->strval->len);
	/* more pairs than one object's JEntries could ever address */
	if ((Size) (f->count + 1) * 2 * sizeof(JEntry) > JENTRY_OFFLENMASK)
		ContainerTooLarge(true);
	if (w->nopen == w->maxopen)
	{
		w->maxopen = Max(64, w->maxopen * 2);
		w->open = w->open ? repalloc_huge(w->open, sizeof(OpenMember) * w->maxopen)
			: palloc(sizeof(OpenMember) * w->maxopen);
	}
	m = &w->open[w->nopen++];
	m->key_len = lex->strval->len;
	m->val_size = 0;
	/* a key without escapes is its own text; only others need a copy */
	if (memchr(raw, '\\', raw_len) == NULL)
		m->key_at = (uint32) (raw - w->text);
	else
	{
		m->key_at = KEY_IN_ARENA | (uint32) w->arena.len;
		appendBinaryStringInfo(&w->arena, lex->strval->data, lex->strval->len);
	}
	f->count++;
}

/* The bytes of an open member's key. */
static inline const char *
KeyBytes(Writer *w, const OpenMember *m)
{
	return (m->key_at & KEY_IN_ARENA) ? w->arena.data + (m->key_at & ~KEY_IN_ARENA)
		: w->text + m->key_at;
}

/* Compares keys as jsonb orders them: by length, then bytes. */
static inline int
CompareKeys(Writer *w, const OpenMember *a, const OpenMember *b)
{
	if (a->key_len != b->key_len)
		return a->key_len > b->key_len ? 1 : -1;
	return memcmp(KeyBytes(w, a), KeyBytes(w, b), a->key_len);
}

/* the state qsort_arg needs to sort one object's members */
typedef struct SortArg
{
	Writer	   *w;
	OpenMember *m;
} SortArg;

/*
 * qsort_arg comparator of member indexes: by key, equal keys the later
 * first, so that keeping the first of equal keys keeps the last value (as
 * lengthCompareJsonbPair and uniqueifyJsonbObject do).
 */
static int
CompareMembers(const void *a, const void *b, void *arg)
{
	SortArg    *s = arg;
	uint32		ia = *(const uint32 *) a;
	uint32		ib = *(const uint32 *) b;
	int			res = CompareKeys(s->w, &s->m[ia], &s->m[ib]);

	if (res == 0)
		res = (ia > ib) ? -1 : 1;
	return res;
}

/*
 * Closes an object in pass 1: sorts its keys, drops duplicates, places
 * each kept key and value, and records where each member goes.  Returns
 * the object's size.
 */
static Size
ObjectEnd1(Writer *w, Frame1 *f)
{
	uint32		k = w->nopen - f->open_at;
	OpenMember *m = &w->open[f->open_at];
	uint32	   *order = palloc(sizeof(uint32) * Max(k, 1));
	SortArg		arg = {w, m};
	uint32		members_at = w->members.n;
	uint32		kept = 0;
	Size		pos = 0;

	/* a MemberRec per member, in text order */
	for (uint32 i = 0; i < k; i++)
	{
		order[i] = i;
		VecPush(&w->members);
	}
	if (k > 1)
		qsort_arg(order, k, sizeof(uint32), CompareMembers, &arg);

	/* ranks and keys: the first of each run of equal keys is kept */
	for (uint32 i = 0; i < k; i++)
	{
		MemberRec  *r = VecAt(&w->members, members_at + order[i]);

		if (kept > 0 && CompareKeys(w, &m[order[i]], &m[order[kept - 1]]) == 0)
		{
			r->rank = -1;
			continue;
		}
		order[kept++] = order[i];
		r->rank = (int32) (kept - 1);
		r->key_off = (uint32) pos;
		pos += m[order[i]].key_len;
	}

	/* values after all the keys, in key order */
	for (uint32 i = 0; i < kept; i++)
	{
		MemberRec  *r = VecAt(&w->members, members_at + order[i]);
		uint32		v = m[order[i]].val_size;
		Size		start = (v & VAL_ALIGNED) ? INTALIGN(pos) : pos;

		r->val_off = (uint32) pos;
		pos = start + (v & ~VAL_ALIGNED);
		if (pos > JENTRY_OFFLENMASK)
			ContainerTooLarge(true);
	}
	pfree(order);

	*Word(w, f->word) = kept;
	*Word(w, f->word + 1) = members_at;
	w->nopen = f->open_at;
	w->arena.len = f->arena_at;
	return sizeof(uint32) + 2 * sizeof(JEntry) * (Size) kept + pos;
}

/* Closes a container in pass 1 and accounts it to its parent. */
static void
End1(Writer *w)
{
	Frame1	   *f = &w->f1[w->depth - 1];
	Size		size;

	if (f->is_object)
		size = ObjectEnd1(w, f);
	else
	{
		*Word(w, f->word) = f->count;
		size = sizeof(uint32) + sizeof(JEntry) * (Size) f->count + f->data_len;
	}
	if (size > JENTRY_OFFLENMASK)
		ContainerTooLarge(f->is_object);
	Child1(w, w->depth - 2, size, true);
}

/* Accounts a scalar (the current token). */
static void
Scalar1(Writer *w, JsonTokenType tok)
{
	if (tok == JSON_TOKEN_STRING)
	{
		CheckStringLen(w->lex->strval->len);
		Child1(w, w->depth - 1, w->lex->strval->len, false);
	}
	else if (tok == JSON_TOKEN_NUMBER)
		Child1(w, w->depth - 1, VARSIZE(CurrentNumber(w)), true);
	else
		Child1(w, w->depth - 1, 0, false);
}

/* ----------------------------------------------------------------------
 * pass 2: write
 * ----------------------------------------------------------------------
 */

/*
 * The frame at level, the parent of a value: -1 is the raw scalar's array,
 * or NULL when the value is the whole (container) value.
 */
static inline Frame2 *
Parent2(Writer *w, int level)
{
	if (level >= 0)
		return &w->f2[level];
	return w->raw_scalar ? &w->raw_frame : NULL;
}

/* Whether the value now read is not to be written. */
static inline bool
Skipping(Frame2 *parent)
{
	return parent != NULL && (parent->skip || (parent->is_object && parent->rank < 0));
}

/* Where the parent's next child goes, before padding. */
static inline Size
ChildStart(Frame2 *parent)
{
	if (parent == NULL)
		return VARHDRSZ;
	return parent->is_object ? parent->val_start : parent->end;
}

/*
 * Sets JEntry i of a container to a child of type from start to end (bytes
 * of out): every JB_OFFSET_STRIDE'th holds the end offset, the others the
 * length, as convertJsonbArray and convertJsonbObject do.
 */
static inline void
SetJEntry(Writer *w, Frame2 *f, uint32 i, uint32 type, Size start, Size end)
{
	JEntry		meta;

	if (i % JB_OFFSET_STRIDE == 0)
		meta = type | (uint32) (end - f->data) | JENTRY_HAS_OFF;
	else
		meta = type | (uint32) (end - start);
	memcpy(w->out + f->jentries + sizeof(JEntry) * i, &meta, sizeof(JEntry));
}

/* Records a child written from start to end in its parent. */
static void
Child2(Writer *w, Frame2 *parent, uint32 type, Size start, Size end)
{
	if (parent == NULL)
	{
		if (end != w->total)
			elog(ERROR, "jsonb of a LiveID+ answer: %zu bytes written, %zu expected",
				 end, w->total);
		return;
	}
	if (parent->is_object)
		SetJEntry(w, parent, parent->count + parent->rank, type, start, end);
	else
		SetJEntry(w, parent, parent->next++, type, start, end);
	parent->end = Max(parent->end, end);
}

/* Opens a container: writes its header, reserves its JEntries. */
static void
Begin2(Writer *w, bool is_object)
{
	Frame2	   *f = &w->f2[w->depth - 1];
	Frame2	   *parent = Parent2(w, w->depth - 2);
	Size		at;

	f->is_object = is_object;
	f->count = *Word(w, w->next_word++);
	f->members_at = is_object ? *Word(w, w->next_word++) : 0;
	f->next = 0;
	f->rank = -1;
	f->skip = Skipping(parent);
	if (f->skip)
		return;
	f->start = ChildStart(parent);
	at = INTALIGN(f->start);
	*(uint32 *) (w->out + at) = f->count | (is_object ? JB_FOBJECT : JB_FARRAY);
	f->jentries = at + sizeof(uint32);
	f->data = f->jentries + sizeof(JEntry) * (Size) f->count * (is_object ? 2 : 1);
	f->end = f->data;
}

/* Writes an object key (the current string token) at its place. */
static void
Key2(Writer *w)
{
	Frame2	   *f = &w->f2[w->depth - 1];
	MemberRec  *r = VecAt(&w->members, f->members_at + f->next++);
	StringInfo	key = w->lex->strval;
	Size		start;

	f->rank = r->rank;
	if (f->skip || r->rank < 0)
		return;
	start = f->data + r->key_off;
	memcpy(w->out + start, key->data, key->len);
	SetJEntry(w, f, r->rank, JENTRY_ISSTRING, start, start + key->len);
	f->end = Max(f->end, start + key->len);
	f->val_start = f->data + r->val_off;
}

/* Writes a scalar (the current token) at its place. */
static void
Scalar2(Writer *w, JsonTokenType tok)
{
	Frame2	   *parent = Parent2(w, w->depth - 1);
	Size		start,
				end;
	uint32		type;

	if (Skipping(parent))
		return;
	start = end = ChildStart(parent);
	if (tok == JSON_TOKEN_STRING)
	{
		memcpy(w->out + start, w->lex->strval->data, w->lex->strval->len);
		end += w->lex->strval->len;
		type = JENTRY_ISSTRING;
	}
	else if (tok == JSON_TOKEN_NUMBER)
	{
		Numeric		num = CurrentNumber(w);

		/* the padding bytes are already zero: out is palloc0'd */
		end = INTALIGN(start);
		memcpy(w->out + end, num, VARSIZE(num));
		end += VARSIZE(num);
		type = JENTRY_ISNUMERIC;
	}
	else
		type = tok == JSON_TOKEN_TRUE ? JENTRY_ISBOOL_TRUE :
			tok == JSON_TOKEN_FALSE ? JENTRY_ISBOOL_FALSE : JENTRY_ISNULL;
	Child2(w, parent, type, start, end);
}

/* Closes a container in pass 2 and records it in its parent. */
static void
End2(Writer *w)
{
	Frame2	   *f = &w->f2[w->depth - 1];

	if (f->skip)
		return;
	Child2(w, Parent2(w, w->depth - 2), JENTRY_ISCONTAINER, f->start, f->end);
}

/* ----------------------------------------------------------------------
 * the walker, shared by both passes
 * ----------------------------------------------------------------------
 */

/* Makes room for more open containers (answers are mostly shallow). */
static void
GrowFrames(Writer *w)
{
	w->max_frames = Min(w->max_frames * 2, LIVEID_ANSWER_MAX_DEPTH + 1);
	w->kinds = repalloc(w->kinds, sizeof(bool) * w->max_frames);
	if (w->pass == 1)
		w->f1 = repalloc(w->f1, sizeof(Frame1) * w->max_frames);
	else
		w->f2 = repalloc(w->f2, sizeof(Frame2) * w->max_frames);
}

/* Dispatches a container start. */
static void
OnBegin(Writer *w, bool is_object)
{
	if (w->depth > LIVEID_ANSWER_MAX_DEPTH)
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("LiveID+ answer is nested too deeply"),
				 errdetail("At character %d: more than %d arrays and objects are nested.",
						   CharPos(w, TokenAt(w)), LIVEID_ANSWER_MAX_DEPTH)));
	check_stack_depth();
	if (w->depth > w->max_frames)
		GrowFrames(w);
	w->kinds[w->depth - 1] = is_object;
	if (w->pass == 1)
		Begin1(w, is_object);
	else
		Begin2(w, is_object);
}

/* Reads an object key and its colon; the value comes next. */
static void
OnKey(Writer *w)
{
	if (w->lex->token_type != JSON_TOKEN_STRING)
		NotJson(w, "a string (a key) is expected");
	if (w->pass == 1)
		Key1(w);
	else
		Key2(w);
	Lex(w);
	if (w->lex->token_type != JSON_TOKEN_COLON)
		NotJson(w, "\":\" is expected");
	Lex(w);
}

/*
 * After a value: closes the containers that end here; returns true when
 * another value follows (after a comma, and a key in an object), false at
 * the end of the text.
 */
static bool
AfterValue(Writer *w)
{
	for (;;)
	{
		JsonTokenType tok = w->lex->token_type;
		bool		obj;

		if (w->depth == 0)
		{
			if (tok != JSON_TOKEN_END)
				NotJson(w, "text follows the value");
			return false;
		}
		obj = w->kinds[w->depth - 1];
		if (tok == (obj ? JSON_TOKEN_OBJECT_END : JSON_TOKEN_ARRAY_END))
		{
			if (w->pass == 1)
				End1(w);
			else
				End2(w);
			w->depth--;
			Lex(w);
			continue;
		}
		if (tok != JSON_TOKEN_COMMA)
			NotJson(w, obj ? "\",\" or \"}\" is expected" : "\",\" or \"]\" is expected");
		Lex(w);
		if (obj)
			OnKey(w);
		return true;
	}
}

/* Reads the whole text once, calling the current pass at each step. */
static void
Walk(Writer *w)
{
	JsonLexContext *lex = w->lex;

	w->depth = 0;
	Lex(w);
	w->raw_scalar = lex->token_type != JSON_TOKEN_OBJECT_START &&
		lex->token_type != JSON_TOKEN_ARRAY_START;
	for (;;)
	{
		JsonTokenType tok = lex->token_type;

		/* here a value is expected */
		if (tok == JSON_TOKEN_OBJECT_START || tok == JSON_TOKEN_ARRAY_START)
		{
			bool		obj = (tok == JSON_TOKEN_OBJECT_START);

			w->depth++;
			OnBegin(w, obj);
			Lex(w);
			/* an empty container: AfterValue closes it at once */
			if (lex->token_type == (obj ? JSON_TOKEN_OBJECT_END : JSON_TOKEN_ARRAY_END))
			{
				if (!AfterValue(w))
					return;
			}
			else if (obj)
				OnKey(w);
			continue;
		}
		if (tok != JSON_TOKEN_STRING && tok != JSON_TOKEN_NUMBER && tok != JSON_TOKEN_TRUE &&
			tok != JSON_TOKEN_FALSE && tok != JSON_TOKEN_NULL)
			NotJson(w, "a value is expected");
		if (w->pass == 1)
			Scalar1(w, tok);
		else
			Scalar2(w, tok);
		Lex(w);
		if (!AfterValue(w))
			return;
	}
}

/* ----------------------------------------------------------------------
 * the two passes
 * ----------------------------------------------------------------------
 */

/*
 * In pass 1's error handler: a \u escape that pg_unicode_to_server cannot
 * convert, or a number numeric_in refuses, becomes the 58000 of an answer
 * the database cannot hold; anything else (out of memory, a cancel) is
 * left as it is (the caller re-throws it).
 */
static void
TranslateError(Writer *w, MemoryContext caller)
{
	ErrorData  *ed;

	MemoryContextSwitchTo(caller);
	ed = CopyErrorData();
	if (w->in_lex && (ed->sqlerrcode == ERRCODE_UNTRANSLATABLE_CHARACTER ||
					  ed->sqlerrcode == ERRCODE_FEATURE_NOT_SUPPORTED))
	{
		FlushErrorState();
		EscapeError(w);
	}
	if (w->in_number && (ed->sqlerrcode == ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE ||
						 ed->sqlerrcode == ERRCODE_INVALID_TEXT_REPRESENTATION))
	{
		FlushErrorState();
		NumberError(w);
	}
	FreeErrorData(ed);
}

/* Pass 1: checks the whole text and measures every container. */
static void
Pass1(Writer *w, MemoryContext caller)
{
	w->pass = 1;
	w->lex = makeJsonLexContextCstringLen(w->text, w->len, GetDatabaseEncoding(), true);
	w->max_frames = INITIAL_FRAMES;
	w->kinds = palloc(sizeof(bool) * w->max_frames);
	w->f1 = palloc(sizeof(Frame1) * w->max_frames);
	initStringInfo(&w->arena);
	PG_TRY();
	{
		Walk(w);
	}
	PG_CATCH();
	{
		if (w->in_lex || w->in_number)
			TranslateError(w, caller);
		PG_RE_THROW();
	}
	PG_END_TRY();
	/* what only pass 1 needed */
	pfree(w->f1);
	if (w->open)
		pfree(w->open);
	pfree(w->arena.data);
}

/* Pass 2: writes the jsonb into one zeroed buffer of the caller's context. */
static void
Pass2(Writer *w, MemoryContext caller)
{
	w->pass = 2;
	w->lex = makeJsonLexContextCstringLen(w->text, w->len, GetDatabaseEncoding(), true);
	w->max_frames = INITIAL_FRAMES;
	w->kinds = repalloc(w->kinds, sizeof(bool) * w->max_frames);
	w->f2 = palloc(sizeof(Frame2) * w->max_frames);
	w->out = MemoryContextAllocZero(caller, w->total);
	SET_VARSIZE(w->out, w->total);
	if (w->raw_scalar)
	{
		/* a scalar alone is a one-element array flagged as scalar */
		Frame2	   *f = &w->raw_frame;

		*(uint32 *) (w->out + VARHDRSZ) = 1 | JB_FARRAY | JB_FSCALAR;
		f->is_object = false;
		f->skip = false;
		f->start = VARHDRSZ;
		f->jentries = VARHDRSZ + sizeof(uint32);
		f->data = f->jentries + sizeof(JEntry);
		f->end = f->data;
		f->count = 1;
		f->next = 0;
		f->rank = -1;
	}
	w->next_word = 0;
	Walk(w);
}

/*
 * The jsonb of JSON text in the database encoding, len bytes with no NUL
 * byte: what jsonb_in would make of it, byte for byte, or 58000 naming what
 * is wrong where.  Temporary memory is freed before returning.
 */
Jsonb *
liveid_jsonb_from_text(char *text, int len)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext cxt = AllocSetContextCreate(caller, "liveid answer",
											  ALLOCSET_DEFAULT_SIZES);
	Writer	   *w;
	Jsonb	   *result;

	MemoryContextSwitchTo(cxt);
	w = palloc0(sizeof(Writer));
	w->text = text;
	w->len = len;
	w->numcxt = AllocSetContextCreate(cxt, "liveid answer number", ALLOCSET_SMALL_SIZES);
	VecInit(&w->words, sizeof(uint32));
	VecInit(&w->members, sizeof(MemberRec));
	Pass1(w, caller);
	Pass2(w, caller);
	result = (Jsonb *) w->out;
	MemoryContextSwitchTo(caller);
	MemoryContextDelete(cxt);
	return result;
}
