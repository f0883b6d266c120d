/* Every size, depth and count limit on untrusted input, with the reason for its value. */
#ifndef YIWANG_LIMITS_H
#define YIWANG_LIMITS_H

/* Longest log line accepted; longer lines are cut and the event notes the truncation.
 * 1 MiB covers huge audit EXECVE records and JSON documents while bounding memory per line. */
#define YW_MAX_LINE (1024 * 1024)

/* Fields per event: real events carry < 100; a hostile JSON object must not grow without bound. */
#define YW_MAX_FIELDS 1024

/* Items in one list field (e.g. execve arguments); auditd caps argc far lower in practice. */
#define YW_MAX_LIST_ITEMS 4096

/* Length of a field name; ECS names are short, and names are copied into every event. */
#define YW_MAX_FIELD_NAME 256

/* Nesting depth of JSON objects/arrays, so recursion cannot exhaust the stack. */
#define YW_MAX_JSON_DEPTH 64

/* Memory one event may use (fields and text); bounds what one line can make us allocate. */
#define YW_MAX_EVENT_BYTES (8 * 1024 * 1024)

/* Anomaly notes kept per event; more are counted but not stored. */
#define YW_MAX_ANOMALIES 16

/* Audit records grouped into one event before it is emitted regardless of serial. */
#define YW_MAX_AUDIT_RECORDS 64

/* Audit events with distinct serials held open at once while waiting for their EOE. */
#define YW_MAX_AUDIT_PENDING 32

/* Size of one rule file; SigmaHQ's largest is ~100 KiB. */
#define YW_MAX_RULE_FILE (4 * 1024 * 1024)

/* Nesting depth in a rule's YAML and in a condition expression. */
#define YW_MAX_RULE_DEPTH 64

/* Values in one rule and selections per rule, so a hostile rule cannot exhaust memory. */
#define YW_MAX_RULE_VALUES 100000
#define YW_MAX_SELECTIONS 1024

/* Length of a condition string. */
#define YW_MAX_CONDITION 65536

/* Regex pattern length accepted from a rule (PCRE2 compile cost grows with it). */
#define YW_MAX_REGEX 65536

/* --- syslog decoders (decode_syslog.c) --- */

/* Length of a syslog program tag; RFC 3164 allows 32, real tags (D-Bus names, Java apps) run
 * longer. A longer first word is taken as text, so scanning for a tag stays short. */
#define YW_MAX_SYSLOG_TAG 128

/* Length of the "[pid]" part of a tag; a pid has at most 10 digits, some programs log a
 * thread name there. */
#define YW_MAX_SYSLOG_PID 32

/* --- Sigma value matching (sigma_match.c) --- */

/* Alternatives one detection item may expand into (windash 5^k, base64offset x3, placeholder
 * products): SigmaHQ's largest item needs a few dozen; a hostile rule must not need millions. */
#define YW_MAX_SIGMA_ALTS 16384

/* PCRE2 match limit per regex evaluation, so a pathological pattern/subject pair cannot
 * backtrack for seconds on one event; exceeding it counts as no match. */
#define YW_SIGMA_REGEX_MATCH_LIMIT 1000000

/* Values one placeholder may have in yw_placeholders (they multiply through expand). */
#define YW_MAX_PLACEHOLDER_VALUES 4096

/* --- auditd grouping (decode_auditd.c) --- */

/* Bytes of record text held for one audit event: two maximal lines, so a huge EXECVE record
 * and its companions still form one event, while one event's memory stays bounded. */
#define YW_MAX_AUDIT_GROUP_BYTES (2 * 1024 * 1024)

/* Bytes held across all open audit events; past it the oldest is emitted early. */
#define YW_MAX_AUDIT_PENDING_BYTES (16 * 1024 * 1024)

/* --- stream reader (decode.c) --- */

/* fread() chunk of yw_decoder_file: large enough to amortize calls, small enough to keep. */
#define YW_DECODE_READ_CHUNK (256 * 1024)

/* ---- Sigma loader and mapping (h3a) ---- */

/* Modifiers chained on one field key (`Field|a|b|...`); real rules use at most 3. */
#define YW_MAX_SIGMA_MODIFIERS 16

/* Event field names one Sigma field may map to in the mapping file; each is tried per event. */
#define YW_MAX_MAPPING_TARGETS 6

/* ---- PKI, enrolment string and TLS (tl) ---- */

/* "host:port" in an enrolment string: its length is one byte in the payload; real server names
 * plus ":port" are far shorter. */
#define YW_MAX_ENROLL_ADDR 255

/* Whole enrolment string as pasted: "yw1:" + base64url of the largest valid payload. */
#define YW_MAX_ENROLL_STRING 512

/* A CSR from an enrolling agent: a P-256 CSR in PEM is ~500 bytes; room for odd encoders. */
#define YW_MAX_CSR_PEM 8192

/* Agent id (certificate CN): a UUID is 36 characters; ids are also file and log names. */
#define YW_MAX_AGENT_ID 64

/* Bytes of certificate chain a TLS peer may send: ours are ~1.2 KiB; bounds handshake memory. */
#define YW_TLS_MAX_CERT_LIST 16384

/* Size of a PEM certificate or key file read from the data dir or received at enrolment. */
#define YW_MAX_PKI_FILE 65536

/* Host names / addresses put into the server certificate's subjectAltName. */
#define YW_MAX_SAN_NAMES 32

/* ---- wire protocol (src/proto, docs/protocol.md) ---- */

/* Payload bytes of one frame on the wire. Bounds the per-connection receive buffer; a batch of
 * 10,000 typical log lines compresses to well under 1 MiB, and one maximal record must fit. */
#define YW_MAX_FRAME (4 * 1024 * 1024)

/* Bytes a compressed payload may decompress to, checked against the zstd frame header before
 * allocating and enforced while decompressing, so a zstd bomb fails cheaply. */
#define YW_MAX_FRAME_PLAIN (16 * 1024 * 1024)

/* Bytes one yw_frame_feed/yw_frame_space may add beyond a partial frame: the caller's read
 * size. The receive buffer never exceeds YW_FRAME_HEADER + YW_MAX_FRAME + this. */
#define YW_FRAME_FEED_MAX (256 * 1024)

/* Records in one batch: bounds the record array a batch makes the server allocate. */
#define YW_MAX_BATCH_RECORDS 10000

/* Data bytes of one record: a maximal log line plus room for the JSON an agent builds around
 * a collected item (FIM, inventory). */
#define YW_MAX_RECORD_DATA (YW_MAX_LINE + 64 * 1024)

/* Short text fields (agent id, versions, hostname, OS, token, command name, error message,
 * record source): hostnames are <= 253 bytes, paths in sources rarely pass 1 KiB. */
#define YW_MAX_PROTO_TEXT 4096

/* PEM fields (CSR, certificate, CA chain): a chain of a few RSA-4096 certificates is ~10 KiB. */
#define YW_MAX_PROTO_PEM (64 * 1024)

/* JSON fields (configuration, command arguments, command results). */
#define YW_MAX_PROTO_JSON (1024 * 1024)

/* ---- server store (st) ---- */

/* Bytes of one text the store keeps about an agent or a token (id, name, group, OS, version,
 * certificate serial, addresses): enrolment takes them from the network, so they are bounded. */
#define YW_MAX_STORE_TEXT 1024

/* Events deleted per transaction by yw_store_prune, so the writer is never held for long. */
#define YW_STORE_PRUNE_CHUNK 20000

/* ---- Sigma correlations (correlate.c, co) ---- */

/* Groups one correlation holds by default; past it the least recently updated is evicted, so a
 * flood of distinct source addresses costs bounded memory (100,000 groups ~ a /15 of sources). */
#define YW_CORR_DEFAULT_MAX_GROUPS 100000

/* Bytes of window state one correlation may hold by default; max_groups shrinks to fit. */
#define YW_CORR_DEFAULT_MAX_BYTES (64u * 1024 * 1024)

/* How far behind the newest timestamp an event may arrive and still count (syslog relays and
 * multi-file input reorder lines by seconds, rarely by a minute). */
#define YW_CORR_DEFAULT_LATE_MS 60000

/* Highest count threshold of an event_count/value_count correlation decided as events arrive:
 * each group keeps that many timestamps or values. */
#define YW_CORR_MAX_THRESHOLD 10000

/* Sub-windows a value_sum/value_avg group keeps; more events in a window are merged into the
 * oldest entries (they then expire with the newer of the merged times). */
#define YW_CORR_VALUE_RING 64

/* Events a value_percentile group samples to compute a value's share of its window. */
#define YW_CORR_PERCENTILE_SAMPLE 512

/* Bytes of one group-by value kept in a group key; longer values are cut (they still group). */
#define YW_CORR_MAX_GROUP_VALUE 256

/* Correlations chained on top of each other (a chain is resolved recursively). */
#define YW_CORR_MAX_CHAIN 8

/* ---- agent spool (spool.c) and file collector (collectors/file.c) (sp) ---- */

/* Disk the spool may use by default: about a day of a busy host's logs while the server is
 * unreachable, and small next to a typical /var. */
#define YW_SPOOL_DEFAULT_MAX_BYTES (256ULL * 1024 * 1024)

/* Segment file size: the unit of deletion after acks and of drop_oldest; large enough that the
 * per-segment fsync + state write at each roll is rare, small enough that acked data goes soon. */
#define YW_SPOOL_DEFAULT_SEGMENT (8 * 1024 * 1024)
#define YW_SPOOL_MIN_SEGMENT (64 * 1024)

/* Bytes of one record's collector cursor (the file collector needs 30). */
#define YW_SPOOL_MAX_CURSOR 64

/* Source name length the cursor table keeps ("file:" + PATH_MAX). */
#define YW_SPOOL_MAX_CURSOR_SOURCE 4200

/* Sources with a cursor the spool tracks (one per followed file); more are still spooled but
 * their cursor is not remembered, so the collector falls back to its own state file. */
#define YW_SPOOL_MAX_CURSORS 4096

/* Largest record body in a segment: fixed fields, source, cursor and the largest payload. A
 * longer length prefix on disk means a torn or corrupt frame. */
#define YW_SPOOL_MAX_RECORD (24 + 65535 + YW_SPOOL_MAX_CURSOR + YW_MAX_RECORD_DATA)

/* Write buffer and initial read buffer: few syscalls at 100k records/s, little memory. */
#define YW_SPOOL_WBUF (64 * 1024)
#define YW_SPOOL_RBUF (64 * 1024)

/* Segment files recovered from a spool directory (max_bytes / smallest segment, with room). */
#define YW_SPOOL_MAX_SEGMENTS 65536

/* State file size: the cursor table at its limits. */
#define YW_SPOOL_MAX_STATE \
	(64 + YW_SPOOL_MAX_CURSORS * (2 + YW_SPOOL_MAX_CURSOR_SOURCE + 1 + YW_SPOOL_MAX_CURSOR + 8))

/* The acked seq is persisted at most this often unless a segment is deleted: a lost update
 * only makes the agent resend records the server already has (and drops as duplicates). */
#define YW_SPOOL_STATE_PERSIST_MS 1000

/* Files one file collector follows at once, and glob patterns it takes. */
#define YW_FILE_MAX_FILES 1024
#define YW_FILE_MAX_PATTERNS 64

/* read() size of the file collector: a 1,000 lines/s file needs one read per poll. */
#define YW_FILE_READ_CHUNK (64 * 1024)

/* Bytes read from one file in one poll, so a huge backlog cannot starve the other files or the
 * agent's loop. */
#define YW_FILE_POLL_BYTES (1024 * 1024)

/* Bytes at the start of a file hashed to tell a reused inode or a copytruncate from the file
 * we were reading. */
#define YW_FILE_HEAD_HASH 256

/* Defaults: glob re-expansion period, and how long a last line without newline is held. */
#define YW_FILE_DEFAULT_RESCAN_MS 5000
#define YW_FILE_DEFAULT_PARTIAL_MS 5000

/* The file collector's state file: one entry per followed file. */
#define YW_FILE_MAX_STATE (64 + YW_FILE_MAX_FILES * (2 + 4096 + 5 * 8 + 4))

/* ---- Sigma prefilter (pf) ---- */

/* Distinct event log sources (product, service, category as interned ids) whose route -- the
 * applicable rules and their Vectorscan databases -- is cached; each new one costs a compile.
 * Events past it are evaluated without the prefilter (exact, slower). */
#define YW_MAX_SIGMA_ROUTES 256

/* ---- Solution library (solution) ---- */

/* One solution file: the largest bundled one (tactics.yml) is about 24 KiB. */
#define YW_MAX_SOLUTION_FILE (1024 * 1024)

/* Files read below the solutions directory, and how deep it is walked. */
#define YW_MAX_SOLUTION_FILES 4096
#define YW_MAX_SOLUTION_DEPTH 4

/* Entries in one library: one per rule, technique, tactic and log source is far below. */
#define YW_MAX_SOLUTIONS 65536

/* Steps in one verify/fix/prevent list, and bytes in one text: advice longer than this is
 * unreadable in an alert view. */
#define YW_MAX_SOLUTION_STEPS 32
#define YW_MAX_SOLUTION_TEXT 4096

/* ---- notifications (src/server/notify/) (nt) ---- */

/* WeCom group robot: markdown content is at most 4,096 bytes (UTF-8), per its API. */
#define YW_NOTIFY_WECOM_MAX 4096

/* DingTalk and Feishu/Lark reject request bodies of about 20 KB; markdown text is cut below
 * that, leaving room for the JSON wrapping and escaping. */
#define YW_NOTIFY_DINGTALK_MAX 16000
#define YW_NOTIFY_FEISHU_MAX 16000

/* One event field value in a notification; attacker-controlled log text is cut here so a
 * huge line cannot fill a chat message or a SIEM record. */
#define YW_NOTIFY_MAX_FIELD 1024

/* Strings of an alert kept in the outbox (title, solution, agent names). */
#define YW_NOTIFY_MAX_TEXT 4096

/* One outbox row's payload (alert JSON); larger enqueues fail with YW_ELIMIT. */
#define YW_NOTIFY_MAX_PAYLOAD (64 * 1024)

/* Rendered message: syslog line, email, HTTP body. */
#define YW_NOTIFY_MAX_MESSAGE (256 * 1024)

/* Tags of an alert carried into a notification. */
#define YW_NOTIFY_MAX_TAGS 64

/* Channels in one configuration, and bytes of a channels YAML file or a secret file. */
#define YW_NOTIFY_MAX_CHANNELS 64
#define YW_NOTIFY_MAX_CONFIG (1024 * 1024)
#define YW_NOTIFY_MAX_SECRET 4096

/* Receiver response body read (JSON errcode of the chat robots). */
#define YW_NOTIFY_MAX_RESPONSE (64 * 1024)

/* Rows one dispatcher pass takes from the outbox: bounds a pass's memory and time. */
#define YW_NOTIFY_BATCH 64

/* Defaults: one attempt's timeout, attempts before a row is given up, backoff. */
#define YW_NOTIFY_DEFAULT_TIMEOUT_MS 10000
#define YW_NOTIFY_DEFAULT_ATTEMPTS 12
#define YW_NOTIFY_DEFAULT_BACKOFF_MS 5000
#define YW_NOTIFY_DEFAULT_MAX_BACKOFF_MS (3600 * 1000)

/* Sent rows stay in the outbox this long so a re-detected alert (a batch replayed after a
 * server crash) is recognised by its dedup key and not sent twice. */
#define YW_NOTIFY_KEEP_SENT_MS (7LL * 24 * 3600 * 1000)

/* ---- agent inventory (collectors/inventory.c) and SCA (sca_policy.c, collectors/sca.c) (sc) ---- */

/* Bytes read from one file an inventory or SCA rule looks at (passwd, group, /proc/net/tcp,
 * sshd_config, login.defs): real ones are KiB; /proc/net/tcp of a busy server a few MiB. */
#define YW_SCA_MAX_FILE (16 * 1024 * 1024)

/* dpkg status file: ~3 MiB for 2,000 packages; a full desktop with docs stays well below. */
#define YW_DPKG_MAX_STATUS (64 * 1024 * 1024)

/* Packages read from dpkg or rpm: Debian's whole archive is ~65,000 binary packages. */
#define YW_DPKG_MAX_PACKAGES 100000

/* Items in one inventory category (packages, users, ports...); past it the rest is skipped and
 * the snapshot says so, rather than growing without bound on a strange host. */
#define YW_INV_MAX_ITEMS 100000

/* Processes scanned to map listening sockets to their owner (/proc/<pid>/fd). */
#define YW_INV_MAX_PROCS 65536

/* The inventory state file: every item's JSON (~200 bytes each) at YW_INV_MAX_ITEMS. */
#define YW_INV_MAX_STATE (64 * 1024 * 1024)

/* `rpm -qa` may run this long before it is killed and the rpm packages are skipped. */
#define YW_INV_RPM_TIMEOUT_MS 30000

/* Bytes of command output kept (rpm -qa for 10,000 packages is ~500 KiB). */
#define YW_INV_RPM_MAX_OUTPUT (8 * 1024 * 1024)

/* A policy file; the shipped one is ~100 KiB. */
#define YW_SCA_MAX_POLICY_FILE (4 * 1024 * 1024)

/* Checks in one policy, rules in one check, and files one rule's glob may expand to. */
#define YW_SCA_MAX_CHECKS 10000
#define YW_SCA_MAX_RULES 64
#define YW_SCA_MAX_GLOB 256

/* Bytes of one text field of a check (title, rationale, remediation). */
#define YW_SCA_MAX_TEXT (16 * 1024)

/* Command rules: default and longest timeout, and bytes of output kept for matching. */
#define YW_SCA_CMD_DEFAULT_TIMEOUT_MS 5000
#define YW_SCA_CMD_MAX_TIMEOUT_MS 60000
#define YW_SCA_CMD_MAX_OUTPUT (256 * 1024)

/* Time one SCA poll spends evaluating checks before it yields to the agent's loop (a command
 * rule may overrun it by its own timeout). */
#define YW_SCA_POLL_BUDGET_MS 50

/* The SCA state file: one line per check result. */
#define YW_SCA_MAX_STATE (8 * 1024 * 1024)

/* ---- process and network collectors (collectors/process.c, network.c) (pc) ---- */

/* Bytes of a process's command line read by default, and the most the max_cmdline option
 * allows: an event holds it twice (args and command_line), escaped (up to 6x), plus the
 * parent's, and must stay under YW_MAX_RECORD_DATA. */
#define YW_PROC_DEFAULT_CMDLINE 8192
#define YW_PROC_MAX_CMDLINE (32 * 1024)

/* ignore_exe glob patterns one process collector takes. */
#define YW_PROC_MAX_IGNORE 64

/* Netlink datagrams handled in one poll, so an exec storm cannot stall the agent's loop. */
#define YW_PROC_POLL_MSGS 512

/* fork parent table (direct-mapped by pid): the parent of a process that exited before its
 * /proc could be read. 4096 covers the forks of a busy second. */
#define YW_PROC_FORK_SLOTS 4096

/* Receive buffer asked for on the process connector socket: ~40k events of slack when the
 * loop is slow (the kernel drops past it; we report the overrun). */
#define YW_PROC_RCVBUF (4 * 1024 * 1024)

/* Sockets read from /proc/net in one scan; more (a server with huge connection tables) are
 * not tracked in that scan, with a note in the next event. */
#define YW_NET_MAX_SOCKETS 65536

/* Descriptors examined per owner lookup walk over /proc/<pid>/fd (readlink each): bounds a
 * scan's cost on hosts with millions of open files. */
#define YW_NET_MAX_FD_SCAN 200000

/* Events one network poll emits; the rest wait for the next poll. */
#define YW_NET_POLL_EVENTS 1024

/* Default scan period of the network collector. */
#define YW_NET_DEFAULT_INTERVAL_MS 2000

/* ---- network collector over sock_diag, owner cache (collectors/network_*.c) (hf) ---- */

/* Receive buffer for sock_diag dumps: the kernel sizes a dump datagram by the reader's
 * buffer, up to 32 KiB; a larger one would only be cut. */
#define YW_NET_DIAG_BUF (32 * 1024)

/* Datagrams one dump may take before it is given up (each holds >= 1 socket): above
 * YW_NET_MAX_SOCKETS so a full table still drains the dump to its end. */
#define YW_NET_DIAG_MAX_DGRAMS (2 * YW_NET_MAX_SOCKETS)

/* Remembered socket descriptors (inode -> pid, fd) from earlier owner walks: a new socket
 * whose descriptor was already passed costs one readlink instead of a /proc walk. */
#define YW_NET_OWNER_CACHE 4096

/* Recent owners of new sockets whose fd directories are read before walking all of /proc:
 * servers and clients that open sockets keep doing so. */
#define YW_NET_HOT_PIDS 16

/* ---- network collector: TCP socket-destroy notifications (collectors/network_closed.c) (hj) */

/* Destroy notifications read per network poll: bounds one poll's work when many connections
 * close at once (the rest wait in the kernel buffer for the next poll). */
#define YW_NET_CLOSED_READS 256

/* Closed connections waiting to be reported: more are dropped and counted (reported as an
 * agent_network_events_lost record) rather than held without bound. */
#define YW_NET_CLOSED_QUEUE 4096

/* Receive buffer asked for the destroy-notification socket (~400 bytes per message, ~1 KiB
 * in the kernel's accounting): ~1,000 closes of slack between two polls. */
#define YW_NET_CLOSED_RCVBUF (1024 * 1024)

/* ---- file integrity monitoring collector (collectors/fim.c, fim_baseline.c) (fi) ---- */

/* Configured roots ("path") and ignore globs of one FIM collector. */
#define YW_FIM_MAX_ROOTS 64
#define YW_FIM_MAX_IGNORES 256

/* Files in one baseline: ~150 bytes of memory each plus the path (150k files of /usr take
 * ~40 MiB). Files past it are not tracked and counted as an anomaly. */
#define YW_FIM_MAX_FILES 1000000

/* Directory depth below a root: stops bind-mount loops and pathological trees (symlinks are
 * never followed, so they cannot loop). */
#define YW_FIM_MAX_DEPTH 64

/* Longest path tracked (PATH_MAX); longer ones are skipped and counted. */
#define YW_FIM_MAX_PATH 4096

/* Default inotify watches (one per directory); past it the scheduled scans still cover the
 * rest. The kernel's fs.inotify.max_user_watches may be lower: then ENOSPC, same effect. */
#define YW_FIM_DEFAULT_MAX_WATCHES 65536
#define YW_FIM_MAX_WATCHES (1 << 22)

/* Realtime paths waiting for their debounce: more means a storm, and a rescan is cheaper. */
#define YW_FIM_MAX_PENDING 16384

/* Defaults: full scan period, realtime debounce, hashing budget (SHA-256 runs at ~0.5-2 GB/s,
 * so 20 MiB/s is a few percent of one core), CPU share, work per poll, largest hashed file. */
#define YW_FIM_DEFAULT_SCAN_INTERVAL_MS (12LL * 3600 * 1000)
#define YW_FIM_DEFAULT_DEBOUNCE_MS 1000
#define YW_FIM_DEFAULT_IO_RATE (20LL * 1024 * 1024)
#define YW_FIM_DEFAULT_CPU_PERCENT 10
#define YW_FIM_DEFAULT_FILES_PER_POLL 1000
#define YW_FIM_DEFAULT_MAX_FILE_SIZE (1024LL * 1024 * 1024)

/* read() size while hashing, and the most one poll hashes whatever the budget holds, so one
 * poll stays in the tens of milliseconds. */
#define YW_FIM_HASH_CHUNK (64 * 1024)
#define YW_FIM_POLL_MAX_BYTES (8 * 1024 * 1024)

/* Extended attribute names and one value read to fingerprint a file's xattrs. */
#define YW_FIM_MAX_XATTR 65536

/* Baseline changes held in memory between commits; past it the next commit rewrites the whole
 * baseline instead of appending to the journal. */
#define YW_FIM_MAX_JOURNAL_BUF (16 * 1024 * 1024)

/* The journal is folded into a new baseline file when it grows past the baseline (and this). */
#define YW_FIM_JOURNAL_COMPACT_MIN (1024 * 1024)

/* inotify read buffer: ~1,000 events per read. */
#define YW_FIM_INOTIFY_BUF (64 * 1024)

/* One event's JSON: message, path, name + directory and two symlink targets (5 paths) and four
 * user/group names (< 4096 each), each escaped up to 6x (control bytes), plus fixed fields:
 * ~218 KiB at worst, well under YW_MAX_RECORD_DATA. */
#define YW_FIM_MAX_EVENT (64 * YW_FIM_MAX_PATH)

/* ---- journald collector (collectors/journald.c) (jd) ---- */

/* Journal entries one poll reads, and payload bytes it produces, so a large backlog after a
 * restart cannot stall the agent's loop (the file collector's per-poll budget). */
#define YW_JOURNALD_POLL_ENTRIES 1024
#define YW_JOURNALD_POLL_BYTES (1024 * 1024)

/* "match" options one collector takes: a handful of units or identifiers in practice. */
#define YW_JOURNALD_MAX_MATCHES 64

/* Journal files named by "file" options. */
#define YW_JOURNALD_MAX_FILES 256

/* Bytes of _HOSTNAME put in the line (a DNS name is at most 253). */
#define YW_JOURNALD_MAX_HOST 255

/* Field data the library is asked to return (a hint): a MESSAGE past a line's limit is cut. */
#define YW_JOURNALD_DATA_THRESHOLD YW_MAX_LINE

/* ---- response actions (agent/respond.c, server/respond.c) (ra) ---- */

/* Longest an IP stays blocked: 30 days. A permanent block belongs in the host's firewall
 * configuration, where an administrator sees it. */
#define YW_RESPOND_MAX_BLOCK_S (30LL * 86400)

/* Allowlist entries: configured CIDRs plus loopback, this host's and the server's addresses. */
#define YW_RESPOND_MAX_ALLOW 1024

/* Output kept from a helper program (nft, usermod) for the result's error text. */
#define YW_RESPOND_MAX_OUTPUT 4096

/* Longest a command may take (helper timeout, kill grace, hashing): commands run on the
 * agent's loop, which must get back to its heartbeat (30 s by default, 3 missed = reconnect). */
#define YW_RESPOND_MAX_TIMEOUT_MS 60000

/* A quarantine sidecar read back at restore: a path and a few numbers. */
#define YW_RESPOND_MAX_SIDECAR 65536

/* Arguments copied into an audit record; beyond, only their size is kept, so the record stays
 * under YW_MAX_RECORD_DATA whatever the server sends. */
#define YW_RESPOND_MAX_AUDIT_ARGS 65536

/* Commands' results the server's responses.db keeps per row (the protocol allows 1 MiB). */
#define YW_RESPOND_MAX_RESULT (256 * 1024)

/* ---- alert triage: de-duplication, suppressions, incidents (store) (al) ---- */

/* Bytes of an alert's de-duplication key (a caller's, or the default made from the evidence:
 * a correlation group can be long); longer keys are cut, so two keys equal in their first
 * 256 bytes count as one: enough for addresses, user names and a few group-by values. */
#define YW_STORE_MAX_DEDUP_KEY 256

/* Suppressions held at once: ingest checks every unexpired one against each new alert, so
 * the count bounds that cost; operators need tens, not thousands. */
#define YW_STORE_MAX_SUPPRESSIONS 1000

/* ---- HTTP API (ht) ---- */

/* Bytes of a request body: the API takes small JSON objects (a login, a status change). */
#define YW_HTTP_MAX_BODY (64 * 1024)

/* Memory MHD may use per connection for the request line and headers (its default is 32 KiB;
 * a bigger header block is refused with 431). */
#define YW_HTTP_CONN_MEMORY (64 * 1024)

/* Simultaneous HTTP connections, and from one address: dashboards and scripts need a few. */
#define YW_HTTP_MAX_CONNS 256
#define YW_HTTP_MAX_CONNS_PER_IP 32

/* Seconds an idle HTTP connection is kept. */
#define YW_HTTP_IDLE_TIMEOUT_S 30

/* Rows per page of a list (alerts, audit): a page is built in memory. */
#define YW_HTTP_MAX_PAGE 1000

/* Bytes of a user name, and the shortest password accepted. */
#define YW_HTTP_MAX_NAME 64
#define YW_HTTP_MIN_PASSWORD 8
/* Bytes of a password: PBKDF2 hashes all of it, so a huge one would be a cheap CPU burner. */
#define YW_HTTP_MAX_PASSWORD 1024

/* Bytes of each text of an audit row (the path with its query). */
#define YW_HTTP_MAX_AUDIT_TEXT 512

/* Login failures from one address within the window before its logins are refused (429);
 * addresses tracked at once (the oldest entry is reused beyond it). */
#define YW_HTTP_LOGIN_FAILS 5
#define YW_HTTP_LOGIN_WINDOW_NS (300LL * 1000000000LL)
#define YW_HTTP_LOGIN_TRACKED 4096

/* ---- web pages (hd) ---- */

/* Extra headers a page response carries (CSP, caching, ETag, Location, ...): static.c sets
 * at most this many; a fixed array keeps struct resp free of allocations. */
#define YW_HTTP_RESP_HEADERS 8
/* Bytes of an If-None-Match header that are compared with the ETags: browsers send one tag. */
#define YW_HTTP_MAX_INM 256

/* ---- HTTP API detail endpoints and rate limit (ha) ---- */

/* Alert ids in one bulk triage request: each is its own store transaction. */
#define YW_HTTP_BULK_MAX 1000
/* Alerts listed with one incident: a page is built in memory. */
#define YW_HTTP_INCIDENT_ALERTS 500
/* Bytes of an event's raw message in a timeline item: a log line, not a file dump. */
#define YW_HTTP_EVENT_MESSAGE 4096
/* Events looked at for one timeline or file-change page (a source filter may skip most): bounds
 * the time the store's read connection is held; the answer says where to go on. */
#define YW_HTTP_SCAN_MAX 20000
/* Events looked at to rebuild a baseline: a full SCA run is a few hundred events, later runs send
 * only changes, so the checks' latest results can lie far back. */
#define YW_HTTP_SCA_SCAN_MAX 200000
/* Client addresses the API rate limiter tracks (a fixed table: bounded memory), and the slots a
 * lookup probes before reusing the least recently seen one. */
#define YW_HTTP_RATE_SLOTS 4096
#define YW_HTTP_RATE_PROBE 8
/* How long an HTTP thread waits for the server's loop thread to take a call (response actions). */
#define YW_HTTP_CALL_TIMEOUT_MS 5000

/* ---- live stream and metrics (hc) ---- */

/* Simultaneous /api/v1/stream clients: each holds a suspended HTTP connection and a read
 * position in the ring; a wall screen and a few analysts need far fewer. */
#define YW_LIVE_MAX_STREAMS 64

/* Events the live ring keeps: a client further behind than this gets "reset" and is closed
 * (memory stays bounded whatever a slow client does). */
#define YW_LIVE_RING 512

/* Bytes of one stream event's data: an alert's evidence beyond it is left out. */
#define YW_LIVE_MAX_EVENT (16 * 1024)

/* Alerts a Last-Event-ID resume replays from the store (the newest ones); older ones are read
 * with GET /alerts. */
#define YW_LIVE_RESUME_MAX 100

/* Alerts one poll of the store takes for the stream (every YW_LIVE_POLL_MS). */
#define YW_LIVE_POLL_BATCH 200

/* How often the hub looks for new alerts (latency budget: stored -> on screen under 1 s). */
#define YW_LIVE_POLL_MS 250

/* How long yw_http_stop waits for open streams to end before stopping the daemon. */
#define YW_LIVE_CLOSE_WAIT_MS 2000

/* Pipeline workers /metrics lists a queue depth for (pipeline.workers' own maximum). */
#define YW_LIVE_MAX_WORKERS 256

/* ---- FIM who-data (hg) ---- */

/* Audit file events the who-data cache keeps (one per path a syscall touched): a burst of
 * changes larger than this within the expiry leaves the oldest without who-data. */
#define YW_WHODATA_MAX_ENTRIES 4096

/* Bytes those entries may use (paths, executables, command lines). */
#define YW_WHODATA_MAX_BYTES (4 * 1024 * 1024)

/* How long an audit file event stays matchable; audit lines lag inotify by well under this. */
#define YW_WHODATA_TTL_MS 5000

/* How far apart the audit record's time and the inotify event may be to match. */
#define YW_WHODATA_WINDOW_MS 2000

/* Audit events being assembled at once (records of one event are written together; a few
 * cover interleaving by auditd's dispatcher). */
#define YW_WHODATA_MAX_OPEN 8

/* PATH records of one event kept (rename has 4; more is rare and only adds parents). */
#define YW_WHODATA_MAX_PATHS 8

/* Bytes of a command line (PROCTITLE, decoded) kept: the kernel caps it at 128 anyway. */
#define YW_WHODATA_MAX_CMDLINE 1024

/* uid -> user name resolutions cached (getpwuid_r may hit NSS: not per event). */
#define YW_WHODATA_USER_CACHE 64

/* How long after the last yw_fim-keyed audit record the FIM side still waits for audit
 * records: without watch rules in the kernel waiting would only delay events. */
#define YW_WHODATA_LIVE_MS (10LL * 60 * 1000)

/* Default wait of a realtime FIM event whose audit record has not arrived yet (after the
 * debounce): audit log lines usually follow within tens of milliseconds. */
#define YW_WHODATA_DEFAULT_WAIT_MS 500

/* Longest configurable wait of a FIM event for its audit record. */
#define YW_WHODATA_MAX_WAIT_MS 5000

/* ---- risk history retention (store) ---- */
/* Per-terminal risk points kept: 7 days (a terminal's weekly trend; 2,016 rows per terminal at
 * one snapshot per 5 minutes, 20 million rows at 10,000 terminals). */
#define YW_STORE_RISK_KEEP_AGENT_NS (7LL * 86400 * 1000000000)
/* Fleet risk points kept: 400 days (a year-over-year trend; 115,200 rows). */
#define YW_STORE_RISK_KEEP_FLEET_NS (400LL * 86400 * 1000000000)

/* ---- situation rollups summed per ingest transaction (store/sqlite_situation.c) (hi) */

/* Distinct rules (id, title, tags) whose ATT&CK tactics ingest remembers; past it the cache
 * starts afresh after a commit, so rules with per-alert titles cannot grow it without end. Real
 * rule sets have hundreds. */
#define YW_STORE_SIT_RULE_CACHE 4096

/* ---- HTTP API security review (hk) ---- */
/* How often an open live stream re-checks its bearer token: a logout, an expired session or a
 * deleted user ends the stream within this time, at one token lookup per stream per period. */
#define YW_HTTP_STREAM_RECHECK_NS (5LL * 1000000000LL)
/* Live streams one user may hold open at once: a wall of screens under one account fits, and
 * one account (32 connections per address, from many addresses) cannot take all
 * YW_LIVE_MAX_STREAMS slots from the others. */
#define YW_HTTP_STREAMS_PER_USER 16

#endif
