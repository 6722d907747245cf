#!/bin/sh
# env.sh: the CGI meta-variables the server passed, one NAME=value a line.
printf 'Content-Type: text/plain\n\n'
env
