#!/usr/bin/env bash
# Installs what cluster-control needs, only what is missing, so the README's two commands work on a
# fresh Debian/Ubuntu machine that has only Node.js and npm.
#   --deps     pnpm (the version pinned in package.json) and the workspace's node modules
#   --servers  the Debian servers the tests and the demo run (etcd); installed when running as root
# Under CI=true a server that cannot be installed is an error, never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

want_deps=0
want_servers=0
for arg in "$@"; do
  case "$arg" in
    --deps) want_deps=1 ;;
    --servers) want_servers=1 ;;
    *) echo "bootstrap: unknown option $arg" >&2; exit 2 ;;
  esac
done

say() { echo "bootstrap: $*" >&2; }

# Debian packages and the binaries that show they are installed.
# etcd for everything; then the consumers the handlers are proven against; chromium for the demo's page test;
# systemd-analyze (and /bin/kill, the units' ExecReload) to verify the cli's systemd units.
SERVER_PACKAGES=(etcd-server etcd-client apache2 nginx haproxy nutcracker redis-server mariadb-server mariadb-client chromium systemd procps)
SERVER_BINARIES=(/usr/bin/etcd /usr/bin/etcdctl /usr/sbin/apache2 /usr/sbin/nginx /usr/sbin/haproxy /usr/sbin/nutcracker /usr/bin/redis-server /usr/sbin/mariadbd /usr/bin/mariadb /usr/bin/chromium /usr/bin/systemd-analyze /bin/kill)

install_servers() {
  local missing=()
  for i in "${!SERVER_BINARIES[@]}"; do
    [ -x "${SERVER_BINARIES[$i]}" ] || missing+=("${SERVER_PACKAGES[$i]}")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    say "installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    # policy-rc.d keeps the packages' services from starting: tests start their own servers.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
  else
    say "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
    if [ "${CI:-}" = "true" ]; then exit 1; fi
  fi
}

install_deps() {
  local pinned
  pinned=$(node -p "require('./package.json').packageManager.split('@')[1]")
  if ! command -v pnpm >/dev/null || [ "$(pnpm --version 2>/dev/null)" != "$pinned" ]; then
    say "installing pnpm@$pinned"
    if ! npm install -g "pnpm@$pinned" >/dev/null 2>&1; then
      # No write access to npm's global prefix: keep pnpm inside the checkout.
      npm install --prefix .tools "pnpm@$pinned" >/dev/null
      export PATH="$PWD/.tools/node_modules/.bin:$PATH"
    fi
  fi
  # Install when node_modules is missing or older than the lockfile.
  if [ ! -f node_modules/.modules.yaml ] || [ pnpm-lock.yaml -nt node_modules/.modules.yaml ]; then
    say "installing node modules"
    pnpm install --frozen-lockfile --reporter=append-only >&2
  fi
}

[ "$want_deps" -eq 1 ] && install_deps
[ "$want_servers" -eq 1 ] && install_servers
exit 0
