/* global document, window, EventSource, requestAnimationFrame */
// The TCO dashboard: one EventSource on /events. The first message is a snapshot of everything; then feed, device,
// alarm, switch and facs events are merged into it and the page is redrawn on the next animation frame. No framework, no
// build step, nothing fetched from outside this server. Text goes in with textContent only (names come from a config
// and a device; they are never markup).
'use strict'

const MAX_SWITCHES_PER_FEED = 4
const MAX_ALARMS = 12

/** @type {any} */
let model = null
/** @type {any[]} */
let alarms = []
let drawPending = false

function el(tag, cls, text) {
	const e = document.createElement(tag)
	if (cls) e.className = cls
	if (text !== undefined && text !== null) e.textContent = String(text)
	return e
}

function hhmmss(iso) {
	const d = new Date(iso)
	return Number.isNaN(d.getTime()) ? '' : d.toISOString().slice(11, 19)
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
	document.getElementById('site').textContent = model.site
	drawSummary()
	const root = document.getElementById('events')
	const frag = document.createDocumentFragment()
	for (const ev of model.events) frag.append(drawEvent(ev))
	if (model.events.length === 0) frag.append(el('p', 'empty', 'No events in the configuration.'))
	root.replaceChildren(frag)
	drawDevices()
	drawAlarms()
	drawFacs()
}

function drawSummary() {
	const s = document.getElementById('summary')
	const parts = []
	const noPath = model.feeds.filter((f) => f.alarms.includes('no-path') || f.active === null).length
	const nonCompliant = model.feeds.filter((f) => f.critical && !f.compliance.compliant).length
	const badDevices = model.devices.filter((d) => deviceClass(d).bad).length
	if (noPath) parts.push(el('span', 'bad', `${noPath} feed${noPath > 1 ? 's' : ''} without a path`))
	if (nonCompliant) parts.push(el('span', 'bad', `${nonCompliant} not compliant`))
	if (badDevices) parts.push(el('span', 'bad', `${badDevices} device${badDevices > 1 ? 's' : ''} in trouble`))
	if (parts.length === 0) parts.push(el('span', 'good', `${model.feeds.length} feeds, all compliant`))
	if (!model.ready) parts.push(el('span', 'bad', 'first sync incomplete'))
	s.replaceChildren(...parts)
}

function drawEvent(ev) {
	const box = el('section', `event tier-${ev.tier}`)
	box.dataset.event = ev.id
	const head = el('div', 'event-head')
	head.append(el('span', 'tier', ev.tier.toUpperCase()))
	head.append(el('span', 'event-name', ev.name || ev.id))
	if (ev.bigBet) head.append(el('span', 'bigbet', '★ BIG BET'))
	box.append(head)
	for (const f of model.feeds) if (f.event === ev.id) box.append(drawFeed(f))
	return box
}

function drawFeed(f) {
	const key = `${f.event}/${f.feed}`
	const box = el('div', 'feed')
	box.dataset.feed = key
	box.dataset.active = f.active ?? ''
	const head = el('div', 'feed-head')
	head.append(el('span', 'feed-name', f.name || f.feed))
	head.append(el('span', `chip ${f.mode}`, f.mode.toUpperCase()))
	if (f.locked) head.append(el('span', 'chip locked', 'LOCKED'))
	if (f.critical) {
		const c = f.compliance
		head.append(
			el(
				'span',
				`chip ${c.compliant ? 'compliant' : 'noncompliant'}`,
				`${c.compliant ? 'COMPLIANT' : 'NOT COMPLIANT'} ${c.healthyDiscretePaths}/${c.required}`,
			),
		)
	} else head.append(el('span', 'chip', 'NOT CRITICAL'))
	for (const a of f.alarms) head.append(el('span', 'chip alarm', a.toUpperCase()))
	box.append(head)

	const active = f.paths.find((p) => p.id === f.active)
	const onair = el('div', active ? 'onair' : 'onair none')
	onair.append(el('span', 'label', 'ON AIR'))
	const name = el('span', 'path', active ? active.id : f.active === null ? 'NO PATH' : f.active)
	name.dataset.testid = 'onair'
	onair.append(name)
	if (active) onair.append(el('span', 'method', active.method))
	box.append(onair)

	const table = el('table', 'paths')
	const hr = el('tr')
	for (const h of ['#', 'path', 'method', 'signal', 'state']) hr.append(el('th', null, h))
	table.append(hr)
	f.paths.forEach((p, i) => {
		const tr = el('tr', p.id === f.active ? 'active' : '')
		tr.dataset.path = p.id
		tr.append(el('td', 'rank', i + 1))
		const id = el('td', null, p.id)
		if (p.id === f.active) id.append(el('span', 'tally', 'ON AIR'))
		tr.append(id)
		tr.append(el('td', null, p.method))
		const sig = el('td')
		sig.append(el('span', `sig ${p.signal ?? 'none'}`, p.signal ?? 'not reported'))
		const state = el('td')
		state.append(el('span', `state ${p.state}`, p.state))
		tr.append(sig, state)
		table.append(tr)
	})
	box.append(table)

	if (f.critical && f.compliance.violations.length > 0) {
		const ul = el('ul', 'violations')
		for (const v of f.compliance.violations) {
			const li = el('li')
			li.append(el('code', null, v.code), document.createTextNode(v.detail))
			ul.append(li)
		}
		box.append(ul)
	}

	const recent = model.switches
		.filter((s) => s.feed === key)
		.slice(-MAX_SWITCHES_PER_FEED)
		.reverse()
	const ul = el('ul', 'switches')
	if (recent.length === 0) ul.append(el('li', 'empty', 'no switch yet'))
	for (const s of recent) {
		const li = el('li')
		li.append(
			document.createTextNode(`${hhmmss(s.at)}  `),
			el('span', `cause cause-${s.cause}`, s.cause),
			document.createTextNode(`${s.from ?? 'off-path'} → `),
			el('span', 'to', s.to),
			document.createTextNode(`  ${s.latencyMs.toFixed(1)} ms`),
		)
		ul.append(li)
	}
	box.append(ul)
	return box
}

function deviceClass(d) {
	if (d.power && d.power !== 'online') return { cls: d.power, what: d.power.replace('-', ' '), bad: true }
	if (d.connected === null) return { cls: 'inventory', what: 'no driver', bad: false }
	if (!d.connected) return { cls: 'disconnected', what: 'disconnected', bad: true }
	if (d.health === 'down') return { cls: 'down', what: 'down', bad: true }
	if (d.health === 'degraded') return { cls: 'degraded', what: 'degraded', bad: true }
	if (d.health === 'ok') return { cls: 'ok', what: d.power ? 'on mains' : 'ok', bad: false }
	return { cls: 'unknown', what: d.health, bad: false }
}

function drawDevices() {
	const root = document.getElementById('devices')
	// trouble first, one full row each: a UPS on battery or a router down must not hide among forty healthy boxes;
	// the rest as small tiles
	const rows = []
	const tiles = el('div', 'device-tiles')
	for (const d of model.devices) {
		const c = deviceClass(d)
		if (c.bad) {
			const row = el('div', `device ${c.cls}`)
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
	if (rows.length === 0) rows.push(el('div', 'all-ok', 'all devices connected, all power on mains'))
	root.replaceChildren(...rows, tiles)
}

function drawAlarms() {
	const root = document.getElementById('alarms')
	if (alarms.length === 0) return root.replaceChildren(el('li', 'empty', 'none since this page opened'))
	root.replaceChildren(
		...alarms.map((a) => {
			const li = el('li')
			li.append(
				el('span', 'when', hhmmss(a.t)),
				el('span', `sev sev-${a.severity}`, a.severity),
				document.createTextNode(
					a.message.includes(a.feed ?? a.device ?? '\u0000') ? a.message : `${a.feed ?? a.device ?? ''} ${a.message}`,
				),
			)
			return li
		}),
	)
}

// the last FACS tour of each event: its verdict, and each failing path's reason
function drawFacs() {
	const root = document.getElementById('facs')
	const reports = model.facs || []
	if (reports.length === 0) return root.replaceChildren(el('li', 'empty', 'no tour since the daemon started'))
	root.replaceChildren(
		...reports.map((r) => {
			const li = el('li')
			const paths = r.feeds.reduce((n, f) => n + f.paths.length, 0)
			li.dataset.event = r.event
			li.append(
				el('span', 'when', hhmmss(r.endedAt)),
				el('span', `sev sev-${r.pass ? 'cleared' : 'critical'}`, r.pass ? 'pass' : 'fail'),
				document.createTextNode(`${r.event}: ${paths} path${paths === 1 ? '' : 's'} toured by ${r.operator}`),
			)
			for (const f of r.failed) li.append(el('div', 'why', f))
			return li
		}),
	)
}

function setLink(state, text) {
	const l = document.getElementById('link')
	l.className = `link link-${state}`
	l.textContent = text
}

function connect() {
	const es = new EventSource('/events')
	es.addEventListener('open', () => setLink('live', 'LIVE'))
	es.addEventListener('error', () => setLink('lost', 'CONNECTION LOST'))
	es.addEventListener('snapshot', (e) => {
		model = JSON.parse(e.data)
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
		alarms.unshift(JSON.parse(e.data))
		alarms = alarms.slice(0, MAX_ALARMS)
		schedule()
	})
}

function tick() {
	document.getElementById('clock').textContent = `${new Date().toISOString().slice(11, 19)} UTC`
}

window.addEventListener('DOMContentLoaded', () => {
	tick()
	window.setInterval(tick, 1000)
	connect()
})
