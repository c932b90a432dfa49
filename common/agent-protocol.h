/* SPDX-License-Identifier: MIT */
/*
 * How pam_roles (the login core, common/agent_client.c) asks roles-agent for what must be
 * decided on the fleet's primary at once (FLEET.md, "Write path", synchronous operations): both
 * sides' one definition.
 *
 * The agent listens on AGENT_SOCKET (a Unix stream socket, 0600 root) while it runs (not with
 * --once) and serves only peers whose SO_PEERCRED uid is 0. One request per connection: the
 * client writes the request whole, then shuts its side down (end of file ends the request); the
 * agent answers with one line and closes. A request is text lines, each ended by '\n', no NUL:
 *
 *   password\n UUID\n OLD\n NEW\n FS_UNIQUIFIER\n ACTIVATE\n
 *        compare-and-set of the account's password: NEW (an encoded hash) replaces OLD (the
 *        encoded hash the host read, empty for none), with a new FS_UNIQUIFIER; ACTIVATE "1"
 *        also activates the account (when it was not); the pending one-time codes are voided.
 *   code\n UUID\n KIND\n HASH\n
 *        a one-time code spent: KIND "activation" or "reset" (the account must then set a
 *        password) or "recovery"; HASH, the code's hash (auth.h, bound to the account), 64
 *        lowercase hex digits.
 *
 * The answer:
 *   won\n          done on the primary (and installed here before the answer, unless the agent
 *                  logged why not: then at its next round)
 *   lost\n         refused by the primary: the password changed meanwhile, or the code was
 *                  spent (another host's came first), expired or replaced
 *   unreachable\n  the primary cannot be reached (the agent's PostgreSQL connection): nothing done
 *   refused\n      not a request this agent takes (malformed, too large, too slow, not root)
 *
 * A request larger than AGENT_REQUEST_MAX, or not whole within AGENT_TIMEOUT_MS of the
 * connection, is refused: a client never holds the agent longer than that.
 */
#pragma once

#define AGENT_SOCKET            "/run/roles/agent.sock"
#define AGENT_REQUEST_MAX       2048
#define AGENT_TIMEOUT_MS        2000
/* How long a client waits for the answer: the agent's time with the primary included. */
#define AGENT_CLIENT_TIMEOUT_MS 15000
/* How long the primary may take over a claim before the agent gives it up (rolled back, answered
 * unreachable): well within the client's wait, with room for the round that installs a claim
 * won. A claim that went on after its client gave up would be made while the user was told it
 * was not: a code spent, a password changed, behind a refusal. */
#define AGENT_CLAIM_TIMEOUT_MS  5000

#define AGENT_REQ_PASSWORD      "password"
#define AGENT_REQ_CODE          "code"

#define AGENT_WON               "won"
#define AGENT_LOST              "lost"
#define AGENT_UNREACHABLE       "unreachable"
#define AGENT_REFUSED           "refused"
