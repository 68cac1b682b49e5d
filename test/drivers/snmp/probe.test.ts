// `sigpath probe FILE DEVICE` (docs/contract.md §1) for snmp signal devices and UPSes: the real command for an snmp
// gateway (legs) and an unreachable snmp-ups (exit 1, connected false), and the megatec probe over a socat pty.
import { spawn } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { probe as megatecProbe } from '../../../drivers/megatec/probe.ts'
import { MegatecSim } from '../../../drivers/megatec/sim.ts'
import { PROFILES } from '../../../drivers/snmp/profiles.ts'
import { profileObjects, SnmpAgentSim } from '../../../drivers/snmp/sim.ts'
import { freeUdpPort } from '../../../drivers/snmp/traps.ts'
import { MegatecDriver } from '../../../src/domain/drivers.ts'
import { silentLogger } from '../../../src/log.ts'
import { requireBinary, scratch, startPeer, until, type Peer } from './peers.ts'

let dir: string
let removeDir: () => void
const stops: (() => Promise<void>)[] = []

beforeAll(() => {
	;({ dir, remove: removeDir } = scratch('probe'))
})
afterAll(async () => {
	for (const s of stops.reverse()) await s()
	removeDir?.()
})

function sigpath(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
	return new Promise((resolve) => {
		const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args])
		let stdout = ''
		let stderr = ''
		child.stdout.on('data', (b: Buffer) => (stdout += b.toString()))
		child.stderr.on('data', (b: Buffer) => (stderr += b.toString()))
		child.on('exit', (code) => resolve({ code, stdout, stderr }))
	})
}

describe('sigpath probe', () => {
	it('an snmp gateway: signal and legs, exit 0; an unreachable snmp-ups: connected false, exit 1', async () => {
		const sim = new SnmpAgentSim({ objects: profileObjects('gateway-2022-7'), community: 'gw' })
		await sim.start()
		stops.push(() => sim.stop())
		sim.set(PROFILES['gateway-2022-7']['leg2Up']!.oid, 2)
		sim.set(PROFILES['gateway-2022-7']['leg2Lost']!.oid, 42)
		const dead = await freeUdpPort('127.0.0.1')
		const cfg = join(dir, 'sigpath.yaml')
		writeFileSync(
			cfg,
			[
				'site: { id: t }',
				'devices:',
				`  - { id: gw-1, role: gateway, driver: { type: snmp, host: 127.0.0.1, port: ${sim.port}, community: gw, profile: gateway-2022-7 } }`,
				`  - { id: ups-x, role: ups, driver: { type: snmp-ups, host: 127.0.0.1, port: ${dead}, timeoutMs: 200, retries: 0 } }`,
				'',
			].join('\n'),
		)
		const gw = await sigpath(['probe', cfg, 'gw-1'])
		expect(gw.code, gw.stderr).toBe(0)
		expect(JSON.parse(gw.stdout)).toMatchObject({
			device: 'gw-1',
			connected: true,
			health: 'degraded',
			detail: {
				signal: 'up',
				legs: [
					{ leg: 1, up: true, lost: 0 },
					{ leg: 2, up: false, lost: 42 },
				],
			},
		})
		const ups = await sigpath(['probe', cfg, 'ups-x', '--seconds', '2'])
		expect(ups.code).toBe(1)
		expect(JSON.parse(ups.stdout)).toMatchObject({
			device: 'ups-x',
			connected: false,
			health: 'unknown',
			detail: { power: null },
		})
	})

	it('a megatec UPS over a serial pty', async () => {
		requireBinary('socat', 'socat')
		const a = join(dir, 'ttyA')
		const b = join(dir, 'ttyB')
		const socat: Peer = startPeer('socat', [`pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`])
		stops.push(() => socat.stop())
		await until(() => existsSync(a) && existsSync(b), 5000, 'ptys')
		const sim = new MegatecSim({ path: a })
		await sim.start()
		stops.push(() => sim.stop())
		sim.onBattery()
		const r = await megatecProbe(
			{ id: 'ups-m', role: 'ups', power: [], driver: MegatecDriver.parse({ type: 'megatec', serial: { path: b } }) },
			{ seconds: 3, ctx: { log: silentLogger } },
		)
		expect(r).toMatchObject({
			device: 'ups-m',
			connected: true,
			health: 'degraded',
			detail: { power: 'on-battery', minutesRemaining: null, chargePercent: null, model: 'SIM-Q1' },
		})
	})
})
