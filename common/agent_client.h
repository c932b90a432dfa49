/* SPDX-License-Identifier: MIT */
/* The login core's side of roles-agent's socket (agent-protocol.h). */
#pragma once

#include <stddef.h>

/*
 * Send request (len bytes, agent-protocol.h's form) to the agent and read its one-line answer
 * into answer (without the '\n'). 0, or -errno: the agent is not there, did not answer in time
 * or answered nothing (the caller says "the account server cannot be reached").
 */
int roles_agent_ask(const char *request, size_t len, char *answer, size_t answer_len);
