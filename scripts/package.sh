#!/usr/bin/env bash
# Builds the installers this machine can build: the app's .deb (with paydesk-cli, the desktop
# entry and icons inside) and the relay's .deb (binary, systemd unit, example config).
#   ./scripts/package.sh            release build (what ships)
#   ./scripts/package.sh --debug    reuse the debug build (what the test command checks)
# .msi/.nsis need Windows, .dmg/.app need macOS, AppImage needs to download its tools: see
# docs/operations.md. Prints the paths of the packages it built.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$PAYDESK_ROOT"

profile=release
tauri_flags=()
cargo_flags=(--release)
if [ "${1:-}" = "--debug" ]; then
  profile=debug
  tauri_flags=(--debug)
  cargo_flags=()
fi

ensure_packages "${BUILD_PACKAGES[@]}"
ensure_rust
ensure_tauri_cli

say "building paydesk-cli and paydesk-relay ($profile)"
cargo build "${cargo_flags[@]}" --locked --workspace --bins
mkdir -p .stage
cp "$CARGO_TARGET_DIR/$profile/paydesk-cli" .stage/paydesk-cli

say "building the app's .deb ($profile)"
"$TAURI_CLI" build "${tauri_flags[@]}" --bundles deb --ci >&2
tauri_deb=$(ls -t "$CARGO_TARGET_DIR/$profile/bundle/deb/"*.deb | grep -v '/paydesk_' | head -n 1)
# Tauri names the package after productName, kebab-cased ("pay-desk"); installers and
# `dpkg -s` look for "paydesk", the name of the binary, the docs and the CLI.
unpacked=$(mktemp -d)
dpkg-deb -R "$tauri_deb" "$unpacked"
sed -i -e 's/^Package: .*/Package: paydesk/' "$unpacked/DEBIAN/control"
printf 'Conflicts: pay-desk\nReplaces: pay-desk\n' >> "$unpacked/DEBIAN/control"
version=$(sed -n 's/^Version: //p' "$unpacked/DEBIAN/control")
arch=$(sed -n 's/^Architecture: //p' "$unpacked/DEBIAN/control")
app_deb="$CARGO_TARGET_DIR/$profile/bundle/deb/paydesk_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$unpacked" "$app_deb" >/dev/null
rm -rf "$unpacked" "$tauri_deb"

say "building the relay's .deb ($profile)"
relay_deb=$("$PAYDESK_ROOT/crates/relay/dist/build-deb.sh" "$CARGO_TARGET_DIR/$profile/paydesk-relay" "$CARGO_TARGET_DIR/$profile/bundle/deb")

echo "$app_deb"
echo "$relay_deb"
