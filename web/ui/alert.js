// One alert: its facts, the event as evidence, its history, the solution in the current
// language, triage buttons (analysts) and response actions (admins, after an in-page confirm).
import {api, ApiError} from './api.js';
import {$, el, fill, page, text} from './dom.js';
import {confirmDialog, field, flash, fmtTime, initPage, levelBadge, statusText} from './common.js';
import {lang, t} from './i18n.js';

const id = Number(new URLSearchParams(location.search).get('id'));
const st = {a: null, me: {role: 'viewer'}, solution: null};

// The response buttons: the action (docs/respond.md) and its arguments from the evidence.
const RESPONSES = [
	['#respond-block-ip', 'block_ip', 'respond.block_ip', (ev) => need(ev, 'source.ip', (ip) => ({ip, timeout_s: 3600}))],
	['#respond-kill-process', 'kill_process', 'respond.kill_process', (ev) => need(ev, 'process.pid', (pid) => {
		const exe = field(ev, 'process.executable');
		return exe ? {pid: Number(pid), exe: String(exe)} : {pid: Number(pid), force: true};
	})],
	['#respond-isolate', 'quarantine_file', 'respond.isolate', (ev) => need(ev, 'file.path', (path) => ({path: String(path)}))],
];

function need(ev, k, make) {
	const v = field(ev, k);
	return v === undefined || v === null || v === '' ? {missing: k} : make(v);
}

if (initPage(render)) {
	if (!Number.isSafeInteger(id) || id <= 0) {
		flash($('#page-msg'), t('error') + ' id');
	} else {
		wire();
		load();
	}
}

function wire() {
	const tri = [['#btn-ack', 'acknowledged'], ['#btn-resolve', 'resolved'], ['#btn-fp', 'false_positive'],
	             ['#btn-reopen', 'new']];
	for (const [sel, status] of tri)
		$(sel).addEventListener('click', () => triage(status));
	for (const [sel, action, label, args] of RESPONSES)
		$(sel).addEventListener('click', () => respond(action, label, args));
}

async function load() {
	try {
		st.me = await api('GET', '/me');
	} catch (e) {
		st.me = {role: 'viewer'};
	}
	try {
		st.a = await api('GET', '/alerts/' + id);
	} catch (e) {
		if (!(e instanceof ApiError) || e.status !== 404) throw e;
		// A server without GET /alerts/{id}: the one row from the list.
		const r = await api('GET', '/alerts', null, {after_id: id - 1, limit: 1});
		st.a = r.items && r.items[0] && r.items[0].id === id ? r.items[0] : null;
		if (!st.a) {
			flash($('#page-msg'), t('error') + ' 404');
			return;
		}
	}
	st.solution = st.a.solution || null;
	if (!st.solution && st.a.rule_id) {
		try {
			st.solution = await api('GET', '/solutions/' + encodeURIComponent(st.a.rule_id));
		} catch (e) {
			st.solution = null;
		}
	}
	render();
	if (location.hash === '#solution') $('#solution').scrollIntoView();
}

function render() {
	const a = st.a;
	if (!a) return;
	text($('#alert-title'), a.title || a.rule_id);
	fill($('#alert-level'), levelBadge(a.level));
	const s = $('#alert-status');
	text(s, statusText(a.status));
	s.className = 'status st-' + a.status;
	s.dataset.status = a.status || '';
	const ag = $('#alert-agent');
	text(ag, a.agent_name || a.agent_id || '');
	if (a.agent_id) ag.setAttribute('href', page('agent.html', {id: a.agent_id}));
	text($('#alert-rule'), a.rule_id);
	text($('#alert-count'), a.count);
	text($('#alert-first'), fmtTime(a.first_seen));
	text($('#alert-last'), fmtTime(a.last_seen));
	fill($('#alert-tags'), (a.tags || []).map((x) => el('span', {class: 'tag'}, x)));
	text($('#alert-evidence'), JSON.stringify(a.event, null, 2));
	renderHistory(a);
	renderSolution();
	const closed = a.status === 'resolved' || a.status === 'false_positive';
	const analyst = st.me.role === 'analyst' || st.me.role === 'admin';
	$('#btn-ack').disabled = !analyst || a.status !== 'new';
	$('#btn-resolve').disabled = !analyst || closed;
	$('#btn-fp').disabled = !analyst || closed;
	$('#btn-reopen').disabled = !analyst || !closed;
	for (const [sel] of RESPONSES) $(sel).disabled = st.me.role !== 'admin' || !a.agent_id;
}

function renderHistory(a) {
	const h = a.history || [];
	fill($('#alert-history tbody'), h.length ? h.map((x) => el('tr', null,
		el('td', null, fmtTime(x.ts)),
		el('td', null, (x.from ? statusText(x.from) + ' → ' : '') + (x.to ? statusText(x.to) : x.action || '')),
		el('td', null, x.by || ''),
		el('td', null, x.comment || ''))) : el('tr', null, el('td', {colspan: 4, class: 'muted'}, t('alert.none_history'))));
}

// The solution's texts are {en, zh}; lists {en: [...], zh: [...]}.
function pick(v) {
	if (v === undefined || v === null) return null;
	if (typeof v === 'string' || Array.isArray(v)) return v;
	const k = lang() === 'en' ? 'en' : 'zh';
	return v[k] !== undefined ? v[k] : v.en !== undefined ? v.en : v.zh;
}

function renderSolution() {
	const s = st.solution, body = $('#solution-body');
	if (!s) {
		fill(body, el('p', {class: 'muted'}, t('sol.none')));
		return;
	}
	const parts = [];
	const name = pick(s.name);
	if (name) parts.push(el('h3', {class: 'sol-name'}, name, s.key ? ' (' + s.key + ')' : ''));
	for (const k of ['what', 'why', 'verify', 'fix', 'prevent']) {
		const v = pick(s[k]);
		if (v === null || (Array.isArray(v) && !v.length)) continue;
		parts.push(el('section', {class: 'sol-' + k, dataset: {section: k}},
			el('h4', null, t('sol.' + k)),
			Array.isArray(v) ? el('ol', null, v.map((x) => el('li', null, String(x)))) : el('p', null, String(v))));
	}
	if (Array.isArray(s.references) && s.references.length)
		parts.push(el('section', {class: 'sol-references'}, el('h4', null, t('sol.references')),
			el('ul', null, s.references.map((r) => el('li', null, String(r))))));
	fill(body, parts);
}

async function triage(status) {
	try {
		await api('POST', '/alerts/' + id + '/status', {status, comment: $('#triage-comment').value || undefined});
		$('#triage-comment').value = '';
		flash($('#page-msg'), t('done'), true);
		await load();
	} catch (e) {
		flash($('#page-msg'), t('failed') + ' ' + e.message);
	}
}

async function respond(action, label, argsOf) {
	const a = st.a;
	const args = argsOf(a.event);
	if (args.missing) {
		flash($('#page-msg'), t('respond.missing', {field: args.missing}));
		return;
	}
	const ok = await confirmDialog(t('respond.confirm', {
		action: t(label), args: JSON.stringify(args), agent: a.agent_name || a.agent_id,
	}));
	if (!ok) return;
	try {
		const r = await api('POST', '/agents/' + encodeURIComponent(a.agent_id) + '/respond', {action, args});
		flash($('#page-msg'), t('respond.sent', {id: (r && r.id) ?? ''}), true);
	} catch (e) {
		flash($('#page-msg'), t('failed') + ' ' + e.message);
	}
}
