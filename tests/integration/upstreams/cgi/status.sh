#!/bin/sh
# status.sh: a script-chosen status via the Status header.
printf "Status: 418 I'm a teapot\nContent-Type: text/plain\n\nshort and stout\n"
