#!/usr/bin/env bash
# Install the Debian packages the govtrust tests and benchmarks need.
#
# Only missing packages are installed, and `apt-get update` runs (once) only
# when something is missing, so the script is cheap to call from `make test`.
# It is quiet on success: one line naming what it installed, or nothing.
#
# Runs as root (CI) or through sudo. Without either it prints the missing
# packages and exits 1.
#
# The tests start their own throwaway PostgreSQL clusters (see
# tests/support/postgres.py), so the Debian "main" cluster that the postgresql
# package normally creates and starts at install time is not needed: before
# installing postgresql we tell postgresql-common not to create it.
set -euo pipefail

PACKAGES=(postgresql softhsm2 openssl libnss3-tools poppler-utils xmlsec1 golang-cfssl wrk
    chromium chromium-driver fonts-dejavu-core fonts-noto-core)

CREATECLUSTER_DROPIN_DIR=/etc/postgresql-common/createcluster.d
CREATECLUSTER_DROPIN="$CREATECLUSTER_DROPIN_DIR/50-govtrust-no-main-cluster.conf"

die() {
    printf 'install-system-deps: %s\n' "$*" >&2
    exit 1
}

is_installed() {
    local status
    status="$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)"
    [[ "$status" == "install ok installed" ]]
}

command -v dpkg-query >/dev/null 2>&1 || die "dpkg-query not found: this script supports Debian/Ubuntu only"

missing=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

((${#missing[@]} == 0)) && exit 0

# Decide how to get root.
as_root=()
if ((EUID != 0)); then
    if command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        die "missing Debian packages: ${missing[*]}; run this script as root (sudo not found)"
    fi
fi

log="$(mktemp "${TMPDIR:-/tmp}/install-system-deps.XXXXXX.log")"
trap 'rm -f "$log"' EXIT

# Run a root command with its output captured; show the output only on failure.
run_root_quiet() {
    if ! "${as_root[@]}" "$@" >>"$log" 2>&1; then
        cat "$log" >&2
        die "command failed: $*"
    fi
}

for pkg in "${missing[@]}"; do
    if [[ "$pkg" == postgresql ]]; then
        # Keep postgresql-common from creating (and starting) a "main" cluster.
        # createcluster.conf includes this directory; pg_conftool honours it.
        run_root_quiet mkdir -p "$CREATECLUSTER_DROPIN_DIR"
        printf '%s\n' \
            '# Written by govtrust scripts/install-system-deps.sh: the tests run their own' \
            '# throwaway clusters, so no default cluster is created on package install.' \
            'create_main_cluster = false' |
            run_root_quiet tee "$CREATECLUSTER_DROPIN"
    fi
done

run_root_quiet env DEBIAN_FRONTEND=noninteractive apt-get update -q
run_root_quiet env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}"

still_missing=()
for pkg in "${missing[@]}"; do
    is_installed "$pkg" || still_missing+=("$pkg")
done
((${#still_missing[@]} == 0)) || die "packages still missing after apt-get install: ${still_missing[*]}"

printf 'install-system-deps: installed %s\n' "${missing[*]}"
