#!/usr/bin/env bash
# The README's test command: installs what is missing, then runs every check and test —
# formatting, clippy, unit, integration, whole-system and end-to-end (the real app under
# Xvfb through WebDriver) — inside a private D-Bus session with a real Secret Service.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PAYDESK_ROOT"

ensure_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
ensure_rust
ensure_tauri_driver

say "cargo fmt --check"
cargo fmt --all -- --check
say "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
say "the relay and the sandbox build without the till's dependencies"
for crate in paydesk-relay paydesk-sandbox; do
  if cargo tree -p "$crate" -e normal --prefix none --locked | grep -E '^(rusqlite|keyring|qrcode|tauri|paydesk-core) '; then
    echo "$crate depends on the till's crates above" >&2
    exit 1
  fi
done
say "building every binary the system and end-to-end tests start"
cargo build --workspace --bins --locked
say "running every test (target: $CARGO_TARGET_DIR)"
with_keyring cargo test --workspace --locked --no-fail-fast "$@"

if [ $# -eq 0 ]; then
  say "packaging: the .deb builds, installs with dpkg -i, and the installed app starts"
  packages=$(./scripts/package.sh --debug)
  mapfile -t debs <<<"$packages"
  as_root dpkg -i "${debs[0]}" >/dev/null
  dpkg-deb --info "${debs[1]}" >/dev/null
  PAYDESK_APP_DEB="${debs[0]}" PAYDESK_RELAY_DEB="${debs[1]}" \
    with_keyring cargo test --workspace --locked --test e2e_installed --test packaging -- --ignored
fi
