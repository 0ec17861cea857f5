#!/usr/bin/env bash
# Installs, uses, removes and purges the nettune and nettune-forwarder
# .debs on this host and checks that every path the packages hold is back
# to how it was before (absent unless it existed: /usr, /lib/systemd/system
# ...). Root, dpkg; run by TestPrivilegedDebInstallPurge (test/deb) and
# `make deb-test`.
#
#   test/deb/test.sh [NETTUNE.deb FORWARDER.deb]   (default: build both with scripts/build-deb.sh)
#
# 1. nettune alone: every verb but run works, run names nettune-forwarder;
# 2. with nettune-forwarder: run finds and starts the forwarder;
# 3. both removed and purged: nothing is left.
#
# Exit 77: skipped (not root, no dpkg-deb, a nettune package already installed).
set -euo pipefail
# No grep -q at the end of a pipe: it stops reading at the first match,
# and the writer's SIGPIPE fails the pipeline (pipefail).
cd "$(dirname "$0")/../.."

PKGS=(nettune-forwarder nettune) # removal order
skip() { echo "deb-test: skipped: $*"; exit 77; }
fail() { echo "deb-test: FAIL: $*" >&2; exit 1; }
known() { dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null | grep -v '^not-installed$' >/dev/null; }
[ "$(id -u)" -eq 0 ] || skip "needs root (dpkg -i)"
command -v dpkg-deb >/dev/null && command -v dpkg-shlibdeps >/dev/null || skip "no dpkg-deb or dpkg-shlibdeps (not a Debian host; apt-get install dpkg-dev)"
for p in "${PKGS[@]}"; do
  if known "$p"; then
    skip "a $p package is already on this host ($(dpkg-query -W -f='${Version} ${db:Status-Status}' "$p")); not touching it"
  fi
done

work=$(mktemp -d)
installed=0
cleanup() {
  rc=$?
  if [ "$installed" = 1 ]; then
    for p in "${PKGS[@]}"; do
      if known "$p"; then
        echo "deb-test: purging $p after a failure" >&2
        dpkg -P "$p" >/dev/null 2>&1 || rc=1
      fi
    done
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

if [ $# -ge 2 ]; then
  deb=$1 fwd=$2
else
  DEB_OUTDIR="$work/dist" ./scripts/build-deb.sh > "$work/built" || fail "scripts/build-deb.sh"
  deb=$(sed -n 1p "$work/built") fwd=$(sed -n 2p "$work/built")
fi
for f in "$deb" "$fwd"; do [ -f "$f" ] || fail "no package at $f"; done
[ "$(dpkg-deb -f "$deb" Package)" = nettune ] || fail "$deb is not the nettune package"
[ "$(dpkg-deb -f "$fwd" Package)" = nettune-forwarder ] || fail "$fwd is not the nettune-forwarder package"
if dpkg-deb -f "$deb" Depends | grep librte >/dev/null; then fail "nettune depends on DPDK: $(dpkg-deb -f "$deb" Depends)"; fi
dpkg-deb -f "$deb" Suggests Recommends | grep nettune-forwarder >/dev/null || fail "nettune neither suggests nor recommends nettune-forwarder"
version=$(dpkg-deb -f "$deb" Version)
dpkg-deb -f "$fwd" Depends | grep -F "nettune (= $version)" >/dev/null || fail "nettune-forwarder does not depend on nettune (= $version): $(dpkg-deb -f "$fwd" Depends)"
dpkg-deb -f "$fwd" Depends | grep 'librte-eal' >/dev/null || fail "nettune-forwarder does not depend on DPDK's EAL: $(dpkg-deb -f "$fwd" Depends)"

# Every path in the packages, and whether it exists before installation.
paths() { dpkg-deb --fsys-tarfile "$1" | tar -t | sed 's|^\./|/|; s|/$||' | grep -v '^\.\?$' | grep -v '^/$'; }
paths "$deb" > "$work/paths.nettune"
paths "$fwd" > "$work/paths.nettune-forwarder"
: > "$work/absent"
sort -u "$work/paths.nettune" "$work/paths.nettune-forwarder" | while read -r p; do [ -e "$p" ] || echo "$p"; done > "$work/absent"
grep -qx /usr/sbin/nettune "$work/absent" || fail "/usr/sbin/nettune exists before installation"
grep -qx /usr/lib/nettune/nettune-forwarder "$work/absent" || fail "/usr/lib/nettune/nettune-forwarder exists before installation"
if grep -q nettune-forwarder "$work/paths.nettune"; then fail "the nettune package holds the forwarder"; fi

# install PKG DEB: dpkg -i, installed, dpkg -L equals the package's contents.
install_pkg() {
  installed=1
  dpkg -i "$2" > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i $2 (its Depends: $(dpkg-deb -f "$2" Depends))"; }
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1")" = installed ] || fail "$1 not in state installed after dpkg -i"
  dpkg -L "$1" | grep -v '^/\.$' | sort > "$work/listed"
  sort "$work/paths.$1" | diff - "$work/listed" >&2 || fail "dpkg -L $1 differs from the package's contents"
}

# nettune runs as the operator's would: from /usr/sbin, with a PATH that
# has no build tree (run looks next to itself, in /usr/lib/nettune, in PATH).
nt() { env PATH=/usr/sbin:/usr/bin:/sbin:/bin /usr/sbin/nettune "$@"; }

# 1. nettune alone.
install_pkg nettune "$deb"
out=$(nt version) || fail "nettune version: exit $?"
echo "deb-test: $out"
nt list > "$work/list" || fail "nettune list: exit $?"
grep -q safe-default "$work/list" || fail "nettune list does not show safe-default: $(cat "$work/list")"
for f in /usr/share/man/man8/nettune.8.gz /usr/share/man/man8/nettune-apply.8.gz \
  /usr/share/bash-completion/completions/nettune /usr/share/zsh/vendor-completions/_nettune \
  /usr/share/fish/vendor_completions.d/nettune.fish /usr/share/nettune/profiles/safe-default.yaml \
  /lib/systemd/system/nettune-apply.service /lib/systemd/system/nettune-nic@.service \
  /lib/udev/rules.d/90-nettune.rules /usr/share/doc/nettune/copyright; do
  [ -f "$f" ] || fail "$f is not installed"
done
if ldd /usr/sbin/nettune 2>&1 | grep librte >/dev/null; then fail "/usr/sbin/nettune links DPDK: $(ldd /usr/sbin/nettune | grep librte | head -n1)"; fi
zcat /usr/share/man/man8/nettune-apply.8.gz | grep '^\.SH EXAMPLE' >/dev/null || fail "nettune-apply(8) has no EXAMPLE section"
grep -q '^ExecStart=/usr/sbin/nettune ' /lib/systemd/system/nettune-apply.service || fail "nettune-apply.service does not run /usr/sbin/nettune"
if command -v man >/dev/null; then
  m=$(man -w nettune-apply) || fail "man -w nettune-apply: exit $?"
  [ "$m" = /usr/share/man/man8/nettune-apply.8.gz ] || fail "man -w nettune-apply: $m"
  man -w 8 nettune >/dev/null || fail "man:nettune(8), the unit's Documentation=, is not found"
fi
if command -v bash >/dev/null; then
  bash -c 'source /usr/share/bash-completion/completions/nettune && declare -F __start_nettune >/dev/null' || fail "the bash completion does not load"
fi
nt __complete plan safe > "$work/complete" 2>/dev/null || fail "nettune __complete plan safe: exit $?"
grep -q '^safe-default' "$work/complete" || fail "profile names do not complete: $(cat "$work/complete")"
[ ! -e /usr/lib/nettune ] || fail "/usr/lib/nettune exists without nettune-forwarder"
if nt run --duration 1s null-forwarder > "$work/run" 2>&1; then fail "nettune run without the forwarder exited 0: $(cat "$work/run")"; fi
grep -q 'apt-get install nettune-forwarder\b' "$work/run" || fail "nettune run without the forwarder does not name the package nettune-forwarder: $(cat "$work/run")"
echo "deb-test: without nettune-forwarder: $(head -c 300 "$work/run")"

# 2. With the forwarder: nettune run finds it in /usr/lib/nettune and
# forwards between two net_null ports for a second.
install_pkg nettune-forwarder "$fwd"
[ -x /usr/lib/nettune/nettune-forwarder ] || fail "/usr/lib/nettune/nettune-forwarder is not installed"
[ -f /usr/share/doc/nettune-forwarder/copyright ] || fail "nettune-forwarder has no copyright file"
if ldd /usr/lib/nettune/nettune-forwarder | grep 'not found' >/dev/null; then fail "the forwarder's libraries are missing: $(ldd /usr/lib/nettune/nettune-forwarder | grep 'not found')"; fi
nt run --duration 1s null-forwarder > "$work/run" 2>&1 || fail "nettune run null-forwarder with nettune-forwarder installed: exit $?: $(cat "$work/run")"
grep -q '^forwarding started' "$work/run" || fail "nettune run did not start the forwarder: $(cat "$work/run")"
echo "deb-test: with nettune-forwarder: $(grep '^Forwarded' "$work/run" || true)"

# 3. Remove, then purge both: nothing of the packages may remain.
dpkg -r "${PKGS[@]}" > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -r ${PKGS[*]}"; }
[ ! -e /usr/sbin/nettune ] || fail "/usr/sbin/nettune remains after dpkg -r"
[ ! -e /usr/lib/nettune ] || fail "/usr/lib/nettune remains after dpkg -r"
dpkg -P "${PKGS[@]}" > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -P ${PKGS[*]}"; }
installed=0
for p in "${PKGS[@]}"; do
  if known "$p"; then fail "dpkg still knows $p after dpkg -P: $(dpkg-query -W -f='${db:Status-Status}' "$p")"; fi
done
left=()
while read -r p; do [ ! -e "$p" ] || left+=("$p"); done < "$work/absent"
[ ${#left[@]} -eq 0 ] || fail "left after purge: ${left[*]}"
echo "deb-test: ok: $(sort -u "$work/paths.nettune" "$work/paths.nettune-forwarder" | wc -l) paths of $(basename "$deb") and $(basename "$fwd") installed, used, removed and purged"
