// `sigpath lab` as a newcomer runs it: a child process on config/lab.yaml, its console on stdin. Its broker is a real
// mosquitto with passwords and the production ACL, so the README's panel line works as printed; a rehearsal runs
// beside it on ports of its own; `quit` ends it with exit 0 and no process left behind.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.ts'
import { requireBinary } from '../support/peers.ts'

const ROOT = resolve(import.meta.dirname, '../..')
const STATUS = 'http://127.0.0.1:8080/status'

let lab: ChildProcess
let out = ''
let cwd: string

/** Every live process under `pid` (children, theirs...), from /proc. */
function descendants(pid: number): number[] {
	const parent = new Map<number, number>()
	for (const name of readdirSync('/proc')) {
		if (!/^\d+$/.test(name)) continue
		try {
			// the command may hold spaces and parentheses: the fields after the last ')' are fixed
			const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
			const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
			parent.set(Number(name), ppid)
		} catch {
			// gone meanwhile
		}
	}
	const found: number[] = []
	const walk = (p: number) => {
		for (const [child, pp] of parent) {
			if (pp !== p) continue
			found.push(child)
			walk(child)
		}
	}
	walk(pid)
	return found
}

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !/\) Z /.test(safeStat(pid))
function safeStat(pid: number): string {
	try {
		return readFileSync(`/proc/${pid}/stat`, 'utf8')
	} catch {
		return ''
	}
}

async function waitFor<T>(what: string, ms: number, fn: () => T | Promise<T>): Promise<NonNullable<T>> {
	const deadline = Date.now() + ms
	for (;;) {
		const v = await fn()
		if (v) return v
		if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}\nlab output:\n${out}`)
		await new Promise((r) => setTimeout(r, 100))
	}
}

async function status(): Promise<{ feeds: { event: string; feed: string; active: string | null }[] } | undefined> {
	try {
		const r = await fetch(STATUS)
		return r.ok ? ((await r.json()) as { feeds: { event: string; feed: string; active: string | null }[] }) : undefined
	} catch {
		return undefined
	}
}

beforeAll(async () => {
	requireBinary('mosquitto_pub', 'mosquitto-clients')
	// its own working directory: the lab's scratch (.lab: journal, broker files, ptys) is not the checkout's
	cwd = mkdtempSync(join(tmpdir(), 'sigpath-labrun-'))
	lab = spawn(process.execPath, [join(ROOT, 'bin/sigpath.mjs'), 'lab', join(ROOT, 'config/lab.yaml'), '--no-demo'], {
		cwd,
		stdio: ['pipe', 'pipe', 'pipe'],
	})
	lab.stdout!.on('data', (d: Buffer) => (out += d.toString()))
	lab.stderr!.on('data', (d: Buffer) => (out += d.toString()))
	await waitFor('the lab to print its fault console help', 60_000, () => {
		if (lab.exitCode !== null) throw new Error(`the lab exited with ${lab.exitCode}:\n${out}`)
		return out.includes('fault console:')
	})
}, 90_000)

afterAll(() => {
	if (lab && lab.exitCode === null) lab.kill('SIGKILL')
	if (cwd) rmSync(cwd, { recursive: true, force: true })
})

describe('sigpath lab', () => {
	it("speaks MQTT v5 through mosquitto: the README's panel line works as printed, the ACL holds", async () => {
		const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
		const line = readme
			.split('\n')
			.map((l) => l.trim())
			.find((l) => l.startsWith('mosquitto_pub -V mqttv5') && l.includes('sigpath/boc-lab/'))
		expect(line, 'the README shows a panel line for the lab').toBeDefined()
		// the lab prints the same line, with the panel user it made
		expect(out).toContain(`a panel's take: ${line!}`)
		expect(out).toMatch(/mqtt: mqtt:\/\/127\.0\.0\.1:11883 \(mosquitto, MQTT v5; panel users panel1\/lab-panel1/)
		const r = spawnSync('sh', ['-c', line!], { encoding: 'utf8', timeout: 10_000 })
		expect(r.stderr).toBe('')
		expect(r.status).toBe(0)
		await waitFor('wbc-final/pgm on sat', 10_000, async () => {
			const s = await status()
			return s?.feeds.find((f) => f.event === 'wbc-final' && f.feed === 'pgm')?.active === 'sat'
		})

		// passwords: no anonymous client
		const anon = await mqtt
			.connectAsync('mqtt://127.0.0.1:11883', { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 })
			.then(
				async (c) => {
					await c.endAsync()
					return 'connected'
				},
				(err: Error) => err.message,
			)
		expect(anon).toMatch(/not authorized|bad user name/i)
		// the ACL: a panel may command, not speak for the daemon (over v5 the broker says so in the PUBACK)
		const panel = await mqtt.connectAsync('mqtt://127.0.0.1:11883', {
			protocolVersion: 5,
			username: 'panel2',
			password: 'lab-panel2',
			reconnectPeriod: 0,
		})
		try {
			const refused = await panel.publishAsync('sigpath/boc-lab/online', 'false', { qos: 1, retain: true }).then(
				(p) => (p && 'reasonCode' in p ? p.reasonCode : 0),
				(err: Error & { code?: number }) => err.code ?? -1,
			)
			expect(refused).toBe(135) // not authorized
		} finally {
			await panel.endAsync()
		}
	}, 30_000)

	it('a rehearsal runs while the lab is up, on ports of its own: the power-loss rehearsal passes', async () => {
		let rout = ''
		let rerr = ''
		const code = await main(['rehearse', join(ROOT, 'config/rehearsals/power-loss.yaml'), '--json'], {
			out: (t) => (rout += t),
			err: (t) => (rerr += t),
		})
		const report = JSON.parse(rout || '{}') as { ok: boolean; steps: { ok: boolean; text: string }[] }
		expect(
			report.steps?.filter((s) => !s.ok),
			rerr,
		).toEqual([])
		expect(code).toBe(0)
		// the UPS steps are judged on the UPS's poll interval (config/lab.yaml: 2000 ms)
		expect(report.steps.find((s) => s.text.includes('power-on-battery'))?.text).toMatch(
			/after \d+ ms \(1 poll of ups-ra1-mon at 2000 ms \+ 500 ms\)/,
		)
		// and the lab is still there, untouched
		expect(lab.exitCode).toBeNull()
		const s = await status()
		expect(s?.feeds.find((f) => f.event === 'wbc-final' && f.feed === 'pgm')?.active).toBe('sat')
	}, 90_000)

	it('`quit` on the console stops it: exit 0, no process left behind (mosquitto, socat)', async () => {
		const kids = descendants(lab.pid!)
		const names = kids.map((k) => safeStat(k).match(/\(([^)]*)\)/)?.[1] ?? '')
		expect(names).toContain('mosquitto')
		expect(names).toContain('socat')
		const exited = new Promise<number | null>((resolve) => lab.once('exit', (c) => resolve(c)))
		lab.stdin!.write('quit\n')
		// stdin stays open: the lab must not wait for its end
		const code = await Promise.race([exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000))])
		expect(code, out).toBe(0)
		expect(out).toContain('sigpath lab: stopping')
		await waitFor('every process the lab started to end', 10_000, () => kids.every((k) => !alive(k)))
	}, 60_000)
})
