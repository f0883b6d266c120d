/* The web pages (docs/dashboard.md): GET / redirects to the big screen, GET /ui/<file> serves
 * the files embedded at build time (cmake/embed_ui.cmake). Only names in that table are
 * served, compared whole, so no request reaches the file system. No authentication here: the
 * pages hold no data; they fetch it from /api/v1 with the user's token. */
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>

#include "http_int.h"
#include "ui_assets.h"
#include "yiwang/error.h"
#include "yw_limits.h"

#define HOME "/ui/screen.html"

/* The pages load only their own scripts, styles and data: no inline code, no other origin. */
static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                          "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
                          "base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

static const struct {
	const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".woff2", "font/woff2"},
    {".txt", "text/plain; charset=utf-8"},
};

static const char *content_type(const char *name)
{
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(dot, types[i].ext))
			return types[i].type;
	return "application/octet-stream";
}

static const struct yw_ui_asset *find(const char *name)
{
	for (size_t i = 0; i < yw_ui_nassets; i++)
		if (!strcmp(yw_ui_assets[i].name, name))
			return &yw_ui_assets[i];
	return NULL;
}

/* Does If-None-Match (a list of tags, maybe weak, or *) name etag? */
static int inm_matches(struct MHD_Connection *c, const char *etag)
{
	const char *v =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (!v || strnlen(v, YW_HTTP_MAX_INM + 1) > YW_HTTP_MAX_INM)
		return 0;
	if (!strcmp(v, "*"))
		return 1;
	/* The tags are quoted, so one cannot match inside another. */
	return strstr(v, etag) != NULL;
}

static void header(struct resp *r, size_t *n, const char *k, const char *v)
{
	if (*n < YW_HTTP_RESP_HEADERS) {
		r->hdr[*n][0] = k;
		r->hdr[*n][1] = v;
		++*n;
	}
}

static int serve(struct MHD_Connection *c, const struct yw_ui_asset *a, struct resp *r)
{
	size_t n = 0;
	int html = !strcmp(content_type(a->name), types[0].type);
	header(r, &n, "Content-Security-Policy", csp);
	header(r, &n, "Referrer-Policy", "no-referrer");
	header(r, &n, "Cross-Origin-Opener-Policy", "same-origin");
	/* Pages are never cached: a new server brings new pages at once. ECharts changes only
	 * with its version (web/package.json): a week. Our scripts and styles are revalidated
	 * every time, answered 304 while their ETag holds. */
	if (html)
		header(r, &n, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	else if (!strncmp(a->name, "vendor/", 7))
		header(r, &n, MHD_HTTP_HEADER_CACHE_CONTROL, "public, max-age=604800");
	else
		header(r, &n, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	if (!html)
		header(r, &n, MHD_HTTP_HEADER_ETAG, a->etag);
	r->content_type = content_type(a->name);
	if (!html && inm_matches(c, a->etag)) {
		r->status = MHD_HTTP_NOT_MODIFIED;
		return 0;
	}
	r->fixed = a->data;
	r->fixed_len = a->len;
	return 0;
}

int yw_http_route_static(struct yw_http *h, struct MHD_Connection *c, const char *path,
                         const char *method, const struct who *w, struct req *q, struct resp *r)
{
	static const char pfx[] = "/ui/";
	int home = !strcmp(path, "/") || !strcmp(path, "/ui") || !strcmp(path, "/ui/");
	if (!home && strncmp(path, pfx, sizeof(pfx) - 1))
		return 0;
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		r->hdr[0][0] = MHD_HTTP_HEADER_ALLOW;
		r->hdr[0][1] = "GET, HEAD";
		int rc = yw_http_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
		return rc ? rc : 1;
	}
	if (home) {
		r->status = MHD_HTTP_FOUND;
		r->hdr[0][0] = MHD_HTTP_HEADER_LOCATION;
		r->hdr[0][1] = HOME;
		r->content_type = "text/plain; charset=utf-8";
		int rc = yw_strbuf_puts(&r->b, HOME "\n");
		return rc ? rc : 1;
	}
	const struct yw_ui_asset *a = find(path + sizeof(pfx) - 1);
	int rc = a ? serve(c, a, r) : yw_http_error(r, MHD_HTTP_NOT_FOUND, "not found");
	return rc ? rc : 1;
}
