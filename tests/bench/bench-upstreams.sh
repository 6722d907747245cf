#!/usr/bin/env bash
# bench-upstreams.sh: mpmd's upstream handlers (reverse proxy, FastCGI, CGI)
# against nginx and Apache, in interleaved rounds, plus the queueing-model
# table and the fork/posix_spawn micro-measurement.  Run by `make bench`
# after bench.sh; not part of `make check` (timing never decides a test).
#
#   MPMD=src/mpmd [ROUNDS=3] [DUR=6] [ROWS="proxy php cgi model spawn"] \
#     [WARMUP=1] [PAUSE=1] [WRK_TIMEOUT=5s] [MODEL_DUR=10] [SPAWNS=2000] \
#     [SPAWN_ROUNDS=$ROUNDS] [KEEP=0] tests/bench/bench-upstreams.sh
#
# Run time with the defaults on the 2-core test machine: ~15 min (proxy
# 1.5, php 2.5, cgi 1, model 4.5 -- mostly the 1x1 server working off 250
# queued requests after each run --, spawn 5: fork+exec of a 1 GiB process
# takes ~50 ms there).  A smoke run: ROUNDS=1 DUR=3 SPAWNS=300, ~4 min.
#
# Rows (each prints a table: rps median [min-max] and p99 latency median
# [min-max] per server, the non-2xx and socket-error counts wrk reported,
# "busy conns" = rps x mean latency, i.e. how many of wrk's connections
# were getting answers (Little's law; far below -c means the others were
# starved and the row is marked STALLED), and the ratios mpmd/peer):
#   proxy  GET / through a reverse proxy to upstream100 (a 100-byte body
#          with Content-Length, keep-alive), wrk -t1 -c64 and -c256:
#          mpmd `ProxyPass / http://127.0.0.1:UP/` vs nginx proxy_pass to an
#          `upstream { keepalive 64; }` with HTTP/1.1 and Connection "".
#          upstream100.c rather than h2o: one binary also serves the model
#          row (-d 100, a timer per request), it has no configuration or
#          file system in the way, and one epoll process answering a canned
#          reply costs less CPU per request than h2o's file handler, which
#          matters when server, upstream and wrk share 2 cores.
#   php    GET /hello.php (`<?php echo "Hello, world\n";`) from ONE php-fpm
#          pool shared by all (pm=static, pm.max_children=8), wrk -c32:
#          mpmd <FilesMatch> SetHandler "proxy:fcgi://..." (a connection per
#          request, mpmd's and Apache's default), mpmd-reuse `ProxyPass /
#          fcgi://.../DIR/ enablereuse=On max=4`, nginx fastcgi_pass with
#          fastcgi_keep_conn on and `keepalive 4` (per worker), nginx-close
#          (fastcgi_pass without keep_conn, nginx's default), Apache
#          proxy_fcgi with SetHandler and a <Proxy> block `ProxySet
#          enablereuse=on max=4`.  php-fpm gives every open connection a
#          child until it is closed, so kept connections per server are held
#          to 8 = pm.max_children (4 per child/worker x 2); more would leave
#          requests in php-fpm's backlog behind idle kept connections.
#          The servers that keep connections (mpmd-reuse, nginx, apache) are
#          restarted after each of their runs, and every run waits until no
#          connection to php-fpm is open: an idle kept connection left by
#          one server holds a php-fpm child the next one would need (nginx
#          and Apache keep theirs until they restart; mpmd's sweeper closes
#          its idle ones ttl= seconds after their last use).
#   cgi    GET /cgi-bin/hello.sh (#!/bin/sh, a printf), wrk -c8: mpmd
#          ScriptAlias vs Apache mod_cgid ScriptAlias.
#   model  upstream100 -d 100 (every answer after 100 ms, by a timer),
#          256 clients, wrk -c256 -d$MODEL_DUR: mpmd worker 1x1 ("prefork":
#          a thread per connection, one of them), worker 16 children x 1
#          thread ("prefork 16"), worker 2x25, event 2x25 and event 1x1 (a
#          proxied GET waits in the listener, holding no thread), and
#          nginx; the queueing-theory prediction next to each.
#   spawn  spawn-cost.c: /bin/true started $SPAWNS times by a process with
#          1 GiB of touched memory and 30 threads, fork+exec vs posix_spawn,
#          $SPAWN_ROUNDS rounds (why mpmd's CGI handler uses posix_spawn).
#
# Comparable settings (2 cores shared by server, upstream and wrk; nothing
# is pinned): mpmd runs 2 children x 25 threads (StartServers 2, event MPM,
# MaxRequestWorkers 50; its proxy pool sets no max=, as nginx sets no
# limit), nginx worker_processes 2, Apache the event MPM
# with 2 processes x 25 threads (the peer kit's apache-event settings).
# Access logs are off everywhere, client keep-alive is long everywhere.
# upstream100 is one epoll process (~70k rps alone on one core here), far
# more than any proxy in front of it reaches on the other core.
#
# Every server runs in the foreground from this script and is stopped by
# its pid; everything lives in a temporary directory (KEEP=1 keeps it and
# prints its name); ports are free ones below the ephemeral range.  The
# mpmd binary is copied first, so a rebuild during the run does not matter.
set -u
: "${MPMD:?set MPMD to the mpmd binary}"
ROWS=${ROWS:-"proxy php cgi model spawn"}
SPAWNS=${SPAWNS:-2000}
SPAWN_ROUNDS=${SPAWN_ROUNDS:-${ROUNDS:-3}}
FPM=${FPM:-$(command -v php-fpm8.2 || command -v php-fpm || echo php-fpm)}
# ROUNDS, DUR, WARMUP, PAUSE, WRK_TIMEOUT, MODEL_DUR, MODEL_TIMEOUT, KEEP:
# bench-lib.sh (the servers' configurations, measuring, the tables).
. "$(dirname "$0")/bench-lib.sh"
bench_init bench-upstreams

echo "# bench-upstreams.sh $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg);" \
     "ROUNDS=$ROUNDS DUR=$DUR; mpmd $("$work/mpmd" -V 2>/dev/null | head -1)"

# ---- row: proxy -------------------------------------------------------------
row_proxy() {
    local up p_m p_n d targets=()
    read -r up p_m p_n <<<"$(free_ports 3)"
    echo
    echo "## proxy: GET / -> upstream100 (100-byte body, keep-alive), wrk -t1 -c64 and -c256, ${DUR}s"
    start_upstream "$up" || return 0
    d=$work/proxy-mpmd; mkdir -p "$d/www"
    { mpmd_conf "$p_m" "$d" event 2 25; echo "ProxyPass / http://127.0.0.1:$up/"; } >"$d/mpmd.conf"
    start_mpmd proxy-mpmd "$d/mpmd.conf" "$p_m" / && check_body mpmd "http://127.0.0.1:$p_m/" abcdefghij &&
        targets+=("mpmd=http://127.0.0.1:$p_m/")
    local mpid=$started kids; kids=$(kids_of "$mpid")
    d=$work/proxy-nginx; mkdir -p "$d/temp"
    nginx_proxy_conf "$p_n" "$d" "$up" >"$d/nginx.conf"
    start_nginx nginx "$d" "$p_n" / && check_body nginx "http://127.0.0.1:$p_n/" abcdefghij &&
        targets+=("nginx=http://127.0.0.1:$p_n/")
    [ ${#targets[@]} -gt 0 ] && rounds proxy "c64:64 c256:256" "${targets[@]}"
    table proxy "mpmd nginx"
    mpmd_report proxy "$work/proxy-mpmd" "$mpid" "$kids"
    peer_log_report nginx "$work/proxy-nginx/error.log"
    stop_all
}

# ---- row: php ---------------------------------------------------------------
row_php() {
    local fpm p_m p_r p_n p_nc p_a d targets=() www=$work/php
    read -r fpm p_m p_r p_n p_nc p_a <<<"$(free_ports 6)"
    php_fpm_port=$fpm php_p_r=$p_r php_p_n=$p_n php_p_a=$p_a
    echo
    echo "## php: GET /hello.php from one php-fpm pool (pm=static, max_children=8), wrk -t1 -c32, ${DUR}s"
    echo "(mpmd: SetHandler proxy:fcgi, a new connection per request, its default and Apache's;" \
         "mpmd-reuse: ProxyPass fcgi:// enablereuse=On max=4; nginx: fastcgi_keep_conn, keepalive 4/worker;" \
         "nginx-close: fastcgi_pass without keep_conn (its default);" \
         "apache: SetHandler + <Proxy> enablereuse=on max=4." \
         "mpmd-reuse, nginx and apache are restarted after each of their runs: kept connections hold php-fpm children)"
    command -v "$FPM" >/dev/null || { echo "php: skipped: no php-fpm (FPM=...)"; return 0; }
    mkdir -p "$www" "$work/fpm"
    printf '<?php echo "Hello, world\\n";\n' >"$www/hello.php"
    echo static >"$www/index.html"   # readiness checks that take no php-fpm connection
    chmod -R a+rX "$www"
    {
        printf '[global]\npid = %s/fpm.pid\nerror_log = %s/error.log\ndaemonize = no\n' "$work/fpm" "$work/fpm"
        printf '[bench]\nlisten = 127.0.0.1:%s\nlisten.backlog = 4096\npm = static\npm.max_children = 8\npm.max_requests = 0\n' "$fpm"
        [ "$root" = 1 ] && printf 'user = root\ngroup = root\n'
    } >"$work/fpm/fpm.conf"
    local rflag=(); [ "$root" = 1 ] && rflag=(-R)
    start_bg "$work/fpm/stdout.log" "$FPM" -F "${rflag[@]}" -y "$work/fpm/fpm.conf"
    for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$fpm") 2>/dev/null && break; sleep 0.1; done

    d=$work/php-mpmd; mkdir -p "$d"
    { mpmd_conf "$p_m" "$d" event 2 25 "$www"
      printf '<FilesMatch \\.php$>\n  SetHandler "proxy:fcgi://127.0.0.1:%s"\n</FilesMatch>\n' "$fpm"; } >"$d/mpmd.conf"
    start_mpmd php-mpmd "$d/mpmd.conf" "$p_m" /index.html && check_body mpmd "http://127.0.0.1:$p_m/hello.php" "Hello, world" &&
        targets+=("mpmd=http://127.0.0.1:$p_m/hello.php")
    local mpid=$started kids; kids=$(kids_of "$mpid")

    # mpmd-reuse: kept connections (enablereuse=On; max=4 per child x 2
    # children = pm.max_children, php-fpm's rule: each open connection holds
    # a php-fpm child).  Skipped if this mpmd rejects it.
    php_mpid_r=""; php_kids_r=""
    d=$work/php-mpmd-reuse; mkdir -p "$d"
    { mpmd_conf "$p_r" "$d" event 2 25 "$www"
      printf 'ProxyPass /fpm/ fcgi://127.0.0.1:%s%s/ enablereuse=On max=4\n' "$fpm" "$www"; } >"$d/mpmd.conf"
    if ! "$work/mpmd" -t -f "$d/mpmd.conf" >"$d/t.log" 2>&1; then
        echo "mpmd-reuse: skipped: mpmd rejects $(tail -1 "$d/mpmd.conf"): $(grep -v '^Syntax OK' "$d/t.log" | head -1)"
    elif php_up mpmd-reuse && check_body mpmd-reuse "http://127.0.0.1:$p_r/fpm/hello.php" "Hello, world"; then
        targets+=("mpmd-reuse=http://127.0.0.1:$p_r/fpm/hello.php")
        php_kids_r=$(kids_of "$php_mpid_r")
    fi

    d=$work/php-nginx; mkdir -p "$d/temp"
    # keepalive is per worker: 2 x 4 idle connections = pm.max_children.
    # keepalive_timeout 1s: the idle ones close after 1 s (mpmd's ttl default).
    nginx_conf "$p_n" "$d" "
  upstream fpm { server 127.0.0.1:$fpm; keepalive 4; keepalive_requests 10000000; keepalive_timeout 1s; }
  server {
    listen 127.0.0.1:$p_n backlog=4096;
    root $www;
    location ~ \\.php\$ {
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
      fastcgi_pass fpm;
      fastcgi_keep_conn on;
    }
  }
  # nginx-close: nginx's default, a connection per request.
  server {
    listen 127.0.0.1:$p_nc backlog=4096;
    root $www;
    location ~ \\.php\$ {
      include /etc/nginx/fastcgi_params;
      fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
      fastcgi_pass 127.0.0.1:$fpm;
    }
  }" >"$d/nginx.conf"
    if php_up nginx; then
        check_body nginx "http://127.0.0.1:$p_n/hello.php" "Hello, world" &&
            targets+=("nginx=http://127.0.0.1:$p_n/hello.php")
        check_body nginx-close "http://127.0.0.1:$p_nc/hello.php" "Hello, world" &&
            targets+=("nginx-close=http://127.0.0.1:$p_nc/hello.php")
    fi

    d=$work/php-apache; mkdir -p "$d"
    apache_conf "$p_a" "$d" "LoadModule proxy_module /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_fcgi_module /usr/lib/apache2/modules/mod_proxy_fcgi.so
DocumentRoot $www
<Directory $www>
  Require all granted
</Directory>
<FilesMatch \\.php\$>
  SetHandler \"proxy:fcgi://127.0.0.1:$fpm/\"
</FilesMatch>
# max=4 per child x 2 = pm.max_children: with the default max (ThreadsPerChild)
# 24 of the 32 connections sat in php-fpm's backlog behind kept connections.
<Proxy \"fcgi://127.0.0.1:$fpm/\">
  ProxySet enablereuse=on max=4
</Proxy>" >"$d/apache2.conf"
    php_up apache && check_body apache "http://127.0.0.1:$p_a/hello.php" "Hello, world" &&
        targets+=("apache=http://127.0.0.1:$p_a/hello.php")

    # Start every measurement with all 8 php-fpm children free.
    php_restart mpmd-reuse; php_restart nginx; php_restart apache
    [ ${#targets[@]} -gt 0 ] && BEFORE_HOOK=php_before AFTER_HOOK=php_restart rounds php "c32:32" "${targets[@]}"
    table php "mpmd mpmd-reuse nginx nginx-close apache"
    mpmd_report php "$work/php-mpmd" "$mpid" "$kids"
    [ -n "$php_mpid_r" ] && mpmd_report php-reuse "$work/php-mpmd-reuse" "$php_mpid_r" "$php_kids_r"
    peer_log_report nginx "$work/php-nginx/error.log"
    peer_log_report apache "$work/php-apache/error.log"
    peer_log_report php-fpm "$work/fpm/error.log"
    stop_all
}
# (Re)start one of the php row's kept-connection servers (readiness on a
# static file, so no php-fpm connection is left open).
declare -A php_pid
php_up() {  # LABEL
    case $1 in
        mpmd-reuse) start_mpmd php-mpmd-reuse "$work/php-mpmd-reuse/mpmd.conf" "$php_p_r" /index.html || return 1
                    php_mpid_r=$started;;
        nginx) start_nginx nginx "$work/php-nginx" "$php_p_n" /index.html || return 1;;
        apache) start_apache apache "$work/php-apache" "$php_p_a" /index.html || return 1;;
        *) return 0;;
    esac
    php_pid[$1]=$started
}
php_restart() {  # LABEL: after its run, a server that keeps connections starts afresh
    case $1 in
        mpmd-reuse|nginx|apache) [ -n "${php_pid[$1]:-}" ] || return 0
            stop_pid "${php_pid[$1]}"
            php_up "$1" || echo "WARNING: php: $1 did not restart"
            [ "$1" = mpmd-reuse ] && php_kids_r=$(kids_of "$php_mpid_r");;
    esac
    return 0
}
php_before() {  # LABEL: wait (up to 10 s) until no connection holds a php-fpm child
    local n
    for _ in $(seq 100); do
        n=$(ss -Htn state established "( dport = :$php_fpm_port )" 2>/dev/null | wc -l)
        [ "$n" = 0 ] && return 0
        sleep 0.1
    done
    echo "WARNING: php: $n connections still open to php-fpm before $1's run"
}

# ---- row: cgi ---------------------------------------------------------------
row_cgi() {
    local p_m p_a d targets=() cgi=$work/cgi
    read -r p_m p_a <<<"$(free_ports 2)"
    echo
    echo "## cgi: GET /cgi-bin/hello.sh (#!/bin/sh printf), wrk -t1 -c8, ${DUR}s"
    mkdir -p "$cgi"
    printf '#!/bin/sh\nprintf '"'"'Content-Type: text/plain\\n\\nHello\\n'"'"'\n' >"$cgi/hello.sh"
    chmod 755 "$cgi" "$cgi/hello.sh"
    d=$work/cgi-mpmd; mkdir -p "$d/www"
    { mpmd_conf "$p_m" "$d" event 2 25; printf 'ScriptAlias /cgi-bin/ %s/\nCGIScriptTimeout 30\n' "$cgi"; } >"$d/mpmd.conf"
    start_mpmd cgi-mpmd "$d/mpmd.conf" "$p_m" /cgi-bin/hello.sh && check_body mpmd "http://127.0.0.1:$p_m/cgi-bin/hello.sh" Hello &&
        targets+=("mpmd=http://127.0.0.1:$p_m/cgi-bin/hello.sh")
    local mpid=$started kids; kids=$(kids_of "$mpid")
    d=$work/cgi-apache; mkdir -p "$d"
    apache_conf "$p_a" "$d" "LoadModule cgid_module /usr/lib/apache2/modules/mod_cgid.so
ScriptSock $d/cgid.sock
ScriptAlias /cgi-bin/ $cgi/
<Directory $cgi>
  Require all granted
</Directory>" >"$d/apache2.conf"
    start_apache apache "$d" "$p_a" /cgi-bin/hello.sh && check_body apache "http://127.0.0.1:$p_a/cgi-bin/hello.sh" Hello &&
        targets+=("apache=http://127.0.0.1:$p_a/cgi-bin/hello.sh")
    [ ${#targets[@]} -gt 0 ] && rounds cgi "c8:8" "${targets[@]}"
    table cgi "mpmd apache"
    mpmd_report cgi "$work/cgi-mpmd" "$mpid" "$kids"
    peer_log_report apache "$work/cgi-apache/error.log"
    stop_all
}

# ---- row: model -------------------------------------------------------------
# 1x1 ("prefork": a thread per connection, one of them), 16 children x 1
# thread ("prefork 16"), worker 2x25, event 2x25 and event 1x1 (a proxied
# GET waits in the listener, holding no thread), and nginx.
row_model() {
    LOG_EXPECTED="AH10159|reached MaxRequestWorkers" model_row "prefork-1x1:worker:1:1 prefork-16x1:worker:16:1 worker-2x25:worker:2:25 event-2x25:event:2:25 event-1x1:event:1:1" nginx
}

# ---- row: spawn -------------------------------------------------------------
row_spawn() {
    echo
    echo "## spawn: /bin/true x $SPAWNS from a process with 1 GiB touched and 30 threads (spawn-cost.c)"
    "$CC" -O2 -pthread -o "$work/spawn-cost" "$here/spawn-cost.c" || { echo "spawn: cannot build spawn-cost.c"; return 0; }
    "$work/spawn-cost" -n "$SPAWNS" -m 1024 -t 30 -r "$SPAWN_ROUNDS" /bin/true
}

for row in $ROWS; do
    case $row in
        proxy|php|cgi|model|spawn) "row_$row";;
        *) echo "bench-upstreams.sh: unknown row '$row' (proxy php cgi model spawn)" >&2;;
    esac
done
