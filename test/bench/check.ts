// Benchmark: parse + validate + judge (what the daemon repeats on every reload and power or inventory change).
// A generated BOC: 50 events x 4 critical feeds x 4 paths, 500 devices. Run: node --import tsx test/bench/check.ts
import { cpus } from 'node:os'
import { EVENTS, FEEDS, PATHS, generateBoc } from './boc.ts'
import { parseConfigText } from '../../src/domain/load.ts'
import { judge } from '../../src/rule/index.ts'

const RUNS = Number(process.env['RUNS'] ?? 100)

const text = generateBoc()
const check = parseConfigText(text)
const first = judge(check)
const times: number[] = []
for (let i = 0; i < RUNS + 10; i++) {
	const t0 = performance.now()
	judge(parseConfigText(text))
	const dt = performance.now() - t0
	if (i >= 10) times.push(dt) // the first runs warm the JIT
}
times.sort((a, b) => a - b)
const q = (p: number) => times[Math.min(times.length - 1, Math.floor(p * times.length))]!.toFixed(1)
const feeds = first.feeds.length
console.log('sigpath check benchmark: parse YAML + validate (zod, cross-references) + judge the contribution rule')
console.log(`command: node --import tsx test/bench/check.ts   (RUNS=${RUNS}, after 10 warm-up runs)`)
console.log(`machine: ${cpus()[0]?.model ?? 'unknown'} x${cpus().length}, node ${process.version}`)
console.log(
	`config: ${EVENTS} events x ${FEEDS} feeds x ${PATHS} paths = ${feeds} critical feeds, ${check.devices.length} devices, ${(text.length / 1024).toFixed(0)} KiB YAML; ${first.feeds.filter((f) => f.compliant).length} compliant`,
)
console.log('')
console.log('| runs | p50 ms | p99 ms | max ms | target |')
console.log('|---:|---:|---:|---:|---|')
console.log(`| ${RUNS} | ${q(0.5)} | ${q(0.99)} | ${times[times.length - 1]!.toFixed(1)} | p99 < 100 ms |`)
