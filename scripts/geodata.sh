# shellcheck shell=sh
# Sourced from the repository root by run-tests.sh and bench/route.sh: the
# real geodata (never part of the repository).  An unset or empty
# SLUICE_GEODATA becomes the first of ../shared/geodata and
# /work/shared/geodata that holds dat/, as an absolute path; it stays
# empty when neither does.  (Ends with status 0: the callers run set -e.)
if [ -z "${SLUICE_GEODATA:-}" ]; then
	for d in ../shared/geodata /work/shared/geodata; do
		if [ -d "$d/dat" ]; then
			SLUICE_GEODATA=$(cd "$d" && pwd)
			break
		fi
	done
fi
