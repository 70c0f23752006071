#!/usr/bin/env bash
# Validates every example config with bin/ignition-validate and prints each
# report. Examples named broken*.ign must fail; all others must pass. The
# demo fails if any example gives the wrong verdict.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
for f in examples/*.ign; do
	echo "=== ${f}"
	bin/ignition-validate "$f"
	rc=$?
	case "$(basename "$f")" in
	broken*) want=1 ;;
	*) want=0 ;;
	esac
	if [ "$rc" -eq 0 ]; then echo "--- valid (exit 0)"; else echo "--- invalid (exit $rc)"; fi
	if [ "$rc" -ne "$want" ]; then
		echo "!!! expected exit ${want}" >&2
		status=1
	fi
	echo
done
exit $status
