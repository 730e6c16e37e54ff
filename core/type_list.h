/*
 * type_list.h -- a list of media types (the gzip_types key): checked and
 * normalized when the config is read, matched against a response's
 * Content-Type.  Plain C, unit-tested in tests/unit/test_type_list.c.
 */
#ifndef KILN_TYPE_LIST_H
#define KILN_TYPE_LIST_H

#include <stddef.h>

/* What [server] gzip_types is when the config does not set it. */
#define TYPE_LIST_DEFAULT                                                      \
    "text/* application/json application/javascript application/xml "        \
    "application/wasm application/*+json application/*+xml image/svg+xml "    \
    "font/ttf font/otf"

/*
 * Checks `value`, entries separated by spaces or tabs, each a lone star
 * (any type), "type/" and a star (any subtype), "type/" a star and
 * "+suffix" (any subtype with that structured suffix: "application/" star
 * "+json" takes application/problem+json), or "type/subtype" (RFC 9110
 * tokens), and writes it to out[0..outlen) in lower case, one space
 * between entries.  0, or -1 with the reason in why.
 */
int type_list_parse(const char *value, char *out, size_t outlen, char *why,
                    size_t whylen);

/*
 * Whether `content_type` (a Content-Type value of len bytes: "Text/HTML;
 * charset=utf-8"; parameters and white space ignored, case too) is in
 * `list` (as type_list_parse wrote it).  An empty type matches nothing.
 */
int type_list_match(const char *list, const char *content_type, size_t len);

#endif
