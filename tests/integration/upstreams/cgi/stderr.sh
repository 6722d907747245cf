#!/bin/sh
# stderr.sh: writes a marker to standard error (the server's ErrorLog),
# then a normal document.
echo "cgi-stderr-marker" >&2
printf 'Content-Type: text/plain\n\nstderr written\n'
