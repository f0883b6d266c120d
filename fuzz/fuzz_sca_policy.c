/* libFuzzer: arbitrary bytes as an SCA policy file (YAML structure, check fields, rule forms,
 * regexes, compliance mappings). Loading only: nothing is evaluated or run. */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "yiwang/diag.h"
#include "yiwang/sca.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The loader reads a path: give it an in-memory file. */
	int fd = memfd_create("policy", MFD_CLOEXEC);
	if (fd < 0)
		return 0;
	size_t off = 0;
	while (off < size) {
		ssize_t w = write(fd, data + off, size - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	struct yw_diags d = {0};
	struct yw_sca_policy *p = NULL;
	if (yw_sca_policy_load(path, &p, &d) == 0)
		yw_sca_policy_free(p);
	yw_diags_free(&d);
	close(fd);
	return 0;
}
