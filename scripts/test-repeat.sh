#!/usr/bin/env bash
# Run the README test command N times in a row, or N times with two copies of the
# suite at once (--pair), to find tests that do not mean the same every run.
#   scripts/test-repeat.sh 5          five runs in a row
#   scripts/test-repeat.sh 3 --pair   three rounds of two suites at the same time
# Extra arguments after those go to pytest. Logs: .test-repeat/<round>-<slot>.log
# Exits non-zero if any run failed, and names the failed tests.
set -uo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
shift || true
pair=0
if [ "${1:-}" = "--pair" ]; then pair=1; shift; fi
scripts/setup.sh
mkdir -p .test-repeat
failed=0
for round in $(seq 1 "$rounds"); do
  pids=()
  for slot in $(seq 0 "$pair"); do
    log=.test-repeat/$round-$slot.log
    L4PLAN_TEST_SLOT=$slot ./scripts/test.sh -p no:cacheprovider "$@" >"$log" 2>&1 &
    pids+=("$!:$log")
  done
  for entry in "${pids[@]}"; do
    pid=${entry%%:*}; log=${entry#*:}
    if wait "$pid"; then
      echo "round $round: $(tail -n1 "$log")"
    else
      failed=1
      echo "round $round FAILED ($log): $(tail -n1 "$log")"
      grep -E '^(FAILED|ERROR) ' "$log" | sed 's/^/  /'
    fi
  done
done
exit "$failed"
