// The dashboard in a real browser: Debian's chromium, headless, driven by playwright-core. A failover on the router
// must show as the new on-air path within a second; the screenshot is kept as a test artefact.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext, type ConsoleMessage, type Request } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStatusLab, until, type StatusLab } from '../support/status-lab.ts'

const CHROMIUM = '/usr/bin/chromium'
const SCREENSHOT = 'test-results/dashboard.png'

let lab: StatusLab
let browser: BrowserContext
let profile: string

beforeAll(async () => {
	if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`)
	lab = await startStatusLab({ events: 5, feedsPerEvent: 1, singlePowerEvent: 3, lossMs: 100 })
	profile = mkdtempSync(join(tmpdir(), 'sigpath-chromium-'))
	browser = await chromium.launchPersistentContext(profile, {
		executablePath: CHROMIUM,
		headless: true,
		args: [
			'--headless',
			'--no-sandbox',
			'--disable-gpu',
			'--disable-quic',
			'--no-first-run',
			'--disable-background-networking',
			'--disable-component-update',
			'--disable-sync',
		],
		viewport: { width: 1920, height: 1080 },
	})
})

afterAll(async () => {
	await browser?.close()
	await lab?.stop()
	if (profile) rmSync(profile, { recursive: true, force: true })
})

describe('the dashboard in chromium', () => {
	it('shows a failover as the new on-air path within a second, fetching nothing from outside', async () => {
		const page = await browser.newPage()
		const foreign: string[] = []
		const problems: string[] = []
		page.on('request', (r: Request) => {
			if (!r.url().startsWith(lab.url)) foreign.push(r.url())
		})
		page.on('console', (m: ConsoleMessage) => {
			if (m.type() === 'error') problems.push(m.text())
		})
		page.on('pageerror', (err: Error) => problems.push(err.message))

		// every path up, except that event 3's satellite is degraded and event 5's srt never reported
		for (const [id, s] of Object.entries(lab.sources))
			if (id !== 'rx-4-srt') s.report(id === 'rx-2-sat' ? 'degraded' : 'up')
		await page.goto(`${lab.url}/`)
		const feed = page.locator('[data-feed="ev1/feed1"]')
		await page.locator('[data-feed="ev1/feed1"][data-active="fiber"]').waitFor({ timeout: 5000 })
		expect(await page.locator('#link').textContent()).toBe('LIVE')
		expect(await page.locator('.event').count()).toBe(5)
		expect(await page.locator('.event.tier-red .bigbet').count()).toBe(1)

		// the fiber receiver of event 1 reports loss: after lossMs the daemon takes sat, confirmed on the tally
		const cut = Date.now()
		lab.sources['rx-0-fiber']!.report('down')
		await until(() => lab.sim.routingTable()[0] === 1, 3000, 'the router to show sat')
		const routed = Date.now()
		// a locator, not page.waitForFunction: the page's CSP (script-src 'self') forbids the string evaluation its
		// polling uses, so that only ever passed when the page was already there on the first look
		await page.locator('[data-feed="ev1/feed1"][data-active="sat"]').waitFor({ timeout: 1000 })
		const shown = Date.now()
		expect(shown - routed).toBeLessThan(1000)
		expect(await feed.locator('[data-testid="onair"]').textContent()).toBe('sat')
		expect(await feed.locator('tr.active').getAttribute('data-path')).toBe('sat')
		expect(await feed.locator('tr[data-path="fiber"] .state').textContent()).toBe('failed')
		await feed.locator('.switches .cause-failover').waitFor({ timeout: 1000 })

		// a UPS goes on battery: it stands out in the device list
		lab.ups['ups-sat-b']!.setPower('on-battery', 17)
		await page.locator('[data-device="ups-sat-b"].on-battery').waitFor({ timeout: 1000 })
		expect(await page.locator('.devices .device').first().getAttribute('data-device')).toBe('ups-sat-b')
		expect(await page.locator('[data-device="ups-sat-b"] .what').textContent()).toBe('on battery · 17 min')
		// event 4's receivers hang on one UPS: its feed shows the violated rule
		expect(await page.locator('[data-feed="ev4/feed1"] .violations code').first().textContent()).toBe('single-power')

		mkdirSync('test-results', { recursive: true })
		await page.screenshot({ path: SCREENSHOT, fullPage: true })
		expect(existsSync(SCREENSHOT)).toBe(true)
		expect(foreign).toEqual([])
		expect(problems).toEqual([])
		console.log(
			`dashboard: failover shown ${shown - routed} ms after the router switched (${shown - cut} ms after the cut)`,
		)
		await page.close()
	})
})
