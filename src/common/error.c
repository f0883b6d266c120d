#include "yiwang/error.h"

const char *yw_strerror(int err)
{
	switch (err) {
	case YW_OK:
		return "success";
	case YW_EINVAL:
		return "invalid argument or input";
	case YW_ENOMEM:
		return "out of memory";
	case YW_ELIMIT:
		return "limit exceeded";
	case YW_EIO:
		return "input/output error";
	case YW_EPARSE:
		return "parse error";
	case YW_ENOENT:
		return "not found";
	case YW_EUNSUP:
		return "not supported";
	case YW_EEXIST:
		return "already exists";
	case YW_EAGAIN:
		return "would block (wait for readable)";
	case YW_EWANTWRITE:
		return "would block (wait for writable)";
	case YW_ETLS:
		return "TLS failure";
	case YW_EAUTH:
		return "authentication failed";
	default:
		return "unknown error";
	}
}
