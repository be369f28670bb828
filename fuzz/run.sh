#!/bin/sh
# Coverage-guided fuzzing of every target in fuzz/targets.py for SECONDS each
# (default 60), one after the other; prints executions and coverage per target.
#
#   pip install -e '.[test,fuzz]'      # atheris
#   fuzz/run.sh 300                    # five minutes per target
#
# Corpora grow in fuzz/corpus/TARGET (not committed); crashes are written to
# fuzz/crashes/ and make the script exit 1. A crash is a bug: add the input to
# tests/reliability/regressions.py with the bug it shows.
set -u
SECONDS_PER_TARGET="${1:-60}"
HERE="$(cd "$(dirname "$0")" && pwd)"
PYTHON="${PYTHON:-$HERE/../.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3
TARGETS="${FUZZ_TARGETS:-ports hcl proxy_reader proxy_roundtrip spp_reader http_framing jsonrpc state_file agent_state_file agent_spec}"
mkdir -p "$HERE/crashes"
status=0
printf '%-18s %12s %8s %8s %s\n' target executions cov ft result
for target in $TARGETS; do
    corpus="$HERE/corpus/$target"
    mkdir -p "$corpus"
    log="$(mktemp)"
    "$PYTHON" "$HERE/targets.py" "$target" "$corpus" \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=1024 \
        -artifact_prefix="$HERE/crashes/$target-" -print_final_stats=1 >"$log" 2>&1
    rc=$?
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    cov="$(grep -Eo 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)"
    ft="$(grep -Eo 'ft: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)"
    if [ "$rc" -eq 0 ]; then result=ok; else result="CRASH (rc $rc, see $HERE/crashes)"; status=1
        grep -E 'Error|Traceback|assert' "$log" | head -5; fi
    printf '%-18s %12s %8s %8s %s\n' "$target" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$result"
    rm -f "$log"
done
exit $status
