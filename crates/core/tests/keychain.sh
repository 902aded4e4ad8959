#!/bin/sh
# Runs cargo tests inside a real Secret Service: a private D-Bus session with gnome-keyring
# on it, its login keyring fresh (a temporary XDG_DATA_HOME) and unlocked with "pw".
#   crates/core/tests/keychain.sh                 the keychain tests only
#   crates/core/tests/keychain.sh -p paydesk-core any `cargo test` arguments
# Needs dbus (dbus-run-session) and gnome-keyring.
set -eu
if [ "$#" -eq 0 ]; then
  set -- -p paydesk-core --test keychain
fi
exec dbus-run-session -- sh -c '
  XDG_DATA_HOME=$(mktemp -d); export XDG_DATA_HOME
  trap "rm -rf \"$XDG_DATA_HOME\"" EXIT
  printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  cargo test "$@"
' keychain-tests "$@"
