import { defineConfig } from 'vitest/config'

export default defineConfig({
	test: {
		include: ['test/**/*.test.ts'],
		exclude: ['test/bench/**', 'node_modules/**'],
		testTimeout: 30_000,
		hookTimeout: 60_000,
		// Real peers (mosquitto, snmpsimd, upsd, SRT) bind loopback ports; two cores are all CI has.
		pool: 'forks',
		maxWorkers: 2,
		reporters: ['default', './test/support/summary-reporter.ts'],
	},
})
