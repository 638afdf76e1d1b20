#!/usr/bin/env bash
# Install the system programs livefeed's tests and benchmarks need, when missing.
#
#   bash scripts/install-services.sh              redis-server, PostgreSQL server binaries,
#                                                 nginx + Nchan, Chromium (+ fonts), wrk,
#                                                 Node.js + npm
#   bash scripts/install-services.sh python-venv  python3-venv (for `python3 -m venv`)
#   bash scripts/install-services.sh node         Node.js and npm (the browser code's type
#                                                 check and unit tests)
#
# Idempotent and quick when everything is present (no apt call at all). As root it runs
# `apt-get update` once and `apt-get install -y --no-install-recommends` of what is missing;
# as another user it prints the command to run and exits 1.
#
# It never leaves a system service running: the tests start their own redis-server,
# postgres and nginx on free loopback ports, so Debian's maintainer scripts are told not to
# start daemons (policy-rc.d), and any daemon that started anyway during the install is
# stopped again.
set -euo pipefail

PYTHON="${PYTHON:-python3}"

# ---------------------------------------------------------------------------------------
# What is present?
# ---------------------------------------------------------------------------------------

# "missing" holds Debian package names; "reasons" one human line per package.
missing=()
reasons=()

need() { # need PACKAGE "what is missing"
    local pkg=$1 why=$2 p
    for p in "${missing[@]:-}"; do
        [[ "$p" == "$pkg" ]] && return 0
    done
    missing+=("$pkg")
    reasons+=("$why")
}

have_cmd() { # have_cmd NAME: on PATH or in the sbin directories (not on a user's PATH)
    command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" || -x "/usr/bin/$1" || -x "/sbin/$1" ]]
}

have_pkg() { # have_pkg PACKAGE: installed according to dpkg
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" == "installed" ]]
}

have_postgres_server() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/initdb" && -x "$d/postgres" && -x "$d/pg_ctl" ]] && return 0
    done
    return 1
}

have_nchan() {
    local f
    for f in /usr/share/nginx/modules/ngx_nchan_module.so /usr/lib/nginx/modules/ngx_nchan_module.so; do
        [[ -f "$f" ]] && return 0
    done
    return 1
}

check_services() {
    have_cmd redis-server || need redis-server "redis-server is not installed"
    have_postgres_server || need postgresql \
        "PostgreSQL server binaries (initdb, pg_ctl, postgres under /usr/lib/postgresql/*/bin) are not installed"
    have_cmd nginx || need nginx "nginx is not installed"
    have_nchan || need libnginx-mod-nchan "the nginx Nchan module (ngx_nchan_module.so) is not installed"
    [[ -x /usr/bin/chromium ]] || need chromium "Chromium (/usr/bin/chromium) is not installed"
    have_cmd wrk || need wrk "wrk (HTTP load generator) is not installed"
    # Chromium draws no text at all without a font; DejaVu is Debian's default family and
    # Liberation provides the Arial/Times/Courier metrics pages usually ask for.
    have_pkg fonts-dejavu-core || need fonts-dejavu-core "fonts for Chromium (fonts-dejavu-core) are not installed"
    have_pkg fonts-liberation || need fonts-liberation "fonts for Chromium (fonts-liberation) are not installed"
    check_node
}

check_node() {
    have_cmd node || need nodejs "Node.js (node) is not installed"
    have_cmd npm || need npm "npm is not installed"
}

check_python_venv() {
    "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 ||
        need python3-venv "$PYTHON cannot create virtualenvs (python3-venv is not installed)"
}

case "${1:-services}" in
services | "") check_services ;;
python-venv) check_python_venv ;;
node) check_node ;;
-h | --help)
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
    exit 0
    ;;
*)
    echo "usage: $0 [python-venv|node]" >&2
    exit 2
    ;;
esac

if ((${#missing[@]} == 0)); then
    exit 0
fi

# ---------------------------------------------------------------------------------------
# Not root: say what to run.
# ---------------------------------------------------------------------------------------
if [[ "$(id -u)" != 0 ]]; then
    for i in "${!missing[@]}"; do
        echo "install-services: missing: ${reasons[$i]} — run: sudo apt-get install -y --no-install-recommends ${missing[$i]}" >&2
    done
    echo "install-services: or install everything at once as root: sudo bash $0${1:+ $1}" >&2
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    for i in "${!missing[@]}"; do
        echo "install-services: missing: ${reasons[$i]} (Debian package ${missing[$i]}); no apt-get on this machine, install it by hand" >&2
    done
    exit 1
fi

# ---------------------------------------------------------------------------------------
# Root: install, without letting any package start its daemon.
# ---------------------------------------------------------------------------------------
echo "install-services: installing ${missing[*]}"

export DEBIAN_FRONTEND=noninteractive
export RUNLEVEL=1 # some maintainer scripts check this before starting anything

policy=/usr/sbin/policy-rc.d
policy_backup=""
policy_created=0

restore_policy() {
    if [[ -n "$policy_backup" ]]; then
        mv -f "$policy_backup" "$policy"
    elif ((policy_created)); then
        rm -f "$policy"
    fi
}
trap restore_policy EXIT

# invoke-rc.d and deb-systemd-invoke both ask policy-rc.d; exit code 101 = "action forbidden".
if [[ -e "$policy" ]]; then
    policy_backup="$(mktemp /usr/sbin/.policy-rc.d.livefeed.XXXXXX)"
    cp -p "$policy" "$policy_backup"
fi
printf '#!/bin/sh\n# written by livefeed scripts/install-services.sh for the install only\nexit 101\n' >"$policy"
chmod 0755 "$policy"
[[ -n "$policy_backup" ]] || policy_created=1

# Daemons already running before the install are the machine owner's business: remember them
# so that only the ones started as a side effect of this install get stopped.
daemon_pidfiles=(/run/redis/redis-server.pid /run/nginx.pid /run/postgresql/*.pid)
declare -A running_before=()
for f in "${daemon_pidfiles[@]}"; do
    [[ -f "$f" ]] && running_before["$f"]="$(cat "$f" 2>/dev/null || true)"
done

apt_opts=(-o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
apt-get "${apt_opts[@]}" update -qq
apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${missing[@]}"

# Anything that started anyway (no policy-rc.d support, a systemd unit activated by other
# means...): stop it, so nothing is left on ports 80 / 6379 / 5432.
for f in /run/redis/redis-server.pid /run/nginx.pid /run/postgresql/*.pid; do
    [[ -f "$f" ]] || continue
    pid="$(head -n1 "$f" 2>/dev/null | tr -dc 0-9)"
    [[ -n "$pid" ]] || continue
    [[ "${running_before[$f]:-}" == "$pid" ]] && continue
    echo "install-services: stopping $(basename "$f" .pid) (pid $pid), started by the package install"
    if command -v systemctl >/dev/null 2>&1 && [[ -d /run/systemd/system ]]; then
        case "$f" in
        */redis*) systemctl stop redis-server.service 2>/dev/null || true ;;
        */nginx*) systemctl stop nginx.service 2>/dev/null || true ;;
        */postgresql/*) systemctl stop postgresql.service 2>/dev/null || true ;;
        esac
    fi
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    fi
done

# Check again: a package that installed but did not provide what we look for is an error.
missing=()
reasons=()
case "${1:-services}" in
python-venv) check_python_venv ;;
node) check_node ;;
*) check_services ;;
esac
if ((${#missing[@]} > 0)); then
    for r in "${reasons[@]}"; do
        echo "install-services: still missing after apt-get install: $r" >&2
    done
    exit 1
fi
echo "install-services: done"
