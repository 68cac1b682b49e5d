// The active alarms where the operator looks (docs/contract.md §7): the dashboard's push channel gives them in its
// first snapshot and then every raise, acknowledgement and clear with its state, the feed's badges following; and
// the dashboard itself, in Debian's chromium (headless, playwright-core), shows an alarm raised before the page
// opened, and its acknowledgement and clear live, without a reload.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'
import { afterEach, describe, expect, it } from 'vitest'
import type { Alarm, AlarmRecord } from '../../src/control/payloads.ts'
import { startStatusLab, until, type StatusLab } from '../support/status-lab.ts'
import { openSse } from '../support/status-sse.ts'

const CHROMIUM = '/usr/bin/chromium'
const AT_RISK = 'at-risk:ev1/feed1:paths'
const TOKEN = 'op-token'

let lab: StatusLab | undefined
let browser: BrowserContext | undefined
let profile: string | undefined
afterEach(async () => {
	await browser?.close()
	browser = undefined
	await lab?.stop()
	lab = undefined
	if (profile) rmSync(profile, { recursive: true, force: true })
	profile = undefined
})

/** Every path up and clean, then the srt path of ev1/feed1 fails: its at-risk stands. */
async function atRiskLab(): Promise<StatusLab> {
	const l = await startStatusLab({ lossMs: 100, clearMs: 300, token: TOKEN })
	for (const s of Object.values(l.sources)) s.report('up')
	await until(() => l.daemon.alarmList().length === 0, 5000, 'no alarm with every path up')
	l.sources['rx-0-srt']!.report('down')
	await until(() => l.daemon.alarmList().some((a) => a.id === AT_RISK), 3000, 'at-risk raised')
	return l
}

async function ack(l: StatusLab, id: string, operator: string): Promise<number> {
	const r = await fetch(`${l.url}/alarms/${encodeURIComponent(id)}/ack`, {
		method: 'POST',
		headers: { authorization: `Bearer ${TOKEN}` },
		body: JSON.stringify({ operator }),
	})
	return r.status
}

describe('the active alarms on the push channel', () => {
	it('the first snapshot carries them; then each raise, acknowledgement and clear, the feed badges following', async () => {
		lab = await atRiskLab()
		const sse = await openSse(`${lab.url}/events`)
		const snap = JSON.parse((await sse.next((e) => e.event === 'snapshot')).data) as { alarms: AlarmRecord[] }
		expect(snap.alarms).toEqual([expect.objectContaining({ id: AT_RISK, code: 'at-risk', feed: 'ev1/feed1' })])

		expect(await ack(lab, AT_RISK, 'tco-1')).toBe(200)
		const acked = JSON.parse((await sse.next((e) => e.event === 'alarm')).data) as Alarm
		expect(acked).toMatchObject({ id: AT_RISK, state: 'acknowledged', ack: { by: 'tco-1' } })

		lab.sources['rx-0-srt']!.report('up')
		const cleared = await sse.next(
			(e) => e.event === 'alarm' && (JSON.parse(e.data) as Alarm).state === 'cleared',
			5000,
		)
		expect(JSON.parse(cleared.data)).toMatchObject({ id: AT_RISK, severity: 'cleared', ack: { by: 'tco-1' } })
		// the feed goes out again with the alarm gone from its badges
		const feed = await sse.next((e) => e.event === 'feed' && e.at >= cleared.at)
		expect(JSON.parse(feed.data)).toMatchObject({ key: 'ev1/feed1', alarms: [] })
		sse.close()
	})
})

describe('the dashboard in chromium', () => {
	it('shows an alarm raised before the page opened, and its acknowledgement and clear live', async () => {
		if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`)
		lab = await atRiskLab()
		profile = mkdtempSync(join(tmpdir(), 'sigpath-chromium-'))
		browser = await chromium.launchPersistentContext(profile, {
			executablePath: CHROMIUM,
			headless: true,
			args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
			viewport: { width: 1920, height: 1080 },
		})
		const page = await browser.newPage()
		const problems: string[] = []
		page.on('pageerror', (err: Error) => problems.push(err.message))
		await page.goto(`${lab.url}/`)
		const item = page.locator(`#alarms li[data-alarm="${AT_RISK}"]`)
		await item.waitFor({ timeout: 5000 })
		expect(await item.locator('.sev').textContent()).toBe('major')
		expect(await item.textContent()).toContain('fewer healthy discrete paths')
		expect(await page.locator('#summary').textContent()).toContain('1 active alarm')
		expect(await page.locator('[data-feed="ev1/feed1"] .chip.alarm').allTextContents()).toEqual(['AT-RISK'])

		expect(await ack(lab, AT_RISK, 'tco-1')).toBe(200)
		await item.locator('.acked').waitFor({ timeout: 3000 })
		expect(await item.locator('.acked').textContent()).toBe('ACK tco-1')

		lab.sources['rx-0-srt']!.report('up')
		await item.waitFor({ state: 'detached', timeout: 5000 })
		await page.locator('#alarms li.empty').waitFor({ timeout: 1000 })
		expect(await page.locator('[data-feed="ev1/feed1"] .chip.alarm').count()).toBe(0)
		expect(await page.locator('#summary').textContent()).not.toContain('active alarm')
		expect(problems).toEqual([])
		await page.close()
	})
})
