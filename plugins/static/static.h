/* static.h -- what the static plugin's files share: its settings, and the listing (listing.c). */
#ifndef KILN_STATIC_H
#define KILN_STATIC_H

#include <kiln.h>

struct static_conf {
    int root;                   /* the root directory, opened once (O_PATH) */
    unsigned flags;             /* KILN_FILE_* from symlinks, precompressed, cache */
    const char *index;          /* "index.html"; "" for none */
    int listing;                /* directories without an index listed */
    int hidden;                 /* dot-files served and listed */
};

/* The HTML listing of directory `path` ("" or "dir/") under the root:
 * sorted, dot-files left out unless conf->hidden, symbolic links left out
 * when none are followed; 404 when it is no directory kiln may open. */
int listing_answer(kiln_req *req, const struct static_conf *conf, const char *path);

#endif
