/*
 * l2sess session recovery, a SPIN model (issue 8, item 3).
 *
 * Two peers, P0 and P1, share one session and recover it after message
 * faults and crashes: heartbeats detect a dead path (established ->
 * degraded), degraded resumes (ticket or key-derivation mode, PROTOCOL.md
 * §8), a failed resumption falls back to a full handshake (§4) from either
 * side, rotation (§6) renews the keys inside the session, and a crashed node
 * restores its last checkpoint (§10, possibly a stale one). P0 began the
 * session (its "original initiator") and sends the application's messages;
 * P1 receives them.
 *
 * The design modelled is the FIXED one (issue 8):
 *  (a) the side answering a resumption (R) keeps its confirmed resumption
 *      secret rs until the resumption is confirmed (the initiator's first
 *      frame under the new keys, or a later RESUME_INIT whose binder is under
 *      the new rs'); while unconfirmed it accepts a RESUME_INIT under rs or
 *      rs'. The initiator switches to rs' when it accepts RESUME_RESP. A
 *      re-sent RESUME_INIT (new nonce) replaces the initiator's attempt; R's
 *      answer to a newer RESUME_INIT replaces its unconfirmed answer.
 *  (b) only established / rotating / degraded sessions answer heartbeats,
 *      only established / rotating ones send ACKs.
 *  (c) a resumption that times out (or is refused: R stays silent) is
 *      retried as a full handshake, from either side; a confirmed full
 *      handshake replaces the old session on both sides. Both resuming at
 *      once, or both rotating at once: the original initiator's wins.
 *  (d) rotation: ROTATE_INIT / ROTATE_RESP / CONFIRM under the new keys; rs
 *      does not change.
 *  (e) crash: volatile state is lost; the node restores (session_id, rs,
 *      role) from its last checkpoint, which may be older than its last rs.
 *
 * Where the design says nothing, the model does what the engine does
 * (csrc/engine/exchange.c, establish.c, resumption.c, receive.c, schedule.c), and it adds three rules without
 * which the design fails (model/README.md, "Findings"; each has a -DFLAW_*
 * switch that restores the design as given):
 *  - colliding full handshakes: P0 (in the engine: e.g. the side with the
 *    larger identity key) ignores the peer's HANDSHAKE_INIT while its own is
 *    in flight (FLAW_HS_COLLISION: both handshakes complete, each side is
 *    left on the session the other began, and the recovery that follows
 *    collides again, for ever);
 *  - the initiator of a full handshake keeps no keys of its old session
 *    (FLAW_PREV_KEYS: a DATA frame under the old keys is taken by the new
 *    session, whose sequence numbers mean other messages);
 *  - a side that drops its own rotation to answer the peer's keeps the
 *    rotation's timeout (FLAW_ROTATE_YIELD: it stays in rotating for ever
 *    when the peer's rotation is abandoned).
 * -DSTRICT_ONCE checks "at most once" across a session replacement, which
 * the design does not give (Findings).
 *
 * ABSTRACTED AWAY (not modelled):
 *  - cryptography: keys, resumption secrets, session ids, nonces and
 *    handshake ephemerals are small integers ("ids"); a frame under keys k
 *    is accepted exactly by a holder of k; MACs, binders, signatures and
 *    AEAD are perfect; the id of a new key set also names the rs and (for a
 *    full handshake) the session id derived with it. Ids are recycled: a
 *    fresh id is the smallest one that occurs nowhere (no variable, no
 *    message in flight), which keeps the state space finite.
 *  - DATA content: P0 sends NMSG application messages, one at a time (app
 *    number and session sequence number only); the receiver keeps no
 *    out-of-order buffer (it drops what is not next and the sender
 *    re-sends); SACK, windows and byte limits are not modelled. A crash
 *    keeps the application's queue; the restored sender numbers as its
 *    checkpoint's session did, the restored receiver starts from its
 *    checkpoint's position (the §10 sequence reserve is not modelled).
 *  - cookies, load, rate limits, quarantine, identity hiding, replay
 *    counters beyond "a nonce / handshake already seen is refused" (a node's
 *    seen-cache is lost when it crashes) and the anti-replay window (a copy
 *    of a TRANSPORT frame is never made: the window would refuse it), the
 *    X25519 option of resumption, ticket expiry, session TTL (cleanup of a
 *    suspended session), CLOSE, a restored session's ticket.
 *  - multiple paths and transports: a path is a channel that may lose,
 *    duplicate and reorder messages (the fault process, at most FAULTS
 *    faults in all, plus CRASHES crashes).
 *  - real time: a timer that waits for an answer (heartbeat reply, pending
 *    exchange, retransmission) and the long timers (degraded and suspended
 *    timeouts, backoff) fire only when no message is in flight ("every
 *    timer is longer than a network delay"); sessions still collide, because
 *    a timer's state change and the message it sends are separate steps.
 *    The two nodes' timers run at comparable speeds: a node's due timer is
 *    overtaken by at most SKEW timers of the other node. A heartbeat goes
 *    out only from established, and never when its reply is certain (the
 *    peer is alive and holds the keys): that round would change nothing,
 *    and its loss is a fault of its own ("a heartbeat round is lost").
 *    heartbeat_tolerance is 1 (the first miss degrades); a degraded session
 *    tries one resumption before its degraded timeout; every exchange is
 *    re-sent at most once before its timeout; retransmission of DATA is the
 *    lowest priority. Starting a rotation (at most ROTS in all) and sending
 *    a message wait for an empty channel to the peer.
 *  - the session object: each peer has its main session and at most one
 *    half-open inbound one (a full handshake answered, or a resumption
 *    answered from a ticket naming a session the node does not have); a new
 *    inbound request replaces the half-open one. Replacement by a confirmed
 *    full handshake and a crash end a session object outside the table (as
 *    in the engine: "replaced", or no audit event at all).
 *
 * Properties (model/README.md; `make model` checks them all):
 *  - safety: every state change is one of the C engine's transitions
 *    (goto_state asserts ALLOWED; tests/python/test_model.py checks ALLOWED
 *    against csrc/engine/state.c); the receiver delivers application messages in
 *    order, at most once per session and none skipped; an acknowledged
 *    message was delivered; no channel overflows; ids never run out; and
 *    when nothing can move any more, both sides are established under the
 *    same keys with every message delivered (Watch: no deadlock).
 *  - ltl recover: after the faults stop, eventually both sides are
 *    established under the same keys.
 *  - ltl stable: after the faults stop, eventually both sides stay on one
 *    session (established or rotating) with agreed keys, for ever.
 *  - ltl deliver: after the faults stop, every message is delivered.
 * The LTL properties hold without any fairness assumption.
 */

#ifndef FAULTS
#define FAULTS 2      /* message faults (loss, duplication, reordering) */
#endif
#ifndef CRASHES
#define CRASHES 1     /* crash + restore of a node */
#endif
#ifndef ROTS
#define ROTS 1        /* rotations started, in all */
#endif
#ifndef NMSG
#define NMSG 2        /* application messages P0 sends */
#endif
#ifndef SKEW
#define SKEW 8        /* a due timer is overtaken by at most SKEW of the other node's */
#endif
#define CAP 7         /* messages in flight per direction (MSG_FAULTS below lists 0..CAP-1) */
#define MAXID 30      /* ids are 1..MAXID (bits of an int) */

/* The engine's session states (csrc/engine/state.c; state_end is its "[*]"). */
mtype = { idle, handshake_initiated, handshake_received, established, degraded, rotating, suspended, failed, state_end };

/* What a session is waiting for (P_YIELD: it dropped its own rotation to
 * answer the peer's and waits for the peer's first frame under the keys). */
mtype = { P_NONE, P_HS, P_RESUME, P_RESUMED, P_ROT, P_YIELD };

/* Messages. HS_* / RS_* travel in the clear (authenticated by their own
 * MACs); T_* are TRANSPORT frames under keys f1. Fields:
 *   HS_INIT(hs)            HS_RESP(hs, k)
 *   RS_INIT(sid, rs, nonce, mode)  mode 0 key derivation, 1 + g a ticket of
 *                          R's ticket-key generation g, 3 a ticket for
 *                          another rs than the binder's (R refuses it)
 *   RS_RESP(nonce, k)      k names the new keys and the new rs'
 *   T_DATA(k, seq, app)  T_ACK(k, next_expected)  T_HB(k)  T_HBR(k)
 *   T_SYNC(k, send_base)  T_CONF(k)  T_ROTI(k, rid)  T_ROTR(k, rid, k')
 *   T_TKT(k, rs, g) */
mtype = { HS_INIT, HS_RESP, RS_INIT, RS_RESP, T_DATA, T_ACK, T_HB, T_HBR, T_SYNC, T_CONF, T_ROTI, T_ROTR, T_TKT };

/* Every transition the model may take; each must be in the C table
 * (tests/python/test_model.py). goto_state / goto_half assert it. */
#define ALLOWED(f, t) ( \
	(f == idle && t == handshake_initiated) || \
	(f == idle && t == handshake_received) || \
	(f == handshake_initiated && t == established) || \
	(f == handshake_initiated && t == failed) || \
	(f == handshake_received && t == established) || \
	(f == handshake_received && t == failed) || \
	(f == established && t == degraded) || \
	(f == established && t == rotating) || \
	(f == degraded && t == established) || \
	(f == degraded && t == suspended) || \
	(f == rotating && t == established) || \
	(f == rotating && t == failed) || \
	(f == suspended && t == handshake_initiated) || \
	(f == failed && t == handshake_initiated) || \
	(f == failed && t == state_end))

/* Coverage: REACHED(n) marks a scenario the model must be able to reach
 * (COVER_POINTS of them; `make model` requires every one to be reached in
 * its safety runs, so that no property holds vacuously). Only with
 * -DCOVERAGE; it changes nothing in the model's state. */
#define COVER_POINTS 29
#ifdef COVERAGE
c_decl { unsigned char cover_hit[64]; }
#define REACHED(n) c_code { if (!cover_hit[n]) { cover_hit[n] = 1; printf("REACHED %d\n", n); } }
#else
#define REACHED(n) skip
#endif

typedef Msg { mtype t; byte a; byte b; byte c; byte d };
typedef Chan { Msg m[CAP]; byte n };
Chan net[2];                 /* net[p]: in flight to peer p, oldest first */

/* ---- per peer: the main session ---- */
mtype st[2];                 /* state */
byte sid[2];                 /* session id */
bit orig[2];                 /* initiator of the handshake that made sid */
byte rs[2];                  /* confirmed resumption secret */
byte rsu[2];                 /* R: rs' of its unconfirmed answer */
byte kc[2], kn[2], kp[2];    /* keys: current, next (receive only), previous */
bit knr[2];                  /* kn is a resumption answer (else a rotation's) */
mtype pend[2];               /* exchange in flight */
byte pa[2];                  /* its id: handshake / nonce id, or rotation id */
bit nres[2];                 /* it was re-sent already */
byte rid[2], rra[2];         /* rotation ids: last started, last answered */
bit hbo[2];                  /* a heartbeat is outstanding */
bit rfail[2];                /* a resumption timed out: next retry is a handshake */
bit dtry[2];                 /* degraded: the resumption attempt is still due */
byte tkt[2];                 /* ticket held: the rs sealed in it (0: none) */
bit tgen[2];                 /* ... and the ticket-key generation it names */
/* ---- per node ---- */
bit gen[2];                  /* ticket-key generation (new after a crash) */
int seen[2];                 /* nonces / handshakes accepted (bit per id) */
byte ck_sid[2], ck_rs[2];    /* last checkpoint (StoredSession) */
bit ck_orig[2];
byte ck_sbase, ck_rcv;       /* ... and its stream numbering (P0), position (P1) */
/* ---- per peer: the half-open inbound session ---- */
mtype hst[2];                /* handshake_received, or state_end: none */
byte hk[2], hsid[2];         /* its keys (= rs'), its session id */
/* ---- application data, P0 -> P1 ---- */
byte snx = 1;                /* P0: next app message to send (1..NMSG+1) */
byte una = 1;                /* P0: oldest unacknowledged app message */
byte sbase = 0;              /* P0: seq = app - sbase in the current session */
bit syncow;                  /* P0: a SYNC is owed */
byte syncb;                  /* P0: ... with this send_base */
bit rto;                     /* P0: retransmitted since the last progress */
byte rcv = 1;                /* P1: next expected seq */
byte lapp = 0;               /* P1: last app message delivered (ghost) */
byte lsess = 0;              /* P1: ... by its current session (ghost) */
/* ---- faults ---- */
byte faults = FAULTS;
byte crashes = CRASHES;
byte rots = ROTS;
bit faults_done;
byte skew[2];                /* timers of the other node fired while p's was due */

/* scratch, only inside d_step (not part of the state) */
hidden mtype mt;
hidden byte m1, m2, m3, m4, nid, ii, jj, kk;
hidden byte used;

#define Q(p) (1 - (p))
#define QUIET (net[0].n == 0 && net[1].n == 0)
/* (b): who answers heartbeats. -DHB_SILENT_DEGRADED: degraded does not
 * either (docs/STATE_MACHINE.md on main says so). */
#ifdef HB_SILENT_DEGRADED
#define LIVE(p) (st[p] == established || st[p] == rotating)
#else
#define LIVE(p) (st[p] == established || st[p] == rotating || st[p] == degraded)
#endif
#define SENDS(p) (st[p] == established || st[p] == rotating)
#define GOOD (st[0] == established && st[1] == established && kc[0] == kc[1] && kc[0] != 0)
/* One session, keys agreed or being switched by a rotation. */
#define STABLE (SENDS(0) && SENDS(1) && sid[0] == sid[1] && \
	(kc[0] == kc[1] || kc[0] == kn[1] || kc[1] == kn[0]))

inline goto_state(p, to) {
	printf("P%d: %e -> %e\n", p, st[p], to);
	assert(ALLOWED(st[p], to));
	st[p] = to
}

inline goto_half(p, to) {
	printf("P%d half-open: %e -> %e\n", p, hst[p], to);
	assert(ALLOWED(hst[p], to));
	hst[p] = to
}

inline send(s_to, s_t, s_a, s_b, s_c, s_d) {
	printf("    -> P%d %e(%d,%d,%d,%d)\n", s_to, s_t, s_a, s_b, s_c, s_d);
	assert(net[s_to].n < CAP);
	net[s_to].m[net[s_to].n].t = s_t;
	net[s_to].m[net[s_to].n].a = s_a;
	net[s_to].m[net[s_to].n].b = s_b;
	net[s_to].m[net[s_to].n].c = s_c;
	net[s_to].m[net[s_to].n].d = s_d;
	net[s_to].n++
}

/* Removes message uq_at of net[uq_to] (the later ones move up). */
inline unqueue(uq_to, uq_at) {
	kk = uq_at;
	do
	:: kk + 1 < net[uq_to].n ->
		net[uq_to].m[kk].t = net[uq_to].m[kk + 1].t;
		net[uq_to].m[kk].a = net[uq_to].m[kk + 1].a;
		net[uq_to].m[kk].b = net[uq_to].m[kk + 1].b;
		net[uq_to].m[kk].c = net[uq_to].m[kk + 1].c;
		net[uq_to].m[kk].d = net[uq_to].m[kk + 1].d;
		kk++
	:: else -> break
	od;
	net[uq_to].n--;
	net[uq_to].m[net[uq_to].n].t = 0;
	net[uq_to].m[net[uq_to].n].a = 0;
	net[uq_to].m[net[uq_to].n].b = 0;
	net[uq_to].m[net[uq_to].n].c = 0;
	net[uq_to].m[net[uq_to].n].d = 0;
	kk = 0
}

/* Is id x anywhere: a variable or a message field that holds an id? */
#define MSG_HAS(M, x) (M.a == x || \
	(M.b == x && (M.t == HS_RESP || M.t == RS_INIT || M.t == RS_RESP || M.t == T_TKT)) || \
	(M.c == x && (M.t == RS_INIT || M.t == T_ROTR)))
#define VAR_HAS(j, x) (sid[j] == x || rs[j] == x || rsu[j] == x || kc[j] == x || kn[j] == x || \
	kp[j] == x || tkt[j] == x || ck_sid[j] == x || ck_rs[j] == x || hk[j] == x || hsid[j] == x || \
	(pa[j] == x && (pend[j] == P_HS || pend[j] == P_RESUME)))

inline id_used(x) {
	used = 0;
	jj = 0;
	do
	:: jj < 2 ->
		if
		:: VAR_HAS(jj, x) -> used = 1
		:: else -> skip
		fi;
		ii = 0;
		do
		:: ii < net[jj].n ->
			if
			:: MSG_HAS(net[jj].m[ii], x) -> used = 1
			:: else -> skip
			fi;
			ii++
		:: else -> break
		od;
		jj++
	:: else -> break
	od;
	ii = 0;
	jj = 0
}

/* A fresh id into nid. No message carries it, so no seen-cache needs it. */
inline alloc() {
	nid = 1;
	id_used(nid);
	do
	:: used -> nid++; id_used(nid)
	:: else -> break
	od;
	assert(nid <= MAXID);
	seen[0] = seen[0] & ~(1 << nid);
	seen[1] = seen[1] & ~(1 << nid);
	used = 0
}

/* A seen-cache entry matters only while a copy of its request is in flight
 * to that node: forget the others (keeps the state canonical). */
inline gc_seen() {
	jj = 0;
	do
	:: jj < 2 ->
		kk = 1;
		do
		:: kk <= MAXID ->
			if
			:: seen[jj] & (1 << kk) ->
				used = 0;
				ii = 0;
				do
				:: ii < net[jj].n ->
					if
					:: (net[jj].m[ii].t == HS_INIT && net[jj].m[ii].a == kk) ||
					   (net[jj].m[ii].t == RS_INIT && net[jj].m[ii].c == kk) -> used = 1
					:: else -> skip
					fi;
					ii++
				:: else -> break
				od;
				if
				:: !used -> seen[jj] = seen[jj] & ~(1 << kk)
				:: else -> skip
				fi
			:: else -> skip
			fi;
			kk++
		:: else -> break
		od;
		jj++
	:: else -> break
	od;
	ii = 0; jj = 0; kk = 0; used = 0
}

inline set_rs(p, v) {
	if
	:: rs[p] != v -> tkt[p] = 0; tgen[p] = 0   /* a ticket is for one rs */
	:: else -> skip
	fi;
	rs[p] = v
}

inline clear_pending(p) {
	pend[p] = P_NONE;
	pa[p] = 0;
	nres[p] = 0
}

/* P0's send side after new keys: a SYNC and the unacknowledged message
 * again (the window is one message). */
inline data_resync() {
	syncow = 1;
	syncb = una - sbase;
	rto = 0;
	send(1, T_SYNC, kc[0], syncb, 0, 0);
	if
	:: una < snx -> send(1, T_DATA, kc[0], una - sbase, una, 0)
	:: else -> skip
	fi
}

/* l2s_session_established: a new heartbeat and rotation sequence; the side
 * that answered sends a ticket; the stream is re-synchronised. */
inline est_tail(p, answered) {
	hbo[p] = 0;
	rid[p] = 0;
	rra[p] = 0;
	dtry[p] = 0;
	if
	:: answered -> send(Q(p), T_TKT, kc[p], rs[p], gen[p], 0)
	:: else -> skip
	fi;
	if
	:: p == 0 -> data_resync()
	:: else -> skip
	fi
}

/* Start a resumption (or re-send it with a new nonce). */
inline start_resume(p) {
	alloc();
	pend[p] = P_RESUME;
	pa[p] = nid;
	if
	:: tkt[p] != 0 && tkt[p] == rs[p] -> m4 = 1 + tgen[p]
	:: tkt[p] != 0 && tkt[p] != rs[p] -> m4 = 3
	:: else -> m4 = 0
	fi;
	send(Q(p), RS_INIT, sid[p], rs[p], nid, m4);
	nid = 0; m4 = 0
}

/* Start a full handshake (or re-send it: a new one). */
inline start_hs(p) {
	alloc();
	pend[p] = P_HS;
	pa[p] = nid;
	send(Q(p), HS_INIT, nid, 0, 0, 0);
	nid = 0
}

/* The half-open session goes: failed, then cleaned up. */
inline drop_half(p) {
	if
	:: hst[p] == handshake_received ->
		goto_half(p, failed);
		goto_half(p, state_end);
		hk[p] = 0;
		hsid[p] = 0
	:: else -> skip
	fi
}

/* The half-open session is confirmed: it replaces the main session (which
 * leaves the machine with reason "replaced", not a table transition). */
inline adopt_half(p) {
	REACHED(13);
	goto_half(p, established);
	st[p] = established;
	sid[p] = hsid[p];
	set_rs(p, hk[p]);
	rsu[p] = 0;
	kc[p] = hk[p];
	kn[p] = 0;
	kp[p] = 0;
	knr[p] = 0;
	orig[p] = 0;
	clear_pending(p);
	rfail[p] = 0;
	tkt[p] = 0;
	tgen[p] = 0;
	hst[p] = state_end;
	hk[p] = 0;
	hsid[p] = 0;
	if
	:: p == 0 -> sbase = una - 1    /* the new session numbers from 1 */
	:: else -> rcv = 1; lsess = 0
	fi;
	est_tail(p, 1)
}

/* The first frame under kn confirms it. */
inline confirm_next(p) {
	kp[p] = kc[p];
	kc[p] = kn[p];
	kn[p] = 0;
	if
	:: knr[p] ->
		/* our resumption answer: rs' is confirmed */
		knr[p] = 0;
		set_rs(p, rsu[p]);
		rsu[p] = 0;
		/* the session is re-established: our own attempt at it (begun after
		 * the answer timed out) is moot; a rotation of ours goes on */
		if
		:: pend[p] == P_RESUMED || pend[p] == P_RESUME || pend[p] == P_HS -> clear_pending(p)
		:: else -> skip
		fi;
		if
		:: st[p] == suspended || st[p] == failed -> REACHED(20); goto_state(p, handshake_initiated)
		:: st[p] == degraded -> REACHED(19)
		:: else -> skip
		fi;
		if
		:: st[p] != established -> goto_state(p, established)
		:: else -> skip
		fi;
		est_tail(p, 1)
	:: else ->
		/* the rotation we answered */
		if
		:: pend[p] == P_YIELD -> clear_pending(p)
		:: else -> skip
		fi;
		if
		:: st[p] == rotating -> goto_state(p, established)
		:: else -> skip
		fi
	fi
}

/* A TRANSPORT frame, now that the keys are settled (mt, m1..m4 hold it). */
inline on_frame(p) {
	if
	:: mt == T_DATA ->
		if
		:: m2 == rcv ->
			assert(m3 > lsess);          /* at most once, in order: per session */
			assert(m3 <= lapp + 1);      /* no message skipped */
#ifdef STRICT_ONCE
			assert(m3 == lapp + 1);      /* at most once across sessions too */
#endif
			lsess = m3;
			if
			:: m3 > lapp -> lapp = m3
			:: else -> skip
			fi;
			rcv++
		:: else -> skip
		fi;
		if
		:: SENDS(p) -> send(Q(p), T_ACK, kc[p], rcv, 0, 0)
		:: else -> REACHED(17)             /* (b): no ACK */
		fi
	:: mt == T_ACK ->
		if
		:: m2 + sbase > una ->
			assert(m2 + sbase - 1 <= lapp);   /* acknowledged => delivered */
			una = m2 + sbase;
			rto = 0
		:: else -> skip
		fi;
		if
		:: syncow && m2 >= syncb -> syncow = 0; syncb = 0
		:: else -> skip
		fi
	:: mt == T_HB ->
		if
		:: LIVE(p) -> send(Q(p), T_HBR, kc[p], 0, 0, 0)
		:: else -> REACHED(16)             /* (b): not alive, no answer */
		fi
	:: mt == T_HBR ->
		hbo[p] = 0
	:: mt == T_SYNC ->
		if
		:: m2 > rcv -> REACHED(25); rcv = m2
		:: else -> skip
		fi;
		if
		:: SENDS(p) -> send(Q(p), T_ACK, kc[p], rcv, 0, 0)
		:: else -> skip
		fi
	:: mt == T_CONF -> skip
	:: mt == T_ROTI ->
		if
		:: kn[p] != 0 && !knr[p] && m2 == rra[p] ->
			REACHED(11);
			send(Q(p), T_ROTR, kc[p], m2, kn[p], 0)    /* a re-sent request */
		:: else ->
			if
			:: m2 <= rra[p] -> skip                    /* answered already */
			:: else ->
				if
				:: pend[p] == P_ROT && orig[p] -> REACHED(8)   /* ours wins */
				:: else ->
					if
					:: pend[p] == P_ROT ->
						REACHED(9);
						clear_pending(p);
#ifndef FLAW_ROTATE_YIELD
						pend[p] = P_YIELD  /* still under the rotation's timeout */
#endif
					:: else -> skip
					fi;
					if
					:: SENDS(p) ->
						if
						:: m1 == kp[p] -> REACHED(22)   /* a ROTATE_INIT under our previous keys */
						:: else -> skip
						fi;
						alloc();
						kn[p] = nid;
						knr[p] = 0;
						rra[p] = m2;
						send(Q(p), T_ROTR, kc[p], m2, nid, 0);
						nid = 0
					:: else -> skip
					fi
				fi
			fi
		fi
	:: mt == T_ROTR ->
		if
		:: pend[p] == P_ROT && pa[p] == m2 ->
			REACHED(10);
			clear_pending(p);
			kp[p] = kc[p];
			kc[p] = m3;
			kn[p] = 0;
			knr[p] = 0;
			send(Q(p), T_CONF, kc[p], 0, 0, 0);
			if
			:: st[p] == rotating -> goto_state(p, established)
			:: else ->
				/* the peer's rotation, confirmed meanwhile, already moved
				 * us to established (the engine's transition to
				 * established is refused and ignored) */
				REACHED(29)
			fi
		:: else -> skip
		fi
	:: mt == T_TKT ->
		tkt[p] = m2;
		tgen[p] = m3
	fi
}

inline on_transport(p) {
	if
	:: m1 != 0 && m1 == kn[p] ->
		if
		:: mt == T_HB -> REACHED(15)             /* a heartbeat confirms new keys */
		:: else -> skip
		fi;
		confirm_next(p);
		on_frame(p)
	:: m1 != 0 && m1 != kn[p] && (m1 == kc[p] || m1 == kp[p]) -> on_frame(p)
	:: m1 != 0 && m1 != kn[p] && m1 != kc[p] && m1 != kp[p] &&
	   hst[p] == handshake_received && m1 == hk[p] -> adopt_half(p); on_frame(p)
	:: else -> skip                      /* no such keys: dropped */
	fi
}

/* RS_INIT (m1 sid, m2 rs, m3 nonce, m4 mode) that R can take: key
 * derivation with a binder under rs or the unconfirmed rs', or a ticket
 * sealed with R's current ticket key for the binder's rs. */
#define KDF_OK(p)      (m4 == 0 && sid[p] == m1 && rs[p] != 0 && (m2 == rs[p] || (rsu[p] != 0 && m2 == rsu[p])))
#define TICKET_OK(p)   ((m4 == 1 || m4 == 2) && m4 - 1 == gen[p])
#define TICKET_MAIN(p) (TICKET_OK(p) && sid[p] == m1)

/* R: a resumption request for our main session (binder verified). */
inline answer_resume(p) {
	seen[p] = seen[p] | (1 << m3);
	if
	:: rsu[p] != 0 && m2 == rsu[p] -> REACHED(4); set_rs(p, rsu[p])   /* I holds rs': confirmed */
	:: rsu[p] != 0 && m2 != rsu[p] -> REACHED(5)   /* still under rs: a new answer replaces ours */
	:: else -> skip
	fi;
	clear_pending(p);
	if
	:: st[p] == rotating -> goto_state(p, failed)
	:: else -> skip
	fi;
	alloc();
	kn[p] = nid;
	knr[p] = 1;
	rsu[p] = nid;
	pend[p] = P_RESUMED;
	send(Q(p), RS_RESP, m3, nid, 0, 0);
	nid = 0
}

/* R: a resumption from a ticket for a session we do not have. */
inline answer_resume_half(p) {
	seen[p] = seen[p] | (1 << m3);
	drop_half(p);
	hst[p] = idle;
	goto_half(p, handshake_received);
	alloc();
	hk[p] = nid;
	hsid[p] = m1;
	send(Q(p), RS_RESP, m3, nid, 0, 0);
	nid = 0
}

inline on_message(p) {
	if
	:: mt == HS_INIT ->
		if
		:: seen[p] & (1 << m1) -> skip          /* replayed: counter not larger */
#ifndef FLAW_HS_COLLISION
		:: pend[p] == P_HS && p == 0 -> REACHED(21)    /* both handshaking: P0's wins */
#endif
		:: else ->
			seen[p] = seen[p] | (1 << m1);
			drop_half(p);
			hst[p] = idle;
			goto_half(p, handshake_received);
			alloc();
			hk[p] = nid;
			hsid[p] = nid;
			send(Q(p), HS_RESP, m1, nid, 0, 0);
			nid = 0
		fi
	:: mt == HS_RESP ->
		if
		:: pend[p] == P_HS && pa[p] == m1 ->
			REACHED(12);
			if
			:: p == 1 -> REACHED(28)          /* (c): the fallback from either side */
			:: else -> skip
			fi;
			clear_pending(p);
#ifdef FLAW_PREV_KEYS
			kp[p] = kc[p];      /* the engine today: the old session's keys stay */
#else
			kp[p] = 0;          /* fix: a new session takes nothing under the old keys */
#endif
			kc[p] = m2;
			kn[p] = 0;
			knr[p] = 0;
			rsu[p] = 0;
			sid[p] = m2;
			set_rs(p, m2);
			orig[p] = 1;
			rfail[p] = 0;
			send(Q(p), T_CONF, m2, 0, 0, 0);
			goto_state(p, established);
			if
			:: p == 1 -> rcv = 1; lsess = 0   /* the peer's new session numbers from 1 */
			:: else -> skip
			fi;
			est_tail(p, 0)
		:: else -> skip
		fi
	:: mt == RS_INIT ->
		if
		:: seen[p] & (1 << m3) -> skip          /* nonce seen: a replay */
		:: (KDF_OK(p) || TICKET_MAIN(p)) && pend[p] == P_RESUME && orig[p] ->
			REACHED(7)                          /* both resuming: ours wins */
		:: KDF_OK(p) && !(pend[p] == P_RESUME && orig[p]) -> REACHED(2); answer_resume(p)
		:: TICKET_MAIN(p) && !(pend[p] == P_RESUME && orig[p]) -> REACHED(1); answer_resume(p)
		:: TICKET_OK(p) && sid[p] != m1 -> REACHED(6); answer_resume_half(p)
		:: else ->                              /* refused: R stays silent */
			REACHED(3);
			if
			:: m4 == 0 && sid[p] != m1 -> REACHED(24)   /* a session R does not have */
			:: else -> skip
			fi
		fi
	:: mt == RS_RESP ->
		if
		:: pend[p] == P_RESUME && pa[p] == m1 ->
			if
			:: st[p] == degraded -> REACHED(19)
			:: else -> skip
			fi;
			if
			:: kc[p] == 0 -> REACHED(27)       /* a restored node resumed */
			:: else -> skip
			fi;
			clear_pending(p);
			kp[p] = kc[p];
			kc[p] = m2;
			kn[p] = 0;
			knr[p] = 0;
			rsu[p] = 0;
			set_rs(p, m2);
			send(Q(p), T_CONF, m2, 0, 0, 0);
			goto_state(p, established);
			est_tail(p, 0)
		:: pend[p] == P_RESUME && pa[p] != m1 -> REACHED(23)   /* answers an attempt we replaced */
		:: else -> skip
		fi
	:: else -> on_transport(p)
	fi
}

/* ---- timers ----
 * High: wait for an answer or a long timeout; fire only when QUIET. */
#define T_MISS(p)    (hbo[p])
#define T_RESEND(p)  ((pend[p] == P_HS || pend[p] == P_RESUME || pend[p] == P_ROT) && !nres[p])
#define T_PEND(p)    (pend[p] != P_NONE)
#define T_DEGR(p)    (st[p] == degraded && !dtry[p])
#define T_SUSP(p)    (st[p] == suspended)
#define T_FAIL(p)    (st[p] == failed)
#define T_HALF(p)    (hst[p] == handshake_received)
#define HIGH(p)      (T_MISS(p) || T_PEND(p) || T_DEGR(p) || T_SUSP(p) || T_FAIL(p) || T_HALF(p))
/* Timers of the two nodes run at comparable speeds: p may fire a timer
 * unless the other node's due timer has been overtaken SKEW times. */
#define TOK(p)       (QUIET && !(HIGH(Q(p)) && skew[Q(p)] >= SKEW))
inline tfire(p) {
	skew[p] = 0;
	if
	:: HIGH(Q(p)) -> skew[Q(p)]++
	:: else -> skew[Q(p)] = 0
	fi
}
/* Immediate (not waiting for anything). */
#define I_START(p)   (st[p] == handshake_initiated && pend[p] == P_NONE)
#define I_DRES(p)    (st[p] == degraded && pend[p] == P_NONE && dtry[p])
#define I_ROT(p)     (st[p] == established && pend[p] == P_NONE && rots > 0 && net[Q(p)].n == 0)
#define I_APP        (SENDS(0) && snx <= NMSG && una == snx && net[1].n == 0)  /* window: one message */
/* A checkpoint: the periodic export, taken at a quiet moment. */
#define I_CKPT(p)    (QUIET && crashes > 0 && rs[p] != 0 && (ck_sid[p] != sid[p] || ck_rs[p] != rs[p] || ck_orig[p] != orig[p] || \
	(p == 0 && ck_sbase != sbase)))
/* Heartbeat: at p's own pace (QUIET), but never a round that is bound to
 * change nothing, for such a stutter cycle would starve p's other timers
 * (SPIN's weak fairness is per process, not per timer). So: only from
 * established (in rotating and degraded a miss changes nothing), and not
 * when the peer is alive and holds p's keys as current or previous: that
 * round gets its reply and ends where it began, unless a fault hits it,
 * which the fault process models directly ("a heartbeat round is lost":
 * the reply never comes). */
#define HB_ANSWERED(p) (LIVE(Q(p)) && (kc[p] == kc[Q(p)] || kc[p] == kp[Q(p)]))
#define L_HB(p)      (st[p] == established && !hbo[p] && !HB_ANSWERED(p))
/* Retransmission: the lowest priority, when nothing else is due. */
#define BUSY         (HIGH(0) || HIGH(1) || I_START(0) || I_START(1) || I_DRES(0) || I_DRES(1) || I_APP)
/* ... once after each progress while faults may come; after them, as long
 * as P1 can take it (a re-send P1 cannot decrypt would be a stutter). */
#define RTO_USEFUL   (SENDS(1) && (kc[0] == kc[1] || kc[0] == kp[1] || kc[0] == kn[1]))
#define L_RTO        (SENDS(0) && (una < snx || syncow) && (faults_done -> RTO_USEFUL : !rto))

proctype Peer(byte p)
{
end:	/* nothing to do is a valid end only where Watch agrees */
	do
	/* a message arrives (in order; the fault process reorders) */
	:: d_step {
		net[p].n > 0 ->
		mt = net[p].m[0].t; m1 = net[p].m[0].a; m2 = net[p].m[0].b;
		m3 = net[p].m[0].c; m4 = net[p].m[0].d;
		unqueue(p, 0);
		printf("P%d receives %e(%d,%d,%d,%d)\n", p, mt, m1, m2, m3, m4);
		on_message(p);
		gc_seen();
		mt = 0; m1 = 0; m2 = 0; m3 = 0; m4 = 0
	   }
	/* heartbeat reply deadline: tolerance 1 */
	:: d_step {
		TOK(p) && T_MISS(p) ->
		printf("P%d timer: heartbeat reply timeout\n", p);
		tfire(p);
		hbo[p] = 0;
		if
		:: st[p] == established -> goto_state(p, degraded); dtry[p] = 1
		:: else -> skip
		fi
	   }
	/* an exchange is re-sent once */
	:: d_step {
		TOK(p) && T_RESEND(p) ->
		printf("P%d timer: re-send %e\n", p, pend[p]);
		tfire(p);
		nres[p] = 1;
		if
		:: pend[p] == P_HS -> start_hs(p)
		:: pend[p] == P_RESUME -> start_resume(p)
		:: else -> send(Q(p), T_ROTI, kc[p], pa[p], 0, 0)
		fi
	   }
	/* an exchange times out */
	:: d_step {
		TOK(p) && T_PEND(p) ->
		printf("P%d timer: %e timeout\n", p, pend[p]);
		tfire(p);
		if
		:: pend[p] == P_HS -> clear_pending(p); goto_state(p, failed)
		:: pend[p] == P_RESUME && st[p] == handshake_initiated ->
			clear_pending(p); rfail[p] = 1; goto_state(p, failed)
		:: pend[p] == P_RESUME && st[p] != handshake_initiated -> clear_pending(p)
		:: (pend[p] == P_ROT || pend[p] == P_YIELD) && st[p] == rotating ->
			REACHED(26); clear_pending(p); goto_state(p, failed)
		:: pend[p] == P_YIELD && st[p] != rotating -> clear_pending(p)
		:: pend[p] == P_ROT && st[p] != rotating -> REACHED(29); clear_pending(p)   /* as above */
		:: pend[p] == P_RESUMED && st[p] == handshake_initiated ->
			REACHED(18); clear_pending(p); goto_state(p, failed)
		:: pend[p] == P_RESUMED && st[p] != handshake_initiated -> REACHED(18); clear_pending(p)
		fi
	   }
	:: d_step {
		TOK(p) && T_DEGR(p) ->
		printf("P%d timer: degraded timeout\n", p);
		tfire(p);
		clear_pending(p);
		goto_state(p, suspended)
	   }
	:: d_step {
		TOK(p) && T_SUSP(p) ->
		printf("P%d timer: suspended retry\n", p);
		tfire(p);
		goto_state(p, handshake_initiated)
	   }
	:: d_step {
		TOK(p) && T_FAIL(p) ->
		printf("P%d timer: failed retry\n", p);
		tfire(p);
		goto_state(p, handshake_initiated)
	   }
	:: d_step {
		TOK(p) && T_HALF(p) ->
		printf("P%d timer: half-open timeout\n", p);
		tfire(p);
		drop_half(p)
	   }
	/* the retry's exchange: resumption unless one failed, else a handshake */
	:: d_step {
		I_START(p) ->
		printf("P%d timer: start exchange\n", p);
		if
		:: rs[p] != 0 && !rfail[p] -> start_resume(p)
		:: else -> start_hs(p)
		fi
	   }
	:: d_step {
		I_DRES(p) ->
		printf("P%d timer: resume from degraded\n", p);
		dtry[p] = 0;
		start_resume(p)
	   }
	:: d_step {
		I_ROT(p) ->
		printf("P%d timer: rotation due\n", p);
		rots--;
		goto_state(p, rotating);
		rid[p]++;
		pend[p] = P_ROT;
		pa[p] = rid[p];
		send(Q(p), T_ROTI, kc[p], rid[p], 0, 0)
	   }
	:: d_step {
		p == 0 && I_APP ->
		printf("P%d timer: application sends %d\n", p, snx);
		send(1, T_DATA, kc[0], snx - sbase, snx, 0);
		snx++
	   }
	:: d_step {
		I_CKPT(p) ->
		printf("P%d timer: checkpoint sid %d rs %d\n", p, sid[p], rs[p]);
		ck_sid[p] = sid[p];
		ck_rs[p] = rs[p];
		ck_orig[p] = orig[p];
		if
		:: p == 0 -> ck_sbase = sbase
		:: else -> ck_rcv = rcv
		fi
	   }
	:: d_step {
		QUIET && L_HB(p) ->
		printf("P%d timer: heartbeat\n", p);
		hbo[p] = 1;
		send(Q(p), T_HB, kc[p], 0, 0, 0)
	   }
	:: d_step {
		p == 0 && QUIET && !BUSY && L_RTO ->
		printf("P%d timer: retransmission timeout\n", p);
		rto = 1;
		if
		:: syncow -> send(1, T_SYNC, kc[0], syncb, 0, 0)
		:: else -> skip
		fi;
		if
		:: una < snx -> send(1, T_DATA, kc[0], una - sbase, una, 0)
		:: else -> skip
		fi
	   }
	od
}

/* A node crashes and restores its checkpoint: a new session object that
 * resumes (idle -> handshake_initiated); everything volatile is gone. */
inline crash(p) {
	printf("CRASH P%d: restores sid %d rs %d\n", p, ck_sid[p], ck_rs[p]);
	crashes--;
	if
	:: ck_rs[p] != rs[p] -> REACHED(14)      /* a stale checkpoint */
	:: else -> skip
	fi;
	st[p] = idle;
	kc[p] = 0; kn[p] = 0; kp[p] = 0; knr[p] = 0;
	rsu[p] = 0;
	clear_pending(p);
	rid[p] = 0; rra[p] = 0;
	hbo[p] = 0; rfail[p] = 0; dtry[p] = 0;
	tkt[p] = 0; tgen[p] = 0;
	seen[p] = 0;
	hst[p] = state_end; hk[p] = 0; hsid[p] = 0;
	gen[p] = 1 - gen[p];
	if
	:: p == 0 -> rto = 0; sbase = ck_sbase   /* the restored session's numbering */
	:: else -> rcv = ck_rcv; lsess = 0       /* may deliver again (PROTOCOL.md §10) */
	fi;
	sid[p] = ck_sid[p];
	rs[p] = ck_rs[p];
	orig[p] = ck_orig[p];
	goto_state(p, handshake_initiated)
}

/* The message faults, on message j of those in flight to peer i: lose it,
 * duplicate it (the copy goes last; a copy of a TRANSPORT frame would be
 * refused by the anti-replay window of its keys, PROTOCOL.md §7, so only
 * handshake and resumption messages are duplicated), or delay it behind the
 * others. One d_step each: no scratch value outlives a step. */
#define IS_TRANSPORT(M) (M.t == T_DATA || M.t == T_ACK || M.t == T_HB || M.t == T_HBR || \
	M.t == T_SYNC || M.t == T_CONF || M.t == T_ROTI || M.t == T_ROTR || M.t == T_TKT)
inline lose(i, j) {
	printf("FAULT: message %d to P%d lost\n", j, i);
	unqueue(i, j);
	faults--;
	gc_seen()
}
inline duplicate(i, j) {
	printf("FAULT: message %d to P%d duplicated\n", j, i);
	send(i, net[i].m[j].t, net[i].m[j].a, net[i].m[j].b, net[i].m[j].c, net[i].m[j].d);
	faults--
}
inline delay(i, j) {
	printf("FAULT: message %d to P%d delayed behind the others\n", j, i);
	mt = net[i].m[j].t; m1 = net[i].m[j].a; m2 = net[i].m[j].b;
	m3 = net[i].m[j].c; m4 = net[i].m[j].d;
	unqueue(i, j);
	send(i, mt, m1, m2, m3, m4);
	mt = 0; m1 = 0; m2 = 0; m3 = 0; m4 = 0;
	faults--
}
#define MSG_FAULTS(i, j) \
	:: d_step { faults > 0 && j < net[i].n -> lose(i, j) } \
	:: d_step { faults > 0 && j < net[i].n && net[i].n < CAP && !IS_TRANSPORT(net[i].m[j]) -> duplicate(i, j) } \
	:: d_step { faults > 0 && j + 1 < net[i].n -> delay(i, j) }

proctype Faults()
{
	do
	MSG_FAULTS(0, 0) MSG_FAULTS(0, 1) MSG_FAULTS(0, 2) MSG_FAULTS(0, 3)
	MSG_FAULTS(0, 4) MSG_FAULTS(0, 5) MSG_FAULTS(0, 6)
	MSG_FAULTS(1, 0) MSG_FAULTS(1, 1) MSG_FAULTS(1, 2) MSG_FAULTS(1, 3)
	MSG_FAULTS(1, 4) MSG_FAULTS(1, 5) MSG_FAULTS(1, 6)
	/* a heartbeat round whose reply would come is lost instead */
	:: d_step {
		faults > 0 && QUIET && st[0] == established && !hbo[0] && HB_ANSWERED(0) ->
		printf("FAULT: a heartbeat round of P0 is lost\n");
		faults--;
		hbo[0] = 1
	   }
	:: d_step {
		faults > 0 && QUIET && st[1] == established && !hbo[1] && HB_ANSWERED(1) ->
		printf("FAULT: a heartbeat round of P1 is lost\n");
		faults--;
		hbo[1] = 1
	   }
	:: d_step { crashes > 0 -> crash(0) }
	:: d_step { crashes > 0 -> crash(1) }
	:: d_step {
		/* the faults stop (budget spent or not) */
		faults_done == 0 ->
		faults = 0;
		crashes = 0;
		/* no crash can come: checkpoints no longer matter */
		ck_sid[0] = 0; ck_rs[0] = 0; ck_orig[0] = 0;
		ck_sid[1] = 0; ck_rs[1] = 0; ck_orig[1] = 0;
		ck_sbase = 0; ck_rcv = 0;
		faults_done = 1;
		printf("FAULTS DONE\n")
	   };
	   break
	od
}

/* When nothing can move any more (the model's sessions are idle and no
 * timer is due), the peers must be established under the same keys and
 * every message delivered: anything else is a deadlock. */
proctype Watch()
{
	timeout ->
	assert(faults_done && GOOD && lapp == NMSG && una == snx)
}

init {
	atomic {
		/* both established on session 1 (keys 1, rs 1), P0 began it */
		st[0] = established; st[1] = established;
		sid[0] = 1; sid[1] = 1;
		rs[0] = 1; rs[1] = 1;
		kc[0] = 1; kc[1] = 1;
		orig[0] = 1;
		pend[0] = P_NONE; pend[1] = P_NONE;
		hst[0] = state_end; hst[1] = state_end;
		ck_sid[0] = 1; ck_rs[0] = 1; ck_orig[0] = 1;
		ck_sid[1] = 1; ck_rs[1] = 1; ck_rcv = 1;
		run Peer(0);
		run Peer(1);
		run Faults();
		run Watch()
	}
}

ltl recover { [] (faults_done -> <> GOOD) }
ltl stable { [] (faults_done -> <> [] STABLE) }
ltl deliver { [] (faults_done -> <> (lapp == NMSG)) }
