/* SPDX-License-Identifier: MIT */
/*
 * One PAM transaction as a program makes it, through the real libpam: pam_start (or
 * pam_start_confdir, with service files of the caller's own) with a conversation that answers
 * the prompts from a list of replies, in order, and pam_end. Shared by the tests and the
 * benchmarks: libc and libpam only, no cmocka, so that threads, forked children and a build
 * without the tests can use it.
 */
#pragma once

#include <security/pam_appl.h>
#include <stddef.h>

#define PAM_HARNESS_MAX_REPLIES 4

struct pam_harness {
        /* Set by the caller before pam_harness_start. */
        const char *replies[PAM_HARNESS_MAX_REPLIES];   /* the answers to the hidden-input prompts, in
                                                         * order: the password, then the code; NULL ends
                                                         * the list, and a prompt past it fails the
                                                         * conversation (PAM_CONV_ERR), as does a prompt
                                                         * for visible input: nothing here asks for one */
        void (*on_prompt)(size_t i, void *arg);        /* when not NULL: runs when prompt i (from 0) is
                                                         * asked, before its answer is given */
        void *arg;

        /* Filled in by the harness. */
        pam_handle_t *pamh;
        size_t asked;                   /* prompts answered so far */
        char transcript[512];           /* "style:text\n" per message of the modules, truncated */
        size_t transcript_len;
};

/* pam_start_confdir(SERVICE, USER) with the harness's conversation, or pam_start when CONFDIR is
 * NULL (/etc/pam.d). H must stay where it is until pam_harness_end: the conversation reads it.
 * Returns libpam's code; on failure h->pamh is NULL and nothing is left to end. */
int pam_harness_start(struct pam_harness *h, const char *service, const char *user, const char *confdir);

/* pam_end(h->pamh, STATUS); h->pamh NULL afterwards. Nothing when no transaction is open. */
void pam_harness_end(struct pam_harness *h, int status);
