/* Process execution collector: the kernel's process connector (netlink, CN_IDX_PROC) reports
 * every exec; each is enriched from /proc (executable, arguments, working directory, parent,
 * user, start time) and becomes a YW_REC_EVENT in Sigma's linux process_creation log source.
 * A process that is gone before /proc could be read is still reported with what was read and
 * a "yiwang.anomaly" note. No auditd needed; needs CAP_NET_ADMIN (docs/agent.md). */
#include <errno.h>
#include <fnmatch.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "procfs.h"
#include "yw_limits.h"
#include "yiwang/collector.h"
#include "yiwang/error.h"

#define MAX_NOTES 4
#define RBUF      8192 /* one connector datagram is ~100 bytes; a few per recv at most */

struct fork_slot {
	pid_t child, parent;
};

struct proc_col {
	int fd;
	pid_t self;
	bool ignore_self;
	char **ignore;
	size_t nignore;
	size_t max_cmdline;
	int64_t boot_ns;
	uint64_t overruns; /* receive buffer overruns not yet reported */
	bool pending;      /* out holds a record the sink refused: offer it again first */
	int64_t pending_ts;
	uint8_t pending_kind;
	struct yw_strbuf out;
	char *cmd;  /* max_cmdline + 1 bytes */
	char *rbuf; /* netlink receive buffer */
	struct yw_uid_cache users;
	struct fork_slot forks[YW_PROC_FORK_SLOTS];
};

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static bool ignored(const struct proc_col *pc, const char *exe)
{
	for (size_t i = 0; i < pc->nignore; i++)
		if (fnmatch(pc->ignore[i], exe, 0) == 0)
			return true;
	return false;
}

static pid_t fork_parent(const struct proc_col *pc, pid_t pid)
{
	const struct fork_slot *s = &pc->forks[(uint32_t)pid % YW_PROC_FORK_SLOTS];
	return s->child == pid ? s->parent : 0;
}

static int put_user(struct proc_col *pc, const char *pfx, uint32_t uid)
{
	char key[32], id[16];
	snprintf(key, sizeof(key), "%s.id", pfx);
	int n = snprintf(id, sizeof(id), "%u", uid);
	int rc = yw_procfs_kstr(&pc->out, key, id, (size_t)n);
	const char *name = yw_procfs_user(&pc->users, uid);
	if (!rc && name) {
		snprintf(key, sizeof(key), "%s.name", pfx);
		rc = yw_procfs_kstr(&pc->out, key, name, strlen(name));
	}
	return rc;
}

/* Builds the event of an exec of pid into pc->out. *skip when it is not to be reported. */
static int build_exec(struct proc_col *pc, pid_t pid, int64_t wall_ns, bool *skip)
{
	struct yw_strbuf *o = &pc->out;
	const char *notes[MAX_NOTES];
	size_t nnotes = 0;
	bool gone = false;
	char exe[4096];
	*skip = false;

	ssize_t el = yw_procfs_link(pid, "exe", exe, sizeof(exe));
	if (el == YW_ENOENT)
		gone = true;
	else if (el < 0)
		notes[nnotes++] = "process: executable not readable";
	if (el > 0 && ignored(pc, exe)) {
		*skip = true;
		return 0;
	}
	bool cut = false;
	ssize_t cl =
	    gone ? YW_ENOENT : yw_procfs_read(pid, "cmdline", pc->cmd, pc->max_cmdline + 1, &cut);
	if (cl == YW_ENOENT)
		gone = true;
	if (cut)
		notes[nnotes++] = "process: command line cut at max_cmdline";
	pid_t ppid = 0;
	uint32_t uid = 0, euid = 0;
	int src = gone ? YW_ENOENT : yw_procfs_status(pid, &ppid, &uid, &euid);
	if (src == YW_ENOENT)
		gone = true;
	char comm[64] = "";
	int64_t start = 0;
	if (!gone && yw_procfs_stat(pid, pc->boot_ns, comm, sizeof(comm), &start) == YW_ENOENT)
		gone = true;
	char cwd[4096];
	ssize_t wl = gone ? YW_ENOENT : yw_procfs_link(pid, "cwd", cwd, sizeof(cwd));
	if (wl == YW_ENOENT)
		gone = true;
	if (gone)
		notes[nnotes++] = "process: exited before /proc could be read; fields missing";
	if (src != 0)
		ppid = fork_parent(pc, pid);

	yw_strbuf_reset(o);
	int rc = yw_strbuf_puts(o, "{\"event.kind\":\"event\"");
	if (!rc)
		rc = yw_procfs_ktime(o, "@timestamp", wall_ns);
	if (!rc)
		rc = yw_strbuf_puts(o, ",\"event.category\":\"process\",\"event.type\":\"start\","
		                       "\"event.action\":\"exec\",\"logsource.product\":\"linux\","
		                       "\"logsource.category\":\"process_creation\"");
	if (!rc)
		rc = yw_procfs_kint(o, "process.pid", pid);
	if (!rc && el > 0) {
		rc = yw_procfs_kstr(o, "process.executable", exe, (size_t)el);
		const char *slash = strrchr(exe, '/');
		if (!rc)
			rc = yw_procfs_kstr(o, "process.name", slash ? slash + 1 : exe,
			                    strlen(slash ? slash + 1 : exe));
	} else if (!rc && *comm) {
		rc = yw_procfs_kstr(o, "process.name", comm, strlen(comm));
	}
	if (!rc && cl > 0)
		rc = yw_procfs_put_cmdline(o, "process", pc->cmd, (size_t)cl, true);
	if (!rc && wl > 0)
		rc = yw_procfs_kstr(o, "process.working_directory", cwd, (size_t)wl);
	if (!rc && start)
		rc = yw_procfs_ktime(o, "process.start", start);
	if (!rc && src == 0) {
		rc = put_user(pc, "user", uid);
		if (!rc && euid != uid)
			rc = put_user(pc, "user.effective", euid);
	}
	if (!rc && ppid > 0) {
		bool pgone;
		rc = yw_procfs_put_process(o, "process.parent", ppid, pc->cmd, pc->max_cmdline + 1,
		                           &pgone);
	}
	if (!rc && nnotes) {
		rc = yw_strbuf_puts(o, ",\"yiwang.anomaly\":[");
		for (size_t i = 0; !rc && i < nnotes; i++)
			rc = yw_strbuf_printf(o, "%s\"%s\"", i ? "," : "", notes[i]);
		if (!rc)
			rc = yw_strbuf_putc(o, ']');
	}
	if (!rc)
		rc = yw_strbuf_putc(o, '}');
	return rc;
}

static int offer(struct proc_col *pc, yw_record_sink sink, void *ud)
{
	struct yw_record rec = {.ts_ns = pc->pending_ts,
	                        .kind = pc->pending_kind,
	                        .source = "process",
	                        .source_len = 7,
	                        .data = pc->out.data,
	                        .len = (uint32_t)pc->out.len};
	int rc = sink(ud, &rec, NULL, 0);
	pc->pending = rc == YW_SINK_FULL;
	return rc;
}

/* Builds the report of lost events (receive buffer overruns) into pc->out. */
static int build_overrun(struct proc_col *pc, int64_t wall_ns)
{
	yw_strbuf_reset(&pc->out);
	int rc =
	    yw_strbuf_printf(&pc->out,
	                     "{\"event.kind\":\"metric\",\"event.category\":\"host\","
	                     "\"event.action\":\"agent_process_events_lost\","
	                     "\"yiwang.lost.overruns\":%llu,\"message\":\"process connector "
	                     "receive buffer overran %llu times: exec events were lost\"",
	                     (unsigned long long)pc->overruns, (unsigned long long)pc->overruns);
	if (!rc)
		rc = yw_procfs_ktime(&pc->out, "@timestamp", wall_ns);
	if (!rc)
		rc = yw_strbuf_putc(&pc->out, '}');
	pc->overruns = 0;
	return rc;
}

/* Handles one connector message. Returns 0, YW_SINK_FULL (record kept pending) or an error;
 * *taken counts records the sink took. */
static int handle(struct proc_col *pc, const struct proc_event *ev, yw_record_sink sink, void *ud,
                  int *taken)
{
	if (ev->what == PROC_EVENT_FORK) {
		const struct fork_proc_event *f = &ev->event_data.fork;
		if (f->child_pid == f->child_tgid) { /* a new process, not a thread */
			struct fork_slot *s =
			    &pc->forks[(uint32_t)f->child_tgid % YW_PROC_FORK_SLOTS];
			s->child = f->child_tgid;
			s->parent = f->parent_tgid;
		}
		return 0;
	}
	if (ev->what != PROC_EVENT_EXEC)
		return 0;
	pid_t pid = ev->event_data.exec.process_tgid;
	if (pc->ignore_self && pid == pc->self)
		return 0;
	/* the event's time is CLOCK_MONOTONIC; move it to wall time */
	int64_t wall =
	    clock_ns(CLOCK_REALTIME) - (clock_ns(CLOCK_MONOTONIC) - (int64_t)ev->timestamp_ns);
	bool skip;
	int rc = build_exec(pc, pid, wall, &skip);
	if (rc == YW_ELIMIT)
		return 0; /* cannot happen within YW_PROC_MAX_CMDLINE; never stall on one event */
	if (rc || skip)
		return rc;
	pc->pending_ts = wall;
	pc->pending_kind = YW_REC_EVENT;
	if ((rc = offer(pc, sink, ud)) == 0)
		(*taken)++;
	return rc;
}

static int proc_poll(void *state, yw_record_sink sink, void *ud)
{
	struct proc_col *pc = state;
	int taken = 0, rc;
	if (pc->pending) {
		if ((rc = offer(pc, sink, ud)) != 0)
			return rc == YW_SINK_FULL ? 0 : rc;
		taken++;
	}
	for (int m = 0; m < YW_PROC_POLL_MSGS; m++) {
		if (pc->overruns) {
			int64_t now = clock_ns(CLOCK_REALTIME);
			if ((rc = build_overrun(pc, now)) != 0)
				return rc;
			pc->pending_ts = now;
			pc->pending_kind = YW_REC_AGENT;
			if ((rc = offer(pc, sink, ud)) != 0)
				return rc == YW_SINK_FULL ? taken : rc;
			taken++;
		}
		struct sockaddr_nl from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(pc->fd, pc->rbuf, RBUF, 0, (struct sockaddr *)&from, &fl);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS) {
				pc->overruns++;
				continue;
			}
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			return YW_EIO;
		}
		if (fl != sizeof(from) || from.nl_pid != 0)
			continue; /* only the kernel speaks for the connector */
		int len = (int)n;
		for (struct nlmsghdr *h = (struct nlmsghdr *)pc->rbuf; NLMSG_OK(h, len);
		     h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_NOOP || h->nlmsg_type == NLMSG_ERROR)
				continue;
			const struct cn_msg *cn = NLMSG_DATA(h);
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*cn)) || cn->id.idx != CN_IDX_PROC ||
			    cn->id.val != CN_VAL_PROC || cn->len < sizeof(struct proc_event) ||
			    h->nlmsg_len < NLMSG_LENGTH(sizeof(*cn) + sizeof(struct proc_event)))
				continue;
			struct proc_event ev; /* the payload is only 4-byte aligned */
			memcpy(&ev, cn->data, sizeof(ev));
			rc = handle(pc, &ev, sink, ud, &taken);
			if (rc == YW_SINK_FULL)
				return taken; /* later messages of this datagram are lost: rare */
			if (rc)
				return rc;
		}
	}
	return taken;
}

static int proc_fd(void *state)
{
	return ((struct proc_col *)state)->fd;
}

static int proc_commit(void *state)
{
	(void)state; /* the connector cannot replay: there is no position to keep */
	return 0;
}

static void proc_exit(void *state)
{
	struct proc_col *pc = state;
	if (!pc)
		return;
	if (pc->fd >= 0)
		close(pc->fd);
	for (size_t i = 0; i < pc->nignore; i++)
		free(pc->ignore[i]);
	free(pc->ignore);
	free(pc->cmd);
	free(pc->rbuf);
	yw_strbuf_free(&pc->out);
	free(pc);
}

static int subscribe(struct proc_col *pc)
{
	pc->fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);
	if (pc->fd < 0)
		return YW_EIO;
	int sz = YW_PROC_RCVBUF;
	if (setsockopt(pc->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) != 0)
		setsockopt(pc->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz)); /* capped by rmem_max */
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC};
	if (bind(pc->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return YW_EIO;
	struct {
		struct nlmsghdr h;
		struct cn_msg cn;
		enum proc_cn_mcast_op op;
	} __attribute__((packed))
	msg = {.h = {.nlmsg_len = sizeof(msg), .nlmsg_type = NLMSG_DONE, .nlmsg_pid = 0},
	       .cn = {.id = {.idx = CN_IDX_PROC, .val = CN_VAL_PROC},
	              .len = sizeof(enum proc_cn_mcast_op)},
	       .op = PROC_CN_MCAST_LISTEN};
	if (send(pc->fd, &msg, sizeof(msg), 0) != (ssize_t)sizeof(msg))
		return YW_EIO;
	return 0;
}

static int parse_onoff(const char *v, bool *out)
{
	if (strcmp(v, "on") == 0 || strcmp(v, "true") == 0 || strcmp(v, "yes") == 0)
		*out = true;
	else if (strcmp(v, "off") == 0 || strcmp(v, "false") == 0 || strcmp(v, "no") == 0)
		*out = false;
	else
		return YW_EINVAL;
	return 0;
}

static int proc_init(const struct yw_collector_env *env, const struct yw_collector_opt *opts,
                     size_t nopts, void **state)
{
	(void)env;
	*state = NULL;
	struct proc_col *pc = calloc(1, sizeof(*pc));
	if (!pc)
		return YW_ENOMEM;
	pc->fd = -1;
	pc->self = getpid();
	pc->ignore_self = true;
	pc->max_cmdline = YW_PROC_DEFAULT_CMDLINE;
	yw_strbuf_init(&pc->out, YW_MAX_RECORD_DATA);
	int rc = YW_ENOMEM;
	if (!(pc->ignore = calloc(nopts ? nopts : 1, sizeof(char *))))
		goto fail;
	for (size_t i = 0; i < nopts; i++) {
		const char *k = opts[i].key, *v = opts[i].value;
		rc = YW_EINVAL;
		if (!k || !v)
			goto fail;
		if (strcmp(k, "ignore_exe") == 0) {
			if (pc->nignore >= YW_PROC_MAX_IGNORE || !*v) {
				rc = YW_ELIMIT;
				goto fail;
			}
			rc = YW_ENOMEM;
			if (!(pc->ignore[pc->nignore] = strdup(v)))
				goto fail;
			pc->nignore++;
		} else if (strcmp(k, "max_cmdline") == 0) {
			char *end;
			errno = 0;
			unsigned long x = strtoul(v, &end, 10);
			if (errno || end == v || *end || x < 64 || x > YW_PROC_MAX_CMDLINE)
				goto fail;
			pc->max_cmdline = x;
		} else if (strcmp(k, "ignore_self") == 0) {
			if (parse_onoff(v, &pc->ignore_self))
				goto fail;
		} else {
			goto fail;
		}
	}
	rc = YW_ENOMEM;
	if (!(pc->cmd = malloc(pc->max_cmdline + 1)) || !(pc->rbuf = malloc(RBUF)))
		goto fail;
	pc->boot_ns = yw_procfs_boot_ns();
	if ((rc = subscribe(pc)) != 0)
		goto fail;
	*state = pc;
	return 0;
fail:
	proc_exit(pc);
	return rc;
}

const struct yw_collector_ops yw_collector_process = {
    .name = "process",
    .init = proc_init,
    .fd = proc_fd,
    .poll = proc_poll,
    .commit = proc_commit,
    .exit = proc_exit,
};
