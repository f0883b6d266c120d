// 4. The language toggle flips <html lang> between zh-CN and en with the screen's title, and the
// choice survives a reload.
import { check, open, poll, shot, T } from './harness.mjs';

const CJK = /[\u4e00-\u9fff]/;

async function state(page) {
	return {
		lang: await page.getAttribute('html', 'lang'),
		title: ((await page.textContent('#screen-title')) || '').trim(),
	};
}

// The title must be in the language the page says it is in.
function inLang(s, where) {
	check(s.title !== '', `${where}: #screen-title has text`);
	if (s.lang === 'zh-CN')
		check(CJK.test(s.title), `${where}: zh-CN title "${s.title}" is Chinese`);
	else check(!CJK.test(s.title), `${where}: en title "${s.title}" is not Chinese`);
}

export default async function lang({ page, mon }) {
	await open(page, 'screen.html');
	const a = await state(page);
	check(a.lang === 'zh-CN' || a.lang === 'en', `html lang is ${a.lang}`);
	inLang(a, 'before');
	const want = a.lang === 'en' ? 'zh-CN' : 'en';

	await page.click('#lang-toggle');
	const b = await poll(
		async () => {
			const s = await state(page);
			return s.lang === want && s.title !== a.title ? s : null;
		},
		T(3000),
		`the toggle makes the page ${want} with another title`,
	);
	inLang(b, 'after the toggle');
	await shot(page, `screen-${want}`);

	await page.reload({ waitUntil: 'load' });
	const c = await poll(
		async () => {
			const s = await state(page);
			return s.title ? s : null;
		},
		T(5000),
		'#screen-title after reload',
	);
	check(c.lang === want, `after reload html lang is ${c.lang}, not ${want}`);
	check(c.title === b.title, `after reload the title is "${c.title}", not "${b.title}"`);

	await page.click('#lang-toggle');
	const d = await poll(
		async () => {
			const s = await state(page);
			return s.lang === a.lang ? s : null;
		},
		T(3000),
		`the toggle goes back to ${a.lang}`,
	);
	check(d.title === a.title, `back in ${a.lang} the title is "${d.title}", not "${a.title}"`);
	await shot(page, `screen-${a.lang}`);
	mon.assertClean('language');
}
