/* libFuzzer: arbitrary bytes as one JSON line, then as a stream in auto mode. */
#include <stddef.h>
#include <stdint.h>

#include "decode/decode_int.h"
#include "yiwang/decode.h"
#include "yiwang/event.h"

static int sink(void *ud, struct yw_event *ev)
{
	(void)ud;
	(void)ev;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yw_event *ev = yw_event_new();
	if (ev) {
		yw_decode_json_line(ev, (const char *)data, size);
		yw_event_free(ev);
	}
	struct yw_decoder *d;
	if (yw_decoder_new("json", NULL, sink, NULL, &d) == 0) {
		yw_decoder_line(d, (const char *)data, size);
		yw_decoder_free(d);
	}
	return 0;
}
