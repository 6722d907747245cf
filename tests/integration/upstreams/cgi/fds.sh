#!/bin/sh
# fds.sh: the open file descriptors a CGI program inherits, as "ls -l
# /proc/self/fd" lists them (ls's own descriptor of the directory it
# reads shows up as a link to /proc/<pid>/fd; only 0, 1, 2 should
# remain besides it).
printf 'Content-Type: text/plain\n\n'
exec ls -l /proc/self/fd
