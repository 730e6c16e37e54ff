/*
 * plugin_util.h -- what several test plugins answer with: a JSON string of
 * a C string, and zlib's CRC-32 (zlib.crc32 in the tests) of some bytes.
 */
#ifndef KILN_TEST_PLUGIN_UTIL_H
#define KILN_TEST_PLUGIN_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <kiln.h>

/* Writes s as a JSON string: quotes, backslashes and control bytes escaped. */
static inline void json_str(kiln_req *req, const char *s)
{
    kiln_write(req, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            kiln_printf(req, "\\%c", c);
        else if (c < 0x20)
            kiln_printf(req, "\\u%04x", c);
        else
            kiln_write(req, s, 1);
    }
    kiln_write(req, "\"", 1);
}

/* zlib's CRC-32 of p[0..n), continued from `crc` (0 to start). */
static inline uint32_t crc32_more(uint32_t crc, const unsigned char *p, size_t n)
{
    static uint32_t table[256];
    uint32_t c = crc ^ 0xffffffffu;

    if (table[1] == 0)
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t v = i;

            for (int k = 0; k < 8; k++)
                v = v & 1 ? (v >> 1) ^ 0xedb88320u : v >> 1;
            table[i] = v;
        }
    while (n--)
        c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

static inline uint32_t crc32_of(const unsigned char *p, size_t n)
{
    return crc32_more(0, p, n);
}

#endif
