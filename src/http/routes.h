/* The route table: every endpoint, its flags and its handler. */
#ifndef GH_HTTP_ROUTES_H
#define GH_HTTP_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "http/server.h"

extern const struct gh_route gh_routes[];
extern const size_t gh_routes_count;

/** Whether path matches a route's pattern: the pattern's characters
 *  exactly, where one "*" (at most one) stands for exactly one whole path
 *  segment of 1 to GH_PARAM_MAX characters of [A-Za-z0-9_-] ("/v1/sessions/ *"
 *  or "/v1/oauth/ * /start", without the spaces). On a match the segment is
 *  copied into param (GH_PARAM_MAX + 1 bytes); otherwise param is left as
 *  it was. Pure. */
bool gh_route_path_match(const char *pattern, const char *path, char param[GH_PARAM_MAX + 1]);

#endif
