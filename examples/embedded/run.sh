#!/usr/bin/env bash
# Builds the embedded example for thumbv7m-none-eabi and runs it under QEMU
# (the LM3S6965 board, a Cortex-M3). Fails unless the program exits with
# success and its last line says every check passed.
#
#   examples/embedded/run.sh        # from anywhere
#
# Needs the target (`rustup target add thumbv7m-none-eabi`) and QEMU
# (`apt-get install qemu-system-arm`); `.ci/run` installs both.
set -euo pipefail
cd "$(dirname "$0")"

expected='turnlock embedded: all checks passed'
elf=target/thumbv7m-none-eabi/release/turnlock-embedded-example

command -v qemu-system-arm > /dev/null \
    || { echo "run.sh: qemu-system-arm not found (apt-get install qemu-system-arm)" >&2; exit 1; }

# This package is its own workspace, outside the root's `cargo fmt --all`
# and `cargo clippy --workspace`: check it here. The target comes from
# .cargo/config.toml. The committed Cargo.lock pins every crate it lists;
# no `--locked`, so that a change to turnlock's own version or dependencies
# updates the lock instead of failing the run.
cargo fmt --check
cargo clippy --quiet --release -- -D warnings
cargo build --quiet --release

output=$(mktemp)
trap 'rm -f "$output"' EXIT
status=0
timeout 60 qemu-system-arm -cpu cortex-m3 -machine lm3s6965evb -nographic \
    -semihosting-config enable=on,target=native -kernel "$elf" \
    | tee "$output" || status=$?
# `tee` succeeds, so with pipefail the status is QEMU's (124: timed out).

if [ "$status" -ne 0 ]; then
    echo "run.sh: the embedded example failed (exit status $status)" >&2
    exit 1
fi
if [ "$(tail -n 1 "$output")" != "$expected" ]; then
    echo "run.sh: the embedded example did not end with \"$expected\"" >&2
    exit 1
fi
