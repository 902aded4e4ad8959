#!/usr/bin/env bash
# Packages a built paydesk-relay binary as a .deb: the binary, the systemd unit, an example
# config and the docs. Usage: build-deb.sh <paydesk-relay binary> <output dir>
# Prints the path of the .deb. Needs only dpkg-deb.
set -euo pipefail
bin="$1"; out="$2"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -n 1)"
arch="$(dpkg --print-architecture)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

install -Dm755 "$bin" "$stage/usr/bin/paydesk-relay"
install -Dm644 "$here/paydesk-relay.service" "$stage/lib/systemd/system/paydesk-relay.service"
install -Dm640 "$here/relay.example.toml" "$stage/etc/paydesk-relay/relay.toml"
install -Dm644 "$here/relay.example.toml" "$stage/usr/share/doc/paydesk-relay/relay.example.toml"
install -Dm644 "$root/packaging/copyright" "$stage/usr/share/doc/paydesk-relay/copyright"
for doc in relay.md protocol.md operations.md; do
  [ -f "$root/docs/$doc" ] && install -Dm644 "$root/docs/$doc" "$stage/usr/share/doc/paydesk-relay/$doc"
done
mkdir -p "$stage/DEBIAN"
cat > "$stage/DEBIAN/control" <<CONTROL
Package: paydesk-relay
Version: $version
Architecture: $arch
Maintainer: PayDesk <support@paydesk.invalid>
Section: net
Priority: optional
Depends: adduser
Suggests: redis-server
Description: PayDesk relay for Crypto.com Pay
 Receives Crypto.com Pay's signed webhooks and pushes every payment update to the
 shop's PayDesk terminals over authenticated WebSockets.
CONTROL
echo "/etc/paydesk-relay/relay.toml" > "$stage/DEBIAN/conffiles"
cat > "$stage/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
  getent passwd paydesk-relay >/dev/null || adduser --system --group --no-create-home --home /var/lib/paydesk-relay paydesk-relay
  chgrp paydesk-relay /etc/paydesk-relay/relay.toml
  # Its state and logs, before anyone runs `terminal add` as the service user.
  install -d -o paydesk-relay -g paydesk-relay -m 0750 /var/lib/paydesk-relay /var/log/paydesk-relay
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    systemctl daemon-reload || true
  fi
fi
POSTINST
chmod 755 "$stage/DEBIAN/postinst"
mkdir -p "$out"
deb="$out/paydesk-relay_${version}_${arch}.deb"
dpkg-deb --root-owner-group --build "$stage" "$deb" >/dev/null
echo "$deb"
