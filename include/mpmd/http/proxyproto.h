/* proxyproto.h: the PROXY protocol header (HAProxy's proxy-protocol.txt,
 * versions 1 and 2) that a load balancer sends before a relayed
 * connection's first byte, naming the client it accepted.
 *
 * A pure parser: no I/O, no allocation, no state between calls; any
 * thread may call it.  conn.c feeds it the start of a connection accepted
 * on a Listen marked for the protocol. */
#ifndef MPMD_PROXYPROTO_H
#define MPMD_PROXYPROTO_H

#include <stddef.h>
#include <sys/socket.h>

/* A v1 line, CRLF included, is never longer than this (the spec's limit). */
#define PP_V1_MAX 107
/* A v2 header's fixed part: signature, version/command, family, length. */
#define PP_V2_FIXED 16

enum pp_status {
    PP_ERROR = -1,      /* not a valid PROXY header: drop the connection */
    PP_NEED_MORE = 0,   /* a valid header's start so far: read more and call again */
    PP_DONE = 1,        /* a whole header: see struct pp_result */
};

struct pp_result {
    size_t consumed;              /* PP_DONE: the header's bytes (the request follows) */
    int version;                  /* PP_DONE: 1 or 2 */
    int local;                    /* PP_DONE: 1 when the header names no client (v2
                                   * LOCAL, v1 UNKNOWN, v2 UNSPEC / UNIX / unknown
                                   * transport): keep the socket's own addresses */
    struct sockaddr_storage src;  /* PP_DONE and !local: the client (AF_INET or
                                   * AF_INET6, port included) */
    struct sockaddr_storage dst;  /* PP_DONE and !local: the address it connected to */
    const char *error;            /* PP_ERROR: why, a static string */
};

/* Parse a PROXY header at the start of BUF (LEN bytes so far).  Strict:
 * anything the spec forbids (a leading zero, two spaces, a bad family, a
 * v2 command other than LOCAL/PROXY, a TLV running past the header, no
 * CRLF in the first 107 bytes) is PP_ERROR, and so is a first byte that
 * begins neither version.  PP_NEED_MORE only while every byte so far
 * could begin a valid header.  Fills *R (always: R->error on PP_ERROR). */
enum pp_status pp_parse(const unsigned char *buf, size_t len, struct pp_result *r);

#endif
