// The terminal list, with each terminal's risk score (/risk).
import {api} from './api.js';
import {$, el, fill, page} from './dom.js';
import {flash, fmtTime, initPage} from './common.js';
import {t} from './i18n.js';

const st = {agents: [], risk: {}};

if (initPage(render)) load();

async function load() {
	try {
		const [a, r] = await Promise.all([api('GET', '/agents'), api('GET', '/risk').catch(() => null)]);
		st.agents = a.items || [];
		st.risk = {};
		for (const x of (r && r.items) || []) st.risk[x.agent_id] = x.score;
		render();
	} catch (e) {
		flash($('#page-msg'), t('error') + ' ' + e.message);
	}
}

function state(a) {
	if (a.revoked_at) return 'revoked';
	return a.online ? 'online' : 'offline';
}

function render() {
	const rows = st.agents.slice().sort((x, y) => (st.risk[y.id] || 0) - (st.risk[x.id] || 0));
	fill($('#agents-table tbody'), rows.length ? rows.map((a) => el('tr', {dataset: {agentId: a.id}},
		el('td', null, el('a', {href: page('agent.html', {id: a.id})}, a.name || a.id)),
		el('td', null, a.group || ''),
		el('td', null, el('span', {class: 'state st-' + state(a)}, t(state(a)))),
		el('td', null, a.os || ''),
		el('td', null, a.addresses || ''),
		el('td', null, a.version || ''),
		el('td', null, fmtTime(a.last_seen)),
		el('td', {class: 'num'}, typeof st.risk[a.id] === 'number' ? st.risk[a.id].toFixed(1) : '—'),
	)) : el('tr', {class: 'empty'}, el('td', {colspan: 8}, t('empty'))));
}
