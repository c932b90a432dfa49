/* SPDX-License-Identifier: MIT */
/*
 * The shield: while pam_roles works with the databases, the user who started a setuid program
 * (su, sudo, passwd) cannot stop it.
 *
 * Such a program runs with its caller's real uid, so its caller may signal it. A process stopped
 * (SIGSTOP, or ^Z's SIGTSTP) inside a state.db or secrets.db transaction holds its lock for as
 * long as it stays stopped: every other login on the host then waits its busy timeout and is
 * refused, and failures go uncounted. So, for as long as a phase works with the databases, the
 * process's real and saved uids are root's too (kill(2) lets a user signal only processes whose
 * real or saved uid is theirs) and the terminal's job-control signals are blocked; the shield
 * comes down around every conversation (a prompt may wait for minutes, and holds nothing) and
 * when the phase returns. A signal sent before the shield went up is taken when the process
 * returns from setresuid, before any lock; one blocked meanwhile is taken when it comes down.
 *
 * Nothing to do where the caller is root already (sshd's monitor, login, a root daemon) or where
 * the process has no root to lend (a program run as the user: it cannot open state.db anyway).
 */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "pam-roles.h"

void pam_roles_shield_up(struct pam_roles_shield *sh) {
        uid_t r, e, s;
        sigset_t job_control;
        if (sh->up || getresuid(&r, &e, &s) < 0 || e != 0 || (r == 0 && s == 0))
                return;
        sigemptyset(&job_control);
        sigaddset(&job_control, SIGTSTP);
        sigaddset(&job_control, SIGTTIN);
        sigaddset(&job_control, SIGTTOU);
        if (pthread_sigmask(SIG_BLOCK, &job_control, &sh->saved_mask) != 0)
                return;
        if (setresuid(0, 0, 0) < 0) {
                pthread_sigmask(SIG_SETMASK, &sh->saved_mask, NULL);
                return;
        }
        sh->ruid = r;
        sh->euid = e;
        sh->suid = s;
        sh->up = true;
}

void pam_roles_shield_down(struct pam_roles_shield *sh) {
        if (!sh->up)
                return;
        /* euid is 0 throughout, so putting the caller's ids back cannot be refused. */
        if (setresuid(sh->ruid, sh->euid, sh->suid) < 0)
                abort();
        pthread_sigmask(SIG_SETMASK, &sh->saved_mask, NULL);
        sh->up = false;
}

uid_t pam_roles_caller_uid(const struct pam_roles_shield *sh) {
        return sh->up ? sh->ruid : getuid();
}
