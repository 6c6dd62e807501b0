/* SPDX-License-Identifier: Apache-2.0 */
/* command.h - the control socket's requests, answered as cli.py's
 * control_command answers them (docs/NODE.md, "The control socket"):
 *
 *   {"cmd": "status"}                         {"ok": true, "status": {...}}
 *   {"cmd": "metrics"}                        {"ok": true, "metrics": "<Prometheus text>"}
 *   {"cmd": "send", "did": D, "data": B64}    {"ok": true, "seq": N}
 *   {"cmd": "send_many", "did": D, "data": [B64, ...]}
 *                                             {"ok": true, "seqs": [...], "refused": "..."?}
 *   {"cmd": "rotate", "did": D}               {"ok": true}
 *   {"cmd": "renew"}                          {"ok": true, "prekey": {...}} (answered in daemon.c:
 *                                             the identity file is the daemon's)
 *
 * and any refusal as {"ok": false, "error": "<ErrorClass>: <what>"}. */
#ifndef L2SESSD_COMMAND_H
#define L2SESSD_COMMAND_H

#include <stddef.h>

#include "l2s_loop.h"
#include "sbuf.h"
#include "status.h"

void command_answer(struct l2s_loop *loop, const struct status_source *src, const char *request, size_t len,
		    struct sbuf *reply);

#endif
