/* libFuzzer harness: one input = one syslog line, decoded into a fresh event and serialised. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "decode/decode_int.h"
#include "yiwang/strbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yw_decode_opts opts = {.default_year = 2024, .default_host = "fuzz"};
	struct yw_event *ev = yw_event_new();
	if (!ev)
		return 0;
	/* A copy of exactly size bytes, so any read past the end is caught. */
	char *line = malloc(size ? size : 1);
	if (line) {
		for (size_t i = 0; i < size; i++)
			line[i] = (char)data[i];
		if (yw_decode_syslog_line(ev, line, size, &opts) == 0) {
			struct yw_strbuf b = YW_STRBUF_INIT;
			if (yw_event_to_json(ev, &b) != 0 || !yw_event_get(ev, "message"))
				abort();
			yw_strbuf_free(&b);
		}
		free(line);
	}
	yw_event_free(ev);
	return 0;
}
