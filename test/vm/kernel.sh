# shellcheck shell=bash
# Sourced by run.sh: fetches the Debian kernel the guest boots and prepares it
# in the cache directory, once per kernel version:
#
#   $E2E_CACHE/kernel/<version>/vmlinux                  uncompressed ELF (PVH entry)
#   $E2E_CACHE/kernel/<version>/lib/modules/<version>/   modules with modules.dep
#
# The version is the one Debian's linux-image-amd64 currently depends on, so
# a run uses the kernel a fresh Debian install would get. Without package
# lists (offline), or when that package cannot be downloaded, the newest
# cached kernel is used.

# kernel_select: sets KVER, KERNEL_DIR, VMLINUX and MODULES_DIR to a kernel
# ready in the cache.
kernel_select() {
	KVER=$(kernel_version)
	kernel_prepare "$KVER" && return 0
	# Stale package lists name a kernel ABI the mirror no longer has
	# (Debian drops superseded ones): refresh them once.
	log "cannot fetch linux-image-$KVER: apt-get update and retry"
	apt-get update -qq >&2 || true
	KVER=$(kernel_version_from_apt)
	if [ -n "$KVER" ] && kernel_prepare "$KVER"; then
		return 0
	fi
	KVER=$(kernel_cached)
	[ -n "$KVER" ] || die "no kernel: the download failed and the cache $E2E_CACHE/kernel is empty"
	log "warning: using the cached kernel $KVER"
	kernel_prepare "$KVER"
}

# kernel_cached prints the newest kernel prepared in the cache.
kernel_cached() {
	find "$E2E_CACHE/kernel" -mindepth 2 -maxdepth 2 -name .ready -printf '%h\n' 2>/dev/null |
		xargs -r -n1 basename | sort -V | tail -n1
}

# kernel_version prints the linux-image package version to use (6.1.0-NN-amd64).
kernel_version() {
	local v
	v=$(kernel_version_from_apt)
	if [ -z "$v" ]; then
		log "no package lists for linux-image-amd64: apt-get update"
		apt-get update -qq >&2 || true
		v=$(kernel_version_from_apt)
	fi
	if [ -z "$v" ]; then
		# Offline: the newest kernel already prepared in the cache.
		v=$(kernel_cached)
	fi
	[ -n "$v" ] || die "cannot tell which kernel to boot: apt-cache knows no linux-image-amd64 and the cache $E2E_CACHE/kernel is empty"
	printf '%s\n' "$v"
}

kernel_version_from_apt() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*-amd64\)$/\1/p' | head -n1
}

# kernel_prepare VERSION: makes sure the kernel VERSION is in the cache and
# sets KERNEL_DIR, VMLINUX and MODULES_DIR. Returns 1 when the package
# cannot be downloaded; dies on anything else.
kernel_prepare() {
	local ver=$1 dir tmp deb
	dir=$E2E_CACHE/kernel/$ver
	KERNEL_DIR=$dir
	VMLINUX=$dir/vmlinux
	MODULES_DIR=$dir/lib/modules/$ver
	if [ -e "$dir/.ready" ]; then
		return 0
	fi
	log "preparing kernel $ver in $dir"
	mkdir -p "$E2E_CACHE/debs"
	deb=$(find "$E2E_CACHE/debs" -maxdepth 1 -name "linux-image-${ver}_*_amd64.deb" | sort -V | tail -n1)
	if [ -z "$deb" ]; then
		# apt-get download writes into the current directory; as root it
		# warns that the download is not sandboxed, which is expected.
		(cd "$E2E_CACHE/debs" && apt-get download -q -o APT::Sandbox::User=root "linux-image-$ver" >&2) ||
			return 1
		deb=$(find "$E2E_CACHE/debs" -maxdepth 1 -name "linux-image-${ver}_*_amd64.deb" | sort -V | tail -n1)
		[ -n "$deb" ] || return 1
	fi
	tmp=$(mktemp -d "$E2E_CACHE/kernel/.$ver.XXXXXX")
	dpkg-deb -x "$deb" "$tmp" || die "dpkg-deb -x $deb failed"
	# Debian 12 is merged-/usr: the package ships lib/modules, newer ones
	# usr/lib/modules. Keep one layout: lib/modules.
	if [ ! -d "$tmp/lib/modules/$ver" ] && [ -d "$tmp/usr/lib/modules/$ver" ]; then
		mkdir -p "$tmp/lib/modules"
		mv "$tmp/usr/lib/modules/$ver" "$tmp/lib/modules/$ver"
	fi
	[ -d "$tmp/lib/modules/$ver" ] || die "$deb has no lib/modules/$ver"
	depmod -b "$tmp" "$ver" || die "depmod -b $tmp $ver failed"
	extract_vmlinux "$tmp/boot/vmlinuz-$ver" "$tmp/vmlinux" || die "cannot extract vmlinux from $deb"
	rm -rf "${tmp:?}/boot" "${tmp:?}/usr" "${tmp:?}/etc"
	touch "$tmp/.ready"
	rm -rf "$dir"
	mv "$tmp" "$dir"
}

# extract_vmlinux BZIMAGE OUT: finds the compressed kernel inside a bzImage
# and decompresses it. Booting the ELF directly (PVH) saves the in-guest
# decompression, about 8 s under TCG.
extract_vmlinux() {
	local in=$1 out=$2 magic tool off
	for spec in 'xz:\xfd7zXZ\x00' 'zstd:\x28\xb5\x2f\xfd' 'gzip:\x1f\x8b\x08\x00'; do
		tool=${spec%%:*}
		magic=${spec#*:}
		# Every candidate offset: a magic can also occur by chance.
		for off in $(LC_ALL=C grep -obUaP "$magic" "$in" 2>/dev/null | cut -d: -f1); do
			case $tool in
			xz) tail -c +$((off + 1)) "$in" | xz -dc --single-stream >"$out" 2>/dev/null || true ;;
			zstd) tail -c +$((off + 1)) "$in" | zstd -dcq >"$out" 2>/dev/null || true ;;
			gzip) tail -c +$((off + 1)) "$in" | gzip -dc >"$out" 2>/dev/null || true ;;
			esac
			if [ "$(head -c 4 "$out" | od -An -tx1 | tr -d ' ')" = "7f454c46" ]; then
				return 0
			fi
		done
	done
	rm -f "$out"
	return 1
}
