// A tiny harness for the browser tests: one headless Chromium (Debian's, driven by
// playwright-core), one page that every test drives in turn, a monitor of what that page does
// (console errors, failed requests, requests to other hosts, dialogs), bounded waits, and
// screenshots as artefacts. No test framework: run.mjs calls the tests in order.
import { appendFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

function env(name) {
	const v = process.env[name];
	if (!v)
		throw new Error(
			`environment variable ${name} is not set (run tests/e2e/browser.sh)`,
		);
	return v;
}

export const cfg = {
	url: env('YW_URL').replace(/\/$/, ''), // https://127.0.0.1:PORT
	user: env('YW_USER'),
	password: env('YW_PASSWORD'),
	log: env('YW_LOG'), // the file the agent follows
	artifacts: env('YW_ARTIFACTS'),
	chromium: env('YW_CHROMIUM'),
	spki: env('YW_SPKI'), // base64 SHA-256 of the server key: the only certificate trusted
	playwright: env('YW_PLAYWRIGHT'), // the playwright-core package directory
	agentId: env('YW_AGENT_ID'),
	agentHost: process.env.YW_AGENT_HOST || '', // the agent's host name when it is a payload
	// Waits for the server are multiplied by this (ASan builds are several times slower); the
	// 2-s live-warning bound is not.
	slow: Number(process.env.YW_SLOW || '1'),
};
export const origin = new URL(cfg.url).origin;

// A bounded wait, in ms, scaled for slow builds.
export const T = (ms) => Math.round(ms * cfg.slow);

export class Fail extends Error {}
export function check(cond, what) {
	if (!cond) throw new Fail(what);
}

// Watches one page. Each test resets it, does its work, then asserts it clean.
class Monitor {
	constructor() {
		this.reset();
		this.allowed = [];
	}
	reset() {
		this.consoleErrors = [];
		this.failed = [];
		this.offHost = [];
		this.dialogs = [];
		this.allowed = [];
	}
	// An expected failure (e.g. the 401 of a wrong password) matching re in URL or text.
	allow(re) {
		this.allowed.push(re);
	}
	ok(s) {
		return this.allowed.some((re) => re.test(s));
	}
	attach(context, page) {
		page.on('console', (m) => {
			if (m.type() !== 'error') return;
			const s = `${m.text()} @ ${m.location().url || ''}`;
			if (!this.ok(s)) this.consoleErrors.push(s);
		});
		page.on('pageerror', (e) => this.consoleErrors.push(`uncaught: ${e.message}`));
		page.on('dialog', (d) => {
			this.dialogs.push(`${d.type()}: ${d.message()}`);
			d.dismiss().catch(() => {});
		});
		page.on('response', (r) => {
			const s = `${r.status()} ${r.request().method()} ${r.url()}`;
			if (r.status() >= 400 && !this.ok(s)) this.failed.push(s);
		});
		page.on('requestfailed', (r) => {
			const err = r.failure()?.errorText || '';
			// Requests to other hosts: aborted by the route below, reported there.
			if (!isLocal(r.url())) return;
			// Leaving a page aborts what it still fetches (the live stream always): the
			// tests navigate on as soon as they have checked a page. Errors are answers >= 400
			// (above) or other network errors.
			if (/ERR_ABORTED/.test(err)) return;
			const s = `${r.method()} ${r.url()}: ${err}`;
			if (!this.ok(s)) this.failed.push(s);
		});
		page.on('websocket', (ws) => {
			if (!isLocal(ws.url())) this.offHost.push(`websocket ${ws.url()}`);
		});
		// Every request to another host is recorded and aborted: no CDN.
		return context.route(
			(u) => !isLocal(u.href),
			(route) => {
				this.offHost.push(
					`${route.request().method()} ${route.request().url()}`,
				);
				return route.abort('blockedbyclient');
			},
		);
	}
	// Asserts nothing went wrong since the last reset.
	assertClean(where) {
		const bad = [];
		if (this.consoleErrors.length)
			bad.push(`console errors: ${this.consoleErrors.join(' | ')}`);
		if (this.failed.length) bad.push(`failed requests: ${this.failed.join(' | ')}`);
		if (this.offHost.length)
			bad.push(`requests to other hosts: ${this.offHost.join(' | ')}`);
		if (this.dialogs.length) bad.push(`dialogs: ${this.dialogs.join(' | ')}`);
		check(!bad.length, `${where}: ${bad.join('; ')}`);
	}
}

function isLocal(u) {
	if (/^(data|blob|about|chrome-error):/i.test(u)) return true;
	try {
		return new URL(u).origin === origin;
	} catch {
		return false;
	}
}

export async function launch() {
	const require = createRequire(path.join(cfg.playwright, 'package.json'));
	const { chromium } = require(cfg.playwright);
	const browser = await chromium.launch({
		executablePath: cfg.chromium,
		headless: true,
		timeout: T(30000),
		args: [
			'--headless=new',
			'--no-sandbox',
			'--disable-gpu',
			'--disable-dev-shm-usage',
			'--disable-background-networking',
			'--disable-component-update',
			'--disable-default-apps',
			'--disable-sync',
			'--no-first-run',
			'--metrics-recording-only',
			'--disable-domain-reliability',
			// Trust exactly the server's own key, not any certificate.
			`--ignore-certificate-errors-spki-list=${cfg.spki}`,
		],
	});
	const context = await browser.newContext({
		viewport: { width: 1920, height: 1080 },
		locale: 'en-US',
	});
	context.setDefaultTimeout(T(10000));
	context.setDefaultNavigationTimeout(T(20000));
	const page = await context.newPage();
	const mon = new Monitor();
	await mon.attach(context, page);
	return { browser, context, page, mon };
}

export async function shot(page, name) {
	mkdirSync(cfg.artifacts, { recursive: true });
	await page.screenshot({ path: path.join(cfg.artifacts, `${name}.png`), timeout: T(10000) });
}

// Navigates to a page under /ui/ and returns the document's response.
export async function open(page, rel) {
	const r = await page.goto(`${cfg.url}/ui/${rel}`, { waitUntil: 'load' });
	check(r && r.status() === 200, `GET /ui/${rel}: ${r ? r.status() : 'no response'}`);
	return r;
}

// Sets the page language through #lang-toggle (the only way the contract gives).
export async function ensureLang(page, lang) {
	for (let i = 0; i < 3; i++) {
		if ((await page.getAttribute('html', 'lang')) === lang) return;
		await page.click('#lang-toggle');
		await page.waitForTimeout(100);
	}
	check(
		(await page.getAttribute('html', 'lang')) === lang,
		`#lang-toggle did not reach ${lang}`,
	);
}

// The API, called from the page so that it goes through the same pinned TLS connection.
// Logs in once with its own session.
let apiToken = null;
export async function api(page, method, p, body) {
	if (!apiToken) {
		const r = await page.evaluate(
			async ([u, pw]) => {
				const r = await fetch('/api/v1/login', {
					method: 'POST',
					headers: { 'Content-Type': 'application/json' },
					body: JSON.stringify({ user: u, password: pw }),
				});
				return { status: r.status, body: await r.json() };
			},
			[cfg.user, cfg.password],
		);
		check(r.status === 200, `API login: ${r.status}`);
		apiToken = r.body.token;
	}
	return page.evaluate(
		async ([m, u, b, tok]) => {
			const r = await fetch(u, {
				method: m,
				headers: {
					Authorization: `Bearer ${tok}`,
					'Content-Type': 'application/json',
				},
				body: b === null ? undefined : JSON.stringify(b),
			});
			const text = await r.text();
			let json = null;
			try {
				json = JSON.parse(text);
			} catch {
				json = null;
			}
			return { status: r.status, body: json, text };
		},
		[method, `/api/v1${p}`, body === undefined ? null : body, apiToken],
	);
}

// Polls fn (async, truthy = done) every 100 ms for at most ms; returns its last value.
export async function poll(fn, ms, what) {
	const end = Date.now() + ms;
	let v;
	for (;;) {
		v = await fn();
		if (v) return v;
		check(Date.now() < end, `timed out after ${ms} ms: ${what}`);
		await new Promise((r) => setTimeout(r, 100));
	}
}

// Appends syslog lines to the file the agent follows, stamped now (the server counts "today").
const MON = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split(' ');
export function syslogStamp(d = new Date()) {
	const p2 = (n) => String(n).padStart(2, '0');
	const day = String(d.getDate()).padStart(2, ' ');
	const time = `${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
	return `${MON[d.getMonth()]} ${day} ${time}`;
}
export function appendLog(lines) {
	appendFileSync(cfg.log, lines.map((l) => `${syslogStamp()} ${l}\n`).join(''));
}

// A fresh documentation address per call, so that every attack line is a new alert (alerts of
// one rule and one source are deduplicated into one).
let ipSeq = 10;
export function freshIp() {
	ipSeq++;
	return `198.51.100.${ipSeq}`;
}

// The list row of alert id, following #page-next a bounded number of times.
export async function findRow(page, id) {
	const sel = `#alerts-table tr[data-alert-id="${id}"]`;
	await page.waitForSelector('#alerts-table tr[data-alert-id]', { timeout: T(10000) });
	for (let i = 0; i < 20; i++) {
		if (await page.$(sel)) return page.locator(sel).first();
		const next = page.locator('#page-next');
		if (!(await next.isVisible()) || !(await next.isEnabled())) break;
		const first = await page.getAttribute(
			'#alerts-table tr[data-alert-id]',
			'data-alert-id',
		);
		await next.click();
		await poll(
			async () =>
				(await page.getAttribute(
					'#alerts-table tr[data-alert-id]',
					'data-alert-id',
				)) !== first,
			T(5000),
			'#page-next shows another page',
		);
	}
	check(false, `alert ${id} is not in #alerts-table`);
}
