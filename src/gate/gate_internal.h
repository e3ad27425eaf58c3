/* What gate.c and gate_decide.c share and nobody else sees: the layout of
 * a rule set. */
#ifndef GH_GATE_GATE_INTERNAL_H
#define GH_GATE_GATE_INTERNAL_H

#include <stddef.h>

#include "gate/rules.h"

struct gate_set {
    struct rules *rules;
    /* The hosts the rules name, as redirect_check wants them
     * ("app.example.com", "*.example.com"): where rd= may point. */
    char **hosts;
    size_t nhosts;
};

#endif
