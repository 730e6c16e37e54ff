/* test_forwarded.c -- core/proxies.c (trusted_proxies entries) and worker/forwarded.c (Forwarded, X-Forwarded-*), hostile input included. */
#include <stdlib.h>
#include <arpa/inet.h>
#include <string.h>

#include "forwarded.h"
#include "proxies.h"
#include "unit.h"

static struct proxies tp;

static void trust(const char *list)
{
    char err[256];

    if (proxies_parse(&tp, list, err, sizeof err) != 0) {
        printf("# trust(%s): %s\n", list, err);
        exit(1);
    }
}

/* Whether text parses as a list. */
static int list_ok(const char *text)
{
    struct proxies p;
    char err[256];

    return proxies_parse(&p, text, err, sizeof err) == 0;
}

static int matches(const char *addr)
{
    unsigned char a[16];

    return proxies_addr_parse(addr, strlen(addr), a) == 0 && proxies_match(&tp, a);
}

/* forwarded_client()'s address, or "-" for none. */
static const char *fwd(const char *v)
{
    static struct fwd_client c;

    return forwarded_client(v, &tp, &c) ? c.addr : "-";
}

static const char *xff(const char *v)
{
    static char a[PROXIES_ADDRSTRLEN];

    return forwarded_xff(v, &tp, a) ? a : "-";
}

static void test_lists(void)
{
    char err[256];
    struct proxies p;

    CHECK(list_ok(""), "an empty list");
    CHECK(list_ok("127.0.0.1, 10.0.0.0/8, ::1, fd00::/8"), "the documented example");
    CHECK(list_ok("127.0.0.1 10.0.0.0/8,,::1\t fd00::/8 ,"), "commas and spaces mixed");
    CHECK(list_ok("0.0.0.0/0 ::/0"), "everything");
    CHECK(list_ok("10.1.2.3/8"), "host bits past the prefix are ignored");
    CHECK(!list_ok("localhost"), "a name is refused");
    CHECK(!list_ok("10.0.0.0/33"), "an IPv4 prefix over 32");
    CHECK(!list_ok("::/129"), "an IPv6 prefix over 128");
    CHECK(!list_ok("10.0.0.0/"), "an empty prefix");
    CHECK(!list_ok("10.0.0.0/08"), "a prefix with a leading zero");
    CHECK(!list_ok("10.0.0.0/8/8"), "two prefixes");
    CHECK(!list_ok("010.0.0.1"), "an IPv4 octet with a leading zero");
    CHECK(!list_ok("1.2.3"), "three octets");
    CHECK(!list_ok("[::1]"), "brackets");
    CHECK(!list_ok("fe80::1%eth0"), "a zone");
    CHECK(!list_ok("::1:"), "a trailing colon");
    CHECK(!list_ok("1111:2222:3333:4444:5555:6666:7777:8888:9999"), "nine groups");
    CHECK(!list_ok("127.0.0.1;10.0.0.1"), "a semicolon");
    CHECK(proxies_parse(&p, "127.0.0.1 bogus ::1", err, sizeof err) < 0 &&
          strstr(err, "\"bogus\"") != NULL, "the error names the entry: %s", err);
    {
        char big[PROXIES_MAX * 12 + 16] = "";

        for (int i = 0; i <= PROXIES_MAX; i++)
            strcat(big, "10.0.0.1 ");
        CHECK(!list_ok(big), "more than %d entries", PROXIES_MAX);
    }
    {
        char big[4096];

        memset(big, '1', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        CHECK(!list_ok(big), "an overlong entry");
    }
}

static void test_match(void)
{
    char out[PROXIES_ADDRSTRLEN];
    unsigned char a[16];

    trust("127.0.0.1, 10.0.0.0/8, ::1, fd00::/8, 192.168.1.128/25");
    CHECK(matches("127.0.0.1"), "an address");
    CHECK(!matches("127.0.0.2"), "its neighbour");
    CHECK(matches("10.255.255.255") && !matches("11.0.0.0"), "a /8");
    CHECK(matches("192.168.1.200") && !matches("192.168.1.127"), "a /25");
    CHECK(matches("::ffff:10.1.2.3"), "an IPv4-mapped address matches the IPv4 prefix");
    CHECK(matches("::1") && !matches("::2"), "an IPv6 address");
    CHECK(matches("fdff::1") && !matches("fe00::1"), "an IPv6 /8");
    proxies_addr_parse("::ffff:192.0.2.1", 16, a);
    proxies_addr_format(a, out, sizeof out);
    CHECK_STR(out, "192.0.2.1", "a mapped address prints as IPv4");
    {
        unsigned bad = 0, seed = 12345;
        for (int i = 0; i < 5000; i++) {
            char want[INET_ADDRSTRLEN];
            seed = seed * 1103515245u + 12345u;
            memcpy(a + 12, &seed, 4);
            if (i < 4)
                memset(a + 12, (int[]){ 0, 255, 9, 100 }[i], 4);
            inet_ntop(AF_INET, a + 12, want, sizeof want);
            proxies_addr_format(a, out, sizeof out);
            bad += strcmp(out, want) != 0;
        }
        CHECK(bad == 0, "IPv4 prints as inet_ntop() prints it (5000 addresses)");
    }
    proxies_addr_parse("2001:0db8:0000::0001", 20, a);
    proxies_addr_format(a, out, sizeof out);
    CHECK_STR(out, "2001:db8::1", "IPv6 prints canonically");
    trust("");
    CHECK(!matches("127.0.0.1"), "an empty list trusts no one");
}

static void test_forwarded(void)
{
    struct fwd_client c;

    trust("127.0.0.1, 10.0.0.0/8, ::1");
    CHECK_STR(fwd("for=192.0.2.60"), "192.0.2.60", "one element");
    CHECK_STR(fwd("for=\"192.0.2.60:4711\""), "192.0.2.60", "quoted, with a port");
    CHECK_STR(fwd("For=\"[2001:db8:cafe::17]:4711\""), "2001:db8:cafe::17",
              "IPv6 in brackets with a port; the name in any case");
    CHECK_STR(fwd("for=\"[2001:db8:cafe::17]\""), "2001:db8:cafe::17", "IPv6 in brackets");
    CHECK_STR(fwd("for=unknown"), "unknown", "unknown");
    CHECK_STR(fwd("for=UnKnown"), "unknown", "unknown in any case, returned in lower case");
    CHECK_STR(fwd("for=_hidden, for=10.0.0.1"), "_hidden", "an obfuscated identifier");
    CHECK_STR(fwd("for=\"_x:_p\""), "_x", "obfuscated with an obfuscated port");
    CHECK_STR(fwd("for=192.0.2.1, for=10.0.0.2;proto=https"), "192.0.2.1",
              "a trusted hop skipped");
    CHECK_STR(fwd("for=6.6.6.6, for=192.0.2.1, for=10.0.0.2"), "192.0.2.1",
              "the spoofed leftmost is not read");
    CHECK_STR(fwd("for=\"[oops, for=192.0.2.1"), "-", "an unterminated quote: none");
    CHECK_STR(fwd("garbage!!, for=192.0.2.1"), "-", "a syntax error anywhere: none");
    CHECK_STR(fwd("for=10.0.0.1, for=127.0.0.1"), "10.0.0.1", "all trusted: the leftmost");
    CHECK_STR(fwd("for=192.0.2.1;for=192.0.2.2"), "-", "for= twice in an element");
    CHECK_STR(fwd("proto=https"), "-", "no for=");
    CHECK_STR(fwd("for=[::1]"), "-", "unquoted brackets are not a token");
    CHECK_STR(fwd("for=\"::1\""), "-", "IPv6 without brackets");
    CHECK_STR(fwd("for=\"[1.2.3.4]\""), "-", "IPv4 in brackets");
    CHECK_STR(fwd("for=\"[::1\""), "-", "a bracket not closed");
    CHECK_STR(fwd("for=\"[::1]x\""), "-", "bytes after the bracket");
    CHECK_STR(fwd("for=\"1.2.3.4:99999\""), "-", "a port over 65535");
    CHECK_STR(fwd("for=\"1.2.3.4:\""), "-", "an empty port");
    CHECK_STR(fwd("for=1.2.3.4 ; proto=http ;; by=x"), "1.2.3.4", "white space and empty pairs");
    CHECK_STR(fwd("for=\"\\1.2.3.4\""), "1.2.3.4", "a quoted-pair");
    CHECK_STR(fwd("for=\"1.2.3.4\x01\""), "-", "a control byte in quotes");
    CHECK_STR(fwd(""), "-", "empty");
    CHECK_STR(fwd(",,,, ,,"), "-", "commas only");
    CHECK_STR(fwd("for=1.2.3.4 x"), "-", "a stray word");
    CHECK_STR(fwd("for="), "-", "an empty value");
    CHECK_STR(fwd("=1.2.3.4"), "-", "an empty name");
    CHECK(forwarded_client("for=192.0.2.1;proto=HTTPS;host=\"example.com:8443\", for=10.0.0.1;proto=http;host=inner",
                           &tp, &c) == 1 && strcmp(c.proto, "https") == 0 &&
          strcmp(c.host, "example.com:8443") == 0,
          "proto and host come from the client's element: %s %s", c.proto, c.host);
    CHECK(forwarded_client("for=192.0.2.1;proto=gopher", &tp, &c) == 1 && c.proto[0] == '\0',
          "a proto other than http(s) is not taken");
    {
        char big[8192] = "";

        for (int i = 0; i < FWD_MAX_HOPS + 1; i++)
            strcat(big, "for=10.0.0.1,");
        strcat(big, "for=10.0.0.1");
        CHECK_STR(fwd(big), "-", "more than %d elements", FWD_MAX_HOPS);
        memset(big, ',', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        memcpy(big + sizeof big - 14, "for=192.0.2.9", 13);
        CHECK_STR(fwd(big), "192.0.2.9", "a comma storm before an element");
        memset(big, 'a', sizeof big - 1);
        memcpy(big, "for=\"", 5);
        big[sizeof big - 2] = '"';
        CHECK_STR(fwd(big), "-", "an overlong quoted value");
    }
}

static void test_xff(void)
{
    char out[16];

    trust("127.0.0.1, 10.0.0.0/8, ::1");
    CHECK_STR(xff("192.0.2.1"), "192.0.2.1", "one entry");
    CHECK_STR(xff("192.0.2.1, 10.0.0.1,127.0.0.1"), "192.0.2.1", "trusted hops skipped");
    CHECK_STR(xff("6.6.6.6, 192.0.2.1, 10.0.0.1"), "192.0.2.1", "the spoofed leftmost is not read");
    CHECK_STR(xff("garbage, 192.0.2.1"), "192.0.2.1", "garbage left of the client is not read");
    CHECK_STR(xff("192.0.2.1, garbage"), "-", "garbage before the client: none");
    CHECK_STR(xff("10.0.0.1, ::1"), "10.0.0.1", "all trusted: the leftmost");
    CHECK_STR(xff("2001:db8::1"), "2001:db8::1", "bare IPv6");
    CHECK_STR(xff("[2001:db8::1]:443"), "2001:db8::1", "bracketed IPv6 with a port");
    CHECK_STR(xff("192.0.2.1:8080"), "192.0.2.1", "IPv4 with a port");
    CHECK_STR(xff("::ffff:192.0.2.7"), "192.0.2.7", "a mapped address as IPv4");
    CHECK_STR(xff("192.0.2.1:"), "-", "an empty port");
    CHECK_STR(xff("[2001:db8::1"), "-", "a bracket not closed");
    CHECK_STR(xff("unknown"), "-", "unknown is not an X-Forwarded-For address");
    CHECK_STR(xff(" ,, 192.0.2.1 ,,, "), "192.0.2.1", "empty entries skipped");
    CHECK_STR(xff(""), "-", "empty");
    CHECK_STR(xff(",,,,"), "-", "commas only");
    {
        char big[8192] = "";

        for (int i = 0; i < FWD_MAX_HOPS + 1; i++)
            strcat(big, "10.0.0.1,");
        CHECK_STR(xff(big), "-", "more than %d trusted hops", FWD_MAX_HOPS);
        memset(big, '9', sizeof big - 1);
        big[sizeof big - 1] = '\0';
        CHECK_STR(xff(big), "-", "an overlong entry");
    }
    CHECK(forwarded_last("https, http", out, sizeof out) && strcmp(out, "http") == 0,
          "the rightmost entry");
    CHECK(forwarded_last(" https ,, ", out, sizeof out) && strcmp(out, "https") == 0,
          "trimmed, empty entries skipped");
    CHECK(!forwarded_last(" , ", out, sizeof out), "no entry");
    CHECK(!forwarded_last("a-very-long-host.example", out, sizeof out), "too long for out");
    CHECK(forwarded_proto("HTTPS") && strcmp(forwarded_proto("HTTPS"), "https") == 0 &&
          forwarded_proto("ftp") == NULL, "forwarded_proto");
}

int main(void)
{
    test_lists();
    test_match();
    test_forwarded();
    test_xff();
    return unit_done();
}
