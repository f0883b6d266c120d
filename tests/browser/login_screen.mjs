// 1. Log in (a wrong password is refused on the page), then the big screen: one agent online,
// every chart drawn, no scrollbars at 1920x1080 nor 1280x720, nothing fetched from elsewhere.
import { cfg, check, open, poll, shot, T } from './harness.mjs';

const CHARTS = [
	'#chart-risk-trend',
	'#chart-24h',
	'#chart-7d',
	'#chart-tactics',
	'#chart-groups',
	'#chart-levels',
];
const KPIS = [
	'#kpi-today-total',
	'#kpi-today-critical',
	'#kpi-today-high',
	'#kpi-today-medium',
	'#kpi-today-low',
	'#kpi-risk',
	'#kpi-open',
];

export default async function login({ page, mon }) {
	await open(page, 'login.html');
	const lang = await page.getAttribute('html', 'lang');
	check(lang === 'zh-CN' || lang === 'en', `login page: html lang is ${lang}`);
	check(await page.isVisible('#lang-toggle'), 'login page: #lang-toggle visible');
	await shot(page, 'login');

	// The wrong password: the API answers 401 (the browser logs that as a console error).
	mon.allow(/\/api\/v1\/login/);
	await page.fill('#login-user', cfg.user);
	await page.fill('#login-password', 'not-the-password');
	await page.click('#login-submit');
	await page.waitForSelector('#login-error', { state: 'visible' });
	await poll(
		async () => (await page.textContent('#login-error')).trim() !== '',
		T(5000),
		'#login-error says something',
	);
	check(
		/\/ui\/login\.html/.test(page.url()),
		`a wrong password left the login page: ${page.url()}`,
	);
	await shot(page, 'login-error');
	mon.reset();

	await page.fill('#login-password', cfg.password);
	await page.click('#login-submit');
	await page.waitForURL(/\/ui\/screen\.html/, { timeout: T(10000) });

	// One enrolled agent, online.
	await poll(
		async () =>
			/^\s*1\s*\/\s*1\s*$/.test((await page.textContent('#kpi-online')) || ''),
		T(10000),
		`#kpi-online "1 / 1" (is "${await page.textContent('#kpi-online')}")`,
	);
	for (const k of KPIS) {
		await poll(
			async () => /\d/.test((await page.textContent(k)) || ''),
			T(5000),
			`${k} shows a number (is "${await page.textContent(k)}")`,
		);
	}
	check(
		((await page.textContent('#screen-title')) || '').trim() !== '',
		'#screen-title has text',
	);
	for (const t of ['#top-rules', '#top-terminals', '#ticker']) {
		check((await page.$(t)) !== null, `${t} present`);
	}

	// ECharts draws into a canvas inside each chart's element.
	for (const c of CHARTS) {
		const canvas = page.locator(`${c} canvas`).first();
		await canvas.waitFor({ state: 'attached', timeout: T(10000) });
		const box = await canvas.boundingBox();
		check(box && box.width > 0 && box.height > 0, `${c}: canvas of non-zero size`);
	}
	await page.waitForTimeout(500); // let the charts' first animation settle for the picture
	await shot(page, 'screen');

	for (const [w, h] of [
		[1920, 1080],
		[1280, 720],
	]) {
		await page.setViewportSize({ width: w, height: h });
		await page.waitForTimeout(300); // the charts resize on the resize event
		const m = await page.evaluate(() => ({
			sw: Math.max(
				document.documentElement.scrollWidth,
				document.body.scrollWidth,
			),
			sh: Math.max(
				document.documentElement.scrollHeight,
				document.body.scrollHeight,
			),
			iw: window.innerWidth,
			ih: window.innerHeight,
		}));
		check(
			m.sw <= m.iw && m.sh <= m.ih,
			`screen at ${w}x${h} scrolls: document ${m.sw}x${m.sh}, ` +
				`viewport ${m.iw}x${m.ih}`,
		);
		if (w === 1280) await shot(page, 'screen-1280x720');
	}
	await page.setViewportSize({ width: 1920, height: 1080 });
	mon.assertClean('login and screen');
}
