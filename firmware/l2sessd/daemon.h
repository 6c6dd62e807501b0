/* SPDX-License-Identifier: Apache-2.0 */
/* daemon.h - `l2sessd run`: the node, its state, its logs, its control
 * socket and metrics, as `python -m l2sess.node run` runs them (cli.py's
 * Runner), on the public event-loop API (l2s_loop.h).
 *
 * One thread does it all from one poll(): the loop's fd and timers
 * (l2s_loop_poll_fd), its events (audit and delivery logs, a checkpoint
 * when a session is established), the control socket, the metrics port,
 * the signals, and a checkpoint every checkpoint_interval. */
#ifndef L2SESSD_DAEMON_H
#define L2SESSD_DAEMON_H

/* Runs the node of the config at path until SIGTERM or SIGINT; 0 on a
 * clean stop, 2 (one line on stderr naming the key) when the config or a
 * file or port it names cannot be used, 1 when the loop fails. */
int daemon_run(const char *config_path);

#endif
