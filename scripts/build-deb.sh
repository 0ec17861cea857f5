#!/usr/bin/env bash
# Builds two Debian packages from `make install` with dpkg-deb
# (docs/packaging.md), and prints their paths, nettune first:
#
#   dist/nettune_VERSION_ARCH.deb            nettune (CGO_ENABLED=0, no DPDK),
#                                            man pages, completions, profiles,
#                                            units, udev rule
#   dist/nettune-forwarder_VERSION_ARCH.deb  /usr/lib/nettune/nettune-forwarder,
#                                            Depends on the DPDK libraries it
#                                            links and nettune (= VERSION)
#
# Version from git describe, architecture from dpkg, Depends from
# dpkg-shlibdeps (dpkg-dev). DEB_VERSION and DEB_OUTDIR (default dist)
# override.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

die() { echo "build-deb: $*" >&2; exit 1; }
command -v dpkg-shlibdeps >/dev/null || die "dpkg-shlibdeps is missing (Debian: apt-get install dpkg-dev)"

# debian_version turns git describe into a Debian version: v1.2.0 -> 1.2.0,
# v1.2.0-3-gabc1234 -> 1.2.0+3.gabc1234, no tag -> 0~gitYYYYMMDD.abc1234;
# a dirty tree gets +dirty.
debian_version() {
  local d v
  if d=$(git describe --tags --match 'v[0-9]*' 2>/dev/null); then
    v=${d#v}
    v=$(printf '%s' "$v" | sed -E 's/-([0-9]+)-(g[0-9a-f]+)$/+\1.\2/')
  else
    v="0~git$(git log -1 --format=%cd --date=format:%Y%m%d).$(git rev-parse --short HEAD)"
  fi
  git diff --quiet HEAD -- 2>/dev/null || v="$v+dirty"
  printf '%s' "$v"
}

VERSION=${DEB_VERSION:-$(debian_version)}
ARCH=$(dpkg --print-architecture)
OUTDIR=${DEB_OUTDIR:-dist}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
FWD=usr/lib/nettune/nettune-forwarder

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
all=$work/all
# Debian's hardening flags (lintian hardening-*): a position-independent
# executable, full RELRO, and the C compiler's defaults for the cgo part
# (the forwarder's own #cgo CFLAGS, -O3, come after these and win).
export GOFLAGS="${GOFLAGS:-} -buildmode=pie"
export CGO_CFLAGS="-g -O2 -fstack-protector-strong -Wformat -Werror=format-security"
export CGO_CPPFLAGS="-D_FORTIFY_SOURCE=2"
export CGO_LDFLAGS="-Wl,-z,relro -Wl,-z,now"
# Built apart from bin/, so that make build's binaries are left alone.
# make build builds nettune with CGO_ENABLED=0 and the forwarder with cgo.
# Debian policy wants stripped binaries: Go strips nettune itself (-s -w;
# binutils' strip leaves a Go PIE with version sections readelf warns
# about), strip(1) the forwarder. $(VERSION) is the Makefile's.
make --no-print-directory install DESTDIR="$all" PREFIX=/usr GENDIR="$work/gen" BIN="$work/build/nettune" FWD_BIN="$work/build/nettune-forwarder" \
  LDFLAGS='-s -w -X github.com/nettune/nettune/internal/cli.Version=$(VERSION)' >&2
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$all/$FWD"
# Man pages and changelog gzip -9n.
gzip -9n "$all"/usr/share/man/man8/*.8

# The split: the forwarder's directory goes to nettune-forwarder, the
# rest to nettune.
base=$work/nettune fwd=$work/nettune-forwarder
mkdir -p "$fwd/usr/lib"
mv "$all/usr/lib/nettune" "$fwd/usr/lib/nettune"
rmdir "$all/usr/lib" 2>/dev/null || true
mv "$all" "$base"
[ -z "$(find "$base" -name 'librte*' -o -name nettune-forwarder)" ] || die "nettune's tree holds DPDK files"

# doc PKG ROOT: the copyright file and the changelog of a binary package.
doc() {
  local d=$2/usr/share/doc/$1
  install -D -m 0644 packaging/deb/copyright "$d/copyright"
  sed "s/@VERSION@/$VERSION/; s/@DATE@/$(date -u -R -d "@$SOURCE_DATE_EPOCH")/" packaging/deb/changelog | gzip -9n > "$d/changelog.gz"
  chmod 0644 "$d/changelog.gz"
}
doc nettune "$base"
install -D -m 0644 packaging/deb/nettune.lintian-overrides "$base/usr/share/lintian/overrides/nettune"
doc nettune-forwarder "$fwd"

# shlibdeps FILE...: the packages of the shared libraries the programs
# link, with the versions their symbols files require (dpkg-shlibdeps;
# a static program adds nothing).
mkdir -p "$work/src/debian"
printf 'Source: nettune\n\nPackage: nettune\nArchitecture: any\n' > "$work/src/debian/control"
shlibdeps() {
  (cd "$work/src" && dpkg-shlibdeps -O "$@") | sed -n 's/^shlibs:Depends=//p'
}
base_depends=$(shlibdeps "$base/usr/sbin/nettune")
case $base_depends in *librte*) die "nettune links DPDK ($base_depends); it must be built with CGO_ENABLED=0" ;; esac
fwd_depends=$(shlibdeps "$fwd/$FWD")
# DPDK loads its drivers at run time from its plugin directory, so the
# forwarder's ELF names none of them: the mempool driver every port's
# buffers need and the PCI and vdev buses are added here, from the ABI and
# version dpkg-shlibdeps found for librte-eal (librte-eal23 (>= 22.11)
# gives librte-bus-pci23 (>= 22.11)). Package names follow Debian's DPDK:
# librte-<name>ABI, with a dash before ABI after a digit (librte-net-e1000-23).
eal=$(printf '%s\n' "$fwd_depends" | tr ',' '\n' | sed -n 's/^ *\(librte-eal\([0-9][0-9.]*\)\)\( *(.*)\)\?$/\2|\3/p')
[ -n "$eal" ] || die "dpkg-shlibdeps found no librte-eal in the forwarder's dependencies ($fwd_depends); is it linked with DPDK (pkg-config libdpdk)?"
abi=${eal%%|*} eal_version=${eal#*|}
rte() {
  local n out=()
  for n in "$@"; do
    case $n in *[0-9]) n=$n- ;; esac
    out+=("librte-$n$abi$eal_version")
  done
  local IFS=,
  printf '%s' "${out[*]}" | sed 's/,/, /g'
}
fwd_depends="$fwd_depends, $(rte mempool-ring bus-pci bus-vdev)"
# Poll-mode drivers for the shipped profiles' vdevs (net_null, af_packet)
# and common NICs; librte-meta-net has them all.
fwd_recommends=$(rte net-null net-af-packet net-virtio net-e1000 net-ixgbe net-i40e net-ice net-mlx5)

# control PKG ROOT FIELDS: DEBIAN/control with the common fields, and
# md5sums.
control() {
  local pkg=$1 root=$2
  install -d -m 0755 "$root/DEBIAN"
  {
    printf 'Package: %s\nVersion: %s\nArchitecture: %s\n' "$pkg" "$VERSION" "$ARCH"
    printf 'Maintainer: nettune developers <nettune@users.noreply.github.com>\n'
    printf 'Installed-Size: %s\n' "$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
    printf '%s\n' "$3"
    printf 'Section: admin\nPriority: optional\nHomepage: https://github.com/nettune/nettune\n'
    cat
  } > "$root/DEBIAN/control"
  (cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
  chmod 0644 "$root/DEBIAN/md5sums"
}

control nettune "$base" "$( [ -n "$base_depends" ] && printf 'Depends: %s\n' "$base_depends"
  printf 'Recommends: kmod, udev\nSuggests: nettune-forwarder, irqbalance, ethtool')" <<'CONTROL'
Description: tune a Linux host for high-performance packet processing
 nettune prepares a Linux host for high-performance and kernel-bypass
 packet processing from one declarative YAML profile: hugepages, CPU
 isolation, IRQ affinity, RSS/RPS, NIC rings and offloads, sysctls and
 vfio-pci bindings. It plans, applies (journaled, verified, reversible),
 checks for drift and reverts.
 .
 The package ships systemd units and a udev rule that stay inert until
 'nettune install PROFILE' records a profile; nothing is enabled on
 installation. nettune links no DPDK library; 'nettune run' starts the
 DPDK forwarder of the nettune-forwarder package.
CONTROL
install -m 0755 packaging/deb/postinst packaging/deb/postrm packaging/deb/prerm "$base/DEBIAN/"

control nettune-forwarder "$fwd" "$(printf 'Depends: nettune (= %s), %s\nRecommends: %s\nSuggests: librte-meta-net' "$VERSION" "$fwd_depends" "$fwd_recommends")" <<'CONTROL'
Description: DPDK L2 forwarder run by 'nettune run'
 nettune-forwarder is nettune's DPDK poll-mode forwarder: 'nettune run
 PROFILE' starts it on the cores, hugepages and devices the profile
 prepared, and supervises it. It is not meant to be run by hand and lives
 in /usr/lib/nettune.
 .
 This package holds the only nettune program that links DPDK, so that
 nettune itself installs on hosts without DPDK's libraries.
CONTROL

mkdir -p "$OUTDIR"
for pkg in nettune nettune-forwarder; do
  out=$OUTDIR/${pkg}_${VERSION}_${ARCH}.deb
  dpkg-deb --root-owner-group -Zxz --build "$work/$pkg" "$out" >/dev/null
  echo "$out"
done
