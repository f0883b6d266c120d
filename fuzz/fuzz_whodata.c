/* libFuzzer: arbitrary bytes as audit log lines into the FIM who-data cache (record parsing,
 * hex-encoded names and proctitles, path normalisation against CWD, grouping by serial), then
 * lookups and the JSON of what was found. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "agent/whodata.h"

#define SEC 1000000000LL

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yw_whodata *wd;
	if (yw_whodata_new(&wd) != 0)
		return 0;
	const char *p = (const char *)data, *end = p + size;
	/* Records of inputs carry their own times; "now" follows the line count so that
	 * expiry is exercised too. */
	int64_t now = 1700000000 * SEC;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl)
			nl = end;
		yw_whodata_feed(wd, p, (size_t)(nl - p), now);
		/* Every "name=" value seen may be a path the FIM side looks up. */
		const char *n = memmem(p, (size_t)(nl - p), "name=", 5);
		if (n) {
			n += 5;
			const char *e = n;
			while (e < nl && *e != ' ')
				e++;
			const struct yw_whodata_rec *r =
			    yw_whodata_find(wd, n, (size_t)(e - n), now, now);
			if (r) {
				struct yw_strbuf b = YW_STRBUF_INIT;
				yw_whodata_json(wd, r, &b);
				yw_strbuf_free(&b);
			}
		}
		now += SEC / 10;
		p = nl < end ? nl + 1 : end;
	}
	size_t bytes;
	yw_whodata_count(wd, now, &bytes);
	yw_whodata_live(wd, now);
	yw_whodata_free(wd);
	return 0;
}
