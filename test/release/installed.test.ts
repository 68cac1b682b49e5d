// The release as an operator gets it: systemd/install.sh --root installs it into a temporary root (building it from
// this checkout into the release's own dist/, so the checkout's dist/ is not touched), and the installed `sigpath`
// runs from there, with a cwd outside the checkout so that nothing resolves from the source tree by accident:
// `check`, `probe` of an SRT listener fed by a real ffmpeg caller, `take` and `probe` against the Videohub simulator,
// and the one line an operator gets when the release has no SRT binding.
import { execFile } from 'node:child_process'
import dgram from 'node:dgram'
import {
	existsSync,
	mkdtempSync,
	readFileSync,
	realpathSync,
	renameSync,
	rmSync,
	statSync,
	writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { VideohubSim } from '../../drivers/videohub/sim.ts'
import { freeUdpPort } from '../drivers/srt/helpers.ts'
import { freePort, requireBinary, spawnPeer, waitForTcp, type Peer } from '../support/peers.ts'

const CHECKOUT = fileURLToPath(new URL('../..', import.meta.url))
const tmp = mkdtempSync(join(tmpdir(), 'sigpath-release-'))
const root = join(tmp, 'root')
// the operator's shell: somewhere that is neither the checkout nor the installed release
const cwd = mkdtempSync(join(tmp, 'cwd-'))
const sigpath = join(root, 'usr/bin/sigpath')
const config = join(cwd, 'sigpath.yaml')

let FFMPEG = ''
const sim = new VideohubSim({ inputs: 8, outputs: 8 })
const peers: Peer[] = []

interface Run {
	code: number
	stdout: string
	stderr: string
}

/** Runs a command to its end; a non-zero exit is a result, not a failure. */
async function run(cmd: string, args: string[], timeoutMs = 20_000): Promise<Run> {
	return promisify(execFile)(cmd, args, { cwd, timeout: timeoutMs, env: process.env }).then(
		(r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
		(e: { code?: number | string; stdout?: string; stderr?: string; message: string }) => {
			// a spawn failure or a timeout has no numeric code: that is the test's failure, with the reason
			if (typeof e.code !== 'number') throw new Error(`${cmd} ${args.join(' ')}: ${e.message}`)
			return { code: e.code, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
		},
	)
}

/** Resolves once something holds the UDP port on 127.0.0.1 (the probe's SRT listener is bound). */
async function waitForUdpBound(port: number, timeoutMs: number): Promise<void> {
	const deadline = Date.now() + timeoutMs
	for (;;) {
		const bound = await new Promise<boolean>((resolve) => {
			const s = dgram.createSocket('udp4')
			s.once('error', () => resolve(true))
			s.bind(port, '127.0.0.1', () => s.close(() => resolve(false)))
		})
		if (bound) return
		if (Date.now() > deadline) throw new Error(`nothing bound UDP 127.0.0.1:${port} after ${timeoutMs} ms`)
		await new Promise((r) => setTimeout(r, 50))
	}
}

let srtPort = 0

beforeAll(async () => {
	FFMPEG = requireBinary('ffmpeg', 'ffmpeg')
	// install.sh would run `npm ci` or node-gyp in the checkout here, under the feet of the tests running beside this
	// one: the checkout must be installed already (CI and the README run `npm ci` first)
	const lock = statSync(join(CHECKOUT, 'package-lock.json'))
	const installed = join(CHECKOUT, 'node_modules/.package-lock.json')
	if (!existsSync(installed) || statSync(installed).mtimeMs < lock.mtimeMs)
		throw new Error('node_modules is missing or older than package-lock.json: run `npm ci` before this test')
	if (!existsSync(join(CHECKOUT, 'drivers/srt/native/build/Release/sigpath_srt.node')))
		throw new Error('the SRT binding is not built: run `npm ci` (or `npm run install`) before this test')
	const install = await run(join(CHECKOUT, 'systemd/install.sh'), ['--root', root, '--no-typecheck'], 180_000)
	if (install.code !== 0)
		throw new Error(`install.sh --root failed (exit ${install.code}):\n${install.stdout}\n${install.stderr}`)
	const { port: hubPort } = await sim.start()
	srtPort = await freeUdpPort()
	writeFileSync(
		config,
		[
			'site: { id: release-test }',
			'devices:',
			'  - id: rtr',
			'    role: router',
			`    driver: { type: videohub, host: 127.0.0.1, port: ${hubPort} }`,
			'    size: { inputs: 8, outputs: 8 }',
			'  - id: srt-in',
			'    role: srt-receiver',
			`    driver: { type: srt, mode: listener, bind: 127.0.0.1, port: ${srtPort}, streamId: cam1 }`,
			'',
		].join('\n'),
	)
}, 200_000)

afterAll(async () => {
	await Promise.all(peers.map((p) => p.stop()))
	await sim.stop()
	rmSync(tmp, { recursive: true, force: true })
})

describe('the release installed with systemd/install.sh --root', () => {
	it('lays out what an operator machine gets, the SRT binding in the release, every link inside the root', () => {
		const release = realpathSync(join(root, 'opt/sigpath/current'))
		expect(release.startsWith(join(realpathSync(root), 'opt/sigpath/releases/'))).toBe(true)
		expect(realpathSync(sigpath)).toBe(join(release, 'bin/sigpath.mjs'))
		for (const f of [
			'dist/src/cli/main.js',
			'dist/src/status/dashboard/index.html',
			'dist/drivers/srt/native/build/Release/sigpath_srt.node',
			'package.json',
			'node_modules/pino/package.json',
		])
			expect(existsSync(join(release, f)), f).toBe(true)
		// the dev dependencies are pruned
		expect(existsSync(join(release, 'node_modules/vitest'))).toBe(false)
		for (const f of ['etc/sigpath/sigpath.yaml', 'etc/sigpath/secrets.env', 'etc/systemd/system/sigpath.service'])
			expect(existsSync(join(root, f)), f).toBe(true)
	})

	it('sigpath check: the installed example config and the test config', async () => {
		const example = await run(sigpath, ['check', join(root, 'etc/sigpath/sigpath.yaml')])
		expect(example.code, example.stderr).toBe(0)
		expect(example.stdout).toMatch(/wbc-final\/pgm: compliant/)
		const own = await run(sigpath, ['check', config])
		expect(own.code, own.stderr).toBe(0)
	})

	it('sigpath probe on an SRT listener fed by ffmpeg (MPEG-TS over SRT): connected, signal up', async () => {
		const probe = run(sigpath, ['probe', config, 'srt-in', '--seconds', '3'])
		await waitForUdpBound(srtPort, 15_000)
		// ffmpeg's SRT latency is in microseconds (docs/operations.md); it sends for longer than the probe watches
		peers.push(
			spawnPeer(FFMPEG, [
				...['-hide_banner', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=320x180:rate=25'],
				...['-t', '10', '-c:v', 'mpeg2video', '-b:v', '1M', '-f', 'mpegts'],
				`srt://127.0.0.1:${srtPort}?mode=caller&latency=120000&pkt_size=1316&streamid=cam1`,
			]),
		)
		const r = await probe
		expect(r.code, r.stderr).toBe(0)
		const out = JSON.parse(r.stdout) as {
			device: string
			connected: boolean
			health: string
			detail: { signal: string | null; connections: { streamId: string; packetsReceived: number }[] }
		}
		expect(out).toMatchObject({ device: 'srt-in', connected: true, health: 'ok' })
		expect(out.detail.signal).toBe('up')
		expect(out.detail.connections[0]?.streamId).toBe('cam1')
		expect(out.detail.connections[0]?.packetsReceived).toBeGreaterThan(50)
	}, 30_000)

	it('sigpath take and probe against the Videohub simulator', async () => {
		const take = await run(sigpath, ['take', config, 'rtr', '3', '7'])
		expect(take.code, take.stderr).toBe(0)
		expect(sim.routingTable()[2]).toBe(6) // wire numbers are 0-based
		const probe = await run(sigpath, ['probe', config, 'rtr'])
		expect(probe.code, probe.stderr).toBe(0)
		const out = JSON.parse(probe.stdout) as { connected: boolean; health: string; detail: { routing: object } }
		expect(out).toMatchObject({ connected: true, health: 'ok' })
		expect(out.detail.routing).toMatchObject({ 3: 7 })
	})

	describe('without its SRT binding (a release built before build.mjs carried it)', () => {
		const binding = join(root, 'opt/sigpath/current/dist/drivers/srt/native/build/Release/sigpath_srt.node')
		beforeAll(() => renameSync(binding, `${binding}.away`))
		afterAll(() => renameSync(`${binding}.away`, binding))

		it('probe on an SRT device exits 1 with one line naming the path and the fix', async () => {
			const r = await run(sigpath, ['probe', config, 'srt-in', '--seconds', '1'])
			expect(r.code).toBe(1)
			expect(r.stdout).toBe('')
			expect(r.stderr.trim().split('\n')).toHaveLength(1)
			expect(r.stderr).toMatch(
				/^sigpath probe: srt-in: the SRT binding is not built \(.*sigpath_srt\.node is missing\)/,
			)
			expect(r.stderr).toMatch(/systemd\/install\.sh/)
		})

		it('the daemon logs an error naming the device and the fix, and shows the device down', async () => {
			const [http, broker] = [await freePort(), await freePort()]
			const runConfig = join(cwd, 'run.yaml')
			writeFileSync(
				runConfig,
				`${readFileSync(config, 'utf8')}http: { listen: 127.0.0.1:${http} }\nbroker: { listen: 127.0.0.1:${broker} }\n` +
					`journal: { dir: ${join(tmp, 'journal')} }\n`,
			)
			const daemon = spawnPeer(sigpath, ['run', '--config', runConfig], { cwd })
			peers.push(daemon)
			const deadline = Date.now() + 20_000
			while (!/SRT device srt-in cannot run/.test(daemon.output())) {
				if (daemon.child.exitCode !== null || Date.now() > deadline)
					throw new Error(`no error line for srt-in from the daemon:\n${daemon.output()}`)
				await new Promise((r) => setTimeout(r, 100))
			}
			const line =
				daemon
					.output()
					.split('\n')
					.find((l) => l.includes('SRT device srt-in cannot run')) ?? ''
			expect(JSON.parse(line)).toMatchObject({ level: 50, device: 'srt-in' })
			expect(line).toMatch(/sigpath_srt\.node is missing.*systemd\/install\.sh/)
			await waitForTcp(http, 10_000)
			// on the status endpoint the device is down, never a device that merely has no news
			const status = (await (await fetch(`http://127.0.0.1:${http}/status`)).json()) as {
				devices: { id: string; connected: boolean | null; health: string }[]
			}
			expect(status.devices.find((d) => d.id === 'srt-in')).toMatchObject({ connected: false, health: 'down' })
			// and it is never counted as synced: /readyz names it and why
			const readyz = await fetch(`http://127.0.0.1:${http}/readyz`)
			expect(readyz.status).toBe(503)
			const body = (await readyz.json()) as { waiting: { device: string; why: string }[] }
			expect(body.waiting.find((w) => w.device === 'srt-in')?.why).toMatch(
				/^cannot run: .*sigpath_srt\.node is missing/,
			)
			await daemon.stop()
			expect(daemon.child.exitCode).toBe(0)
		})
	})
})
