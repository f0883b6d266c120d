// Driven by bench/screen_bench.sh: logs in once, then loads /ui/screen.html YW_LOADS times and
// prints, for each load, the time from navigation start to the page's `yw-first-render` mark
// and the durations of its two API calls, then the medians.
import { createRequire } from 'node:module';
import path from 'node:path';

const e = process.env;
const require = createRequire(path.join(e.YW_PLAYWRIGHT, 'package.json'));
const { chromium } = require(e.YW_PLAYWRIGHT);
const url = e.YW_URL;
const loads = Number(e.YW_LOADS || 7);

const browser = await chromium.launch({
	executablePath: '/usr/bin/chromium',
	args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
	       '--disable-background-networking', `--ignore-certificate-errors-spki-list=${e.YW_SPKI}`],
});
const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
await page.goto(`${url}/ui/login.html`);
await page.fill('#login-user', e.YW_USER);
await page.fill('#login-password', e.YW_PASSWORD);
await page.click('#login-submit');
await page.waitForSelector('body[data-ready="true"]', { timeout: 30000 });

const median = (v) => [...v].sort((a, b) => a - b)[Math.floor(v.length / 2)];
const rows = [];
for (let i = 0; i < loads; i++) {
	await page.goto(`${url}/ui/screen.html`);
	await page.waitForSelector('body[data-ready="true"]', { timeout: 30000 });
	const r = await page.evaluate(() => {
		const mark = performance.getEntriesByName('yw-first-render')[0];
		const api = (p) => performance.getEntriesByType('resource')
			.filter((x) => x.name.includes(p)).map((x) => x.duration)[0] ?? -1;
		return {
			render: mark.startTime,
			situation: api('/api/v1/situation'),
			alerts: api('/api/v1/alerts'),
			online: document.querySelector('#kpi-online').textContent,
			ticker: document.querySelectorAll('#ticker .ticker-item').length,
		};
	});
	rows.push(r);
	console.log(`load ${i + 1}: first render ${r.render.toFixed(0)} ms (situation ${
		r.situation.toFixed(0)} ms, alerts ${r.alerts.toFixed(0)} ms; online ${r.online}, ticker ${
		r.ticker})`);
}
console.log(`median of ${loads}: first render ${median(rows.map((r) => r.render)).toFixed(0)} ms, ` +
	`GET /situation ${median(rows.map((r) => r.situation)).toFixed(0)} ms, ` +
	`GET /alerts?newest=1&limit=50 ${median(rows.map((r) => r.alerts)).toFixed(0)} ms`);
await browser.close();
