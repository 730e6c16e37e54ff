/*
 * fuzz_config.c -- libFuzzer harness of core/config.c: the input is the
 * text of a kiln.conf, read by config_load() from an anonymous file, then
 * queried as kiln does (plugin values, unclaimed sections, listen
 * addresses) and freed.  A failure must come with "FILE:LINE: message" or
 * "FILE: message"; nothing may leak, loaded or not.
 */
#define _GNU_SOURCE                 /* memfd_create */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void defect(const char *what, const char *err)
{
    fprintf(stderr, "fuzz_config: %s (error \"%s\")\n", what, err);
    abort();
}

static void count_warning(const char *msg, void *arg)
{
    if (msg == NULL || msg[0] == '\0')
        defect("an empty warning", "");
    ++*(size_t *)arg;
}

/* The file the text is read from: a memfd, rewritten for each input. */
static int text_file(const uint8_t *data, size_t size, char *path, size_t pathlen)
{
    static int fd = -1;

    if (fd < 0 && (fd = memfd_create("kiln.conf", MFD_CLOEXEC)) < 0) {
        perror("fuzz_config: memfd_create");
        abort();
    }
    if (ftruncate(fd, 0) < 0 || (size > 0 && pwrite(fd, data, size, 0) != (ssize_t)size)) {
        perror("fuzz_config: writing the text");
        abort();
    }
    snprintf(path, pathlen, "/proc/self/fd/%d", fd);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const plugins[] = { "hello", "echo" };
    char path[64], err[512];
    struct config c;
    size_t warned = 0;
    int rc;

    text_file(data, size, path, sizeof path);
    config_defaults(&c);
    memset(err, 'x', sizeof err);
    rc = config_load(&c, path, err, sizeof err);
    if (memchr(err, '\0', sizeof err) == NULL)
        defect("the error is not terminated", "");
    if (rc != 0 && rc != -1)
        defect("config_load() returned neither 0 nor -1", err);
    if (rc < 0 && (strncmp(err, path, strlen(path)) != 0 || err[strlen(path)] != ':'))
        defect("an error without FILE: or FILE:LINE:", err);
    if (rc == 0) {
        if (c.nlisten == 0 || c.nlisten > CONFIG_MAX_LISTEN)
            defect("a config that listens nowhere, or too much", err);
        for (size_t i = 0; i < c.nlisten; i++)
            if (!config_listens_on(&c, c.listen[i]))
                defect("a listen address it does not listen on", c.listen[i]);
        for (size_t i = 0; i < c.nkv; i++)
            if (config_plugin_value(&c, c.kv[i].section, c.kv[i].key) == NULL)
                defect("a plugin key that reads as absent", c.kv[i].key);
        config_unclaimed_sections(&c, plugins, 2, count_warning, &warned);
        for (size_t i = 0; i < c.nwarnings; i++)
            if (strncmp(c.warnings[i], path, strlen(path)) != 0)
                defect("a warning without FILE:LINE:", c.warnings[i]);
    }
    config_free(&c);
    return 0;
}
