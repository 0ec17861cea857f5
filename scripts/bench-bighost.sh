#!/usr/bin/env bash
# bench-bighost.sh: whole-process wall time and peak RSS of nettune's read
# paths on the generated 256-CPU, 2-node host with 16 ice ports of 64 and
# of 256 queues (internal/fixture/bighost), before the profile is applied
# (every item drifts) and after (every item ok, a journal to read), and of
# 'nettune devices' against 'dpdk-devbind.py --status' on this host, side
# by side.
#
# Usage: scripts/bench-bighost.sh [RUNS]    (default 7)
# Environment: NETTUNE (a nettune binary; default: built from this tree), BASE (a second
#   nettune binary to compare, e.g. one built from an older commit),
#   DIR (where fixtures go; /dev/shm when there is one: memory-backed like
#   /proc and /sys), DEVBIND (dpdk-devbind.py).
#
# Each command runs RUNS times after one warm-up; the report gives the
# median wall time (bash's EPOCHREALTIME around each run, to the
# microsecond: GNU time's %e counts in steps of 10 ms, a tenth of a
# check) and the largest peak RSS (GNU time's %M). Runs of nettune devices
# and dpdk-devbind.py alternate, and their ratio is the median of the
# ratios of each pair. Quote the medians of a quiet machine:
# docs/performance.md.
set -euo pipefail
RUNS=${1:-7}
cd "$(dirname "$0")/.."
DEVBIND=${DEVBIND:-dpdk-devbind.py}
base=/tmp
[ -d /dev/shm ] && base=/dev/shm
DIR=${DIR:-$(mktemp -d "$base/nettune-bighost.XXXXXX")}
trap 'rm -rf "$DIR"' EXIT
if [ -z "${NETTUNE:-}" ]; then
	NETTUNE=$DIR/nettune
	CGO_ENABLED=0 go build -o "$NETTUNE" ./cmd/nettune
fi
PROFILE=internal/fixture/bighost/nics.yaml
command -v /usr/bin/time >/dev/null || { echo "bench-bighost: /usr/bin/time not found (apt-get install time)" >&2; exit 1; }

# timed FILE CMD...: one run; appends "wall_us max_rss_kb" to FILE.
timed() {
	local out=$1 rss s e; shift
	rss=$(mktemp)
	s=${EPOCHREALTIME/./}
	/usr/bin/time -f "%M" -o "$rss" "$@" >/dev/null 2>&1 || true
	e=${EPOCHREALTIME/./}
	echo "$((e - s)) $(tail -n1 "$rss")" >>"$out"
	rm -f "$rss"
}

# wall FILE CMD...: one run without GNU time (whose own start would be a
# tenth of a 20 ms command); appends "wall_us 0" to FILE.
wall() {
	local out=$1 s e; shift
	s=${EPOCHREALTIME/./}
	"$@" >/dev/null 2>&1 || true
	e=${EPOCHREALTIME/./}
	echo "$((e - s)) 0" >>"$out"
}

# measure LABEL CMD...: RUNS timed runs; prints the median wall and the
# largest peak RSS.
measure() {
	local out; out=$(mktemp)
	"${@:2}" >/dev/null 2>&1 || true
	for _ in $(seq "$RUNS"); do
		timed "$out" "${@:2}"
	done
	grep -E '^[0-9]+ [0-9]+$' "$out" | sort -n | awk -v label="$1" '
		{ w[NR] = $1; if ($2 > m) m = $2 }
		END { printf "%-34s median %.3f s  peak RSS %.1f MB  (%d runs)\n", label, w[int((NR+1)/2)]/1e6, m/1024, NR }'
	rm -f "$out"
}

for q in 64 256; do
	root=$DIR/16x$q
	go run ./internal/fixture/bighost/gen -queues "$q" "$root" >/dev/null
	for bin in "$NETTUNE" ${BASE:+"$BASE"}; do
		tag=$(basename "$bin")
		[ "$bin" = "$NETTUNE" ] || tag="base:$tag"
		measure "$tag check 16x$q" "$bin" check --interval 0 --root "$root" "$PROFILE"
		measure "$tag plan 16x$q" "$bin" plan --root "$root" "$PROFILE"
		measure "$tag irqs 16x$q" "$bin" irqs --root "$root"
	done
	# The tuned host: every item ok, and a journal of the apply (megabytes
	# of changes) that check reads for orphans.
	"$NETTUNE" apply --yes --root "$root" "$PROFILE" >/dev/null
	for bin in "$NETTUNE" ${BASE:+"$BASE"}; do
		tag=$(basename "$bin")
		[ "$bin" = "$NETTUNE" ] || tag="base:$tag"
		measure "$tag check 16x$q, applied" "$bin" check --interval 0 --root "$root" "$PROFILE"
	done
	rm -rf "$root"
done

# devices: A and B alternate; ratio B/A pair by pair.
if command -v "$DEVBIND" >/dev/null; then
	a=$(mktemp) b=$(mktemp)
	"$NETTUNE" devices >/dev/null 2>&1 || true
	"$DEVBIND" --status >/dev/null 2>&1 || true
	for _ in $(seq "$RUNS"); do
		wall "$a" "$NETTUNE" devices
		wall "$b" "$DEVBIND" --status
	done
	paste -d' ' "$a" "$b" | awk -v devbind="$DEVBIND" '
		NF == 4 { a[++n] = $1; b[n] = $3; r[n] = ($1 > 0 ? $3 / $1 : 0) }
		function med(x, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }; return x[int((n+1)/2)] }
		END {
			printf "nettune devices                    median %.3f s\n", med(a, n)/1e6
			printf "%-34s median %.3f s\n", devbind " --status", med(b, n)/1e6
			printf "devices speed-up (pairwise median) %.1fx  (%d pairs)\n", med(r, n), n
		}'
	rm -f "$a" "$b"
else
	echo "bench-bighost: $DEVBIND not found, devices comparison skipped (apt-get install dpdk)" >&2
fi
