// Enrolment tokens: create one (its yw1: string shown once, with a copy button), list, revoke.
import {api} from './api.js';
import {$, el, fill, text} from './dom.js';
import {confirmDialog, flash, fmtTime, initPage} from './common.js';
import {t} from './i18n.js';

const st = {items: []};

if (initPage(render)) {
	$('#token-create').addEventListener('click', create);
	$('#token-copy').addEventListener('click', async () => {
		try {
			await navigator.clipboard.writeText($('#token-new').textContent);
			text($('#token-copy'), t('btn.copied'));
		} catch (e) {
			// No clipboard (plain HTTP): select the text for a manual copy.
			getSelection().selectAllChildren($('#token-new'));
		}
	});
	load();
}

async function load() {
	try {
		st.items = (await api('GET', '/tokens')).items || [];
		render();
	} catch (e) {
		flash($('#page-msg'), t('error') + ' ' + e.message);
	}
}

async function create() {
	const uses = Number($('#token-uses').value);
	try {
		const r = await api('POST', '/tokens', {
			group: $('#token-group').value.trim() || 'default',
			expires: $('#token-expires').value,
			uses: Number.isInteger(uses) && uses > 0 ? uses : 1,
		});
		text($('#token-new'), r.enrollment || '');
		text($('#token-copy'), t('btn.copy'));
		$('#token-new-box').hidden = false;
		await load();
	} catch (e) {
		flash($('#page-msg'), t('failed') + ' ' + e.message);
	}
}

async function revoke(id) {
	if (!(await confirmDialog(t('tokens.revoke_confirm', {id})))) return;
	try {
		await api('DELETE', '/tokens/' + encodeURIComponent(id));
		await load();
	} catch (e) {
		flash($('#page-msg'), t('failed') + ' ' + e.message);
	}
}

function render() {
	fill($('#tokens-table tbody'), st.items.length ? st.items.map((x) => el('tr', {dataset: {tokenId: x.id}},
		el('td', {class: 'mono'}, String(x.id)),
		el('td', null, x.group || ''),
		el('td', null, fmtTime(x.created_at)),
		el('td', null, x.expires_at ? fmtTime(x.expires_at) : t('tokens.never')),
		el('td', {class: 'num'}, x.uses_left ?? x.uses ?? '—'),
		el('td', null, el('button', {type: 'button', class: 'btn small danger revoke',
		                             on: {click: () => revoke(x.id)}}, t('btn.revoke'))),
	)) : el('tr', {class: 'empty'}, el('td', {colspan: 6}, t('empty'))));
}
