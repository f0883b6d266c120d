#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "yiwang/decode.h"
#include "yiwang/error.h"

static void usage(FILE *out)
{
	fputs("usage: yiwang decode [--format F] [--year Y] [--host H] FILE...|-\n"
	      "\n"
	      "Decodes log lines into events and prints one JSON object per line.\n"
	      "  -f, --format F   auto (default), syslog, auditd or json\n"
	      "  -y, --year Y     year for syslog timestamps that carry none (default: this year)\n"
	      "      --host H     host.name for lines that name no host\n"
	      "  -h, --help       this text\n",
	      out);
}

struct out_ctx {
	struct yw_strbuf buf;
};

static int emit(void *ud, struct yw_event *ev)
{
	struct out_ctx *o = ud;
	yw_strbuf_reset(&o->buf);
	if (yw_event_to_json(ev, &o->buf) != 0 || yw_strbuf_putc(&o->buf, '\n') != 0)
		return YW_ENOMEM;
	if (fwrite(o->buf.data, 1, o->buf.len, stdout) != o->buf.len)
		return YW_EIO;
	return 0;
}

int yw_cmd_decode(int argc, char **argv)
{
	static const struct option opts[] = {
		{"format", required_argument, NULL, 'f'},
		{"year", required_argument, NULL, 'y'},
		{"host", required_argument, NULL, 'H'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *format = "auto";
	struct yw_decode_opts dopts = {0};
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "f:y:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			format = optarg;
			break;
		case 'y':
			dopts.default_year = atoi(optarg);
			if (dopts.default_year < 1970 || dopts.default_year > 9999) {
				fprintf(stderr, "yiwang decode: bad year '%s'\n", optarg);
				return YW_EXIT_USAGE;
			}
			break;
		case 'H':
			dopts.default_host = optarg;
			break;
		case 'h':
			usage(stdout);
			return YW_EXIT_OK;
		default:
			usage(stderr);
			return YW_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return YW_EXIT_USAGE;
	}
	struct out_ctx o;
	yw_strbuf_init(&o.buf, 0);
	int status = YW_EXIT_OK;
	for (int i = optind; i < argc; i++) {
		struct yw_decoder *d = NULL;
		int rc = yw_decoder_new(format, &dopts, emit, &o, &d);
		if (rc == YW_ENOENT) {
			fprintf(stderr, "yiwang decode: unknown format '%s'\n", format);
			status = YW_EXIT_USAGE;
			break;
		}
		if (rc) {
			fprintf(stderr, "yiwang decode: %s\n", yw_strerror(rc));
			status = YW_EXIT_FAIL;
			break;
		}
		FILE *f = yw_cli_open(argv[i]);
		if (!f) {
			yw_decoder_free(d);
			status = YW_EXIT_FAIL;
			continue;
		}
		rc = yw_decoder_file(d, f);
		if (rc) {
			fprintf(stderr, "yiwang decode: %s: %s\n", argv[i], yw_strerror(rc));
			status = YW_EXIT_FAIL;
		}
		yw_cli_close(f);
		yw_decoder_free(d);
	}
	yw_strbuf_free(&o.buf);
	if (fflush(stdout) != 0)
		status = YW_EXIT_FAIL;
	return status;
}
