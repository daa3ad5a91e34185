#!/usr/bin/env bash
# `npm test`: test dependencies, typecheck, lint (eslint, prettier --check, knip), then jest (extra
# arguments go to jest). Ends with one summary line "tests: N passed, N failed"; exits with jest's
# code, or non-zero when only the typecheck or the lint failed. LCI_SKIP_TEST_DEPS=1 skips scripts/install-test-deps.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [[ ${LCI_SKIP_TEST_DEPS:-} != 1 ]]; then
  bash scripts/install-test-deps.sh
fi

echo "== typecheck: tsc --noEmit"
typecheck_rc=0
npx tsc --noEmit || typecheck_rc=$?
if ((typecheck_rc == 0)); then echo "typecheck ok"; fi

echo "== lint: eslint, prettier --check, knip"
lint_rc=0
npm run --silent lint || lint_rc=$?
if ((lint_rc == 0)); then echo "lint ok"; fi

# Quiet logs unless asked for (LOG_LEVEL=debug npm test).
export LOG_LEVEL="${LOG_LEVEL:-silent}"

out=test-output/jest.json
mkdir -p test-output
rm -f "$out"
echo "== jest $*"
jest_rc=0
NODE_OPTIONS="--experimental-vm-modules${NODE_OPTIONS:+ $NODE_OPTIONS}" \
  npx jest --json --outputFile="$out" "$@" || jest_rc=$?

((typecheck_rc == 0)) || echo "typecheck: FAILED (tsc exit code $typecheck_rc, see above)"
((lint_rc == 0)) || echo "lint: FAILED (exit code $lint_rc, see above; npm run format fixes formatting)"
node -e '
const fs = require("fs");
const file = process.argv[1];
let passed = 0, failed = 0;
if (fs.existsSync(file)) {
  const r = JSON.parse(fs.readFileSync(file, "utf8"));
  passed = r.numPassedTests || 0;
  // suites that could not run (syntax error, failing beforeAll import...) count as failures too
  failed = (r.numFailedTests || 0) + (r.numRuntimeErrorTestSuites || 0);
} else {
  console.log("(jest wrote no " + file + ")");
}
console.log("tests: " + passed + " passed, " + failed + " failed");
' "$out"

if ((jest_rc != 0)); then exit "$jest_rc"; fi
if ((typecheck_rc != 0)); then exit "$typecheck_rc"; fi
exit "$lint_rc"
