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
# The Ansible role in ansible/ (docs/ansible.md): ansible-playbook and
# ansible-lint for its tests (test/ansible), python3-apt for its apt task,
# and sshd, which the nested guests of scenario s16-ansible start from the
# host's root with their own configuration (on a host with systemd the
# package also starts the host's ssh.service).
pkgs+=(ansible-core ansible-lint python3-apt openssh-server)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# QEMU 10 from Debian's bookworm-backports: bookworm's QEMU 7.2 has no
# multi-queue Intel NIC, QEMU 10 emulates the igb device (Intel 82576: MSI-X,
# 8 queue pairs, RSS, SR-IOV) that the e2e-vm multi-queue scenarios use.
# The suite comes from the same mirror as the configured bookworm source. When
# this fails the 7.2 package stays and test/vm/run.sh skips those scenarios,
# saying so. NETTUNE_QEMU_BACKPORTS=0 leaves QEMU alone.
# bookworm_mirror prints the URI of the configured bookworm source (one-line
# sources.list or deb822 .sources), with its Signed-By for deb822.
bookworm_mirror() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$f" ] || continue
    awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
      if ($(i+1) == "bookworm") { print $i; exit } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    # One stanza per paragraph: URIs of a stanza whose Suites has bookworm.
    awk 'BEGIN { RS = ""; FS = "\n" }
      { uri = ""; key = ""; suite = 0; deb = 0
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { split($i, a, " "); uri = a[2] }
          if ($i ~ /^Signed-By:/) { split($i, a, " "); key = a[2] }
          if ($i ~ /^Types:/ && $i ~ /(^|[ \t])deb([ \t]|$)/) deb = 1
          if ($i ~ /^Suites:/ && $i ~ /[ \t]bookworm([ \t]|$)/) suite = 1
        }
        if (deb && suite && uri != "") { print uri, key; exit } }' "$f"
  done
}
qemu_backports() {
  [ "${NETTUNE_QEMU_BACKPORTS:-1}" != 0 ] || return 0
  . /etc/os-release
  [ "${VERSION_CODENAME:-}" = bookworm ] || return 0
  if qemu-system-x86_64 -device help 2>/dev/null | grep -q '"igb"'; then
    return 0
  fi
  local src uri key list=/etc/apt/sources.list.d/nettune-bookworm-backports.sources
  if ! apt-cache policy 2>/dev/null | grep -q 'bookworm-backports'; then
    src=$(bookworm_mirror | head -n1)
    uri=${src%% *}
    key=""
    [ "$src" != "$uri" ] && key=${src#* }
    if [ -z "$uri" ]; then
      echo "deps: no bookworm apt source found; keeping QEMU $(qemu-system-x86_64 --version | head -n1)" >&2
      return 0
    fi
    {
      echo "# Added by nettune's scripts/deps.sh: QEMU 10 (igb NIC) for make e2e-vm."
      echo "Types: deb"
      echo "URIs: $uri"
      echo "Suites: bookworm-backports"
      echo "Components: main"
      [ -n "$key" ] && echo "Signed-By: $key"
    } | $SUDO tee "$list" >/dev/null
  fi
  $SUDO apt-get update -qq || true
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    -t bookworm-backports qemu-system-x86; then
    echo "deps: qemu-system-x86 from bookworm-backports did not install; keeping $(qemu-system-x86_64 --version | head -n1)" >&2
  fi
}
qemu_backports

# promtool, which go test ./deploy/prometheus runs on the example alert rules
# (promtool check rules, promtool test rules): taken from Debian's prometheus
# package without installing the package, so that no Prometheus server is set
# up or started on the machine.
install_promtool() {
  command -v promtool >/dev/null 2>&1 && return 0
  local tmp
  tmp=$(mktemp -d)
  if ! (cd "$tmp" && apt-get download -qq prometheus 2>/dev/null); then
    $SUDO apt-get update -qq || true
    (cd "$tmp" && apt-get download -qq prometheus) || true
  fi
  if ls "$tmp"/prometheus_*.deb >/dev/null 2>&1 && dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"; then
    $SUDO install -m 0755 "$tmp/x/usr/bin/promtool" /usr/local/bin/promtool
  else
    echo "deps: could not get promtool from Debian's prometheus package: the alert rule tests (deploy/prometheus) fail in CI" >&2
  fi
  rm -rf "$tmp"
}
install_promtool

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
