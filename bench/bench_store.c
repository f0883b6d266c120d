/* Ingest speed of the SQLite store: batches of small log records (optionally with their
 * decoded event JSON and an alert per batch) from one or more agents; prints records/s and the
 * size of the database. Run: bench_store [--batches N] [--batch N] [--agents N] [--events]
 * [--full] [--dir D] */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "yiwang/error.h"
#include "yiwang/store.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long long file_size(const char *dir, const char *name)
{
	char path[4096];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

int main(int argc, char **argv)
{
	long batches = 1000, batch = 1000, agents = 1;
	int with_events = 0;
	struct yw_store_opts opts = {0};
	char tmp[] = "/tmp/yw_bench_store_XXXXXX";
	const char *dir = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--batches") == 0 && i + 1 < argc)
			batches = atol(argv[++i]);
		else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
			batch = atol(argv[++i]);
		else if (strcmp(argv[i], "--agents") == 0 && i + 1 < argc)
			agents = atol(argv[++i]);
		else if (strcmp(argv[i], "--events") == 0)
			with_events = 1;
		else if (strcmp(argv[i], "--full") == 0)
			opts.sync_full = 1;
		else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc)
			dir = argv[++i];
		else {
			fprintf(
			    stderr,
			    "usage: bench_store [--batches N] [--batch N] [--agents N] [--events]"
			    " [--full] [--dir D]\n");
			return 2;
		}
	}
	if (batches < 1 || batch < 1 || agents < 1 || agents > 1000) {
		fprintf(stderr, "bench_store: bad numbers\n");
		return 2;
	}
	if (!dir) {
		if (!mkdtemp(tmp)) {
			perror("mkdtemp");
			return 1;
		}
		dir = tmp;
	}

	struct yw_store *st;
	int err = yw_store_open_sqlite(dir, &opts, &st);
	if (err) {
		fprintf(stderr, "bench_store: open %s: %s\n", dir, yw_store_strerror(err));
		return 1;
	}
	char ids[1000][16];
	for (long a = 0; a < agents; a++) {
		snprintf(ids[a], sizeof(ids[a]), "agent-%ld", a);
		struct yw_store_agent ag = {.id = ids[a], .name = ids[a], .group = "bench"};
		err = yw_store_agent_add(st, &ag);
		if (err) {
			fprintf(stderr, "bench_store: add agent: %s\n", yw_store_strerror(err));
			return 1;
		}
	}

	/* The payloads are made once; each batch only renumbers the records. */
	struct yw_record *recs = calloc((size_t)batch, sizeof(*recs));
	const char **events = calloc((size_t)batch, sizeof(*events));
	char(*lines)[160] = calloc((size_t)batch, sizeof(*lines));
	char(*jsons)[320] = calloc((size_t)batch, sizeof(*jsons));
	uint64_t *next = calloc((size_t)agents, sizeof(*next));
	if (!recs || !events || !lines || !jsons || !next)
		return 1;
	long long payload = 0;
	for (long i = 0; i < batch; i++) {
		int n = snprintf(lines[i], sizeof(lines[i]),
		                 "Mar 10 12:00:%02ld web1 sshd[%ld]: Failed password for invalid "
		                 "user admin from 10.0.%ld.%ld port 22 ssh2",
		                 i % 60, 1000 + i, i / 256 % 256, i % 256);
		snprintf(jsons[i], sizeof(jsons[i]),
		         "{\"@timestamp\":\"2024-03-10T12:00:%02ldZ\",\"host.name\":\"web1\","
		         "\"process.name\":\"sshd\",\"event.outcome\":\"failure\","
		         "\"user.name\":\"admin\",\"source.ip\":\"10.0.%ld.%ld\"}",
		         i % 60, i / 256 % 256, i % 256);
		recs[i] = (struct yw_record){.kind = YW_REC_LOG,
		                             .source = "file:/var/log/auth.log",
		                             .source_len = 22,
		                             .data = lines[i],
		                             .len = (uint32_t)n};
		events[i] = jsons[i];
		payload += n;
	}
	struct yw_store_alert alert = {.record = 0,
	                               .rule_id = "bench-rule",
	                               .title = "Failed logins",
	                               .level = YW_LEVEL_MEDIUM,
	                               .tags = "[\"attack.t1110\"]"};
	struct yw_store_batch b = {.records = recs,
	                           .n = (size_t)batch,
	                           .events = with_events ? events : NULL,
	                           .alerts = &alert,
	                           .n_alerts = 1,
	                           .now = 1700000000LL * 1000000000LL};

	double t0 = now_s();
	for (long k = 0; k < batches; k++) {
		long a = k % agents;
		for (long i = 0; i < batch; i++) {
			recs[i].seq = next[a] + (uint64_t)i + 1;
			recs[i].ts_ns = b.now + k;
		}
		uint64_t ack;
		err = yw_store_ingest(st, ids[a], &b, &ack);
		if (err || ack != next[a] + (uint64_t)batch) {
			fprintf(stderr, "bench_store: ingest: %s\n", yw_store_strerror(err));
			return 1;
		}
		next[a] = ack;
	}
	double dt = now_s() - t0;

	/* A replay of the last batch: the duplicate path. */
	double t1 = now_s();
	uint64_t ack;
	yw_store_ingest(st, ids[(batches - 1) % agents], &b, &ack);
	double dup = now_s() - t1;

	long long total = (long long)batches * batch;
	long long db = file_size(dir, "yiwang.db"), wal = file_size(dir, "yiwang.db-wal");
	printf("store: %lld records in %ld batches of %ld from %ld agent(s)%s%s\n", total, batches,
	       batch, agents, with_events ? ", with event JSON" : "",
	       opts.sync_full ? ", synchronous=FULL" : "");
	printf("ingest: %.3f s, %.0f records/s, %.1f MB/s of log payload\n", dt, (double)total / dt,
	       (double)payload * (double)batches / dt / 1e6);
	printf("duplicate batch: %.2f ms\n", dup * 1e3);
	printf("database: %.1f MB (+ WAL %.1f MB), %.0f bytes/record\n", (double)db / 1e6,
	       (double)wal / 1e6, (double)(db + wal) / (double)total);
	yw_store_close(st);
	if (dir == tmp)
		nftw(tmp, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(recs);
	free(events);
	free(lines);
	free(jsons);
	free(next);
	return 0;
}
