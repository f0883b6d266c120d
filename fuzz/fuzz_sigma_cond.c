/* libFuzzer harness for Sigma conditions: parses arbitrary text against fixed identifiers,
 * checks the error contract, formats the result, parses the canonical form again and compares
 * both trees' verdicts under pseudo-random selection outcomes. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "detect/sigma_cond.h"
#include "yiwang/error.h"

static const char *const names[] = {
	"selection", "selection_a", "selection_b", "filter_main_x", "filter_opt", "_helper",
	"keywords",  "a",	    "b",	   "1",		    "sel-dash",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

struct oracle {
	uint64_t bits;
};

static bool sel(void *ud, size_t idx)
{
	struct oracle *o = ud;
	if (idx >= NNAMES)
		abort();
	return (o->bits >> idx) & 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yw_cond *c = NULL, *c2 = NULL;
	char err[128];
	size_t pos = SIZE_MAX;
	int rc = yw_cond_parse((const char *)data, size, names, NNAMES, &c, err, sizeof(err), &pos);
	if (rc) {
		if (rc != YW_EPARSE && rc != YW_ENOMEM)
			abort();
		if (c || pos > size || err[0] == '\0')
			abort();
		return 0;
	}
	struct yw_strbuf b;
	yw_strbuf_init(&b, 0);
	if (yw_cond_format(c, names, &b))
		abort();
	/* N of X with 1 < N < |X| has no Sigma spelling over plain names; all else parses. */
	if (!strstr(b.data, " of (")) {
		rc = yw_cond_parse(b.data, b.len, names, NNAMES, &c2, err, sizeof(err), &pos);
		if (rc)
			abort();
	}
	uint64_t seed = 0xcbf29ce484222325u;
	for (size_t i = 0; i < size; i++)
		seed = (seed ^ data[i]) * 0x100000001b3u;
	for (int i = 0; i < 16; i++) {
		seed = seed * 6364136223846793005u + 1442695040888963407u;
		struct oracle o = {.bits = seed >> 17};
		bool v = yw_cond_eval(c, sel, &o);
		if (c2 && yw_cond_eval(c2, sel, &o) != v)
			abort();
	}
	yw_strbuf_free(&b);
	yw_cond_free(c);
	yw_cond_free(c2);
	return 0;
}
