#!/usr/bin/env bash
# The 3-worker chaos run at full size: 3 CLI workers on one PostgreSQL and one Dovecot mailbox,
# one SIGKILLed every 4 s and restarted, 1,000 mails (LCI_MULTI_MAILS to change). Prints the
# figures line "multi-worker: {...}". CI runs the same test with 300 mails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export LCI_MULTI_MAILS="${LCI_MULTI_MAILS:-1000}" LOG_LEVEL="${LOG_LEVEL:-silent}"
NODE_OPTIONS="--experimental-vm-modules" npx jest test/multi-worker.test.ts "$@"
