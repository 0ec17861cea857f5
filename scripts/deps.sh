#!/usr/bin/env bash
# Installs what nettune needs to build and test on Debian 12: Go (if absent),
# the C toolchain and DPDK for the forwarder, the kernel tools the
# privileged tests use, and QEMU for the nested-VM tests. Then downloads the
# Go modules.
set -euo pipefail
cd "$(dirname "$0")/.."

GO_VERSION=${GO_VERSION:-1.26.8}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

pkgs=(build-essential pkg-config git ca-certificates curl iproute2 procps kmod util-linux libdpdk-dev dpdk-dev dpdk)
# The nested-VM end-to-end tests (make e2e-vm, test/vm): QEMU, the guest's
# initramfs, vmlinux extraction, and the tools the guest scenarios run.
pkgs+=(qemu-system-x86 busybox-static cpio xz-utils pciutils ethtool)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

export PATH=$PATH:/usr/local/go/bin
if ! command -v go >/dev/null 2>&1; then
  curl -fsSL "https://go.dev/dl/go${GO_VERSION}.linux-amd64.tar.gz" | $SUDO tar -C /usr/local -xz
fi
go mod download
