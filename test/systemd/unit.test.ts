// systemd/sigpath.service passes `systemd-analyze verify` with no warning at all, and keeps its hardening.
import { execFile } from 'node:child_process'
import { chmodSync, copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { requireBinary } from '../support/peers.ts'

const UNIT = new URL('../../systemd/sigpath.service', import.meta.url)
const root = mkdtempSync(join(tmpdir(), 'sigpath-unit-'))
afterAll(() => rmSync(root, { recursive: true, force: true }))

/** A root with the unit installed as install.sh installs it, /usr/bin/sigpath present, and systemd's own units. */
function makeRoot(unitText: string): string {
	const dir = mkdtempSync(join(root, 'r-'))
	for (const d of ['usr/bin', 'bin', 'etc/systemd/system', 'usr/lib/systemd'])
		mkdirSync(join(dir, d), { recursive: true })
	writeFileSync(join(dir, 'usr/bin/sigpath'), '#!/bin/sh\n')
	chmodSync(join(dir, 'usr/bin/sigpath'), 0o755)
	copyFileSync('/bin/kill', join(dir, 'bin/kill'))
	cpSync('/lib/systemd/system', join(dir, 'usr/lib/systemd/system'), { recursive: true })
	writeFileSync(join(dir, 'etc/systemd/system/sigpath.service'), unitText)
	return dir
}

async function verify(unitText: string): Promise<{ code: number; stderr: string }> {
	const bin = requireBinary('systemd-analyze', 'systemd')
	const dir = makeRoot(unitText)
	return promisify(execFile)(bin, ['verify', `--root=${dir}`, '/etc/systemd/system/sigpath.service']).then(
		(r) => ({ code: 0, stderr: r.stderr }),
		(e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
	)
}

describe('systemd/sigpath.service', () => {
	const text = readFileSync(UNIT, 'utf8')

	it('verifies with no warning', async () => {
		expect(await verify(text)).toEqual({ code: 0, stderr: '' })
	})

	it('the check would catch a bad key (the verification is not vacuous)', async () => {
		const r = await verify(text.replace('[Service]', '[Service]\nWatchdogSecs=5'))
		expect(r.stderr).toMatch(/Unknown key 'WatchdogSecs' in section \[Service\]/)
	})

	it('is a hardened notify service with a watchdog, reload, state directory and serial access', () => {
		const keys = new Map<string, string[]>()
		for (const line of text.split('\n')) {
			const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim())
			if (m) keys.set(m[1]!, [...(keys.get(m[1]!) ?? []), m[2]!])
		}
		const one = (k: string) => keys.get(k)?.[0]
		expect(one('Type')).toBe('notify')
		expect(one('ExecStart')).toBe('/usr/bin/sigpath run --config /etc/sigpath/sigpath.yaml')
		expect(one('ExecReload')).toBe('/bin/kill -HUP $MAINPID')
		expect(one('Restart')).toBe('on-failure')
		expect(one('RestartPreventExitStatus')).toBe('78')
		expect(Number.parseInt(one('WatchdogSec') ?? '0')).toBeGreaterThan(0)
		expect(one('StateDirectory')).toBe('sigpath')
		expect(one('User')).toBe('sigpath')
		expect(one('NoNewPrivileges')).toBe('yes')
		expect(one('ProtectSystem')).toBe('strict')
		expect(one('CapabilityBoundingSet')).toBe('')
		expect(one('SupplementaryGroups')).toBe('dialout')
		expect(keys.get('DeviceAllow')).toContain('char-ttyS rw')
		expect(keys.has('MemoryDenyWriteExecute')).toBe(false)
	})
})
