// What every page shares: the language toggle, the analyst navigation and logout, formatting
// of times and levels, and the evidence excerpt of an alert.
import {api, clearSession, requireLogin} from './api.js';
import {$, el, fill, page} from './dom.js';
import {lang, setLang, t, translate} from './i18n.js';

export const LEVELS = ['critical', 'high', 'medium', 'low', 'informational'];
export const LEVEL_COLOR = {
	critical: '#ff3b5c', high: '#ff8a1f', medium: '#ffd23f', low: '#3d9bff',
	informational: '#8a97ab',
};

// Wires #lang-toggle and translates the page's static labels; onChange re-renders data.
export function initLang(onChange) {
	translate(document);
	const b = $('#lang-toggle');
	if (b)
		b.addEventListener('click', () => {
			setLang(lang() === 'zh-CN' ? 'en' : 'zh-CN');
			translate(document);
			if (onChange) onChange();
		});
}

const NAV = [
	['screen.html', 'nav.situation'], ['alerts.html', 'nav.alerts'],
	['agents.html', 'nav.terminals'], ['tokens.html', 'nav.tokens'], ['rules.html', 'nav.rules'],
];

// An analyst page: login required, nav#nav filled, #logout wired. false when sent to login.
export function initPage(onLangChange) {
	if (!requireLogin()) return false;
	const nav = $('#nav');
	if (nav) {
		const here = location.pathname.split('/').pop();
		fill(nav, NAV.map(([p, k]) => el('a', {
			href: page(p), class: p === here ? 'active' : null, 'data-i18n': k,
		}, t(k))));
	}
	const out = $('#logout');
	if (out)
		out.addEventListener('click', async () => {
			try {
				await api('POST', '/logout', {});
			} catch (e) {
				// The session ends here whatever the server said.
			}
			clearSession();
			location.replace('/ui/login.html');
		});
	initLang(onLangChange);
	return true;
}

const pad = (n) => String(n).padStart(2, '0');

// ns since the epoch (the API's times) -> Date
export const nsDate = (ns) => new Date(Number(ns) / 1e6);

export function fmtTime(ns) {
	if (!ns) return '—';
	const d = nsDate(ns);
	return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
	       `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function fmtClock(ns) {
	const d = nsDate(ns);
	return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function levelBadge(level) {
	const l = LEVELS.includes(level) ? level : 'informational';
	return el('span', {class: 'level lv-' + l, 'data-level': l}, t('level.' + l));
}

export const statusText = (s) => t('status.' + (s || 'new'));

// A field of a decoded event: flat dotted keys (docs/events.md), nested objects as fallback.
export function field(ev, k) {
	if (!ev || typeof ev !== 'object') return undefined;
	if (k in ev) return ev[k];
	let o = ev;
	for (const p of k.split('.')) {
		if (!o || typeof o !== 'object' || !(p in o)) return undefined;
		o = o[p];
	}
	return o;
}

const clip = (s, n) => (s.length > n ? s.slice(0, n - 1) + '…' : s);

// What the attacker did, as plain text: user, source address, command line or the message.
export function evidence(alert, max = 160) {
	const ev = alert && alert.event;
	const parts = [];
	const user = field(ev, 'user.name'), ip = field(ev, 'source.ip');
	if (user !== undefined && user !== null) parts.push(t('ev.user') + ' ' + user);
	if (ip !== undefined && ip !== null) parts.push(t('ev.source') + ' ' + ip);
	const cmd = field(ev, 'process.command_line');
	const msg = cmd || field(ev, 'message') || field(ev, 'event.original');
	if (msg !== undefined && msg !== null) parts.push(clip(String(msg), max));
	return parts.join(' · ');
}

// A number for display; '—' when unknown.
export const num = (v) => (v === undefined || v === null || Number.isNaN(v) ? '—' : String(v));

// Shows a message in an element for a few seconds (errors of actions).
export function flash(node, msg, ok) {
	if (!node) return;
	node.textContent = msg;
	node.classList.toggle('ok', !!ok);
	node.classList.toggle('err', !ok);
	clearTimeout(node._t);
	node._t = setTimeout(() => (node.textContent = ''), 6000);
}

// An in-page confirmation (window.confirm is blocked in kiosks and cannot be styled):
// resolves true when the user confirms.
export function confirmDialog(message) {
	return new Promise((resolve) => {
		const done = (v) => {
			back.remove();
			resolve(v);
		};
		const yes = el('button', {class: 'btn danger', id: 'confirm-yes', on: {click: () => done(true)}},
			t('confirm.yes'));
		const back = el('div', {class: 'modal-back', id: 'confirm-dialog', role: 'dialog'},
			el('div', {class: 'modal'}, el('p', {class: 'modal-msg'}, message),
				el('div', {class: 'modal-actions'},
					el('button', {class: 'btn', id: 'confirm-no', on: {click: () => done(false)}},
						t('confirm.no')),
					yes)));
		document.body.appendChild(back);
		yes.focus();
	});
}
