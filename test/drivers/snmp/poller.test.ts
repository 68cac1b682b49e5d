// The SNMP poll cadence against an agent on the wire: the random phase that spreads devices over the interval may
// bring a poll forward, never push it back, so a change is read within one poll interval even right after start.
import { afterEach, describe, expect, it } from 'vitest'
import { SnmpPoller } from '../../../drivers/snmp/connection.ts'
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
