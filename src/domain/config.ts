// The configuration of docs/contract.md §2: the one source of truth. Strict objects (unknown keys are errors), every field
// described (the JSON Schema in config/ and the README reference are generated from here), every cross-reference
// checked, ids unique in their scope.
import { z } from 'zod'
import { Driver, ROUTER_DRIVERS, UPS_DRIVERS } from './drivers.ts'
import { checkFacs, Facs } from './facs.ts'
import { checkHa, Ha } from './ha.ts'
import { Midi } from './midi.ts'
import { Id, Listen, Millis, Port1, Secret } from './primitives.ts'

export { Midi, MidiControl, MidiTally } from './midi.ts'

export const TIERS = ['red', 'orange', 'yellow', 'grey'] as const
export const Tier = z.enum(TIERS).describe('Live Operational Level')
export type Tier = z.infer<typeof Tier>

export const DEFAULT_METHODS = ['fiber', 'satellite', 'internet', 'srt']

export const Policy = z
	.strictObject({
		minPaths: z.number().int().min(1).max(16).default(3).describe('paths per critical feed'),
		approvedMethods: z
			.array(z.string().min(1).max(64))
			.min(1)
			.default(DEFAULT_METHODS)
			.refine((m) => new Set(m).size === m.length, 'approved methods must be unique')
			.describe('approved transmission methods, in preference order (the hierarchy)'),
		discretePower: z
			.boolean()
			.default(false)
			.describe(
				'true: a power source whose loss takes two paths of a feed down (shared-power, shared-upstream) is a violation; false: a warning',
			),
		tiers: z
			.partialRecord(
				Tier,
				z.strictObject({ minPaths: z.number().int().min(1).max(16).describe('paths per critical feed in this tier') }),
			)
			.default({})
			.describe('per-tier overrides'),
	})
	.describe('the contribution rule')
export type Policy = z.infer<typeof Policy>

export const PowerSource = z
	.strictObject({
		id: Id.describe('power source id (its own namespace)'),
		name: z.string().max(200).optional().describe('label'),
		kind: z.enum(['utility', 'generator', 'ups']).describe('utility | generator | ups'),
		upstream: Id.optional().describe('the power source feeding this one'),
		device: Id.optional().describe('the UPS device that monitors this source (a device with role ups)'),
		surgeProtected: z.boolean().default(false).describe('surge-protected / conditioned'),
	})
	.describe('a power source')
export type PowerSource = z.infer<typeof PowerSource>

export const LineCard = z
	.strictObject({
		id: Id.describe('line card id, unique within its router'),
		inputs: z
			.tuple([Port1, Port1])
			.refine(([lo, hi]) => lo <= hi, 'the first input must not exceed the last')
			.describe('first and last input on this card, inclusive, 1-based'),
	})
	.describe('a router input card')

export const DEVICE_ROLES = ['router', 'gateway', 'srt-receiver', 'encoder', 'receiver', 'ird', 'ups', 'other'] as const

export const Device = z
	.strictObject({
		id: Id.describe('device id (its own namespace)'),
		name: z.string().max(200).optional().describe('label'),
		role: z.enum(DEVICE_ROLES).describe('what the device is'),
		driver: Driver.optional().describe('how sigpath talks to it; absent: inventory only'),
		power: z
			.array(Id)
			.default([])
			.describe('the power sources feeding it (two distinct UPS-backed sources for a path device)'),
		lineCards: z.array(LineCard).optional().describe('router input cards'),
		size: z
			.strictObject({
				inputs: Port1.describe('number of inputs'),
				outputs: Port1.describe('number of outputs'),
			})
			.optional()
			.describe('router size, where known; ports are checked against it'),
	})
	.describe('a device')
export type Device = z.infer<typeof Device>

export const Failover = z
	.strictObject({
		mode: z.enum(['auto', 'manual']).default('auto').describe('auto: sigpath switches; manual: it only reports'),
		lossMs: Millis.default(500).describe('how long a signal must be down or degraded before its path fails'),
		clearMs: Millis.default(10_000).describe('how long a failed path must stay up before it counts as healthy'),
		preference: z
			.enum(['primary', 'equal'])
			.default('primary')
			.describe('primary: return to a higher-ranked path once healthy; equal: stay'),
	})
	.describe('failover settings')
export type Failover = z.infer<typeof Failover>

export const Path = z
	.strictObject({
		id: Id.describe('path id, unique within its feed'),
		method: z.string().min(1).max(64).describe('transmission method, judged against approvedMethods'),
		via: z.array(Id).default([]).describe('devices along the path, venue to BOC'),
		input: z
			.strictObject({ router: Id.describe('router device id'), input: Port1.describe('router input, 1-based') })
			.describe('where the path lands'),
		risks: z
			.array(z.string().min(1).max(128))
			.default([])
			.describe('shared-risk groups: circuit, conduit, carrier, transponder...'),
	})
	.describe('a transmission path')
export type Path = z.infer<typeof Path>

export const Feed = z
	.strictObject({
		id: Id.describe('feed id, unique within its event'),
		name: z.string().max(200).optional().describe('label'),
		critical: z.boolean().default(false).describe('show-critical: the contribution rule applies'),
		output: z
			.strictObject({ router: Id.describe('router device id'), output: Port1.describe('router output, 1-based') })
			.describe('the router output this feed is switched on'),
		failover: Failover.default({ mode: 'auto', lossMs: 500, clearMs: 10_000, preference: 'primary' }),
		paths: z.array(Path).default([]).describe('the paths, in config order'),
		facs: Facs.optional(),
	})
	.describe('a feed')
export type Feed = z.infer<typeof Feed>

export const Event = z
	.strictObject({
		id: Id.describe('event id'),
		name: z.string().max(200).optional().describe('label'),
		tier: Tier,
		bigBet: z.boolean().default(false).describe('a whole BOC dedicated to this event'),
		feeds: z.array(Feed).default([]).describe('the feeds'),
		facs: Facs.optional(),
	})
	.describe('a live event')
export type Event = z.infer<typeof Event>

export const Mqtt = z
	.strictObject({
		url: z
			.string()
			.regex(/^(mqtts?|wss?|tcp|ssl):\/\//, 'must be an mqtt://, mqtts://, ws:// or wss:// URL')
			.describe('broker URL'),
		username: z.string().min(1).optional().describe('user name'),
		password: Secret.optional().describe('password'),
		clientId: z.string().min(1).max(128).optional().describe('client id (default sigpath-<site>)'),
		tls: z
			.strictObject({
				ca: z.string().min(1).optional().describe('CA certificate file'),
				cert: z.string().min(1).optional().describe('client certificate file'),
				key: z.string().min(1).optional().describe('client key file'),
			})
			.optional()
			.describe('TLS files'),
	})
	.describe('MQTT broker; absent: an embedded broker on 127.0.0.1:1883')

/** A caller of the status endpoint (docs/contract.md §6a): its name is who it is, in the log and the journal. */
export const HttpToken = z
	.strictObject({
		name: Id.describe('who the caller is: recorded as the panel of its commands in the journal'),
		token: Secret.describe('its bearer token (prefer { env: NAME })'),
		role: z.enum(['operator', 'viewer']).describe('operator: may command and read /audit; viewer: may read /audit'),
	})
	.describe('an HTTP caller')
export type HttpToken = z.infer<typeof HttpToken>

export const Http = z
	.strictObject({
		listen: Listen.default('127.0.0.1:8080').describe('status endpoint address'),
		token: Secret.optional().describe('v1: one bearer token, as a tokens entry named http with role operator'),
		tokens: z.array(HttpToken).optional().describe('named bearer tokens; with any token, /audit needs one too'),
	})
	.superRefine((h, ctx) => {
		const names = new Map<string, number>(h.token !== undefined ? [['http', -1]] : [])
		h.tokens?.forEach((t, i) => {
			const at = names.get(t.name)
			const first = at === -1 ? 'http.token' : `http.tokens[${at}]`
			if (at !== undefined)
				ctx.addIssue({ code: 'custom', path: ['tokens', i, 'name'], message: `"${t.name}" is taken by ${first}` })
			else names.set(t.name, i)
		})
	})
	.describe('status endpoint; without a token it is read-only')

const ConfigShape = z.strictObject({
	site: z
		.strictObject({
			id: Id.describe('site id (the MQTT base is sigpath/<site>)'),
			name: z.string().max(200).optional().describe('label'),
		})
		.describe('this BOC'),
	policy: Policy.default({ minPaths: 3, approvedMethods: DEFAULT_METHODS, discretePower: false, tiers: {} }),
	powerSources: z.array(PowerSource).default([]).describe('power sources'),
	devices: z.array(Device).default([]).describe('devices'),
	events: z.array(Event).default([]).describe('live events'),
	mqtt: Mqtt.optional(),
	http: Http.optional(),
	journal: z
		.strictObject({
			dir: z.string().min(1).default('/var/lib/sigpath').describe('journal directory (created when missing)'),
			rotateBytes: z
				.number()
				.int()
				.min(65_536)
				.default(64 * 1024 * 1024)
				.describe('rotate a journal file past this size'),
			retainDays: z
				.number()
				.int()
				.min(1)
				.default(90)
				.describe(
					'journal files whose records are all older than this many days are removed, after a retention record that lets `journal verify` accept the journal starting there',
				),
			key: z
				.strictObject({
					env: z
						.string()
						.regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
						.describe('environment variable holding the key (its text, UTF-8)'),
				})
				.optional()
				.describe(
					'key of a keyed chain: each record hashed with HMAC-SHA256 (docs/contract.md §8); only from the environment, never in the file',
				),
		})
		.optional()
		.describe('audit journal'),
	traps: z
		.strictObject({
			listen: Listen.describe('UDP address for SNMP traps and informs'),
			community: Secret.optional().describe('accepted v2c community (default public)'),
		})
		.optional()
		.describe('SNMP trap and inform receiver'),
	broker: z
		.strictObject({
			listen: Listen.default('127.0.0.1:1883').describe(
				"address of the embedded broker; in `sigpath lab`, of the lab's mosquitto",
			),
		})
		.optional()
		.describe(
			'the embedded MQTT broker, a fallback used when `mqtt` is absent (MQTT 3.1.1, loopback by default); `sigpath lab` runs mosquitto here instead',
		),
	midi: Midi.optional(),
	drivers: z
		.strictObject({
			staleMs: z
				.number()
				.int()
				.min(500)
				.max(3_600_000)
				.default(5000)
				.describe(
					"no answer from a device for this long (ms) is a device-stale alarm, cleared on its next answer; a driver's own staleMs wins, and a poller gets at least 3 polls",
				),
		})
		.optional()
		.describe('defaults for every device driver'),
	ha: Ha.optional(),
	startup: z
		.strictObject({
			readyTimeoutMs: z
				.number()
				.int()
				.min(0)
				.default(20_000)
				.describe(
					'systemd READY=1 comes when every router has synced, or after this long; each device not synced by then stands as a device-stale alarm',
				),
		})
		.optional()
		.describe('start-up'),
	log: z
		.strictObject({
			level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info').describe('log level'),
		})
		.optional()
		.describe('logging'),
})

export const Config = ConfigShape.superRefine(checkReferences).superRefine(checkHa).describe('sigpath configuration')
export type Config = z.infer<typeof ConfigShape>
export type ConfigInput = z.input<typeof Config>

type Ctx = z.RefinementCtx
type Key = string | number

function uniq<T extends { id: string }>(ctx: Ctx, items: readonly T[], base: Key[], what: string): Map<string, T> {
	const seen = new Map<string, T>()
	const first = new Map<string, number>()
	items.forEach((item, i) => {
		const at = first.get(item.id)
		if (at !== undefined) {
			ctx.addIssue({
				code: 'custom',
				path: [...base, i, 'id'],
				message: `duplicate ${what} id "${item.id}" (first at ${fmtPath([...base, at])})`,
			})
		} else {
			first.set(item.id, i)
			seen.set(item.id, item)
		}
	})
	return seen
}

function article(word: string): string {
	return `${/^[aeiou]/.test(word) ? 'an' : 'a'} ${word}`
}

export function fmtPath(path: readonly PropertyKey[]): string {
	let s = ''
	for (const k of path) s += typeof k === 'number' ? `[${k}]` : s === '' ? String(k) : `.${String(k)}`
	return s
}

function checkMidi(cfg: Config, add: (path: Key[], message: string) => void): void {
	if (!cfg.midi) return
	const paths = new Map<string, Set<string>>()
	for (const e of cfg.events) for (const f of e.feeds) paths.set(`${e.id}/${f.id}`, new Set(f.paths.map((p) => p.id)))
	const check = (kind: 'controls' | 'tally', i: number, feed: string, path: string | undefined) => {
		const known = paths.get(feed)
		if (!known) add(['midi', kind, i, 'feed'], `unknown feed "${feed}"`)
		else if (path !== undefined && !known.has(path))
			add(['midi', kind, i, 'path'], `feed ${feed} has no path "${path}"`)
	}
	const buttons = new Map<string, number>()
	cfg.midi.controls.forEach((c, i) => {
		check('controls', i, c.feed, c.path)
		const key = `${c.channel}:${c.note !== undefined ? `n${c.note}` : `c${c.cc}`}`
		const first = buttons.get(key)
		if (first !== undefined) add(['midi', 'controls', i], `the same button as midi.controls[${first}]`)
		else buttons.set(key, i)
	})
	cfg.midi.tally.forEach((t, i) => check('tally', i, t.feed, t.path))
}

function checkReferences(cfg: Config, ctx: Ctx): void {
	const add = (path: Key[], message: string) => ctx.addIssue({ code: 'custom', path, message })
	const sources = uniq(ctx, cfg.powerSources, ['powerSources'], 'power source')
	const devices = uniq(ctx, cfg.devices, ['devices'], 'device')
	uniq(ctx, cfg.events, ['events'], 'event')

	cfg.powerSources.forEach((ps, i) => {
		if (ps.upstream !== undefined) {
			if (!sources.has(ps.upstream)) add(['powerSources', i, 'upstream'], `unknown power source "${ps.upstream}"`)
			else if (ps.upstream === ps.id) add(['powerSources', i, 'upstream'], `power source "${ps.id}" cannot feed itself`)
		}
		if (ps.device !== undefined) {
			const d = devices.get(ps.device)
			if (!d) add(['powerSources', i, 'device'], `unknown device "${ps.device}"`)
			else if (d.role !== 'ups')
				add(['powerSources', i, 'device'], `device "${ps.device}" is ${article(d.role)}, not a ups`)
		}
		if (ps.kind !== 'ups' && ps.device !== undefined)
			add(['powerSources', i, 'device'], `only a ups source is monitored by a device`)
	})
	// upstream chains must end: a cycle would make "is it UPS-backed" undecidable
	for (const [i, ps] of cfg.powerSources.entries()) {
		const seen = new Set<string>([ps.id])
		let cur = ps.upstream !== undefined ? sources.get(ps.upstream) : undefined
		while (cur) {
			if (seen.has(cur.id)) {
				add(['powerSources', i, 'upstream'], `power sources form a loop through "${cur.id}"`)
				break
			}
			seen.add(cur.id)
			cur = cur.upstream !== undefined ? sources.get(cur.upstream) : undefined
		}
	}

	cfg.devices.forEach((d, i) => {
		// a source listed twice is one source (docs/contract.md §3 counts distinct sources): the rule judges it as
		// single-power, which tells the operator more than an invalid config would
		d.power.forEach((p, j) => {
			if (!sources.has(p)) add(['devices', i, 'power', j], `unknown power source "${p}"`)
		})
		const isRouter = d.role === 'router'
		if (d.driver && ROUTER_DRIVERS.has(d.driver.type) && !isRouter)
			add(
				['devices', i, 'driver', 'type'],
				`driver ${d.driver.type} is for a router, but the device's role is ${d.role}`,
			)
		if (d.driver && UPS_DRIVERS.has(d.driver.type) && d.role !== 'ups')
			add(['devices', i, 'driver', 'type'], `driver ${d.driver.type} is for a ups, but the device's role is ${d.role}`)
		if (isRouter && d.driver && !ROUTER_DRIVERS.has(d.driver.type))
			add(['devices', i, 'driver', 'type'], `a router needs a router driver (videohub or swp08), not ${d.driver.type}`)
		if (!isRouter && d.lineCards) add(['devices', i, 'lineCards'], `only a router has line cards`)
		if (!isRouter && d.size) add(['devices', i, 'size'], `only a router has a size`)
		if (d.lineCards) {
			uniq(ctx, d.lineCards, ['devices', i, 'lineCards'], 'line card')
			const cards = d.lineCards.map((c, j) => ({ c, j })).sort((a, b) => a.c.inputs[0] - b.c.inputs[0])
			for (let k = 1; k < cards.length; k++) {
				const prev = cards[k - 1]!
				const cur = cards[k]!
				if (cur.c.inputs[0] <= prev.c.inputs[1])
					add(
						['devices', i, 'lineCards', cur.j, 'inputs'],
						`line card "${cur.c.id}" overlaps "${prev.c.id}" (inputs ${cur.c.inputs[0]}-${prev.c.inputs[1]})`,
					)
			}
			if (d.size)
				d.lineCards.forEach((c, j) => {
					if (c.inputs[1] > d.size!.inputs)
						add(
							['devices', i, 'lineCards', j, 'inputs'],
							`input ${c.inputs[1]} is beyond the router's ${d.size!.inputs} inputs`,
						)
				})
		}
	})

	const routerRef = (path: Key[], id: string): (Device & { role: 'router' }) | undefined => {
		const d = devices.get(id)
		if (!d) add(path, `unknown device "${id}"`)
		else if (d.role !== 'router') add(path, `device "${id}" is ${article(d.role)}, not a router`)
		else return d as Device & { role: 'router' }
		return undefined
	}

	checkMidi(cfg, add)
	checkFacs(cfg, add)

	const outputsTaken = new Map<string, string>()
	cfg.events.forEach((ev, e) => {
		uniq(ctx, ev.feeds, ['events', e, 'feeds'], 'feed')
		ev.feeds.forEach((feed, f) => {
			const fp: Key[] = ['events', e, 'feeds', f]
			const rtr = routerRef([...fp, 'output', 'router'], feed.output.router)
			if (rtr?.size && feed.output.output > rtr.size.outputs)
				add(
					[...fp, 'output', 'output'],
					`output ${feed.output.output} is beyond router "${rtr.id}"'s ${rtr.size.outputs} outputs`,
				)
			const xp = `${feed.output.router}#${feed.output.output}`
			const owner = outputsTaken.get(xp)
			if (owner !== undefined)
				add(
					[...fp, 'output'],
					`router "${feed.output.router}" output ${feed.output.output} is already the output of feed ${owner}`,
				)
			else outputsTaken.set(xp, `${ev.id}/${feed.id}`)
			uniq(ctx, feed.paths, [...fp, 'paths'], 'path')
			feed.paths.forEach((path, p) => {
				const pp: Key[] = [...fp, 'paths', p]
				path.via.forEach((dev, v) => {
					if (!devices.has(dev)) add([...pp, 'via', v], `unknown device "${dev}"`)
				})
				if (new Set(path.via).size !== path.via.length) add([...pp, 'via'], `a device is listed twice in one path`)
				const inRtr = routerRef([...pp, 'input', 'router'], path.input.router)
				if (inRtr && rtr && path.input.router !== feed.output.router)
					add(
						[...pp, 'input', 'router'],
						`the path lands on router "${path.input.router}" but the feed's output is on "${feed.output.router}"`,
					)
				if (inRtr?.size && path.input.input > inRtr.size.inputs)
					add(
						[...pp, 'input', 'input'],
						`input ${path.input.input} is beyond router "${inRtr.id}"'s ${inRtr.size.inputs} inputs`,
					)
			})
		})
	})
}
