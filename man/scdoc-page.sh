#!/bin/sh
# SPDX-License-Identifier: MIT
# scdoc-page.sh SCDOC PAGE.scd: the roff page on stdout (meson captures it).
#
# scdoc turns hyphenation off before .TH, and .TH turns it on again: an option broken at a
# line's end ("--pass-" / "word-stdin") cannot be read, searched for or copied, so it goes off
# again after .TH.
set -e
page=$("$1" <"$2")
printf '%s\n' "$page" | sed '/^\.TH /a .nh'
