// `sigpath check` as an operator runs it: exit codes of docs/contract.md §1, placed errors, no stack traces.
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.ts'

const dir = mkdtempSync(join(tmpdir(), 'sigpath-check-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

async function run(...args: string[]) {
	let out = ''
	let err = ''
	const t0 = performance.now()
	const code = await main(args, { out: (t) => (out += t), err: (t) => (err += t) })
	return { code, out, err, ms: performance.now() - t0 }
}
function file(name: string, text: string): string {
	const f = join(dir, name)
	writeFileSync(f, text)
	return f
}
const example = readFileSync(new URL('../../config/example.yaml', import.meta.url), 'utf8')

describe('sigpath check', () => {
	it('exits 0 on the example, and on the lab config', async () => {
		for (const f of ['config/example.yaml', 'config/lab.yaml']) {
			const r = await run('check', f)
			// the example names its SNMP community, SRT passphrase and journal key in the environment: unset here,
			// warned about; the lab's journal is not keyed, which is warned about too
			if (f === 'config/lab.yaml') expect(r.err).toMatch(/^warning: journal\.key: not set: [^\n]*\n$/)
			else expect(r.err).toMatch(/^(warning: .* is not set \(sigpath run would exit 78\)\n)+$/)
			expect(r.code).toBe(0)
			expect(r.out).toMatch(/every critical feed is compliant \(3 critical of 4 feeds\)/)
		}
	})

	it('exits 1 when two paths of a feed move onto one line card, naming both paths and the card', async () => {
		const f = file(
			'card.yaml',
			example.replace('input: { router: rtr-prod, input: 17 }', 'input: { router: rtr-prod, input: 5 }'),
		)
		const r = await run('check', f)
		expect(r.code).toBe(1)
		expect(r.out).toContain('shared-line-card: paths fiber and sat land on rtr-prod card-1 (inputs 1 and 5)')
		const j = await run('check', f, '--json')
		expect(j.code).toBe(1)
		const report = JSON.parse(j.out) as { ok: boolean; feeds: { feed: string; violations: unknown[] }[] }
		expect(report.ok).toBe(false)
		expect(report.feeds.map((x) => x.feed)).toEqual(['pgm', 'clean', 'tx-back', 'pgm'])
		expect(report.feeds[0]!.violations).toEqual([
			{
				code: 'shared-line-card',
				paths: ['fiber', 'sat'],
				detail: 'paths fiber and sat land on rtr-prod card-1 (inputs 1 and 5)',
			},
		])
	})

	it('exits 0 where devices of two paths share the usual A/B UPS pair: no violation, no warning (§3)', async () => {
		const f = file(
			'ab.yaml',
			example.replace(
				'{ id: enc-wbc-2, name: truck encoder 2 (satellite), role: encoder, power: [truck-ups-2a, truck-ups-2b] }',
				'{ id: enc-wbc-2, name: truck encoder 2 (satellite), role: encoder, power: [truck-ups-1b, truck-ups-1a] }',
			),
		)
		expect(readFileSync(f, 'utf8')).not.toBe(example)
		const r = await run('check', f, '--json')
		expect(r.code).toBe(0)
		const report = JSON.parse(r.out) as { warnings: string[]; feeds: { warnings: unknown[] }[] }
		expect(report.warnings.filter((w) => !w.includes('environment variable'))).toEqual([])
		expect(report.feeds.every((x) => x.warnings.length === 0)).toBe(true)
	})

	it('counts a power source listed twice once: single-power, exit 1, not an invalid config', async () => {
		const f = file(
			'twice.yaml',
			example.replace('power: [truck-ups-4a, truck-ups-4b] }', 'power: [truck-ups-4a, truck-ups-4a] }'),
		)
		const r = await run('check', f)
		expect(r.code).toBe(1)
		expect(r.out).toContain(
			'single-power: device enc-wbc-4 in path srt has one power source (truck-ups-4a, listed twice); it needs two',
		)
	})

	it('reports the power analysis as a warning (exit 0), and as a violation with policy.discretePower: true', async () => {
		// every rack UPS on utility feed A, none on the generator: an outage that outlasts the batteries takes the
		// fiber and internet receivers of the program feed down together
		const oneFeed = example.replaceAll('upstream: gen-1', 'upstream: util-a')
		const line =
			'wbc-final/pgm: shared-upstream: paths dia and fiber both go down if utility source util-a is out for longer than the UPS batteries last (dia: gw-wbc; fiber: fiber-rx-wbc)'
		const f = file('util.yaml', oneFeed)
		const r = await run('check', f)
		expect(r.code).toBe(0)
		expect(r.out).toContain('  ok wbc-final/pgm: compliant, 1 warning\n')
		expect(r.err.split('\n')).toContain(`warning: ${line}`)
		const j = await run('check', f, '--json')
		expect(j.code).toBe(0)
		const report = JSON.parse(j.out) as {
			ok: boolean
			warnings: string[]
			feeds: { compliant: boolean; violations: unknown[]; warnings: unknown[] }[]
		}
		expect(report.ok).toBe(true)
		expect(report.warnings[0]).toBe(line)
		expect(report.feeds[0]).toMatchObject({
			compliant: true,
			violations: [],
			warnings: [
				{
					code: 'shared-upstream',
					paths: ['dia', 'fiber'],
					detail: line.slice('wbc-final/pgm: shared-upstream: '.length),
				},
			],
		})
		const strict = await run(
			'check',
			file('strict.yaml', oneFeed.replace('  minPaths: 3\n', '  minPaths: 3\n  discretePower: true\n')),
		)
		expect(strict.code).toBe(1)
		expect(strict.out).toContain(`       ${line.slice('wbc-final/pgm: '.length)}\n`)
		expect(strict.err).not.toContain('shared-upstream')
	})

	it('prints the --json report of docs/contract.md §3 for a compliant config', async () => {
		const r = await run('check', 'config/example.yaml', '--json')
		expect(JSON.parse(r.out)).toMatchObject({
			ok: true,
			feeds: [
				{ event: 'wbc-final', feed: 'pgm', critical: true, compliant: true, violations: [], warnings: [] },
				{ event: 'wbc-final', feed: 'clean', critical: true, compliant: true, violations: [], warnings: [] },
				{ event: 'wbc-final', feed: 'tx-back', critical: false, compliant: true, violations: [], warnings: [] },
				{ event: 'laliga-fleet', feed: 'pgm', critical: true, compliant: true, violations: [], warnings: [] },
			],
		})
	})

	it('names each { env } secret whose variable is not set as a warning; the verdict is unchanged', async () => {
		const saved = { c: process.env['SIGPATH_SNMP_COMMUNITY'], p: process.env['SIGPATH_SRT_WBC'] }
		delete process.env['SIGPATH_SNMP_COMMUNITY']
		process.env['SIGPATH_SRT_WBC'] = 'set-here'
		process.env['SIGPATH_JOURNAL_KEY'] = 'set-here'
		try {
			const r = await run('check', 'config/example.yaml')
			expect(r.code).toBe(0)
			const warnings = r.err.trim().split('\n')
			expect(warnings.length).toBeGreaterThanOrEqual(5)
			for (const w of warnings)
				expect(w).toMatch(
					/^warning: \S+\.community: environment variable SIGPATH_SNMP_COMMUNITY is not set \(sigpath run would exit 78\)$/,
				)
			expect(warnings).toContain(
				'warning: devices[3].driver.community: environment variable SIGPATH_SNMP_COMMUNITY is not set (sigpath run would exit 78)',
			)
			const j = await run('check', 'config/example.yaml', '--json')
			expect((JSON.parse(j.out) as { warnings: string[] }).warnings).toHaveLength(warnings.length)
		} finally {
			if (saved.c !== undefined) process.env['SIGPATH_SNMP_COMMUNITY'] = saved.c
			if (saved.p !== undefined) process.env['SIGPATH_SRT_WBC'] = saved.p
			else delete process.env['SIGPATH_SRT_WBC']
			delete process.env['SIGPATH_JOURNAL_KEY']
		}
	})

	it('warns when journal.key is not set, or names a variable that is not set; the verdict is unchanged', async () => {
		delete process.env['SIGPATH_JOURNAL_KEY']
		const unset = await run('check', 'config/example.yaml', '--json')
		expect(unset.code).toBe(0)
		expect((JSON.parse(unset.out) as { warnings: string[] }).warnings).toContain(
			'journal.key: environment variable SIGPATH_JOURNAL_KEY is not set (sigpath run would exit 78)',
		)
		const unkeyed = file('unkeyed.yaml', example.replace(', key: { env: SIGPATH_JOURNAL_KEY } }', ' }'))
		expect(readFileSync(unkeyed, 'utf8')).not.toBe(example)
		const r = await run('check', unkeyed)
		expect(r.code).toBe(0)
		expect(r.err.split('\n')).toContain(
			"warning: journal.key: not set: the journal's chain is not keyed, so whoever can write its directory can alter records and re-make the chain; set journal.key: { env: NAME } (docs/contract.md §8)",
		)
		process.env['SIGPATH_JOURNAL_KEY'] = 'a key'
		try {
			const keyed = await run('check', 'config/example.yaml')
			expect(keyed.code).toBe(0)
			expect(keyed.err).not.toContain('journal.key')
		} finally {
			delete process.env['SIGPATH_JOURNAL_KEY']
		}
	})

	describe('exits 2 with a clear error, no stack trace, within a second', () => {
		const cases: [string, () => string, RegExp][] = [
			['malformed YAML', () => file('m.yaml', 'site: [\n'), /^YAML: /m],
			[
				'wrong types',
				() => file('t.yaml', example.replace('lossMs: 300, clearMs: 10000, preference: primary', 'lossMs: soon')),
				/lossMs: expected number, got "soon" \(line \d+\)/,
			],
			[
				'unknown keys',
				() => file('u.yaml', `${example}\nfailover: {}\n`),
				new RegExp(`^unknown key "failover" \\(line ${example.split('\n').length + 1}\\)$`, 'm'),
			],
			[
				'duplicate ids',
				() => file('d.yaml', example.replace('id: gw-ll', 'id: gw-wbc')),
				/devices\[\d+\]\.id: duplicate device id "gw-wbc"/,
			],
			[
				'a dangling reference',
				() => file('r.yaml', example.replace('via: [enc-wbc-4, srt-wbc]', 'via: [enc-wbc-4, srt-wbc-9]')),
				/^events\[0\]\.feeds\[0\]\.paths\[3\]\.via\[1\]: unknown device "srt-wbc-9" \(line \d+\)$/m,
			],
			['an empty file', () => file('e.yaml', ''), /the file is empty/],
			['a missing file', () => join(dir, 'nope.yaml'), /cannot read: ENOENT/],
			[
				'a 10 MB file',
				() => file('big.yaml', `site: { id: s }\n#${'x'.repeat(10 * 1024 * 1024)}\n`),
				/file is 10\.0 MiB; a config is at most 4 MiB/,
			],
			[
				'a YAML bomb',
				() => {
					const lines = ['a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]']
					for (let i = 1; i < 10; i++)
						lines.push(
							`a${i}: &a${i} [${Array(9)
								.fill(`*a${i - 1}`)
								.join(',')}]`,
						)
					return file('bomb.yaml', `${lines.join('\n')}\n`)
				},
				/Excessive alias count/,
			],
		]
		it.each(cases)('%s', async (_name, make, expected) => {
			const r = await run('check', make())
			expect(r.code).toBe(2)
			expect(r.out).toBe('')
			expect(r.err).toMatch(expected)
			expect(r.err).not.toMatch(/\n\s+at /)
			expect(r.ms).toBeLessThan(1000)
		})
	})

	it('exits 2 on bad arguments', async () => {
		expect((await run('check')).code).toBe(2)
		expect((await run('check', 'a', 'b')).code).toBe(2)
		expect((await run('check', '--jsn', 'config/example.yaml')).code).toBe(2)
		expect((await run('chekc', 'config/example.yaml')).err).toMatch(/unknown command "chekc"/)
	})

	it('runs from a checkout with `npm run --silent sigpath`, stdout carrying only its output', async () => {
		const r = await promisify(execFile)(
			'npm',
			['run', '--silent', 'sigpath', '--', 'check', 'config/example.yaml', '--json'],
			{
				encoding: 'utf8',
			},
		)
		expect(JSON.parse(r.stdout)).toMatchObject({ ok: true })
		const bad = await promisify(execFile)('npm', [
			'run',
			'--silent',
			'sigpath',
			'--',
			'check',
			join(dir, 'nope.yaml'),
		]).catch((e: { code: number; stdout: string; stderr: string }) => e)
		expect(bad).toMatchObject({ code: 2, stdout: '' })
	})
})
