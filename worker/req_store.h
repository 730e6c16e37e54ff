/*
 * req_store.h -- values a plugin keeps on a request (kiln_req_set/get,
 * req_store.c): what http.c and conn.c call when the request ends.
 */
#ifndef KILN_REQ_STORE_H
#define KILN_REQ_STORE_H

struct kiln_req;

/*
 * Runs the free function of every value set on req, once each, in the
 * order they were set, with the plugin that set it as the running one,
 * and empties the store.  Called when the request ends (answered,
 * cancelled, its connection gone), before its pool is reset.
 */
void req_store_clear(struct kiln_req *req);

#endif
