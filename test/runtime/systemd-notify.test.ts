// `sigpath run` under a fake systemd: a Unix datagram listener as NOTIFY_SOCKET receives READY=1 after the first
// sync, WATCHDOG=1 while healthy, STATUS= lines, RELOADING=1 on SIGHUP, STOPPING=1 on SIGTERM. A reload with an
// invalid config keeps the running one and says why.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import type { UnixDgramSocket } from 'unix-dgram'
import { VideohubSim } from '../../drivers/videohub/sim.ts'
import { freePort } from '../support/peers.ts'

const { createSocket } = createRequire(import.meta.url)('unix-dgram') as typeof import('unix-dgram')
let sim: VideohubSim
let dir: string
let socket: UnixDgramSocket
const messages: string[] = []

beforeAll(async () => {
	sim = new VideohubSim({ inputs: 8, outputs: 8, routing: [0] })
	await sim.start({ host: '127.0.0.1', port: 0 })
	dir = mkdtempSync(join(tmpdir(), 'sigpath-notify-'))
	socket = createSocket('unix_dgram', (msg) => messages.push(msg.toString()))
	socket.bind(join(dir, 'notify'))
})
afterAll(async () => {
	socket.close()
	await sim.stop()
	rmSync(dir, { recursive: true, force: true })
})

const configText = (port: number, clearMs: number) => `site: { id: lab }
devices:
  - { id: rtr, role: router, driver: { type: videohub, host: 127.0.0.1, port: ${sim.port} }, lineCards: [ { id: c1, inputs: [1, 4] }, { id: c2, inputs: [5, 8] } ] }
events:
  - id: ev
    tier: yellow
    feeds:
      - id: pgm
        output: { router: rtr, output: 1 }
        failover: { clearMs: ${clearMs} }
        paths:
          - { id: a, method: fiber, input: { router: rtr, input: 1 } }
          - { id: b, method: srt, input: { router: rtr, input: 5 } }
broker: { listen: 127.0.0.1:${port} }
journal: { dir: ${join(dir, 'journal')} }
http: { listen: 127.0.0.1:0 }
log: { level: warn }
`

async function until(cond: () => boolean, timeoutMs = 15_000): Promise<void> {
	const deadline = Date.now() + timeoutMs
	while (!cond()) {
		if (Date.now() > deadline) throw new Error(`timed out; notifications so far: ${JSON.stringify(messages)}`)
		await new Promise((r) => setTimeout(r, 20))
	}
}

describe('systemd notify and reload', () => {
	it('READY after the first sync, WATCHDOG while healthy, reload kept on a bad config, STOPPING at the end', async () => {
		const file = join(dir, 'sigpath.yaml')
		const port = await freePort()
		writeFileSync(file, configText(port, 10000))
		const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'run', '--config', file], {
			env: { ...process.env, NOTIFY_SOCKET: join(dir, 'notify'), WATCHDOG_USEC: '300000' },
			stdio: ['ignore', 'pipe', 'pipe'],
		})
		let out = ''
		child.stdout.on('data', (d: Buffer) => (out += d.toString()))
		child.stderr.on('data', (d: Buffer) => (out += d.toString()))
		const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
		onTestFinished(() => {
			// a failed assertion must not leave a daemon running
			if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
		})

		await until(() => messages.some((m) => m.startsWith('READY=1')))
		expect(messages.find((m) => m.startsWith('READY=1'))).toMatch(/STATUS=1 feeds, 0\/0 critical compliant, 0 alarms/)
		await until(() => messages.filter((m) => m === 'WATCHDOG=1').length >= 2)

		// a broken config: refused, the running config kept, and systemd told why
		writeFileSync(file, 'site: { id: lab }\ndevices: [ { id: x, role: toaster } ]\n')
		messages.length = 0
		child.kill('SIGHUP')
		await until(() => messages.some((m) => m.startsWith('READY=1')))
		expect(messages[0]).toMatch(/^RELOADING=1\nMONOTONIC_USEC=\d+$/)
		expect(messages.find((m) => m.startsWith('READY=1'))).toMatch(
			/STATUS=reload refused \(devices\[0\]\.role: must be one of/,
		)
		expect(out).toMatch(/reload refused: the new config is invalid; keeping the running one/)

		// a good new config is taken, and no crosspoint moves
		const requests = sim.routingRequests
		writeFileSync(file, configText(port, 5000))
		messages.length = 0
		child.kill('SIGHUP')
		await until(() => messages.some((m) => m.startsWith('READY=1')))
		expect(sim.routingRequests).toBe(requests)

		child.kill('SIGTERM')
		expect(await exited).toBe(0)
		expect(messages.some((m) => m.startsWith('STOPPING=1'))).toBe(true)
	})
})
