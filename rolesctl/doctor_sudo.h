/* SPDX-License-Identifier: MIT */
#pragma once

#include "writer.h"

/* One finding per published metarole group that sudoers trusts while /etc/sudo.conf lets sudo
 * keep the groups a session began with; how many. Reads what it can and says nothing of the rest. */
unsigned doctor_sudo_group_source(struct roles_snapshot *s, roles_report_fn report, void *userdata);
