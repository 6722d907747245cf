<?php
// stderr.php: a message on the FastCGI error stream.  With no error_log
// set, php-fpm sends error_log() text as FCGI_STDERR records, which the
// web server writes to its ErrorLog (Apache: "AH01071: Got error 'PHP
// message: from-php-stderr'").
error_log('from-php-stderr');
header('Content-Type: text/plain');
echo "logged\n";
