#!/bin/sh
# Runs the keychain tests against a real Secret Service: a private D-Bus session with
# gnome-keyring on it, its login keyring fresh (a temp XDG_DATA_HOME) and unlocked.
# Extra arguments go to `cargo test`. Needs: dbus (dbus-run-session), gnome-keyring.
set -eu
exec dbus-run-session -- sh -c '
  XDG_DATA_HOME=$(mktemp -d); export XDG_DATA_HOME
  trap "rm -rf \"$XDG_DATA_HOME\"" EXIT
  printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  cargo test -p paydesk-core --test keychain "$@"
' keychain-tests "$@"
