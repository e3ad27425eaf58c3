#include "gate/regex_check.h"

#include <stdbool.h>
#include <stddef.h>

/* Skips a bracket expression; c is at its '['. Returns the ']' or NULL. */
static const char *skip_bracket(const char *c)
{
    c++;
    if (*c == '^') c++;
    if (*c == ']') c++;
    for (; *c && *c != ']'; c++)
        if (*c == '[' && (c[1] == ':' || c[1] == '.' || c[1] == '=')) {
            char end = c[1];
            for (c += 2; *c && !(*c == end && c[1] == ']'); c++)
                ;
            if (!*c) return NULL;
            c++;
        }
    return *c ? c : NULL;
}

/* How many copies a repetition operator at c makes of its atom (glibc's
 * regcomp copies the atom's tree: "a+" is "aa*", "a{3,5}" five copies);
 * *end gets its last character. 0: a malformed bound. */
static unsigned long repeat_factor(const char *c, const char **end)
{
    *end = c;
    if (*c == '+') return 2;
    if (*c != '{') return 1; /* '*' and '?' loop without copying */
    unsigned long m = 0, n = 0;
    const char *d = c + 1;
    if (*d < '0' || *d > '9') return 0;
    for (; *d >= '0' && *d <= '9' && m < 100000; d++)
        m = m * 10 + (unsigned long)(*d - '0');
    n = m;
    if (*d == ',') {
        n = m + 1;
        if (*++d >= '0' && *d <= '9')
            for (n = 0; *d >= '0' && *d <= '9' && n < 100000; d++)
                n = n * 10 + (unsigned long)(*d - '0');
    }
    if (*d != '}') return 0;
    *end = d;
    return n > m ? n : (m ? m : 1);
}

#define REGEX_DEPTH 32

const char *regex_check_shape(const char *s)
{
    unsigned long outer[REGEX_DEPTH], cur = 1, atom = 0;
    int depth = 0;
    bool repeated = false;
    for (const char *c = s; *c; c++) {
        if (*c == '*' || *c == '+' || *c == '?' || *c == '{') {
            if (repeated) return "repeats a repetition (like a++ or a*{2})";
            unsigned long f = repeat_factor(c, &c);
            if (!f) return "has a malformed {m,n} bound";
            unsigned long copies = (atom ? atom : 1) * f;
            if (f > 255 || copies > REGEX_COPIES)
                return "repeats too much (nested repetitions multiply)";
            if (copies > cur) cur = copies;
            atom = copies;
            repeated = true;
            continue;
        }
        repeated = false;
        if (*c == '\\') {
            if (!c[1]) return "ends in a backslash";
            if (*++c >= '1' && *c <= '9') return "has a back-reference";
            atom = 1;
        } else if (*c == '[') {
            if (!(c = skip_bracket(c))) return "has an unterminated [";
            atom = 1;
        } else if (*c == '(') {
            if (depth == REGEX_DEPTH) return "nests groups too deep";
            outer[depth++] = cur;
            cur = 1;
            atom = 0;
        } else if (*c == ')') {
            if (depth == 0) return "has an unmatched ')'";
            atom = cur;
            cur = outer[--depth] > cur ? outer[depth] : cur;
        } else {
            atom = *c == '|' ? 0 : 1;
        }
    }
    return depth ? "has an unmatched '('" : NULL;
}
