/*
 * json.h -- the request's JSON value (kiln_json_body), released with the
 * request; json.c is the one file that includes jansson.h.
 */
#ifndef KILN_JSON_H
#define KILN_JSON_H

struct kiln_req;

/* Drops the request's parsed body, if any (when the request ends). */
void json_release(struct kiln_req *req);

#endif
