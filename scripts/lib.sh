# Shared by run.sh, test.sh and package.sh: find or install what PayDesk needs, once.
# Sourced, not executed. Everything is idempotent: a warm machine installs nothing and a
# built target directory is reused (it lives outside the clone, in PAYDESK_TARGET_DIR).

set -euo pipefail

PAYDESK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PAYDESK_CACHE_DIR="${PAYDESK_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/paydesk}"
export PAYDESK_CACHE_DIR
export CARGO_TARGET_DIR="${PAYDESK_TARGET_DIR:-${CARGO_TARGET_DIR:-$PAYDESK_CACHE_DIR/target}}"
export PATH="$PAYDESK_CACHE_DIR/tools/bin:$HOME/.cargo/bin:$PATH"
export DEBIAN_FRONTEND=noninteractive
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-auto}"

# System packages: the Tauri/WebKitGTK build stack, the keychain, the display stack for
# end-to-end tests, and the Redis server the relay's multi-instance tests start.
BUILD_PACKAGES=(build-essential pkg-config file curl ca-certificates libssl-dev libdbus-1-dev
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev)
TEST_PACKAGES=(xvfb xauth webkit2gtk-driver redis-server gnome-keyring dbus dbus-x11)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "need root for: $* (run as root or install sudo)" >&2; return 1
  fi
}

ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "missing system packages: ${missing[*]} (this script knows apt-get; see README for other systems)" >&2
    return 1
  fi
  say "installing ${missing[*]}"
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_rust() {
  if command -v cargo >/dev/null 2>&1; then
    rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt >/dev/null 2>&1 || true
    return 0
  fi
  say "installing Rust with rustup (https://rustup.rs)"
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c clippy,rustfmt
  # shellcheck disable=SC1091
  . "$HOME/.cargo/env"
}

ensure_tauri_driver() {
  command -v tauri-driver >/dev/null 2>&1 && return 0
  say "installing tauri-driver (WebDriver bridge for end-to-end tests)"
  CARGO_TARGET_DIR="$PAYDESK_CACHE_DIR/tauri-driver-build" \
    cargo install --quiet --root "$PAYDESK_CACHE_DIR/tools" tauri-driver --version '^2' --locked
}

ensure_npm() {
  command -v npm >/dev/null 2>&1 || ensure_packages nodejs npm
}

# The prebuilt Tauri CLI from npm (compiling tauri-cli takes ~15 minutes).
ensure_tauri_cli() {
  ensure_npm
  TAURI_CLI="$PAYDESK_CACHE_DIR/npm/node_modules/.bin/tauri"
  [ -x "$TAURI_CLI" ] && return 0
  say "installing the Tauri CLI (@tauri-apps/cli@2 from npm)"
  mkdir -p "$PAYDESK_CACHE_DIR/npm"
  (cd "$PAYDESK_CACHE_DIR/npm" && { [ -f package.json ] || npm init -y >/dev/null; } &&
    npm install --no-audit --no-fund --silent @tauri-apps/cli@2 >/dev/null)
}

# Runs "$@" with a private D-Bus session and an unlocked gnome-keyring (a real Secret
# Service for the keychain tests), without touching the user's own session or keyrings:
# the daemon keeps its keyring in a temporary directory.
with_keyring() {
  dbus-run-session -- sh -c '
    keyrings=$(mktemp -d)
    trap "rm -rf \"$keyrings\"" EXIT
    printf paydesk-test | XDG_DATA_HOME="$keyrings" gnome-keyring-daemon --unlock --components=secrets >/dev/null
    "$@"
  ' sh "$@"
}
