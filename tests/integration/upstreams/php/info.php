<?php
// info.php: what PHP (php-fpm behind mpmd's FastCGI client) sees of the
// request: some $_SERVER keys and the body's length and sha256, as JSON.
$keys = array('SCRIPT_FILENAME', 'SCRIPT_NAME', 'PATH_INFO', 'REQUEST_URI',
              'QUERY_STRING', 'REQUEST_METHOD', 'CONTENT_LENGTH', 'CONTENT_TYPE',
              'HTTP_HOST', 'REMOTE_ADDR', 'SERVER_PORT', 'HTTPS', 'DOCUMENT_ROOT',
              'SERVER_PROTOCOL', 'GATEWAY_INTERFACE', 'HTTP_X_TEST');
$out = array();
foreach ($keys as $k) {
    $out[$k] = isset($_SERVER[$k]) ? $_SERVER[$k] : null;
}
$ctx = hash_init('sha256');
$len = 0;
$in = fopen('php://input', 'rb');
while (!feof($in)) {
    $data = fread($in, 65536);
    if ($data === false || $data === '') {
        break;
    }
    $len += strlen($data);
    hash_update($ctx, $data);
}
fclose($in);
$out['body_len'] = $len;
$out['body_sha256'] = hash_final($ctx);
header('Content-Type: application/json');
echo json_encode($out, JSON_UNESCAPED_SLASHES), "\n";
