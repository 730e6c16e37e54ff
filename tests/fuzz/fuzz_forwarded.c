/*
 * fuzz_forwarded.c -- libFuzzer harness of core/proxies.c and
 * worker/forwarded.c, called directly.
 *
 * Input: up to the first newline, a trusted_proxies list (parsed by
 * proxies_parse(); when it is refused, the error must be set and the list
 * is taken as empty); the rest, up to its first NUL, a header value read
 * as Forwarded, X-Forwarded-For and X-Forwarded-Proto/-Host.  Checks: an
 * address found is "unknown", an obfuscated "_name" (Forwarded only) or an
 * IP address in canonical text (it parses back to itself); a proto is
 * "", "http" or "https"; and with nothing trusted, X-Forwarded-For gives
 * what its rightmost entry alone gives.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forwarded.h"
#include "proxies.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void defect(const char *what, const char *value)
{
    fprintf(stderr, "fuzz_forwarded: %s (value \"%s\")\n", what, value);
    abort();
}

/* An IP address found must print back to itself. */
static void check_ip(const char *addr, const char *value)
{
    unsigned char a[16];
    char again[PROXIES_ADDRSTRLEN];

    if (proxies_addr_parse(addr, strlen(addr), a) < 0)
        defect("an address that does not parse", value);
    proxies_addr_format(a, again, sizeof again);
    if (strcmp(again, addr) != 0)
        defect("an address not in canonical text", value);
}

static void check_forwarded(const char *v, const struct proxies *tp)
{
    struct fwd_client c;

    if (!forwarded_client(v, tp, &c))
        return;
    if (c.addr[0] == '\0')
        defect("Forwarded: an empty address", v);
    if (strcmp(c.addr, "unknown") != 0 && c.addr[0] != '_')
        check_ip(c.addr, v);
    if (c.proto[0] && strcmp(c.proto, "http") != 0 && strcmp(c.proto, "https") != 0)
        defect("Forwarded: a proto other than http(s)", v);
    if (strlen(c.host) >= sizeof c.host)
        defect("Forwarded: host overflow", v);
}

static void check_xff(const char *v, const struct proxies *tp)
{
    static const struct proxies none;
    char addr[PROXIES_ADDRSTRLEN], alone[PROXIES_ADDRSTRLEN], last[256];
    int got, got_alone;

    if (forwarded_xff(v, tp, addr))
        check_ip(addr, v);
    got = forwarded_xff(v, &none, addr);
    if (!forwarded_last(v, last, sizeof last)) {
        if (got && strlen(v) < sizeof last)
            defect("X-Forwarded-For: an address from no entry", v);
        return;
    }
    got_alone = forwarded_xff(last, &none, alone);
    if (got != got_alone || (got && strcmp(addr, alone) != 0))
        defect("X-Forwarded-For untrusted: not its rightmost entry", v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1), *nl, *value, err[256] = "";
    struct proxies tp;
    const char *proto;

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    nl = strchr(text, '\n');
    value = nl ? nl + 1 : text + strlen(text);
    if (nl)
        *nl = '\0';
    if (proxies_parse(&tp, text, err, sizeof err) < 0) {
        if (err[0] == '\0')
            defect("a refused list without an error", text);
        tp.n = 0;
    }
    check_forwarded(value, &tp);
    check_xff(value, &tp);
    if (forwarded_last(value, err, sizeof err) && (proto = forwarded_proto(err)) != NULL &&
        strcmp(proto, "http") != 0 && strcmp(proto, "https") != 0)
        defect("a proto other than http(s)", value);
    free(text);
    return 0;
}
