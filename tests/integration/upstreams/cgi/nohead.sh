#!/bin/sh
# nohead.sh: hangs before writing anything (a "sleep 60" in the
# background and one in the foreground): CGIScriptTimeout -> 504, and
# the whole process group killed.
sleep 60 &
sleep 60
printf 'Content-Type: text/plain\n\nnot reached\n'
