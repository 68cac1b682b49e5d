// The `ha` section and a node's name (docs/contract.md §9).
import { describe, expect, it } from 'vitest'
import { nodeName, NodeNameError } from '../../src/domain/ha.ts'
import { ConfigError, parseConfigText } from '../../src/domain/load.ts'

const base = `site: { id: s1 }
mqtt: { url: "mqtt://127.0.0.1:1883" }
`

function problems(text: string): string[] {
	try {
		parseConfigText(text)
		return []
	} catch (err) {
		if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`)
		throw err
	}
}

describe('ha config', () => {
	it('takes endpoints and a lease in whole seconds (default 2000 ms)', () => {
		const c = parseConfigText(`${base}ha: { etcd: { endpoints: ["http://10.0.0.1:2379", "https://w:2379"] } }\n`)
		expect(c.ha).toEqual({ etcd: { endpoints: ['http://10.0.0.1:2379', 'https://w:2379'] }, leaseMs: 2000 })
	})

	it('refuses what etcd cannot do, and a pair without the site broker, naming the place', () => {
		expect(problems(`${base}ha: { etcd: { endpoints: ["http://e:2379"] }, leaseMs: 2500 }\n`)).toEqual([
			'ha.leaseMs: must be whole seconds (etcd leases are granted in seconds)',
		])
		expect(problems(`${base}ha: { etcd: { endpoints: ["http://e:2379"] }, leaseMs: 1000 }\n`)[0]).toMatch(
			/^ha.leaseMs: /,
		)
		expect(problems(`${base}ha: { etcd: { endpoints: [] } }\n`)[0]).toMatch(/^ha.etcd.endpoints: /)
		expect(problems(`${base}ha: { etcd: { endpoints: ["e:2379"] } }\n`)[0]).toMatch(
			/^ha.etcd.endpoints\[0\]: must be an http/,
		)
		expect(problems(`${base}ha: { etcd: { endpoints: ["http://e:2379"], bogus: 1 } }\n`)[0]).toMatch(/bogus/)
		expect(problems(`site: { id: s1 }\nha: { etcd: { endpoints: ["http://e:2379"] } }\n`)).toEqual([
			"ha: a pair needs the site's MQTT broker (mqtt.url): each node's embedded broker would be a separate site",
		])
	})
})

describe('node name', () => {
	it('is --node, then SIGPATH_NODE; alone it defaults to the host name', () => {
		expect(nodeName('a', { SIGPATH_NODE: 'b' }, true, 'h')).toBe('a')
		expect(nodeName(undefined, { SIGPATH_NODE: 'b' }, true, 'h')).toBe('b')
		expect(nodeName(undefined, {}, false, 'h')).toBe('h')
	})

	it('is required in a pair, and must be an id', () => {
		expect(() => nodeName(undefined, {}, true, 'h')).toThrow(NodeNameError)
		expect(() => nodeName(undefined, { SIGPATH_NODE: '' }, true, 'h')).toThrow(/--node NAME or SIGPATH_NODE/)
		expect(() => nodeName('a/b', {}, true, 'h')).toThrow(/node name "a\/b"/)
	})
})
