// SPDX-License-Identifier: Apache-2.0
/* The session state machine of SPEC-018 §3: names and the transition table
 * the engine enforces. docs/STATE_MACHINE.md draws the same table in mermaid
 * and a test requires the two to be equal. */
#include "l2s.h"

static const char *const state_names[L2S_STATE_COUNT + 1] = {
	[L2S_IDLE] = "idle",
	[L2S_HANDSHAKE_INITIATED] = "handshake_initiated",
	[L2S_HANDSHAKE_RECEIVED] = "handshake_received",
	[L2S_ESTABLISHED] = "established",
	[L2S_DEGRADED] = "degraded",
	[L2S_ROTATING] = "rotating",
	[L2S_SUSPENDED] = "suspended",
	[L2S_FAILED] = "failed",
	[L2S_STATE_END] = "[*]",
};

static const char *const reason_names[L2S_REASON_COUNT] = {
	[L2S_REASON_NONE] = "none",
	[L2S_REASON_INITIATE_HANDSHAKE] = "initiate_handshake",
	[L2S_REASON_RECEIVE_HANDSHAKE] = "receive_handshake",
	[L2S_REASON_RECEIVE_VALID_RESPONSE] = "receive_valid_response",
	[L2S_REASON_SEND_RESPONSE_ACK] = "send_response_ack",
	[L2S_REASON_TIMEOUT] = "timeout",
	[L2S_REASON_AUTHENTICATION_FAILED] = "authentication_failed",
	[L2S_REASON_MISSED_HEARTBEATS] = "missed_heartbeats",
	[L2S_REASON_CONNECTIVITY_LOST] = "connectivity_lost",
	[L2S_REASON_TIME_TO_ROTATE] = "time_to_rotate",
	[L2S_REASON_CONNECTIVITY_RESTORED] = "connectivity_restored",
	[L2S_REASON_ROTATION_COMPLETE] = "rotation_complete",
	[L2S_REASON_ROTATION_TIMEOUT] = "rotation_timeout",
	[L2S_REASON_RETRY] = "retry",
	[L2S_REASON_RETRY_WITH_BACKOFF] = "retry_with_backoff",
	[L2S_REASON_TRANSPORT_FAILED] = "transport_failed",
	[L2S_REASON_CLEANUP] = "cleanup",
	[L2S_REASON_CLOSED] = "closed",
	[L2S_REASON_REPLACED] = "replaced",
	[L2S_REASON_INITIATE_RESUMPTION] = "initiate_resumption",
	[L2S_REASON_ROTATION_REQUESTED] = "rotation_requested",
};

static const struct l2s_transition transitions[] = {
	{ L2S_IDLE, L2S_HANDSHAKE_INITIATED },
	{ L2S_IDLE, L2S_HANDSHAKE_RECEIVED },
	{ L2S_HANDSHAKE_INITIATED, L2S_ESTABLISHED },
	{ L2S_HANDSHAKE_INITIATED, L2S_FAILED },
	{ L2S_HANDSHAKE_RECEIVED, L2S_ESTABLISHED },
	{ L2S_HANDSHAKE_RECEIVED, L2S_FAILED },
	{ L2S_ESTABLISHED, L2S_DEGRADED },
	{ L2S_ESTABLISHED, L2S_ROTATING },
	{ L2S_DEGRADED, L2S_ESTABLISHED },
	{ L2S_DEGRADED, L2S_SUSPENDED },
	{ L2S_SUSPENDED, L2S_STATE_END },
	{ L2S_SUSPENDED, L2S_HANDSHAKE_INITIATED },
	{ L2S_ROTATING, L2S_ESTABLISHED },
	{ L2S_ROTATING, L2S_FAILED },
	{ L2S_FAILED, L2S_STATE_END },
	{ L2S_FAILED, L2S_HANDSHAKE_INITIATED },
};

const char *l2s_state_name(int state)
{
	if (state < 0 || state > L2S_STATE_END)
		return "unknown";
	return state_names[state];
}

const char *l2s_reason_name(int reason)
{
	if (reason < 0 || reason >= L2S_REASON_COUNT)
		return "unknown";
	return reason_names[reason];
}

size_t l2s_transition_table(const struct l2s_transition **table)
{
	*table = transitions;
	return sizeof(transitions) / sizeof(transitions[0]);
}

int l2s_transition_allowed(int from, int to)
{
	for (size_t i = 0; i < sizeof(transitions) / sizeof(transitions[0]); i++)
		if (transitions[i].from == from && transitions[i].to == to)
			return L2S_OK;
	return L2S_ERR_STATE;
}
