/* cron (Debian's CRON and cronie's crond): "(user) WORD (argument)". PAM session lines
 * logged by cron go to the PAM decoder instead. */
#include "syslog_progs.h"

void yw_sl_decode_cron(struct yw_sl *s, const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len;
	if (!YW_SL_EAT(&p, end, "("))
		return;
	const char *u = p;
	while (p < end && *p != ')')
		p++;
	const char *ue = p;
	if (!YW_SL_EAT(&p, end, ") "))
		return;
	const char *w = p, *we = yw_sl_tok(p, end);
	p = we;
	const char *arg = NULL, *arge = NULL;
	if (YW_SL_EAT(&p, end, " (") && end > p && end[-1] == ')') {
		arg = p;
		arge = end - 1;
	}
	static const struct {
		const char *word, *action, *category;
	} words[] = {
	    {"CMD", "cron_command", "process"},
	    {"REPLACE", "cron_crontab_replaced", "configuration"},
	    {"DELETE", "cron_crontab_deleted", "configuration"},
	    {"BEGIN", "cron_crontab_edit", "configuration"},
	    {"RELOAD", "cron_reload", "configuration"},
	};
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		size_t n = strlen(words[i].word);
		if ((size_t)(we - w) != n || memcmp(w, words[i].word, n) != 0)
			continue;
		yw_sl_action(s, words[i].action, NULL);
		yw_sl_strz(s, "event.category", words[i].category);
		yw_sl_user(s, "user.name", u, (size_t)(ue - u));
		if (arg && i == 0)
			yw_sl_str(s, "process.command_line", arg, (size_t)(arge - arg));
		return;
	}
}
