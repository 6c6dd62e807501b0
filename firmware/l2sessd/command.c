// SPDX-License-Identifier: Apache-2.0
/* command.c - the control socket's requests (command.h). */
#include "command.h"

#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "did.h"
#include "json.h"

/* l2sess's exception class for an error code (_core.error_for). */
static const char *error_class(int code)
{
	switch (code) {
	case L2S_ERR_LENGTH:
		return "LengthError";
	case L2S_ERR_DECODE:
		return "DecodeError";
	case L2S_ERR_CONFIG:
		return "InvalidConfig";
	case L2S_ERR_AUTH:
	case L2S_ERR_INVALID_KEY:
	case L2S_ERR_EXPIRED:
	case L2S_ERR_REPLAY:
	case L2S_ERR_QUARANTINED:
		return "AuthenticationFailed";
	case L2S_ERR_STATE:
	case L2S_ERR_NOT_FOUND:
		return "InvalidState";
	case L2S_ERR_QUEUE_FULL:
		return "QueueFull";
	default:
		return "SessionError";
	}
}

static void refused(struct sbuf *reply, const char *cls, const char *what, const char *why)
{
	struct sbuf m;

	sbuf_init(&m, 4096);
	sbuf_printf(&m, "%s: %s%s%s", cls, what, why ? ": " : "", why ? why : "");
	sbuf_puts(reply, "{\"ok\": false, \"error\": ");
	sbuf_json_string(reply, m.data ? m.data : cls, m.data ? m.len : strlen(cls));
	sbuf_puts(reply, "}");
	sbuf_free(&m);
}

static int peer_key(const struct json_object *req, uint8_t pk[32], struct sbuf *reply)
{
	const struct json_member *did = json_get(req, "did", JSON_STRING);
	char why[DID_WHY_BYTES];

	if (!did) {
		refused(reply, "KeyError", "'did'", NULL);
		return -1;
	}
	if (did_to_public_key(did->text, did->len, pk, why)) {
		refused(reply, "InvalidDID", why, NULL);
		return -1;
	}
	return 0;
}

/* A message of the request, decoded into a fresh buffer. */
static uint8_t *decode(const char *text, size_t len, size_t *out_len)
{
	uint8_t *out = malloc(len / 4 * 3 + 1);
	long n = out ? base64_decode(text, len, out) : -1;

	if (n < 0) {
		free(out);
		return NULL;
	}
	*out_len = (size_t)n;
	return out;
}

static void send_one(struct l2s_loop *loop, const struct json_object *req, struct sbuf *reply)
{
	const struct json_member *data = json_get(req, "data", JSON_STRING);
	uint8_t pk[32], *msg;
	uint64_t seq;
	size_t len;
	int ret;

	if (peer_key(req, pk, reply))
		return;
	if (!data) {
		refused(reply, "KeyError", "'data'", NULL);
		return;
	}
	msg = decode(data->text, data->len, &len);
	if (!msg) {
		refused(reply, "Error", "data is not base64", NULL);
		return;
	}
	ret = len > L2S_MAX_PAYLOAD ? L2S_ERR_LENGTH : l2s_loop_send(loop, pk, msg, len, &seq);
	free(msg);
	if (ret != L2S_OK)
		refused(reply, error_class(ret), "send", l2s_strerror(ret));
	else
		sbuf_printf(reply, "{\"ok\": true, \"seq\": %llu}", (unsigned long long)seq);
}

/* Queues the messages in order until one is refused; says how many went. */
static void send_many(struct l2s_loop *loop, const struct json_object *req, struct sbuf *reply)
{
	const struct json_member *data = json_get(req, "data", JSON_ARRAY);
	struct iovec *v = NULL;
	uint64_t *seqs = NULL;
	size_t i, n = 0, accepted = 0;
	uint8_t pk[32];
	int ret = L2S_OK;

	if (peer_key(req, pk, reply))
		return;
	if (!data || !data->strings_only) {
		refused(reply, "KeyError", "'data' (an array of base64 strings)", NULL);
		return;
	}
	v = calloc(data->nitems + 1, sizeof(*v));
	seqs = calloc(data->nitems + 1, sizeof(*seqs));
	if (!v || !seqs) {
		refused(reply, "MemoryError", "send_many", NULL);
		goto out;
	}
	for (n = 0; n < data->nitems; n++) {
		v[n].iov_base = decode(data->items[n], data->item_lens[n], &v[n].iov_len);
		if (!v[n].iov_base) {
			refused(reply, "Error", "data is not base64", NULL);
			goto out;
		}
		if (v[n].iov_len > L2S_MAX_PAYLOAD) {
			n++;
			refused(reply, "LengthError", "send", l2s_strerror(L2S_ERR_LENGTH));
			goto out;
		}
	}
	if (n)
		ret = l2s_loop_send_many(loop, pk, v, n, seqs, &accepted);
	sbuf_puts(reply, "{\"ok\": true, \"seqs\": [");
	for (i = 0; i < accepted; i++)
		sbuf_printf(reply, "%s%llu", i ? ", " : "", (unsigned long long)seqs[i]);
	sbuf_puts(reply, "]");
	if (ret != L2S_OK)
		sbuf_printf(reply, ", \"refused\": \"%s: send: %s\"", error_class(ret), l2s_strerror(ret));
	sbuf_puts(reply, "}");
out:
	for (i = 0; v && i < n; i++)
		free(v[i].iov_base);
	free(v);
	free(seqs);
}

static void rotate(struct l2s_loop *loop, const struct json_object *req, struct sbuf *reply)
{
	uint8_t pk[32];
	int ret;

	if (peer_key(req, pk, reply))
		return;
	ret = l2s_loop_rotate(loop, pk);
	if (ret != L2S_OK)
		refused(reply, error_class(ret), "rotate", l2s_strerror(ret));
	else
		sbuf_puts(reply, "{\"ok\": true}");
}

void command_answer(struct l2s_loop *loop, const struct status_source *src, const char *request, size_t len,
		    struct sbuf *reply)
{
	struct json_object req;
	const struct json_member *cmd;
	struct sbuf text;

	if (json_parse_object(request, len, &req)) {
		refused(reply, "ValueError", "the request is not one JSON object", NULL);
		return;
	}
	cmd = json_get(&req, "cmd", JSON_STRING);
	if (cmd && strcmp(cmd->text, "status") == 0) {
		sbuf_puts(reply, "{\"ok\": true, \"status\": ");
		status_json(src, reply);
		sbuf_puts(reply, "}");
	} else if (cmd && strcmp(cmd->text, "metrics") == 0) {
		sbuf_init(&text, (64u << 20));
		status_metrics(src, &text);
		sbuf_puts(reply, "{\"ok\": true, \"metrics\": ");
		sbuf_json_string(reply, text.data ? text.data : "", text.len);
		sbuf_puts(reply, "}");
		sbuf_free(&text);
	} else if (cmd && strcmp(cmd->text, "send") == 0) {
		send_one(loop, &req, reply);
	} else if (cmd && strcmp(cmd->text, "send_many") == 0) {
		send_many(loop, &req, reply);
	} else if (cmd && strcmp(cmd->text, "rotate") == 0) {
		rotate(loop, &req, reply);
	} else {
		sbuf_init(&text, 1024);
		sbuf_puts(&text, "unknown command ");
		if (cmd)
			sbuf_json_string(&text, cmd->text, cmd->len);
		else
			sbuf_puts(&text, "None");
		sbuf_puts(reply, "{\"ok\": false, \"error\": ");
		sbuf_json_string(reply, text.data ? text.data : "unknown command", text.data ? text.len : 15);
		sbuf_puts(reply, "}");
		sbuf_free(&text);
	}
	json_object_free(&req);
}
