// Every string the pages show, in Simplified Chinese (the default) and English. The choice is
// kept in localStorage "yw.lang" and reflected in <html lang>.

const zh = {
	'app.name': '一网安全态势',
	'lang.switch': 'English',
	'nav.situation': '态势大屏', 'nav.alerts': '告警', 'nav.terminals': '终端',
	'nav.tokens': '注册令牌', 'nav.rules': '规则',
	'logout': '退出登录',
	'login.title': '登录 · 一网', 'login.user': '用户名', 'login.password': '密码',
	'login.submit': '登录', 'login.wrong': '用户名或密码错误',
	'login.limited': '登录失败次数过多，请稍后再试', 'login.failed': '登录失败：',
	'screen.title': '一网安全态势',
	'live.live': '实时', 'live.connecting': '连接中', 'live.offline': '已断开，重连中',
	'kpi.online': '在线终端', 'kpi.today': '今日告警', 'kpi.risk': '整体风险',
	'kpi.open': '待处置告警', 'kpi.eps': '事件/秒',
	'panel.risk_trend': '风险趋势', 'panel.levels': '今日告警等级',
	'panel.top_terminals': '高风险终端', 'panel.24h': '24 小时告警', 'panel.groups': '终端分组',
	'panel.ticker': '实时告警', 'panel.7d': '近 7 天告警', 'panel.tactics': '攻击战术 (ATT&CK)',
	'panel.top_rules': '高频规则',
	'chart.total': '总数', 'chart.online': '在线',
	'ticker.solution': '处置',
	'level.critical': '严重', 'level.high': '高危', 'level.medium': '中危', 'level.low': '低危',
	'level.informational': '信息', 'level.any': '全部等级',
	'status.new': '新告警', 'status.acknowledged': '已确认', 'status.resolved': '已解决',
	'status.false_positive': '误报', 'status.open': '未关闭', 'status.any': '全部状态',
	'ev.user': '用户', 'ev.source': '来源',
	'col.time': '时间', 'col.level': '等级', 'col.title': '告警', 'col.agent': '终端',
	'col.status': '状态', 'col.detail': '证据', 'col.name': '终端', 'col.group': '分组',
	'col.score': '风险', 'col.rule': '规则', 'col.count': '次数', 'col.os': '操作系统',
	'col.version': '版本', 'col.addresses': '地址', 'col.last_seen': '最近在线',
	'col.online': '状态', 'col.id': 'ID', 'col.tags': '标签', 'col.hits7d': '7 天命中',
	'col.total': '累计', 'col.expires': '过期时间', 'col.uses': '剩余次数',
	'col.created': '创建时间', 'col.actions': '操作', 'col.path': '路径', 'col.action': '动作',
	'col.source': '来源', 'col.kind': '类型', 'col.message': '内容', 'col.dataset': '类别',
	'col.key': '项', 'col.result': '结果', 'col.check': '检查项', 'col.remediation': '修复建议',
	'col.by': '操作人', 'col.comment': '备注', 'col.change': '变更', 'col.count_dedup': '次数',
	'online': '在线', 'offline': '离线', 'revoked': '已吊销',
	'alerts.title': '告警 · 一网', 'alerts.heading': '告警列表',
	'filter.agent': '终端 ID', 'filter.apply': '筛选',
	'bulk.ack': '批量确认', 'bulk.resolve': '批量解决', 'select.all': '全选',
	'page.prev': '上一页', 'page.next': '下一页', 'page.none': '没有更多告警',
	'bulk.done': '已处理 {changed} 条，失败 {failed} 条', 'bulk.none': '请先勾选告警',
	'alert.title': '告警详情 · 一网', 'alert.evidence': '证据（原始事件）',
	'alert.history': '处置记录', 'alert.solution': '处置方案', 'alert.triage': '研判',
	'alert.comment': '备注（可选）', 'alert.respond': '响应动作（仅管理员）',
	'alert.rule': '规则', 'alert.count': '次数', 'alert.first': '首次', 'alert.last': '最近',
	'alert.tags': '标签', 'alert.agent': '终端', 'alert.none_history': '暂无记录',
	'btn.ack': '确认', 'btn.resolve': '解决', 'btn.fp': '误报', 'btn.reopen': '重新打开',
	'btn.copy': '复制', 'btn.copied': '已复制', 'btn.revoke': '吊销', 'btn.create': '生成',
	'btn.more': '加载更多',
	'respond.block_ip': '封禁来源 IP', 'respond.kill_process': '结束进程',
	'respond.isolate': '隔离文件',
	'respond.confirm': '确认在终端 {agent} 上执行“{action}”（{args}）？',
	'respond.sent': '已下发响应命令 #{id}', 'respond.missing': '该告警的证据中没有所需字段：{field}',
	'confirm.yes': '确定执行', 'confirm.no': '取消',
	'done': '已完成', 'failed': '失败：',
	'sol.what': '发生了什么', 'sol.why': '为什么重要', 'sol.verify': '如何核实',
	'sol.fix': '如何修复', 'sol.prevent': '如何预防', 'sol.references': '参考',
	'sol.none': '暂无处置方案',
	'agents.title': '终端 · 一网', 'agents.heading': '终端列表',
	'agent.title': '终端详情 · 一网', 'agent.risk': '风险评分',
	'tab.inventory': '资产清单', 'tab.baseline': '基线检查', 'tab.files': '文件变更',
	'tab.timeline': '时间线',
	'baseline.pass_rate': '通过率', 'baseline.passed': '通过', 'baseline.failed': '未通过',
	'baseline.na': '不适用', 'baseline.scanned': '检查时间', 'baseline.failing': '未通过的检查项',
	'baseline.none': '尚无基线检查结果',
	'empty': '暂无数据', 'loading': '加载中…', 'error': '加载失败：',
	'tokens.title': '注册令牌 · 一网', 'tokens.heading': '终端注册令牌',
	'tokens.group': '分组', 'tokens.expires': '有效期', 'tokens.uses': '可用次数',
	'tokens.new': '新令牌（只显示一次）', 'tokens.never': '永不',
	'tokens.revoke_confirm': '吊销令牌 {id}？',
	'rules.title': '规则 · 一网', 'rules.heading': '检测规则', 'rules.filter': '按 ID、标题或标签筛选',
	'tactic.reconnaissance': '侦察', 'tactic.resource_development': '资源开发',
	'tactic.initial_access': '初始访问', 'tactic.execution': '执行', 'tactic.persistence': '持久化',
	'tactic.privilege_escalation': '权限提升', 'tactic.defense_evasion': '防御规避',
	'tactic.stealth': '隐匿', 'tactic.defense_impairment': '防御削弱',
	'tactic.credential_access': '凭据访问', 'tactic.discovery': '发现',
	'tactic.lateral_movement': '横向移动', 'tactic.collection': '收集',
	'tactic.command_and_control': '命令与控制', 'tactic.exfiltration': '数据渗出',
	'tactic.impact': '影响',
};

const en = {
	'app.name': 'One-Network Security Situation',
	'lang.switch': '中文',
	'nav.situation': 'Situation', 'nav.alerts': 'Alerts', 'nav.terminals': 'Terminals',
	'nav.tokens': 'Enrolment tokens', 'nav.rules': 'Rules',
	'logout': 'Log out',
	'login.title': 'Log in · yiwang', 'login.user': 'User', 'login.password': 'Password',
	'login.submit': 'Log in', 'login.wrong': 'Wrong user or password',
	'login.limited': 'Too many failed logins; try again later', 'login.failed': 'Login failed:',
	'screen.title': 'One-Network Security Situation',
	'live.live': 'Live', 'live.connecting': 'Connecting', 'live.offline': 'Offline, reconnecting',
	'kpi.online': 'Terminals online', 'kpi.today': 'Warnings today', 'kpi.risk': 'Fleet risk',
	'kpi.open': 'Open alerts', 'kpi.eps': 'Events/s',
	'panel.risk_trend': 'Risk trend', 'panel.levels': 'Today by level',
	'panel.top_terminals': 'Riskiest terminals', 'panel.24h': 'Alerts, last 24 h',
	'panel.groups': 'Terminal groups', 'panel.ticker': 'Live warnings',
	'panel.7d': 'Alerts, last 7 days', 'panel.tactics': 'ATT&CK tactics',
	'panel.top_rules': 'Top rules',
	'chart.total': 'Total', 'chart.online': 'Online',
	'ticker.solution': 'Fix',
	'level.critical': 'Critical', 'level.high': 'High', 'level.medium': 'Medium', 'level.low': 'Low',
	'level.informational': 'Info', 'level.any': 'Any level',
	'status.new': 'New', 'status.acknowledged': 'Acknowledged', 'status.resolved': 'Resolved',
	'status.false_positive': 'False positive', 'status.open': 'Open', 'status.any': 'Any status',
	'ev.user': 'user', 'ev.source': 'from',
	'col.time': 'Time', 'col.level': 'Level', 'col.title': 'Alert', 'col.agent': 'Terminal',
	'col.status': 'Status', 'col.detail': 'Evidence', 'col.name': 'Terminal', 'col.group': 'Group',
	'col.score': 'Risk', 'col.rule': 'Rule', 'col.count': 'Count', 'col.os': 'OS',
	'col.version': 'Version', 'col.addresses': 'Addresses', 'col.last_seen': 'Last seen',
	'col.online': 'State', 'col.id': 'ID', 'col.tags': 'Tags', 'col.hits7d': 'Hits 7 d',
	'col.total': 'Total', 'col.expires': 'Expires', 'col.uses': 'Uses left',
	'col.created': 'Created', 'col.actions': 'Actions', 'col.path': 'Path', 'col.action': 'Action',
	'col.source': 'Source', 'col.kind': 'Kind', 'col.message': 'Message', 'col.dataset': 'Dataset',
	'col.key': 'Item', 'col.result': 'Result', 'col.check': 'Check', 'col.remediation': 'Remediation',
	'col.by': 'By', 'col.comment': 'Comment', 'col.change': 'Change', 'col.count_dedup': 'Count',
	'online': 'online', 'offline': 'offline', 'revoked': 'revoked',
	'alerts.title': 'Alerts · yiwang', 'alerts.heading': 'Alerts',
	'filter.agent': 'Terminal id', 'filter.apply': 'Filter',
	'bulk.ack': 'Acknowledge selected', 'bulk.resolve': 'Resolve selected', 'select.all': 'Select all',
	'page.prev': 'Previous', 'page.next': 'Next', 'page.none': 'No more alerts',
	'bulk.done': '{changed} changed, {failed} failed', 'bulk.none': 'Select alerts first',
	'alert.title': 'Alert · yiwang', 'alert.evidence': 'Evidence (the event)',
	'alert.history': 'History', 'alert.solution': 'Solution', 'alert.triage': 'Triage',
	'alert.comment': 'Comment (optional)', 'alert.respond': 'Response (admins only)',
	'alert.rule': 'Rule', 'alert.count': 'Count', 'alert.first': 'First seen', 'alert.last': 'Last seen',
	'alert.tags': 'Tags', 'alert.agent': 'Terminal', 'alert.none_history': 'No history yet',
	'btn.ack': 'Acknowledge', 'btn.resolve': 'Resolve', 'btn.fp': 'False positive',
	'btn.reopen': 'Reopen', 'btn.copy': 'Copy', 'btn.copied': 'Copied', 'btn.revoke': 'Revoke',
	'btn.create': 'Create', 'btn.more': 'Load more',
	'respond.block_ip': 'Block source IP', 'respond.kill_process': 'Kill process',
	'respond.isolate': 'Quarantine file',
	'respond.confirm': 'Run "{action}" ({args}) on terminal {agent}?',
	'respond.sent': 'Response command #{id} sent',
	'respond.missing': 'The evidence lacks the field this needs: {field}',
	'confirm.yes': 'Run it', 'confirm.no': 'Cancel',
	'done': 'Done', 'failed': 'Failed:',
	'sol.what': 'What happened', 'sol.why': 'Why it matters', 'sol.verify': 'How to verify',
	'sol.fix': 'How to fix', 'sol.prevent': 'How to prevent', 'sol.references': 'References',
	'sol.none': 'No solution available',
	'agents.title': 'Terminals · yiwang', 'agents.heading': 'Terminals',
	'agent.title': 'Terminal · yiwang', 'agent.risk': 'Risk score',
	'tab.inventory': 'Inventory', 'tab.baseline': 'Baseline', 'tab.files': 'File changes',
	'tab.timeline': 'Timeline',
	'baseline.pass_rate': 'Pass rate', 'baseline.passed': 'Passed', 'baseline.failed': 'Failed',
	'baseline.na': 'Not applicable', 'baseline.scanned': 'Scanned',
	'baseline.failing': 'Failing checks', 'baseline.none': 'No baseline scan yet',
	'empty': 'Nothing yet', 'loading': 'Loading…', 'error': 'Could not load:',
	'tokens.title': 'Enrolment tokens · yiwang', 'tokens.heading': 'Enrolment tokens',
	'tokens.group': 'Group', 'tokens.expires': 'Valid for', 'tokens.uses': 'Uses',
	'tokens.new': 'New token (shown once)', 'tokens.never': 'never',
	'tokens.revoke_confirm': 'Revoke token {id}?',
	'rules.title': 'Rules · yiwang', 'rules.heading': 'Detection rules',
	'rules.filter': 'Filter by id, title or tag',
	'tactic.reconnaissance': 'Reconnaissance', 'tactic.resource_development': 'Resource development',
	'tactic.initial_access': 'Initial access', 'tactic.execution': 'Execution',
	'tactic.persistence': 'Persistence', 'tactic.privilege_escalation': 'Privilege escalation',
	'tactic.defense_evasion': 'Defense evasion', 'tactic.stealth': 'Stealth',
	'tactic.defense_impairment': 'Defense impairment', 'tactic.credential_access': 'Credential access',
	'tactic.discovery': 'Discovery', 'tactic.lateral_movement': 'Lateral movement',
	'tactic.collection': 'Collection', 'tactic.command_and_control': 'Command and control',
	'tactic.exfiltration': 'Exfiltration', 'tactic.impact': 'Impact',
};

export const DICT = {'zh-CN': zh, en};

export function lang() {
	let l = null;
	try {
		l = localStorage.getItem('yw.lang');
	} catch (e) {
		l = null;
	}
	return l === 'en' ? 'en' : 'zh-CN';
}

export function setLang(l) {
	try {
		localStorage.setItem('yw.lang', l === 'en' ? 'en' : 'zh-CN');
	} catch (e) {
		// Private modes without storage: the choice lasts for this page only.
	}
	document.documentElement.lang = lang();
}

// t('bulk.done', {changed: 3}) -> the string with {changed} replaced (as text).
export function t(k, vars) {
	let s = DICT[lang()][k];
	if (s === undefined) s = DICT['zh-CN'][k];
	if (s === undefined) return k;
	for (const [n, v] of Object.entries(vars || {})) s = s.split('{' + n + '}').join(String(v));
	return s;
}

// Static labels: data-i18n (text), data-i18n-placeholder, data-i18n-title.
export function translate(root) {
	document.documentElement.lang = lang();
	for (const n of root.querySelectorAll('[data-i18n]')) n.textContent = t(n.dataset.i18n);
	for (const n of root.querySelectorAll('[data-i18n-placeholder]'))
		n.setAttribute('placeholder', t(n.dataset.i18nPlaceholder));
	for (const n of root.querySelectorAll('[data-i18n-title]'))
		n.setAttribute('title', t(n.dataset.i18nTitle));
}

document.documentElement.lang = lang();
