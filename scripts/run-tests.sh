#!/bin/sh
# Every test suite, as `make test` runs it after building build/ and build-san/:
#   1. unit tests: the binary of every tests/unit/test_*.c in build/tests/ and
#      build-san/tests/ (cmocka; counts parsed from its summary, a crash/
#      timeout/non-zero exit with no failure counted is one more failure, a
#      missing binary is a failure)
#   2. fuzz corpus replay: build-san/fuzz/fuzz_<t> (or build/), made by the
#      Makefile from tests/fuzz/fuzz_<t>.c + tests/fuzz/replay.c, run over
#      tests/fuzz/corpus/<t>/
#      (a target without a corpus, or no library to link, is a failure)
#   3. integration: tests/integ/run.py against build/ and against build-san/
#   4. mandoc -Tlint of man/*.[58]
#   5. a smoke run of make bench (BENCH_SMOKE=1, report in a temporary
#      directory): passes if it wrote REPORT.md with a section for every
#      scenario and no driver error; no timing is asserted, and a missing
#      peer is only reported
# Each suite runs under `timeout`.  The last line is "N passed, N failed";
# the exit status is non-zero if anything failed.
set -u
cd "$(dirname "$0")/.." || exit 2

PY=/usr/bin/python3
# Real geodata for the matcher and geodata tests.
. scripts/geodata.sh
export SLUICE_GEODATA=${SLUICE_GEODATA:-../shared/geodata}
PASSED=0
FAILED=0
LOG=${TMPDIR:-/tmp}/sluice-run-tests.$$
mkdir -p "$LOG" || exit 2
trap 'rm -rf "$LOG"' EXIT

add() { PASSED=$((PASSED + $1)); FAILED=$((FAILED + $2)); }
say() { printf '%s\n' "$*"; }

# count N "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)" lines (summed
# over the groups of one binary)
cmocka_count() {
	sed -n "s/^\[  $1  \] \([0-9][0-9]*\) test(s).*/\1/p" "$2" |
	    awk '{ s += $1 } END { print s + 0 }'
}

# ---- 1. unit (make test built both; a stale binary of a removed source is
# not run)
say "== unit"
for dir in build/tests build-san/tests; do
	for src in tests/unit/test_*.c; do
		t=$dir/$(basename "$src" .c)
		if [ ! -f "$t" ] || [ ! -x "$t" ]; then
			add 0 1
			say "FAIL $t: not built"
			continue
		fi
		out="$LOG/unit.out"
		timeout -k 10 120 "$t" > "$out" 2>&1
		rc=$?
		p=$(cmocka_count PASSED "$out")
		f=$(cmocka_count FAILED "$out")
		if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
			f=1     # crashed, timed out, sanitizer report, or no summary
		fi
		if [ "$rc" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
			p=1     # no cmocka summary: the binary counts as one test
		fi
		if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$out" && [ "$f" -eq 0 ]; then
			f=1
		fi
		add "$p" "$f"
		if [ "$f" -eq 0 ]; then
			say "PASS $t: $p passed"
		else
			say "FAIL $t: $p passed, $f failed (exit $rc)"
			sed 's/^/    /' "$out" | tail -n 40
		fi
	done
done

# ---- 2. fuzz corpus replay, under the sanitizers when that build exists
say "== fuzz"
if [ -f build-san/libsluice.a ]; then
	FB=build-san FSAN=1
else
	FB=build FSAN=0
fi
targets=""
for src in tests/fuzz/*.c; do
	[ -f "$src" ] || continue
	n=$(basename "$src" .c)
	[ "$n" = replay ] || targets="$targets $n"
done
if [ -z "$targets" ]; then
	say "SKIP fuzz: no targets in tests/fuzz/"
elif [ ! -f "$FB/libsluice.a" ]; then
	add 0 1
	say "FAIL fuzz: no build (libsluice.a)"
else
	for n in $targets; do
		corpus=tests/fuzz/corpus/${n#fuzz_}
		[ -d "$corpus" ] || corpus=tests/fuzz/corpus/$n
		if [ ! -d "$corpus" ]; then
			add 0 1
			say "FAIL fuzz $n: no corpus in $corpus"
			continue
		fi
		bin=$FB/fuzz/$n
		# the Makefile's rule: its flags and libraries
		if ! timeout -k 10 180 make -s SAN=$FSAN "$bin" \
		    > "$LOG/fuzz.out" 2>&1; then
			add 0 1
			say "FAIL fuzz $n: build failed"
			sed 's/^/    /' "$LOG/fuzz.out" | tail -n 20
			continue
		fi
		files=$(find "$corpus" -maxdepth 1 -type f | wc -l)
		# replay DIR feeds every regular file in DIR to the target
		if timeout -k 10 300 "$bin" "$corpus" > "$LOG/fuzz.out" 2>&1; then
			add 1 0
			say "PASS fuzz $n: $files inputs"
		else
			add 0 1
			say "FAIL fuzz $n: replay of $files inputs failed"
			sed 's/^/    /' "$LOG/fuzz.out" | tail -n 30
		fi
	done
fi

# ---- 3. integration, against each build
for b in build build-san; do
	say "== integ $b"
	if [ ! -x "$b/sluiced" ]; then
		add 0 1
		say "FAIL integ $b: $b/sluiced not built"
		continue
	fi
	if [ "$b" = build ]; then limit=480; else limit=600; fi
	out="$LOG/integ.out"
	{
		SLUICED=$b/sluiced SLUICECTL=$b/sluicectl \
		    timeout -k 30 "$limit" "$PY" tests/integ/run.py
		echo $? > "$LOG/integ.rc"
	} | tee "$out"
	rc=$(cat "$LOG/integ.rc")
	sum=$(tail -n 1 "$out")
	p=$(printf '%s\n' "$sum" | sed -n 's/^integ: \([0-9]*\) passed, \([0-9]*\) failed.*/\1/p')
	f=$(printf '%s\n' "$sum" | sed -n 's/^integ: \([0-9]*\) passed, \([0-9]*\) failed.*/\2/p')
	if [ -z "$p" ]; then
		p=0 f=1
		say "FAIL integ $b: no summary (exit $rc; timed out after ${limit}s?)"
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		say "FAIL integ $b: exit $rc"
	fi
	add "$p" "$f"
done

# ---- 4. man pages
say "== man"
found=0
for m in man/*.[58]; do
	[ -f "$m" ] || continue
	found=1
	if timeout 60 mandoc -Tlint -Wwarning "$m" > "$LOG/man.out" 2>&1; then
		add 1 0
		say "PASS mandoc $m"
	else
		add 0 1
		say "FAIL mandoc $m"
		sed 's/^/    /' "$LOG/man.out" | head -n 20
	fi
done
[ "$found" -eq 1 ] || say "SKIP man: no pages in man/"

# ---- 5. benchmark smoke run (build/sluiced)
say "== bench smoke"
mkdir -p "$LOG/bench"
BENCH_SMOKE=1 BENCH_OUT="$LOG/bench" timeout -k 10 240 "$PY" \
    scripts/bench/bench.py > "$LOG/bench.out" 2>&1
rc=$?
rep="$LOG/bench/REPORT.md"
missing=""
for n in 1 2 3 4 5 6 7 8; do
	grep -q "^## $n\. " "$rep" 2>/dev/null || missing="$missing $n"
done
if [ "$rc" -eq 0 ] && [ -z "$missing" ] && ! grep -q '(driver error)' "$rep"; then
	add 1 0
	say "PASS bench smoke: REPORT.md with scenarios 1-8"
	grep -E 'unavailable|not installed' "$rep" | head -n 5 | cut -c1-160 | sed 's/^/    /'
else
	add 0 1
	say "FAIL bench smoke: exit $rc, sections missing:${missing:- none}"
	grep -F '(driver error)' "$rep" 2>/dev/null | head -n 5 | sed 's/^/    /'
	tail -n 30 "$LOG/bench.out" | sed 's/^/    /'
fi

say "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
