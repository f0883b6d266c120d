// The login page: POST /api/v1/login, then the page in ?next= (one of ours) or the big screen.
import {api, ApiError, saveSession, clearSession} from './api.js';
import {$, text} from './dom.js';
import {initLang} from './common.js';
import {t} from './i18n.js';

// Only our own pages: an open redirect would let a link send a fresh login elsewhere.
function next() {
	const n = new URLSearchParams(location.search).get('next');
	if (!n) return '/ui/screen.html';
	const u = new URL(n, location.origin);
	if (u.origin !== location.origin || !u.pathname.startsWith('/ui/') ||
	    u.pathname === '/ui/login.html')
		return '/ui/screen.html';
	return u.pathname + u.search + u.hash;
}

initLang();
$('#login-form').addEventListener('submit', async (e) => {
	e.preventDefault();
	const err = $('#login-error'), btn = $('#login-submit');
	text(err, '');
	btn.disabled = true;
	clearSession();
	try {
		const r = await api('POST', '/login', {
			user: $('#login-user').value, password: $('#login-password').value,
		});
		saveSession(r.token, r.role);
		location.replace(next());
	} catch (x) {
		const s = x instanceof ApiError ? x.status : 0;
		text(err, s === 401 ? t('login.wrong') : s === 429 ? t('login.limited')
		                                                   : t('login.failed') + ' ' + x.message);
		btn.disabled = false;
	}
});
