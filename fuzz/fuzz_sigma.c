/* libFuzzer harness: the input is a Sigma rule text; load, compile, and match a few fixed
 * events (with and without a log source, with a raw line and list fields). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "yiwang/sigma.h"

static int on_match(void *ud, const struct yw_rule_info *rule, const struct yw_event *ev)
{
	(void)rule;
	(void)ev;
	(*(size_t *)ud)++;
	return 0;
}

static void fill(struct yw_event *ev, int kind)
{
	static const char raw[] = "Jan 1 00:00:00 host sshd[42]: Failed password for root";
	static const struct yw_str args[] = {{"chmod", 5}, {"777", 3}, {"/tmp/x", 6}};
	yw_event_clear(ev);
	if (kind == 1)
		yw_event_set_logsource(ev, "linux", "sshd", NULL);
	else if (kind == 2)
		yw_event_set_logsource(ev, "linux", NULL, "process_creation");
	else if (kind == 3)
		yw_event_set_logsource(ev, "windows", NULL, "process_creation");
	yw_event_set_raw(ev, raw, sizeof(raw) - 1);
	yw_event_set_strz(ev, "message", "Failed password for root");
	yw_event_set_strz(ev, "process.executable", "/usr/bin/chmod");
	yw_event_set_strz(ev, "process.command_line", "chmod 777 /tmp/x");
	yw_event_set_strz(ev, "Image", "C:\\Windows\\System32\\cmd.exe");
	yw_event_set_int(ev, "process.pid", 4242);
	yw_event_set_ip(ev, "source.ip", "10.1.2.3", 8);
	yw_event_set_bool(ev, "Signed", kind & 1);
	yw_event_set_null(ev, "ParentImage");
	yw_event_set_list(ev, "auditd.execve", args, 3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct yw_ruleset *rs = yw_ruleset_new();
	struct yw_event *ev = yw_event_new();
	struct yw_diags d = YW_DIAGS_INIT;
	if (!rs || !ev)
		goto out;
	yw_ruleset_add_text(rs, (const char *)data, size, "fuzz.yml", &d);
	if (yw_ruleset_compile(rs, &d))
		goto out;
	size_t hits = 0;
	for (int kind = 0; kind < 4; kind++) {
		fill(ev, kind);
		yw_ruleset_match(rs, ev, on_match, &hits);
	}
out:
	yw_diags_free(&d);
	yw_event_free(ev);
	yw_ruleset_free(rs);
	return 0;
}
