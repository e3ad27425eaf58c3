/* A check of a POSIX extended regex from the access rules before regcomp
 * sees it: the shapes that would unanchor the rules' "^(...)" wrapper, make
 * regexec backtrack on a path a client chooses, or make regcomp's time and
 * memory blow up. Pure; no allocation; any thread. */
#ifndef GH_GATE_REGEX_CHECK_H
#define GH_GATE_REGEX_CHECK_H

/* The most copies nested repetitions may make of an atom. */
#define REGEX_COPIES 1000

/** NULL if the regex (NUL-terminated) has none of these shapes, else a
 *  static phrase saying why ("has a back-reference"), to follow
 *  "path_regex ". Refused: a ')' that closes nothing or a '(' never closed
 *  (glibc reads a lone ')' as a literal, which would end the wrapper early
 *  and unanchor the rest); an unterminated bracket expression; a trailing
 *  backslash; back-references (\1..\9: regexec backtracks, exponential on
 *  a hostile path); a repetition of a repetition ("a++", "a*{2}"); a bound
 *  over 255 or malformed; nested repetitions whose copies multiply past
 *  REGEX_COPIES (glibc's regcomp copies the atom: "a+" is "aa*",
 *  "a{3,5}" five copies, so "((a+)+)+..." doubles per level); groups
 *  nested deeper than 32. Whether it compiles is left to regcomp. */
const char *regex_check_shape(const char *ere);

#endif
