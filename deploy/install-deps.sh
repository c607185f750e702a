#!/usr/bin/env bash
# Installs what umlvnf needs on a Debian 12 host, and nothing that is already there.
# Idempotent: a second run changes nothing and takes about a second.
#
# --runtime-only: only what running umlvnf needs, for a container image that gets prebuilt
# binaries (deploy/kubernetes/Containerfile): no Rust toolchain check, no test tools.
set -euo pipefail

runtime_only=false
case "${1:-}" in
  "") ;;
  --runtime-only) runtime_only=true ;;
  *)
    echo "install-deps: unknown option '$1' (the only one is --runtime-only)" >&2
    exit 2
    ;;
esac

# Debian packages, each with a file that proves it is installed.
declare -A packages=(
  [user-mode-linux]=/usr/bin/linux.uml
  [busybox-static]=/bin/busybox
  [e2fsprogs]=/sbin/mkfs.ext4
  [nftables]=/usr/sbin/nft
  [ethtool]=/usr/sbin/ethtool
  [tcpdump]=/usr/bin/tcpdump
  [iproute2]=/usr/bin/ip
  [kmod]=/usr/sbin/depmod
  [debootstrap]=/usr/sbin/debootstrap
  [uml-utilities]=/usr/bin/uml_mconsole
  [libpcap-dev]=/usr/include/pcap/pcap.h
  [prometheus]=/usr/bin/prometheus
  [iputils-ping]=/usr/bin/ping
  [iptables]=/usr/sbin/xtables-legacy-multi
  [netbase]=/etc/protocols
  [netsniff-ng]=/usr/sbin/trafgen
  [vde2]=/usr/bin/vde_switch
  [procps]=/usr/bin/pgrep
  # Building umlvnf's appliance kernel (`umlvnf kernel build`) from Debian's linux-source.
  [make]=/usr/bin/make
  [gcc]=/usr/bin/gcc
  [flex]=/usr/bin/flex
  [bison]=/usr/bin/bison
  [bc]=/usr/bin/bc
  [libelf-dev]=/usr/include/libelf.h
  [patch]=/usr/bin/patch
  [xz-utils]=/usr/bin/xz
  [binutils]=/usr/bin/strip
  [debian-archive-keyring]=/usr/share/keyrings/debian-archive-keyring.gpg
  # The venv of the test tools below. The package holds nothing but this link to python3's
  # documentation (`dpkg -L python3-venv`); what makes venvs work comes with its dependencies.
  [python3-venv]=/usr/share/doc/python3-venv
)

missing=()
for pkg in "${!packages[@]}"; do
  [ -e "${packages[$pkg]}" ] || missing+=("$pkg")
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The prometheus package starts a system service on install; umlvnf runs its own servers.
  if command -v systemctl >/dev/null 2>&1; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
  pkill -x prometheus-node-exporter 2>/dev/null || true
fi

if $runtime_only; then
  echo "install-deps: all runtime dependencies present"
  exit 0
fi

# kubernetes-validate (PyPI) checks the manifests of `umlvnf kube` against the Kubernetes API
# schemas it bundles, offline (tests/kube.rs); it lives in a venv of its own, made only when
# missing. UMLVNF_TOOLS_VENV moves it (tests/kube.rs reads the same variable).
tools_venv=${UMLVNF_TOOLS_VENV:-/var/lib/umlvnf/tools/venv}
kubernetes_validate=kubernetes-validate==1.37.0
if [ ! -x "$tools_venv/bin/kubernetes-validate" ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing $tools_venv/bin/kubernetes-validate" >&2
    echo "install-deps: run as root (or: python3 -m venv $tools_venv && $tools_venv/bin/pip install $kubernetes_validate)" >&2
    exit 1
  fi
  echo "install-deps: installing $kubernetes_validate into $tools_venv"
  mkdir -p "$(dirname "$tools_venv")"
  [ -x "$tools_venv/bin/python3" ] || /usr/bin/python3 -m venv "$tools_venv"
  "$tools_venv/bin/pip" install --quiet --disable-pip-version-check "$kubernetes_validate"
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "install-deps: cargo is missing: install a Rust toolchain (1.80 or newer)" >&2
  exit 1
fi
echo "install-deps: all dependencies present"
