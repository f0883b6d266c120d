#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "yiwang/error.h"

FILE *yw_cli_open(const char *path)
{
	if (!strcmp(path, "-"))
		return stdin;
	FILE *f = fopen(path, "rb");
	if (!f)
		fprintf(stderr, "yiwang: %s: %s\n", path, strerror(errno));
	return f;
}

void yw_cli_close(FILE *f)
{
	if (f && f != stdin)
		fclose(f);
}

struct yw_ruleset *yw_cli_load_rules(char **paths, size_t npaths, const char *mapping,
				     const char *placeholders, int verbose)
{
	struct yw_diags d = YW_DIAGS_INIT;
	struct yw_ruleset *rs = yw_ruleset_new();
	int rc = 0;
	if (!rs) {
		fprintf(stderr, "yiwang: out of memory\n");
		return NULL;
	}
	if (mapping && (rc = yw_ruleset_load_mapping(rs, mapping, &d)) != 0)
		goto fail;
	if (placeholders && (rc = yw_ruleset_load_placeholders(rs, placeholders, &d)) != 0)
		goto fail;
	for (size_t i = 0; i < npaths; i++) {
		if ((rc = yw_ruleset_add_path(rs, paths[i], &d)) != 0) {
			fprintf(stderr, "yiwang: %s: %s\n", paths[i], yw_strerror(rc));
			goto fail;
		}
	}
	if ((rc = yw_ruleset_compile(rs, &d)) != 0)
		goto fail;
	if (verbose)
		yw_diags_print(&d, stderr);
	else if (d.nerrors || d.nwarnings)
		fprintf(stderr,
			"yiwang: %zu rule errors and %zu warnings (skipped rules); "
			"`yiwang rules check PATH` lists them\n",
			d.nerrors, d.nwarnings);
	yw_diags_free(&d);
	return rs;
fail:
	yw_diags_print(&d, stderr);
	yw_diags_free(&d);
	yw_ruleset_free(rs);
	return NULL;
}
