/*-------------------------------------------------------------------------
 *
 * handoff.c
 *		What backends hand to the background worker (worker.c) through
 *		shared memory: a wake-up at the commit of enqueued starts, and the
 *		calls of rolled-back transactions, which the worker rejects.
 *
 * The wake-up.  liveid.enqueue_start() asks for one; at the commit of its
 * transaction (XACT_EVENT_COMMIT, once the rows are visible) the worker's
 * latch is set.  The worker resets its latch before it claims, so a commit
 * that its claim did not see wakes it again: no start waits for a poll.
 *
 * The rejections.  service_start() sends pushAsyncCall inside the caller's
 * transaction; if that transaction (or the subtransaction that made the
 * call) aborts, the ledger has no row while the service holds a live link.
 * Each call the service started is tracked with the nesting level that
 * made it: a subtransaction's commit passes its calls to its parent, its
 * abort hands them over, and so does the abort of the transaction; its
 * commit forgets them.  Handing over is a copy into a slot of shared
 * memory under a spinlock and a SetLatch: nothing in the abort path sends
 * anything, allocates, or can fail.  The worker rejects the calls (PATCH
 * rejectCall) with its own connection, after the abort.  A transaction
 * holding tracked calls or enqueued starts cannot be prepared (two-phase
 * commit): its outcome would be decided where no callback sees it.
 *
 * What is not covered: without the worker (liveid not preloaded, or
 * liveid.worker_database empty) nothing is handed over; a backend killed
 * by SIGKILL, a crash of the server, or LIVEID_REJECT_SLOTS calls already
 * waiting (a WARNING names the call) leave the link valid until the
 * service's request expires.  The README says so.
 *
 *-------------------------------------------------------------------------
 */
#include "liveid.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/latch.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

typedef enum SlotState
{
	SLOT_FREE = 0,
	SLOT_WAITING,				/* handed over, due at "due" */
	SLOT_TAKEN					/* the worker is rejecting it */
} SlotState;

typedef struct RejectSlot
{
	SlotState	state;
	int			attempts;
	TimestampTz due;
	uint32		url_hash;		/* of the liveid.url it was started against */
	char		uid[LIVEID_MAX_UID_LEN + 1];
	char		organization[LIVEID_MAX_CODE_LEN + 1];
} RejectSlot;

typedef struct HandoffShared
{
	slock_t		mutex;
	Latch	   *worker_latch;	/* NULL while no worker runs */
	int			used;			/* slots not free */
	int			free_hint;		/* where to look for a free slot first */
	RejectSlot	slots[LIVEID_REJECT_SLOTS];
} HandoffShared;

static HandoffShared *shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* a call this backend's transaction started, and the level that did */
typedef struct TrackedCall
{
	char		uid[LIVEID_MAX_UID_LEN + 1];
	char		organization[LIVEID_MAX_CODE_LEN + 1];
	uint32		url_hash;
	int			level;
} TrackedCall;

/* in TopTransactionContext: gone with the transaction */
static TrackedCall *tracked = NULL;
static int	ntracked = 0;
static int	tracked_cap = 0;
static bool wake_at_commit = false;
static bool callbacks_registered = false;

/* The hash of a liveid.url, as the worker compares it with its own. */
static uint32
UrlHash(const char *url)
{
	return hash_bytes((const unsigned char *) url, strlen(url));
}

static void
HandoffShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(HandoffShared)));
}

static void
HandoffShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared = ShmemInitStruct("liveid handoff", sizeof(HandoffShared), &found);
	if (!found)
	{
		memset(shared, 0, sizeof(HandoffShared));
		SpinLockInit(&shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/* From _PG_init while shared_preload_libraries is processed. */
void
liveid_handoff_init(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = HandoffShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = HandoffShmemStartup;
}

/* True when the library was preloaded (the shared memory is there). */
bool
liveid_handoff_available(void)
{
	return shared != NULL;
}

/* Sets the worker's latch, if a worker runs. */
static void
WakeWorker(void)
{
	Latch	   *latch;

	SpinLockAcquire(&shared->mutex);
	latch = shared->worker_latch;
	SpinLockRelease(&shared->mutex);
	if (latch)
		SetLatch(latch);
}

/*
 * Copies one call into a free slot; never fails: a full array is a
 * WARNING naming the call.  Runs in the abort path.
 */
static void
HandOver(const TrackedCall *c, TimestampTz now)
{
	bool		placed = false;

	SpinLockAcquire(&shared->mutex);
	if (shared->used < LIVEID_REJECT_SLOTS)
	{
		for (int n = 0; n < LIVEID_REJECT_SLOTS; n++)
		{
			int			i = (shared->free_hint + n) % LIVEID_REJECT_SLOTS;
			RejectSlot *s = &shared->slots[i];

			if (s->state != SLOT_FREE)
				continue;
			s->state = SLOT_WAITING;
			s->attempts = 0;
			s->due = now;
			s->url_hash = c->url_hash;
			memcpy(s->uid, c->uid, sizeof(s->uid));
			memcpy(s->organization, c->organization, sizeof(s->organization));
			shared->used++;
			shared->free_hint = (i + 1) % LIVEID_REJECT_SLOTS;
			placed = true;
			break;
		}
	}
	SpinLockRelease(&shared->mutex);
	if (!placed)
		ereport(WARNING,
				(errmsg("the LiveID+ call \"%s\" of a rolled-back transaction is not rejected", c->uid),
				 errdetail("%d calls of rolled-back transactions are already waiting for liveid's background worker.",
						   LIVEID_REJECT_SLOTS),
				 errhint("Its link stays valid until the service's request expires.")));
}

/*
 * Hands over the tracked calls of level and deeper (all of them for level
 * 0) and forgets them.
 */
static void
HandOverFrom(int level)
{
	TimestampTz now = GetCurrentTimestamp();
	int			kept = 0;
	bool		any = false;

	for (int i = 0; i < ntracked; i++)
	{
		if (tracked[i].level >= level)
		{
			HandOver(&tracked[i], now);
			any = true;
		}
		else
			tracked[kept++] = tracked[i];
	}
	ntracked = kept;
	if (any)
		WakeWorker();
}

static void
Forget(void)
{
	tracked = NULL;
	ntracked = 0;
	tracked_cap = 0;
	wake_at_commit = false;
}

static void
HandoffXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_PREPARE:
			if (ntracked > 0 || wake_at_commit)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot PREPARE a transaction that called liveid.service_start() or liveid.enqueue_start()"),
						 errdetail("liveid follows a start's transaction to its commit or rollback, which two-phase commit decides elsewhere."),
						 errhint("Start calls in a transaction that commits directly.")));
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			if (wake_at_commit && shared)
				WakeWorker();
			Forget();
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
			if (ntracked > 0)
				HandOverFrom(0);
			Forget();
			break;
		case XACT_EVENT_PREPARE:
			Forget();
			break;
		default:
			break;
	}
}

static void
HandoffSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
					   SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();

	if (ntracked == 0)
		return;
	if (event == SUBXACT_EVENT_ABORT_SUB)
		HandOverFrom(level);
	else if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		/* the parent now owns them */
		for (int i = 0; i < ntracked; i++)
			if (tracked[i].level >= level)
				tracked[i].level = level - 1;
	}
}

static void
RegisterCallbacks(void)
{
	if (callbacks_registered)
		return;
	RegisterXactCallback(HandoffXactCallback, NULL);
	RegisterSubXactCallback(HandoffSubXactCallback, NULL);
	callbacks_registered = true;
}

/*
 * After the service started the call uid of organization in this
 * transaction: the worker rejects it if the (sub)transaction aborts.
 * Nothing is tracked when no worker would do it.
 */
void
liveid_handoff_track(const char *uid, const char *organization)
{
	TrackedCall *c;

	if (shared == NULL || liveid_worker_database == NULL || liveid_worker_database[0] == '\0')
		return;
	RegisterCallbacks();
	if (ntracked == tracked_cap)
	{
		int			cap = tracked_cap ? tracked_cap * 2 : 8;

		tracked = tracked ?
			repalloc(tracked, cap * sizeof(TrackedCall)) :
			MemoryContextAlloc(TopTransactionContext, cap * sizeof(TrackedCall));
		tracked_cap = cap;
	}
	c = &tracked[ntracked];
	strlcpy(c->uid, uid, sizeof(c->uid));
	strlcpy(c->organization, organization, sizeof(c->organization));
	c->url_hash = UrlHash(liveid_base_url());
	c->level = GetCurrentTransactionNestLevel();
	ntracked++;
}

/*
 * The worker's own: a call the service started that the ledger refused,
 * rejected in a later round.
 */
void
liveid_handoff_reject(const char *uid, const char *organization)
{
	TrackedCall c;

	strlcpy(c.uid, uid, sizeof(c.uid));
	strlcpy(c.organization, organization, sizeof(c.organization));
	c.url_hash = UrlHash(liveid_base_url());
	c.level = 0;
	HandOver(&c, GetCurrentTimestamp());
}

/* The worker is woken when this transaction commits. */
void
liveid_handoff_wake_at_commit(void)
{
	RegisterCallbacks();
	wake_at_commit = true;
}

/*
 * ---- for worker.c ----
 */

/*
 * The worker starts: its latch is the one to set, and the rejections a
 * previous worker had taken are waiting again.
 */
void
liveid_handoff_attach_worker(void)
{
	SpinLockAcquire(&shared->mutex);
	shared->worker_latch = MyLatch;
	for (int i = 0; i < LIVEID_REJECT_SLOTS; i++)
		if (shared->slots[i].state == SLOT_TAKEN)
			shared->slots[i].state = SLOT_WAITING;
	SpinLockRelease(&shared->mutex);
	on_shmem_exit(liveid_handoff_detach_worker, (Datum) 0);
}

/* on_shmem_exit of the worker */
void
liveid_handoff_detach_worker(int code, Datum arg)
{
	SpinLockAcquire(&shared->mutex);
	shared->worker_latch = NULL;
	SpinLockRelease(&shared->mutex);
}

/* The rejections due at now, at most max, marked taken; how many. */
int
liveid_handoff_take(LiveidReject *out, int max, TimestampTz now)
{
	uint32		url_hash = UrlHash(liveid_base_url());
	int			n = 0;

	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < LIVEID_REJECT_SLOTS && n < max && shared->used > 0; i++)
	{
		RejectSlot *s = &shared->slots[i];

		if (s->state != SLOT_WAITING || s->due > now)
			continue;
		s->state = SLOT_TAKEN;
		s->attempts++;
		out[n].slot = i;
		memcpy(out[n].uid, s->uid, sizeof(out[n].uid));
		memcpy(out[n].organization, s->organization, sizeof(out[n].organization));
		out[n].same_url = (s->url_hash == url_hash);
		out[n].attempts = s->attempts;
		n++;
	}
	SpinLockRelease(&shared->mutex);
	return n;
}

/* A taken rejection done with (done: the slot is free), or due again at retry_at. */
void
liveid_handoff_settle(const LiveidReject *r, bool done, TimestampTz retry_at)
{
	RejectSlot *s = &shared->slots[r->slot];

	SpinLockAcquire(&shared->mutex);
	Assert(s->state == SLOT_TAKEN);
	if (done)
	{
		s->state = SLOT_FREE;
		shared->used--;
	}
	else
	{
		s->state = SLOT_WAITING;
		s->due = retry_at;
	}
	SpinLockRelease(&shared->mutex);
}

/* The earliest time a waiting rejection is due, or 0 when none waits. */
TimestampTz
liveid_handoff_next_due(void)
{
	TimestampTz next = 0;

	SpinLockAcquire(&shared->mutex);
	for (int i = 0; i < LIVEID_REJECT_SLOTS && shared->used > 0; i++)
	{
		RejectSlot *s = &shared->slots[i];

		if (s->state == SLOT_WAITING && (next == 0 || s->due < next))
			next = s->due;
	}
	SpinLockRelease(&shared->mutex);
	return next;
}
