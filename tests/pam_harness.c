/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pam_harness.h"

static void record(struct pam_harness *h, const struct pam_message *m) {
        if (h->transcript_len >= sizeof(h->transcript))
                return;
        int k = snprintf(h->transcript + h->transcript_len, sizeof(h->transcript) - h->transcript_len, "%d:%s\n",
                         m->msg_style, m->msg ? m->msg : "");
        if (k > 0)
                h->transcript_len += (size_t) k;
}

static int conversation(int n, const struct pam_message **msg, struct pam_response **resp, void *appdata) {
        struct pam_harness *h = appdata;
        size_t asked = h->asked;
        int ret = PAM_CONV_ERR;
        if (n <= 0)
                return PAM_CONV_ERR;
        struct pam_response *r = calloc((size_t) n, sizeof(*r));
        if (!r)
                return PAM_BUF_ERR;
        for (int i = 0; i < n; i++) {
                record(h, msg[i]);
                if (msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
                        goto out;
                if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF)
                        continue;       /* PAM_TEXT_INFO, PAM_ERROR_MSG */
                if (asked >= PAM_HARNESS_MAX_REPLIES || !h->replies[asked])
                        goto out;
                if (h->on_prompt)
                        h->on_prompt(asked, h->arg);
                if (!(r[i].resp = strdup(h->replies[asked]))) {
                        ret = PAM_BUF_ERR;
                        goto out;
                }
                asked++;
        }
        /* Counted only once answered: a conversation that failed (out of memory, say) asks again
         * from the same reply if the module retries. */
        h->asked = asked;
        *resp = r;
        return PAM_SUCCESS;
out:
        for (int i = 0; i < n; i++)
                free(r[i].resp);
        free(r);
        return ret;
}

int pam_harness_start(struct pam_harness *h, const char *service, const char *user, const char *confdir) {
        /* libpam copies the struct; appdata_ptr is what must live on. */
        const struct pam_conv conv = { conversation, h };
        h->pamh = NULL;
        h->asked = 0;
        h->transcript_len = 0;
        h->transcript[0] = '\0';
        int r = confdir ? pam_start_confdir(service, user, &conv, confdir, &h->pamh)
                        : pam_start(service, user, &conv, &h->pamh);
        if (r != PAM_SUCCESS)
                h->pamh = NULL;
        return r;
}

void pam_harness_end(struct pam_harness *h, int status) {
        if (!h->pamh)
                return;
        pam_end(h->pamh, status);
        h->pamh = NULL;
}
