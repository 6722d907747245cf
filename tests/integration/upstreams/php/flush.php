<?php
// flush.php: output in three pieces, 150 ms apart (flush() sends each
// as FCGI_STDOUT at once).  mpmd's listener gathers an answer only while
// it does not pause: this one is streamed by a handler thread from its
// first pause on, and must arrive whole.
while (ob_get_level())
    ob_end_flush();
header('Content-Type: text/plain');
foreach (array("one\n", "two\n", "three\n") as $i => $piece) {
    if ($i > 0)
        usleep(150000);
    echo $piece;
    flush();
}
