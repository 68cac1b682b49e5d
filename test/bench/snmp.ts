// Benchmark: 200 SNMP devices x 20 OIDs polled every second against local agents, and the on-battery trap ->
// power-state change latency. Targets (issue #5): < 10 % of one core, event-loop delay p99 < 5 ms; trap p99 < 50 ms.
//
//   node --import tsx test/bench/snmp.ts [--devices 200] [--oids 20] [--seconds 30] [--traps 200] [--dead 0]
// --dead N adds N devices whose agent never answers (timeout 800 ms, 1 retry): they must not slow the others.
//
// The agents (net-snmp's agent, drivers/snmp/sim.ts) run in two child processes so that their CPU is not ours;
// this process runs only what the daemon would: 200 SnmpSignalDevice pollers (20 rules each: one GET of 20 OIDs
// per device per second) and one SnmpUpsDevice with traps on, plus the trap receiver.
// CPU: process.cpuUsage() over the measuring window (user + system) / wall time. ELD: perf_hooks
// monitorEventLoopDelay (1 ms resolution) over the same window. Trap latency: from the moment the trap is handed
// to the socket to the device's `power` event, one trap at a time, with the 200 devices polling meanwhile.
import { fork, type ChildProcess } from 'node:child_process'
import { cpus, loadavg } from 'node:os'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import * as snmp from 'net-snmp'
import { SnmpSignalDevice } from '../../drivers/snmp/device.ts'
import { SnmpAgentSim, upsObjects, type SimObject } from '../../drivers/snmp/sim.ts'
import { freeUdpPort, TrapReceiver } from '../../drivers/snmp/traps.ts'
import { UPS_TRAP } from '../../drivers/ups/codec.ts'
import { SnmpUpsDevice } from '../../drivers/ups/device.ts'
import { SnmpDriver, SnmpUpsDriver } from '../../src/domain/drivers.ts'
import { resolveSecrets } from '../../src/domain/secrets.ts'
import { silentLogger } from '../../src/log.ts'
import { percentile as pct } from './common.ts'

const { values: args } = parseArgs({
	options: {
		devices: { type: 'string', default: '200' },
		oids: { type: 'string', default: '20' },
		seconds: { type: 'string', default: '30' },
		traps: { type: 'string', default: '200' },
		dead: { type: 'string', default: '0' },
		agent: { type: 'string' },
	},
})
const DEVICES = Number(args.devices)
const OIDS = Number(args.oids)
const BASE = '1.3.6.1.4.1.99999.20'
const oidOf = (i: number) => `${BASE}.${i + 1}.0`

// ---- agent child: serves `count` agents, reports their ports --------------------------------------------------
if (args.agent !== undefined) {
	const count = Number(args.agent)
	const objects: Record<string, SimObject> = {}
	for (let i = 0; i < OIDS; i++) objects[oidOf(i)] = { type: 'integer', value: i }
	const sims: SnmpAgentSim[] = []
	for (let i = 0; i < count; i++) {
		const s = new SnmpAgentSim({ objects })
		await s.start()
		sims.push(s)
	}
	const ups = new SnmpAgentSim({ objects: upsObjects() })
	await ups.start()
	process.send?.({ ports: sims.map((s) => s.port), ups: ups.port })
	process.on('message', () => {
		void Promise.all([...sims, ups].map((s) => s.stop())).then(() => process.exit(0))
	})
} else {
	await main()
}

async function startAgents(n: number): Promise<{ child: ChildProcess; ports: number[]; ups: number }> {
	const child = fork(fileURLToPath(import.meta.url), ['--agent', String(n), '--oids', String(OIDS)], {
		execArgv: ['--import', 'tsx'],
		stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
	})
	const msg = await new Promise<{ ports: number[]; ups: number }>((resolve) =>
		child.once('message', (m) => resolve(m as { ports: number[]; ups: number })),
	)
	return { child, ...msg }
}

async function main(): Promise<void> {
	const seconds = Number(args.seconds)
	const trapCount = Number(args.traps)
	const half = Math.ceil(DEVICES / 2)
	const groups = await Promise.all([startAgents(half), startAgents(DEVICES - half)])
	const ports = groups.flatMap((g) => g.ports)
	// baseline: the same measure with nothing polling, agents running: what this shared machine alone costs us
	const base = monitorEventLoopDelay({ resolution: 1 })
	base.enable()
	await new Promise((r) => setTimeout(r, Math.min(10, seconds) * 1000))
	base.disable()
	const rules = Array.from({ length: OIDS }, (_, i) => ({
		oid: oidOf(i),
		op: 'lt' as const,
		value: -1,
		means: 'down' as const,
	}))
	const DEAD = Number(args.dead)
	const deadPorts: number[] = []
	for (let i = 0; i < DEAD; i++) deadPorts.push(await freeUdpPort('127.0.0.1'))
	const devices = [...ports, ...deadPorts].map(
		(port, i) =>
			new SnmpSignalDevice({
				id: `dev-${i}`,
				config: resolveSecrets(
					SnmpDriver.parse({
						type: 'snmp',
						host: '127.0.0.1',
						port,
						pollMs: 1000,
						timeoutMs: 800,
						retries: 1,
						rules,
					}),
				),
				log: silentLogger,
			}),
	)
	let readings = 0
	let failed = 0
	for (const d of devices) {
		d.on('reading', (s) => {
			if (s.signal === 'up') readings++
		})
		d.on('fault', () => failed++)
	}
	// spread the first polls over one interval, as a daemon starting 200 devices would not (worst case is all at
	// once: we start them all at once too, and let the cadence settle during the warm-up)
	for (const d of devices) d.start()
	await new Promise((r) => setTimeout(r, 3000)) // warm-up

	const eld = monitorEventLoopDelay({ resolution: 1 })
	const r0 = readings
	const f0 = failed
	const cpu0 = process.cpuUsage()
	const t0 = performance.now()
	eld.enable()
	await new Promise((r) => setTimeout(r, seconds * 1000))
	eld.disable()
	const wall = performance.now() - t0
	const cpu = process.cpuUsage(cpu0)
	const cpuShare = (cpu.user + cpu.system) / 1000 / wall
	const polls = readings - r0
	const pollFails = failed - f0

	// ---- trap latency, with the 200 devices still polling --------------------------------------------------------
	const rx = new TrapReceiver({ host: '127.0.0.1', port: 0, community: 'public', log: silentLogger })
	await rx.start()
	const ups = new SnmpUpsDevice({
		id: 'ups',
		config: resolveSecrets(
			SnmpUpsDriver.parse({
				type: 'snmp-ups',
				host: '127.0.0.1',
				port: groups[0].ups,
				pollMs: 2000,
				traps: true,
			}),
		),
		log: silentLogger,
		traps: rx,
	})
	ups.start()
	await new Promise<void>((r) => ups.once('synced', () => r()))
	const sender = snmp.createSession('127.0.0.1', 'public', { version: snmp.Version2c, trapPort: rx.port })
	sender.on('error', (err: Error) => console.error('trap sender', err))
	const lat: number[] = []
	for (let i = 0; i < trapCount; i++) {
		// the agent still says online: the immediate poll the trap triggers brings the device back to online
		if (ups.status.reading?.power !== 'online')
			await new Promise<void>((r) => {
				const on = () => {
					if (ups.status.reading?.power === 'online') {
						ups.off('power', on)
						r()
					}
				}
				ups.on('power', on)
			})
		const sent = performance.now()
		const changed = new Promise<number>((r) => {
			const on = () => {
				if (ups.status.reading?.power === 'on-battery') {
					ups.off('power', on)
					r(performance.now())
				}
			}
			ups.on('power', on)
		})
		sender.trap(UPS_TRAP.onBattery, [], (err) => {
			if (err) console.error('trap', err)
		})
		lat.push((await changed) - sent)
	}
	sender.close()
	await ups.stop()
	await rx.stop()
	for (const d of devices) await d.stop()
	for (const g of groups) {
		g.child.send('stop')
		await new Promise((r) => g.child.once('exit', r))
	}

	const ms = (ns: number) => ns / 1e6
	lat.sort((a, b) => a - b)
	const row = (k: string, v: string) => console.log(`| ${k.padEnd(44)} | ${v.padEnd(34)} |`)
	console.log(`\nsigpath bench: snmp  (${new Date().toISOString()})`)
	console.log(
		`command: node --import tsx test/bench/snmp.ts --devices ${DEVICES} --oids ${OIDS} --seconds ${seconds} --traps ${trapCount} --dead ${DEAD}`,
	)
	console.log(
		`machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, Node ${process.version}, loadavg ${loadavg()
			.map((l) => l.toFixed(2))
			.join(' ')}`,
	)
	console.log(`| ${'measure'.padEnd(44)} | ${'value'.padEnd(34)} |`)
	console.log(`|${'-'.repeat(46)}|${'-'.repeat(36)}|`)
	row('devices x OIDs, poll interval', `${DEVICES} x ${OIDS}, 1000 ms (GET, v2c)`)
	row('window', `${(wall / 1000).toFixed(1)} s after 3 s warm-up`)
	row('answered polls / expected', `${polls} / ${Math.round((DEVICES * wall) / 1000)}`)
	row('failed polls (dead devices only)', `${pollFails} (${DEAD} dead devices)`)
	row('CPU, this process (user+sys / wall)', `${(cpuShare * 100).toFixed(2)} % of one core (target < 10 %)`)
	row(
		'event-loop delay p50 / p99 / max',
		`${ms(eld.percentile(50)).toFixed(2)} / ${ms(eld.percentile(99)).toFixed(2)} / ${ms(eld.max).toFixed(2)} ms (p99 target < 5)`,
	)
	row(
		'  baseline, idle (same process, no devices)',
		`${ms(base.percentile(50)).toFixed(2)} / ${ms(base.percentile(99)).toFixed(2)} / ${ms(base.max).toFixed(2)} ms`,
	)
	row('trap -> power state, n', `${lat.length}`)
	row(
		'trap -> power state p50 / p99 / max',
		`${pct(lat, 50).toFixed(2)} / ${pct(lat, 99).toFixed(2)} / ${pct(lat, 100).toFixed(2)} ms (p99 target < 50)`,
	)
}
