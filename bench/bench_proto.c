/* Batch encode and decode throughput: BATCH frames of -b records of ~200-byte log lines, encoded
 * (with zstd), split by the frame decoder and decoded, -n records in all, best of -r runs.
 * Lines come from the shared corpus when it is readable, synthetic ones otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "yiwang/proto.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Up to max records of 200 bytes made of the corpus auth.log: its lines average ~110 bytes, so
 * each record is consecutive lines joined by spaces and cut at 200 bytes; no line is used twice.
 * Synthetic sshd lines when the corpus is missing. Returns the number of records. */
static size_t load_lines(char (*lines)[256], size_t max)
{
	size_t n = 0, len = 0;
	FILE *f = fopen(YW_SHARED_DIR "/corpus/auth/ubuntu-ec2-auth.log", "r");
	char buf[4096];
	while (f && n < max && fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\n")] = '\0';
		len += (size_t)snprintf(lines[n] + len, 256 - len, "%s%.200s", len ? " " : "", buf);
		if (len >= 200) {
			lines[n++][200] = '\0';
			len = 0;
		}
	}
	if (f)
		fclose(f);
	if (n > 0)
		return n;
	for (; n < max; n++)
		snprintf(lines[n], 256,
		         "Nov 26 10:%02zu:%02zu web-01 sshd[%zu]: Failed password for invalid user "
		         "admin%zu from 203.0.113.%zu port %zu ssh2 padding-padding-padding-pad",
		         n / 60 % 60, n % 60, 1000 + n, n, n % 250, 40000 + n);
	return n;
}

int main(int argc, char **argv)
{
	size_t total = 2000000, per = 1000;
	int runs = 3, opt;
	while ((opt = getopt(argc, argv, "n:b:r:h")) != -1) {
		switch (opt) {
		case 'n':
			total = strtoull(optarg, NULL, 10);
			break;
		case 'b':
			per = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			runs = atoi(optarg);
			break;
		default:
			fprintf(stderr,
			        "usage: bench_proto [-n records] [-b per batch] [-r runs]\n");
			return 2;
		}
	}
	if (per == 0 || per > 10000 || total < per) {
		fprintf(stderr, "bench_proto: need 1 <= -b <= 10000 and -n >= -b\n");
		return 2;
	}
	size_t nlines = 7000;
	char(*lines)[256] = malloc(nlines * sizeof(*lines));
	struct yw_record *recs = calloc(per, sizeof(*recs));
	struct yw_proto *enc = yw_proto_new(), *dec = yw_proto_new();
	struct yw_frame_decoder *fd = yw_frame_decoder_new();
	if (!lines || !recs || !enc || !dec || !fd)
		return 1;
	nlines = load_lines(lines, nlines);
	struct yw_strbuf wire = YW_STRBUF_INIT;
	double best_enc = 1e9, best_dec = 1e9;
	size_t wire_bytes = 0, plain_bytes = 0;
	for (int run = 0; run < runs; run++) {
		uint64_t seq = 1;
		size_t li = 0, checksum = 0;
		double t_enc = 0, t_dec = 0;
		wire_bytes = plain_bytes = 0;
		for (size_t done = 0; done < total; done += per) {
			for (size_t i = 0; i < per; i++, li = (li + 1) % nlines) {
				recs[i] =
				    (struct yw_record){.seq = seq + i,
				                       .ts_ns = 1700000000000000000LL + (int64_t)li,
				                       .kind = YW_REC_LOG,
				                       .source = "file:/var/log/auth.log",
				                       .source_len = 22,
				                       .data = lines[li],
				                       .len = (uint32_t)strlen(lines[li])};
				plain_bytes += recs[i].len;
			}
			seq += per;
			double te = now();
			size_t taken;
			yw_strbuf_reset(&wire);
			if (yw_proto_encode_batch(enc, recs, per, &wire, &taken) || taken != per)
				return 1;
			t_enc += now() - te;
			wire_bytes += wire.len;
			double td = now();
			struct yw_frame f;
			struct yw_msg m;
			for (size_t off = 0; off < wire.len; off += 65536) {
				size_t n = wire.len - off < 65536 ? wire.len - off : 65536;
				if (yw_frame_feed(fd, wire.data + off, n))
					return 1;
			}
			if (yw_frame_next(fd, &f) != 1 || yw_proto_decode(dec, &f, &m) ||
			    m.batch.count != per)
				return 1;
			checksum += m.batch.records[per - 1].len;
			t_dec += now() - td;
		}
		if (t_dec < best_dec)
			best_dec = t_dec;
		if (t_enc < best_enc)
			best_enc = t_enc;
		if (checksum == 0)
			return 1;
	}
	printf(
	    "records: %zu in batches of %zu, %.1f bytes/record, wire %.1f bytes/record (%.2fx)\n",
	    total, per, (double)plain_bytes / total, (double)wire_bytes / total,
	    (double)plain_bytes / wire_bytes);
	printf("encode:          %.0f records/s\n", total / best_enc);
	printf("decode:          %.0f records/s\n", total / best_dec);
	double best_all = best_enc + best_dec;
	printf("encode + decode: %.0f records/s (%.1f MB/s of log text)\n", total / best_all,
	       plain_bytes / best_all / 1e6);
	yw_strbuf_free(&wire);
	yw_frame_decoder_free(fd);
	yw_proto_free(enc);
	yw_proto_free(dec);
	free(recs);
	free(lines);
	return 0;
}
