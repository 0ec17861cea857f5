#!/usr/bin/env bash
# Builds dist/nettune_VERSION_ARCH.deb from `make install` with dpkg-deb
# (docs/packaging.md). Version from git describe, architecture from dpkg.
# Depends is derived from the libraries the binary links (dpkg-shlibdeps):
# today that includes DPDK's librte_* because the one binary carries the
# forwarder; the split into nettune and nettune-forwarder moves them to the
# forwarder's package.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin

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
OUT=${DEB_OUT:-dist/nettune_${VERSION}_${ARCH}.deb}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/root
# Debian's hardening flags (lintian hardening-*): a position-independent
# executable, full RELRO, and the C compiler's defaults for the cgo part
# (the forwarder's own #cgo CFLAGS, -O3, come after these and win).
export GOFLAGS="${GOFLAGS:-} -buildmode=pie"
export CGO_CFLAGS="-g -O2 -fstack-protector-strong -Wformat -Werror=format-security"
export CGO_CPPFLAGS="-D_FORTIFY_SOURCE=2"
export CGO_LDFLAGS="-Wl,-z,relro -Wl,-z,now"
# Built apart from bin/nettune, so that make build's binary is left alone.
make --no-print-directory install DESTDIR="$stage" PREFIX=/usr GENDIR="$work/gen" BIN="$work/nettune" FWD_BIN="$work/nettune-forwarder"

# Debian policy: stripped binaries, man pages and changelog gzip -9n, the
# copyright file in /usr/share/doc.
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$stage/usr/sbin/nettune" "$stage/usr/lib/nettune/nettune-forwarder"
gzip -9n "$stage"/usr/share/man/man8/*.8
doc=$stage/usr/share/doc/nettune
install -D -m 0644 packaging/deb/copyright "$doc/copyright"
sed "s/@VERSION@/$VERSION/; s/@DATE@/$(date -u -R -d "@$SOURCE_DATE_EPOCH")/" packaging/deb/changelog | gzip -9n > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

# Depends: the packages providing the shared libraries the binary links,
# with the versions their symbols files require.
mkdir -p "$work/src/debian"
printf 'Source: nettune\n\nPackage: nettune\nArchitecture: any\n' > "$work/src/debian/control"
# nettune itself is built without cgo and links nothing; the librte
# Depends come from the forwarder (one package for both until the split
# into nettune and nettune-forwarder, docs/packaging.md).
depends=$(cd "$work/src" && dpkg-shlibdeps -O "$stage/usr/sbin/nettune" "$stage/usr/lib/nettune/nettune-forwarder" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies for $stage/usr/lib/nettune/nettune-forwarder" >&2; exit 1; }

install -d -m 0755 "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: nettune
Version: $VERSION
Architecture: $ARCH
Maintainer: nettune developers <nettune@users.noreply.github.com>
Installed-Size: $(du -sk --exclude=DEBIAN "$stage" | cut -f1)
Depends: $depends
Recommends: kmod, udev
Suggests: irqbalance, ethtool
Section: admin
Priority: optional
Homepage: https://github.com/nettune/nettune
Description: tune a Linux host for high-performance packet processing
 nettune prepares a Linux host for high-performance and kernel-bypass
 packet processing from one declarative YAML profile: hugepages, CPU
 isolation, IRQ affinity, RSS/RPS, NIC rings and offloads, sysctls and
 vfio-pci bindings. It plans, applies (journaled, verified, reversible),
 checks for drift and reverts.
 .
 The package ships systemd units and a udev rule that stay inert until
 'nettune install PROFILE' records a profile; nothing is enabled on
 installation. The package includes the DPDK forwarder that 'nettune run'
 starts (/usr/lib/nettune/nettune-forwarder) and therefore depends on the
 DPDK libraries; nettune itself links none of them.
CONTROL
install -m 0755 packaging/deb/postinst packaging/deb/postrm packaging/deb/prerm "$stage/DEBIAN/"
(cd "$stage" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) > "$stage/DEBIAN/md5sums"
chmod 0644 "$stage/DEBIAN/md5sums"

mkdir -p "$(dirname "$OUT")"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$OUT" >/dev/null
echo "$OUT"
