/* A client of yiwang-server's local API (a Unix socket in the data directory), for commands
 * that talk to a running server. */
#ifndef YIWANG_CLI_API_CLIENT_H
#define YIWANG_CLI_API_CLIENT_H

#include <jansson.h>

/* opt if given, else $YIWANG_DATA_DIR, else /var/lib/yiwang. */
const char *yw_cli_data_dir(const char *opt);

/* Sends one request line and calls row() for every reply line but the last, which it returns
 * parsed in *final (caller decrefs; final may be NULL). Returns 0, row()'s non-zero value,
 * or YW_EIO with a message printed to stderr (unreachable server, {"ok":false}). */
int yw_cli_api_call(const char *dir, const char *request, int (*row)(void *ud, json_t *r), void *ud,
                    json_t **final);

#endif
