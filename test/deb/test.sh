#!/usr/bin/env bash
# Installs, uses, removes and purges the nettune .deb on this host and checks
# that every path the package holds is back to how it was before (absent
# unless it existed: /usr, /lib/systemd/system...). Root, dpkg; run by
# TestPrivilegedDebInstallPurge (test/deb) and `make deb-test`.
#
#   test/deb/test.sh [PACKAGE.deb]   (default: build one with scripts/build-deb.sh)
#
# Exit 77: skipped (not root, no dpkg-deb, nettune already installed).
set -euo pipefail
cd "$(dirname "$0")/../.."

skip() { echo "deb-test: skipped: $*"; exit 77; }
fail() { echo "deb-test: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || skip "needs root (dpkg -i)"
command -v dpkg-deb >/dev/null && command -v dpkg-shlibdeps >/dev/null || skip "no dpkg-deb or dpkg-shlibdeps (not a Debian host; apt-get install dpkg-dev)"
if dpkg-query -W -f='${db:Status-Status}' nettune 2>/dev/null | grep -qv '^not-installed$'; then
  skip "a nettune package is already on this host ($(dpkg-query -W -f='${Version} ${db:Status-Status}' nettune)); not touching it"
fi

work=$(mktemp -d)
installed=0
cleanup() {
  rc=$?
  if [ "$installed" = 1 ] && dpkg-query -W -f='${db:Status-Status}' nettune 2>/dev/null | grep -qv '^not-installed$'; then
    echo "deb-test: purging nettune after a failure" >&2
    dpkg -P nettune >/dev/null 2>&1 || rc=1
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT

deb=${1:-}
if [ -z "$deb" ]; then
  deb=$(DEB_OUT="$work/nettune.deb" ./scripts/build-deb.sh | tail -1)
fi
[ -f "$deb" ] || fail "no package at $deb"

# Every path in the package, and whether it exists before installation.
dpkg-deb --fsys-tarfile "$deb" | tar -t | sed 's|^\./|/|; s|/$||' | grep -v '^\.\?$' | grep -v '^/$' > "$work/paths"
: > "$work/absent"
while read -r p; do [ -e "$p" ] || echo "$p" >> "$work/absent"; done < "$work/paths"
grep -qx /usr/sbin/nettune "$work/absent" || fail "/usr/sbin/nettune exists before installation"

installed=1
dpkg -i "$deb" > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -i $deb (its Depends: $(dpkg-deb -f "$deb" Depends))"; }
[ "$(dpkg-query -W -f='${db:Status-Status}' nettune)" = installed ] || fail "nettune not in state installed after dpkg -i"

# dpkg's file list is the package's.
dpkg -L nettune | grep -v '^/\.$' | sort > "$work/listed"
sort "$work/paths" | diff - "$work/listed" >/dev/null || { sort "$work/paths" | diff - "$work/listed" >&2; fail "dpkg -L differs from the package's contents"; }

# Use it.
out=$(/usr/sbin/nettune version) || fail "nettune version: exit $?"
echo "deb-test: $out"
/usr/sbin/nettune list > "$work/list" || fail "nettune list: exit $?"
grep -q safe-default "$work/list" || fail "nettune list does not show safe-default: $(cat "$work/list")"
for f in /usr/share/man/man8/nettune.8.gz /usr/share/man/man8/nettune-apply.8.gz \
  /usr/share/bash-completion/completions/nettune /usr/share/zsh/vendor-completions/_nettune \
  /usr/share/fish/vendor_completions.d/nettune.fish /usr/share/nettune/profiles/safe-default.yaml \
  /lib/systemd/system/nettune-apply.service /lib/systemd/system/nettune-nic@.service \
  /lib/udev/rules.d/90-nettune.rules /usr/share/doc/nettune/copyright; do
  [ -f "$f" ] || fail "$f is not installed"
done
[ -x /usr/lib/nettune/nettune-forwarder ] || fail "/usr/lib/nettune/nettune-forwarder is not installed"
if ldd /usr/sbin/nettune 2>&1 | grep -q librte; then fail "/usr/sbin/nettune links DPDK: $(ldd /usr/sbin/nettune | grep librte | head -n1)"; fi
zcat /usr/share/man/man8/nettune-apply.8.gz | grep -q '^\.SH EXAMPLE' || fail "nettune-apply(8) has no EXAMPLE section"
grep -q '^ExecStart=/usr/sbin/nettune ' /lib/systemd/system/nettune-apply.service || fail "nettune-apply.service does not run /usr/sbin/nettune"
if command -v man >/dev/null; then
  m=$(man -w nettune-apply) || fail "man -w nettune-apply: exit $?"
  [ "$m" = /usr/share/man/man8/nettune-apply.8.gz ] || fail "man -w nettune-apply: $m"
  man -w 8 nettune >/dev/null || fail "man:nettune(8), the unit's Documentation=, is not found"
fi
if command -v bash >/dev/null; then
  bash -c 'source /usr/share/bash-completion/completions/nettune && declare -F __start_nettune >/dev/null' || fail "the bash completion does not load"
fi

# Remove, then purge: nothing of the package may remain.
dpkg -r nettune > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -r nettune"; }
[ ! -e /usr/sbin/nettune ] || fail "/usr/sbin/nettune remains after dpkg -r"
dpkg -P nettune > "$work/dpkg.log" 2>&1 || { cat "$work/dpkg.log" >&2; fail "dpkg -P nettune"; }
installed=0
if dpkg-query -W -f='${db:Status-Status}' nettune 2>/dev/null | grep -qv '^not-installed$'; then
  fail "dpkg still knows nettune after dpkg -P: $(dpkg-query -W -f='${db:Status-Status}' nettune)"
fi
left=()
while read -r p; do [ ! -e "$p" ] || left+=("$p"); done < "$work/absent"
[ ${#left[@]} -eq 0 ] || fail "left after purge: ${left[*]}"
echo "deb-test: ok: $(wc -l < "$work/paths") paths installed, used, removed and purged ($(basename "$deb"))"
