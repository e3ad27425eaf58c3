#!/bin/sh
# Installs the Debian packages Gatehouse needs to build, run and test.
# Used by both `make run` and `make test`; does nothing when all are present.
# nginx-light and caddy are for the proxy tests (tests/proxy/), which start
# their own instances on loopback; the system services the packages set up
# are neither needed nor used (Debian's caddy starts one on port 80 where
# services run; the tests never touch it).
set -eu
PKGS="build-essential cmake pkg-config
libevent-dev libjansson-dev libssl-dev libsodium-dev libcjose-dev
libsqlite3-dev sqlite3 libzxcvbn-dev libcmocka-dev libcrypt-dev libyaml-dev
liboath-dev libqrencode-dev oathtool libcurl4-openssl-dev python3-aiosmtpd openssl
python3-jwt python3-cryptography
libhiredis-dev redis-server
nodejs curl jq clang-format
nginx-light caddy"
case "${1:-}" in
--bench) PKGS="$PKGS wrk nginx-light" ;;
--fuzz) PKGS="$PKGS clang" ;;
esac
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# node may come from outside Debian (e.g. a preinstalled toolchain); accept it.
if command -v node >/dev/null 2>&1; then missing=$(echo "$missing" | sed 's/ nodejs//'); fi
# Debian packages npm apart from nodejs; the API tests need it for `npm ci`.
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$(echo "$missing" | tr -d ' ')" ] && exit 0
echo "deps: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null || true
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
