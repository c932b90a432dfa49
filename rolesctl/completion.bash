# shellcheck shell=bash
# SPDX-License-Identifier: MIT
# Bash completion for rolesctl(8), installed as bash-completion's completions/rolesctl.
#
# It knows no command, option or name of its own: rolesctl says what goes at the cursor
# (`rolesctl help --complete -- WORD...`, rolesctl(8) COMPLETION), from its command tables and,
# for names, from roles.db. So a new command or option completes the day rolesctl has it, and a
# user who cannot read the databases gets commands and options, no names and no error.

_rolesctl() {
        # shellcheck disable=SC2034  # prev: set by _init_completion, kept local here
        local cur prev words cword
        # '=' and ':' kept inside words: rolesctl is given "--group=st" whole.
        _init_completion -n =: || return

        local kind
        local -a answer
        # The command as typed (a path, or the name the shell finds); its errors are no answer.
        # Read line by line: a candidate such as "service.*" is no pattern to expand.
        mapfile -t answer < <("$1" help --complete -- "${words[@]:1:cword}" 2>/dev/null)
        kind=${answer[0]-}
        case $kind in
        file | directory)
                # "--conf=/etc/ro": the path after the '='.
                [[ $cur == --*=* ]] && cur=${cur#*=}
                if [[ $kind == directory ]]; then _filedir -d; else _filedir; fi
                return
                ;;
        "" | none)
                return
                ;;
        esac
        COMPREPLY=("${answer[@]:1}")
        # Each candidate is the whole word; readline replaces only what follows the last of
        # COMP_WORDBREAKS' characters in it ("--group=" of "--group=st").
        local breaks=${COMP_WORDBREAKS//[^=:]/}
        if [[ -n $breaks && $cur == *["$breaks"]* ]]; then
                local lead=${cur%"${cur##*["$breaks"]}"}
                COMPREPLY=("${COMPREPLY[@]#"$lead"}")
        fi
} && complete -F _rolesctl rolesctl
