#!/bin/sh
# install-if-absent.sh SOURCE DEST: install SOURCE as DEST (under $DESTDIR, which meson sets
# absolute), mode 0644, unless DEST exists. Run by `meson install` (etc/meson.build).
set -eu
src=$1
dest=${DESTDIR:-}$2
if [ -e "$dest" ] || [ -L "$dest" ]; then
        echo "Keeping $dest (the sample is $src)"
        exit 0
fi
install -D -m 0644 "$src" "$dest"
