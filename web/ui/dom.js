// The one way our pages build DOM: data only ever becomes text nodes or safe attributes, never
// markup (log lines are written by attackers).

// Attributes a data value may land in. href only through link() on our own paths.
const SAFE_ATTRS = new Set([
	'id', 'class', 'title', 'type', 'value', 'name', 'placeholder', 'for', 'role', 'lang',
	'colspan', 'disabled', 'checked', 'selected', 'min', 'max', 'step', 'autocomplete',
	'aria-label', 'aria-selected', 'aria-live', 'tabindex', 'hidden', 'maxlength', 'width',
	'height', 'readonly',
]);

// el('tr', {class: 'x', dataset: {alertId: 5}, on: {click: f}}, 'text', child, ...)
export function el(tag, attrs, ...children) {
	const n = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false) continue;
		if (k === 'dataset') {
			for (const [dk, dv] of Object.entries(v)) n.dataset[dk] = String(dv);
		} else if (k === 'on') {
			for (const [ev, fn] of Object.entries(v)) n.addEventListener(ev, fn);
		} else if (k === 'href') {
			n.setAttribute('href', ownPath(v));
		} else if (SAFE_ATTRS.has(k) || k.startsWith('data-') || k.startsWith('aria-')) {
			n.setAttribute(k, v === true ? '' : String(v));
		} else {
			throw new Error('dom: attribute not allowed: ' + k);
		}
	}
	append(n, children);
	return n;
}

function append(n, children) {
	for (const c of children.flat()) {
		if (c === undefined || c === null || c === false) continue;
		n.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
	}
}

// Replaces the children of n.
export function fill(n, ...children) {
	n.replaceChildren();
	append(n, children);
	return n;
}

export function text(n, s) {
	n.textContent = s === undefined || s === null ? '' : String(s);
	return n;
}

export const $ = (sel, root) => (root || document).querySelector(sel);
export const $$ = (sel, root) => [...(root || document).querySelectorAll(sel)];

// A link to one of our own pages: /ui/<page>?k=v (values encoded) #hash.
export function page(name, params, hash) {
	const u = new URL('/ui/' + encodeURIComponent(name), location.origin);
	for (const [k, v] of Object.entries(params || {})) u.searchParams.set(k, String(v));
	if (hash) u.hash = hash;
	return u.pathname + u.search + u.hash;
}

// Only same-origin paths under /ui/ or /api/: anything else (javascript:, other hosts) is refused.
function ownPath(v) {
	const u = new URL(String(v), location.origin);
	if (u.origin !== location.origin || !/^\/(ui|api)\//.test(u.pathname))
		throw new Error('dom: not one of our paths');
	return u.pathname + u.search + u.hash;
}
