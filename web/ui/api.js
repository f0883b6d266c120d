// The HTTP API from the browser: the session token in sessionStorage, sent as a bearer token
// on every request; a 401 anywhere goes back to the login page.

const KEY = 'yw.token';

export const token = () => sessionStorage.getItem(KEY);
export const role = () => sessionStorage.getItem('yw.role') || 'viewer';

export function saveSession(t, r) {
	sessionStorage.setItem(KEY, t);
	sessionStorage.setItem('yw.role', r || 'viewer');
}

export function clearSession() {
	sessionStorage.removeItem(KEY);
	sessionStorage.removeItem('yw.role');
}

export function toLogin() {
	clearSession();
	const next = location.pathname + location.search + location.hash;
	location.replace('/ui/login.html?next=' + encodeURIComponent(next));
}

// Pages other than login call this first.
export function requireLogin() {
	if (!token()) {
		toLogin();
		return false;
	}
	return true;
}

export class ApiError extends Error {
	constructor(status, msg) {
		super(msg);
		this.status = status;
	}
}

// api('GET', '/alerts', null, {limit: 50}) -> parsed JSON; throws ApiError.
export async function api(method, path, body, query) {
	const u = new URL('/api/v1' + path, location.origin);
	for (const [k, v] of Object.entries(query || {}))
		if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, String(v));
	const headers = {Accept: 'application/json'};
	const t = token();
	if (t) headers.Authorization = 'Bearer ' + t;
	if (body !== undefined && body !== null) headers['Content-Type'] = 'application/json';
	const r = await fetch(u, {
		method,
		headers,
		body: body === undefined || body === null ? undefined : JSON.stringify(body),
		cache: 'no-store',
		credentials: 'omit',
	});
	if (r.status === 401 && path !== '/login') {
		toLogin();
		throw new ApiError(401, 'unauthorized');
	}
	let j = null;
	try {
		j = await r.json();
	} catch (e) {
		j = null;
	}
	if (!r.ok) throw new ApiError(r.status, (j && j.error) || r.statusText || String(r.status));
	return j;
}

// The live stream (GET /api/v1/stream, Server-Sent Events) read with fetch, because
// EventSource cannot send the Authorization header. handlers: {alert, agent, counters, state}.
// Reconnects with backoff (1 s doubling to 30 s, jittered) and Last-Event-ID. Returns stop().
export function openStream(handlers) {
	let lastId = null, stopped = false, delay = 1000, ctl = null, timer = null;
	const state = (s) => handlers.state && handlers.state(s);

	function dispatch(ev) {
		if (ev.id !== null) lastId = ev.id;
		const fn = handlers[ev.type];
		if (!fn || ev.data === '') return;
		let d;
		try {
			d = JSON.parse(ev.data);
		} catch (e) {
			return;
		}
		fn(d, ev.id);
	}

	async function run() {
		ctl = new AbortController();
		state('connecting');
		const headers = {Accept: 'text/event-stream', Authorization: 'Bearer ' + (token() || '')};
		if (lastId !== null) headers['Last-Event-ID'] = lastId;
		try {
			const r = await fetch('/api/v1/stream', {
				headers, cache: 'no-store', credentials: 'omit', signal: ctl.signal,
			});
			if (r.status === 401) {
				toLogin();
				return;
			}
			if (!r.ok || !r.body) throw new Error('stream: HTTP ' + r.status);
			state('live');
			delay = 1000;
			await parse(r.body.getReader(), dispatch);
		} catch (e) {
			if (stopped) return;
		}
		if (stopped) return;
		state('offline');
		const wait = delay * (0.75 + Math.random() * 0.5);
		delay = Math.min(delay * 2, 30000);
		timer = setTimeout(run, wait);
	}

	run();
	return () => {
		stopped = true;
		clearTimeout(timer);
		if (ctl) ctl.abort();
	};
}

// The SSE wire format: lines "field: value", events end at a blank line, ":" starts a comment.
// One event's data is capped so a broken server cannot make the page grow without bound.
const MAX_EVENT = 1 << 20;

async function parse(reader, dispatch) {
	const dec = new TextDecoder();
	let buf = '', ev = {type: 'message', data: '', id: null}, size = 0;
	for (;;) {
		const {value, done} = await reader.read();
		if (done) return;
		buf += dec.decode(value, {stream: true});
		let nl;
		while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
			const line = buf.slice(0, nl);
			buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
			if (line === '') {
				if (ev.data.endsWith('\n')) ev.data = ev.data.slice(0, -1);
				dispatch(ev);
				ev = {type: 'message', data: '', id: null};
				size = 0;
				continue;
			}
			if (line[0] === ':') continue;
			const c = line.indexOf(':');
			const field = c < 0 ? line : line.slice(0, c);
			let v = c < 0 ? '' : line.slice(c + 1);
			if (v[0] === ' ') v = v.slice(1);
			if (field === 'event') ev.type = v;
			else if (field === 'id' && !v.includes('\0')) ev.id = v;
			else if (field === 'data' && (size += v.length) <= MAX_EVENT) ev.data += v + '\n';
		}
		if (buf.length > MAX_EVENT) buf = '';
	}
}
