<?php
// redirect.php: a Location header and no explicit status (PHP itself
// then answers 302, as Apache + php-fpm do).
header('Location: /target');
echo "redirecting\n";
