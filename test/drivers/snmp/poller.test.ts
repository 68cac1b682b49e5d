// The SNMP poll loop against an agent on the wire: the random phase that spreads devices over the interval may
// bring a poll forward, never push it back, so a change is read within one poll interval even right after start;
// and an answer its consumer refuses (`accept`) is no good answer for freshness (docs/contract.md §7).
import { afterEach, describe, expect, it } from 'vitest'
import { SnmpPoller, type PollerState } from '../../../drivers/snmp/connection.ts'
import type { SnmpError } from '../../../drivers/snmp/session.ts'
import { SnmpAgentSim, upsObjects } from '../../../drivers/snmp/sim.ts'
import { UPS_OID } from '../../../drivers/ups/codec.ts'
import { silentLogger } from '../../../src/log.ts'
import { until } from './peers.ts'

const stops: (() => Promise<void> | void)[] = []
afterEach(async () => {
	for (const s of stops.reverse()) await s()
	stops.length = 0
})

describe('SnmpPoller cadence', () => {
	it('with the largest phase offset, the second poll still comes within one interval of the first', async () => {
		const agent = new SnmpAgentSim({ objects: upsObjects() })
		await agent.start()
		stops.push(() => agent.stop())
		const pollMs = 4000
		const poller = new SnmpPoller({
			device: 'ups-1',
			target: { host: '127.0.0.1', port: agent.port, community: 'public', timeoutMs: 500, retries: 0 },
			oids: [UPS_OID.upsOutputSource],
			pollMs,
			log: silentLogger,
			random: () => 0.999,
		})
		stops.push(() => poller.stop())
		const answers: number[] = []
		poller.on('values', () => answers.push(performance.now()))
		poller.start()
		// a phase that pushed the poll back would put the second answer near 2 * pollMs (8 s); generous bound below
		await until(() => answers.length >= 2, pollMs + 2000, 'the second answer')
		expect(answers[1]! - answers[0]!).toBeLessThanOrEqual(pollMs)
		// and then the cadence is pollMs
		await until(() => answers.length >= 3, pollMs + 2000, 'the third answer')
		expect(answers[2]! - answers[1]!).toBeGreaterThan(pollMs / 2)
	}, 20_000)
})

describe('SnmpPoller accept', () => {
	it('an answer the consumer refuses is no good answer: a failed poll, disconnected, stale, comm-lost; the session and the cadence stay', async () => {
		const agent = new SnmpAgentSim({ objects: upsObjects() })
		await agent.start()
		stops.push(() => agent.stop())
		let refuse: string | null = null
		const poller = new SnmpPoller({
			device: 'ups-1',
			target: { host: '127.0.0.1', port: agent.port, community: 'public', timeoutMs: 2000, retries: 0 },
			oids: [UPS_OID.upsOutputSource],
			pollMs: 100,
			staleAfterMs: 400,
			commLostAfterMs: 800,
			log: silentLogger,
			accept: () => refuse,
		})
		stops.push(() => poller.stop())
		let values = 0
		const failed: SnmpError[] = []
		const states: PollerState[] = []
		poller.on('values', () => values++)
		poller.on('failed', (e) => failed.push(e))
		poller.on('state', (s) => states.push(s))
		poller.start()
		await until(() => values > 0 && poller.freshness.connected, 5000, 'a good answer')

		refuse = 'upsOutputSource missing'
		await until(() => failed.length > 0, 5000, 'a refused answer')
		const valuesWhenRefused = values
		expect(failed[0]).toMatchObject({ name: 'SnmpError', kind: 'unusable' })
		expect(failed[0]!.message).toContain('upsOutputSource missing')
		await until(() => !poller.freshness.connected, 5000, 'disconnected')
		await until(() => poller.freshness.stale, 5000, 'stale')
		await until(() => poller.commLost, 5000, 'comm-lost')
		// the agent answers: no backoff (that is for an agent that does not), and every failure is a refusal
		await until(() => failed.length >= 5, 5000, 'more refused answers')
		expect(states).not.toContain('backoff')
		expect(failed.every((e) => e.kind === 'unusable')).toBe(true)
		expect(values).toBe(valuesWhenRefused)

		refuse = null
		await until(() => values > valuesWhenRefused, 5000, 'a good answer again')
		await until(() => poller.freshness.connected && !poller.freshness.stale && !poller.commLost, 5000, 'fresh again')
	}, 20_000)
})
