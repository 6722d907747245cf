<?php
// slowstart.php: nothing for 300 ms, then the whole answer at once.  In
// MPM event the request waits on php-fpm holding no mpmd thread and is
// answered from memory, with a Content-Length.
usleep(300000);
header('Content-Type: text/plain');
echo "late but whole\n";
