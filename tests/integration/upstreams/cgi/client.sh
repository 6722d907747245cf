#!/bin/sh
# client.sh: a client redirect (Location with an absolute URL): 302.
printf 'Location: http://example.com/x\n\n'
