// The daemon tests' lab: one red event with one critical feed (ev/pgm) on a Videohub simulator with three line
// cards, its three paths (fiber on input 1, sat on 5, srt on 9) each through one FakeSource receiver, the daemon on a
// test mosquitto, a journal in a temporary directory. The runtime tests each used to write this config and the
// daemon's start by hand; they now differ only in what they pass here.
import type { Alarm } from '../../src/control/payloads.ts'
import type { Config } from '../../src/domain/config.ts'
import { parseConfigText } from '../../src/domain/load.ts'
import { silentLogger } from '../../src/log.ts'
import { Daemon, type DaemonOptions } from '../../src/runtime/daemon.ts'
import { FakeSource } from './fake-source.ts'
import { until } from './status-lab.ts'

/** The receivers of the three paths, in path order (fiber, sat, srt). */
const PATH_DEVICES = ['rx-fiber', 'ird', 'srt-rx'] as const

export interface LabConfigOptions {
	site?: string
	/** the Videohub simulator's port */
	routerPort: number
	/** the router driver's staleMs; absent, the driver's default */
	routerStaleMs?: number
	/** flow-style YAML items of powerSources; absent, none (`powerSources: []`) */
	powerSources?: string[]
	/** the power sources the router and every receiver hang on; absent, none */
	power?: string[]
	/** flow-style YAML items of more devices, after the receivers */
	devices?: string[]
	failover: { lossMs: number; clearMs: number }
	/** the broker; the user defaults to the daemon's in the test mosquitto (sigpath / daemon-pw) */
	mqtt: { url: string; username?: string; password?: string }
	journalDir: string
	/** more keys of the journal section, as YAML (`rotateBytes: 65536, key: { env: K }`) */
	journal?: string
	/** top-level YAML after the journal section (an http section, say) */
	extra?: string
}

/** The lab's config as YAML text; `labConfig` parses it. */
export function labConfigText(o: LabConfigOptions): string {
	const power = o.power ? `, power: [${o.power.join(', ')}]` : ''
	const powerSources = o.powerSources ? `\n${o.powerSources.map((p) => `  - ${p}`).join('\n')}` : ' []'
	const stale = o.routerStaleMs === undefined ? '' : `, staleMs: ${o.routerStaleMs}`
	const more = (o.devices ?? []).map((d) => `\n  - ${d}`).join('')
	return `
site: { id: ${o.site ?? 'lab'} }
powerSources:${powerSources}
devices:
  - { id: rtr, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${o.routerPort}${stale} },
      size: { inputs: 16, outputs: 16 }${power},
      lineCards: [ { id: c1, inputs: [1, 4] }, { id: c2, inputs: [5, 8] }, { id: c3, inputs: [9, 12] } ] }
  - { id: rx-fiber, role: receiver${power} }
  - { id: ird, role: ird${power} }
  - { id: srt-rx, role: srt-receiver${power} }${more}
events:
  - id: ev
    tier: red
    feeds:
      - id: pgm
        critical: true
        output: { router: rtr, output: 1 }
        failover: { lossMs: ${o.failover.lossMs}, clearMs: ${o.failover.clearMs} }
        paths:
          - { id: fiber, method: fiber, via: [rx-fiber], input: { router: rtr, input: 1 } }
          - { id: sat, method: satellite, via: [ird], input: { router: rtr, input: 5 } }
          - { id: srt, method: srt, via: [srt-rx], input: { router: rtr, input: 9 } }
mqtt: { url: "${o.mqtt.url}", username: ${o.mqtt.username ?? 'sigpath'}, password: ${o.mqtt.password ?? 'daemon-pw'} }
journal: { dir: ${o.journalDir}${o.journal ? `, ${o.journal}` : ''} }
${o.extra ?? ''}`
}

export function labConfig(o: LabConfigOptions): Config {
	return parseConfigText(labConfigText(o))
}

/** A FakeSource for each path's receiver. */
export function labSources(): FakeSource[] {
	return PATH_DEVICES.map((id) => new FakeSource(id))
}

export interface LabDaemonOptions {
	config: Config
	/** the signal devices; absent, a fresh `labSources()` */
	sources?: FakeSource[]
	/** anything else the daemon takes (a clock, a take timeout, UPS devices); firstSyncTimeoutMs defaults to 3000 */
	options?: Partial<DaemonOptions>
	/** how long to wait for the daemon's first sync (ms) */
	readyTimeoutMs: number
	/**
	 * Runs once the daemon exists, before it starts: the test keeps it for its teardown here, so that a start that
	 * throws or never syncs still has the daemon stopped after the test. A status server can be started here too.
	 */
	created?: (d: Daemon) => void | Promise<void>
}

export interface LabDaemon {
	d: Daemon
	/** the signal devices by device id */
	src: Record<string, FakeSource>
	/** every alarm event the daemon emitted, from before its start */
	alarms: Alarm[]
}

/** Starts the daemon on the lab's FakeSources (no UPS unless given) and waits until it is ready. */
export async function startLabDaemon(o: LabDaemonOptions): Promise<LabDaemon> {
	const sources = o.sources ?? labSources()
	const d = new Daemon({
		config: o.config,
		log: silentLogger,
		signalSources: sources,
		firstSyncTimeoutMs: 3000,
		...o.options,
	})
	const alarms: Alarm[] = []
	d.events.on('alarm', (a) => alarms.push(a))
	await o.created?.(d)
	await d.start()
	await until(() => d.isReady(), o.readyTimeoutMs, 'the first sync')
	return { d, src: Object.fromEntries(sources.map((s) => [s.deviceId, s])), alarms }
}
