#!/bin/sh
# tests/run.sh — run tarn's test layers and print one "N passed, M failed" line.
#
#   BUILD=build sh tests/run.sh unit|integration|all
#
# unit:        every binary under $BUILD/tests/unit/*/ (exit 0 pass, 77 skip,
#              anything else fail), each under `timeout 300`.
# integration: pytest over tests/integration with a junit XML report; every
#              test case is counted. A pytest crash or timeout is a failure.
# With TARN_SANITIZED=1 (make check) a server stderr log holding an ASan or
# UBSan report is a failure too (the fixtures keep them under $TARN_LOG_DIR).
# Exit 1 if anything failed or nothing ran.

BUILD=${BUILD:-build}
what=${1:-all}
case $what in
unit|integration|all) ;;
*) echo "usage: BUILD=build sh tests/run.sh unit|integration|all" >&2; exit 2 ;;
esac

passed=0
failed=0
skipped=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tarn-run.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

run_unit() {
    found=0
    for t in "$BUILD"/tests/unit/*/*; do
        [ -f "$t" ] && [ -x "$t" ] || continue
        found=1
        name=${t#"$BUILD"/tests/unit/}
        timeout 300 "$t" >"$tmp/unit.out" 2>&1
        rc=$?
        if [ $rc -eq 0 ]; then
            passed=$((passed + 1))
        elif [ $rc -eq 77 ]; then
            skipped=$((skipped + 1))
            echo "SKIP unit/$name"
        else
            failed=$((failed + 1))
            if [ $rc -eq 124 ]; then
                echo "FAIL unit/$name (timed out after 300 s)"
            else
                echo "FAIL unit/$name (exit $rc)"
            fi
            tail -n 30 "$tmp/unit.out" | sed 's/^/    /'
        fi
    done
    [ $found -eq 1 ] || echo "no unit test binaries under $BUILD/tests/unit/"
}

# Count <testcase> results in a junit XML file: prints "passed failed skipped".
junit_count() {
    /usr/bin/python3 - "$1" <<'EOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception:
    print("0 0 0")
    sys.exit(0)
p = f = s = 0
for tc in root.iter("testcase"):
    kinds = {c.tag for c in tc}
    if "failure" in kinds or "error" in kinds:
        f += 1
    elif "skipped" in kinds:
        s += 1
    else:
        p += 1
print(p, f, s)
EOF
}

run_integration() {
    xml="$BUILD/integration.xml"
    mkdir -p "$BUILD"
    rm -f "$xml"
    TARN_LOG_DIR="$tmp/serverlogs"
    mkdir -p "$TARN_LOG_DIR"
    export TARN_LOG_DIR BUILD
    timeout 1200 /usr/bin/python3 -m pytest tests/integration -q -p no:cacheprovider \
        --junitxml="$xml"
    rc=$?
    set -- $(junit_count "$xml")
    passed=$((passed + $1))
    failed=$((failed + $2))
    skipped=$((skipped + $3))
    # rc 0: all passed, 1: some failed (counted above), 5: nothing collected.
    # Anything else (2 interrupted, 3 internal error, 4 usage, 124 timeout,
    # a signal) is a crash of the run itself: count it as one failure.
    case $rc in
    0|1) ;;
    5) echo "integration: pytest collected no tests" ;;
    124) echo "FAIL integration: pytest timed out after 1200 s"; failed=$((failed + 1)) ;;
    *) echo "FAIL integration: pytest exited with status $rc"; failed=$((failed + 1)) ;;
    esac
    if [ "${TARN_SANITIZED:-0}" = 1 ]; then
        for log in "$TARN_LOG_DIR"/*; do
            [ -f "$log" ] || continue
            if grep -q -e "ERROR: AddressSanitizer" -e "runtime error:" "$log"; then
                echo "FAIL sanitizer report in server log $(basename "$log"):"
                grep -m 5 -A 15 -e "ERROR: AddressSanitizer" -e "runtime error:" "$log" | sed 's/^/    /'
                failed=$((failed + 1))
            fi
        done
    fi
}

case $what in
unit) run_unit ;;
integration) run_integration ;;
all) run_unit; run_integration ;;
esac

line="$passed passed, $failed failed"
[ $skipped -gt 0 ] && line="$line, $skipped skipped"
echo "$line"
[ $failed -eq 0 ] && [ $passed -gt 0 ] || exit 1
exit 0
