#!/usr/bin/env bash
# Copies template/ to DEST (outside this repository), as a studio starts its game, with its
# `ticksync` dependency pointed back at this checkout and this checkout's Cargo.lock (the same
# dependency versions, bincode's pin among them). Prints DEST.
#   scripts/template-copy.sh /tmp/mygame
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${1:?usage: template-copy.sh DEST}
case "$(realpath -m "$dest")/" in
  "$root"/*) echo "template-copy: $dest is inside the checkout; a studio's game lives outside it" >&2; exit 2 ;;
esac
rm -rf "$dest"
mkdir -p "$dest"
cp -R "$root/template/." "$dest/"
rm -rf "$dest/target"
# Every path dependency of the template names ticksync's folders relative to template/.
sed -i -E "s#path = \"\.\./([^\"]*)\"#path = \"$root/\1\"#g" "$dest/Cargo.toml"
if grep -q 'path = "\.\.' "$dest/Cargo.toml"; then
  echo "template-copy: a relative path dependency is left in $dest/Cargo.toml" >&2
  exit 1
fi
cp "$root/Cargo.lock" "$dest/Cargo.lock"
echo "$dest"
