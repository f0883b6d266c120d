/* The web pages embedded in the server at build time (cmake/embed_ui.cmake). */
#ifndef YIWANG_UI_ASSETS_H
#define YIWANG_UI_ASSETS_H

#include <stddef.h>

struct yw_ui_asset {
	const char *name;          /* under /ui/, e.g. "screen.html", "vendor/echarts.min.js" */
	const char *etag;          /* "\"<first 128 bits of the SHA-256 in hex>\"" */
	const unsigned char *data; /* len bytes and a NUL; static */
	size_t len;
};

/* In no particular order: static.c compares whole names. */
extern const struct yw_ui_asset yw_ui_assets[];
extern const size_t yw_ui_nassets;

#endif
