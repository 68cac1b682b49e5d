// The layer rules of docs/architecture.md are enforced by `npm run lint`: an import across a layer is refused with a
// message that names the rule. Linted with the project's own eslint.config.js, on the text of a file placed in
// each layer (type-aware rules off: they are not what is tested here, and they need the whole program).
import { ESLint } from 'eslint'
import tseslint from 'typescript-eslint'
import { describe, expect, it } from 'vitest'

const eslint = new ESLint({
	cwd: new URL('../..', import.meta.url).pathname,
	overrideConfig: [tseslint.configs.disableTypeChecked],
})

async function layerErrors(filePath: string, code: string): Promise<string[]> {
	const [result] = await eslint.lintText(code, { filePath })
	return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message)
}

describe('layer rules in lint', () => {
	it.each([
		['src/engine/x.ts', "import { Journal } from '../journal/index.ts'", 'pure core'],
		['src/engine/x.ts', "import { createRouter } from '../../drivers/router/index.ts'", 'pure core'],
		['src/engine/x.ts', "import { monotonicMs } from '../clock.ts'", 'pure core'],
		['src/engine/x.ts', "import { readFileSync } from 'node:fs'", 'pure core'],
		['src/rule/x.ts', "import { Daemon } from '../runtime/daemon.ts'", 'pure core'],
		['src/rule/x.ts', "import { MqttControl } from '../control/mqtt.ts'", 'pure core'],
		['drivers/nut/x.ts', "import { Daemon } from '../../src/runtime/daemon.ts'", 'drivers know no feeds'],
		['drivers/srt/x.ts', "import { Engine } from '../../src/engine/engine.ts'", 'drivers know no feeds'],
		['drivers/router/x.ts', "import { StatusServer } from '../../src/status/server.ts'", 'drivers know no feeds'],
		['drivers/nut/x.ts', "import { resolveSecret } from '../../src/domain/secrets.ts'", 'drivers know no feeds'],
		['src/control/x.ts', "import { createRouter } from '../../drivers/router/index.ts'", 'surfaces speak through'],
		['src/status/x.ts', "import type { UpsDevice } from '../../drivers/ups/index.ts'", 'surfaces speak through'],
	])('%s: `%s` is refused by the rule "%s"', async (file, line, rule) => {
		const errors = await layerErrors(file, `${line}\nexport const used = [${line.match(/\{ (?:type )?(\w+)/)![1]}]\n`)
		expect(errors).toHaveLength(1)
		expect(errors[0]).toContain(`layer rule "${rule}`)
		expect(errors[0]).toContain('docs/architecture.md')
	})

	it.each([
		['src/engine/x.ts', "import type { Model } from '../domain/model.ts'"],
		['src/engine/x.ts', "import { judgeFeed } from '../rule/index.ts'"],
		['src/rule/x.ts', "import type { Config } from '../domain/config.ts'"],
		['drivers/ups/x.ts', "import type { UpsPower } from '../../src/domain/power.ts'"],
		['drivers/ups/x.ts', "import { monotonicMs } from '../../src/clock.ts'"],
		['src/status/x.ts', "import type { Daemon } from '../runtime/daemon.ts'"],
		['src/runtime/x.ts', "import { createRouter } from '../../drivers/router/index.ts'"],
	])('%s: `%s` is allowed', async (file, line) => {
		expect(await layerErrors(file, `${line}\nexport const used = 1\n`)).toEqual([])
	})
})
