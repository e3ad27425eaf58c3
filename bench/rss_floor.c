/* The memory floor under Gatehouse: a program linked against exactly the
 * libraries gatehouse links (bench/verify.sh builds it with the same
 * pkg-config list as CMakeLists.txt), which initialises the ones that do
 * work at start (OpenSSL with one P-256 key, libcurl, libsodium, SQLite,
 * libevent) and then prints its own RSS and private anonymous memory in KiB:
 * "<rss> <pss_anon>". What the server shows above this is its own. */
#include <curl/curl.h>
#include <event2/event.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
    if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return 1;
    EVP_PKEY *k = EVP_EC_gen("P-256");
    sqlite3 *db = NULL;
    struct event_base *b = event_base_new();
    if (!k || sqlite3_open(":memory:", &db) != SQLITE_OK || !b) return 1;
    long rss = -1, anon = -1;
    char line[256];
    FILE *f = fopen("/proc/self/smaps_rollup", "r");
    while (f && fgets(line, sizeof line, f)) {
        if (!strncmp(line, "Rss:", 4)) sscanf(line + 4, "%ld", &rss);
        if (!strncmp(line, "Pss_Anon:", 9)) sscanf(line + 9, "%ld", &anon);
    }
    if (f) fclose(f);
    printf("%ld %ld\n", rss, anon);
    event_base_free(b);
    sqlite3_close(db);
    EVP_PKEY_free(k);
    curl_global_cleanup();
    return rss > 0 ? 0 : 1;
}
