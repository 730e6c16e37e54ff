/* files.c -- the files a worker serves: media types by extension (kiln_mime_type), from the mime.types file of the config, read once at start by core/mime.c, and the file cache set up (file_cache.c). */
#include <stddef.h>

#include "config.h"
#include "file_cache.h"
#include "files.h"
#include "kiln.h"
#include "log.h"
#include "mime.h"
#include "worker.h"

static struct mime_table *types;    /* NULL: none loaded */

void files_init(struct worker *w)
{
    char err[512];

    file_cache_init(w->loop, w->cfg->file_cache, w->cfg->max_cached_file_size);
    if (w->cfg->mime_types == NULL)
        return;
    types = mime_load(w->cfg->mime_types, err, sizeof(err));
    if (types == NULL)
        log_warn("mime_types: %s; no media type is known by extension", err);
    else
        log_debug("mime_types: %zu extensions from %s", mime_count(types),
                  w->cfg->mime_types);
}

void files_shutdown(void)
{
    file_cache_shutdown();
    mime_free(types);
    types = NULL;
}

KILN_EXPORT const char *kiln_mime_type(const char *path, const char *def)
{
    const char *t = mime_lookup(types, path);

    return t ? t : def;
}
