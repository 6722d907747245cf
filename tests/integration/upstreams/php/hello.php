<?php
// hello.php: the smallest page.
header('Content-Type: text/plain');
echo "Hello, world";
