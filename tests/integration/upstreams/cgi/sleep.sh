#!/bin/sh
# sleep.sh: sends its head and a first line, then hangs in "sleep 60"
# with a second "sleep 60" in the background holding stdout open too.
# CGIScriptTimeout must end the response and kill the whole process
# group.
printf 'Content-Type: text/plain\n\nstarted\n'
sleep 60 &
sleep 60
echo "not reached"
