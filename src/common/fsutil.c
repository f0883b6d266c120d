#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "yiwang/error.h"
#include "yiwang/fsutil.h"

int yw_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[PATH_MAX], dirpath[PATH_MAX];
	int n = snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return YW_ELIMIT;
	/* mkostemp creates the file 0600, so it is never wider than asked for. */
	int fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return YW_EIO;
	const char *p = data;
	size_t off = 0;
	int saved = 0;
	if (fchmod(fd, mode) != 0)
		goto fail;
	while (off < len) {
		ssize_t w = write(fd, p + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0)
		goto fail;
	/* Make the rename itself durable. */
	snprintf(dirpath, sizeof(dirpath), "%s", path);
	char *slash = strrchr(dirpath, '/');
	if (slash == dirpath)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dirpath, ".");
	int dfd = open(dirpath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
	return YW_EIO;
}
