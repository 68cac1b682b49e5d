// ESLint flat config: typescript-eslint's type-checked rules, with no-floating-promises as an error
// (an unawaited take or journal append is a silent failure on air).
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

// The layer rules of docs/architecture.md, as ESLint's own no-restricted-imports per folder. Each message names the
// rule it enforces, so a refused import says which layer it crosses and why.
const up = '^(\\.\\./)+'
const layer = (name, why, regexes) => ({
	'no-restricted-imports': [
		'error',
		{ patterns: regexes.map((regex) => ({ regex, message: `layer rule "${name}": ${why} (docs/architecture.md)` })) },
	],
})
const pure = layer(
	'pure core',
	'the engine and the rule are pure: they import only src/domain (the engine also the rule), never drivers, the journal, the runtime, status, control, the clock or Node I/O',
	[
		`${up}(journal|runtime|status|control|cli|lab)/`,
		`${up}drivers/`,
		`${up}clock\\.ts$`,
		'^node:(fs|net|dgram|http|https|child_process|worker_threads|timers|os)(/|$)',
	],
)
const drivers = layer(
	'drivers know no feeds',
	'a driver speaks its protocol and knows nothing of feeds: it imports no src/runtime, src/engine, src/rule, src/journal, src/control, src/status, src/cli or src/lab, and receives its secrets already resolved',
	[`${up}src/(runtime|engine|rule|journal|control|status|cli|lab)/`, `${up}src/domain/secrets\\.ts$`],
)
const surfaces = layer(
	'surfaces speak through the runtime',
	'control and status reach devices only through the runtime: they import no drivers',
	[`${up}drivers/`],
)

export default tseslint.config(
	{
		ignores: [
			'node_modules/**',
			'dist/**',
			'build/**',
			'coverage/**',
			'test-results/**',
			'**/*.cjs',
			'drivers/srt/native/**',
		],
	},
	js.configs.recommended,
	...tseslint.configs.recommendedTypeChecked,
	{
		languageOptions: {
			parserOptions: {
				projectService: { allowDefaultProject: ['*.js', '*.mjs', 'bin/*.mjs', 'scripts/*.mjs'] },
				tsconfigRootDir: import.meta.dirname,
			},
		},
		rules: {
			'@typescript-eslint/no-floating-promises': 'error',
			'@typescript-eslint/require-await': 'off',
			'@typescript-eslint/no-misused-promises': 'error',
			'@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
			'@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
			'no-empty': ['error', { allowEmptyCatch: false }],
		},
	},
	{ files: ['src/engine/**/*.ts', 'src/rule/**/*.ts'], rules: pure },
	{ files: ['drivers/**/*.ts'], rules: drivers },
	{ files: ['src/control/**/*.ts', 'src/status/**/*.ts'], rules: surfaces },
	{
		files: ['**/*.js', '**/*.mjs'],
		...tseslint.configs.disableTypeChecked,
		languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
	},
)
