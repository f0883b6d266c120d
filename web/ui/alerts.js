// The alert list: filters, bulk triage, paging, and new alerts from the stream on top.
import {api, openStream} from './api.js';
import {$, $$, el, fill, page, text} from './dom.js';
import {evidence, flash, fmtTime, initPage, levelBadge, statusText, LEVELS} from './common.js';
import {t} from './i18n.js';

const LIMIT = 50;
// Pages go from the newest back: page n holds the alerts below the lowest id of page n-1
// (before_id). tops[] keeps each page's bound for "previous".
const st = {rows: [], tops: [null], filter: {}, hasMore: false};

if (initPage(render)) {
	const q = new URLSearchParams(location.search);
	$('#filter-level').value = LEVELS.includes(q.get('level')) ? q.get('level') : '';
	$('#filter-status').value = q.get('status') || '';
	$('#filter-agent').value = q.get('agent') || '';
	readFilter();
	$('#filter-apply').addEventListener('click', () => {
		readFilter();
		st.tops = [null];
		load();
	});
	$('#page-next').addEventListener('click', () => {
		if (!st.hasMore) return;
		st.tops.push(Math.min(...st.rows.map((a) => a.id)));
		load();
	});
	$('#page-prev').addEventListener('click', () => {
		if (st.tops.length > 1) st.tops.pop();
		load();
	});
	$('#select-all').addEventListener('change', (e) => {
		for (const c of $$('#alerts-table input.row-select')) c.checked = e.target.checked;
	});
	$('#bulk-ack').addEventListener('click', () => bulk('acknowledged'));
	$('#bulk-resolve').addEventListener('click', () => bulk('resolved'));
	load();
	openStream({alert: onAlert});
}

function readFilter() {
	st.filter = {
		level: $('#filter-level').value, status: $('#filter-status').value,
		agent: $('#filter-agent').value.trim(),
	};
}

async function load() {
	const before = st.tops[st.tops.length - 1];
	try {
		const r = await api('GET', '/alerts', null, {
			newest: 1, limit: LIMIT, before_id: before, ...st.filter,
		});
		// A server without before_id answers the newest page again: keep only older rows.
		let rows = (r.items || []).filter((a) => before === null || a.id < before);
		rows.sort((a, b) => b.id - a.id);
		if (before !== null && rows.length === 0) {
			st.tops.pop();
			flash($('#page-msg'), t('page.none'), true);
			st.hasMore = false;
			updatePager();
			return;
		}
		st.rows = rows;
		st.hasMore = (r.items || []).length === LIMIT;
		render();
	} catch (e) {
		flash($('#page-msg'), t('error') + ' ' + e.message);
	}
}

function matches(a) {
	const f = st.filter;
	if (f.agent && a.agent_id !== f.agent) return false;
	if (f.level && LEVELS.indexOf(a.level) > LEVELS.indexOf(f.level)) return false;
	if (f.status === 'open') return a.status === 'new' || a.status === 'acknowledged';
	return !f.status || a.status === f.status;
}

function onAlert(a) {
	if (!a || typeof a.id !== 'number' || st.tops.length > 1 || !matches(a)) return;
	const old = $(`#alerts-table tr[data-alert-id="${a.id}"]`);
	st.rows = [a, ...st.rows.filter((x) => x.id !== a.id)].slice(0, LIMIT);
	const tr = row(a);
	tr.classList.add('fresh');
	if (old) old.remove();
	$('#alerts-table tbody').prepend(tr);
	const rows = $$('#alerts-table tbody tr');
	if (rows.length > LIMIT) rows[rows.length - 1].remove();
}

function row(a) {
	const link = page('alert.html', {id: a.id});
	return el('tr', {dataset: {alertId: a.id}, class: 'lv-row-' + a.level},
		el('td', {class: 'sel'}, el('input', {type: 'checkbox', class: 'row-select', value: a.id,
		                                      'aria-label': String(a.id)})),
		el('td', {class: 'col-time'}, fmtTime(a.last_seen || a.created_at)),
		el('td', {class: 'col-level'}, levelBadge(a.level)),
		el('td', {class: 'col-title'}, el('a', {href: link}, a.title || a.rule_id || String(a.id))),
		el('td', {class: 'col-agent'}, a.agent_id
			? el('a', {href: page('agent.html', {id: a.agent_id})}, a.agent_name || a.agent_id) : ''),
		el('td', {class: 'col-status'}, el('span', {class: 'status st-' + a.status}, statusText(a.status))),
		el('td', {class: 'col-count num'}, String(a.count || 1)),
		el('td', {class: 'col-detail'}, evidence(a, 200)));
}

function render() {
	fill($('#alerts-table tbody'), st.rows.length ? st.rows.map(row)
		: el('tr', {class: 'empty'}, el('td', {colspan: 8}, t('empty'))));
	$('#select-all').checked = false;
	updatePager();
}

function updatePager() {
	$('#page-prev').disabled = st.tops.length <= 1;
	$('#page-next').disabled = !st.hasMore;
	text($('#page-info'), String(st.tops.length));
}

async function bulk(status) {
	const ids = $$('#alerts-table input.row-select').filter((c) => c.checked).map((c) => Number(c.value));
	if (!ids.length) {
		flash($('#page-msg'), t('bulk.none'));
		return;
	}
	try {
		const r = await api('POST', '/alerts/status', {ids, status});
		const failed = (r && r.failed) || [];
		flash($('#page-msg'), t('bulk.done', {changed: r.changed ?? ids.length - failed.length,
		                                      failed: failed.length}), failed.length === 0);
		await load();
	} catch (e) {
		flash($('#page-msg'), t('failed') + ' ' + e.message);
	}
}
