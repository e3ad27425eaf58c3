/* Which backend the configuration chose (store.h): PostgreSQL when
 * GATEHOUSE_DATABASE_URL is set (store/pg.h), else SQLite. */
#include "store/pg.h"
#include "store/store.h"

const struct store_ops *store_backend(void)
{
    return store_pg_selected() ? &store_pg : &store_sqlite;
}
