/* The route table: every endpoint, its flags and its handler. */
#ifndef GH_HTTP_ROUTES_H
#define GH_HTTP_ROUTES_H

#include <stddef.h>

#include "http/server.h"

extern const struct gh_route gh_routes[];
extern const size_t gh_routes_count;

#endif
