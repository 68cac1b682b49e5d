// A config of many feeds on one router, for the tests and benchmarks that need scale rather than a realistic event:
// feed f<i> on output i+1, its primary path on input 2i+1 (fiber) and its backup on input 2i+2 (satellite), each
// through a device of its own. The benchmarks and tests differ only in the router's driver, the devices and ids.
import type { Config } from '../../src/domain/config.ts'
import { parseConfigText } from '../../src/domain/load.ts'

export interface ManyFeedsOptions {
	site: string
	feeds: number
	/** the router's `driver` and any more keys of its device entry, as flow YAML: `driver: { type: videohub, ... }` */
	router: string
	/** feed i's two paths: their ids and their devices (each a flow YAML device entry with that `id`) */
	primary: (i: number) => { path: string; id: string; device: string }
	backup: (i: number) => { path: string; id: string; device: string }
	/** each feed's failover section as flow YAML (absent: the defaults) */
	failover?: string
	journalDir: string
}

export function manyFeedsConfig(o: ManyFeedsOptions): Config {
	const devices: string[] = []
	const feeds: string[] = []
	for (let i = 0; i < o.feeds; i++) {
		const [p, b] = [o.primary(i), o.backup(i)]
		devices.push(`  - ${p.device}`, `  - ${b.device}`)
		feeds.push(
			`      - id: f${i}
        output: { router: rtr, output: ${i + 1} }${o.failover ? `\n        failover: ${o.failover}` : ''}
        paths:
          - { id: ${p.path}, method: fiber, via: [${p.id}], input: { router: rtr, input: ${i * 2 + 1} } }
          - { id: ${b.path}, method: satellite, via: [${b.id}], input: { router: rtr, input: ${i * 2 + 2} } }`,
		)
	}
	return parseConfigText(`site: { id: ${o.site} }
devices:
  - { id: rtr, role: router, ${o.router} }
${devices.join('\n')}
events:
  - id: ev
    tier: grey
    feeds:
${feeds.join('\n')}
broker: { listen: 127.0.0.1:0 }
journal: { dir: ${o.journalDir} }
`)
}

/** A device that only reports a signal (a FakeSource's). */
export function receiver(path: string, id: string): { path: string; id: string; device: string } {
	return { path, id, device: `{ id: ${id}, role: receiver }` }
}
