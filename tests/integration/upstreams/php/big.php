<?php
// big.php?n=BYTES: N bytes of the pattern of upstreams/common.py
// (sha256 digests of "0".."2047" concatenated, cut to 65521 bytes,
// repeated), streamed in 64 KiB pieces with flush().
$n = isset($_GET['n']) ? max(0, intval($_GET['n'])) : 0;
$block = '';
for ($i = 0; $i < 2048; $i++) {
    $block .= hash('sha256', (string)$i, true);
}
$plen = 65521;
$block = substr($block, 0, $plen);
$doubled = str_repeat($block, 3);
header('Content-Type: application/octet-stream');
while (ob_get_level() > 0) {
    ob_end_flush();
}
$pos = 0;
while ($pos < $n) {
    $size = min(65536, $n - $pos);
    echo substr($doubled, $pos % $plen, $size);
    flush();
    $pos += $size;
}
