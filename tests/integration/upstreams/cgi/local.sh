#!/bin/sh
# local.sh: a local redirect (Location with a path and no Status): the
# server answers with what /cgi-bin/env.sh produces, as a GET.
printf 'Location: /cgi-bin/env.sh\n\n'
