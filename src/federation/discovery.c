/* The discovery document and JWKS cache (discovery.h). */
#include "federation/discovery.h"

#include <pthread.h>
#include <stdlib.h>

struct fed_cache {
    pthread_mutex_t mu;
};

enum gh_err fed_cache_new(struct fed_cache **out)
{
    struct fed_cache *c = calloc(1, sizeof *c);
    if (!c) return GH_ERR_NOMEM;
    pthread_mutex_init(&c->mu, NULL);
    *out = c;
    return GH_OK;
}

void fed_cache_free(struct fed_cache *c)
{
    if (!c) return;
    pthread_mutex_destroy(&c->mu);
    free(c);
}
