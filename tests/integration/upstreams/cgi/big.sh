#!/bin/sh
# big.sh?n=BYTES: N zero bytes after the head.
n=${QUERY_STRING#n=}
case $n in ''|*[!0-9]*) n=0 ;; esac
printf 'Content-Type: application/octet-stream\n\n'
exec head -c "$n" /dev/zero
