// 5. Attacker-controlled text (user names of sshd lines, a sudo user and command line, and the
// agent's host name when browser.sh could set it) raises alerts; every page that shows it must
// show it literally and run none of it, and the pages must carry a Content-Security-Policy.
import {
	api,
	appendLog,
	cfg,
	check,
	ensureLang,
	findRow,
	freshIp,
	open,
	poll,
	shot,
	T,
} from './harness.mjs';

const P = [
	'<script>window.__xss=1</script>',
	'<img src=x onerror="window.__xss=2">',
	'javascript:window.__xss=3',
];

// Nothing of the payloads may have become markup or run.
async function assertInert(page, where) {
	await page.waitForTimeout(300); // a broken <img> fires onerror at once; give it the chance
	const r = await page.evaluate(() => {
		const onAttr = [];
		for (const e of document.querySelectorAll('*')) {
			for (const a of e.attributes) {
				if (/^on/i.test(a.name))
					onAttr.push(`<${e.tagName.toLowerCase()} ${a.name}>`);
			}
		}
		const jsUrl = [];
		for (const e of document.querySelectorAll(
			'[href], [src], [action], [formaction]',
		)) {
			for (const n of ['href', 'src', 'action', 'formaction']) {
				const v = (e.getAttribute(n) || '').replace(
					/[\s\u0000-\u001f]/g,
					'',
				);
				if (/^javascript:/i.test(v))
					jsUrl.push(`<${e.tagName.toLowerCase()} ${n}=${v}>`);
			}
		}
		return {
			xss: typeof window.__xss,
			onAttr,
			jsUrl,
			scripts: [...document.scripts].filter((s) =>
				s.textContent.includes('__xss'),
			).length,
		};
	});
	check(r.xss === 'undefined', `${where}: window.__xss is set: a payload ran`);
	check(!r.onAttr.length, `${where}: elements with on* attributes: ${r.onAttr.join(' ')}`);
	check(!r.jsUrl.length, `${where}: javascript: URLs: ${r.jsUrl.join(' ')}`);
	check(!r.scripts, `${where}: a payload became a <script> element`);
}

// The header is there and does not let inline script run (the second line of defence).
function assertCsp(resp, where) {
	const csp = resp.headers()['content-security-policy'] || '';
	check(csp !== '', `${where}: no Content-Security-Policy header`);
	const dirs = Object.fromEntries(
		csp
			.split(';')
			.map((d) => d.trim().split(/\s+/))
			.filter((d) => d[0])
			.map((d) => [d[0].toLowerCase(), d.slice(1)]),
	);
	const script = dirs['script-src'] || dirs['default-src'];
	check(script, `${where}: CSP "${csp}" has neither script-src nor default-src`);
	const weak = script.filter((s) =>
		/^('unsafe-inline'|'unsafe-eval'|\*|data:|https?:)$/i.test(s),
	);
	check(!weak.length, `${where}: CSP script sources allow ${weak.join(' ')}`);
}

// Every string in a JSON value (the payloads hold quotes, which JSON text escapes).
function strings(v) {
	if (typeof v === 'string') return [v];
	if (v && typeof v === 'object') return Object.values(v).flatMap(strings);
	return [];
}

async function bodyText(page, sel) {
	return (await page.textContent(sel)) || '';
}

export default async function xss(st) {
	const { page, mon } = st;
	const cmd = `/usr/bin/env X='${P[1]}' ${P[2]} /bin/bash`;
	appendLog([
		`ops-web-01 sshd[5001]: Invalid user ${P[0]} from ${freshIp()} port 40001`,
		`ops-web-01 sshd[5002]: Invalid user ${P[1]} from ${freshIp()} port 40002`,
		`ops-web-01 sshd[5003]: Invalid user ${P[2]} from ${freshIp()} port 40003`,
		`ops-web-01 sudo:  ${P[0]} : TTY=pts/0 ; PWD=/tmp ; USER=root ; COMMAND=${cmd}`,
	]);
	await open(page, 'screen.html');
	// The alert of each line, found through the API by the payload in one of its fields.
	const want = [P[0], P[1], P[2], cmd];
	const ids = await poll(
		async () => {
			const r = await api(page, 'GET', '/alerts?newest=1&limit=100');
			if (r.status !== 200) return null;
			const got = want.map((w) => {
				const a = r.body.items.find((x) =>
					strings(x).some((v) => v.includes(w)),
				);
				return a ? a.id : null;
			});
			return got.every((x) => x !== null) ? got : null;
		},
		T(15000),
		'an alert for every hostile line',
	);

	// The screen's ticker.
	await poll(
		async () => {
			const t = await bodyText(page, '#ticker');
			return P.every((p) => t.includes(p));
		},
		T(10000),
		'the ticker shows every payload literally',
	);
	if (cfg.agentHost) {
		check(
			(await bodyText(page, '#ticker')).includes(cfg.agentHost),
			"the ticker shows the agent's host name literally",
		);
	}
	await assertInert(page, 'screen');
	assertCsp(await open(page, 'screen.html'), 'screen.html');
	await shot(page, 'xss-screen');

	// The alert list.
	const resp = await open(page, 'alerts.html');
	assertCsp(resp, 'alerts.html');
	await ensureLang(page, 'en');
	for (let i = 0; i < want.length; i++) {
		const row = await findRow(page, ids[i]);
		const text = (await row.textContent()) || '';
		// The sudo row may show its user or its command line.
		const lits = i < 3 ? [P[i]] : [P[0], P[1]];
		check(
			lits.some((l) => text.includes(l)),
			`alerts row ${ids[i]} shows ${lits.join(' or ')} literally`,
		);
	}
	await assertInert(page, 'alerts');
	await shot(page, 'xss-alerts');

	// Each alert's own page.
	for (let i = 0; i < want.length; i++) {
		assertCsp(await open(page, `alert.html?id=${ids[i]}`), 'alert.html');
		const lits = i < 3 ? [P[i]] : [P[0], cmd];
		await poll(
			async () => {
				const t = await bodyText(page, '#alert-evidence');
				// Literal, or inside the event shown as JSON (quotes escaped).
				return lits.every(
					(l) =>
						t.includes(l) ||
						t.includes(JSON.stringify(l).slice(1, -1)),
				);
			},
			T(5000),
			`#alert-evidence of alert ${ids[i]} shows ${lits.join(' and ')} literally`,
		);
		await assertInert(page, `alert ${ids[i]}`);
		if (i === 1) await shot(page, 'xss-alert');
	}

	// The agents list, with the host name when it is a payload.
	assertCsp(await open(page, 'agents.html'), 'agents.html');
	await page.waitForSelector('#agents-table tr[data-agent-id]');
	if (cfg.agentHost) {
		check(
			(await bodyText(page, '#agents-table')).includes(cfg.agentHost),
			"#agents-table shows the agent's host name literally",
		);
	}
	await assertInert(page, 'agents');
	await shot(page, 'xss-agents');

	for (const p of ['login.html', 'rules.html', 'tokens.html']) {
		assertCsp(await open(page, p), p);
	}
	mon.assertClean('xss');
}
