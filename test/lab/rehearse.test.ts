// Rehearsals run in CI against the lab: the real daemon, every device of config/lab.yaml simulated on loopback in
// its own protocol (SW-P-08 and Videohub routers, SNMP agents, a upsd, a Megatec UPS on a pty, SRT senders).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.ts'

const dir = mkdtempSync(join(tmpdir(), 'sigpath-rehearse-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function run(...args: string[]) {
	let out = ''
	let err = ''
	const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) })
	return { code, out, err }
}

describe('sigpath rehearse', () => {
	it('the fiber-cut rehearsal passes: failover to satellite, revert to fiber only after clearMs', async () => {
		const r = await run('rehearse', 'config/rehearsals/fiber-cut.yaml', '--json')
		const report = JSON.parse(r.out) as { ok: boolean; steps: { ok: boolean; text: string }[] }
		expect(report.steps.filter((s) => !s.ok)).toEqual([])
		expect(report.ok).toBe(true)
		expect(r.code).toBe(0)
	}, 60_000)

	it('the double-failure rehearsal passes: past both failed paths, then to SRT', async () => {
		const r = await run('rehearse', 'config/rehearsals/double-failure.yaml')
		expect(r.out).toMatch(/PASS: 7\/7 steps/)
		expect(r.code).toBe(0)
	}, 60_000)

	// a real picture from the lab's venue encoder (ffmpeg) into the LaLiga feed's SRT receiver, judged by its content
	// checks; the lab's `black` fault makes it black without dropping the stream
	it('the content-failover rehearsal passes: black alarm, held on air until a healthy path exists, cleared on restore', async () => {
		const r = await run('rehearse', 'config/rehearsals/content-failover.yaml', '--json')
		const report = JSON.parse(r.out) as { ok: boolean; steps: { ok: boolean; text: string }[] }
		expect(report.steps.filter((s) => !s.ok)).toEqual([])
		expect(r.code).toBe(0)
	}, 90_000)

	it('fails, with the reason, when an expectation does not hold', async () => {
		const f = join(dir, 'wrong.yaml')
		writeFileSync(f, `name: wrong\nsteps:\n  - expect: { feed: wbc-final/pgm, active: srt, within: 200 }\n`)
		const r = await run('rehearse', f)
		expect(r.code).toBe(1)
		expect(r.out).toMatch(/FAIL .* FAILED within 200 ms: active is fiber, not srt/)
	}, 60_000)

	it('refuses a bad scenario before starting anything', async () => {
		const f = join(dir, 'bad.yaml')
		writeFileSync(f, `name: bad\nsteps:\n  - fault: { action: explode, device: x }\n`)
		const r = await run('rehearse', f)
		expect(r.code).toBe(2)
		expect(r.err).toMatch(/steps\[0\]\.fault\.action: must be one of/)
	})
})
