/* The HTTP API /api/v1 of yiwang-server (docs/api.md): JSON over HTTPS with the server's
 * certificate (plain HTTP only on a loopback address), on libmicrohttpd's own threads.
 * Handlers call only the store's thread-safe functions and api.db (auth.h). */
#ifndef YIWANG_HTTP_H
#define YIWANG_HTTP_H

struct yw_server;

/* Starts the API on s->cfg.http_listen ("" or NULL: does nothing); sets s->http. Needs the
 * store and <data_dir>/pki/server.{crt,key}. YW_EINVAL for a bad address or plain HTTP on a
 * non-loopback address, YW_EIO when it cannot bind. */
int yw_http_start(struct yw_server *s);
/* Stops it (waits for requests in progress) and frees s->http; fine when never started. */
void yw_http_stop(struct yw_server *s);

#endif
