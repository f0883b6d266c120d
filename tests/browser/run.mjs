// Runs the browser tests in order against a running server (tests/e2e/browser.sh sets the
// environment). Prints "ok   - name" or "FAIL - name: why" per test and exits 1 when any failed.
// A test that cannot run because an earlier one it needs failed is a failure, not a skip.
import { cfg, launch, shot, T } from './harness.mjs';
import login from './login_screen.mjs';
import live from './live.mjs';
import triage from './triage.mjs';
import lang from './lang.mjs';
import xss from './xss.mjs';
import pages from './pages.mjs';

// name, function, per-test time bound (ms, scaled for slow builds), the tests it needs
const tests = [
	['login and the big screen', login, 40000, []],
	['live warning on the screen', live, 20000, ['login and the big screen']],
	['acknowledge from the analyst pages', triage, 25000, ['live warning on the screen']],
	['switch language', lang, 15000, ['login and the big screen']],
	['hostile text is shown, never run', xss, 40000, ['login and the big screen']],
	['other pages', pages, 30000, ['login and the big screen']],
];

// YW_ONLY=regex runs the tests whose names match, and the tests they need.
const only = process.env.YW_ONLY ? new RegExp(process.env.YW_ONLY) : null;
const wanted = new Set();
for (const [name, , , needs] of [...tests].reverse()) {
	if (!only || only.test(name) || wanted.has(name)) {
		wanted.add(name);
		needs.forEach((n) => wanted.add(n));
	}
}
const started = Date.now();
const st = await launch();
const passed = new Set();
let failed = 0;
console.log(`browser: ${await st.browser.version()}, server ${cfg.url}`);
for (const [name, fn, budget, needs] of tests) {
	if (!wanted.has(name)) continue;
	const missing = needs.filter((n) => !passed.has(n));
	if (missing.length) {
		console.log(`FAIL - ${name}: not run, needs: ${missing.join(', ')}`);
		failed++;
		continue;
	}
	st.mon.reset();
	const t0 = Date.now();
	let timer;
	try {
		await Promise.race([
			fn(st),
			new Promise((_, rej) => {
				timer = setTimeout(
					() => rej(new Error(`over its ${T(budget)} ms`)),
					T(budget),
				);
			}),
		]);
		passed.add(name);
		console.log(`ok   - ${name} (${Date.now() - t0} ms)`);
	} catch (e) {
		failed++;
		console.log(`FAIL - ${name}: ${e.message.split('\n').slice(0, 6).join(' / ')}`);
		const safe = name.replace(/[^a-z0-9]+/gi, '-');
		await shot(st.page, `FAIL-${safe}`).catch(() => {});
	} finally {
		clearTimeout(timer);
	}
}
await st.browser.close().catch(() => {});
console.log(`${passed.size} passed, ${failed} failed in ${Date.now() - started} ms`);
process.exit(failed ? 1 : 0);
