/* Owners of new sockets: the process holding a descriptor whose link reads socket:[inode].
 * Only sockets that are new to the collector are looked up, so an idle host walks nothing.
 * Three steps, each cheaper than the next: descriptors remembered from earlier walks (one
 * readlink to confirm), the fd directories of the recent owners, then one walk over every
 * /proc/<pid>/fd that stops when all are found or after YW_NET_MAX_FD_SCAN descriptors. */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "network.h"
#include "yw_limits.h"

struct slot {
	uint64_t inode; /* 0 = empty */
	pid_t pid;
	int fd;
};

struct yw_net_owners {
	struct slot cache[YW_NET_OWNER_CACHE]; /* direct-mapped by inode: a clash overwrites */
	pid_t hot[YW_NET_HOT_PIDS];            /* most recent first; 0 = empty */
};

struct want {
	uint64_t inode;
	size_t idx;
};

struct walk {
	struct yw_net_owners *o;
	struct yw_net_sock *socks;
	struct want *w;
	size_t nw, found, examined;
};

struct yw_net_owners *yw_net_owners_new(void)
{
	return calloc(1, sizeof(struct yw_net_owners));
}

void yw_net_owners_free(struct yw_net_owners *o)
{
	free(o);
}

static struct slot *slot_of(struct yw_net_owners *o, uint64_t inode)
{
	return &o->cache[(inode * 0x9E3779B97F4A7C15ull >> 32) % YW_NET_OWNER_CACHE];
}

static int cmp_want(const void *a, const void *b)
{
	uint64_t x = ((const struct want *)a)->inode, y = ((const struct want *)b)->inode;
	return x < y ? -1 : x > y;
}

static void make_hot(struct yw_net_owners *o, pid_t pid)
{
	size_t i = 0;
	while (i < YW_NET_HOT_PIDS - 1 && o->hot[i] && o->hot[i] != pid)
		i++;
	memmove(o->hot + 1, o->hot, i * sizeof(pid_t));
	o->hot[0] = pid;
}

/* The inode of a descriptor's socket:[N] link, or 0. */
static uint64_t sock_inode(int dfd, const char *name)
{
	char link[64];
	ssize_t l = readlinkat(dfd, name, link, sizeof(link) - 1);
	if (l < 10 || memcmp(link, "socket:[", 8) != 0)
		return 0;
	link[l] = 0;
	return strtoull(link + 8, NULL, 10);
}

static void hit(struct walk *k, uint64_t inode, pid_t pid)
{
	struct want key = {.inode = inode};
	struct want *h = bsearch(&key, k->w, k->nw, sizeof(*k->w), cmp_want);
	if (h && !k->socks[h->idx].pid) {
		k->socks[h->idx].pid = pid;
		k->found++;
		make_hot(k->o, pid);
	}
}

/* Reads one process's fd directory, remembering every socket descriptor it passes. */
static void walk_pid(struct walk *k, pid_t pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return; /* exited, or not ours to read */
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	struct dirent *e;
	while (k->found < k->nw && k->examined < YW_NET_MAX_FD_SCAN && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		k->examined++;
		uint64_t ino = sock_inode(dfd, e->d_name);
		if (!ino)
			continue;
		*slot_of(k->o, ino) = (struct slot){ino, pid, atoi(e->d_name)};
		hit(k, ino, pid);
	}
	closedir(d);
}

size_t yw_net_owners_find(struct yw_net_owners *o, struct yw_net_sock *socks, size_t n)
{
	struct walk k = {.o = o, .socks = socks};
	k.w = malloc((n ? n : 1) * sizeof(*k.w));
	if (!k.w)
		return 0; /* reported without owner */
	for (size_t i = 0; i < n; i++)
		if (!socks[i].pid)
			k.w[k.nw++] = (struct want){socks[i].inode, i};
	qsort(k.w, k.nw, sizeof(*k.w), cmp_want);

	/* 1: remembered descriptors, confirmed (the pid or fd number may have been reused) */
	for (size_t i = 0; i < k.nw; i++) {
		struct slot *s = slot_of(o, k.w[i].inode);
		if (s->inode != k.w[i].inode)
			continue;
		char path[64], name[16];
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)s->pid);
		snprintf(name, sizeof(name), "%d", s->fd);
		int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		k.examined++;
		if (dfd >= 0 && sock_inode(dfd, name) == s->inode)
			hit(&k, s->inode, s->pid);
		if (dfd >= 0)
			close(dfd);
	}
	/* 2: recent owners (a copy: hits reorder the list) */
	pid_t hot[YW_NET_HOT_PIDS];
	memcpy(hot, o->hot, sizeof(hot));
	for (size_t i = 0; i < YW_NET_HOT_PIDS && hot[i] && k.found < k.nw; i++)
		walk_pid(&k, hot[i]);
	/* 3: everyone */
	DIR *d = k.found < k.nw ? opendir("/proc") : NULL;
	struct dirent *de;
	while (d && k.found < k.nw && k.examined < YW_NET_MAX_FD_SCAN && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);
		if (*end || pid <= 0)
			continue;
		bool seen = false;
		for (size_t i = 0; i < YW_NET_HOT_PIDS && hot[i] && !seen; i++)
			seen = hot[i] == pid;
		if (!seen)
			walk_pid(&k, (pid_t)pid);
	}
	if (d)
		closedir(d);
	free(k.w);
	return k.examined;
}
