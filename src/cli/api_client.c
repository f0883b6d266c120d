#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "api_client.h"
#include "yiwang/error.h"

const char *yw_cli_data_dir(const char *opt)
{
	if (opt)
		return opt;
	const char *env = getenv("YIWANG_DATA_DIR");
	return env && *env ? env : "/var/lib/yiwang";
}

static int connect_api(const char *dir)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/yiwang.sock", dir);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path)) {
		fprintf(stderr, "yiwang: data directory path too long\n");
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		fprintf(stderr,
		        "yiwang: cannot reach the server at %s: %s\n"
		        "  (is yiwang-server running with --data-dir %s?)\n",
		        sa.sun_path, strerror(errno), dir);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

int yw_cli_api_call(const char *dir, const char *request, int (*row)(void *ud, json_t *r), void *ud,
                    json_t **final)
{
	int fd = connect_api(dir);
	if (fd < 0)
		return YW_EIO;
	size_t len = strlen(request);
	if (write(fd, request, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
		close(fd);
		return YW_EIO;
	}
	FILE *f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return YW_EIO;
	}
	char *line = NULL;
	size_t cap = 0;
	json_t *last = NULL;
	int rc = 0;
	while (getline(&line, &cap, f) > 0) {
		json_t *j = json_loads(line, 0, NULL);
		if (!j)
			continue;
		if (json_object_get(j, "ok")) {
			last = j;
			break;
		}
		rc = row ? row(ud, j) : 0;
		json_decref(j);
		if (rc)
			break;
	}
	free(line);
	fclose(f);
	if (rc) {
		json_decref(last);
		return rc;
	}
	if (!last) {
		fprintf(stderr, "yiwang: the server closed the connection without an answer\n");
		return YW_EIO;
	}
	if (!json_is_true(json_object_get(last, "ok"))) {
		const char *e = json_string_value(json_object_get(last, "error"));
		fprintf(stderr, "yiwang: server: %s\n", e ? e : "request failed");
		json_decref(last);
		return YW_EIO;
	}
	if (final)
		*final = last;
	else
		json_decref(last);
	return 0;
}
