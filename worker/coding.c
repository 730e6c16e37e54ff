/* coding.c -- content-coding negotiation from Accept-Encoding (see coding.h). */
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "coding.h"
#include "http_rules.h"

#define Q_UNSET (-1)

static const char *const names[CODING_COUNT] = {"identity", "gzip", "br"};

const char *coding_name(enum coding c)
{
    return c > CODING_IDENTITY && c < CODING_COUNT ? names[c] : NULL;
}

/* The coding the token s[0..len) names, CODING_COUNT for "*", -1 for one
 * kiln does not send. */
static int coding_of(const char *s, size_t len)
{
    if (len == 1 && s[0] == '*')
        return CODING_COUNT;
    if (len == 6 && strncasecmp(s, "x-gzip", 6) == 0)
        return CODING_GZIP;
    for (int c = 0; c < CODING_COUNT; c++)
        if (strlen(names[c]) == len && strncasecmp(s, names[c], len) == 0)
            return c;
    return -1;
}

/* A qvalue (RFC 9110 12.4.2: "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")]) in
 * thousandths, or -1. */
static int parse_q(const char *s, size_t len)
{
    int q, scale = 100;

    if (len == 0 || (s[0] != '0' && s[0] != '1'))
        return -1;
    q = (s[0] - '0') * 1000;
    if (len == 1)
        return q;
    if (s[1] != '.' || len > 5)
        return -1;
    for (size_t i = 2; i < len; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        q += (s[i] - '0') * scale;
    }
    return q > 1000 ? -1 : q;
}

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* Reads one element "token *( OWS ; OWS param )" of s[0..len): its coding
 * through *coding and its q (1000 without one); 0, or -1 when it does not
 * parse.  Parameters other than q are skipped. */
static int parse_element(const char *s, const char *end, int *coding, int *q)
{
    const char *p = s, *tok;

    while (p < end && http_tchar[(unsigned char)*p])
        p++;
    if (p == s)
        return -1;
    *coding = coding_of(s, (size_t)(p - s));
    *q = 1000;
    for (p = skip_ows(p, end); p < end; p = skip_ows(p, end)) {
        if (*p++ != ';')
            return -1;
        p = skip_ows(p, end);
        tok = p;
        while (p < end && *p != ';' && *p != ' ' && *p != '\t')
            p++;
        if (p - tok >= 2 && (tok[0] == 'q' || tok[0] == 'Q') && tok[1] == '=') {
            *q = parse_q(tok + 2, (size_t)(p - tok - 2));
            if (*q < 0)
                return -1;
        } else if (memchr(tok, '=', (size_t)(p - tok)) == NULL) {
            return -1;
        }
    }
    return 0;
}

/* Fills q[0..CODING_COUNT] (the last: "*") from the header's elements. */
static void weigh(const char *accept, int q[CODING_COUNT + 1])
{
    const char *p = accept, *end = accept + strlen(accept);

    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end, *s = skip_ows(p, e), *t = e;
        int c, w;

        while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if (s < t && parse_element(s, t, &c, &w) == 0 && c >= 0 && q[c] == Q_UNSET)
            q[c] = w;
        p = comma ? comma + 1 : end;
    }
}

int coding_choose(const char *accept, unsigned offered)
{
    int q[CODING_COUNT + 1], best = -1, best_q = 0;

    if (accept == NULL || *accept == '\0')
        return (offered & CODING_BIT(CODING_IDENTITY)) ? CODING_IDENTITY : -1;
    for (int c = 0; c <= CODING_COUNT; c++)
        q[c] = Q_UNSET;
    weigh(accept, q);
    for (int c = 0; c < CODING_COUNT; c++) {
        if (q[c] == Q_UNSET)
            q[c] = q[CODING_COUNT];
        if (q[c] == Q_UNSET)    /* unlisted, no "*": only identity stays */
            q[c] = c == CODING_IDENTITY ? 1 : 0;
    }
    /* From br down to identity, so that a tie keeps the earlier. */
    for (int c = CODING_COUNT - 1; c >= 0; c--)
        if ((offered & CODING_BIT(c)) && q[c] > best_q) {
            best = c;
            best_q = q[c];
        }
    return best;
}
