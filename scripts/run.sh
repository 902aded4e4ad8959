#!/usr/bin/env bash
# The README's run command: installs what is missing, builds (incrementally), and starts
# PayDesk. With no credentials configured it starts in demo mode.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PAYDESK_ROOT"

ensure_packages "${BUILD_PACKAGES[@]}"
ensure_rust
say "building PayDesk (target: $CARGO_TARGET_DIR)"
cargo build --bin paydesk

if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "No display: PayDesk is a desktop app. Run it in a desktop session, or under Xvfb:" >&2
  echo "  Xvfb :99 & DISPLAY=:99 $0" >&2
  exit 1
fi
say "starting PayDesk"
exec "$CARGO_TARGET_DIR/debug/paydesk" "$@"
