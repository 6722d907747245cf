#!/bin/sh
# hello.sh: the smallest CGI document (used under AddHandler cgi-script).
printf 'Content-Type: text/plain\n\nhello from cgi\n'
