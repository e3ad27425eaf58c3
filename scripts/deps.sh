#!/bin/sh
# Installs the Debian packages Gatehouse needs to build, run and test.
# Used by both `make run` and `make test`; does nothing when all are present.
# postgresql: `make api-pg` runs the suite on a throwaway cluster (scripts/pg_cluster.sh).
# --proxy adds nginx and caddy for the proxy tests (tests/proxy/, `make
# proxy`), which start their own instances on loopback as the current user.
# --browser adds Debian's Chromium and a font for the browser tests
# (tests/browser/, `make browser`; playwright-core drives /usr/bin/chromium,
# never a browser of its own download), and nginx for their gate flow.
set -eu
PKGS="build-essential cmake pkg-config
libevent-dev libjansson-dev libssl-dev libsodium-dev libcjose-dev
libsqlite3-dev sqlite3 libzxcvbn-dev libcmocka-dev libcrypt-dev libyaml-dev
liboath-dev libqrencode-dev oathtool libcurl4-openssl-dev python3-aiosmtpd openssl
apache2-utils
python3-jwt python3-cryptography
apache2-utils python3-passlib python3-bcrypt python3-argon2
libhiredis-dev redis-server
libpq-dev postgresql
nodejs curl jq clang-format"
case "${1:-}" in
--bench) PKGS="$PKGS wrk nginx-light" ;;
--fuzz) PKGS="$PKGS clang" ;;
--proxy) PKGS="$PKGS nginx caddy" ;;
--browser) PKGS="$PKGS chromium fonts-dejavu-core nginx" ;;
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
# The proxy and browser tests need the nginx and caddy programs, not their services:
# where services run, both packages would start one on port 80 at install
# (the second failing, and Caddy's welcome page open to the network). A
# policy-rc.d that says "no" holds every service of this install from
# starting; it is removed after. An existing policy-rc.d is left alone.
if { [ "${1:-}" = --proxy ] || [ "${1:-}" = --browser ]; } && [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\n# deps.sh %s: no service starts during this install\nexit 101\n' "$1" |
    $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 0755 /usr/sbin/policy-rc.d
  trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
fi
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
