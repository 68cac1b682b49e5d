// The TCO's screen: config/lab-toc.yaml (five events, nine feeds) run by the lab on free ports (every device
// simulated in its protocol, the UPS monitor an SNMP agent speaking UPS-MIB, mosquitto as the broker), the real
// daemon and status endpoint, and the dashboard in Debian's chromium at 1920x1080. Every feed of the five events
// must be on screen without scrolling; a UPS on battery must show AT-RISK on the open page, live, and the page must
// drop it when the UPS is back; the header is never green beside a red badge.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { chromium, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startStatus } from '../../src/cli/status-hook.ts'
import { loadConfigFile } from '../../src/domain/load.ts'
import { Lab } from '../../src/lab/lab.ts'
import { onFreePorts } from '../../src/lab/ports.ts'
import type { StatusServer } from '../../src/status/server.ts'
import { openSse, type SseClient } from '../support/status-sse.ts'

const CHROMIUM = '/usr/bin/chromium'
const SCREENSHOT = 'test-results/dashboard-five-events.png'
const VIEW = { width: 1920, height: 1080 }
const FEEDS = [
	'copa-final/pgm',
	'copa-final/clean',
	'nfl-xmas/pgm',
	'nfl-xmas/clean',
	'tudum/pgm',
	'tudum/isos',
	'boxing/pgm',
	'boxing/tx-back',
	'talk-show/pgm',
]
/** the feeds with a fiber path: rack A, whose first UPS is ups-a1 (monitored by ups-a1-mon) */
const ON_RACK_A = FEEDS.filter((f) => f !== 'boxing/tx-back')

let dir: string
let lab: Lab
let status: StatusServer | undefined
let url = ''
let browser: BrowserContext
let profile: string

beforeAll(async () => {
	if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`)
	dir = mkdtempSync(join(tmpdir(), 'sigpath-toc-'))
	const moved = await onFreePorts(loadConfigFile('config/lab-toc.yaml'), dir)
	const config = { ...moved, journal: { dir: join(dir, 'journal'), rotateBytes: 64 * 1024 * 1024, retainDays: 90 } }
	const quiet = pino({ level: 'silent' })
	lab = new Lab({
		config,
		log: quiet,
		dir,
		onDaemon: async (daemon) => {
			const s = await startStatus(daemon, config, quiet)
			status = s.server
			url = s.url
		},
	})
	await lab.start()
	const deadline = Date.now() + 20_000
	while (!lab.daemon!.isReady() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
	profile = mkdtempSync(join(tmpdir(), 'sigpath-chromium-'))
	browser = await chromium.launchPersistentContext(profile, {
		executablePath: CHROMIUM,
		headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
		viewport: VIEW,
	})
}, 60_000)

afterAll(async () => {
	await browser?.close()
	await status?.stop()
	await lab?.stop()
	if (profile) rmSync(profile, { recursive: true, force: true })
	if (dir) rmSync(dir, { recursive: true, force: true })
})

/** The header's tone, and whether any badge on the page is red. */
async function tones(page: Page): Promise<{ header: string; anyRed: boolean }> {
	return page.evaluate<{ header: string; anyRed: boolean }>(
		`({ header: document.getElementById('summary').dataset.tone, anyRed: document.querySelector('.tone-bad') !== null })`,
	)
}

describe('the dashboard for a TCO: five events on one screen', () => {
	it('pushes a UPS going on battery and coming back as the feeds’ alarms (the at-risk of their power)', async () => {
		const sse: SseClient = await openSse(`${url}/events`)
		try {
			await sse.next((e) => e.event === 'snapshot')
			const mark = sse.events.length
			const alarmsOf = (key: string) => (e: { event: string; data: string }) =>
				e.event === 'feed' &&
				(JSON.parse(e.data) as { key: string }).key === key &&
				(JSON.parse(e.data) as { alarms: string[] }).alarms.includes('at-risk')
			await lab.fault({ action: 'battery', device: 'ups-a1-mon' })
			// the UPS is polled every 2 s: a generous bound
			const raised = await sse.next((e) => sse.events.indexOf(e) >= mark && alarmsOf('tudum/pgm')(e), 15_000)
			expect((JSON.parse(raised.data) as { compliance: { compliant: boolean } }).compliance.compliant).toBe(true)
			const mark2 = sse.events.length
			await lab.fault({ action: 'online', device: 'ups-a1-mon' })
			await sse.next(
				(e) =>
					sse.events.indexOf(e) >= mark2 &&
					e.event === 'feed' &&
					(JSON.parse(e.data) as { key: string }).key === 'tudum/pgm' &&
					!(JSON.parse(e.data) as { alarms: string[] }).alarms.includes('at-risk'),
				15_000,
			)
		} finally {
			sse.close()
		}
	}, 45_000)

	it('shows every feed of the five events at 1920x1080 without scrolling, and AT-RISK live', async () => {
		const page = await browser.newPage()
		const problems: string[] = []
		page.on('console', (m: ConsoleMessage) => {
			if (m.type() === 'error') problems.push(m.text())
		})
		page.on('pageerror', (err: Error) => problems.push(err.message))
		await page.goto(`${url}/`)
		await page
			.locator('[data-feed]')
			.nth(FEEDS.length - 1)
			.waitFor({ timeout: 10_000 })
		await page.locator('#link.link-live').waitFor({ timeout: 5000 })
		expect(await page.locator('.event').count()).toBe(5)
		expect(await page.locator('[data-feed]').count()).toBe(FEEDS.length)

		// all of it on the screen: each feed's box (on-air path, mode, compliance, every path) inside the viewport,
		// measured in one go in the page (a redraw between two measures cannot mix two layouts)
		const feeds = await page.evaluate<
			{
				key: string
				box: { x: number; y: number; right: number; bottom: number }
				onair: string
				mode: string
				compliance: string | null
				paths: number
			}[]
		>(`[...document.querySelectorAll('[data-feed]')].map((f) => {
			const r = f.getBoundingClientRect()
			return {
				key: f.dataset.feed,
				box: { x: r.x, y: r.y, right: r.right, bottom: r.bottom },
				onair: f.querySelector('[data-testid="onair"]')?.textContent,
				mode: f.querySelector('.chip.auto, .chip.manual')?.textContent,
				compliance: f.querySelector('[data-testid="compliance"]')?.textContent ?? null,
				paths: f.querySelectorAll('tr[data-path]').length,
			}
		})`)
		expect(feeds.map((f) => f.key)).toEqual(FEEDS)
		for (const f of feeds) {
			expect(f.box.x, f.key).toBeGreaterThanOrEqual(0)
			expect(f.box.y, f.key).toBeGreaterThanOrEqual(0)
			expect(f.box.right, f.key).toBeLessThanOrEqual(VIEW.width)
			expect(f.box.bottom, f.key).toBeLessThanOrEqual(VIEW.height)
			expect(f.onair, f.key).toBe('fiber')
			expect(f.mode, f.key).toBe('AUTO')
			expect(f.paths, f.key).toBeGreaterThanOrEqual(1)
			if (f.key !== 'boxing/tx-back') expect(f.compliance, f.key).toMatch(/^COMPLIANT \d\/\d$/)
		}
		const scroll = await page.evaluate<{ h: number; w: number }>(
			'({ h: document.documentElement.scrollHeight, w: document.documentElement.scrollWidth })',
		)
		expect(scroll.h).toBeLessThanOrEqual(VIEW.height)
		expect(scroll.w).toBeLessThanOrEqual(VIEW.width)
		// the active alarms have their place at the top, on screen
		const alarms = await page.locator('#alarms').boundingBox()
		expect(alarms).not.toBeNull()
		expect(alarms!.y + alarms!.height).toBeLessThanOrEqual(VIEW.height / 4)
		// nothing wrong yet: a green header and no red badge
		// (locators, not page.waitForFunction: the page's CSP forbids the string evaluation its polling uses)
		await page.locator('#summary[data-tone="ok"]').waitFor({ timeout: 10_000 })
		expect((await tones(page)).anyRed).toBe(false)

		// the open page is never reloaded: this mark would be gone
		await page.evaluate('window.__opened = true')
		await lab.fault({ action: 'battery', device: 'ups-a1-mon' })
		for (const key of ON_RACK_A)
			await page.locator(`[data-feed="${key}"] [data-alarm="at-risk"]`).waitFor({ timeout: 15_000 })
		expect(await page.locator('[data-feed="boxing/tx-back"] [data-alarm="at-risk"]').count()).toBe(0)
		expect(await page.locator('[data-device="ups-a1-mon"].on-battery').count()).toBe(1)
		let t = await tones(page)
		expect(t.anyRed).toBe(true)
		expect(t.header).toBe('bad')
		mkdirSync('test-results', { recursive: true })
		await page.screenshot({ path: SCREENSHOT })

		// the battery runs low: every fiber device is down to one protected source, the feeds fail live compliance
		await lab.fault({ action: 'low-battery', device: 'ups-a1-mon' })
		await page
			.locator('[data-feed="copa-final/pgm"] [data-testid="compliance"].noncompliant')
			.waitFor({ timeout: 15_000 })
		await page.locator('[data-feed="copa-final/pgm"] .violations').waitFor({ timeout: 5000 })

		// the UPS is back: AT-RISK and the violations go, compliance is back, the header is green again
		await lab.fault({ action: 'online', device: 'ups-a1-mon' })
		await expect.poll(() => page.locator('[data-alarm="at-risk"]').count(), { timeout: 15_000 }).toBe(0)
		await page.locator('[data-feed="copa-final/pgm"] [data-testid="compliance"].compliant').waitFor({ timeout: 5000 })
		expect(await page.locator('[data-feed="copa-final/pgm"] .violations').count()).toBe(0)
		await page.locator('#summary[data-tone="ok"]').waitFor({ timeout: 5000 })
		t = await tones(page)
		expect(t.anyRed).toBe(false)
		expect(await page.evaluate('window.__opened === true')).toBe(true)
		expect(problems).toEqual([])
		await page.close()
	}, 90_000)
})
