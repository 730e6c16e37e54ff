/* test_type_list.c -- unit tests of core/type_list.c: gzip_types lists checked and normalized, and Content-Type values matched against them. */
#include <string.h>

#include "type_list.h"
#include "unit.h"

static void parses(const char *value, const char *want)
{
    char out[256], why[128] = "";
    int rc = type_list_parse(value, out, sizeof(out), why, sizeof(why));

    CHECK(rc == 0, "\"%s\" parses (%s)", value, why);
    if (rc == 0)
        CHECK_STR(out, want, "\"%s\" normalized", value);
}

static void refused(const char *value, const char *why_has)
{
    char out[64], why[128] = "";
    int rc = type_list_parse(value, out, sizeof(out), why, sizeof(why));

    CHECK(rc == -1, "\"%s\" is refused", value);
    CHECK(strstr(why, why_has) != NULL, "\"%s\": \"%s\" says \"%s\"", value, why, why_has);
}

static void match(const char *list, const char *type, int want)
{
    int got = type_list_match(list, type, strlen(type));

    CHECK(got == want, "\"%s\" in \"%s\": %d (got %d)", type, list, want, got);
}

int main(void)
{
    char def[512], why[128];

    /* Syntax: entries, case, white space. */
    parses("text/html", "text/html");
    parses("  Text/HTML\tapplication/JSON  ", "text/html application/json");
    parses("*", "*");
    parses("text/* image/svg+xml", "text/* image/svg+xml");
    parses("application/vnd.api+json", "application/vnd.api+json");
    parses("application/*+JSON", "application/*+json");
    refused("", "expected media types");
    refused("   ", "expected media types");
    refused("text", "\"text\" is not type/subtype");
    refused("text/", "\"text/\"");
    refused("/html", "\"/html\"");
    refused("*/html", "\"*/html\"");
    refused("text/h*", "\"text/h*\"");
    refused("application/*+", "\"application/*+\"");
    refused("application/*json", "\"application/*json\"");
    refused("application/*+js*n", "\"application/*+js*n\"");
    refused("text/html,application/json", "\"text/html,application/json\"");
    refused("text/html;charset=utf-8", "is not type/subtype");
    refused("text/html application/json application/javascript application/xml",
            "longer than 63");
    CHECK(type_list_parse(TYPE_LIST_DEFAULT, def, sizeof(def), why, sizeof(why)) == 0,
          "the default list parses");

    /* Matching: parameters, white space and case ignored. */
    match("text/html", "text/html", 1);
    match("text/html", "TEXT/Html; charset=utf-8", 1);
    match("text/html", " text/html ;q=1", 1);
    match("text/html", "text/htm", 0);
    match("text/html", "text/html5", 0);
    match("text/html", "text/plain", 0);
    match("text/*", "text/plain; charset=utf-8", 1);
    match("text/*", "Text/CSS", 1);
    match("text/*", "textual/plain", 0);
    match("text/*", "tex/plain", 0);
    match("text/*", "application/json", 0);
    match("application/*+json", "application/problem+json", 1);
    match("application/*+json", "Application/LD+JSON; charset=utf-8", 1);
    match("application/*+json", "application/json", 0);
    match("application/*+json", "application/+json", 0);
    match("application/*+json", "application/jsonx", 0);
    match("application/*+json", "text/problem+json", 0);
    match("application/*+xml", "application/atom+xml", 1);
    match("*", "image/png", 1);
    match("*", "", 0);
    match("text/html", "", 0);
    match("text/html", " ; charset=utf-8", 0);
    match("a/b c/d text/html", "text/html", 1);
    match(def, "application/json", 1);
    match(def, "application/json; charset=utf-8", 1);
    match(def, "image/svg+xml", 1);
    match(def, "application/manifest+json", 1);
    match(def, "application/rss+xml", 1);
    match(def, "text/event-stream", 1);
    match(def, "image/png", 0);
    match(def, "application/octet-stream", 0);
    match(def, "application/gzip", 0);
    match(def, "font/woff2", 0);
    CHECK(type_list_match(NULL, "text/html", 9) == 0, "no list matches nothing");
    CHECK(type_list_match("text/html", "text/html; x", 9) == 1, "only len bytes are read");
    return unit_done();
}
