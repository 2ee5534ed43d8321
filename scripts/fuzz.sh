#!/bin/sh
# fuzz.sh runs every Go fuzz target in the module, one at a time, for a
# given time each. `go test` takes one -fuzz target per invocation, so each
# target gets its own run.
#
#   scripts/fuzz.sh [DURATION] [NAME-REGEXP]
#
#   DURATION     how long each target runs (default 30s; any -fuzztime value,
#                e.g. 2m or 100000x)
#   NAME-REGEXP  only the targets whose name matches (grep -E), e.g. 'Reply|Parse'
#
# FUZZ_PARALLEL sets the number of fuzzing workers (go test -parallel;
# default: one per CPU). FUZZ_MINIMIZETIME caps how long each new
# interesting input is minimized (default 5s; go's own default, 60s, can
# spend a whole short run minimizing one input of a many-argument target
# while the exec count stands still). A failing input is written by go test under the
# package's testdata/fuzz/<Target>/ and then runs with every plain `go test`:
# commit it as the regression test. The script exits non-zero if any target
# failed, after running all of them.
set -eu

duration=${1:-30s}
filter=${2:-.}
cd "$(dirname "$0")/.."

minimize=${FUZZ_MINIMIZETIME:-5s}
parallel=""
if [ -n "${FUZZ_PARALLEL:-}" ]; then
	parallel="-parallel=$FUZZ_PARALLEL"
fi

# Fuzz targets are found by name in the test files: cheaper than building
# every test binary to list them.
targets=$(grep -rHo --include='*_test.go' '^func Fuzz[A-Za-z0-9_]*' . |
	sed 's|^\./\(.*\)/[^/]*_test\.go:func \(Fuzz[A-Za-z0-9_]*\)$|\1 \2|' |
	grep -E " .*($filter)" | sort -u) || true
if [ -z "$targets" ]; then
	echo "fuzz.sh: no fuzz targets match '$filter'" >&2
	exit 2
fi

out=$(mktemp)
rc=$(mktemp)
trap 'rm -f "$out" "$rc"' EXIT

# corpus counts the failing inputs go test has written for a target.
corpus() {
	ls "$1/testdata/fuzz/$2" 2>/dev/null | wc -l
}

failed=""
flaked=""
count=0
echo "$targets" | {
	while read -r dir name; do
		count=$((count + 1))
		echo "=== $name (./$dir, $duration)"
		before=$(corpus "$dir" "$name")
		# The output is shown as it comes and kept for the check below;
		# POSIX sh has no pipefail, so the status travels in a file.
		# -run='^$': the unit tests already ran in plain `go test`.
		{
			# shellcheck disable=SC2086 # $parallel is empty or one flag
			if go test -run='^$' -fuzz="^${name}\$" -fuzztime="$duration" -fuzzminimizetime="$minimize" $parallel "./$dir"; then
				echo 0 >"$rc"
			else
				echo 1 >"$rc"
			fi
		} 2>&1 | tee "$out"
		if [ "$(cat "$rc")" = 0 ]; then
			continue
		fi
		# Go before 1.27 can fail a run with "context deadline exceeded"
		# when -fuzztime ends while a worker is busy (go.dev/issue/75804),
		# most often on a loaded machine. No input failed then, so none
		# was written: that is a flake, not a finding.
		if [ "$(corpus "$dir" "$name")" = "$before" ] && grep -q 'context deadline exceeded' "$out"; then
			echo "fuzz.sh: $name ended with Go's fuzztime deadline race (go.dev/issue/75804); no failing input: not counted as a failure" >&2
			flaked="$flaked ./$dir:$name"
			continue
		fi
		failed="$failed ./$dir:$name"
	done
	if [ -n "$flaked" ]; then
		echo "fuzz.sh: hit the fuzztime deadline race (rerun to cover them fully):$flaked" >&2
	fi
	if [ -n "$failed" ]; then
		echo "fuzz.sh: $count targets run; FAILED:$failed" >&2
		exit 1
	fi
	echo "fuzz.sh: $count targets run, none failed"
}
