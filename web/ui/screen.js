// The big screen (大屏): a fixed 1920×1080 stage scaled to the viewport. First paint needs two
// calls (/situation, the newest 50 alerts); the live stream then pushes alerts into the ticker
// and bumps the KPIs at once, and the aggregates are re-read every 10 s and after bursts.
import {api, openStream, requireLogin} from './api.js';
import {$, $$, el, fill, page, text} from './dom.js';
import {LEVELS, LEVEL_COLOR, evidence, fmtClock, initLang, levelBadge, num} from './common.js';
import {lang, t} from './i18n.js';

const W = 1920, H = 1080, TICKER_MAX = 50, REFRESH_MS = 10000;
const BURST_N = 5, BURST_MS = 2000; // this many alerts within this time: re-read the aggregates

const st = {
	sit: null,         // the last /situation answer
	ticker: new Map(), // alert id -> its <li>
	maxId: 0,          // the highest alert id shown: older ones are not counted again
	charts: {},
	dpr: 0,
	burst: [],
	refreshTimer: null,
	burstTimer: null,
};

if (requireLogin()) start();

function start() {
	initLang(() => {
		tick();
		renderSituation();
		for (const li of st.ticker.values()) relabel(li);
		setLive($('#live-status').dataset.state);
	});
	fit();
	window.addEventListener('resize', fit);
	tick();
	setInterval(tick, 1000);
	// First render: both first calls answered and drawn (the frame after ECharts painted).
	// bench/screen_bench.sh and the browser tests read the mark and the attribute.
	Promise.all([refresh(), loadTicker()]).then(() => requestAnimationFrame(() =>
		requestAnimationFrame(() => {
			performance.mark('yw-first-render');
			document.body.dataset.ready = 'true';
		})));
	openStream({
		state: setLive,
		alert: onAlert,
		counters: onCounters,
		agent: () => scheduleRefresh(1000),
	});
}

// ---- layout ----

function fit() {
	const s = Math.min(innerWidth / W, innerHeight / H);
	const stage = $('#stage');
	stage.style.transform = `scale(${s})`;
	stage.style.left = `${(innerWidth - W * s) / 2}px`;
	stage.style.top = `${(innerHeight - H * s) / 2}px`;
	// Canvases drawn at the scaled resolution stay sharp on a 4K wall.
	const dpr = Math.max(1, Math.min(4, (window.devicePixelRatio || 1) * s));
	if (Math.abs(dpr - st.dpr) > 0.01) {
		st.dpr = dpr;
		for (const c of Object.values(st.charts)) c.dispose();
		st.charts = {};
		renderSituation();
	}
}

function tick() {
	const now = new Date();
	text($('#screen-clock'), fmtClock(now.getTime() * 1e6));
	text($('#screen-date'), now.toLocaleDateString(lang(), {
		year: 'numeric', month: '2-digit', day: '2-digit', weekday: 'short',
	}));
}

function setLive(s) {
	const n = $('#live-status');
	n.dataset.state = s;
	text($('#live-text'), t('live.' + s));
}

// ---- data ----

async function refresh() {
	clearTimeout(st.refreshTimer);
	try {
		st.sit = await api('GET', '/situation', null, {tz: -new Date().getTimezoneOffset()});
		renderSituation();
	} catch (e) {
		// Keeps what is shown; the next round tries again.
	}
	st.refreshTimer = setTimeout(refresh, REFRESH_MS);
}

function scheduleRefresh(ms) {
	if (st.burstTimer) return;
	st.burstTimer = setTimeout(() => {
		st.burstTimer = null;
		refresh();
	}, ms);
}

async function loadTicker() {
	try {
		const r = await api('GET', '/alerts', null, {newest: 1, limit: TICKER_MAX});
		const rows = (r.items || []).slice().sort((a, b) => a.id - b.id);
		for (const a of rows) addTicker(a);
	} catch (e) {
		// The stream fills the ticker as alerts come.
	}
}

function onAlert(a) {
	if (!a || typeof a.id !== 'number') return;
	const fresh = a.id > st.maxId && !st.ticker.has(a.id);
	addTicker(a);
	if (!fresh || !st.sit) return;
	const w = st.sit.warnings_today || (st.sit.warnings_today = {});
	w.total = (w.total || 0) + 1;
	if (LEVELS.includes(a.level)) w[a.level] = (w[a.level] || 0) + 1;
	st.sit.open_alerts = (st.sit.open_alerts || 0) + 1;
	renderKpis();
	const now = Date.now();
	st.burst = st.burst.filter((x) => now - x < BURST_MS);
	st.burst.push(now);
	if (st.burst.length >= BURST_N) scheduleRefresh(1500);
}

function onCounters(c) {
	if (!c) return;
	// The total stays the situation's (revoked terminals left out); the counters bring the
	// online count between refreshes.
	const total = st.sit && st.sit.terminals ? st.sit.terminals.total : c.agents_total;
	if (typeof c.agents_online === 'number')
		text($('#kpi-online'), `${c.agents_online} / ${num(total)}`);
	if (typeof c.events_per_s === 'number')
		text($('#kpi-eps'), c.events_per_s >= 100 ? Math.round(c.events_per_s)
		                                          : c.events_per_s.toFixed(1));
	if (st.sit && st.sit.terminals && typeof c.agents_online === 'number')
		st.sit.terminals.online = c.agents_online;
}

// ---- the ticker ----

function addTicker(a) {
	const old = st.ticker.get(a.id);
	if (old) old.remove();
	const li = el('li', {class: 'ticker-item lv-' + a.level, dataset: {alertId: a.id}},
		el('span', {class: 'ticker-time'}, fmtClock(a.last_seen || a.created_at || a.event_ts)),
		el('span', {class: 'ticker-level'}, levelBadge(a.level)),
		el('span', {class: 'ticker-main'},
			el('span', {class: 'ticker-title'}, a.title || a.rule_id || ''),
			el('span', {class: 'ticker-detail'}, evidence(a, 140))),
		el('span', {class: 'ticker-agent'}, a.agent_name || a.agent_id || ''),
		el('a', {class: 'ticker-solution', href: page('alert.html', {id: a.id}, 'solution'),
		         'data-i18n': 'ticker.solution'}, t('ticker.solution')));
	li._alert = a;
	const list = $('#ticker');
	list.prepend(li);
	st.ticker.set(a.id, li);
	st.maxId = Math.max(st.maxId, a.id);
	while (st.ticker.size > TICKER_MAX) {
		const last = list.lastElementChild;
		st.ticker.delete(Number(last.dataset.alertId));
		last.remove();
	}
}

function relabel(li) {
	const a = li._alert;
	fill(li.querySelector('.ticker-level'), levelBadge(a.level));
	text(li.querySelector('.ticker-detail'), evidence(a, 140));
}

// ---- aggregates ----

function renderSituation() {
	if (!st.sit) return;
	renderKpis();
	renderTables();
	renderCharts();
}

function renderKpis() {
	const s = st.sit, tm = s.terminals || {}, w = s.warnings_today || {};
	text($('#kpi-online'), `${num(tm.online)} / ${num(tm.total)}`);
	text($('#kpi-today-total'), num(w.total));
	for (const l of ['critical', 'high', 'medium', 'low']) text($('#kpi-today-' + l), num(w[l]));
	const risk = s.fleet_risk && s.fleet_risk.score;
	const k = $('#kpi-risk');
	text(k, typeof risk === 'number' ? risk.toFixed(1) : '—');
	k.dataset.band = risk >= 70 ? 'high' : risk >= 40 ? 'medium' : 'low';
	text($('#kpi-open'), num(s.open_alerts));
}

function renderTables() {
	const s = st.sit;
	fill($('#top-rules tbody'), (s.top_rules || []).slice(0, 6).map((r) =>
		el('tr', {dataset: {ruleId: r.rule_id || ''}},
			el('td', {class: 'col-title'}, levelDot(r.level), r.title || r.rule_id || ''),
			el('td', {class: 'num'}, num(r.count)))));
	fill($('#top-terminals tbody'), (s.riskiest_terminals || []).slice(0, 6).map((a) =>
		el('tr', {dataset: {agentId: a.id || ''}},
			el('td', {class: 'col-title'}, el('i', {class: a.online ? 'on' : 'off'}), a.name || a.id || ''),
			el('td', null, a.group || '—'),
			el('td', {class: 'num score'}, typeof a.score === 'number' ? a.score.toFixed(1) : '—'))));
}

const levelDot = (l) => el('i', {class: 'ldot lv-' + (LEVELS.includes(l) ? l : 'informational')});

// ---- charts (ECharts, canvas; data reaches tooltips only as rich text, never as HTML) ----

const AXIS = {
	axisLine: {lineStyle: {color: '#2a4a78'}},
	axisLabel: {color: '#9fb4d6', fontSize: 14},
	splitLine: {lineStyle: {color: 'rgba(60,110,180,0.18)'}},
};
const GRID = {left: 48, right: 18, top: 34, bottom: 30};
const TOOLTIP = {
	renderMode: 'richText', backgroundColor: 'rgba(8,20,45,0.95)', borderColor: '#1f6fd1',
	textStyle: {color: '#e6f1ff', fontSize: 14},
};

function chart(id) {
	if (!window.echarts) return null;
	let c = st.charts[id];
	if (!c) {
		c = window.echarts.init($('#' + id), null, {renderer: 'canvas', devicePixelRatio: st.dpr});
		st.charts[id] = c;
	}
	return c;
}

// t from the API: s, ms or ns since the epoch -> ms
function ms(v) {
	v = Number(v);
	return v > 1e15 ? v / 1e6 : v > 1e12 ? v : v * 1000;
}

const hhmm = (v) => {
	const d = new Date(ms(v));
	return String(d.getHours()).padStart(2, '0') + ':00';
};
const mmdd = (v) => {
	const d = new Date(ms(v));
	return `${d.getMonth() + 1}/${d.getDate()}`;
};

function levelSeries(rows) {
	return LEVELS.slice().reverse().map((l) => ({
		name: t('level.' + l), type: 'bar', stack: 'n', barMaxWidth: 26,
		itemStyle: {color: LEVEL_COLOR[l]},
		emphasis: {focus: 'series'},
		data: rows.map((r) => r[l] || 0),
	}));
}

function legend() {
	return {top: 0, right: 8, itemWidth: 12, itemHeight: 10, textStyle: {color: '#9fb4d6', fontSize: 13}};
}

function renderCharts() {
	const s = st.sit;
	const trend = (s.fleet_risk && s.fleet_risk.trend) || [];
	chart('chart-risk-trend')?.setOption({
		tooltip: {...TOOLTIP, trigger: 'axis'},
		title: trend.length ? undefined : {text: t('empty'), left: 'center', top: 'middle',
		                                   textStyle: {color: '#5f7ca8', fontSize: 18, fontWeight: 400}},
		grid: {...GRID, top: 16},
		xAxis: {type: 'category', data: trend.map((p) => mmdd(p.t) + ' ' + hhmm(p.t).slice(0, 2) + 'h'),
		        boundaryGap: false, ...AXIS},
		yAxis: {type: 'value', min: 0, max: 100, ...AXIS},
		series: [{
			name: t('kpi.risk'), type: 'line', smooth: true, symbol: 'none',
			lineStyle: {color: '#35d0ff', width: 3},
			areaStyle: {color: new window.echarts.graphic.LinearGradient(0, 0, 0, 1, [
				{offset: 0, color: 'rgba(53,208,255,0.45)'}, {offset: 1, color: 'rgba(53,208,255,0.02)'}])},
			data: trend.map((p) => p.score),
		}],
	}, true);

	const h24 = s.alerts_24h || [];
	chart('chart-24h')?.setOption({
		tooltip: {...TOOLTIP, trigger: 'axis', axisPointer: {type: 'shadow'}},
		legend: legend(), grid: GRID,
		xAxis: {type: 'category', data: h24.map((r) => hhmm(r.t)), ...AXIS},
		yAxis: {type: 'value', minInterval: 1, ...AXIS},
		series: levelSeries(h24),
	}, true);

	const d7 = s.alerts_7d || [];
	chart('chart-7d')?.setOption({
		tooltip: {...TOOLTIP, trigger: 'axis', axisPointer: {type: 'shadow'}},
		grid: {...GRID, top: 16}, xAxis: {type: 'category', data: d7.map((r) => mmdd(r.t)), ...AXIS},
		yAxis: {type: 'value', minInterval: 1, ...AXIS},
		series: levelSeries(d7),
	}, true);

	const tac = (s.tactics || []).slice(0, 8).reverse();
	chart('chart-tactics')?.setOption({
		tooltip: {...TOOLTIP, trigger: 'item'},
		grid: {left: 150, right: 40, top: 8, bottom: 20},
		xAxis: {type: 'value', minInterval: 1, ...AXIS},
		yAxis: {type: 'category', data: tac.map((x) => tacticName(x.tactic)), ...AXIS,
		        axisLabel: {...AXIS.axisLabel, width: 140, overflow: 'truncate'}},
		series: [{type: 'bar', name: t('panel.tactics'), barMaxWidth: 16, data: tac.map((x) => x.count),
		          label: {show: true, position: 'right', color: '#cfe3ff', fontSize: 13},
		          itemStyle: {borderRadius: [0, 4, 4, 0], color: new window.echarts.graphic.LinearGradient(0, 0, 1, 0, [
		              {offset: 0, color: '#1f5fd1'}, {offset: 1, color: '#35d0ff'}])}}],
	}, true);

	const g = ((s.terminals && s.terminals.by_group) || []).slice(0, 8);
	chart('chart-groups')?.setOption({
		tooltip: {...TOOLTIP, trigger: 'axis', axisPointer: {type: 'shadow'}},
		legend: legend(), grid: {left: 40, right: 12, top: 34, bottom: 30},
		xAxis: {type: 'category', data: g.map((x) => x.group || '—'), ...AXIS,
		        axisLabel: {...AXIS.axisLabel, interval: 0, width: 70, overflow: 'truncate'}},
		yAxis: {type: 'value', minInterval: 1, ...AXIS},
		series: [
			{name: t('chart.total'), type: 'bar', barGap: '-100%', barMaxWidth: 28,
			 itemStyle: {color: 'rgba(61,155,255,0.25)'}, data: g.map((x) => x.total)},
			{name: t('chart.online'), type: 'bar', barMaxWidth: 28, itemStyle: {color: '#2ee6a6'},
			 data: g.map((x) => x.online)},
		],
	}, true);

	const w = s.warnings_today || {};
	chart('chart-levels')?.setOption({
		tooltip: {...TOOLTIP, trigger: 'item'},
		title: {text: String(w.total || 0), subtext: t('kpi.today'), left: '35%', top: '38%',
		        textAlign: 'center', textStyle: {color: '#e6f1ff', fontSize: 34, fontWeight: 'bold'},
		        subtextStyle: {color: '#8fb0dd', fontSize: 14}},
		legend: {orient: 'vertical', right: 16, top: 'middle', itemGap: 14,
		         textStyle: {color: '#cfe3ff', fontSize: 15}},
		series: [{
			type: 'pie', radius: ['48%', '78%'], center: ['36%', '52%'],
			label: {show: false}, labelLine: {show: false},
			itemStyle: {borderColor: '#071630', borderWidth: 3},
			data: LEVELS.map((l) => ({name: t('level.' + l), value: w[l] || 0,
			                          itemStyle: {color: LEVEL_COLOR[l]}})),
		}],
	}, true);
}

// "attack.credential_access" -> the tactic's name in the current language
function tacticName(k) {
	const key = 'tactic.' + String(k || '').replace(/^attack\./, '').replace(/-/g, '_');
	const s = t(key);
	return s === key ? String(k || '') : s;
}
