// The loaded detection rules with their hits (/rules/hits), filtered as one types.
import {api} from './api.js';
import {$, el, fill, text} from './dom.js';
import {flash, fmtTime, initPage, levelBadge} from './common.js';
import {t} from './i18n.js';

const MAX_PAGES = 50; // /rules pages of 1000: a bound on the loop
const st = {rules: [], hits: {}};

if (initPage(render)) {
	$('#rules-filter').addEventListener('input', render);
	load();
}

async function load() {
	try {
		const hits = api('GET', '/rules/hits').catch(() => null);
		let offset = 0;
		for (let i = 0; i < MAX_PAGES && offset !== null; i++) {
			const r = await api('GET', '/rules', null, {offset, limit: 1000});
			st.rules = st.rules.concat(r.items || []);
			offset = r.next_offset ?? null;
		}
		const h = await hits;
		for (const x of (h && h.items) || []) st.hits[x.rule_id] = x;
		render();
	} catch (e) {
		flash($('#page-msg'), t('error') + ' ' + e.message);
	}
}

function render() {
	const q = $('#rules-filter').value.trim().toLowerCase();
	const rows = st.rules.filter((r) => !q || [r.id, r.title, ...(r.tags || [])].some(
		(s) => String(s || '').toLowerCase().includes(q)));
	rows.sort((a, b) => ((st.hits[b.id] || {}).count_7d || 0) - ((st.hits[a.id] || {}).count_7d || 0));
	text($('#rules-count'), `${rows.length} / ${st.rules.length}`);
	// At most 1000 rows in the DOM: the filter narrows the rest.
	fill($('#rules-table tbody'), rows.slice(0, 1000).map((r) => {
		const h = st.hits[r.id] || {};
		return el('tr', {dataset: {ruleId: r.id}},
			el('td', {class: 'mono'}, r.id),
			el('td', null, r.title || ''),
			el('td', null, levelBadge(r.level)),
			el('td', null, (r.tags || []).map((x) => el('span', {class: 'tag'}, x))),
			el('td', {class: 'num', title: h.last_seen ? fmtTime(h.last_seen) : null}, String(h.count_7d || 0)),
			el('td', {class: 'num'}, String(h.count_total || 0)));
	}));
}
