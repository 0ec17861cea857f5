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

pkgs=(build-essential pkg-config git ca-certificates curl unzip iproute2 procps kmod util-linux libdpdk-dev dpdk-dev dpdk)
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

# install_go puts Go $GO_VERSION in $GO_DEST: from go.dev, or, where only the
# Go module proxy is reachable, from the golang.org/toolchain module there
# (the same archive the go command fetches for GOTOOLCHAIN).
GO_DEST=${GO_DEST:-/usr/local/go}
install_go() {
  local tmp
  tmp=$(mktemp -d)
  if curl -fsSL --max-time 120 "https://go.dev/dl/go${GO_VERSION}.linux-amd64.tar.gz" -o "$tmp/go.tgz"; then
    $SUDO mkdir -p "$GO_DEST"
    $SUDO tar -C "$GO_DEST" --strip-components=1 -xzf "$tmp/go.tgz"
  else
    local mod="v0.0.1-go${GO_VERSION}.linux-amd64"
    curl -fsSL --max-time 300 "https://proxy.golang.org/golang.org/toolchain/@v/${mod}.zip" -o "$tmp/go.zip"
    unzip -q "$tmp/go.zip" -d "$tmp/x"
    $SUDO mkdir -p "$GO_DEST"
    $SUDO cp -a "$tmp/x/golang.org/toolchain@${mod}/." "$GO_DEST/"
    $SUDO chmod +x "$GO_DEST"/bin/* "$GO_DEST"/pkg/tool/*/* 2>/dev/null || true
  fi
  rm -rf "$tmp"
}

export PATH=$PATH:/usr/local/go/bin
if ! command -v go >/dev/null 2>&1; then
  install_go
fi
go mod download
