/* libFuzzer: arbitrary bytes as an enrolment string (what a user pastes into `yiwang-agent
 * enroll`). Whatever decodes must give NUL-terminated fields, a splittable address, and encode
 * back to a string that decodes to the same fields. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "yiwang/pki.h"
#include "yw_limits.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yw_enroll_info in, again;
	if (yw_enroll_string_decode((const char *)data, size, &in) != 0)
		return 0;
	if (!memchr(in.addr, '\0', sizeof(in.addr)) || !memchr(in.token, '\0', sizeof(in.token)) ||
	    !memchr(in.ca_fingerprint, '\0', sizeof(in.ca_fingerprint)))
		abort();
	char host[YW_ENROLL_ADDR_SIZE];
	uint16_t port;
	if (yw_enroll_addr_split(in.addr, host, sizeof(host), &port) != 0 || port == 0)
		abort();
	char s[YW_MAX_ENROLL_STRING + 1];
	if (yw_enroll_string_encode(&in, s, sizeof(s)) != 0 ||
	    yw_enroll_string_decode(s, strlen(s), &again) != 0)
		abort();
	if (strcmp(in.addr, again.addr) || strcmp(in.token, again.token) ||
	    strcmp(in.ca_fingerprint, again.ca_fingerprint))
		abort();
	return 0;
}
