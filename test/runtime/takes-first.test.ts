// When one fault takes the primaries of many feeds down at once, the backups go on air as one salvo that leaves the
// daemon before anything else of the engine's tick (its alarms, its publication): docs/contract.md §4. How soon is
// test/bench/e2e.ts's to judge (the 100-feed row, p50/p99/max); this test checks the order and the single salvo.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Router } from '../../drivers/router/types.ts'
import { VideohubSim } from '../../drivers/videohub/sim.ts'
import { monotonicMs } from '../../src/clock.ts'
import { silentLogger } from '../../src/log.ts'
import { Daemon } from '../../src/runtime/daemon.ts'
import { FakeSource } from '../support/fake-source.ts'
import { manyFeedsConfig, receiver } from '../support/many-feeds.ts'
import { until } from '../support/status-lab.ts'

const FEEDS = 20
const LOSS_MS = 300
const dir = mkdtempSync(join(tmpdir(), 'sigpath-takes-first-'))
const sim = new VideohubSim({
	inputs: FEEDS * 2,
	outputs: FEEDS,
	routing: Array.from({ length: FEEDS }, (_, i) => i * 2),
})
let daemon: Daemon | undefined

beforeAll(async () => {
	await sim.start({ host: '127.0.0.1', port: 0 })
})
afterAll(async () => {
	await daemon?.stop()
	await sim.stop()
	rmSync(dir, { recursive: true, force: true })
})

const config = (routerPort: number) =>
	manyFeedsConfig({
		site: 'tf',
		feeds: FEEDS,
		router: `driver: { type: videohub, host: 127.0.0.1, port: ${routerPort} }`,
		primary: (i) => receiver('a', `a-${i}`),
		backup: (i) => receiver('b', `b-${i}`),
		failover: `{ lossMs: ${LOSS_MS}, clearMs: 400 }`,
		journalDir: dir,
	})

it('a fault that takes every primary down puts every backup on air in one salvo, sent before the tick publishes', async () => {
	const primaries = Array.from({ length: FEEDS }, (_, i) => new FakeSource(`a-${i}`))
	const backups = Array.from({ length: FEEDS }, (_, i) => new FakeSource(`b-${i}`))
	const d = new Daemon({
		config: config(sim.port),
		log: silentLogger,
		signalSources: [...primaries, ...backups],
		firstSyncTimeoutMs: 5000,
	})
	daemon = d
	await d.start()
	await until(() => d.isReady(), 10_000, 'the first sync')
	for (const s of [...primaries, ...backups]) s.report('up')
	const keys = primaries.map((_, i) => `ev/f${i}` as const)
	await until(() => keys.every((k) => d.feedState(k).paths['a']?.state === 'healthy'), 5000, 'primaries healthy')

	// what leaves the daemon, in order, from the engine's tick at lossMs on
	const order: string[] = []
	let watching = false
	const router = (d as unknown as { routers: Map<string, Router> }).routers.get('rtr')!
	const salvo = router.salvo.bind(router)
	router.salvo = (takes, options) => {
		order.push(`salvo of ${takes.length}`)
		return salvo(takes, options)
	}
	const take = router.take.bind(router)
	router.take = (output, input, options) => {
		order.push('take')
		return take(output, input, options)
	}
	d.events.on('feed', (k) => watching && order.push(`feed ${k}`))
	d.events.on('alarm', (a) => watching && order.push(`alarm ${a.code}`))

	const routingBefore = sim.routingRequests
	const cutAt = monotonicMs()
	for (const p of primaries) p.report('down', cutAt)
	// the reports' own publication is done; what follows belongs to the engine's tick at cutAt + lossMs
	setTimeout(() => (watching = true), LOSS_MS / 2)
	await until(() => keys.every((k) => d.feedState(k).active === 'b'), 5000, 'every backup on air')

	expect(order[0], order.join(', ')).toBe(`salvo of ${FEEDS}`)
	expect(order.filter((o) => o.startsWith('salvo') || o === 'take')).toEqual([`salvo of ${FEEDS}`])
	expect(
		order.some((o) => o.startsWith('feed ')),
		'the tick published its feeds',
	).toBe(true)
	expect(sim.routingRequests - routingBefore).toBe(1)
	expect(d.takes.filter((t) => t.cause === 'failover')).toHaveLength(FEEDS)
})
