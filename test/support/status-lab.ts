// A small BOC for the status endpoint's tests and benchmark: a Videohub simulator as the router, FakeSource signal
// devices, the embedded MQTT broker on a free port, a journal in a temporary directory, the real daemon, and a
// StatusServer on a free loopback port.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { VideohubSim } from '../../drivers/videohub/sim.ts'
import type { HttpToken } from '../../src/domain/config.ts'
import type { Secret } from '../../src/domain/primitives.ts'
import { parseConfigText } from '../../src/domain/load.ts'
import { silentLogger } from '../../src/log.ts'
import { Daemon } from '../../src/runtime/daemon.ts'
import { StatusServer, type BoundAddress } from '../../src/status/server.ts'
import type { Health } from '../../drivers/types.ts'
import { FakeSource } from './fake-source.ts'

export interface StatusLab {
	daemon: Daemon
	server: StatusServer
	sim: VideohubSim
	sources: Record<string, FakeSource>
	/** the UPSes: ups-<path>-a and -b for each of fiber, sat, srt */
	ups: Record<string, FakeUps>
	url: string
	address: BoundAddress
	dir: string
	/** feed keys, in config order */
	feeds: string[]
	stop: () => Promise<void>
}

export interface StatusLabOptions {
	/** events (each with `feedsPerEvent` feeds of three paths: fiber, sat, srt) */
	events?: number
	feedsPerEvent?: number
	token?: Secret
	/** named callers with roles (config http.tokens) */
	tokens?: HttpToken[]
	env?: NodeJS.ProcessEnv
	heartbeatMs?: number
	maxSseClients?: number
	sseBacklogBytes?: number
	lossMs?: number
	clearMs?: number
	log?: Logger
	/** start the status server before the daemon (to see /readyz say 503) */
	serverFirst?: boolean
	/** with serverFirst: runs once the server is up, before the daemon starts */
	beforeDaemon?: (url: string) => Promise<void>
	/** journal rotation size (small values exercise /audit across files) */
	rotateBytes?: number
	/** index of an event whose receivers hang on one UPS (a compliance violation) */
	singlePowerEvent?: number
	/** a keyed journal (journal.key), the key handed to the daemon in SIGPATH_TEST_JOURNAL_KEY */
	journalKey?: string
}

/** A UPS as the runtime sees it: no video signal, a power state in its detail (docs/contract.md §1 probe detail). */
export class FakeUps extends FakeSource {
	private power: 'online' | 'on-battery' | 'low-battery' = 'online'
	private minutes = 42
	override status(): { connected: boolean; health: Health; detail: Record<string, unknown> } {
		return {
			connected: true,
			health: this.power === 'online' ? ('ok' as const) : ('degraded' as const),
			detail: { power: this.power, minutesRemaining: this.minutes, chargePercent: 100 },
		}
	}
	setPower(power: 'online' | 'on-battery' | 'low-battery', minutes = this.minutes): void {
		this.power = power
		this.minutes = minutes
		this.emit('status')
	}
}

const TIERS = ['red', 'orange', 'yellow', 'grey', 'red']

/**
 * Feed f of event e uses router output (e*feedsPerEvent+f)+1 and three inputs: fiber 3n+1, sat 3n+2, srt 3n+3,
 * each path with its own receiver device (rx-<n>-fiber...). At start every output shows its fiber input.
 */
export async function startStatusLab(o: StatusLabOptions = {}): Promise<StatusLab> {
	const events = o.events ?? 1
	const perEvent = o.feedsPerEvent ?? 1
	const n = events * perEvent
	const size = Math.max(16, 3 * n + 3)
	const sim = new VideohubSim({
		inputs: size,
		outputs: size,
		routing: Array.from({ length: size }, (_, i) => (i < n ? 3 * i : 0)),
	})
	await sim.start({ host: '127.0.0.1', port: 0 })
	const dir = mkdtempSync(join(tmpdir(), 'sigpath-status-'))
	const lines: string[] = []
	const devices: string[] = []
	const feeds: string[] = []
	for (let e = 0; e < events; e++) {
		lines.push(`  - id: ev${e + 1}`)
		lines.push(
			`    name: "${['World Baseball Classic Final', 'Tyson vs Paul', 'NFL Christmas', 'Tudum Live', 'Everybody Live'][e % 5]}"`,
		)
		lines.push(`    tier: ${TIERS[e % TIERS.length]}`)
		lines.push(`    bigBet: ${e === 0}`)
		lines.push('    feeds:')
		for (let f = 0; f < perEvent; f++) {
			const i = e * perEvent + f
			feeds.push(`ev${e + 1}/feed${f + 1}`)
			lines.push(`      - id: feed${f + 1}`)
			lines.push(`        name: "${f === 0 ? 'Program' : `Feed ${f + 1}`}"`)
			lines.push('        critical: true')
			lines.push(`        output: { router: rtr, output: ${i + 1} }`)
			lines.push(
				`        failover: { lossMs: ${o.lossMs ?? 100}, clearMs: ${o.clearMs ?? 60_000}, preference: primary }`,
			)
			lines.push('        paths:')
			for (const [k, [id, method]] of [
				['fiber', 'fiber'],
				['sat', 'satellite'],
				['srt', 'srt'],
			].entries()) {
				devices.push(`rx-${i}-${id}`)
				lines.push(
					`          - { id: ${id}, method: ${method}, via: [rx-${i}-${id}], input: { router: rtr, input: ${3 * i + k + 1} } }`,
				)
			}
		}
	}
	// every path discrete (own receiver on its own UPS pair, own line card) so that feeds are compliant, except the
	// receivers of `singlePowerEvent`, which hang on one UPS (a single-power violation to show)
	const single = o.singlePowerEvent
	const PATHS = ['fiber', 'sat', 'srt']
	const upsIds = PATHS.flatMap((p) => [`ups-${p}-a`, `ups-${p}-b`])
	const power = (d: string) => {
		const [, i, p] = d.split('-')
		return single !== undefined && Math.floor(Number(i) / perEvent) === single
			? `[ups-${p}-a]`
			: `[ups-${p}-a, ups-${p}-b]`
	}
	const cards = Array.from({ length: size }, (_, i) => `{ id: card-${i + 1}, inputs: [${i + 1}, ${i + 1}] }`)
	const text = `
site: { id: lab, name: Status lab }
powerSources:
  - { id: util, kind: utility }
  - { id: gen, kind: generator }
${upsIds.map((u) => `  - { id: ${u}, kind: ups, upstream: ${u.endsWith('a') ? 'util' : 'gen'}, device: ${u}, surgeProtected: true }`).join('\n')}
devices:
  - { id: rtr, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${sim.port} }, size: { inputs: ${size}, outputs: ${size} },
      power: [ups-fiber-a, ups-sat-b], lineCards: [${cards.join(', ')}] }
${upsIds.map((u) => `  - { id: ${u}, role: ups }`).join('\n')}
${devices.map((d) => `  - { id: ${d}, role: receiver, power: ${power(d)} }`).join('\n')}
events:
${lines.join('\n')}
broker: { listen: "127.0.0.1:0" }
journal: { dir: ${dir}${o.rotateBytes ? `, rotateBytes: ${o.rotateBytes}` : ''}${o.journalKey ? ', key: { env: SIGPATH_TEST_JOURNAL_KEY }' : ''} }
`
	const config = parseConfigText(text)
	const sources = devices.map((d) => new FakeSource(d))
	const ups = Object.fromEntries(upsIds.map((u) => [u, new FakeUps(u)]))
	const log = o.log ?? silentLogger
	const daemon = new Daemon({
		config,
		log,
		signalSources: [...sources, ...Object.values(ups)],
		firstSyncTimeoutMs: 3000,
		...(o.journalKey ? { env: { ...process.env, SIGPATH_TEST_JOURNAL_KEY: o.journalKey } } : {}),
	})
	const server = new StatusServer({
		daemon,
		listen: '127.0.0.1:0',
		log,
		...(o.token !== undefined ? { token: o.token } : {}),
		...(o.tokens !== undefined ? { tokens: o.tokens } : {}),
		...(o.env ? { env: o.env } : {}),
		...(o.heartbeatMs ? { heartbeatMs: o.heartbeatMs } : {}),
		...(o.maxSseClients ? { maxSseClients: o.maxSseClients } : {}),
		...(o.sseBacklogBytes ? { sseBacklogBytes: o.sseBacklogBytes } : {}),
	})
	let address: BoundAddress
	if (o.serverFirst) {
		address = await server.start()
		await o.beforeDaemon?.(address.url)
		await daemon.start()
		await until(() => daemon.isReady())
	} else {
		await daemon.start()
		await until(() => daemon.isReady())
		address = await server.start()
	}
	return {
		daemon,
		server,
		sim,
		sources: Object.fromEntries(sources.map((s) => [s.deviceId, s])),
		ups,
		url: address.url,
		address,
		dir,
		feeds,
		stop: async () => {
			await server.stop()
			await daemon.stop()
			await sim.stop()
			rmSync(dir, { recursive: true, force: true })
		},
	}
}

export async function until(cond: () => boolean, timeoutMs = 5000, what = 'a condition'): Promise<void> {
	const deadline = Date.now() + timeoutMs
	while (!cond()) {
		if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
		await new Promise((r) => setTimeout(r, 5))
	}
}
