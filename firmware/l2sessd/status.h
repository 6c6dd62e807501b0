/* SPDX-License-Identifier: Apache-2.0 */
/* status.h - the node's status (the control socket's "status": the same
 * JSON as `python -m l2sess.node status`) and its Prometheus metrics (the
 * same names as l2sess/node/metrics.py), from one snapshot of the loop. */
#ifndef L2SESSD_STATUS_H
#define L2SESSD_STATUS_H

#include <stdint.h>

#include "l2s_loop.h"
#include "sbuf.h"

/* What the daemon's own files refused this run (0 and 0: fine). */
struct file_health {
	uint64_t audit_log_failures, delivery_log_failures, checkpoint_failures;
	int audit_log_errno, delivery_log_errno, checkpoint_errno;
};

struct status_source {
	struct l2s_loop *loop;
	const char *did;
	const char *address;   /* "host:port" bound */
	struct file_health files;
	uint64_t prekey_not_after; /* the bundle's expiry, Unix seconds */
};

/* status warns this long before the prekey bundle expires, in these words
 * (l2sess/node/runner.py's). */
#define PREKEY_WARN_S (14 * 24 * 3600)
#define PREKEY_EXPIRED "the prekey bundle has expired: peers without a session cannot start one " \
	"(renew it: `l2sess renew` or `l2sessctl renew`)"
#define PREKEY_EXPIRING "the prekey bundle expires in %lld day(s) (renew it: `l2sess renew` or `l2sessctl renew`)"

void status_json(const struct status_source *src, struct sbuf *out);
void status_metrics(const struct status_source *src, struct sbuf *out);
/* As runner.py's prekey_status: {"not_after", "expires_in_s", "warning"}. */
void status_prekey_json(struct sbuf *out, uint64_t not_after);
/* "quic" / "utcp" / NULL for enum l2s_transport_kind */
const char *transport_name(int kind);
/* "host:port" or "[v6]:port" */
void address_text(const struct sockaddr_storage *ss, char out[64]);

#endif
