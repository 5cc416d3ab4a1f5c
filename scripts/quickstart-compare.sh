#!/bin/sh
# A drill's `command` check in the quickstart: every given directory, restored below
# $LIFEBOAT_RESTORED_PATH, is identical to the original.
set -e
for d in "$@"; do
    diff -r "$d" "$LIFEBOAT_RESTORED_PATH$d"
done
echo "restored copy identical to the originals: $*"
