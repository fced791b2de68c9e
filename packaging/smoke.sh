#!/usr/bin/env bash
# Smoke test of the one-folder bundle (`make dist`), run the way a user runs it: from a
# directory outside the source tree, with a clean environment (no venv, no PYTHONPATH, a
# fresh HOME). Records 2 s from the simulator headless, lists the session, records with
# --lsl (liblsl kept to this machine), and starts the app offscreen (and on X11 when Xvfb is
# there) for a few seconds, which must keep running and close cleanly on SIGTERM.
#   packaging/smoke.sh [path/to/dist/pressure-logger/pressure-logger]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bundle="$(realpath "${1:-$here/../dist/pressure-logger/pressure-logger}")"
[ -x "$bundle" ] || { echo "smoke: no bundle at $bundle (run make dist)" >&2; exit 1; }
lslcfg="$here/../tests/lsl_loopback.cfg"  # streams and queries on 127.0.0.1 only
work="$(mktemp -d)"
xvfb_pid=""
app_pid=""
cleanup() {
    [ -z "$app_pid" ] || kill "$app_pid" 2>/dev/null || true
    [ -z "$xvfb_pid" ] || kill "$xvfb_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/home"
cd "$work"

run() {  # the bundle with nothing of this shell's environment
    env -i HOME="$work/home" PATH=/usr/bin:/bin LANG=C.UTF-8 "$@"
}

fail() { echo "smoke: FAILED: $*" >&2; exit 1; }

echo "smoke: bundle $bundle ($(du -sh "$(dirname "$bundle")" | cut -f1))"
sid="$(run "$bundle" record --port "sim://demo?speed=0" --duration 2 --db "$work/s.sqlite3" \
    2>"$work/record.err" | tail -1)" || { cat "$work/record.err" >&2; fail "record"; }
[ -n "$sid" ] || fail "record printed no session id"
echo "smoke: record -> session $sid"

run "$bundle" sessions --db "$work/s.sqlite3" >"$work/sessions.out" 2>&1 \
    || { cat "$work/sessions.out" >&2; fail "sessions"; }
grep -q "$sid" "$work/sessions.out" || { cat "$work/sessions.out" >&2; fail "sessions: no $sid"; }
echo "smoke: sessions lists it"

run LSLAPICFG="$(realpath "$lslcfg")" "$bundle" record --lsl --port "sim://lsl?speed=0" \
    --duration 1 --db "$work/s.sqlite3" >"$work/lsl.out" 2>&1 \
    || { cat "$work/lsl.out" >&2; fail "record --lsl"; }
echo "smoke: record --lsl (liblsl loads)"

app() {  # $1: a name; the rest: environment for the app. Runs it 5 s, then SIGTERM.
    local name="$1"
    shift
    # env replaces itself with the app, so $! is the app's own pid
    env -i HOME="$work/home" PATH=/usr/bin:/bin LANG=C.UTF-8 "$@" \
        "$bundle" --port "sim://smoke?loop=1" --db "$work/app.sqlite3" >"$work/$name.log" 2>&1 &
    app_pid=$!
    sleep 5
    kill -0 "$app_pid" 2>/dev/null || { cat "$work/$name.log" >&2; fail "app ($name) exited early"; }
    kill -TERM "$app_pid"
    local rc=0
    wait "$app_pid" || rc=$?
    app_pid=""
    if [ "$rc" != 0 ] || grep -Eqi "traceback|error|could not load" "$work/$name.log"; then
        cat "$work/$name.log" >&2
        fail "app ($name): exit $rc"
    fi
    echo "smoke: app ($name) ran 5 s and closed cleanly"
}
app offscreen QT_QPA_PLATFORM=offscreen

if command -v Xvfb >/dev/null; then  # the xcb plugin and the X11 libraries in the bundle
    display=":$((90 + RANDOM % 100))"
    Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
    xvfb_pid=$!
    sleep 1
    app xcb QT_QPA_PLATFORM=xcb DISPLAY="$display"
fi
echo "smoke: passed"
