/* Notification channels from YAML: a `channels:` list of maps (docs/notifications.md). */
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "notify_int.h"
#include "yiwang/error.h"
#include "yiwang/store.h"
#include "yw_limits.h"

static const char *const type_names[] = {"webhook", "wecom",  "dingtalk",
                                         "feishu",  "syslog", "email"};

int yw_notify_type_parse(const char *name)
{
	for (int i = 0; i < (int)(sizeof(type_names) / sizeof(*type_names)); i++)
		if (name && !strcmp(name, type_names[i]))
			return i;
	/* Lark is Feishu outside China: same robot API and signature. */
	if (name && !strcmp(name, "lark"))
		return YW_NOTIFY_FEISHU;
	return YW_EINVAL;
}

const char *yw_notify_type_name(int type)
{
	if (type < 0 || type >= (int)(sizeof(type_names) / sizeof(*type_names)))
		return "unknown";
	return type_names[type];
}

static void strlist_free(struct yw_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void secret_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		free(s);
	}
}

static void channel_free(struct yw_notify_channel *c)
{
	free(c->name);
	free(c->url);
	secret_free(c->secret);
	strlist_free(&c->groups);
	strlist_free(&c->rules);
	free(c->ca_file);
	free(c->format);
	free(c->hostname);
	free(c->from);
	strlist_free(&c->to);
	free(c->username);
	memset(c, 0, sizeof(*c));
}

void yw_notify_channels_free(struct yw_notify_channels *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		channel_free(&c->v[i]);
	free(c->v);
	c->v = NULL;
	c->n = 0;
}

struct loader {
	yaml_document_t *doc;
	const char *file;
	struct yw_diags *d;
	int errors;
};

__attribute__((format(printf, 3, 4))) static void bad(struct loader *l, const yaml_node_t *node,
                                                      const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	yw_diags_add(l->d, YW_DIAG_ERROR, l->file, (unsigned)node->start_mark.line + 1,
	             (unsigned)node->start_mark.column + 1, "%s", msg);
	l->errors++;
}

static const char *scalar(struct loader *l, yaml_node_t *v, const char *key)
{
	if (v->type != YAML_SCALAR_NODE) {
		bad(l, v, "%s: expected a single value", key);
		return NULL;
	}
	return (const char *)v->data.scalar.value;
}

static int set_str(struct loader *l, yaml_node_t *v, const char *key, char **dst)
{
	const char *s = scalar(l, v, key);
	if (!s)
		return 0;
	/* Values go into URLs and mail headers: no control characters. */
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p < 0x20) {
			bad(l, v, "%s: control character in value", key);
			return 0;
		}
	}
	free(*dst);
	*dst = strdup(s);
	return *dst ? 0 : YW_ENOMEM;
}

static int set_list(struct loader *l, yaml_node_t *v, const char *key, struct yw_strlist *dst)
{
	strlist_free(dst);
	if (v->type == YAML_SCALAR_NODE) {
		char *s = NULL;
		int rc = set_str(l, v, key, &s);
		if (rc || !s)
			return rc;
		dst->v = malloc(sizeof(char *));
		if (!dst->v) {
			free(s);
			return YW_ENOMEM;
		}
		dst->v[dst->n++] = s;
		return 0;
	}
	if (v->type != YAML_SEQUENCE_NODE) {
		bad(l, v, "%s: expected a list", key);
		return 0;
	}
	size_t n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	dst->v = calloc(n ? n : 1, sizeof(char *));
	if (!dst->v)
		return YW_ENOMEM;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top;
	     it++) {
		char *s = NULL;
		int rc = set_str(l, yaml_document_get_node(l->doc, *it), key, &s);
		if (rc)
			return rc;
		if (s)
			dst->v[dst->n++] = s;
	}
	return 0;
}

static int set_int(struct loader *l, yaml_node_t *v, const char *key, int64_t *dst, int64_t min,
                   int64_t max)
{
	const char *s = scalar(l, v, key);
	if (!s)
		return 0;
	char *end;
	errno = 0;
	long long x = strtoll(s, &end, 10);
	if (errno || end == s || *end || x < min || x > max) {
		bad(l, v, "%s: expected a whole number in range", key);
		return 0;
	}
	*dst = x;
	return 0;
}

static int set_bool(struct loader *l, yaml_node_t *v, const char *key, bool *dst)
{
	const char *s = scalar(l, v, key);
	if (!s)
		return 0;
	if (!strcmp(s, "true") || !strcmp(s, "yes"))
		*dst = true;
	else if (!strcmp(s, "false") || !strcmp(s, "no"))
		*dst = false;
	else
		bad(l, v, "%s: expected true or false", key);
	return 0;
}

/* Reads a secret from a file only its owner can read; a trailing newline is not part of it. */
static int read_secret(struct loader *l, yaml_node_t *v, char **dst)
{
	const char *path = scalar(l, v, "secret_file");
	if (!path)
		return 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) {
		bad(l, v, "secret_file: cannot open %s", path);
		goto out;
	}
	if (!S_ISREG(st.st_mode) || (st.st_mode & 077)) {
		bad(l, v, "secret_file: %s must be a regular file of mode 0600 or stricter", path);
		goto out;
	}
	if (st.st_size > YW_NOTIFY_MAX_SECRET) {
		bad(l, v, "secret_file: %s is too large", path);
		goto out;
	}
	char buf[YW_NOTIFY_MAX_SECRET + 1];
	ssize_t n = read(fd, buf, YW_NOTIFY_MAX_SECRET);
	if (n < 0) {
		bad(l, v, "secret_file: cannot read %s", path);
		goto out;
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	secret_free(*dst);
	*dst = strdup(buf);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (!*dst) {
		close(fd);
		return YW_ENOMEM;
	}
out:
	if (fd >= 0)
		close(fd);
	return 0;
}

static int load_channel(struct loader *l, yaml_node_t *map, struct yw_notify_channel *c)
{
	c->type = -1;
	c->min_level = YW_LEVEL_INFORMATIONAL;
	c->rate_per_minute = -1;
	c->timeout_ms = YW_NOTIFY_DEFAULT_TIMEOUT_MS;
	c->max_attempts = YW_NOTIFY_DEFAULT_ATTEMPTS;
	c->starttls = true;
	if (map->type != YAML_MAPPING_NODE) {
		bad(l, map, "%s", "a channel must be a map (name:, type:, url:, ...)");
		return 0;
	}
	int rc = 0;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top && !rc; p++) {
		yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(l->doc, p->value);
		const char *key = scalar(l, k, "key");
		if (!key)
			continue;
		if (!strcmp(key, "name")) {
			rc = set_str(l, v, key, &c->name);
		} else if (!strcmp(key, "type")) {
			const char *s = scalar(l, v, key);
			if (s && (c->type = yw_notify_type_parse(s)) < 0)
				bad(l, v,
				    "type: unknown channel type '%s' (webhook, wecom, "
				    "dingtalk, feishu, syslog, email)",
				    s);
		} else if (!strcmp(key, "url")) {
			rc = set_str(l, v, key, &c->url);
		} else if (!strcmp(key, "secret")) {
			secret_free(c->secret);
			c->secret = NULL;
			rc = set_str(l, v, key, &c->secret);
		} else if (!strcmp(key, "secret_file")) {
			rc = read_secret(l, v, &c->secret);
		} else if (!strcmp(key, "min_level")) {
			const char *s = scalar(l, v, key);
			if (s && (c->min_level = yw_level_parse(s)) < 0)
				bad(l, v, "min_level: unknown level '%s'", s);
		} else if (!strcmp(key, "groups")) {
			rc = set_list(l, v, key, &c->groups);
		} else if (!strcmp(key, "rules")) {
			rc = set_list(l, v, key, &c->rules);
		} else if (!strcmp(key, "rate_per_minute")) {
			rc = set_int(l, v, key, &c->rate_per_minute, 0, 1000000);
		} else if (!strcmp(key, "timeout")) {
			const char *s = scalar(l, v, key);
			if (s && (yw_parse_duration_ms(s, &c->timeout_ms) || c->timeout_ms <= 0))
				bad(l, v, "timeout: expected a duration such as 10s, not '%s'", s);
		} else if (!strcmp(key, "max_attempts")) {
			rc = set_int(l, v, key, &c->max_attempts, 1, 1000);
		} else if (!strcmp(key, "ca_file")) {
			rc = set_str(l, v, key, &c->ca_file);
		} else if (!strcmp(key, "insecure")) {
			rc = set_bool(l, v, key, &c->insecure);
		} else if (!strcmp(key, "format")) {
			rc = set_str(l, v, key, &c->format);
			if (!rc && c->format && strcmp(c->format, "rfc5424") &&
			    strcmp(c->format, "cef"))
				bad(l, v, "format: '%s' is not rfc5424 or cef", c->format);
		} else if (!strcmp(key, "hostname")) {
			rc = set_str(l, v, key, &c->hostname);
		} else if (!strcmp(key, "from")) {
			rc = set_str(l, v, key, &c->from);
		} else if (!strcmp(key, "to")) {
			rc = set_list(l, v, key, &c->to);
		} else if (!strcmp(key, "username")) {
			rc = set_str(l, v, key, &c->username);
		} else if (!strcmp(key, "starttls")) {
			rc = set_bool(l, v, key, &c->starttls);
		} else {
			bad(l, k, "unknown channel option '%s'", key);
		}
	}
	if (rc)
		return rc;
	if (!c->name)
		bad(l, map, "%s", "channel without a name");
	if (c->type < 0) {
		bad(l, map, "%s", "channel without a type");
		return 0;
	}
	if (!c->url)
		bad(l, map, "%s", "channel without a url");
	if (c->rate_per_minute < 0)
		/* The chat robots allow 20 messages a minute (Feishu 100); beyond, they reject. */
		c->rate_per_minute = c->type == YW_NOTIFY_WECOM || c->type == YW_NOTIFY_DINGTALK
		                         ? 20
		                     : c->type == YW_NOTIFY_FEISHU ? 100
		                                                   : 0;
	if (c->type == YW_NOTIFY_EMAIL && (!c->from || !c->to.n))
		bad(l, map, "%s", "email channel needs from: and to:");
	if (c->url && c->type == YW_NOTIFY_SYSLOG && strncmp(c->url, "tcp://", 6) &&
	    strncmp(c->url, "tls://", 6))
		bad(l, map, "url: syslog needs tcp://host:port or tls://host:port, not '%s'",
		    c->url);
	if (c->url && c->type == YW_NOTIFY_EMAIL && strncmp(c->url, "smtp://", 7) &&
	    strncmp(c->url, "smtps://", 8))
		bad(l, map, "url: email needs smtp:// or smtps://, not '%s'", c->url);
	if (c->url && c->type <= YW_NOTIFY_FEISHU && strncmp(c->url, "https://", 8) &&
	    strncmp(c->url, "http://", 7))
		bad(l, map, "url: '%s' is not http:// or https://", c->url);
	return 0;
}

static int load_doc(struct loader *l, struct yw_notify_channels *out)
{
	yaml_node_t *root = yaml_document_get_root_node(l->doc);
	if (!root)
		return 0; /* empty: no channels */
	yaml_node_t *list = NULL;
	if (root->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = root->data.mapping.pairs.start;
		     p < root->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(l->doc, p->key);
			const char *key = scalar(l, k, "key");
			if (key && !strcmp(key, "channels"))
				list = yaml_document_get_node(l->doc, p->value);
			else if (key)
				bad(l, k, "unknown key '%s' (expected channels:)", key);
		}
	}
	if (!list)
		return 0;
	if (list->type != YAML_SEQUENCE_NODE) {
		bad(l, list, "%s", "channels: expected a list of channels");
		return 0;
	}
	size_t n = (size_t)(list->data.sequence.items.top - list->data.sequence.items.start);
	if (n > YW_NOTIFY_MAX_CHANNELS) {
		bad(l, list, "%s", "channels: too many channels");
		return 0;
	}
	out->v = calloc(n ? n : 1, sizeof(*out->v));
	if (!out->v)
		return YW_ENOMEM;
	for (yaml_node_item_t *it = list->data.sequence.items.start;
	     it < list->data.sequence.items.top; it++) {
		yaml_node_t *c = yaml_document_get_node(l->doc, *it);
		int rc = load_channel(l, c, &out->v[out->n]);
		out->n++;
		if (rc)
			return rc;
		for (size_t j = 0; j + 1 < out->n; j++)
			if (out->v[j].name && out->v[out->n - 1].name &&
			    !strcmp(out->v[j].name, out->v[out->n - 1].name))
				bad(l, c, "duplicate channel name '%s'", out->v[j].name);
	}
	return 0;
}

int yw_notify_load_channels(const char *path_or_yaml, struct yw_notify_channels *out,
                            struct yw_diags *d)
{
	memset(out, 0, sizeof(*out));
	bool inline_text = strchr(path_or_yaml, '\n') != NULL;
	const char *file = inline_text ? "<channels>" : path_or_yaml;
	char *text = NULL;
	size_t len = 0;
	int rc = 0;
	if (inline_text) {
		len = strlen(path_or_yaml);
	} else {
		FILE *f = fopen(path_or_yaml, "re");
		if (!f) {
			yw_diags_add(d, YW_DIAG_ERROR, file, 0, 0, "cannot open: %s",
			             strerror(errno));
			return errno == ENOENT ? YW_ENOENT : YW_EIO;
		}
		text = malloc(YW_NOTIFY_MAX_CONFIG + 1);
		if (!text) {
			fclose(f);
			return YW_ENOMEM;
		}
		len = fread(text, 1, YW_NOTIFY_MAX_CONFIG + 1, f);
		bool err = ferror(f);
		fclose(f);
		if (err) {
			free(text);
			return YW_EIO;
		}
	}
	if (len > YW_NOTIFY_MAX_CONFIG) {
		yw_diags_add(d, YW_DIAG_ERROR, file, 0, 0, "larger than %d bytes",
		             YW_NOTIFY_MAX_CONFIG);
		free(text);
		return YW_EINVAL;
	}
	yaml_parser_t parser;
	yaml_document_t doc;
	if (!yaml_parser_initialize(&parser)) {
		free(text);
		return YW_ENOMEM;
	}
	yaml_parser_set_input_string(
	    &parser, (const unsigned char *)(inline_text ? path_or_yaml : text), len);
	if (!yaml_parser_load(&parser, &doc)) {
		yw_diags_add(d, YW_DIAG_ERROR, file, (unsigned)parser.problem_mark.line + 1,
		             (unsigned)parser.problem_mark.column + 1, "YAML: %s",
		             parser.problem ? parser.problem : "syntax error");
		yaml_parser_delete(&parser);
		free(text);
		return YW_EINVAL;
	}
	struct loader l = {&doc, file, d, 0};
	rc = load_doc(&l, out);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (text) {
		OPENSSL_cleanse(text, len); /* may hold an inline secret */
		free(text);
	}
	if (!rc && l.errors)
		rc = YW_EINVAL;
	if (rc)
		yw_notify_channels_free(out);
	return rc;
}
