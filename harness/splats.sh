#!/usr/bin/env bash
# Print the kernel reports (warnings, oopses, KASAN, lockdep, kmemleak, ...)
# found in a console log, one line each; exit 0 if there are any.
set -euo pipefail
grep -nE 'WARNING: |BUG: |Oops|general protection fault|KASAN: |UBSAN: |Kernel panic|kernel BUG at|possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|unreferenced object 0x|INFO: task .* blocked|INFO: rcu_|watchdog: BUG' "$1"
