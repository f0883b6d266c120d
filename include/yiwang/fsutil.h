/* Small file helpers shared by the agent's state files, the PKI and the server. */
#ifndef YIWANG_FSUTIL_H
#define YIWANG_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Writes data to path atomically with the given mode: a temporary file in the same directory
 * (created 0600, so never wider than asked), fsync, rename, fsync of the directory. Readers see
 * the old or the new content, never a mix, across a crash or power loss. 0 or YW_EIO /
 * YW_ELIMIT (path too long); errno holds the detail. */
int yw_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);

#endif
