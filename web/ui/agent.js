// One terminal: its facts and risk, and four tabs read on first open: inventory, baseline
// (pass rate and failing checks with their remediation), file changes and the timeline (both
// paged back with before_id).
import {api, ApiError} from './api.js';
import {$, $$, el, fill, text} from './dom.js';
import {flash, fmtTime, initPage, num} from './common.js';
import {t} from './i18n.js';

const id = new URLSearchParams(location.search).get('id') || '';
const PAGE = 100;
const st = {agent: null, risk: null, loaded: {}, data: {}, tab: 'panel-inventory'};

if (initPage(rerender)) {
	for (const b of $$('.tab')) b.addEventListener('click', () => show(b.dataset.panel));
	load();
}

async function load() {
	try {
		const a = await api('GET', '/agents/' + encodeURIComponent(id));
		st.agent = a.agent || a;
		st.risk = a.risk || null;
	} catch (e) {
		if (!(e instanceof ApiError) || e.status !== 404) {
			flash($('#page-msg'), t('error') + ' ' + e.message);
			return;
		}
		// A server without GET /agents/{id}: the list and /risk.
		const l = await api('GET', '/agents');
		st.agent = (l.items || []).find((x) => x.id === id) || null;
		const r = await api('GET', '/risk', null, {agent: id}).catch(() => null);
		st.risk = r && r.items && r.items[0] ? r.items[0] : null;
		if (!st.agent) {
			flash($('#page-msg'), t('error') + ' 404');
			return;
		}
	}
	renderHead();
	show(st.tab);
}

function rerender() {
	renderHead();
	for (const p of Object.keys(st.data)) RENDER[p]();
}

function renderHead() {
	const a = st.agent;
	if (!a) return;
	text($('#agent-name'), a.name || a.id);
	const score = st.risk && typeof st.risk.score === 'number' ? st.risk.score : st.risk && st.risk;
	text($('#agent-risk'), typeof score === 'number' ? score.toFixed(1) : '—');
	const facts = [['col.id', a.id], ['col.group', a.group], ['col.os', a.os], ['col.addresses', a.addresses],
	               ['col.version', a.version], ['col.last_seen', fmtTime(a.last_seen)],
	               ['col.online', t(a.revoked_at ? 'revoked' : a.online ? 'online' : 'offline')]];
	fill($('#agent-facts'), facts.flatMap(([k, v]) => [el('dt', null, t(k)), el('dd', null, v || '—')]));
}

function show(panel) {
	st.tab = panel;
	for (const b of $$('.tab')) {
		const on = b.dataset.panel === panel;
		b.classList.toggle('active', on);
		b.setAttribute('aria-selected', on ? 'true' : 'false');
	}
	for (const p of $$('.tab-panel')) p.hidden = p.id !== panel;
	if (!st.loaded[panel]) {
		st.loaded[panel] = true;
		LOAD[panel]();
	}
}

const base = () => '/agents/' + encodeURIComponent(id);

function failed(panel, e) {
	fill($('#' + panel), el('p', {class: 'err'}, t('error') + ' ' + e.message));
}

const LOAD = {
	'panel-inventory': async () => {
		try {
			st.data['panel-inventory'] = (await api('GET', base() + '/inventory')).items || [];
			RENDER['panel-inventory']();
		} catch (e) {
			failed('panel-inventory', e);
		}
	},
	'panel-baseline': async () => {
		try {
			st.data['panel-baseline'] = await api('GET', base() + '/baseline');
		} catch (e) {
			if (!(e instanceof ApiError) || e.status !== 404) return failed('panel-baseline', e);
			st.data['panel-baseline'] = null;
		}
		RENDER['panel-baseline']();
	},
	'panel-files': () => more('panel-files', '/files'),
	'panel-timeline': () => more('panel-timeline', '/timeline'),
};

// The next page of a before_id list into st.data[panel] = {items, next}.
async function more(panel, path) {
	const d = st.data[panel] || {items: [], next: undefined};
	try {
		const r = await api('GET', base() + path, null, {limit: PAGE, before_id: d.next});
		d.items = d.items.concat(r.items || []);
		d.next = r.next_before_id ?? null;
		st.data[panel] = d;
		RENDER[panel]();
	} catch (e) {
		failed(panel, e);
	}
}

const short = (v) => {
	if (v === undefined || v === null) return '';
	const s = typeof v === 'string' ? v : JSON.stringify(v);
	return s.length > 300 ? s.slice(0, 299) + '…' : s;
};

function table(cls, heads, rows) {
	return el('table', {class: 'grid compact ' + cls},
		el('thead', null, el('tr', null, heads.map((h) => el('th', null, t(h))))),
		el('tbody', null, rows.length ? rows : el('tr', null, el('td', {colspan: heads.length, class: 'muted'}, t('empty')))));
}

function moreButton(panel, path) {
	const d = st.data[panel];
	if (!d || d.next === null || d.next === undefined) return null;
	return el('button', {type: 'button', class: 'btn more', on: {click: () => more(panel, path)}}, t('btn.more'));
}

const RENDER = {
	'panel-inventory': () => {
		const items = st.data['panel-inventory'] || [];
		fill($('#panel-inventory'), table('inventory', ['col.dataset', 'col.key', 'col.last_seen', 'col.detail'],
			items.map((i) => el('tr', null, el('td', null, i.dataset || ''), el('td', null, i.key || ''),
				el('td', null, fmtTime(i.updated_at)), el('td', {class: 'mono'}, short(i.data))))));
	},
	'panel-baseline': () => {
		const b = st.data['panel-baseline'];
		if (!b) {
			fill($('#panel-baseline'), el('p', {class: 'muted'}, t('baseline.none')));
			return;
		}
		const total = (b.passed || 0) + (b.failed || 0);
		const rate = total ? Math.round((100 * (b.passed || 0)) / total) : null;
		const failing = (b.items || []).filter((i) => i.result === 'failed' || i.result === 'fail');
		fill($('#panel-baseline'),
			el('div', {class: 'baseline-sum'},
				el('div', {class: 'big', id: 'baseline-rate'}, rate === null ? '—' : rate + '%'),
				el('div', null, el('div', null, t('baseline.pass_rate') + ' · ' + (b.policy || '')),
					el('div', {class: 'muted'}, `${t('baseline.passed')} ${num(b.passed)} · ${t('baseline.failed')} ${num(b.failed)} · ` +
						`${t('baseline.na')} ${num(b.not_applicable)} · ${t('baseline.scanned')} ${fmtTime(b.scanned_at)}`))),
			el('h3', null, t('baseline.failing')),
			table('baseline', ['col.id', 'col.check', 'col.remediation'], failing.map((i) => el('tr', {dataset: {checkId: i.id ?? ''}},
				el('td', null, String(i.id ?? '')),
				el('td', null, el('b', null, i.title || ''), el('div', {class: 'muted'}, i.rationale || '')),
				el('td', {class: 'pre'}, i.remediation || '')))));
	},
	'panel-files': () => {
		const d = st.data['panel-files'];
		fill($('#panel-files'), table('files', ['col.time', 'col.action', 'col.path', 'col.change'],
			d.items.map((f) => el('tr', null, el('td', null, fmtTime(f.ts)), el('td', null, f.action || ''),
				el('td', {class: 'mono'}, f.path || ''),
				el('td', {class: 'mono'}, [short(f.before), short(f.after)].filter(Boolean).join(' → '))))),
			moreButton('panel-files', '/files'));
	},
	'panel-timeline': () => {
		const d = st.data['panel-timeline'];
		fill($('#panel-timeline'), table('timeline', ['col.time', 'col.source', 'col.kind', 'col.message'],
			d.items.map((x) => el('tr', null, el('td', null, fmtTime(x.ts)), el('td', null, x.source || ''),
				el('td', null, x.kind === undefined ? '' : String(x.kind)),
				el('td', {class: 'mono'}, x.message || short(x.event))))),
			moreButton('panel-timeline', '/timeline'));
	},
};
