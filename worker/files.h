/*
 * files.h -- what a worker knows about the files it serves: the media-type
 * table (kiln_mime_type), loaded once at the worker's start, and the file
 * cache (file_cache.c) set up.
 */
#ifndef KILN_FILES_H
#define KILN_FILES_H

struct worker;

/* Loads cfg->mime_types (a warning when it cannot be read: every lookup
 * then finds nothing) and sets the file cache up. */
void files_init(struct worker *w);
void files_shutdown(void);

#endif
