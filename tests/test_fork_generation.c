/* SPDX-License-Identifier: MIT */
/* The process's fork generation (common/fork_generation.h): a fork changes it in the child, never
 * in the parent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fork_generation.h"

/* How a child's check ended: 0 passed, else which one failed. No cmocka in a child: its failure
 * would unwind into the parent's copy of the test. */
static void expect_child(pid_t pid) {
        int status;
        assert_true(pid > 0);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

/* In the child: not the parent's, and the same at every call; in its own child, another again. */
static int child(uint64_t parent) {
        uint64_t mine = roles_fork_generation();
        if (mine == parent)
                return 1;
        if (roles_fork_generation() != mine)
                return 2;
        pid_t pid = fork();
        if (pid == 0)
                _exit(roles_fork_generation() != mine && roles_fork_generation() != parent ? 0 : 3);
        int status;
        if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
                return 4;
        if (WEXITSTATUS(status) != 0)
                return WEXITSTATUS(status);
        return roles_fork_generation() == mine ? 0 : 5;
}

static void test_fork_changes_the_child(void **state) {
        (void) state;
        uint64_t parent = roles_fork_generation();
        assert_int_equal(roles_fork_generation(), parent);
        for (int i = 0; i < 2; i++) {
                pid_t pid = fork();
                if (pid == 0)
                        _exit(child(parent));
                expect_child(pid);
                assert_int_equal(roles_fork_generation(), parent);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_fork_changes_the_child),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
