/* SPDX-License-Identifier: MIT */
/*
 * How pam_roles.so talks to roles_chkpwd (roles_chkpwd(8)), both sides' one definition.
 *
 *   roles_chkpwd USER MODE [PERMISSION]
 *
 * USER must be the caller's own account (its real uid's, as roles.db has it); MODE is
 * CHKPWD_MODE_AUTH (the password, then a TOTP code when enrolled), CHKPWD_MODE_NO_TOTP (the
 * password alone: no_totp) or CHKPWD_MODE_TOTP_REQUIRED (as auth, refusing an account that has
 * not enrolled: totp=required); PERMISSION, a code the account must hold (permission=). The helper
 * asks on its stdout, one request byte each, and reads each answer from its stdin as text ended
 * by a NUL byte; end of file instead of an answer: none came (the conversation failed). It
 * tells the user something with a message byte, the text and a NUL. Its answer is its exit
 * status, an enum roles_login_result (login.h): the login protocol's own result, which the
 * module maps to a PAM code as it maps its own.
 */
#pragma once

#define CHKPWD_MODE_AUTH        "auth"
#define CHKPWD_MODE_NO_TOTP     "auth-no-totp"
#define CHKPWD_MODE_TOTP_REQUIRED "auth-totp-required"

#define CHKPWD_ASK_PASSWORD     'P'     /* then the password, NUL-terminated, on stdin */
#define CHKPWD_ASK_CODE         'C'     /* then the TOTP code, NUL-terminated, on stdin */
#define CHKPWD_SAY_ERROR        'E'     /* then a message for the user, NUL-terminated */
#define CHKPWD_SAY_INFO         'I'     /* the same, a notice */

/* An answer longer than this is cut here: past ROLES_PASSWORD_MAX, so still refused (and
 * counted) as a password too long. */
#define CHKPWD_ANSWER_MAX       8192
/* A message's text (login.h's texts are one line). */
#define CHKPWD_SAY_MAX          1024
