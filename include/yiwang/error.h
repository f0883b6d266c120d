/* Error codes shared by every module: 0 is success, failures are negative YW_E* values. */
#ifndef YIWANG_ERROR_H
#define YIWANG_ERROR_H

enum {
	YW_OK = 0,
	YW_EINVAL = -1,  /* bad argument or malformed input */
	YW_ENOMEM = -2,  /* allocation failed */
	YW_ELIMIT = -3,  /* input exceeds a limit from limits.h */
	YW_EIO = -4,     /* read/write failed; errno holds the detail */
	YW_EPARSE = -5,  /* input could not be parsed */
	YW_ENOENT = -6,  /* no such file, field or name */
	YW_EUNSUP = -7,  /* valid but not supported */
	YW_EEXIST = -8,  /* already present */
	/* Non-blocking I/O (TLS): not an error, retry the same call when the fd is ready. */
	YW_EAGAIN = -9,      /* wait until the fd is readable */
	YW_EWANTWRITE = -10, /* wait until the fd is writable */
	YW_ETLS = -11,       /* TLS protocol or handshake failure */
	YW_EAUTH = -12,      /* peer not authenticated: bad, unknown or revoked certificate */
};

/* Returns a static, human-readable text for an error code. */
const char *yw_strerror(int err);

#endif
