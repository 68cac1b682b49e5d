/* global document, window, EventSource, requestAnimationFrame, fetch */
// The TCO dashboard: one EventSource on /events. The first message is a snapshot of everything; then feed, device,
// alarm, switch and facs events are merged into it and the page is redrawn on the next animation frame. No framework, no
// build step, nothing fetched from outside this server. Text goes in with textContent only (names come from a config
// and a device; they are never markup).
//
// One screen for up to five events: the events side by side in columns, each feed compact (on-air path, mode and
// lock, compliance, one line per path), the active alarms in a strip at the top, devices at the side.
//
// Every badge that says how something is gets a tone (ok, info, warn, bad) through tone(), which also keeps the
// worst tone drawn: the header is drawn last from it, so it can never be green beside a red badge. A feed that is not
// show-critical speaks one step quieter (its missing signal is not the program's).
'use strict'

const MAX_SWITCHES_PER_FEED = 2
const MAX_VIOLATIONS = 2
const MAX_ALARMS = 50
const RANK = { ok: 0, info: 1, warn: 2, bad: 3 }
/** the severities of docs/contract.md §7, for the codes a feed's badges show */
const SEVERITY = {
	'no-path': 'critical',
	'on-air-failed': 'critical',
	'off-path': 'critical',
	'take-unconfirmed': 'critical',
	'power-low-battery': 'critical',
	'journal-failed': 'critical',
	'no-signal': 'major',
	'at-risk': 'major',
	'external-take': 'major',
	'power-on-battery': 'major',
	'device-stale': 'minor',
}
const DEVICE_TONE = {
	ok: 'ok',
	inventory: 'info',
	unknown: 'info',
	'on-battery': 'warn',
	bypass: 'warn',
	degraded: 'warn',
	'low-battery': 'bad',
	off: 'bad',
	down: 'bad',
	disconnected: 'bad',
}

/** @type {any} */
let model = null
/** active alarms by id (or code and subject, for alarms without an id) */
let active = new Map()
/** true once the server gave the active list (/status `alarms`); else only what happened since the page opened */
let activeKnown = false
let worst = 'ok'
let drawPending = false

function el(tag, cls, text) {
	const e = document.createElement(tag)
	if (cls) e.className = cls
	if (text !== undefined && text !== null) e.textContent = String(text)
	return e
}

/** Marks a badge with its tone and keeps the worst tone drawn (the header's). */
function tone(e, t) {
	e.classList.add(`tone-${t}`)
	if (RANK[t] > RANK[worst]) worst = t
	return e
}

function quieter(t, critical) {
	if (critical) return t
	return t === 'bad' ? 'warn' : t === 'warn' ? 'info' : t
}

function severityTone(severity) {
	return severity === 'critical' || severity === 'major' ? 'bad' : severity === 'cleared' ? 'ok' : 'warn'
}

function hhmmss(iso) {
	const d = new Date(iso)
	return Number.isNaN(d.getTime()) ? '' : d.toISOString().slice(11, 19)
}

function age(iso) {
	const ms = Date.now() - new Date(iso).getTime()
	if (!Number.isFinite(ms)) return ''
	const s = Math.max(0, Math.floor(ms / 1000))
	if (s < 60) return `${s}s`
	if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`
	return `${Math.floor(s / 3600)}h ${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`
}

function schedule() {
	if (drawPending) return
	drawPending = true
	requestAnimationFrame(() => {
		drawPending = false
		draw()
	})
}

function draw() {
	if (!model) return
	worst = 'ok'
	// a pair's node says which it is: the standby's dashboard shows the same feeds, and who is active
	const n = model.node
	const node =
		n && n.role !== 'alone'
			? ` · node ${n.name}: ${n.role}${n.role === 'standby' ? ` (active: ${n.active ?? 'none'})` : ''}`
			: ''
	document.getElementById('site').textContent = model.site + node
	const root = document.getElementById('events')
	const frag = document.createDocumentFragment()
	const feedTones = []
	for (const ev of model.events) frag.append(drawEvent(ev, feedTones))
	if (model.events.length === 0) frag.append(el('p', 'empty', 'No events in the configuration.'))
	root.replaceChildren(frag)
	root.style.setProperty('--columns', String(Math.max(1, Math.min(5, model.events.length))))
	const badDevices = drawDevices()
	const alarmCount = drawAlarms()
	drawSummary(feedTones, badDevices, alarmCount)
	drawFacs()
}

/** The header: the worst tone of everything drawn, and what makes it so. */
function drawSummary(feedTones, badDevices, alarmCount) {
	const s = document.getElementById('summary')
	const parts = []
	const bad = feedTones.filter((t) => t === 'bad').length
	const warn = feedTones.filter((t) => t === 'warn').length
	const plural = (n, one) => `${n} ${one}${n > 1 ? 's' : ''}`
	if (bad) parts.push(el('span', 'part tone-bad', `${plural(bad, 'feed')} in trouble`))
	if (warn) parts.push(el('span', 'part tone-warn', `${plural(warn, 'feed')} to watch`))
	if (badDevices) parts.push(el('span', 'part tone-warn', `${plural(badDevices, 'device')} in trouble`))
	if (alarmCount) parts.push(el('span', 'part', `${plural(alarmCount, 'active alarm')}`))
	if (!model.ready) parts.push(tone(el('span', 'part', 'first sync incomplete'), 'warn'))
	if (parts.length === 0)
		parts.push(el('span', 'part', `${plural(model.feeds.length, 'feed')}, all compliant, nothing active`))
	// grey badges (not critical, not reported) say nothing is wrong: the header is green then
	const headerTone = worst === 'info' ? 'ok' : worst
	s.dataset.tone = headerTone
	s.className = `summary tone-${headerTone}`
	s.replaceChildren(...parts)
}

function drawEvent(ev, feedTones) {
	const box = el('section', `event tier-${ev.tier}`)
	box.dataset.event = ev.id
	const head = el('div', 'event-head')
	head.append(el('span', 'tier', ev.tier.toUpperCase()))
	head.append(el('span', 'event-name', ev.name || ev.id))
	if (ev.bigBet) head.append(el('span', 'bigbet', '★ BIG BET'))
	box.append(head)
	for (const f of model.feeds)
		if (f.event === ev.id) {
			// the feed's own worst tone, for the header's count
			const outer = worst
			worst = 'ok'
			box.append(drawFeed(f))
			feedTones.push(worst)
			if (RANK[outer] > RANK[worst]) worst = outer
		}
	return box
}

function drawFeed(f) {
	const key = `${f.event}/${f.feed}`
	const box = el('div', f.critical ? 'feed' : 'feed secondary')
	box.dataset.feed = key
	box.dataset.active = f.active ?? ''
	const head = el('div', 'feed-head')
	head.append(el('span', 'feed-name', f.name || f.feed))
	head.append(el('span', `chip ${f.mode}`, f.mode.toUpperCase()))
	if (f.locked) head.append(el('span', 'chip locked', 'LOCKED'))
	if (f.critical) {
		const c = f.compliance
		const chip = el(
			'span',
			`chip ${c.compliant ? 'compliant' : 'noncompliant'}`,
			`${c.compliant ? 'COMPLIANT' : 'NOT COMPLIANT'} ${c.healthyDiscretePaths}/${c.required}`,
		)
		chip.dataset.testid = 'compliance'
		head.append(tone(chip, c.compliant ? 'ok' : 'bad'))
	} else head.append(tone(el('span', 'chip', 'NOT CRITICAL'), 'info'))
	for (const a of f.alarms) {
		const chip = el('span', 'chip alarm', a.toUpperCase())
		chip.dataset.alarm = a
		head.append(tone(chip, quieter(severityTone(SEVERITY[a] ?? 'warning'), f.critical)))
	}
	box.append(head)

	const onAir = f.paths.find((p) => p.id === f.active)
	const onair = el('div', onAir ? 'onair' : 'onair none')
	onair.append(el('span', 'label', 'ON AIR'))
	const name = el('span', 'path', onAir ? onAir.id : f.active === null ? 'NO PATH' : f.active)
	name.dataset.testid = 'onair'
	onair.append(name)
	if (onAir) onair.append(el('span', 'method', onAir.method))
	else tone(onair, quieter('bad', f.critical))
	box.append(onair)

	const table = el('table', 'paths')
	f.paths.forEach((p, i) => {
		const tr = el('tr', p.id === f.active ? 'active' : '')
		tr.dataset.path = p.id
		tr.append(el('td', 'rank', i + 1))
		// the row of the path on air is marked (tally red); the banner above names it
		tr.append(el('td', 'id', p.id))
		tr.append(el('td', 'method', p.method))
		const sig = el('td', 'signal')
		const sigTone = p.signal === 'down' ? 'bad' : p.signal === 'degraded' ? 'warn' : p.signal === 'up' ? 'ok' : 'info'
		sig.append(tone(el('span', `sig ${p.signal ?? 'none'}`, p.signal ?? 'not reported'), quieter(sigTone, f.critical)))
		const state = el('td', 'state-cell')
		const stateTone =
			p.state === 'failed'
				? 'bad'
				: p.state === 'degraded' || p.state === 'recovering'
					? 'warn'
					: p.state === 'healthy'
						? 'ok'
						: 'info'
		state.append(tone(el('span', `state ${p.state}`, p.state), quieter(stateTone, f.critical)))
		tr.append(sig, state)
		table.append(tr)
	})
	box.append(table)

	const violations = f.critical ? (f.compliance.violations ?? []) : []
	if (violations.length > 0) {
		const ul = el('ul', 'violations')
		for (const v of violations.slice(0, MAX_VIOLATIONS)) {
			const li = el('li')
			li.title = v.detail
			li.append(el('code', null, v.code), document.createTextNode(v.detail))
			ul.append(li)
		}
		if (violations.length > MAX_VIOLATIONS) ul.append(el('li', 'more', `+${violations.length - MAX_VIOLATIONS} more`))
		box.append(ul)
	}

	const recent = model.switches
		.filter((s) => s.feed === key)
		.slice(-MAX_SWITCHES_PER_FEED)
		.reverse()
	if (recent.length > 0) {
		const ul = el('ul', 'switches')
		for (const s of recent) {
			const li = el('li')
			li.append(
				document.createTextNode(`${hhmmss(s.at)} `),
				el('span', `cause cause-${s.cause}`, s.cause),
				document.createTextNode(`${s.from ?? 'off-path'} → `),
				el('span', 'to', s.to),
				document.createTextNode(` ${s.latencyMs.toFixed(1)} ms`),
			)
			ul.append(li)
		}
		box.append(ul)
	}
	return box
}

function deviceClass(d) {
	if (d.power && d.power !== 'online') return { cls: d.power, what: d.power.replace('-', ' ') }
	if (d.connected === null) return { cls: 'inventory', what: 'no driver' }
	if (!d.connected) return { cls: 'disconnected', what: 'disconnected' }
	if (d.health === 'down') return { cls: 'down', what: 'down' }
	if (d.health === 'degraded') return { cls: 'degraded', what: 'degraded' }
	if (d.health === 'ok') return { cls: 'ok', what: d.power ? 'on mains' : 'ok' }
	return { cls: 'unknown', what: d.health }
}

/** Devices in trouble first, one row each; the rest as small tiles. Returns how many are in trouble. */
function drawDevices() {
	const root = document.getElementById('devices')
	const rows = []
	const tiles = el('div', 'device-tiles')
	for (const d of model.devices) {
		const c = deviceClass(d)
		const t = DEVICE_TONE[c.cls] ?? 'warn'
		if (RANK[t] >= RANK.warn) {
			const row = tone(el('div', `device ${c.cls}`), t)
			row.dataset.device = d.id
			const left = el('div')
			left.append(el('div', null, d.id), el('div', 'role', d.role))
			let what = c.what
			if (d.minutesRemaining !== null && d.power && d.power !== 'online') what += ` · ${d.minutesRemaining} min`
			if (d.cause) what += ` · ${d.cause}`
			row.append(left, el('div', 'what', what))
			rows.push(row)
		} else {
			const tile = el('div', `tile ${c.cls}`, d.id)
			tile.dataset.device = d.id
			tile.title = `${d.role}: ${c.what}`
			tiles.append(tile)
		}
	}
	const trouble = rows.length
	if (rows.length === 0) rows.push(el('div', 'all-ok', 'all devices connected, all power on mains'))
	root.replaceChildren(...rows, tiles)
	return trouble
}

function alarmKey(a) {
	return a.id ?? `${a.code}|${a.feed ?? ''}|${a.device ?? ''}`
}

/** A raise, clear or acknowledgement from the push channel, merged into the active list. */
function onAlarm(a) {
	const key = alarmKey(a)
	const state = a.state ?? (a.severity === 'cleared' ? 'cleared' : 'raised')
	if (state === 'cleared') active.delete(key)
	else if (state === 'acknowledged') {
		const known = active.get(key)
		if (known) known.ack = a.ack ?? { by: a.by ?? '', at: a.t }
	} else if (!active.has(key)) active.set(key, { ...a, raisedAt: a.raisedAt ?? a.t })
	else active.set(key, { ...active.get(key), ...a, raisedAt: active.get(key).raisedAt })
	while (active.size > MAX_ALARMS) active.delete(active.keys().next().value)
}

function setActive(list) {
	active = new Map()
	for (const a of list) active.set(alarmKey(a), { ...a, raisedAt: a.raisedAt ?? a.t })
	activeKnown = true
}

/** The active alarms, newest first, each with its age. Returns how many. */
function drawAlarms() {
	const root = document.getElementById('alarms')
	const list = [...active.values()].sort((a, b) => String(b.raisedAt).localeCompare(String(a.raisedAt)))
	if (list.length === 0) {
		root.replaceChildren(el('li', 'empty', activeKnown ? 'no active alarm' : 'no alarm since this page opened'))
		return 0
	}
	const critical = new Map(model.feeds.map((f) => [`${f.event}/${f.feed}`, f.critical]))
	root.replaceChildren(
		...list.map((a) => {
			const li = el('li', 'alarm')
			if (a.id) li.dataset.alarm = a.id
			li.dataset.code = a.code
			if (a.feed) li.dataset.feed = a.feed
			if (a.device) li.dataset.device = a.device
			const sev = el('span', `sev sev-${a.severity}`, a.severity)
			li.append(
				tone(sev, quieter(severityTone(a.severity), a.feed ? critical.get(a.feed) !== false : true)),
				when(a.raisedAt),
				el('span', 'code', a.code),
				el('span', 'msg', a.message),
			)
			if (a.ack) li.append(el('span', 'ack acked', `ACK ${a.ack.by}`))
			return li
		}),
	)
	return list.length
}

function when(raisedAt) {
	const e = el('span', 'when', `${hhmmss(raisedAt)} · ${age(raisedAt)}`)
	e.dataset.raisedAt = raisedAt
	return e
}

// the last FACS tour of each event: its verdict, and each failing path's reason (not a tone of the header: a tour is
// a check before air, not the state on air)
function drawFacs() {
	const root = document.getElementById('facs')
	const reports = model.facs || []
	if (reports.length === 0) return root.replaceChildren(el('li', 'empty', 'no tour since the daemon started'))
	root.replaceChildren(
		...reports.map((r) => {
			const li = el('li')
			const paths = r.feeds.reduce((n, f) => n + f.paths.length, 0)
			li.dataset.event = r.event
			const verdict = el('span', `sev tone-${r.pass ? 'ok' : 'bad'}`, r.pass ? 'pass' : 'fail')
			const failed = r.failed.length > 0 ? `: ${r.failed.join('; ')}` : ''
			li.append(
				verdict,
				el('span', 'when', hhmmss(r.endedAt)),
				el('span', 'msg', `${r.event}, ${paths} path${paths === 1 ? '' : 's'}, by ${r.operator}${failed}`),
			)
			return li
		}),
	)
}

function setLink(state, text) {
	const l = document.getElementById('link')
	l.className = `link link-${state}`
	l.textContent = text
}

/** The active list as the server holds it (/status `alarms`, when the server gives one). */
function loadActive() {
	fetch('/status', { cache: 'no-store' })
		.then((r) => (r.ok ? r.json() : null))
		.then((s) => {
			if (s && Array.isArray(s.alarms)) {
				setActive(s.alarms)
				schedule()
			}
		})
		.catch(() => undefined)
}

function connect() {
	const es = new EventSource('/events')
	es.addEventListener('open', () => setLink('live', 'LIVE'))
	es.addEventListener('error', () => setLink('lost', 'CONNECTION LOST'))
	es.addEventListener('snapshot', (e) => {
		model = JSON.parse(e.data)
		if (Array.isArray(model.alarms)) setActive(model.alarms)
		else loadActive()
		setLink('live', 'LIVE')
		schedule()
	})
	es.addEventListener('feed', (e) => {
		const d = JSON.parse(e.data)
		const f = model && model.feeds.find((x) => `${x.event}/${x.feed}` === d.key)
		if (!f) return
		f.active = d.active
		f.mode = d.mode
		f.locked = d.locked
		f.alarms = d.alarms
		f.compliance = { ...f.compliance, ...d.compliance }
		for (const p of f.paths) {
			const q = d.paths[p.id]
			if (q) {
				p.signal = q.signal
				p.state = q.state
			}
		}
		schedule()
	})
	es.addEventListener('device', (e) => {
		const d = JSON.parse(e.data)
		const dev = model && model.devices.find((x) => x.id === d.id)
		if (!dev) return
		Object.assign(dev, d)
		schedule()
	})
	es.addEventListener('switch', (e) => {
		if (!model) return
		model.switches.push(JSON.parse(e.data))
		if (model.switches.length > 200) model.switches.splice(0, 100)
		schedule()
	})
	es.addEventListener('node', (e) => {
		if (!model) return
		model.node = JSON.parse(e.data)
		schedule()
	})
	es.addEventListener('ready', () => {
		if (!model) return
		model.ready = true
		schedule()
	})
	es.addEventListener('facs', (e) => {
		if (!model) return
		const r = JSON.parse(e.data)
		model.facs = [...(model.facs || []).filter((x) => x.event !== r.event), r]
		schedule()
	})
	es.addEventListener('alarm', (e) => {
		onAlarm(JSON.parse(e.data))
		schedule()
	})
}

function tick() {
	document.getElementById('clock').textContent = `${new Date().toISOString().slice(11, 19)} UTC`
	// the alarms' ages, in place (a redraw would replace every element under the operator's pointer each second)
	for (const e of document.querySelectorAll('#alarms .when'))
		e.textContent = `${hhmmss(e.dataset.raisedAt)} · ${age(e.dataset.raisedAt)}`
}

window.addEventListener('DOMContentLoaded', () => {
	tick()
	window.setInterval(tick, 1000)
	connect()
})
