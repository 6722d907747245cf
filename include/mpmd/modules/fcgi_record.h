/* fcgi_record.h: the FastCGI 1.0 record layer (FastCGI specification,
 * sections 3 and 5): record headers, BEGIN_REQUEST, name-value pairs
 * gathered into PARAMS records, and an incremental decoder of the records
 * an application sends back.
 *
 * Pure code, no I/O: the FastCGI handler does the reading and writing.
 * Every object here belongs to one request and is used by one thread at
 * a time (the handler thread running that request); nothing is shared. */
#ifndef MPMD_FCGI_RECORD_H
#define MPMD_FCGI_RECORD_H

#include <stddef.h>
#include <stdint.h>

/* Record types (spec 8). */
enum fcgi_type {
    FCGI_BEGIN_REQUEST = 1,
    FCGI_ABORT_REQUEST = 2,
    FCGI_END_REQUEST = 3,
    FCGI_PARAMS = 4,
    FCGI_STDIN = 5,
    FCGI_STDOUT = 6,
    FCGI_STDERR = 7,
    FCGI_DATA = 8,
    FCGI_GET_VALUES = 9,
    FCGI_GET_VALUES_RESULT = 10,
    FCGI_UNKNOWN_TYPE = 11
};

#define FCGI_HEADER_LEN 8      /* every record starts with this header */
#define FCGI_RESPONDER 1       /* BEGIN_REQUEST role */
#define FCGI_KEEP_CONN 1       /* BEGIN_REQUEST flag: the application keeps the connection */
#define FCGI_MAX_CONTENT 65535 /* content bytes one record can carry */

/* Write the 8-byte record header (version 1, big-endian fields) into OUT:
 * TYPE, REQUEST_ID (0..65535; 0 is for management records), CONTENT_LEN
 * (<= FCGI_MAX_CONTENT) and PADDING (<= 255) bytes following it.  Larger
 * values are the caller's bug: they are truncated to the field width.
 * Any thread, no allocation. */
void fcgi_record_header(unsigned char out[FCGI_HEADER_LEN], int type, unsigned request_id,
                        size_t content_len, size_t padding);

/* A whole BEGIN_REQUEST record (header + 8-byte body, 16 bytes) into OUT:
 * ROLE (FCGI_RESPONDER) and FLAGS (0 or FCGI_KEEP_CONN).  Any thread. */
void fcgi_begin_request(unsigned char out[16], unsigned request_id, int role, int flags);

/* Name-value pairs (spec 3.4) gathered into PARAMS records, ready to send.
 * Owned by the caller (one handler thread); fields are read-only outside
 * fcgi_record.c, except that buf/len may be read once finished. */
struct fcgi_params {
    unsigned char *buf; /* owned: complete PARAMS records (headers included) */
    size_t len, cap;
    size_t rec_start;   /* offset of the record being filled (== len: none open) */
    unsigned request_id;
    int failed;         /* out of memory, or a pair larger than allowed: every later call
                         * is a no-op */
};

/* Start an empty stream of PARAMS records for REQUEST_ID.  Allocates
 * nothing yet; pair with fcgi_params_free. */
void fcgi_params_init(struct fcgi_params *p, unsigned request_id);

/* Append one pair: NAME (NLEN bytes) and VALUE (VLEN bytes; NULL is fine
 * when VLEN is 0), lengths encoded in 1 byte below 128, else 4 bytes with
 * the top bit set.  A pair may span records: a record is closed when it
 * holds FCGI_MAX_CONTENT bytes and the pair goes on in the next one.
 * Names and values up to 1 MiB each; a longer one, or running out of
 * memory, sets failed.  Returns 0, or -1 when failed (now or before).
 * Not after fcgi_params_finish. */
int fcgi_params_add(struct fcgi_params *p, const char *name, size_t nlen, const char *value,
                    size_t vlen);

/* fcgi_params_add with NUL-terminated NAME and VALUE. */
int fcgi_params_add_str(struct fcgi_params *p, const char *name, const char *value);

/* Close the last record and append the empty PARAMS record that ends the
 * stream.  Returns 0, or -1 when failed.  Afterwards buf/len are the
 * bytes to send (still owned by P); call once. */
int fcgi_params_finish(struct fcgi_params *p);

/* Free the buffer; P may be initialised again. */
void fcgi_params_free(struct fcgi_params *p);

/* What fcgi_decode found. */
enum fcgi_event {
    FCGI_EV_MORE = 0, /* all of IN consumed (or need more bytes) */
    FCGI_EV_STDOUT,   /* *DATA, *DLEN: content bytes (pointing into IN) */
    FCGI_EV_STDERR,
    FCGI_EV_END,      /* END_REQUEST: app_status, protocol_status set */
    FCGI_EV_ERROR     /* protocol error: error says why (static string) */
};

/* Incremental decoder of the records an application sends back for one
 * request.  Owned by the handler thread running the request; the fields
 * are private to fcgi_record.c but for app_status, protocol_status and
 * error, which the caller reads after END / ERROR. */
struct fcgi_decoder {
    unsigned request_id;
    unsigned char hdr[FCGI_HEADER_LEN]; /* the current record's header */
    size_t hdr_got;                     /* bytes of it in */
    int type;                           /* the current record's type, id, */
    unsigned rec_id;                    /* and what is left of it */
    size_t content_left, padding_left;
    unsigned char end_body[8];          /* END_REQUEST body for our id */
    size_t end_got;
    uint32_t app_status;                /* END_REQUEST: the application's exit status */
    int protocol_status;                /* END_REQUEST: FCGI_REQUEST_COMPLETE (0), ... */
    const char *error;                  /* after FCGI_EV_ERROR */
};

/* Ready D to decode the records of REQUEST_ID.  Allocates nothing. */
void fcgi_decoder_init(struct fcgi_decoder *d, unsigned request_id);

/* Consume bytes from IN (LEN bytes): *USED gets how many were consumed
 * (call again with IN + *USED for the rest).  Returns one event per call:
 *   FCGI_EV_MORE    all of IN consumed, nothing to report;
 *   FCGI_EV_STDOUT / FCGI_EV_STDERR  *DATA, *DLEN (> 0): content bytes of
 *                   a STDOUT / STDERR record, pointing into IN.  Data is
 *                   returned piecewise as it arrives (a record split
 *                   across calls gives several events); zero-length
 *                   records (stream ends) give no event;
 *   FCGI_EV_END     our END_REQUEST record (its padding included) was
 *                   consumed: app_status and protocol_status are set;
 *   FCGI_EV_ERROR   error says why: a version other than 1, an
 *                   END_REQUEST for our id whose content is not 8 bytes,
 *                   or a record type an application must not send
 *                   (BEGIN_REQUEST, ABORT_REQUEST, PARAMS, STDIN, DATA,
 *                   GET_VALUES) for our id.
 * Records of other request ids (management records included), and
 * GET_VALUES_RESULT, UNKNOWN_TYPE and types beyond the spec for our id,
 * are skipped.  After END or ERROR the decoder consumes nothing more
 * (*USED = 0) and returns the same event again.  Reads IN[0..LEN) only;
 * *DATA / *DLEN are only written for data events.  No allocation. */
enum fcgi_event fcgi_decode(struct fcgi_decoder *d, const unsigned char *in, size_t len,
                            size_t *used, const unsigned char **data, size_t *dlen);

#endif
