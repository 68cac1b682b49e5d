// FACS refuses what it must (docs/contract.md §10): a QC output that is a program output (an invalid config, and
// refused by the runner whatever the config), bad arguments, a second tour while one runs, a command without the
// token; each with one line and exit 2, nothing routed. A QC take the router refuses (another controller's lock)
// fails that path and, the QC output not put back, the tour. The daemon here has paths whose devices report nothing
// (inventory only): their signal is judged on the QC monitor, the report says so.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.ts'
import { parseConfigText } from '../../src/domain/load.ts'
import { captureIo, openFacsRig, type FacsRig } from '../support/facs-rig.ts'
import { freePort } from '../support/peers.ts'
import { waitFor } from '../drivers/srt/helpers.ts'

let rig: FacsRig

beforeEach(async () => {
	rig = await openFacsRig()
})
afterEach(async () => rig.close())

function yaml(o: { httpPort: number; mqttPort: number; qc: string; feedFacs?: string }): string {
	return `
site: { id: lab }
devices:
  - { id: rtr, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${rig.router.port} } }
  - { id: rtr-2, role: router }
  - { id: enc-a, role: encoder }
  - { id: enc-b, role: encoder }
events:
  - id: ev
    tier: yellow
    facs: { qcOutput: ${o.qc}, dwellMs: 1000 }
    feeds:
      - id: pgm
        output: { router: rtr, output: 1 }
        paths:
          - { id: a, method: fiber, via: [enc-a], input: { router: rtr, input: 1 } }
          - { id: b, method: satellite, via: [enc-b], input: { router: rtr, input: 5 } }
      - id: iso
        output: { router: rtr, output: 2 }${o.feedFacs ?? ''}
        paths:
          - { id: a, method: fiber, via: [enc-a], input: { router: rtr, input: 2 } }
broker: { listen: 127.0.0.1:${o.mqttPort} }
http: { listen: 127.0.0.1:${o.httpPort}, token: facs-secret-token }
journal: { dir: ${join(rig.dir, 'journal')} }
`
}

async function start(qc = '{ router: rtr, output: 8 }') {
	const [httpPort, mqttPort] = await Promise.all([freePort(), freePort()])
	const file = join(rig.dir, 'sigpath.yaml')
	writeFileSync(file, yaml({ httpPort, mqttPort, qc }))
	const { daemon, url } = await rig.serve(file, 3000)
	return { file, d: daemon, url }
}

describe('FACS refusals', () => {
	it('a QC output that is a program output, or on another router than the feed, is an invalid config', async () => {
		const bad = (qc: string, feedFacs?: string) =>
			yaml({ httpPort: 1, mqttPort: 2, qc, ...(feedFacs ? { feedFacs } : {}) })
		expect(() => parseConfigText(bad('{ router: rtr, output: 2 }'))).toThrow(
			'events[0].facs.qcOutput: router "rtr" output 2 is the program output of feed ev/iso: FACS never touches a program output',
		)
		expect(() =>
			parseConfigText(bad('{ router: rtr, output: 8 }', '\n        facs: { qcOutput: { router: rtr-2, output: 3 } }')),
		).toThrow(
			'events[0].feeds[1].facs.qcOutput.router: feed ev/iso is on router "rtr": its QC output must be on that router too',
		)
		expect(() => parseConfigText(bad('{ router: rtr, output: 8 }, avSync: true'))).toThrow(
			'events[0].facs: avSync needs dwellMs of at least 3000 (feed ev/pgm has 1000)',
		)
		// `sigpath facs` and `sigpath check` say it in one line, exit 2, and nothing is routed
		const file = join(rig.dir, 'bad.yaml')
		writeFileSync(file, bad('{ router: rtr, output: 1 }'))
		for (const argv of [
			['facs', file, '--event', 'ev'],
			['check', file],
		]) {
			const c = captureIo()
			expect(await main(argv, c.io)).toBe(2)
			expect(c.err()).toMatch(
				/events\[0\]\.facs\.qcOutput: router "rtr" output 1 is the program output of feed ev\/pgm/,
			)
			expect(c.err()).not.toMatch(/\n\s+at /)
		}
		expect(rig.router.routingRequests).toBe(0)
	})

	it('bad arguments, no daemon, a second tour, no token: one line each, exit 2, nothing routed', async () => {
		const [httpPort, mqttPort] = await Promise.all([freePort(), freePort()])
		const file = join(rig.dir, 'sigpath.yaml')
		writeFileSync(file, yaml({ httpPort, mqttPort, qc: '{ router: rtr, output: 8 }' }))
		const run = async (...argv: string[]) => {
			const c = captureIo()
			const code = await main(['facs', file, ...argv], c.io)
			return { code, err: c.err(), out: c.out() }
		}
		expect(await run('--event', 'nope')).toMatchObject({
			code: 2,
			err: 'sigpath facs: unknown event "nope" (events: ev)\n',
		})
		expect(await run('--event', 'ev', '--feed', 'x')).toMatchObject({
			code: 2,
			err: 'sigpath facs: event ev has no feed "x" (feeds: pgm, iso)\n',
		})
		expect(await run()).toMatchObject({
			code: 2,
			err: expect.stringMatching(/^sigpath facs: --event is required\n/) as string,
		})
		// named tokens (§6a): the operator token to ask with is named when there are several; a viewer's is refused
		const named = join(rig.dir, 'named.yaml')
		const tokens = `http: { listen: 127.0.0.1:${httpPort}, tokens: [ { name: desk, token: aaaaaaaaaaaa, role: operator }, { name: tco, token: bbbbbbbbbbbb, role: operator }, { name: wall, token: cccccccccccc, role: viewer } ] }`
		writeFileSync(named, yaml({ httpPort, mqttPort, qc: '{ router: rtr, output: 8 }' }).replace(/^http: .*$/m, tokens))
		const byName = async (...argv: string[]) => {
			const c = captureIo()
			return { code: await main(['facs', named, '--event', 'ev', ...argv], c.io), err: c.err() }
		}
		expect(await byName()).toEqual({
			code: 2,
			err: 'sigpath facs: name the operator token to ask with: --token-name desk | tco\n',
		})
		expect(await byName('--token-name', 'wall')).toEqual({
			code: 2,
			err: 'sigpath facs: token "wall" has the viewer role: a tour needs an operator token\n',
		})
		const none = await run('--event', 'ev')
		expect(none.code).toBe(2)
		expect(none.err).toMatch(
			/^sigpath facs: no sigpath daemon answers at http:\/\/127\.0\.0\.1:\d+ \(.*\): the tour runs in the daemon; start it, or give --url\n$/,
		)

		// a daemon: one tour at a time; the second is refused while the first runs
		const { daemon, url } = await rig.serve(file, 3000)
		const first = daemon.facs.run({ event: 'ev', operator: 'bco-1', via: 'test' })
		const second = await run('--event', 'ev')
		expect(second).toMatchObject({
			code: 2,
			err: 'sigpath facs: a FACS tour of ev is running (by bco-1): one at a time\n',
		})
		const r = await first
		expect(r.ok).toBe(true)
		// the first toured both feeds of the event on the event's QC output, each path in rank order
		if (!r.ok) return
		expect(r.report.feeds.map((f) => [f.feed, f.paths.map((p) => p.path)])).toEqual([
			['pgm', ['a', 'b']],
			['iso', ['a']],
		])
		// no device reports on these paths: they pass on the take, and the report says to look at the QC monitor
		expect(r.report.pass).toBe(true)
		expect(r.report.feeds[0]!.paths[0]).toMatchObject({
			signal: null,
			delayMs: null,
			delayWhy: 'no analysed TS on this path (no SRT receiver relaying to this host)',
			notes: ['no device on this path reports its signal: judge it on the QC monitor'],
		})
		// a command without the token, or with a wrong one, is refused before anything is routed
		const before = rig.router.routingRequests
		for (const auth of [undefined, 'Bearer wrong']) {
			const res = await fetch(`${url}/events/ev/facs`, {
				method: 'POST',
				...(auth ? { headers: { authorization: auth } } : {}),
			})
			expect([401, 403]).toContain(res.status)
		}
		const badBody = await fetch(`${url}/events/ev/facs`, {
			method: 'POST',
			headers: { authorization: 'Bearer facs-secret-token' },
			body: '{"feed":"pgm","extra":true}',
		})
		expect(badBody.status).toBe(400)
		expect(rig.router.routingRequests).toBe(before)
	})

	it('a QC take the router refuses fails that path, and a QC output that cannot be put back fails the tour: exit 1 names both', async () => {
		const { file } = await start()
		rig.router.lockByPanel(7) // another controller holds the QC output
		const c = captureIo()
		expect(await main(['facs', file, '--event', 'ev', '--feed', 'pgm', '--json'], c.io)).toBe(1)
		const report = JSON.parse(c.out()) as { failed: string[]; feeds: { restored: { ok: boolean } }[] }
		expect(report.failed[0]).toMatch(/^ev\/pgm\/a: the QC take failed: /)
		expect(report.failed.at(-1)).toMatch(/^ev\/pgm: QC output not put back: /)
		expect(report.feeds[0]!.restored.ok).toBe(false)
		expect(rig.router.routingTable()[0]).toBe(0)
	})

	it('a daemon that stops during a tour cuts it short and puts the QC output back first', async () => {
		const { d } = await start()
		const tour = d.facs.run({ event: 'ev', operator: 'bco-1', via: 'test' })
		await waitFor('path a on the QC output', () => rig.router.routingTable()[7] === 0, 5000)
		await d.stop()
		rig.daemon = undefined
		const r = await tour
		expect(rig.router.routingTable()[7]).toBe(6)
		expect(r.ok && r.report.feeds[0]!.restored).toEqual({ ok: true, input: 7 })
		expect(r.ok && r.report.feeds[0]!.paths.map((p) => p.path)).toEqual(['a'])
	})

	it('the runner refuses a program output even when the config was not checked', async () => {
		const { d } = await start()
		// a config object changed after its check (as a bug would): the runner looks again before routing anything
		d.model.config.events[0]!.facs!.qcOutput = { router: 'rtr', output: 1 }
		const r = await d.facs.run({ event: 'ev', feed: 'pgm', operator: 'bco-1', via: 'test' })
		expect(r).toEqual({
			ok: false,
			status: 'refused',
			error: 'router rtr output 1 is the program output of feed ev/pgm: FACS never touches a program output',
		})
		expect(rig.router.routingRequests).toBe(0)
	})
})
