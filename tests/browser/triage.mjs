// 3. Acknowledge from the analyst pages: the live alert through the list's bulk action, another
// one through the alert page's button with a comment; the API must agree with what is shown.
import { api, check, ensureLang, findRow, open, poll, shot, T } from './harness.mjs';

const ACK = /acknowledged/i;

async function apiStatus(page, id) {
	const r = await api(page, 'GET', `/alerts/${id}`);
	check(r.status === 200, `GET /api/v1/alerts/${id}: ${r.status}`);
	return r.body;
}

export default async function triage(st) {
	const { page, mon } = st;
	const id = st.liveAlertId;
	await open(page, 'alerts.html');
	await ensureLang(page, 'en');
	check((await page.$('nav#nav')) !== null, 'alerts page: nav#nav');
	check((await page.$('#logout')) !== null, 'alerts page: #logout');
	for (const f of ['#filter-level', '#filter-status', '#filter-agent', '#filter-apply']) {
		check((await page.$(f)) !== null, `alerts page: ${f}`);
	}
	const row = await findRow(page, id);
	for (const c of ['.col-time', '.col-level', '.col-title', '.col-agent', '.col-status']) {
		const v = ((await row.locator(c).first().textContent()) || '').trim();
		check(v !== '', `row ${id}: ${c} has text`);
	}
	check(
		((await row.locator('.col-detail').first().textContent()) || '').includes(
			st.liveUser,
		),
		`row ${id}: .col-detail shows the user name`,
	);
	check(
		!ACK.test(await row.locator('.col-status').first().textContent()),
		'the alert starts new',
	);
	await shot(page, 'alerts');

	await row.locator('input.row-select').first().check();
	await page.click('#bulk-ack');
	await poll(
		async () =>
			ACK.test((await row.locator('.col-status').first().textContent()) || ''),
		T(5000),
		`row ${id}: .col-status becomes acknowledged`,
	);
	const a = await apiStatus(page, id);
	check(a.status === 'acknowledged', `API: alert ${id} is ${a.status}`);
	await shot(page, 'alerts-acked');

	// Another alert, still new: the single-alert page's button, with a comment.
	const list = await api(page, 'GET', '/alerts?status=new&newest=1&limit=50');
	check(list.status === 200, `GET /api/v1/alerts?status=new: ${list.status}`);
	const other = (list.body.items || []).find((x) => x.id !== id);
	check(other, 'another new alert to acknowledge');
	await open(page, `alert.html?id=${other.id}`);
	await ensureLang(page, 'en');
	for (const e of ['#alert-title', '#alert-level', '#alert-status', '#alert-agent']) {
		await poll(
			async () => ((await page.textContent(e)) || '').trim() !== '',
			T(5000),
			`alert page: ${e} has text`,
		);
	}
	check(
		((await page.textContent('#alert-title')) || '').includes(other.title || ''),
		"alert page: #alert-title is the alert's",
	);
	const comment = `checked from the browser ${Date.now()}`;
	await page.fill('#triage-comment', comment);
	await page.click('#btn-ack');
	await poll(
		async () => ACK.test((await page.textContent('#alert-status')) || ''),
		T(5000),
		'#alert-status becomes acknowledged',
	);
	const b = await apiStatus(page, other.id);
	check(b.status === 'acknowledged', `API: alert ${other.id} is ${b.status}`);
	check(
		b.ack_comment === comment,
		`API: the comment was sent (ack_comment "${b.ack_comment}")`,
	);
	await poll(
		async () => ((await page.textContent('#alert-history')) || '').includes(comment),
		T(5000),
		'#alert-history shows the acknowledgement with its comment',
	);
	await shot(page, 'alert-acked');
	mon.assertClean('triage');
}
