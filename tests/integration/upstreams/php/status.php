<?php
// status.php: a script-chosen status (404) with a body.
http_response_code(404);
header('Content-Type: text/plain');
echo "not here (from status.php)\n";
