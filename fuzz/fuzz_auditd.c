/* libFuzzer: arbitrary bytes through the auditd stream (grouping, tokenizer, ECS mapping). */
#include <stddef.h>
#include <stdint.h>

#include "yiwang/decode.h"

static int sink(void *ud, struct yw_event *ev)
{
	(void)ud;
	size_t len;
	yw_event_raw(ev, &len);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yw_decoder *d;
	if (yw_decoder_new("auditd", NULL, sink, NULL, &d) != 0)
		return 0;
	/* Each input line is one record, so grouping across lines is exercised too. */
	const char *p = (const char *)data, *end = p + size;
	while (p < end) {
		const char *nl = p;
		while (nl < end && *nl != '\n')
			nl++;
		yw_decoder_line(d, p, (size_t)(nl - p));
		p = nl < end ? nl + 1 : end;
	}
	yw_decoder_flush(d);
	yw_decoder_free(d);
	return 0;
}
